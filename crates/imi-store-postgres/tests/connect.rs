//! Connecting: what a user is told when the registry's server or database is not
//! there.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use imi_core::ErrorKind;
use imi_store_postgres::PgStore;

/// Nothing listens on the port: the refusal itself is reported (the pool's retries
/// until its acquire timeout would say "timed out" instead).
#[tokio::test]
async fn a_refused_port_is_reported_as_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let url = format!("postgres://imi:secret@127.0.0.1:{port}/registry");
    let e = PgStore::connect(&url, "h").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(e.message.contains("Connection refused"), "{}", e.message);
    assert!(!e.message.contains("secret"), "{}", e.message);
    let e = PgStore::connect("postgres:///registry?host=/nonexistent-imi-dir", "h")
        .await
        .unwrap_err();
    assert!(e.message.contains("No such file"), "{}", e.message);
}

/// The server answers but the database is missing: the hint says how to create it.
#[tokio::test]
async fn a_missing_database_suggests_creating_it() {
    // Only needs the server: skipped (or failed in CI) like every PostgreSQL test.
    let Some(db) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let url = imi_testkit::with_database(&db.url, "imi%20no%20such%20db");
    let e = PgStore::connect(&url, "h").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(e.message.contains("3D000"), "{}", e.message);
    let hint = e.hint.unwrap();
    assert!(hint.contains("createdb 'imi no such db'"), "{hint}");
}
