//! Migrations: idempotent, safe when run concurrently, refused when the registry is
//! newer than the binary; reset and maintenance; connection failures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure should stop the test loudly

mod common;

use imi_core::{ErrorKind, Store, store::ensure_schema};
use imi_store_postgres::{MIGRATOR, PgStore};
use imi_testkit::PgTestDb;
use sqlx::PgPool;

/// Every non-extension object imi may create in the current schema, plus the
/// migrations table contents.
async fn snapshot(pool: &PgPool) -> (Vec<String>, Vec<(i64, Vec<u8>)>) {
    let objects: Vec<String> = sqlx::query_scalar(
        "SELECT kind || ' ' || name FROM ( \
           SELECT 'rel:' || c.relkind::text AS kind, c.relname::text AS name, c.oid, 'pg_class'::regclass AS cls \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() \
           UNION ALL \
           SELECT 'fn', p.oid::regprocedure::text, p.oid, 'pg_proc'::regclass \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() \
           UNION ALL \
           SELECT 'trigger', t.tgname::text, t.oid, 'pg_trigger'::regclass FROM pg_trigger t WHERE NOT t.tgisinternal \
         ) o \
         WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e') \
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let migrations: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .unwrap();
    (objects, migrations)
}

#[tokio::test]
async fn fresh_database_status_and_first_migration() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = PgStore::connect(&db.url, "h").await.unwrap();
    let s = store.schema_status().await.unwrap();
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(s.backend, "postgres");
    assert_eq!(s.applied, 0);
    assert_eq!(s.latest, *known.iter().max().unwrap());
    assert_eq!(s.pending, known);
    let s = ensure_schema(&store).await.unwrap();
    assert_eq!(s.applied, s.latest);
    assert!(s.pending.is_empty());
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let Some((_db, store)) = common::store().await else {
        return;
    };
    let before = snapshot(store.pool()).await;
    assert!(
        before
            .0
            .iter()
            .any(|o| o.starts_with("fn register_project("))
    );
    assert!(before.0.iter().any(|o| o == "rel:v v_inflight_work"));
    let s = store.migrate().await.unwrap();
    assert!(s.pending.is_empty());
    ensure_schema(&store).await.unwrap();
    assert_eq!(snapshot(store.pool()).await, before);
}

#[tokio::test]
async fn concurrent_migrations_both_succeed() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let a = PgStore::connect(&db.url, "a").await.unwrap();
    let b = PgStore::connect(&db.url, "b").await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.pending.is_empty() && rb.pending.is_empty());
    assert_eq!(ra.applied, ra.latest);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(n, MIGRATOR.iter().count() as i64);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM worktree_types")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(n, 6, "seeded once");
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let Some((_db, store)) = common::store().await else {
        return;
    };
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', true, '\\x00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let e = ensure_schema(&store).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("9999"), "{}", e.message);
    assert!(e.hint.is_some());
    let e = store.migrate().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn reset_drops_everything_imi_created() {
    let Some((_db, store)) = common::store().await else {
        return;
    };
    common::project(&store, "gone").await;
    store.reset().await.unwrap();
    let (objects, _) = {
        let objects: Vec<String> = sqlx::query_scalar(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_depend d \
             WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') \
             UNION ALL SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_depend d \
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        (objects, ())
    };
    assert!(objects.is_empty(), "left behind: {objects:?}");
    let ext: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(ext, "the extension stays");
    let s = store.schema_status().await.unwrap();
    assert_eq!(s.applied, 0);
    // and the registry can be created again
    store.migrate().await.unwrap();
    common::project(&store, "back").await;
    store.reset().await.unwrap();
}

#[tokio::test]
async fn maintain_vacuums() {
    let Some((_db, store)) = common::store().await else {
        return;
    };
    common::project(&store, "dusty").await;
    store.maintain().await.unwrap();
    let analyzed: bool = sqlx::query_scalar(
        "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'projects'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(analyzed);
}

#[tokio::test]
async fn unreachable_server_is_unavailable_without_password() {
    let e = PgStore::connect("postgres://imi:s3cr3t-pw@127.0.0.1:1/imi", "h")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(!e.message.contains("s3cr3t-pw"), "{}", e.message);
    assert!(!format!("{e:?}").contains("s3cr3t-pw"));
    assert!(e.hint.is_some());
    let e = PgStore::connect(
        "postgres://imi:s3cr3t-pw@127.0.0.1:5432/imi?sslmode=bogus",
        "h",
    )
    .await
    .unwrap_err();
    assert!(!e.message.contains("s3cr3t-pw"), "{}", e.message);
}

#[tokio::test]
async fn missing_database_is_unavailable() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let url = imi_testkit::with_database(&db.url, "imi_no_such_database_here");
    let e = PgStore::connect(&url, "h").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
}

#[tokio::test]
async fn unmigrated_registry_says_migrate() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = PgStore::connect(&db.url, "h").await.unwrap();
    let e = store.list_projects(false).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(e.hint.unwrap().contains("imi db migrate"));
}
