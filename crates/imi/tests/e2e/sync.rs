//! `imi sync` on real repositories, every answer compared with git's own
//! (`git status --porcelain`, `git rev-list --left-right --count`, `git log -1`);
//! `--register`; `imi inflight` and `imi stats`; identical results on both backends.

use std::path::Path;

use serde_json::Value;

use crate::both_backends;
use crate::harness::{Backend, World};

/// Worktrees in every state: returns (name, expected status).
pub fn build_states(w: &World) -> Vec<(&'static str, &'static str)> {
    w.init_project();
    let t = w.trunk();
    for n in ["dirty", "untracked", "behind", "diverged", "detached"] {
        w.imi(&t, &["feat", n]).ok();
    }
    // dirty: a modified, a staged new and an untracked file
    w.write(&w.wt("feat-dirty").join("README.md"), "changed\n");
    w.write(&w.wt("feat-dirty").join("staged.txt"), "s\n");
    w.git(&w.wt("feat-dirty"), &["add", "staged.txt"]);
    w.write(&w.wt("feat-dirty").join("new.txt"), "n\n");
    // only untracked files (a directory counts once, as git shows it)
    w.write(&w.wt("feat-untracked").join("a.txt"), "a\n");
    std::fs::create_dir_all(w.wt("feat-untracked").join("dir")).unwrap();
    w.write(&w.wt("feat-untracked").join("dir/b.txt"), "b\n");
    // diverged: a commit here, and (below) the remote moves
    commit(w, &w.wt("feat-diverged"), "d.txt", "diverged work");
    // detached HEAD with a commit of its own
    w.git(&w.wt("feat-detached"), &["checkout", "--quiet", "--detach"]);
    commit(w, &w.wt("feat-detached"), "x.txt", "detached work");
    // the remote branch moves: someone else pushes, trunk fetches
    let seed = w.path().join("seed");
    commit(w, &seed, "upstream.txt", "upstream change");
    w.git(&seed, &["push", "--quiet", "origin", "main"]);
    w.git(&t, &["fetch", "--quiet", "origin"]);
    // created after the fetch: level with origin/main
    w.imi(&t, &["feat", "clean"]).ok();
    w.imi(&t, &["feat", "ahead"]).ok();
    commit(w, &w.wt("feat-ahead"), "a.txt", "ahead work");
    vec![
        // trunk fetched the remote's new commit without pulling it: behind its
        // remote-tracking branch (issue 11: the trunk is compared with origin/main)
        ("trunk-main", "behind"),
        ("feat-clean", "clean"),
        ("feat-dirty", "uncommitted"),
        ("feat-untracked", "uncommitted"),
        ("feat-ahead", "ahead"),
        ("feat-behind", "behind"),
        ("feat-diverged", "diverged"),
        ("feat-detached", "diverged"),
    ]
}

pub fn commit(w: &World, dir: &Path, file: &str, msg: &str) {
    w.write(&dir.join(file), &format!("{msg}\n"));
    w.git(dir, &["add", file]);
    w.git(dir, &["commit", "--quiet", "-m", msg]);
}

/// git's own answer for a worktree: (uncommitted, ahead, behind, hash, subject).
pub fn git_answer(w: &World, dir: &Path, trunk_ref: &str) -> (i64, i64, i64, String, String) {
    let porcelain = w.git(dir, &["status", "--porcelain"]);
    let dirty = porcelain.lines().filter(|l| !l.is_empty()).count() as i64;
    let counts = w.git(
        dir,
        &[
            "rev-list",
            "--left-right",
            "--count",
            &format!("HEAD...{trunk_ref}"),
        ],
    );
    let mut it = counts.split_whitespace().map(|n| n.parse::<i64>().unwrap());
    let (ahead, behind) = (it.next().unwrap(), it.next().unwrap());
    let hash = w.git(dir, &["log", "-1", "--format=%H"]);
    let subject = w.git(dir, &["log", "-1", "--format=%s"]);
    (dirty, ahead, behind, hash, subject)
}

