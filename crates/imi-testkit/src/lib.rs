//! Test support shared by the store crates and the conformance suite.
//!
//! Every PostgreSQL test gets a database of its own (`imi_t_<uuid>`), dropped when
//! the handle goes out of scope, so tests run in parallel without seeing each other.
//! The server is `IMI_TEST_DATABASE_URL` (default: the local trust-auth
//! `postgres://postgres@127.0.0.1:5432/postgres`; when nothing listens there, a
//! private cluster of this machine's server binaries, see [`private_pg`]). When no
//! server can be reached or started the test is skipped with a message, except in
//! CI (`CI` set) or with `IMI_REQUIRE_POSTGRES=1`, where it fails: CI must never
//! pass by skipping.

#![allow(clippy::expect_used)] // test support: a failed set-up should stop the test loudly

use std::path::PathBuf;
use std::sync::OnceLock;

use sqlx::{Connection, Executor, PgConnection};

pub mod cli;
mod disk;
pub mod faults;
mod pgbouncer;
pub mod private_pg;
pub use disk::SmallDisk;
pub use pgbouncer::PgBouncer;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server the tests use: `IMI_TEST_DATABASE_URL`, else the local one on 5432,
/// else (nothing listens there) this run's private cluster ([`private_pg`]).
pub fn admin_url() -> String {
    server().url.clone()
}

/// Where the tests' server is, and how to reach it locally.
pub struct Server {
    pub url: String,
    /// The directory of its Unix socket `.s.PGSQL.<port>`.
    pub socket_dir: PathBuf,
    pub port: u16,
    /// Why no server could be found or started, when none was.
    pub unavailable: Option<String>,
    /// Whether it is this run's private cluster ([`private_pg`]).
    pub private: bool,
}

/// The tests' server, found once per process (see [`admin_url`]).
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let system = |unavailable| Server {
            url: DEFAULT_ADMIN_URL.to_string(),
            socket_dir: PathBuf::from("/var/run/postgresql"),
            port: 5432,
            unavailable,
            private: false,
        };
        if let Ok(url) = std::env::var("IMI_TEST_DATABASE_URL") {
            // its port names its socket (`.s.PGSQL.<port>` in Debian's directory)
            let port = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
                .map_or(5432, |o| o.get_port());
            return Server {
                url,
                port,
                ..system(None)
            };
        }
        if private_pg::listening(5432) {
            return system(None);
        }
        match private_pg::ensure() {
            Ok(c) => Server {
                url: c.url,
                socket_dir: c.socket_dir,
                port: c.port,
                unavailable: None,
                private: true,
            },
            Err(why) => system(Some(format!(
                "nothing listens on 127.0.0.1:5432 and no private cluster could start: {why}"
            ))),
        }
    })
}

pub fn postgres_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var("IMI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Says on stderr that the running test is skipped (`need`: what it needs, e.g.
/// `PostgreSQL`; `why`: what is missing), and leaves a mark in `IMI_TEST_SKIP_DIR`
/// when it is set, so `scripts/test` ends the run with a count of skipped tests.
pub fn skip(need: &str, why: &str) {
    eprintln!("skipping: {need}: {why}");
    if let Some(dir) = std::env::var_os("IMI_TEST_SKIP_DIR") {
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .replace(['/', ':'], "_");
        let file = PathBuf::from(dir).join(format!("{test}-{}", uuid::Uuid::new_v4().simple()));
        let _ = std::fs::write(file, format!("{need}\t{why}\n"));
    }
}

/// A fresh, empty database; dropped (with `FORCE`) on drop.
pub struct PgTestDb {
    pub url: String,
    pub name: String,
    admin: String,
}

impl PgTestDb {
    /// `None` when PostgreSQL is unreachable and not required (the test then returns).
    pub async fn create() -> Option<PgTestDb> {
        let admin = admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if postgres_required() {
                    panic!(
                        "PostgreSQL is required (CI or IMI_REQUIRE_POSTGRES=1) but unreachable at {}: {e}",
                        redact(&admin)
                    );
                }
                let why = server()
                    .unavailable
                    .as_ref()
                    .map(|w| format!("; {w}"))
                    .unwrap_or_default();
                skip(
                    "PostgreSQL",
                    &format!(
                        "unreachable at {} ({e}){why}; set IMI_TEST_DATABASE_URL",
                        redact(&admin)
                    ),
                );
                return None;
            }
        };
        if server().private {
            // a test starting keeps the private cluster alive (its watchdog's mark)
            private_pg::touch(&server().socket_dir);
        }
        let name = format!("imi_t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        Some(PgTestDb { url, name, admin })
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut c) = PgConnection::connect(&admin).await {
                        let _ = c
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// `url` with its database replaced by `db` (keeps query parameters).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn redact(url: &str) -> String {
    imi_core::redact(url)
}
