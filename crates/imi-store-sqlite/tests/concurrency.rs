//! Concurrent writers, in one store and across stores (as separate processes would
//! be) on one file, and the schema: migrations, newer registries, triggers.

#![allow(clippy::unwrap_used)] // tests: a failure should stop the test loudly

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use futures::future::join_all;
use imi_core::store::ensure_schema;
use imi_core::{ErrorKind, GitState, NewActivity, Store};
use imi_store_sqlite::SqliteStore;
use sqlx::Connection;

const FORMS: [&str; 2] = [
    "https://github.com/Acme/Race.git",
    "git@github.com:acme/race",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_registrations_one_row() {
    let s = fresh().await;
    let calls = (0..16).map(|i| {
        let np = new_project("race", FORMS[i % 2]);
        let s = &s.store;
        async move { s.register_project(&np).await }
    });
    let ids: HashSet<_> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(s.list_projects(true).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_register_one_project() {
    let a = fresh().await;
    let b = SqliteStore::open(a.path(), HOST).await.unwrap();
    ensure_schema(&b).await.unwrap();
    let calls = (0..16).map(|i| {
        let np = new_project("race", FORMS[i % 2]);
        let s = if i % 2 == 0 { &a.store } else { &b };
        async move { s.register_project(&np).await }
    });
    let ids: HashSet<_> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(b.list_projects(true).await.unwrap().len(), 1);

    // and worktrees: one row per (project, name) whichever store registers it
    let p = b.get_project_by_origin(FORMS[0]).await.unwrap();
    let calls = (0..16).map(|i| {
        let nw = new_worktree(&p, "feat", "feat-race");
        let s = if i % 2 == 0 { &a.store } else { &b };
        async move { s.register_worktree(&nw).await }
    });
    let ids: HashSet<_> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_metadata_writes_lose_nothing() {
    let a = fresh().await;
    let b = SqliteStore::open(a.path(), HOST).await.unwrap();
    let p = project(&a, "app").await;
    let target = imi_core::MetadataTarget::Project(p.id);
    let calls = (0..20).map(|i| {
        let s = if i % 2 == 0 { &a.store } else { &b };
        async move {
            s.metadata_set(target, &format!("k.n{i}"), serde_json::json!(i))
                .await
        }
    });
    for r in join_all(calls).await {
        r.unwrap();
    }
    let doc = a.metadata_get(target, Some("k")).await.unwrap().unwrap();
    assert_eq!(doc.as_object().unwrap().len(), 20);
}

#[tokio::test]
async fn migrate_twice_changes_nothing() {
    let s = fresh().await;
    let first = s.schema_status().await.unwrap();
    assert_eq!(first.applied, 10);
    assert_eq!(first.latest, 10);
    assert!(first.pending.is_empty());
    assert_eq!(first.backend, "sqlite");
    let again = s.migrate().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(ensure_schema(&s.store).await.unwrap(), first);
    assert_eq!(s.list_types().await.unwrap().len(), 6);
}

#[tokio::test]
async fn fresh_file_reports_pending() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("r.db"), HOST)
        .await
        .unwrap();
    let st = s.schema_status().await.unwrap();
    assert_eq!(
        (st.applied, st.latest, st.pending),
        (0, 10, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrate_on_a_fresh_file() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/registry.db");
        let (a, b) = tokio::join!(
            SqliteStore::open(&path, HOST),
            SqliteStore::open(&path, HOST)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let (ra, rb) = tokio::join!(ensure_schema(&a), ensure_schema(&b));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra, rb);
        assert!(ra.pending.is_empty());
        assert_eq!(a.list_types().await.unwrap().len(), 6);
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 10);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

#[tokio::test]
async fn newer_registry_is_refused() {
    let s = fresh().await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", s.path().display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let e = ensure_schema(&s.store).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("9999"), "{}", e.message);
    let e = s.migrate().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    // one wording with PostgreSQL and `ensure_schema` (SQLite's `migrate` said only
    // "upgrade imi")
    assert_eq!(
        e.hint.as_deref(),
        Some("upgrade imi to a version that knows this schema")
    );
}

async fn read_state(c: &mut sqlx::SqliteConnection, id: uuid::Uuid) -> (bool, i64) {
    sqlx::query_as::<_, (bool, i64)>(
        "SELECT has_uncommitted_changes, uncommitted_files_count FROM worktrees WHERE id = ?1",
    )
    .bind(id.to_string())
    .fetch_one(c)
    .await
    .unwrap()
}

#[tokio::test]
async fn has_uncommitted_trigger_holds_for_raw_sql() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat-a").await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", s.path().display()))
        .await
        .unwrap();
    sqlx::query("UPDATE worktrees SET uncommitted_files_count = 4 WHERE id = ?1")
        .bind(w.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(read_state(&mut conn, w.id).await, (true, 4));
    sqlx::query("UPDATE worktrees SET has_uncommitted_changes = 0 WHERE id = ?1")
        .bind(w.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(read_state(&mut conn, w.id).await, (true, 4));
    sqlx::query("UPDATE worktrees SET uncommitted_files_count = 0 WHERE id = ?1")
        .bind(w.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(read_state(&mut conn, w.id).await, (false, 0));
    // on insert too
    sqlx::query(
        "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host, \
         uncommitted_files_count, has_uncommitted_changes) \
         VALUES ('00000000-0000-4000-8000-000000000001', ?1, 1, 'feat-raw', 'feat/raw', '/raw', 'raw-host', 2, 0)",
    )
    .bind(p.id.to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    let raw: bool =
        sqlx::query_scalar("SELECT has_uncommitted_changes FROM worktrees WHERE name = 'feat-raw'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(raw);
    // the constraints are a backstop for what skips Rust validation
    let e = sqlx::query("UPDATE worktrees SET ahead_of_trunk = -1")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("CHECK"), "{e}");
}

#[tokio::test]
async fn updated_at_moves_on_every_update() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat-a").await;
    tokio::time::sleep(Duration::from_millis(3)).await;

    // raw updates that do not set updated_at: the trigger does
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", s.path().display()))
        .await
        .unwrap();
    sqlx::query("UPDATE projects SET description = 'x' WHERE id = ?1")
        .bind(p.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE worktrees SET branch_name = 'feat/b' WHERE id = ?1")
        .bind(w.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    let p2 = s.get_project(p.id).await.unwrap();
    let w2 = s.get_worktree(w.id).await.unwrap();
    assert!(p2.updated_at > p.updated_at);
    assert!(w2.updated_at > w.updated_at);
    assert_eq!(p2.created_at, p.created_at);

    // and through the store
    tokio::time::sleep(Duration::from_millis(3)).await;
    let w3 = s
        .update_git_state(
            w.id,
            &GitState {
                ahead: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(w3.updated_at > w2.updated_at);
    tokio::time::sleep(Duration::from_millis(3)).await;
    s.log_activity(&NewActivity {
        agent_id: "a".into(),
        worktree_id: Some(w.id),
        activity_type: "synced".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let w4 = s.get_worktree(w.id).await.unwrap();
    assert!(w4.updated_at > w3.updated_at);
    let inflight = s.inflight(None).await.unwrap();
    assert_eq!(inflight[0].last_activity, w4.updated_at);
}

#[tokio::test]
async fn inflight_orders_most_recent_first() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let mut ids = Vec::new();
    for name in ["feat-a", "feat-b", "feat-c"] {
        let w = worktree(&s, &p, name).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
        s.update_git_state(
            w.id,
            &GitState {
                behind: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ids.push(w.id);
    }
    let got: Vec<_> = s
        .inflight(Some(p.id))
        .await
        .unwrap()
        .iter()
        .map(|i| i.worktree_id)
        .collect();
    ids.reverse();
    assert_eq!(got, ids);
    assert!(
        s.inflight(None)
            .await
            .unwrap()
            .iter()
            .all(|i| i.status == imi_core::WorkStatus::Behind)
    );
}

/// A claim whose caller gives up while it waits for the write lock (its future is
/// dropped, as a timeout does) leaves nothing behind: the writer it was using is not
/// handed to the next caller inside a transaction begun for the claim, so later
/// writes commit and the claim can be made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_dropped_while_waiting_leaves_no_open_transaction() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat-x").await;
    let claim = imi_core::NewClaim {
        worktree_id: w.id,
        agent_id: "agent-a".into(),
        ttl_seconds: None,
        purpose: None,
    };
    // another process holds the write lock
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", s.path().display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(300), s.claim(&claim)).await;
    assert!(gave_up.is_err(), "the claim did not wait for the lock");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();

    // the next writes commit: another process sees them
    let q = project(&s, "lib").await;
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM projects WHERE id = ?1")
        .bind(q.id.to_string())
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(seen, 1, "a write after the dropped claim was not committed");
    let g = s.claim(&claim).await.unwrap();
    assert_eq!((g.claim.epoch, g.renewed), (1, false));
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM claims WHERE released_at IS NULL AND agent_id = 'agent-a'",
    )
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert_eq!(held, 1);
    // and exactly one line in the log for it
    let lines: i64 =
        sqlx::query_scalar("SELECT count(*) FROM agent_activities WHERE activity_type = 'claimed'")
            .fetch_one(&mut other)
            .await
            .unwrap();
    assert_eq!(lines, 1);
}
