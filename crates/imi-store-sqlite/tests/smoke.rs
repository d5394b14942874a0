//! What is particular to the SQLite store: its file, `open_url`, reset and
//! maintenance. Every `Store` method is exercised on both backends by the
//! conformance suite (`imi-conformance`, scenarios `every_*_method_works`, which
//! hold the tests this file had).

#![allow(clippy::unwrap_used)] // tests: a failure should stop the test loudly

mod common;

use common::*;
use imi_core::{ErrorKind, Store};

#[tokio::test]
async fn backend_host_ping() {
    let s = fresh().await;
    assert_eq!(s.backend(), "sqlite");
    assert_eq!(s.host(), HOST);
    s.ping().await.unwrap();
    assert!(s.path().ends_with("registry.db"));
}

#[tokio::test]
async fn reset_and_maintain() {
    let s = fresh().await;
    project(&s, "app").await;
    s.maintain().await.unwrap();
    s.reset().await.unwrap();
    let st = s.schema_status().await.unwrap();
    assert_eq!(st.applied, 0);
    assert_eq!(st.pending, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    imi_core::store::ensure_schema(&s.store).await.unwrap();
    assert!(s.list_projects(true).await.unwrap().is_empty());
    assert_eq!(s.list_types().await.unwrap().len(), 6);
    assert_eq!(s.list_types().await.unwrap()[0].id, 1);
}

#[tokio::test]
async fn open_url_forms() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("nested/dir/r.db");
    let s = imi_store_sqlite::SqliteStore::open_url(&format!("sqlite://{}", abs.display()), "h")
        .await
        .unwrap();
    assert_eq!(s.path(), abs);
    assert!(abs.exists());
    let s2 = imi_store_sqlite::SqliteStore::open_url(&format!("sqlite:{}", abs.display()), "h")
        .await
        .unwrap();
    assert_eq!(s2.path(), abs);
    assert_eq!(
        imi_store_sqlite::SqliteStore::open_url("postgres://x/y", "h")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Validation
    );
    let ro = imi_store_sqlite::SqliteStore::open(std::path::Path::new("/proc/imi/r.db"), "h")
        .await
        .unwrap_err();
    assert_eq!(ro.kind, ErrorKind::Unavailable, "{ro:?}");
}
