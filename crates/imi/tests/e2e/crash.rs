//! Issue 8, the crash test: `kill -9` (of imi and every git it started: the whole
//! process group, as a power cut would) at random points of add, remove, merge
//! (both modes) and import, 30 times each. After each kill, `imi doctor` either
//! reports everything consistent, and it is (the registry lists exactly the
//! worktrees git lists, trunk is clean and not mid-merge), or names an interrupted
//! operation whose suggested command (`imi recover`) makes it so. The work always
//! survives, and SQLite's `PRAGMA integrity_check` says ok.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::both_backends;
use crate::harness::World;
use crate::work::{assert_registry_matches_git, merge_in_progress};

const KILLS: usize = 30;

/// xorshift64*: reproducible kill points without a dependency; the seed is printed
/// with every failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, max: Duration) -> Duration {
        let us = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % us)
    }
}

fn spawn(w: &World, dir: &Path, args: &[&str]) -> Child {
    let mut c = w.cmd(dir, args);
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    c.spawn().unwrap()
}

/// Processes (not zombies) in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return false;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.len() > 2 && f[0] != "Z" && f[0] != "X" && f[2] == pgid.to_string()
    })
}

fn kill_group(mut child: Child) {
    let pgid = child.id();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_alive(pgid) {
        assert!(
            Instant::now() < deadline,
            "process group {pgid} did not die"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long an uninterrupted run of `args` takes here: the window kills fall in.
fn window(w: &World, dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = w.cmd(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "calibration run {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed()
}

fn registry_file(w: &World) -> std::path::PathBuf {
    w.path().join(".local/share/imi/registry.db")
}

fn integrity_ok(w: &World) {
    if w.pg.is_some() {
        return; // PostgreSQL: a killed client's transaction is rolled back by the server
    }
    let out = std::process::Command::new("sqlite3")
        .arg(registry_file(w))
        .arg("PRAGMA integrity_check;")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn checks(doc: &Value) -> Vec<Value> {
    doc["data"]["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// After a kill: doctor is happy (and right), or names the interrupted operation
/// and its fix restores consistency. Returns whether recovery was needed.
fn settle(w: &World, what: &str) -> bool {
    let (code, doc) = w.imi_json(&w.trunk(), &["doctor"]);
    let mut recovered = false;
    if code != 0 {
        let failed: Vec<Value> = checks(&doc)
            .into_iter()
            .filter(|c| c["ok"] == false)
            .collect();
        let interrupted = failed
            .iter()
            .find(|c| c["check"] == "interrupted")
            .unwrap_or_else(|| {
                panic!("{what}: doctor failed without naming an interrupted operation: {doc}")
            });
        let fix = interrupted["fix"].as_str().unwrap();
        assert!(fix.starts_with("imi recover"), "{what}: {fix}");
        let args: Vec<&str> = fix.split_whitespace().skip(1).collect();
        let (rc, rdoc) = w.imi_json(&w.trunk(), &args);
        assert_eq!(rc, 0, "{what}: `{fix}` failed: {rdoc}");
        let (code2, doc2) = w.imi_json(&w.trunk(), &["doctor"]);
        assert_eq!(
            code2, 0,
            "{what}: still inconsistent after `{fix}` ({rdoc}): {doc2}"
        );
        recovered = true;
    }
    // doctor's "consistent" must be true: compare with git ourselves
    assert_registry_matches_git(w);
    assert_eq!(
        w.git(&w.trunk(), &["status", "--porcelain"]),
        "",
        "{what}: trunk clean"
    );
    assert!(!merge_in_progress(w), "{what}: trunk is mid-merge");
    let ops = w.trunk().join(".git/imi/ops");
    let left: Vec<_> = std::fs::read_dir(&ops)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{what}: intent records left: {left:?}");
    integrity_ok(w);
    recovered
}

fn commit_in(w: &World, dir: &Path, file: &str, content: &str) -> String {
    w.write(&dir.join(file), content);
    w.git(dir, &["add", file]);
    w.git(dir, &["commit", "--quiet", "-m", file]);
    w.git(dir, &["rev-parse", "HEAD"])
}

fn kill_add(w: &World) {
    w.init_project();
    let win = window(w, &w.trunk(), &["feat", "calibrate", "--no-fetch"]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut recovered = 0;
    for i in 0..KILLS {
        let name = format!("a{i}");
        let delay = rng.below(win);
        let child = spawn(w, &w.trunk(), &["feat", &name, "--no-fetch"]);
        std::thread::sleep(delay);
        kill_group(child);
        let what = format!("add #{i} killed after {delay:?}");
        recovered += usize::from(settle(w, &what));
        // the add can always be run again and then works
        w.imi(&w.trunk(), &["feat", &name, "--no-fetch"]).ok();
        assert!(
            w.wt(&format!("feat-{name}")).join("README.md").exists(),
            "{what}"
        );
    }
    eprintln!("add: {KILLS} kills, {recovered} needed `imi recover`");
}

fn kill_remove(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "calibrate", "--no-fetch"]).ok();
    let win = window(w, &w.trunk(), &["remove", "feat-calibrate"]);
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut recovered = 0;
    for i in 0..KILLS {
        let name = format!("r{i}");
        let dir = w.wt(&format!("feat-{name}"));
        w.imi(&w.trunk(), &["feat", &name, "--no-fetch"]).ok();
        // an unmerged commit: remove --force keeps the branch, so it must survive
        let tip = commit_in(w, &dir, &format!("{name}.txt"), &format!("{name}\n"));
        let delay = rng.below(win);
        let child = spawn(
            w,
            &w.trunk(),
            &["remove", &format!("feat-{name}"), "--force"],
        );
        std::thread::sleep(delay);
        kill_group(child);
        let what = format!("remove #{i} killed after {delay:?}");
        recovered += usize::from(settle(w, &what));
        assert_eq!(
            w.git(&w.trunk(), &["rev-parse", &format!("feat/{name}")]),
            tip,
            "{what}: the unmerged branch survives"
        );
    }
    eprintln!("remove: {KILLS} kills, {recovered} needed `imi recover`");
}

fn kill_merge(w: &World, squash: bool) {
    w.init_project();
    let mode: &[&str] = if squash { &["--squash"] } else { &[] };
    w.imi(&w.trunk(), &["feat", "calibrate", "--no-fetch"]).ok();
    commit_in(w, &w.wt("feat-calibrate"), "calibrate.txt", "c\n");
    let mut args = vec!["merge", "feat-calibrate"];
    args.extend_from_slice(mode);
    let win = window(w, &w.trunk(), &args);
    let mut rng = Rng(if squash {
        0x94D0_49BB_1331_11EB
    } else {
        0xBF58_476D_1CE4_E5B9
    });
    let mut recovered = 0;
    for i in 0..KILLS {
        let name = format!("m{i}");
        let file = format!("{name}.txt");
        w.imi(&w.trunk(), &["feat", &name, "--no-fetch"]).ok();
        let tip = commit_in(
            w,
            &w.wt(&format!("feat-{name}")),
            &file,
            &format!("{name}\n"),
        );
        let target = format!("feat-{name}");
        let mut args = vec!["merge", target.as_str()];
        args.extend_from_slice(mode);
        let delay = rng.below(win);
        let child = spawn(w, &w.trunk(), &args);
        std::thread::sleep(delay);
        kill_group(child);
        let what = format!(
            "merge{} #{i} killed after {delay:?}",
            if squash { " --squash" } else { "" }
        );
        recovered += usize::from(settle(w, &what));
        // the work is in trunk, or still on its branch, never nowhere
        let in_trunk = std::process::Command::new("git")
            .args([
                "-C",
                w.trunk().to_str().unwrap(),
                "show",
                &format!("HEAD:{file}"),
            ])
            .output()
            .unwrap()
            .status
            .success();
        let on_branch = std::process::Command::new("git")
            .args([
                "-C",
                w.trunk().to_str().unwrap(),
                "rev-parse",
                "-q",
                "--verify",
                &format!("refs/heads/feat/{name}"),
            ])
            .output()
            .unwrap();
        let on_branch = String::from_utf8_lossy(&on_branch.stdout).trim() == tip;
        assert!(in_trunk || on_branch, "{what}: the work is lost");
        if !in_trunk {
            // not merged: the merge can simply be run again
            w.imi(&w.trunk(), &args).ok();
        }
    }
    eprintln!("merge (squash: {squash}): {KILLS} kills, {recovered} needed `imi recover`");
}

fn kill_merge_commit(w: &World) {
    kill_merge(w, false);
}

fn kill_merge_squash(w: &World) {
    kill_merge(w, true);
}

fn counts(w: &World) -> (i64, i64, i64) {
    let (code, doc) = w.imi_json(&w.trunk(), &["stats"]);
    assert_eq!(code, 0, "{doc}");
    let d = &doc["data"];
    let n = |k: &str| {
        d[k].as_i64()
            .or_else(|| d["stats"][k].as_i64())
            .unwrap_or_else(|| panic!("{k} in {doc}"))
    };
    (
        n("total_projects"),
        n("total_worktrees"),
        n("total_activities"),
    )
}

fn kill_import(w: &World) {
    w.init_project();
    let file = w.path().join("legacy.db");
    tokio::runtime::Handle::current()
        .block_on(imi_import::fixture::generate(&file, 60, 300, 2000))
        .unwrap();
    let before = counts(w);
    // the dry run does all the work, then rolls back: the window kills fall in
    let win = window(
        w,
        &w.trunk(),
        &["import", "legacy", file.to_str().unwrap(), "--dry-run"],
    );
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut landed: Option<(i64, i64, i64)> = None;
    for i in 0..KILLS {
        let delay = rng.below(win);
        let child = spawn(w, &w.trunk(), &["import", "legacy", file.to_str().unwrap()]);
        std::thread::sleep(delay);
        kill_group(child);
        let what = format!("import #{i} killed after {delay:?}");
        integrity_ok(w);
        let (code, doc) = w.imi_json(&w.trunk(), &["doctor"]);
        // the imported projects' directories are not on this machine (doctor says
        // so), but the registry, the schema and this project are consistent and no
        // operation is left interrupted
        let bad: Vec<Value> = checks(&doc)
            .into_iter()
            .filter(|c| c["ok"] == false)
            .filter(|c| {
                let msg = c["message"].as_str().unwrap_or_default();
                ["registry", "schema", "interrupted", "trunk_state"]
                    .iter()
                    .any(|k| c["check"] == *k)
                    || msg.contains("project app:")
                    || msg.contains(w.root().join("app").to_str().unwrap())
            })
            .collect();
        assert!(bad.is_empty() || code == 0, "{what}: {bad:?}");
        // all of the import or none of it
        let now = counts(w);
        if now != before {
            assert!(
                landed.is_none_or(|l| l == now),
                "{what}: partial import {now:?}"
            );
            landed = Some(now);
        } else {
            assert!(
                landed.is_none(),
                "{what}: an import that landed disappeared"
            );
        }
        assert_registry_matches_git(w);
    }
    // whatever happened, running it again completes it, once
    w.imi(&w.trunk(), &["import", "legacy", file.to_str().unwrap()])
        .ok();
    let full = counts(w);
    w.imi(&w.trunk(), &["import", "legacy", file.to_str().unwrap()])
        .ok();
    assert_eq!(counts(w), full, "idempotent");
    assert!(full.0 > before.0 && full.1 > before.1 && full.2 > before.2);
    assert!(
        landed.is_none_or(|l| l == full),
        "a killed import landed only in part"
    );
}

both_backends! {
    kill_9_during_add_30_times => kill_add;
    kill_9_during_remove_30_times => kill_remove;
    kill_9_during_merge_commit_30_times => kill_merge_commit;
    kill_9_during_merge_squash_30_times => kill_merge_squash;
    kill_9_during_import_30_times => kill_import;
}
