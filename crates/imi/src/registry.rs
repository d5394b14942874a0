//! The registry chosen at run time from the database URL. Operations are generic
//! over `Store`; [`with_store!`] hands them the concrete backend, so both are always
//! built and there is no feature matrix (the atuin pattern).

use imi_core::Result;
use imi_store_postgres::PgStore;
use imi_store_sqlite::SqliteStore;

use crate::config::Settings;
use crate::dburl::DatabaseTarget;

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

impl AnyStore {
    /// Connects without touching the schema.
    pub async fn connect(settings: &Settings) -> Result<AnyStore> {
        Ok(match &settings.database {
            DatabaseTarget::Sqlite(path) => {
                AnyStore::Sqlite(SqliteStore::open(path, settings.host.clone()).await?)
            }
            DatabaseTarget::Postgres(url) => {
                AnyStore::Postgres(PgStore::connect(url, settings.host.clone()).await?)
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

    /// Brings the schema up to date (see [`imi_core::store::ensure_schema`]).
    pub async fn ensure_schema(&self) -> Result<imi_core::SchemaStatus> {
        with_store!(self, s => imi_core::store::ensure_schema(s).await)
    }
}
