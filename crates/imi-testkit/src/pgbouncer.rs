//! Debian's PgBouncer in transaction pooling mode, started by a test on a free
//! loopback port in front of the test server, stopped on drop.
//!
//! The pool is deliberately small (two server connections per database) so that
//! concurrent clients share server connections, which is what breaks session state
//! and named prepared statements.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::process::{Child, Command, Stdio};
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;

use crate::{admin_url, postgres_required, redact, with_database};

pub struct PgBouncer {
    child: Child,
    pub port: u16,
    user: String,
    _dir: tempfile::TempDir,
}

fn binary() -> Option<&'static str> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

impl PgBouncer {
    /// `None` when pgbouncer is not installed and PostgreSQL is not required (the
    /// test then returns); in CI a missing pgbouncer fails the test.
    pub fn start() -> Option<PgBouncer> {
        let Some(bin) = binary() else {
            if postgres_required() {
                panic!("pgbouncer is required in CI but not installed (.ci/run installs it)");
            }
            crate::skip("PgBouncer", "not installed (apt-get install pgbouncer)");
            return None;
        };
        let admin = admin_url();
        let options = PgConnectOptions::from_str(&admin).expect("IMI_TEST_DATABASE_URL");
        let user = options.get_username().to_string();
        let (host, port) = (options.get_host().to_string(), options.get_port());
        let mut last = String::new();
        // a free port can be taken between our probe and pgbouncer's bind: retry
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temporary directory");
            let listen = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let ini = dir.path().join("pgbouncer.ini");
            let users = dir.path().join("users.txt");
            std::fs::write(&users, format!("\"{user}\" \"\"\n")).expect("write users.txt");
            std::fs::write(
                &ini,
                format!(
                    "[databases]\n* = host={host} port={port}\n\n[pgbouncer]\n\
                     listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n\
                     auth_type = trust\nauth_file = {users}\npool_mode = transaction\n\
                     default_pool_size = 2\nmax_client_conn = 500\n\
                     log_connections = 0\nlog_disconnections = 0\n",
                    users = users.display()
                ),
            )
            .expect("write pgbouncer.ini");
            // pgbouncer refuses to run as root: switch to the server's own user then
            for f in [dir.path(), ini.as_path(), users.as_path()] {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = if f.is_dir() { 0o755 } else { 0o644 };
                let _ = std::fs::set_permissions(f, std::fs::Permissions::from_mode(mode));
            }
            let mut cmd = Command::new(bin);
            if std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(1)
                == 0
            {
                cmd.args(["-u", "postgres"]);
            }
            // its log goes to a file: a pipe nobody reads would fill and stall it
            let log = dir.path().join("pgbouncer.log");
            let log_file = std::fs::File::create(&log).expect("create pgbouncer.log");
            let mut child = cmd
                .arg(&ini)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("start pgbouncer");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", listen)).is_ok() {
                    return Some(PgBouncer {
                        child,
                        port: listen,
                        user,
                        _dir: dir,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    last = std::fs::read_to_string(&log).unwrap_or_default();
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    last = "pgbouncer did not listen within 10 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!(
            "pgbouncer did not start in front of {}: {last}",
            redact(&admin)
        );
    }

    /// The URL of `database` through this PgBouncer, marked `pgbouncer=true`.
    pub fn url(&self, database: &str) -> String {
        with_database(
            &format!(
                "postgres://{}@127.0.0.1:{}/x?pgbouncer=true",
                self.user, self.port
            ),
            database,
        )
    }

    /// The same without the mark: what a user who forgot it would connect with.
    pub fn unmarked_url(&self, database: &str) -> String {
        with_database(
            &format!("postgres://{}@127.0.0.1:{}/x", self.user, self.port),
            database,
        )
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