pub fn registry_rows(w: &World, dir: &Path) -> Vec<Value> {
    let (code, doc) = w.imi_json(dir, &["list"]);
    assert_eq!(code, 0, "{doc}");
    doc["data"]["worktrees"].as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn sync_matches_git(w: &World) {
    let expected = build_states(w);
    let (code, doc) = w.imi_json(&w.trunk(), &["sync"]);
    assert_eq!(code, 0, "{doc}");
    let d = &doc["data"];
    assert_eq!(d["summary"]["synced"], 8, "{d}");
    assert_eq!(d["summary"]["missing"], 0);
    assert_eq!(d["summary"]["failed"], 0);
    let rows = registry_rows(w, &w.trunk());
    for (name, status) in &expected {
        let dir = w.wt(name);
        let r = row(&rows, name);
        // every worktree, the trunk included, is counted against origin/main
        let (dirty, ahead, behind, hash, subject) = git_answer(w, &dir, "origin/main");
        assert_eq!(r["uncommitted_files_count"], dirty, "{name}");
        assert_eq!(r["has_uncommitted_changes"], dirty > 0, "{name}");
        assert_eq!(r["ahead_of_trunk"], ahead, "{name}");
        assert_eq!(r["behind_trunk"], behind, "{name}");
        assert_eq!(r["last_commit_hash"], hash.as_str(), "{name}");
        assert_eq!(r["last_commit_message"], subject.as_str(), "{name}");
        assert!(r["last_sync_at"].is_string(), "{name}");
        let synced = d["worktrees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == *name)
            .unwrap();
        assert_eq!(synced["status"], *status, "{name}: {synced}");
    }
    // the cases the issue names, as git counts them
    assert_eq!(row(&rows, "feat-dirty")["uncommitted_files_count"], 3);
    assert_eq!(row(&rows, "feat-untracked")["uncommitted_files_count"], 2);
    assert_eq!(row(&rows, "feat-behind")["behind_trunk"], 1);
    assert_eq!(row(&rows, "feat-detached")["ahead_of_trunk"], 1);

    // status computes the same thing
    let (_, st) = w.imi_json(&w.trunk(), &["status"]);
    for r in st["data"]["worktrees"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        let want = expected.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(r["status"], want, "status of {name}");
    }

    // a second sync changes nothing
    let (_, again) = w.imi_json(&w.trunk(), &["sync"]);
    assert_eq!(again["data"]["summary"]["changed"], 0, "{again}");

    // inflight: every non-clean worktree, most recent first; stats agree
    w.write(&w.wt("feat-behind").join("late.txt"), "late\n");
    w.imi_json(&w.trunk(), &["sync"]);
    let (code, inf) = w.imi_json(&w.trunk(), &["inflight"]);
    assert_eq!(code, 0, "{inf}");
    let list = inf["data"]["inflight"].as_array().unwrap();
    let mut names: Vec<&str> = list
        .iter()
        .map(|r| r["worktree_name"].as_str().unwrap())
        .collect();
    let times: Vec<&str> = list
        .iter()
        .map(|r| r["last_activity"].as_str().unwrap())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|p| p[0] >= p[1]),
        "most recent first: {times:?}"
    );
    names.sort();
    assert_eq!(
        names,
        [
            "feat-ahead",
            "feat-behind",
            "feat-detached",
            "feat-dirty",
            "feat-diverged",
            "feat-untracked",
            "trunk-main"
        ]
    );
    assert!(
        list.iter()
            .all(|r| r["sync_age_seconds"].as_i64().unwrap() < 600)
    );
    let human = w.imi(&w.trunk(), &["inflight"]).ok();
    assert!(human.stdout.contains("SYNCED") && human.stdout.contains("ago"));
    let (_, stats) = w.imi_json(&w.trunk(), &["stats"]);
    assert_eq!(stats["data"]["stats"]["in_flight_worktrees"], 7);
    assert_eq!(stats["data"]["stats"]["active_worktrees"], 8);

    // a deleted directory is reported and stays registered
    std::fs::remove_dir_all(w.wt("feat-clean")).unwrap();
    let (code, doc) = w.imi_json(&w.trunk(), &["sync"]);
    assert_eq!(code, 0);
    assert_eq!(doc["data"]["summary"]["missing"], 1);
    assert_eq!(doc["data"]["missing"][0]["name"], "feat-clean");
    assert!(
        registry_rows(w, &w.trunk())
            .iter()
            .any(|r| r["name"] == "feat-clean")
    );
    let human = w.imi(&w.trunk(), &["sync"]).ok();
    assert!(human.stdout.contains("missing 1"), "{}", human.stdout);
    assert!(human.stdout.contains("imi prune"), "{}", human.stdout);
}

