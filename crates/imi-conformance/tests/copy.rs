//! Copying a registry between backends (what `imi db copy` does): SQLite →
//! PostgreSQL → SQLite and PostgreSQL → SQLite → PostgreSQL keep every row equal,
//! timestamps to the microsecond on both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use imi_core::{ImportOptions, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_to_sqlite_keeps_every_row() {
    let (a, _d1) = imi_conformance::sqlite_store().await;
    imi_conformance::scenarios::populate(&a).await;
    let Some((pg, _db)) = imi_conformance::postgres_store().await else {
        return;
    };
    let (b, _d2) = imi_conformance::sqlite_store().await;

    let snap_a = a.export_snapshot().await.unwrap();
    let r = pg
        .import_snapshot(&snap_a, ImportOptions::default())
        .await
        .unwrap();
    assert!(r.verified && !r.timestamps_truncated, "{r:?}");
    let snap_pg = pg.export_snapshot().await.unwrap();
    assert_eq!(snap_pg.projects, snap_a.projects);
    assert_eq!(snap_pg.worktrees, snap_a.worktrees);
    assert_eq!(snap_pg.activities, snap_a.activities);

    let r = b
        .import_snapshot(&snap_pg, ImportOptions::default())
        .await
        .unwrap();
    assert!(
        !r.timestamps_truncated,
        "SQLite-born timestamps are ms already"
    );
    let snap_b = b.export_snapshot().await.unwrap();
    assert_eq!(
        serde_json::to_value(&snap_b).unwrap(),
        serde_json::to_value(&snap_a).unwrap()
    );

    // copying twice adds nothing, on either side
    let r = pg
        .import_snapshot(&snap_a, ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.total_inserted(), 0);
    let r = b
        .import_snapshot(&snap_pg, ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.total_inserted(), 0);
}

/// Timestamps with microseconds that no clock would produce on purpose, written with
/// SQL on PostgreSQL (explicit `updated_at` values survive the triggers).
const MICROS: &[&str] = &[
    "UPDATE projects SET created_at = '2026-01-02 03:04:05.123456+00', \
     updated_at = '2026-01-02 03:04:05.999999+00'",
    "UPDATE worktrees SET created_at = '2026-01-02 03:04:05.000001+00', \
     updated_at = '2026-01-02 03:04:06.100200+00', \
     last_sync_at = CASE WHEN last_sync_at IS NULL THEN NULL ELSE '2026-01-02 03:04:05.654321+00'::timestamptz END, \
     merged_at = CASE WHEN merged_at IS NULL THEN NULL ELSE '2026-01-02 03:04:07.000999+00'::timestamptz END",
    "UPDATE agent_activities SET created_at = '2026-01-02 03:04:05.123456+00'",
    "UPDATE worktree_types SET created_at = '2026-01-01 00:00:00.000007+00' WHERE name = 'spike'",
];

/// PostgreSQL → SQLite → a fresh PostgreSQL: every timestamp keeps its microseconds,
/// nothing is reported truncated, and the three exports are the same document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite_to_postgres_keeps_microseconds() {
    let Some((pg, _db)) = imi_conformance::postgres_store().await else {
        return;
    };
    imi_conformance::scenarios::populate(&pg).await;
    for stmt in MICROS {
        sqlx::query(stmt).execute(pg.pool()).await.unwrap();
    }
    let snap = pg.export_snapshot().await.unwrap();
    let text = serde_json::to_string_pretty(&snap).unwrap();
    for t in [
        "2026-01-02T03:04:05.123456Z",
        "2026-01-02T03:04:05.999999Z",
        "2026-01-02T03:04:05.000001Z",
        "2026-01-02T03:04:06.100200Z",
        "2026-01-02T03:04:05.654321Z",
        "2026-01-02T03:04:07.000999Z",
        "2026-01-01T00:00:00.000007Z",
    ] {
        assert!(text.contains(t), "{t} in {text}");
    }

    let (lite, _d) = imi_conformance::sqlite_store().await;
    let r = lite
        .import_snapshot(&snap, ImportOptions::default())
        .await
        .unwrap();
    assert!(r.verified && !r.timestamps_truncated, "{r:?}");
    let via_sqlite = lite.export_snapshot().await.unwrap();
    assert_eq!(serde_json::to_string_pretty(&via_sqlite).unwrap(), text);
    // stored as six digits, the form that sorts as text
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT updated_at FROM projects ORDER BY updated_at")
            .fetch_all(lite.pool())
            .await
            .unwrap();
    assert_eq!(stored, vec!["2026-01-02T03:04:05.999999Z"; 3]);

    let Some((pg2, _db2)) = imi_conformance::postgres_store().await else {
        return;
    };
    let r = pg2
        .import_snapshot(&via_sqlite, ImportOptions::default())
        .await
        .unwrap();
    assert!(r.verified && !r.timestamps_truncated, "{r:?}");
    let back = pg2.export_snapshot().await.unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);

    // a second copy is not a conflict: every row compares equal
    let r = lite
        .import_snapshot(&snap, ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.total_inserted(), 0);
    assert_eq!(r.projects.identical, 3);
    assert_eq!(r.worktrees.identical, 3);
    assert_eq!(r.activities.identical, 4);
}

/// Finer than microseconds (the legacy file's nanoseconds, a document written by
/// hand): both backends truncate to the same microsecond and say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nanoseconds_are_truncated_alike_and_reported() {
    let (a, _d1) = imi_conformance::sqlite_store().await;
    imi_conformance::scenarios::populate(&a).await;
    let mut snap = a.export_snapshot().await.unwrap();
    let ns = chrono::DateTime::parse_from_rfc3339("2025-12-30T14:15:09.470006187Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for x in &mut snap.activities {
        x.created_at = ns;
    }
    let (lite, _d2) = imi_conformance::sqlite_store().await;
    let r = lite
        .import_snapshot(&snap, ImportOptions::default())
        .await
        .unwrap();
    assert!(r.timestamps_truncated, "{r:?}");
    let from_lite = lite.export_snapshot().await.unwrap();
    assert!(
        from_lite
            .activities
            .iter()
            .all(|x| x.created_at == imi_core::snapshot::registry_time(ns)
                && x.created_at.to_rfc3339() == "2025-12-30T14:15:09.470006+00:00")
    );
    let Some((pg, _db)) = imi_conformance::postgres_store().await else {
        return;
    };
    let r = pg
        .import_snapshot(&snap, ImportOptions::default())
        .await
        .unwrap();
    assert!(r.timestamps_truncated, "{r:?}");
    assert_eq!(
        serde_json::to_string(&pg.export_snapshot().await.unwrap()).unwrap(),
        serde_json::to_string(&from_lite).unwrap()
    );
}
