//! Recovering from the registry's own faults (issue 8, rule 7): a write that fails
//! because the disk is full is REGISTRY_UNAVAILABLE with the reason, and the writer
//! connection is usable again on the next attempt once there is room.
//!
//! Disk full is produced deterministically with `PRAGMA max_page_count` on the
//! store's single writer connection: SQLite then fails page allocation with
//! SQLITE_FULL exactly as on a full file system.

#![allow(clippy::unwrap_used)] // tests: a failure should stop the test loudly

mod common;

use common::*;
use imi_core::{Error, NewActivity, Store};
use imi_store_sqlite::SqliteStore;
use imi_testkit::faults::{assert_unavailable, assert_writes_again, uncommitted};

/// Caps the registry file at its current size (in pages) plus `extra`, on the
/// writer connection (`max_page_count` is a per-connection setting).
async fn cap_pages(s: &SqliteStore, extra: i64) -> i64 {
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(s.pool())
        .await
        .unwrap();
    let set: i64 = sqlx::query_scalar(&format!("PRAGMA max_page_count = {}", pages + extra))
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(set, pages + extra, "max_page_count not applied");
    set
}

async fn uncap(s: &SqliteStore) {
    sqlx::query("PRAGMA max_page_count = 4294967294")
        .execute(s.pool())
        .await
        .unwrap();
}

fn activity(worktree_id: uuid::Uuid, i: usize) -> NewActivity {
    NewActivity {
        agent_id: "filler".into(),
        worktree_id: Some(worktree_id),
        activity_type: "other".into(),
        description: Some(format!("{i}:{}", "x".repeat(3000))),
        file_path: None,
        metadata: Default::default(),
    }
}

/// Writes activities (each in a `BEGIN IMMEDIATE` transaction) until one fails;
/// returns that error. Panics if the registry never fills up.
async fn fill(s: &SqliteStore, wid: uuid::Uuid) -> Error {
    for i in 0..10_000 {
        if let Err(e) = s.log_activity(&activity(wid, i)).await {
            return e;
        }
    }
    panic!("the registry never filled up under max_page_count");
}

#[track_caller]
fn assert_disk_full(e: &Error) {
    assert_unavailable(e, "disk is full", "free");
}

#[tokio::test]
async fn a_full_disk_does_not_wedge_the_writer() {
    let s = fresh().await;
    let p = project(&s, "full").await;
    let w = worktree(&s, &p, "feat-full").await;

    cap_pages(&s, 2).await;
    let e = fill(&s, w.id).await;
    assert_disk_full(&e);

    // Still full: the next attempts fail the same way (not "transaction depth",
    // not INTERNAL_ERROR). (The cap is set again each time:
    // a connection whose transaction SQLite rolled back is replaced by a new one.)
    for _ in 0..3 {
        cap_pages(&s, 0).await;
        let e = s.log_activity(&activity(w.id, 0)).await.unwrap_err();
        assert_disk_full(&e);
    }
    // Space freed: the same store writes again, through transactions and without.
    uncap(&s).await;
    let a = s.log_activity(&activity(w.id, 1)).await.unwrap();
    assert_eq!(a.worktree_id, Some(w.id));
    let w2 = s
        .register_worktree(&new_worktree(&p, "feat", "feat-later"))
        .await
        .unwrap();
    assert_eq!(w2.name, "feat-later");
    s.log_activity(&NewActivity {
        worktree_id: None,
        ..activity(w.id, 2)
    })
    .await
    .unwrap();
    // Nothing half-written: every failed write left nothing behind.
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// The finding itself: the disk fills up under the registry, so the COMMIT (the
/// WAL append) fails with SQLITE_FULL and SQLite rolls the transaction back. That
/// used to leave sqlx believing a transaction was still open on the one writer
/// connection: every later write failed with "attempted to call begin_with at
/// non-zero transaction depth" (INTERNAL_ERROR) until the process restarted.
#[tokio::test]
async fn a_failed_commit_on_a_full_disk_does_not_wedge_the_writer() {
    let Some(disk) = imi_testkit::SmallDisk::mount(2048) else {
        return;
    };
    let s = SqliteStore::open(&disk.path().join("registry.db"), HOST)
        .await
        .unwrap();
    imi_core::store::ensure_schema(&s).await.unwrap();
    let p = project(&s, "full").await;
    let w = worktree(&s, &p, "feat-full").await;
    s.update_git_states(&[(w.id, uncommitted(1))])
        .await
        .unwrap();

    // An empty WAL, then no free byte: the next COMMIT must grow the WAL and cannot.
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(busy, 0, "checkpoint blocked");
    disk.fill();

    for n in 2..6 {
        let e = s
            .update_git_states(&[(w.id, uncommitted(n))])
            .await
            .unwrap_err();
        assert_disk_full(&e);
    }
    let e = s.log_activity(&activity(w.id, 0)).await.unwrap_err();
    assert_disk_full(&e);
    // reads still work, and show the last state that was written
    assert_eq!(
        s.get_worktree(w.id).await.unwrap().uncommitted_files_count,
        1
    );

    // Space freed: the same store, in the same process, writes again.
    disk.free();
    assert_writes_again(&s, w.id, 7).await;
    s.log_activity(&activity(w.id, 1)).await.unwrap();
    s.register_worktree(&new_worktree(&p, "feat", "feat-after"))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[tokio::test]
async fn a_read_only_registry_is_unavailable_then_writes_again() {
    let s = fresh().await;
    let p = project(&s, "ro").await;
    let w = worktree(&s, &p, "feat-ro").await;
    // the writer connection refuses writes, as on a read-only file or mount
    sqlx::query("PRAGMA query_only = ON")
        .execute(s.pool())
        .await
        .unwrap();
    let e = s
        .update_git_states(&[(w.id, uncommitted(3))])
        .await
        .unwrap_err();
    assert_unavailable(&e, "read-only", "writable");
    sqlx::query("PRAGMA query_only = OFF")
        .execute(s.pool())
        .await
        .unwrap();
    assert_writes_again(&*s, w.id, 3).await;
}

#[tokio::test]
async fn a_registry_that_cannot_be_opened_or_is_damaged_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // a directory where the file should be
    let e = SqliteStore::open(dir.path(), HOST).await.unwrap_err();
    assert_eq!(e.code(), "REGISTRY_UNAVAILABLE", "{e:?}");
    assert!(e.message.contains("cannot be opened"), "{e:?}");
    assert!(
        e.hint.as_deref().unwrap_or_default().contains("directory"),
        "{e:?}"
    );

    // not a database at all
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a_u8; 8192]).unwrap();
    let e = SqliteStore::open(&junk, HOST).await.unwrap_err();
    assert_eq!(e.code(), "REGISTRY_UNAVAILABLE", "{e:?}");
    assert!(e.message.contains("damaged"), "{e:?}");
    assert!(
        e.hint
            .as_deref()
            .unwrap_or_default()
            .contains("imi db import"),
        "{e:?}"
    );
}
