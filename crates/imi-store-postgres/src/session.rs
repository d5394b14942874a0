//! How statements reach the server: straight to PostgreSQL, or through a
//! transaction-pooling PgBouncer (`?pgbouncer=true` on the URL).
//!
//! Directly, a statement runs on a pooled connection as a prepared statement that
//! sqlx caches per connection: after the first use, one round trip.
//!
//! Behind a transaction pooler, a server connection belongs to a client only while a
//! transaction is open; between two transactions the next statement may run on
//! another server connection, used meanwhile by other clients. So nothing may outlive
//! a transaction there: no session setting (imi passes its host as an argument, never
//! `SET`), no named prepared statement (the next transaction cannot find it, or finds
//! another client's statement of the same name). Behind a pooler, [`Db`] therefore
//! runs each statement in a transaction of its own and [`Tx`] keeps imi's own
//! transactions; both run statements *unnamed* (the server forgets one at the next
//! Parse). sqlx prepares with one
//! Sync and executes with a second; inside the transaction both reach the same server.

use std::fmt;

use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use imi_core::Result;
use sqlx::Describe;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgPool, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Either, Execute, Executor, Postgres, Transaction};

use crate::error::db_err;

type SqlxResult<T> = std::result::Result<T, sqlx::Error>;

/// How the store reaches PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// A direct connection (or a session-pooling PgBouncer): cached prepared statements.
    Direct,
    /// A transaction-pooling PgBouncer: every statement inside a transaction, unnamed.
    Transaction,
}

impl Pooling {
    /// How a URL says to connect: `pgbouncer=true` (the convention Prisma made
    /// common) in its query marks a transaction-pooling PgBouncer.
    pub fn of_url(url: &str) -> Result<Pooling> {
        pooling_of(url)
    }
}

pub(crate) fn pooling_of(url: &str) -> Result<Pooling> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(Pooling::Direct);
    };
    let Some((_, value)) = parsed.query_pairs().find(|(k, _)| k == "pgbouncer") else {
        return Ok(Pooling::Direct);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(Pooling::Transaction),
        "false" | "0" | "no" | "off" => Ok(Pooling::Direct),
        other => Err(imi_core::Error::validation(format!(
            "pgbouncer={other:?} in the database URL is neither true nor false"
        ))
        .with_hint("use ?pgbouncer=true for a transaction-pooling PgBouncer, or leave it out")),
    }
}

/// The executor for one statement outside any transaction of imi's: the pool
/// directly, or behind a pooler a transaction of its own (begin, the statement
/// unnamed, commit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Db<'a> {
    pub(crate) pool: &'a PgPool,
    pub(crate) pooling: Pooling,
}

/// A transaction whose statements are unnamed behind a pooler. [`Tx::commit`] ends
/// it; dropped without, it rolls back when the connection goes back to the pool.
pub(crate) struct Tx {
    tx: Transaction<'static, Postgres>,
    persistent: bool,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

impl Db<'_> {
    pub(crate) async fn begin(self) -> Result<Tx> {
        Ok(Tx {
            tx: self.pool.begin().await.map_err(db_err)?,
            persistent: self.pooling == Pooling::Direct,
        })
    }
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        self.tx.rollback().await.map_err(db_err)
    }
}

/// A statement run unnamed when the session says so.
struct Statement<E> {
    inner: E,
    persistent: bool,
}

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Statement<E> {
    fn sql(&self) -> &'q str {
        self.inner.sql()
    }
    fn statement(&self) -> Option<&PgStatement<'q>> {
        self.inner.statement()
    }
    fn take_arguments(&mut self) -> std::result::Result<Option<PgArguments>, BoxDynError> {
        self.inner.take_arguments()
    }
    fn persistent(&self) -> bool {
        self.persistent && self.inner.persistent()
    }
}

impl<'c> Executor<'c> for &'c mut Tx {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, SqlxResult<Either<PgQueryResult, PgRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let persistent = self.persistent;
        (&mut *self.tx).fetch_many(Statement {
            inner: query,
            persistent,
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, SqlxResult<Option<PgRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let persistent = self.persistent;
        (&mut *self.tx).fetch_optional(Statement {
            inner: query,
            persistent,
        })
    }

    // sqlx names these whatever the mode: imi never prepares explicitly.
    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, SqlxResult<PgStatement<'q>>>
    where
        'c: 'e,
    {
        (&mut *self.tx).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, SqlxResult<Describe<Postgres>>>
    where
        'c: 'e,
    {
        (&mut *self.tx).describe(sql)
    }
}

/// Commits after a success, rolls back at once after a failure: a transaction left
/// open would keep a pooled server connection from every other client until this
/// connection is next used.
async fn settle<T>(tx: Transaction<'static, Postgres>, result: SqlxResult<T>) -> SqlxResult<T> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            // the statement's error is the one to report
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

impl<'a> Executor<'a> for Db<'a> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, SqlxResult<Either<PgQueryResult, PgRow>>>
    where
        'a: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        match self.pooling {
            Pooling::Direct => self.pool.fetch_many(query),
            Pooling::Transaction => {
                // every result is read before the commit: a statement's rows are few
                let all = async move {
                    let mut tx = self.pool.begin().await?;
                    let results: SqlxResult<Vec<_>> = (&mut *tx)
                        .fetch_many(Statement {
                            inner: query,
                            persistent: false,
                        })
                        .try_collect()
                        .await;
                    let results = settle(tx, results).await?;
                    Ok::<_, sqlx::Error>(futures::stream::iter(results.into_iter().map(Ok)))
                };
                Box::pin(futures::stream::once(all).try_flatten())
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, SqlxResult<Option<PgRow>>>
    where
        'a: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        match self.pooling {
            Pooling::Direct => self.pool.fetch_optional(query),
            Pooling::Transaction => Box::pin(async move {
                let mut tx = self.pool.begin().await?;
                let row = (&mut *tx)
                    .fetch_optional(Statement {
                        inner: query,
                        persistent: false,
                    })
                    .await;
                settle(tx, row).await
            }),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, SqlxResult<PgStatement<'q>>>
    where
        'a: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, SqlxResult<Describe<Postgres>>>
    where
        'a: 'e,
    {
        self.pool.describe(sql)
    }
}
