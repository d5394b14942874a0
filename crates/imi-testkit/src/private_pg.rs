//! A PostgreSQL for the test run when nothing listens where the tests look.
//!
//! On a machine with PostgreSQL's server binaries but no running server, the first
//! test that needs one starts a cluster of its own: `initdb` into
//! `<tmp>/imi-test-pg-<uid>/data` (trust authentication, superuser `postgres`), then
//! `pg_ctl start` on a free loopback port with its socket in that directory. Every
//! test process of the run (nextest runs each test in a process of its own) finds it
//! through the port file there, under a file lock, so one cluster serves them all;
//! the next run reuses it. A watchdog stops it once no test has used it for five
//! minutes. As root the server runs as the `postgres` user (`initdb` refuses root).

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Seconds without a test before the watchdog stops the cluster.
const IDLE_SECONDS: u64 = 300;

/// A running private cluster.
pub struct Cluster {
    pub url: String,
    /// Where its Unix socket is (`.s.PGSQL.<port>`).
    pub socket_dir: PathBuf,
    pub port: u16,
}

/// Whether a server accepts TCP connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// The directory of PostgreSQL's server binaries (`pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/*/bin`), if this machine has them.
pub fn server_binaries() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok();
    let from_config = out
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.join("initdb").exists());
    from_config.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .collect();
        found.sort();
        found.pop()
    })
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `tool` of `bin` with `args`, as the `postgres` user when running as root.
fn server_tool(bin: &Path, tool: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

fn run(mut c: Command, what: &str) -> Result<Output, String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `initdb` of a trust-authentication cluster (superuser `postgres`) into `data`.
pub fn initdb(bin: &Path, data: &Path) -> Result<(), String> {
    let mut c = server_tool(bin, "initdb");
    c.arg("-D")
        .arg(data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    run(c, "initdb").map(drop)
}

/// `pg_ctl start` of the cluster in `data` on 127.0.0.1:`port`, its socket and its
/// log (`log`) in `dir`; waits until it accepts connections.
pub fn start(bin: &Path, data: &Path, port: u16, dir: &Path) -> Result<(), String> {
    let mut c = server_tool(bin, "pg_ctl");
    c.arg("-D")
        .arg(data)
        .arg("-o")
        .arg(format!(
            "-p {port} -k '{}' -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
            dir.display()
        ))
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "start"]);
    run(c, "pg_ctl start").map(drop).map_err(|e| {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        format!("{e}\n{log}")
    })
}

/// `pg_ctl stop` of the cluster in `data`, in `mode` (`fast`, `immediate`), waiting.
pub fn stop(bin: &Path, data: &Path, mode: &str) -> Result<(), String> {
    let mut c = server_tool(bin, "pg_ctl");
    c.arg("-D").arg(data).args(["-m", mode, "-w", "stop"]);
    run(c, "pg_ctl stop").map(drop)
}

/// Lets the server's user (`postgres`, when running as root) write in `dir`.
pub fn give_to_server(dir: &Path) -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    let mut c = Command::new("chown");
    c.arg("postgres:postgres").arg(dir);
    run(c, "chown postgres").map(drop)
}

/// Marks the cluster as in use now (the watchdog stops it after
/// [`IDLE_SECONDS`] without a mark).
pub fn touch(socket_dir: &Path) {
    let _ = std::fs::write(socket_dir.join("used"), b"");
}

/// The run's private cluster, started (and created) when it is not running.
pub fn ensure() -> Result<Cluster, String> {
    let bin = server_binaries()
        .ok_or("no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin)")?;
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let base = std::env::temp_dir().join(format!("imi-test-pg-{uid}"));
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    let lock = File::create(base.join("lock")).map_err(|e| format!("lock file: {e}"))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", base.display()))?;
    let touch = || touch(&base);
    let port_file = base.join("port");
    if let Some(port) = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        && base.join(format!(".s.PGSQL.{port}")).exists()
        && listening(port)
    {
        touch();
        return Ok(cluster(&base, port));
    }
    give_to_server(&base)?;
    let data = base.join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    let make_and_start = || {
        if !data.join("PG_VERSION").exists() {
            let _ = std::fs::remove_dir_all(&data);
            initdb(&bin, &data)?;
        }
        start(&bin, &data, port, &base)
    };
    // a cluster left by another server version (or half made) is made again, once
    if make_and_start().is_err() {
        let _ = std::fs::remove_dir_all(&data);
        make_and_start()?;
    }
    std::fs::write(&port_file, port.to_string()).map_err(|e| format!("port file: {e}"))?;
    touch();
    watchdog(&bin, &base);
    Ok(cluster(&base, port))
}

fn cluster(base: &Path, port: u16) -> Cluster {
    Cluster {
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        socket_dir: base.to_path_buf(),
        port,
    }
}

/// Stops the cluster once `used` is older than [`IDLE_SECONDS`] (a detached shell
/// loop: it outlives the test process that started the server).
fn watchdog(bin: &Path, base: &Path) {
    let stop = if is_root() {
        "runuser -u postgres -- \"$1/pg_ctl\""
    } else {
        "\"$1/pg_ctl\""
    };
    // idle: take the lock tests take to find the cluster, look again, then stop
    let script = format!(
        "idle() {{ [ $(( $(date +%s) - $(stat -c %Y \"$0/used\" 2>/dev/null || echo 0) )) -gt {IDLE_SECONDS} ]; }}; \
         exec 9>>\"$0/lock\"; \
         while sleep 15; do \
           idle || continue; \
           flock 9; \
           if idle; then rm -f \"$0/port\"; {stop} -D \"$0/data\" -m fast -w stop >/dev/null 2>&1; exit 0; fi; \
           flock -u 9; \
         done"
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(base)
        .arg(bin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four callers at once (as four test processes would) get one cluster, which
    /// answers; a later caller finds the same one.
    #[test]
    fn one_private_cluster_serves_every_caller() {
        if server_binaries().is_none() {
            assert!(
                !crate::postgres_required(),
                "CI has PostgreSQL's server binaries"
            );
            return;
        }
        let ports: Vec<u16> = (0..4)
            .map(|_| std::thread::spawn(|| ensure().map(|c| c.port)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
        let again = ensure().unwrap();
        assert_eq!(again.port, ports[0]);
        assert!(
            again
                .socket_dir
                .join(format!(".s.PGSQL.{}", again.port))
                .exists()
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let one: i32 = rt.block_on(async {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(&again.url).await.unwrap();
            sqlx::query_scalar("SELECT 1")
                .fetch_one(&mut c)
                .await
                .unwrap()
        });
        assert_eq!(one, 1);
    }
}
