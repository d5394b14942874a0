//! imi's conformance suite: every scenario here is generic over [`Store`] and runs
//! against each backend (see `tests/conformance.rs`). A behaviour that differs
//! between SQLite and PostgreSQL is a bug in one of them.
//!
//! The [`Harness`] trait gives scenarios the few things a store does not offer on
//! purpose, such as moving a row back in time to test retention.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::future::Future;

use imi_core::Store;
use imi_store_postgres::PgStore;
use imi_store_sqlite::SqliteStore;
use uuid::Uuid;

pub mod claims;
pub mod events;
pub mod failing;
pub mod methods;
pub mod scenarios;
pub mod tokens;

/// The host name every test store is opened with.
pub const TEST_HOST: &str = "test-host";

pub trait Harness: Store {
    /// Moves `created_at` (activities) or `updated_at` (worktrees, projects) of one
    /// row `days` into the past, bypassing the `updated_at` trigger.
    fn backdate(&self, table: &'static str, id: Uuid, days: i64)
    -> impl Future<Output = ()> + Send;
    /// Writes `json` as the metadata of one row the way a program using SQL (or an
    /// older imi) could have: around every check imi and the schema make.
    fn raw_metadata(
        &self,
        table: &'static str,
        id: Uuid,
        json: String,
    ) -> impl Future<Output = ()> + Send;
    /// Moves `created_at` of event `id` `days` into the past.
    fn backdate_event(&self, id: i64, days: i64) -> impl Future<Output = ()> + Send;
}

fn column(table: &str) -> &'static str {
    if table == "agent_activities" {
        "created_at"
    } else {
        "updated_at"
    }
}

impl Harness for SqliteStore {
    async fn backdate(&self, table: &'static str, id: Uuid, days: i64) {
        let sql = format!(
            "UPDATE {table} SET {c} = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-' || ?1 || ' days') WHERE id = ?2",
            c = column(table)
        );
        let r = sqlx::query(&sql)
            .bind(days)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .unwrap();
        assert_eq!(r.rows_affected(), 1, "backdate {table} {id}");
    }

    async fn raw_metadata(&self, table: &'static str, id: Uuid, json: String) {
        // SQLite has no metadata trigger: the Rust store is the only check
        let r = sqlx::query(&format!("UPDATE {table} SET metadata = ?1 WHERE id = ?2"))
            .bind(json)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .unwrap();
        assert_eq!(r.rows_affected(), 1, "raw_metadata {table} {id}");
    }

    async fn backdate_event(&self, id: i64, days: i64) {
        let r = sqlx::query(
            "UPDATE events SET created_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-' || ?1 || ' days') WHERE id = ?2",
        )
        .bind(days)
        .bind(id)
        .execute(self.pool())
        .await
        .unwrap();
        assert_eq!(r.rows_affected(), 1, "backdate event {id}");
    }
}

impl Harness for PgStore {
    async fn backdate(&self, table: &'static str, id: Uuid, days: i64) {
        let mut tx = self.pool().begin().await.unwrap();
        sqlx::query("SET LOCAL session_replication_role = replica")
            .persistent(false) // may run through PgBouncer: no named statement
            .execute(&mut *tx)
            .await
            .unwrap();
        let sql = format!(
            "UPDATE {table} SET {c} = now() - make_interval(days => $1::int) WHERE id = $2",
            c = column(table)
        );
        let r = sqlx::query(&sql)
            .bind(days as i32)
            .bind(id)
            .persistent(false) // may run through PgBouncer: no named statement
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(r.rows_affected(), 1, "backdate {table} {id}");
        tx.commit().await.unwrap();
    }

    async fn raw_metadata(&self, table: &'static str, id: Uuid, json: String) {
        let mut tx = self.pool().begin().await.unwrap();
        // replica role: no triggers, like a registry written before migration 3
        sqlx::query("SET LOCAL session_replication_role = replica")
            .persistent(false) // may run through PgBouncer: no named statement
            .execute(&mut *tx)
            .await
            .unwrap();
        let r = sqlx::query(&format!(
            "UPDATE {table} SET metadata = $1::jsonb WHERE id = $2"
        ))
        .bind(json)
        .bind(id)
        .persistent(false) // may run through PgBouncer: no named statement
        .execute(&mut *tx)
        .await
        .unwrap();
        assert_eq!(r.rows_affected(), 1, "raw_metadata {table} {id}");
        tx.commit().await.unwrap();
    }

    async fn backdate_event(&self, id: i64, days: i64) {
        // in a transaction: behind a transaction-pooling PgBouncer the Parse and
        // the Bind of an unnamed statement outside one can reach two server
        // connections ("unnamed prepared statement does not exist")
        let mut tx = self.pool().begin().await.unwrap();
        let r = sqlx::query(
            "UPDATE events SET created_at = now() - make_interval(days => $1::int) WHERE id = $2",
        )
        .bind(days as i32)
        .bind(id)
        .persistent(false) // may run through PgBouncer: no named statement
        .execute(&mut *tx)
        .await
        .unwrap();
        assert_eq!(r.rows_affected(), 1, "backdate event {id}");
        tx.commit().await.unwrap();
    }
}

/// A migrated SQLite registry in a temporary directory (kept alive by the guard).
pub async fn sqlite_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("registry.db"), TEST_HOST)
        .await
        .unwrap();
    imi_core::store::ensure_schema(&store).await.unwrap();
    (store, dir)
}

/// A migrated PostgreSQL registry in a fresh database, or `None` when PostgreSQL
/// is unreachable and not required (see `imi_testkit`).
pub async fn postgres_store() -> Option<(PgStore, imi_testkit::PgTestDb)> {
    let db = imi_testkit::PgTestDb::create().await?;
    let store = PgStore::connect(&db.url, TEST_HOST).await.unwrap();
    imi_core::store::ensure_schema(&store).await.unwrap();
    Some((store, db))
}

/// A registry reached through a transaction-pooling PgBouncer (`?pgbouncer=true`):
/// migrated directly first (migrations need a direct connection), then opened through
/// the pooler. Drop the store before the guards.
pub async fn pgbouncer_store() -> Option<(PgStore, imi_testkit::PgBouncer, imi_testkit::PgTestDb)> {
    let db = imi_testkit::PgTestDb::create().await?;
    let direct = PgStore::connect(&db.url, TEST_HOST).await.unwrap();
    imi_core::store::ensure_schema(&direct).await.unwrap();
    direct.pool().close().await;
    let bouncer = imi_testkit::PgBouncer::start()?;
    let store = PgStore::connect(&bouncer.url(&db.name), TEST_HOST)
        .await
        .unwrap();
    assert_eq!(store.pooling(), imi_store_postgres::Pooling::Transaction);
    imi_core::store::ensure_schema(&store).await.unwrap();
    Some((store, bouncer, db))
}