fn trunk_without_remote(w: &World) {
    let t = w.root().join("solo/trunk-main");
    std::fs::create_dir_all(&t).unwrap();
    w.git(&t, &["init", "--quiet", "-b", "main"]);
    commit(w, &t, "one.txt", "one");
    w.imi(&t, &["init"]).ok();
    w.imi(&t, &["feat", "x"]).ok();
    let x = w.root().join("solo/feat-x");
    commit(w, &x, "x.txt", "x work");
    commit(w, &t, "two.txt", "two on main");
    let (code, doc) = w.imi_json(&t, &["sync", "-p", "solo"]);
    assert_eq!(code, 0, "{doc}");
    let rows = registry_rows(w, &t);
    let (dirty, ahead, behind, hash, _) = git_answer(w, &x, "main");
    let r = row(&rows, "feat-x");
    assert_eq!((dirty, ahead, behind), (0, 1, 1));
    assert_eq!(r["ahead_of_trunk"], ahead);
    assert_eq!(r["behind_trunk"], behind);
    assert_eq!(r["last_commit_hash"], hash.as_str());
    // a trunk without a remote-tracking branch has nothing to be ahead of
    let trunk = row(&rows, "trunk-main");
    assert_eq!(
        (&trunk["ahead_of_trunk"], &trunk["behind_trunk"]),
        (&0.into(), &0.into())
    );
}

