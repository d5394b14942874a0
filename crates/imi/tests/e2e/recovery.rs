//! The registry's own faults seen from the CLI (issue 8, rule 7): a full registry
//! disk is REGISTRY_UNAVAILABLE with what to do next, and `imi sync --watch` keeps
//! the states it could not write and writes them once writing works again.
//!
//! SQLite: the registry directory is a small tmpfs (root only; skipped otherwise)
//! that the test fills up, a real ENOSPC under the WAL. PostgreSQL: the shared
//! server's disk cannot be filled, so a trigger raises its `disk_full` error
//! (SQLSTATE 53100) on every write to `worktrees` until the test drops it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use imi_testkit::SmallDisk;
use sqlx::Connection;

use crate::harness::World;
use crate::watch::{count_of, wait_for_count};

/// Makes every registry write fail as on a full disk, and undoes it.
enum Fault {
    /// The registry's directory, a tmpfs; `holder` keeps the registry open (as a
    /// running `imi sync --watch` would), so that its WAL and shared-memory files
    /// stay while the disk is full.
    Sqlite {
        disk: SmallDisk,
        db: PathBuf,
        holder: Mutex<Option<sqlx::SqliteConnection>>,
    },
    Postgres {
        url: String,
    },
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(f)
}

impl Fault {
    /// Mounts the SQLite registry's directory on a small tmpfs before anything
    /// is registered; `None` when that is impossible here (not root).
    fn prepare(w: &World) -> Option<Fault> {
        match &w.pg {
            Some(pg) => Some(Fault::Postgres {
                url: pg.url.clone(),
            }),
            None => {
                let dir = w.path().join(".local/share/imi");
                let disk = SmallDisk::mount_at(&dir, 8192)?;
                Some(Fault::Sqlite {
                    disk,
                    db: dir.join("registry.db"),
                    holder: Mutex::new(None),
                })
            }
        }
    }

    fn fill(&self) {
        match self {
            Fault::Sqlite { disk, db, holder } => {
                // an empty WAL: the next COMMIT has to grow it, and there is no room
                let url = format!("sqlite://{}", db.display());
                let c = block_on(async {
                    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    let (busy, _, _): (i64, i64, i64) =
                        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                            .fetch_one(&mut c)
                            .await
                            .unwrap();
                    assert_eq!(busy, 0, "the WAL could not be emptied");
                    c
                });
                *holder.lock().unwrap() = Some(c);
                disk.fill();
            }
            Fault::Postgres { url } => block_on(async {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(
                    "CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' \
                     USING ERRCODE = 'disk_full'; END $$; \
                     CREATE TRIGGER test_disk_full BEFORE INSERT OR UPDATE ON worktrees \
                     FOR EACH ROW EXECUTE FUNCTION test_disk_full();",
                )
                .execute(&mut c)
                .await
                .unwrap();
            }),
        }
    }

    fn free(&self) {
        match self {
            Fault::Sqlite { disk, holder, .. } => {
                disk.free();
                if let Some(c) = holder.lock().unwrap().take() {
                    block_on(c.close()).unwrap();
                }
            }
            Fault::Postgres { url } => block_on(async {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(
                    "DROP TRIGGER test_disk_full ON worktrees; DROP FUNCTION test_disk_full();",
                )
                .execute(&mut c)
                .await
                .unwrap();
            }),
        }
    }
}

#[track_caller]
fn assert_disk_full(doc: &serde_json::Value) {
    assert_eq!(doc["success"], false, "{doc}");
    assert_eq!(doc["error"]["code"], "REGISTRY_UNAVAILABLE", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("disk is full"), "{doc}");
    let hint = doc["error"]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("free space"), "{doc}");
}

