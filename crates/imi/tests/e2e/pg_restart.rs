//! The registry going away during a sync, and while `--watch` runs. These tests
//! start a private PostgreSQL (initdb into a temporary directory, a free loopback
//! port, its own socket directory) so that they can stop and restart it without
//! touching the shared server other tests use.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use imi_testkit::private_pg;

use crate::harness::{Backend, Run, World};

struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePg {
    /// `None` (test skipped, with the reason) when this machine cannot run one.
    fn start() -> Option<PrivatePg> {
        let Some(bin) = private_pg::server_binaries() else {
            assert!(
                !imi_testkit::postgres_required(),
                "a private PostgreSQL is required here: no server binaries"
            );
            imi_testkit::skip(
                "PostgreSQL",
                "no initdb (pg_config --bindir, /usr/lib/postgresql/*/bin)",
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        private_pg::give_to_server(dir.path()).unwrap();
        private_pg::initdb(&bin, &dir.path().join("data")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePg { dir, bin, port };
        pg.up();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        private_pg::start(&self.bin, &self.data(), self.port, self.dir.path()).unwrap();
    }

    /// Kills the server the hard way: every connection dies at once.
    fn kill(&self) {
        private_pg::stop(&self.bin, &self.data(), "immediate").unwrap();
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = private_pg::stop(&self.bin, &self.data(), "immediate");
    }
}

fn imi(w: &World, url: &str, dir: &Path, args: &[&str]) -> Run {
    let mut c = w.cmd(dir, args);
    c.env("IMI_DATABASE_URL", url);
    crate::harness::from_output(c.output().unwrap())
}

fn imi_json(w: &World, url: &str, dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = imi(w, url, dir, &all);
    let v = r.json();
    (r.code, v)
}

type State = (Value, Value, Value, Value, Value);
type States = Vec<(String, State)>;

fn states(w: &World, url: &str) -> States {
    let (code, doc) = imi_json(w, url, &w.trunk(), &["list"]);
    assert_eq!(code, 0, "{doc}");
    let mut out: Vec<(String, State)> = doc["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                (
                    r["uncommitted_files_count"].clone(),
                    r["ahead_of_trunk"].clone(),
                    r["behind_trunk"].clone(),
                    r["last_commit_hash"].clone(),
                    r["last_commit_message"].clone(),
                ),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A project with `n` worktrees, synced; then every worktree changes (a new
/// commit and an untracked file): returns (old states, new states as git says).
fn prepare(w: &World, url: &str, n: usize) -> (States, States) {
    w.clone_trunk();
    imi(w, url, &w.trunk(), &["init"]).ok();
    for i in 0..n {
        imi(w, url, &w.trunk(), &["feat", &format!("w{i:02}")]).ok();
    }
    imi(w, url, &w.trunk(), &["sync"]).ok();
    let old = states(w, url);
    for i in 0..n {
        let dir = w.wt(&format!("feat-w{i:02}"));
        crate::sync::commit(w, &dir, "c.txt", &format!("work {i}"));
        w.write(&dir.join("u.txt"), "u\n");
    }
    // the new state, as git reports it
    let new = old
        .iter()
        .map(|(name, st)| {
            if name == "trunk-main" {
                return (name.clone(), st.clone());
            }
            let (d, a, b, h, s) = crate::sync::git_answer(w, &w.wt(name), "origin/main");
            (
                name.clone(),
                (d.into(), a.into(), b.into(), h.into(), s.into()),
            )
        })
        .collect();
    (old, new)
}

/// Waits for the paused sync `child` to create `p`; when the sync ended instead,
/// fails with what it said (a sync that exits early never creates the file).
fn wait_file(p: &Path, child: &mut std::process::Child) {
    let start = Instant::now();
    while !p.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = std::io::Read::read_to_string(&mut o, &mut out);
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!(
                "the sync ended ({status}) before {} appeared:\n{out}\n{err}",
                p.display()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_paused_sync(w: &World, url: &str, pause: &Path) -> std::process::Child {
    let mut c = w.cmd(&w.trunk(), &["--json", "sync"]);
    c.env("IMI_DATABASE_URL", url)
        .env("IMI_SYNC_BATCH_SIZE", "4")
        .env("IMI_TEST_SYNC_PAUSE_DIR", pause)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

#[test]
fn registry_killed_during_sync() {
    let Some(pg) = PrivatePg::start() else { return };
    let url = pg.url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = rt.block_on(World::new(Backend::Sqlite)).unwrap();
    let (old, new) = prepare(&w, &url, 11); // 12 rows: 3 batches of 4
    assert!(old.iter().zip(&new).filter(|(a, b)| a != b).count() == 11);

    // 1. the server dies after the first batch and stays down: a clean failure
    let pause = tempfile::tempdir().unwrap();
    let mut child = spawn_paused_sync(&w, &url, pause.path());
    wait_file(&pause.path().join("written-1"), &mut child);
    pg.kill();
    std::fs::write(pause.path().join("resume-1"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(doc["error"]["code"], "REGISTRY_UNAVAILABLE", "{doc}");
    assert!(doc["error"]["hint"].as_str().unwrap().contains("imi sync"));
    pg.up();
    // every row is wholly old or wholly new; the first batch is in, the rest not
    let now = states(&w, &url);
    let mut fresh = 0;
    for ((name, st), ((_, o), (_, n))) in now.iter().zip(old.iter().zip(&new)) {
        assert!(st == o || st == n, "{name} is half-written: {st:?}");
        if st == n && o != n {
            fresh += 1;
        }
    }
    assert!(
        (1..11).contains(&fresh),
        "{fresh} of 11 changed rows are new: the first batch only"
    );

    // 2. the server restarts between two batches: sync retries and completes
    let pause = tempfile::tempdir().unwrap();
    let mut child = spawn_paused_sync(&w, &url, pause.path());
    wait_file(&pause.path().join("written-1"), &mut child);
    pg.kill();
    pg.up();
    std::fs::write(pause.path().join("resume-1"), "").unwrap();
    wait_file(&pause.path().join("written-2"), &mut child);
    std::fs::write(pause.path().join("resume-2"), "").unwrap();
    wait_file(&pause.path().join("written-3"), &mut child);
    std::fs::write(pause.path().join("resume-3"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{doc}");
    assert_eq!(doc["data"]["summary"]["synced"], 12);
    assert_eq!(states(&w, &url), new);
}

#[test]
fn watch_survives_the_registry_going_away() {
    let Some(pg) = PrivatePg::start() else { return };
    let url = pg.url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = rt.block_on(World::new(Backend::Sqlite)).unwrap();
    w.clone_trunk();
    imi(&w, &url, &w.trunk(), &["init"]).ok();
    imi(&w, &url, &w.trunk(), &["feat", "live"]).ok();
    let mut c = w.cmd(&w.trunk(), &[]);
    c.env("IMI_DATABASE_URL", &url);
    let (mut child, notes) = crate::watch::start_watch_lines(c);

    pg.kill();
    w.write(&w.wt("feat-live").join("while-down.txt"), "x\n");
    // the watcher tries, fails, and says it keeps the update
    crate::watch::wait_for_line(&notes, "keeping 1 update");
    std::thread::spawn(move || for _ in notes {});
    pg.up();
    let start = Instant::now();
    loop {
        let (code, doc) = imi_json(&w, &url, &w.trunk(), &["list"]);
        let n = doc["data"]["worktrees"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == "feat-live"))
            .map(|r| r["uncommitted_files_count"].clone());
        if code == 0 && n == Some(1.into()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the update made while the registry was down was lost"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the watcher is still running"
    );
    // and it keeps working after the reconnect
    w.write(&w.wt("feat-live").join("after.txt"), "y\n");
    let start = Instant::now();
    loop {
        let (_, doc) = imi_json(&w, &url, &w.trunk(), &["list"]);
        let r = doc["data"]["worktrees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "feat-live")
            .unwrap()
            .clone();
        if r["uncommitted_files_count"] == 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{r}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
