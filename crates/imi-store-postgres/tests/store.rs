//! `PgStore` as a `Store`. Every method is exercised on both backends by the
//! conformance suite (`imi-conformance`, scenarios `every_*_method_works`, which
//! hold the tests this file had); what is particular to PostgreSQL stays here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure should stop the test loudly

mod common;

use common::{HOST, store};
use imi_core::Store;

#[tokio::test]
async fn backend_host_ping() {
    let Some((_db, s)) = store().await else {
        return;
    };
    assert_eq!(s.backend(), "postgres");
    assert_eq!(s.host(), HOST);
    s.ping().await.unwrap();
}
