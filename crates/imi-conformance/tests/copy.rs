//! Copying a registry between backends (what `imi db copy` does): SQLite →
//! PostgreSQL → SQLite keeps every row equal; PostgreSQL → SQLite keeps
//! milliseconds and says so.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite_truncates_to_milliseconds_and_says_so() {
    let Some((pg, _db)) = imi_conformance::postgres_store().await else {
        return;
    };
    imi_conformance::scenarios::populate(&pg).await;
    let (b, _d) = imi_conformance::sqlite_store().await;
    let snap = pg.export_snapshot().await.unwrap();
    let r = b
        .import_snapshot(&snap, ImportOptions::default())
        .await
        .unwrap();
    assert!(r.timestamps_truncated, "PostgreSQL keeps µs: {r:?}");
    let back = b.export_snapshot().await.unwrap();
    for (x, y) in back.projects.iter().zip(&snap.projects) {
        assert_eq!(x.id, y.id);
        assert_eq!(
            x.updated_at,
            imi_core::snapshot::Precision::Millis.apply(y.updated_at)
        );
    }
    assert_eq!(back.activities.len(), snap.activities.len());
    // and a second copy is not a conflict: compared at the target's precision
    let r = b
        .import_snapshot(&snap, ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.total_inserted(), 0);
    assert_eq!(r.projects.identical, 3);
}