fn full_registry_is_unavailable_with_a_hint(w: &World) {
    let Some(fault) = Fault::prepare(w) else {
        return;
    };
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "full"]).ok();
    w.write(&w.wt("feat-full").join("a.txt"), "a\n");
    fault.fill();

    let (code, doc) = w.imi_json(&t, &["sync"]);
    assert_eq!(code, 1, "{doc}");
    assert_disk_full(&doc);
    assert!(
        doc["error"]["hint"].as_str().unwrap().contains("imi sync"),
        "{doc}"
    );
    // reading still works, and shows nothing half-written
    assert_eq!(count_of(w, &t, "feat-full"), 0);
    // the same failure again, not a different one
    let (code, doc) = w.imi_json(&t, &["sync"]);
    assert_eq!(code, 1, "{doc}");
    assert_disk_full(&doc);

    fault.free();

    if let Fault::Sqlite { disk, db, .. } = &fault {
        // Nobody has the registry open: SQLite removed its WAL and shared-memory
        // files on the last close, and cannot create them again on a full disk, so
        // even opening the registry fails, as an I/O error (SQLite says no more);
        // the hint still says what to do.
        assert!(!Path::new(&format!("{}-shm", db.display())).exists());
        disk.fill();
        let (code, doc) = w.imi_json(&t, &["list"]);
        assert_eq!(code, 1, "{doc}");
        assert_eq!(doc["error"]["code"], "REGISTRY_UNAVAILABLE", "{doc}");
        let hint = doc["error"]["hint"].as_str().unwrap_or_default();
        assert!(hint.contains("free space if it is full"), "{doc}");
        disk.free();
    }

    let (code, doc) = w.imi_json(&t, &["sync"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(count_of(w, &t, "feat-full"), 1);
}

/// Starts `imi sync --watch`; its stderr lines arrive on the receiver.
fn start_watch(w: &World, dir: &Path) -> (Kill, Receiver<String>) {
    let mut child = w
        .cmd(dir, &["sync", "--watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let child = Kill(child);
    wait_line(&rx, "watching", Duration::from_secs(30));
    (child, rx)
}

/// Waits for a stderr line containing `needle`; returns it.
#[track_caller]
fn wait_line(rx: &Receiver<String>, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("imi sync --watch never said {needle:?} ({e})"),
        }
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watch_keeps_states_while_the_registry_is_full(w: &World) {
    let Some(fault) = Fault::prepare(w) else {
        return;
    };
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "kept"]).ok();
    let (child, rx) = start_watch(w, &t);
    let wt = w.wt("feat-kept");
    // the watcher writes while the registry has room
    w.write(&wt.join("first.txt"), "1\n");
    wait_for_count(w, &t, "feat-kept", 1, Duration::from_secs(10));

    fault.fill();
    w.write(&wt.join("second.txt"), "2\n");
    let line = wait_line(&rx, "disk is full", Duration::from_secs(20));
    assert!(line.contains("keeping 1 update"), "{line}");
    assert!(line.contains("free space"), "{line}");
    // the watcher retries and fails again, and still keeps the state
    let again = wait_line(&rx, "disk is full", Duration::from_secs(20));
    assert!(again.contains("keeping 1 update"), "{again}");
    // a later change replaces the kept state (newest per worktree)
    w.write(&wt.join("third.txt"), "3\n");
    wait_line(&rx, "disk is full", Duration::from_secs(20));
    assert_eq!(count_of(w, &t, "feat-kept"), 1, "written while full?");

    fault.free();
    // no new change: the kept state alone reaches the registry
    wait_for_count(w, &t, "feat-kept", 3, Duration::from_secs(20));
    wait_line(&rx, "synced feat-kept", Duration::from_secs(5));
    // and the watcher goes on working
    w.write(&wt.join("fourth.txt"), "4\n");
    wait_for_count(w, &t, "feat-kept", 4, Duration::from_secs(10));
    assert!(
        std::fs::metadata(format!("/proc/{}", child.0.id())).is_ok(),
        "the watcher exited"
    );
}

crate::both_backends! {
    full_registry_is_unavailable_with_a_hint => full_registry_is_unavailable_with_a_hint;
    watch_keeps_states_while_the_registry_is_full => watch_keeps_states_while_the_registry_is_full;
}
