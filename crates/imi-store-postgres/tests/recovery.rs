//! Recovering from the registry's own faults (issue 8, rule 7) on PostgreSQL: the
//! server's disk filling up, the server dropping the connection, a read-only
//! server, no server at all. Each is REGISTRY_UNAVAILABLE with the reason and the
//! next step, never INTERNAL_ERROR, and the same store works again afterwards.

#![allow(clippy::unwrap_used)] // tests: a failure should stop the test loudly

mod common;

use common::*;
use imi_core::Store;
use imi_store_postgres::PgStore;
use imi_testkit::faults::{assert_unavailable, assert_writes_again, uncommitted};
use sqlx::{Connection, PgConnection};

async fn admin_on(db: &imi_testkit::PgTestDb) -> PgConnection {
    PgConnection::connect(&db.url).await.unwrap()
}

/// Closes every other session on the test database (what a server restart or an
/// administrator does to imi's pooled connections).
async fn terminate_others(admin: &mut PgConnection, db: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) t",
    )
    .bind(db)
    .fetch_one(&mut *admin)
    .await
    .unwrap()
}

/// A real full disk cannot be made on the shared server; the server's own
/// `disk_full` error (SQLSTATE 53100) is raised by a trigger instead, so the write
/// fails exactly as it would when PostgreSQL cannot extend a table.
#[tokio::test]
async fn server_disk_full_is_registry_unavailable_then_writes_again() {
    let Some((db, s)) = store().await else {
        return;
    };
    let p = project(&s, "full").await;
    let w = worktree(&s, &p, "feat", "feat-full").await;
    let mut admin = admin_on(&db).await;
    sqlx::raw_sql(
        "CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           RAISE EXCEPTION 'could not extend file \"base/1/2\": No space left on device' \
           USING ERRCODE = 'disk_full', HINT = 'Check free disk space.'; END $$; \
         CREATE TRIGGER test_disk_full BEFORE UPDATE ON worktrees \
           FOR EACH ROW EXECUTE FUNCTION test_disk_full();",
    )
    .execute(&mut admin)
    .await
    .unwrap();

    for n in 1..4 {
        let e = s
            .update_git_states(&[(w.id, uncommitted(n))])
            .await
            .unwrap_err();
        assert_unavailable(&e, "disk is full", "free space");
        assert!(e.message.contains("No space left on device"), "{e:?}");
    }
    let e = s.update_git_state(w.id, &uncommitted(1)).await.unwrap_err();
    assert_unavailable(&e, "disk is full", "free space");

    sqlx::raw_sql("DROP TRIGGER test_disk_full ON worktrees")
        .execute(&mut admin)
        .await
        .unwrap();
    assert_writes_again(&s, w.id, 5).await;
}

#[tokio::test]
async fn a_dropped_connection_is_registry_unavailable_then_reconnects() {
    let Some((db, s)) = store().await else {
        return;
    };
    let p = project(&s, "lost").await;
    let w = worktree(&s, &p, "feat", "feat-lost").await;
    let mut admin = admin_on(&db).await;

    // Every pooled connection is killed; the first call on each dead one fails.
    assert!(terminate_others(&mut admin, &db.name).await >= 1);
    let mut failures = 0;
    for n in 0..20 {
        match s.update_git_states(&[(w.id, uncommitted(n))]).await {
            Ok(()) => break,
            Err(e) => {
                assert_unavailable(&e, "connection", "PostgreSQL is running");
                failures += 1;
            }
        }
    }
    assert!(
        failures >= 1,
        "a killed connection was used without an error"
    );
    assert!(failures < 20, "the store never reconnected");
    assert_writes_again(&s, w.id, 9).await;
}

#[tokio::test]
async fn a_read_only_server_is_registry_unavailable() {
    let Some((db, s)) = store().await else {
        return;
    };
    let p = project(&s, "ro").await;
    let w = worktree(&s, &p, "feat", "feat-ro").await;
    let mut admin = admin_on(&db).await;
    let ident = format!("\"{}\"", db.name.replace('"', "\"\""));
    sqlx::raw_sql(&format!(
        "ALTER DATABASE {ident} SET default_transaction_read_only = on"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    // new sessions pick the setting up: drop the pooled ones
    terminate_others(&mut admin, &db.name).await;
    let mut saw_read_only = false;
    for n in 0..20 {
        let e = s
            .update_git_states(&[(w.id, uncommitted(n))])
            .await
            .unwrap_err();
        assert_eq!(e.code(), "REGISTRY_UNAVAILABLE", "{e:?}");
        if e.message.contains("read-only") {
            assert_unavailable(&e, "read-only", "writable");
            saw_read_only = true;
            break;
        }
    }
    assert!(saw_read_only, "no read-only error after reconnecting");

    sqlx::raw_sql(&format!(
        "ALTER DATABASE {ident} RESET default_transaction_read_only"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    terminate_others(&mut admin, &db.name).await;
    let mut ok = false;
    for n in 0..20 {
        if s.update_git_states(&[(w.id, uncommitted(n))]).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(
        ok,
        "the store did not write again once the server was writable"
    );
}

#[tokio::test]
async fn no_server_is_registry_unavailable() {
    // a port nothing listens on: bind one, then let it go
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://imi:s3cret@127.0.0.1:{port}/imi");
    let e = PgStore::connect(&url, HOST).await.unwrap_err();
    assert_eq!(e.code(), "REGISTRY_UNAVAILABLE", "{e:?}");
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{e:?}");
    assert!(!e.message.contains("s3cret"), "{e:?}");
    assert!(
        e.hint
            .as_deref()
            .unwrap_or_default()
            .contains("PostgreSQL is running")
    );
}