/// The trunk is compared with its remote-tracking branch: an unpushed merge makes
/// it ahead (and in flight), a fetched but unpulled change behind (every count as
/// `git rev-list --left-right --count` gives it); `imi merge`
/// without `--push` says so and how to push.
fn trunk_is_compared_with_its_remote(w: &World) {
    w.init_project();
    let t = w.trunk();
    for n in ["login", "logout"] {
        w.imi(&t, &["feat", n]).ok();
        commit(w, &w.wt(&format!("feat-{n}")), &format!("{n}.txt"), n);
    }
    let merged = w.imi(&t, &["merge", "login"]).ok();
    let (_, ahead, _, _, _) = git_answer(w, &t, "origin/main");
    assert!(ahead >= 1);
    let said = format!(
        "main is now {ahead} commit{} ahead of origin/main",
        if ahead == 1 { "" } else { "s" }
    );
    let push = format!("git -C {} push origin main", t.display());
    assert!(
        merged.stdout.contains(&said) && merged.stdout.contains(&push),
        "{}",
        merged.stdout
    );
    let (code, doc) = w.imi_json(&t, &["merge", "logout"]);
    assert_eq!(code, 0, "{doc}");
    let (_, ahead, _, _, _) = git_answer(w, &t, "origin/main");
    assert_eq!(doc["data"]["trunk_ahead_of_remote"], ahead, "{doc}");
    assert_eq!(doc["data"]["remote_ref"], "origin/main", "{doc}");

    let trunk_row = |w: &World| -> Option<Value> {
        w.imi_json(&t, &["sync"]);
        let (_, inf) = w.imi_json(&t, &["inflight"]);
        inf["data"]["inflight"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["worktree_name"] == "trunk-main")
            .cloned()
    };
    let r = trunk_row(w).expect("an unpushed trunk is in flight");
    assert_eq!(
        (r["ahead"].as_i64(), r["behind"].as_i64()),
        (Some(ahead), Some(0)),
        "{r}"
    );
    assert_eq!(r["status"], "ahead");

    // the remote moves and trunk fetches: still ahead, and behind 1, as git counts it
    let seed = w.path().join("seed");
    commit(w, &seed, "upstream.txt", "upstream change");
    w.git(&seed, &["push", "--quiet", "origin", "main"]);
    w.git(&t, &["fetch", "--quiet", "origin"]);
    let r = trunk_row(w).unwrap();
    let (_, ahead_now, behind, _, _) = git_answer(w, &t, "origin/main");
    assert_eq!((ahead_now, behind), (ahead, 1));
    assert_eq!(
        (r["ahead"].as_i64(), r["behind"].as_i64()),
        (Some(ahead), Some(1)),
        "{r}"
    );
    assert_eq!(r["status"], "diverged");
    let (_, st) = w.imi_json(&t, &["status"]);
    let live = st["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "trunk-main")
        .unwrap()
        .clone();
    assert_eq!(live["status"], "diverged", "{live}");

    // pulled and pushed: level with the remote, no longer in flight
    w.git(&t, &["merge", "--quiet", "--no-edit", "origin/main"]);
    w.git(&t, &["push", "--quiet", "origin", "main"]);
    assert_eq!(trunk_row(w), None);
}

fn register_plain_git_worktrees(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.git(
        &t,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "fix/manual",
            "../fix-manual",
        ],
    );
    w.git(
        &t,
        &["worktree", "add", "--quiet", "-b", "odd", "../odd-dir"],
    );
    let (_, doc) = w.imi_json(&t, &["sync"]);
    assert_eq!(doc["data"]["summary"]["unregistered"], 2, "{doc}");
    let (code, doc) = w.imi_json(&t, &["sync", "--register"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["summary"]["registered"], 1, "{doc}");
    assert_eq!(doc["data"]["registered"][0]["type_name"], "fix");
    assert_eq!(doc["data"]["registered"][0]["branch_name"], "fix/manual");
    assert!(
        doc["data"]["unregistered"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("--type")
    );
    let (code, doc) = w.imi_json(&t, &["sync", "--register", "--type", "devops"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["registered"][0]["name"], "odd-dir");
    assert_eq!(doc["data"]["registered"][0]["type_name"], "devops");
    assert_eq!(doc["data"]["summary"]["unregistered"], 0);
    assert_eq!(doc["data"]["summary"]["synced"], 3);
    let rows = registry_rows(w, &t);
    assert_eq!(rows.len(), 3);
}

both_backends! {
    sync_matches_git => sync_matches_git;
    trunk_without_remote => trunk_without_remote;
    trunk_is_compared_with_its_remote => trunk_is_compared_with_its_remote;
    register_plain_git_worktrees => register_plain_git_worktrees;
}

/// What sync wrote, without what differs between worlds (ids, paths, times).
fn comparable(w: &World) -> Vec<Value> {
    let mut rows: Vec<Value> = registry_rows(w, &w.trunk())
        .into_iter()
        .map(|r| {
            serde_json::json!([
                r["name"],
                r["uncommitted_files_count"],
                r["has_uncommitted_changes"],
                r["ahead_of_trunk"],
                r["behind_trunk"],
                r["last_commit_hash"],
                r["last_commit_message"],
            ])
        })
        .collect();
    rows.sort_by_key(|r| r[0].as_str().unwrap().to_string());
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_results_identical_on_both_backends() {
    let sqlite = World::new(Backend::Sqlite).await.unwrap();
    let Some(pg) = World::new(Backend::Postgres).await else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        let mut out = vec![];
        for w in [&sqlite, &pg] {
            build_states(w);
            let (code, doc) = w.imi_json(&w.trunk(), &["sync"]);
            assert_eq!(code, 0, "{doc}");
            let mut statuses: Vec<(String, String)> = doc["data"]["worktrees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["name"].as_str().unwrap().to_string(),
                        r["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            statuses.sort();
            let (_, inf) = w.imi_json(&w.trunk(), &["inflight"]);
            let mut inflight: Vec<String> = inf["data"]["inflight"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r["worktree_name"], r["status"], r["uncommitted_count"]
                    )
                })
                .collect();
            inflight.sort();
            out.push((
                comparable(w),
                statuses,
                doc["data"]["summary"].clone(),
                inflight,
            ));
        }
        assert_eq!(out[0], out[1], "sqlite vs postgres");
    })
    .await
    .unwrap();
}
