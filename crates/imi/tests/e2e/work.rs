//! Issue 8, rules 1-3: one lock discipline, what counts as work, registry and disk
//! change together. Each test asserts that the work survives (the commit is on a
//! ref, the file has its content, the trunk is clean) and that the registry agrees
//! with git afterwards.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::both_backends;
use crate::harness::World;

fn commit_file(w: &World, dir: &Path, file: &str, content: &str, msg: &str) -> String {
    w.write(&dir.join(file), content);
    w.git(dir, &["add", file]);
    w.git(dir, &["commit", "--quiet", "-m", msg]);
    w.git(dir, &["rev-parse", "HEAD"])
}

/// Active worktrees the registry lists for this project, as (name, path).
fn registry_worktrees(w: &World) -> BTreeSet<String> {
    let (code, doc) = w.imi_json(&w.trunk(), &["list"]);
    assert_eq!(code, 0, "{doc}");
    let list = doc["data"]["worktrees"]
        .as_array()
        .or_else(|| doc["data"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("no worktree list in {doc}"));
    list.iter()
        .filter(|x| x["active"].as_bool().unwrap_or(true))
        .map(|x| x["path"].as_str().unwrap().to_string())
        .collect()
}

/// What `git worktree list` says, as paths.
fn git_worktrees(w: &World) -> BTreeSet<String> {
    w.git(&w.trunk(), &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(str::to_string)
        .collect()
}

/// Is trunk in the middle of a merge (someone's MERGE_HEAD)?
pub fn merge_in_progress(w: &World) -> bool {
    !std::process::Command::new("git")
        .args([
            "-C",
            w.trunk().to_str().unwrap(),
            "rev-parse",
            "-q",
            "--verify",
            "MERGE_HEAD",
        ])
        .output()
        .unwrap()
        .stdout
        .is_empty()
}

pub fn assert_registry_matches_git(w: &World) {
    assert_eq!(registry_worktrees(w), git_worktrees(w), "registry == git");
}

fn doctor_ok(w: &World) {
    let (code, doc) = w.imi_json(&w.trunk(), &["doctor"]);
    assert_eq!(code, 0, "doctor: {doc}");
}

fn detach_with_commit(w: &World, name: &str) -> String {
    let dir = w.wt(name);
    w.git(&dir, &["switch", "--quiet", "--detach"]);
    // distinct content: with the fixed test dates equal commits would be one commit
    commit_file(
        w,
        &dir,
        "detached.txt",
        "precious\n",
        &format!("{name} on no branch"),
    )
}

fn detached_commits_need_force_and_are_rescued(w: &World) {
    w.init_project();
    for n in ["feat-a", "feat-b", "feat-c"] {
        w.imi(&w.trunk(), &["feat", &n[5..]]).ok();
    }
    let a = detach_with_commit(w, "feat-a");
    let b = detach_with_commit(w, "feat-b");
    let c = detach_with_commit(w, "feat-c");
    for (cmd, name) in [
        ("remove", "feat-a"),
        ("close", "feat-b"),
        ("merge", "feat-c"),
    ] {
        let (code, doc) = w.imi_json(&w.trunk(), &[cmd, name]);
        assert_eq!(code, 1, "{cmd}: {doc}");
        assert_eq!(doc["error"]["code"], "UNSAFE", "{cmd}: {doc}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("commit(s) on no branch"),
            "{doc}"
        );
        assert!(w.wt(name).join("detached.txt").exists(), "{cmd} kept it");
    }
    // --force keeps the commits on a rescue ref and says so
    let (code, doc) = w.imi_json(&w.trunk(), &["remove", "feat-a", "--force"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["rescued_ref"], "refs/imi/rescued/feat-a");
    assert_eq!(
        w.git(&w.trunk(), &["rev-parse", "refs/imi/rescued/feat-a"]),
        a
    );
    let r = w.imi(&w.trunk(), &["close", "feat-b", "--force"]).ok();
    assert!(r.stdout.contains("refs/imi/rescued/feat-b"), "{}", r.stdout);
    assert_eq!(
        w.git(&w.trunk(), &["rev-parse", "refs/imi/rescued/feat-b"]),
        b
    );
    assert_eq!(
        w.git(&w.trunk(), &["show", &format!("{b}:detached.txt")]),
        "precious"
    );
    // merge has no --force: the detached one stays until put on its branch
    assert_eq!(w.git(&w.wt("feat-c"), &["rev-parse", "HEAD"]), c);
    assert_registry_matches_git(w);
    doctor_ok(w);
}

fn prune_force_keeps_a_stray_with_detached_commits(w: &World) {
    w.init_project();
    // a stray: a git worktree the registry does not know, detached with a commit
    let stray = w.wt("feat-stray");
    w.git(
        &w.trunk(),
        &[
            "worktree",
            "add",
            "--quiet",
            "--detach",
            stray.to_str().unwrap(),
        ],
    );
    let c = commit_file(w, &stray, "s.txt", "stray work\n", "stray");
    let (code, doc) = w.imi_json(&w.trunk(), &["prune", "--force"]);
    assert_eq!(code, 0, "{doc}");
    let strays = doc["data"]["strays"].as_array().unwrap();
    assert_eq!(strays.len(), 1, "{doc}");
    assert_eq!(strays[0]["action"], "kept", "{doc}");
    assert!(
        strays[0]["reason"]
            .as_str()
            .unwrap()
            .contains("on no branch"),
        "{doc}"
    );
    assert_eq!(w.git(&stray, &["rev-parse", "HEAD"]), c);
    assert_eq!(
        std::fs::read_to_string(stray.join("s.txt")).unwrap(),
        "stray work\n"
    );
}

fn merge_refuses_to_overwrite_an_ignored_file_in_trunk(w: &World) {
    w.init_project();
    commit_file(w, &w.trunk(), ".gitignore", "config.local\n", "ignore");
    w.git(&w.trunk(), &["push", "--quiet", "origin", "main"]);
    w.imi(&w.trunk(), &["feat", "cfg"]).ok();
    // the branch force-adds a file trunk ignores
    let dir = w.wt("feat-cfg");
    w.write(&dir.join("config.local"), "from branch\n");
    w.git(&dir, &["add", "-f", "config.local"]);
    w.git(&dir, &["commit", "--quiet", "-m", "add"]);
    let tip = w.git(&dir, &["rev-parse", "HEAD"]);
    w.write(&w.trunk().join("config.local"), "my secret settings\n");
    let before = w.git(&w.trunk(), &["rev-parse", "HEAD"]);
    for mode in [&[][..], &["--squash"][..]] {
        let mut args = vec!["merge", "feat-cfg"];
        args.extend_from_slice(mode);
        let (code, doc) = w.imi_json(&w.trunk(), &args);
        assert_eq!(code, 1, "{doc}");
        assert_eq!(doc["error"]["code"], "UNSAFE", "{doc}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("config.local"),
            "{doc}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(w.trunk().join("config.local")).unwrap(),
        "my secret settings\n"
    );
    assert_eq!(
        w.git(&w.trunk(), &["rev-parse", "HEAD"]),
        before,
        "trunk unchanged"
    );
    assert_eq!(
        w.git(&w.trunk(), &["status", "--porcelain"]),
        "",
        "trunk clean"
    );
    assert_eq!(
        w.git(&w.trunk(), &["rev-parse", "feat/cfg"]),
        tip,
        "branch untouched"
    );
    assert!(w.wt("feat-cfg").is_dir());
    assert_registry_matches_git(w);
    doctor_ok(w);
}

fn remove_keeps_stashes(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "st"]).ok();
    w.write(&w.wt("feat-st").join("README.md"), "stashed edit\n");
    w.git(&w.wt("feat-st"), &["stash", "--quiet"]);
    w.imi(&w.trunk(), &["remove", "feat-st"]).ok();
    assert_eq!(
        w.git(&w.trunk(), &["show", "stash@{0}:README.md"]),
        "stashed edit"
    );
}

fn twenty_parallel_adds_of_one_name_all_print_its_path(w: &World) {
    w.init_project();
    let children: Vec<_> = (0..20)
        .map(|_| {
            w.cmd(&w.trunk(), &["--json", "feat", "same"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut paths = BTreeSet::new();
    let mut created = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["success"], true, "{doc}");
        paths.insert(doc["data"]["path"].as_str().unwrap().to_string());
        created += usize::from(doc["data"]["created"] == true);
    }
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert_eq!(created, 1, "exactly one created it");
    assert_registry_matches_git(w);
}

/// 10 worktrees merged at once into one trunk, `rounds` times: every merge lands
/// with its work in trunk, or is refused with its worktree and branch untouched.
fn merge_storm(w: &World, squash: bool, rounds: usize) {
    w.init_project();
    for round in 0..rounds {
        let mut tips = vec![];
        for i in 0..10 {
            let name = format!("r{round}-{i}");
            w.imi(&w.trunk(), &["feat", &name, "--no-fetch"]).ok();
            let dir = w.wt(&format!("feat-{name}"));
            // every third one conflicts with its neighbour on one shared file
            let (file, content) = if i % 3 == 0 {
                ("shared.txt".to_string(), format!("{name}\n"))
            } else {
                (format!("{name}.txt"), format!("work of {name}\n"))
            };
            let tip = commit_file(w, &dir, &file, &content, &name);
            tips.push((name, dir, file, content, tip));
        }
        let children: Vec<_> = tips
            .iter()
            .map(|(name, ..)| {
                let mut args = vec!["--json".to_string(), "merge".into(), format!("feat-{name}")];
                if squash {
                    args.push("--squash".into());
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                w.cmd(&w.trunk(), &args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (c, (name, dir, file, content, tip)) in children.into_iter().zip(&tips) {
            let out = c.wait_with_output().unwrap();
            let doc: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
            let branch = format!("feat/{name}");
            if doc["success"] == true {
                // landed: the work is in trunk, the worktree and branch are gone
                let commit = doc["data"]["merge_commit"].as_str().unwrap();
                assert!(
                    w.git(&w.trunk(), &["merge-base", "--is-ancestor", commit, "HEAD"])
                        .is_empty()
                );
                assert_eq!(
                    w.git(&w.trunk(), &["show", &format!("{commit}:{file}")]),
                    content.trim_end(),
                    "{name}: its work is in the merge commit"
                );
                if !squash {
                    w.git(&w.trunk(), &["merge-base", "--is-ancestor", tip, "HEAD"]);
                }
                assert!(!dir.exists(), "{name}: worktree removed");
                assert_eq!(w.git(&w.trunk(), &["branch", "--list", &branch]), "");
            } else {
                assert_eq!(doc["error"]["code"], "CONFLICT", "{name}: {doc}");
                let msg = doc["error"]["message"].as_str().unwrap();
                assert!(msg.contains(file.as_str()), "{name}: names the file: {msg}");
                assert_eq!(
                    w.git(&w.trunk(), &["rev-parse", &branch]),
                    *tip,
                    "branch untouched"
                );
                assert_eq!(
                    w.git(dir, &["status", "--porcelain"]),
                    "",
                    "worktree untouched"
                );
                assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), *content);
                // take it away for the next round (its branch stays)
                w.imi(&w.trunk(), &["close", &format!("feat-{name}")]).ok();
            }
        }
        assert_eq!(
            w.git(&w.trunk(), &["status", "--porcelain"]),
            "",
            "trunk clean"
        );
        assert!(!merge_in_progress(w), "no merge left in progress");
        assert_registry_matches_git(w);
    }
    doctor_ok(w);
}

fn ten_concurrent_squash_merges_5_rounds(w: &World) {
    merge_storm(w, true, 5);
}

fn ten_concurrent_merge_commits_5_rounds(w: &World) {
    merge_storm(w, false, 5);
}

fn merge_push_failure_still_finishes_the_merge(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "p"]).ok();
    commit_file(w, &w.wt("feat-p"), "p.txt", "p\n", "p");
    // origin refuses every push
    let hook = w.origin().join("hooks/pre-receive");
    w.write(&hook, "#!/bin/sh\necho refused by policy >&2\nexit 1\n");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, doc) = w.imi_json(&w.trunk(), &["merge", "feat-p", "--push"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["error"]["code"], "GIT_ERROR", "{doc}");
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains("pushing main failed"), "{msg}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("push origin main"),
        "{doc}"
    );
    // the merge itself is complete and recorded; nothing is half-done
    assert_eq!(w.git(&w.trunk(), &["show", "HEAD:p.txt"]), "p");
    assert!(!w.wt("feat-p").exists());
    let (_, all) = w.imi_json(&w.trunk(), &["list", "--all"]);
    let row = all["data"]["worktrees"]
        .as_array()
        .or_else(|| all["data"].as_array())
        .unwrap()
        .iter()
        .find(|x| x["name"] == "feat-p")
        .cloned()
        .unwrap();
    assert!(row["merged_at"].is_string(), "{row}");
    assert_registry_matches_git(w);
    doctor_ok(w);
    // and once origin accepts, the push the hint names works
    std::fs::remove_file(&hook).unwrap();
    w.git(&w.trunk(), &["push", "--quiet", "origin", "main"]);
}

fn init_after_a_remote_change_leaves_no_second_project(w: &World) {
    w.init_project();
    let (_, before) = w.imi_json(&w.trunk(), &["list", "--projects"]);
    let other = w.path().join("remotes/other.git");
    w.git(
        w.path(),
        &["init", "--quiet", "--bare", other.to_str().unwrap()],
    );
    w.git(
        &w.trunk(),
        &["remote", "set-url", "origin", other.to_str().unwrap()],
    );
    let (code, doc) = w.imi_json(&w.trunk(), &["init"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["error"]["code"], "CONFLICT", "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    let (_, after) = w.imi_json(&w.trunk(), &["list", "--projects"]);
    assert_eq!(before["data"], after["data"], "no second project");
}

fn parallel_init_of_one_url_leaves_one_clone(w: &World) {
    let url = w.origin().to_string_lossy().into_owned();
    let children: Vec<_> = (0..10)
        .map(|_| {
            w.cmd(w.path(), &["--json", "init", &url])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["success"], true, "{doc}");
        ids.insert(doc["data"]["project"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "one project");
    let left: Vec<_> = std::fs::read_dir(w.root().join("app"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".imi-clone"))
        .collect();
    assert!(left.is_empty(), "extra clones left: {left:?}");
}

fn review_while_offline_is_a_git_error(w: &World) {
    w.init_project();
    w.git(
        &w.trunk(),
        &["remote", "set-url", "origin", "/nonexistent/offline.git"],
    );
    let (code, doc) = w.imi_json(&w.trunk(), &["review", "7"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["error"]["code"], "GIT_ERROR", "{doc}");
}

fn init_yes_hint_names_the_real_problem(w: &World) {
    // a repository outside the layout, whose target directory cannot be written
    let repo = w.path().join("elsewhere/app");
    std::fs::create_dir_all(&repo).unwrap();
    w.git(&repo, &["init", "--quiet", "-b", "main"]);
    commit_file(w, &repo, "a", "a\n", "a");
    // the root is a file: the move cannot happen, and it is not a file-system matter
    std::fs::create_dir_all(w.root().parent().unwrap()).unwrap();
    w.write(&w.root(), "not a directory\n");
    let (code, doc) = w.imi_json(&repo, &["init", "--yes"]);
    assert_eq!(code, 1, "{doc}");
    let hint = doc["error"]["hint"].as_str().unwrap_or_default();
    assert!(!hint.contains("same file system"), "{doc}");
    assert!(repo.join("a").exists(), "nothing moved");
}

/// The command failed, its message names `message` and its hint `hint`.
#[track_caller]
fn failed_with(code: i32, doc: &Value, message: &str, hint: &str) {
    assert_eq!(code, 1, "{doc}");
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains(message), "{msg}");
    let h = doc["error"]["hint"].as_str().unwrap();
    assert!(h.contains(hint), "{doc}");
}

/// Runs SQL on the test's registry with the database's own client.
fn sql(w: &World, stmt: &str) {
    let out = match &w.pg {
        Some(pg) => std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &pg.url, "-c", stmt])
            .output()
            .unwrap(),
        None => std::process::Command::new("sqlite3")
            .arg(w.path().join(".local/share/imi/registry.db"))
            .arg(stmt)
            .output()
            .unwrap(),
    };
    assert!(
        out.status.success(),
        "{stmt}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes every deactivation of a worktree fail, as a registry that goes away
/// between two steps would.
fn break_deactivation(w: &World) {
    if w.pg.is_some() {
        sql(
            w,
            "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected registry failure'; END $$;
             CREATE TRIGGER test_fail BEFORE UPDATE ON worktrees FOR EACH ROW WHEN (OLD.active AND NOT NEW.active) EXECUTE FUNCTION test_fail();",
        );
    } else {
        sql(
            w,
            "CREATE TRIGGER test_fail BEFORE UPDATE OF active ON worktrees WHEN OLD.active = 1 AND NEW.active = 0 BEGIN SELECT RAISE(ABORT, 'injected registry failure'); END;",
        );
    }
}

fn mend_registry(w: &World) {
    if w.pg.is_some() {
        sql(
            w,
            "DROP TRIGGER test_fail ON worktrees; DROP FUNCTION test_fail();",
        );
    } else {
        sql(w, "DROP TRIGGER test_fail;");
    }
}

fn registry_failure_after_the_disk_step_says_what_is_left(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "gone"]).ok();
    w.imi(&w.trunk(), &["feat", "merged"]).ok();
    let tip = commit_file(w, &w.wt("feat-merged"), "m.txt", "m\n", "m");
    break_deactivation(w);
    // remove: the directory goes, the registry refuses: the error says so and how
    let (code, doc) = w.imi_json(&w.trunk(), &["remove", "feat-gone"]);
    failed_with(code, &doc, "removed feat-gone from disk", "imi recover");
    // merge: trunk has the work; the record fails; the worktree is kept until recover
    let (code, doc) = w.imi_json(&w.trunk(), &["merge", "feat-merged"]);
    failed_with(code, &doc, "merged feat/merged into main", "imi recover");
    w.git(&w.trunk(), &["merge-base", "--is-ancestor", &tip, "HEAD"]);
    // doctor names both interrupted operations and the fix
    let (code, doc) = w.imi_json(&w.trunk(), &["doctor"]);
    assert_eq!(code, 1, "{doc}");
    let interrupted = doc["data"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "interrupted")
        .count();
    assert_eq!(interrupted, 2, "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("imi recover"),
        "{doc}"
    );
    // the registry comes back; recover finishes both; everything agrees
    mend_registry(w);
    let (code, doc) = w.imi_json(&w.trunk(), &["recover"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        doc["data"]["operations"].as_array().unwrap().len(),
        2,
        "{doc}"
    );
    assert!(!w.wt("feat-gone").exists() && !w.wt("feat-merged").exists());
    assert_eq!(w.git(&w.trunk(), &["branch", "--list", "feat/merged"]), "");
    let (_, all) = w.imi_json(&w.trunk(), &["list", "--all"]);
    let merged = all["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "feat-merged")
        .cloned()
        .unwrap();
    assert!(
        merged["merged_at"].is_string(),
        "the merge record is kept: {merged}"
    );
    assert_registry_matches_git(w);
    doctor_ok(w);
}

fn add_undone_when_the_registry_fails_leaves_no_row(w: &World) {
    w.init_project();
    // registering works, logging the activity fails: the add must undo both
    if w.pg.is_some() {
        sql(
            w,
            "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected registry failure'; END $$;
             CREATE TRIGGER test_fail BEFORE INSERT ON agent_activities FOR EACH ROW EXECUTE FUNCTION test_fail();",
        );
    } else {
        sql(
            w,
            "CREATE TRIGGER test_fail BEFORE INSERT ON agent_activities BEGIN SELECT RAISE(ABORT, 'injected registry failure'); END;",
        );
    }
    let (code, doc) = w.imi_json(&w.trunk(), &["feat", "half"]);
    assert_eq!(code, 1, "{doc}");
    assert!(!w.wt("feat-half").exists(), "disk undone");
    assert_eq!(
        w.git(&w.trunk(), &["branch", "--list", "feat/half"]),
        "",
        "branch undone"
    );
    assert_registry_matches_git(w);
    if w.pg.is_some() {
        sql(
            w,
            "DROP TRIGGER test_fail ON agent_activities; DROP FUNCTION test_fail();",
        );
    } else {
        sql(w, "DROP TRIGGER test_fail;");
    }
    doctor_ok(w);
    w.imi(&w.trunk(), &["feat", "half"]).ok();
    assert_registry_matches_git(w);
}

fn init_in_a_linked_worktree_never_moves_the_main_one(w: &World) {
    // a repository outside the layout, with a linked worktree beside it
    let main = w.path().join("elsewhere/app");
    std::fs::create_dir_all(&main).unwrap();
    w.git(&main, &["init", "--quiet", "-b", "main"]);
    commit_file(w, &main, "a", "a\n", "a");
    let linked = w.path().join("elsewhere/linked");
    w.git(
        &main,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "x",
            linked.to_str().unwrap(),
        ],
    );
    let (code, doc) = w.imi_json(&linked, &["init", "--yes"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["error"]["code"], "UNSAFE", "{doc}");
    assert!(
        main.join("a").exists(),
        "the main worktree stays where it is"
    );
    assert!(!w.root().exists() || std::fs::read_dir(w.root()).unwrap().next().is_none());
}

/// `git worktree add` killed after it made its admin directory but before it wrote
/// `commondir`: even `git worktree list` fails. The add's intent record is there;
/// doctor names it and `imi recover` takes the half-made worktree away.
fn recover_discards_a_worktree_add_killed_half_way(w: &World) {
    w.init_project();
    let path = w.wt("feat-z");
    let admin = w.trunk().join(".git/worktrees/feat-z");
    std::fs::create_dir_all(&admin).unwrap();
    std::fs::create_dir_all(&path).unwrap();
    w.write(&admin.join("locked"), "initializing\n");
    w.write(
        &admin.join("gitdir"),
        &format!("{}\n", path.join(".git").display()),
    );
    w.write(&admin.join("commondir"), "");
    let listed = std::process::Command::new("git")
        .args(["-C", w.trunk().to_str().unwrap(), "worktree", "list"])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "git cannot list it either");
    let (_, projects) = w.imi_json(&w.trunk(), &["list", "--projects"]);
    let project = &projects["data"]["projects"][0];
    let id = uuid::Uuid::new_v4();
    let record = serde_json::json!({
        "id": id, "op": "add", "pid": 1, "started_at": "2026-01-01T00:00:00Z",
        "agent_id": "tester", "project_id": project["id"], "project_name": "app",
        "trunk_path": project["trunk_path"], "worktree": "feat-z", "type_name": "feat",
        "worktree_id": null, "path": path, "branch": "feat/z",
    });
    let ops = w.trunk().join(".git/imi/ops");
    std::fs::create_dir_all(&ops).unwrap();
    w.write(&ops.join(format!("{id}.json")), &record.to_string());
    let (code, doc) = w.imi_json(&w.trunk(), &["doctor"]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .starts_with("imi recover"),
        "{doc}"
    );
    let (code, doc) = w.imi_json(&w.trunk(), &["recover"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["operations"][0]["outcome"], "undone", "{doc}");
    assert!(!path.exists() && !admin.exists());
    assert_registry_matches_git(w);
    doctor_ok(w);
    // and the add works now
    w.imi(&w.trunk(), &["feat", "z"]).ok();
    assert_registry_matches_git(w);
}

/// `imi init URL` that cannot clone leaves no empty directories behind: neither
/// the project's directory nor a root it had to create; a root that was there stays.
fn failed_init_leaves_no_empty_directories(w: &World) {
    let nope = w.path().join("remotes/nope.git");
    assert!(!w.root().exists());
    let r = w.imi(w.path(), &["init", nope.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(!w.root().exists(), "{} was left behind", w.root().display());
    std::fs::create_dir_all(w.root()).unwrap();
    let r = w.imi(w.path(), &["init", nope.to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(w.root().is_dir(), "the user's root stays");
    assert!(
        !w.root().join("nope").exists(),
        "the project directory was left behind"
    );
}

/// The shell stays in the directory of a worktree that `imi remove` deleted:
/// commands run from there still find the project (from the shell's `$PWD`).
fn commands_work_from_a_deleted_worktree_directory(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "gone"]).ok();
    let mut bash = Command::new("bash");
    for (k, v) in w.cmd(&t, &[]).get_envs() {
        match v {
            Some(v) => bash.env(k, v),
            None => bash.env_remove(k),
        };
    }
    let out = bash
        .current_dir(w.path())
        .env("IMI", env!("CARGO_BIN_EXE_imi"))
        .args([
            "-c",
            r#"cd "$1" && "$IMI" remove gone >/dev/null && [ ! -d "$1" ] && "$IMI" trunk && "$IMI" list --json && "$IMI" path feat-other"#,
            "bash",
            w.wt("feat-gone").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(t.to_str().unwrap()));
    let list: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let names: Vec<&str> = list["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trunk-main"]);
    assert_eq!(lines.next(), w.wt("feat-other").to_str());
}

both_backends! {
    commands_work_from_a_deleted_worktree_directory => commands_work_from_a_deleted_worktree_directory;
    failed_init_leaves_no_empty_directories => failed_init_leaves_no_empty_directories;
    recover_discards_a_worktree_add_killed_half_way => recover_discards_a_worktree_add_killed_half_way;
    init_in_a_linked_worktree_never_moves_the_main_one => init_in_a_linked_worktree_never_moves_the_main_one;
    detached_commits_need_force_and_are_rescued => detached_commits_need_force_and_are_rescued;
    prune_force_keeps_a_stray_with_detached_commits => prune_force_keeps_a_stray_with_detached_commits;
    merge_refuses_to_overwrite_an_ignored_file_in_trunk => merge_refuses_to_overwrite_an_ignored_file_in_trunk;
    remove_keeps_stashes => remove_keeps_stashes;
    merge_push_failure_still_finishes_the_merge => merge_push_failure_still_finishes_the_merge;
    init_after_a_remote_change_leaves_no_second_project => init_after_a_remote_change_leaves_no_second_project;
    review_while_offline_is_a_git_error => review_while_offline_is_a_git_error;
    init_yes_hint_names_the_real_problem => init_yes_hint_names_the_real_problem;

    registry_failure_after_the_disk_step_says_what_is_left => registry_failure_after_the_disk_step_says_what_is_left;
    add_undone_when_the_registry_fails_leaves_no_row => add_undone_when_the_registry_fails_leaves_no_row;
}

/// The concurrency tests also run through a transaction-pooling PgBouncer.
mod pooled {
    use super::*;
    use crate::all_backends;
    all_backends! {
        twenty_parallel_adds_of_one_name_all_print_its_path => twenty_parallel_adds_of_one_name_all_print_its_path;
        ten_concurrent_squash_merges_5_rounds => ten_concurrent_squash_merges_5_rounds;
        ten_concurrent_merge_commits_5_rounds => ten_concurrent_merge_commits_5_rounds;
        parallel_init_of_one_url_leaves_one_clone => parallel_init_of_one_url_leaves_one_clone;
    }
}
