//! Migration 0004 (microsecond timestamps) on a registry written by migrations
//! 0001-0003: every row kept, millisecond values converted to the six-digit form,
//! the schema's indexes, triggers, foreign keys and AUTOINCREMENT counter intact;
//! afterwards defaults, triggers and imi's own writes all give six digits.

#![allow(clippy::unwrap_used)] // tests

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::HOST;
use imi_core::store::ensure_schema;
use imi_core::{NewActivity, NewWorktreeType, Store};
use imi_store_sqlite::SqliteStore;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

const SIX: &str = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z";

/// Every (table, column) holding a timestamp.
const TS: &[(&str, &str)] = &[
    ("projects", "created_at"),
    ("projects", "updated_at"),
    ("worktree_types", "created_at"),
    ("worktrees", "created_at"),
    ("worktrees", "updated_at"),
    ("worktrees", "last_sync_at"),
    ("worktrees", "merged_at"),
    ("agent_activities", "created_at"),
];

/// A registry at migration 0003: the shipped files 0001-0003 applied by sqlx.
async fn registry_at_0003(path: &Path) -> SqlitePool {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let dir = tempfile::tempdir().unwrap();
    for f in ["0001_schema.sql", "0002_input_rules.sql", "0003_hosts.sql"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool
}

/// The objects of the four tables of migrations 0001-0004 (later migrations add
/// tables of their own, `claims`, `events`, `hook_approvals` and `api_tokens`, and
/// the event triggers).
async fn schema_objects(pool: &SqlitePool) -> BTreeSet<(String, String, String)> {
    sqlx::query_as(
        "SELECT type, name, tbl_name FROM sqlite_master \
         WHERE type IN ('index', 'trigger', 'table') AND name NOT LIKE 'sqlite_autoindex%' \
         AND tbl_name NOT IN ('claims', 'events', 'events_muted', 'hook_approvals', 'api_tokens') \
         AND NOT (type = 'trigger' AND name LIKE '%events%')",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

type ForeignKey = (String, String, String, String, String);

async fn foreign_keys(pool: &SqlitePool) -> Vec<ForeignKey> {
    let mut out = vec![];
    for t in [
        "projects",
        "worktree_types",
        "worktrees",
        "agent_activities",
    ] {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1)",
        )
        .bind(t)
        .fetch_all(pool)
        .await
        .unwrap();
        out.extend(
            rows.into_iter()
                .map(|(a, b, c, d)| (t.to_string(), a, b, c, d)),
        );
    }
    out.sort();
    out
}

/// (table.column, id, value) of every non-NULL timestamp.
async fn timestamps(pool: &SqlitePool) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (t, c) in TS {
        // table and column names are the constants above
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT CAST(id AS TEXT), {c} FROM {t} WHERE {c} IS NOT NULL"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        out.extend(rows.into_iter().map(|(id, v)| (format!("{t}.{c}"), id, v)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0004_converts_rows_and_keeps_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let pool = registry_at_0003(&path).await;

    // rows as migrations 0001-0003 wrote them: defaults in milliseconds
    for stmt in [
        "INSERT INTO projects (id, name, remote_origin, origin_key, trunk_path) VALUES \
         ('11111111-1111-4111-8111-111111111111', 'app', 'https://github.com/acme/app', \
          'github.com/acme/app', '/code/app/trunk-main')",
        "INSERT INTO projects (id, name, origin_key, trunk_path, created_at, updated_at, active) VALUES \
         ('22222222-2222-4222-8222-222222222222', 'old', 'local:/code/old', '/code/old/trunk-main', \
          '2025-01-01T00:00:00.001Z', '2025-01-02T00:00:00.999Z', 0)",
        "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix) VALUES ('spike', 'spike/', 'spike-')",
        "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix) VALUES ('gone', 'gone/', 'gone-')",
        "DELETE FROM worktree_types WHERE name = 'gone'",
        "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host, \
          uncommitted_files_count, last_sync_at, merged_at, merged_by) VALUES \
         ('33333333-3333-4333-8333-333333333333', '11111111-1111-4111-8111-111111111111', \
          (SELECT id FROM worktree_types WHERE name = 'spike'), 'spike-idea', 'spike/idea', \
          '/code/app/spike-idea', 'test-host', 2, '2025-03-04T05:06:07.089Z', \
          '2025-03-04T05:06:08.000Z', 'me')",
        "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, project_name, \
          worktree_name, activity_type) VALUES \
         ('44444444-4444-4444-8444-444444444444', 'a', '33333333-3333-4333-8333-333333333333', \
          '11111111-1111-4111-8111-111111111111', 'app', 'spike-idea', 'created')",
        "INSERT INTO agent_activities (id, agent_id, activity_type, created_at) VALUES \
         ('55555555-5555-4555-8555-555555555555', 'a', 'other', '2025-01-01T00:00:00.5Z')",
    ] {
        sqlx::query(stmt).execute(&pool).await.unwrap();
    }
    let objects = schema_objects(&pool).await;
    let fks = foreign_keys(&pool).await;
    let before = timestamps(&pool).await;
    let seq: i64 =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'worktree_types'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(seq, 8, "6 built-ins, spike, gone");
    let rowids: Vec<(i64, String)> =
        sqlx::query_as("SELECT rowid, id FROM agent_activities ORDER BY rowid")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&path, HOST).await.unwrap();
    let status = ensure_schema(&store).await.unwrap();
    assert_eq!((status.applied, status.latest), (10, 10));
    let pool = store.pool();

    // every value kept: three digits became six, other forms untouched
    let after = timestamps(pool).await;
    let expected: BTreeSet<_> = before
        .iter()
        .map(|(c, id, v)| {
            let v = if v.len() == 24 {
                format!("{}000Z", &v[..23])
            } else {
                v.clone()
            };
            (c.clone(), id.clone(), v)
        })
        .collect();
    assert_eq!(after, expected);
    assert!(
        after.iter().filter(|(_, _, v)| v.len() == 27).count() == after.len() - 1,
        "all but the hand-written '.5Z' are six-digit: {after:?}"
    );
    assert!(after.contains(&(
        "worktrees.last_sync_at".into(),
        "33333333-3333-4333-8333-333333333333".into(),
        "2025-03-04T05:06:07.089000Z".into()
    )));

    // schema intact
    assert_eq!(schema_objects(pool).await, objects);
    assert_eq!(foreign_keys(pool).await, fks);
    let problems: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(ok, "ok");
    let seq_after: i64 =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'worktree_types'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(seq_after, seq, "AUTOINCREMENT high-water mark kept");
    let rowids_after: Vec<(i64, String)> =
        sqlx::query_as("SELECT rowid, id FROM agent_activities ORDER BY rowid")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(rowids_after, rowids);
    let w: (bool, i64) =
        sqlx::query_as("SELECT has_uncommitted_changes, uncommitted_files_count FROM worktrees")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(w, (true, 2));

    // the store reads the converted rows; a deleted type's id is not reused
    let p = store
        .get_project("22222222-2222-4222-8222-222222222222".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(p.updated_at.to_rfc3339(), "2025-01-02T00:00:00.999+00:00");
    let t = store
        .add_type(&NewWorktreeType {
            name: "later".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(t.id, 9);

    // defaults and triggers (plain SQL writers) give six digits
    sqlx::query(
        "INSERT INTO agent_activities (id, agent_id, activity_type) \
         VALUES ('66666666-6666-4666-8666-666666666666', 'sql', 'other')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE projects SET description = 'by hand' WHERE name = 'app'")
        .execute(pool)
        .await
        .unwrap();
    let (created, updated): (String, String) = sqlx::query_as(
        "SELECT (SELECT created_at FROM agent_activities WHERE agent_id = 'sql'), \
                (SELECT updated_at FROM projects WHERE name = 'app')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    for v in [&created, &updated] {
        assert_eq!(v.len(), 27, "{v}");
        assert!(v.ends_with("000Z"), "SQLite's clock has milliseconds: {v}");
    }
    let n: i64 = sqlx::query_scalar("SELECT (?1 GLOB ?3) + (?2 GLOB ?3)")
        .bind(&created)
        .bind(&updated)
        .bind(SIX)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 2);

    // imi's own writes: the Rust clock, to the microsecond
    let a = store
        .log_activity(&NewActivity {
            agent_id: "imi".into(),
            activity_type: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT created_at FROM agent_activities WHERE id = ?1")
            .bind(a.id.to_string())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 27, "{stored}");
    assert_eq!(
        imi_core::snapshot::registry_time(a.created_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        stored
    );
}
