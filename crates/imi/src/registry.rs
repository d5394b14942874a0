//! The registry chosen at run time from the database URL. Operations are generic
//! over `Store`; [`with_store!`] hands them the concrete backend, so both are always
//! built and there is no feature matrix (the atuin pattern).

use imi_core::Result;
use imi_store_postgres::PgStore;
use imi_store_sqlite::SqliteStore;

use crate::config::Settings;
use crate::dburl::DatabaseTarget;

#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Runs `$body` with `$s` bound to the concrete store.
macro_rules! with_store {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            $crate::registry::AnyStore::Sqlite($s) => $body,
            $crate::registry::AnyStore::Postgres($s) => $body,
        }
    };
}
pub(crate) use with_store;

/// Connections a command opens to its registry: it runs one statement at a time, so
/// one connection serves them all (SQLite's one connection reads and writes).
/// A larger pool would open a second connection while the first is being handed
/// back, and opening one costs more than the statements of a quick command.
const CONNECTIONS: u32 = 1;

/// Connections `imi serve` keeps to its registry (SQLite: readers beside its one
/// writer). Its requests run at the same time: with one connection each would wait
/// for every statement queued before it (a PostgreSQL connection also answers a round
/// trip each time it goes back to the pool).
pub const SERVER_CONNECTIONS: u32 = 8;

impl AnyStore {
    /// Connects without touching the schema.
    pub async fn connect(settings: &Settings) -> Result<AnyStore> {
        AnyStore::connect_to(&settings.database, &settings.host).await
    }

    /// Connects to `target` (not necessarily the configured registry) without
    /// touching the schema.
    pub async fn connect_to(target: &DatabaseTarget, host: &str) -> Result<AnyStore> {
        AnyStore::connect_with(target, host, CONNECTIONS).await
    }

    /// [`AnyStore::connect_to`] with at most `connections` connections.
    pub async fn connect_with(
        target: &DatabaseTarget,
        host: &str,
        connections: u32,
    ) -> Result<AnyStore> {
        Ok(match target {
            DatabaseTarget::Sqlite(path) => {
                // the writer is one of the `connections`: the command line's 1 is the
                // writer alone, serving reads too
                AnyStore::Sqlite(
                    SqliteStore::open_with_readers(path, host, connections.saturating_sub(1))
                        .await?,
                )
            }
            DatabaseTarget::Postgres(url) => {
                AnyStore::Postgres(PgStore::connect_with_pool_size(url, host, connections).await?)
            }
        })
    }

    /// Connects and brings the schema up to date (first use migrates; a newer
    /// schema is refused).
    pub async fn open(settings: &Settings) -> Result<AnyStore> {
        let store = AnyStore::connect(settings).await?;
        store.ensure_schema().await?;
        Ok(store)
    }

    /// Ends a command's use of the registry. PostgreSQL connections are closed (the
    /// server sees them leave). An SQLite store that wrote is closed, which
    /// checkpoints its WAL into the file now. One that only read is left open to
    /// the process exit ([`crate::run`] exits without dropping the runtime):
    /// closing the last connection to the file would delete the WAL and
    /// shared-memory files, which the next command would create again (two file
    /// creations and deletions per read-only command, the slowest part of opening).
    pub async fn finish(self) {
        match self {
            AnyStore::Sqlite(s) if !s.has_written().await => std::mem::forget(s),
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(s) => s.pool().close().await,
        }
    }

    /// Brings the schema up to date (see [`imi_core::store::ensure_schema`]).
    pub async fn ensure_schema(&self) -> Result<imi_core::SchemaStatus> {
        with_store!(self, s => imi_core::store::ensure_schema(s).await)
    }
}
