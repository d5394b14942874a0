//! A new user's journey, start to finish (the acceptance scenario), with
//! snapshots of what people and programs see. Both backends must print the same.

use crate::all_backends;
use crate::harness::World;

/// The status table's commit ages (`11mo`, after a short hash) as `[AGE]`: the
/// test commits are dated 2026-01-01, so their age grows with the calendar.
fn commit_ages(s: &str) -> String {
    let short_hash = |w: &str| w.len() == 7 && w.chars().all(|c| c.is_ascii_hexdigit());
    let age = |w: &str| {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
            && ["s", "m", "h", "d", "w", "mo", "y"].contains(&&w[digits.len()..])
    };
    s.lines()
        .map(|line| {
            let mut previous = "";
            let words: Vec<String> = line
                .split(' ')
                .map(|word| {
                    let out = if short_hash(previous) && age(word) {
                        "[AGE]".to_string()
                    } else {
                        word.to_string()
                    };
                    if !word.is_empty() {
                        previous = word;
                    }
                    out
                })
                .collect();
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn journey(w: &World) {
    w.clone_trunk();
    let init = w.imi(&w.trunk(), &["init"]).ok();
    insta::assert_snapshot!("init_human", w.normalize(&init.stdout));
    // idempotent
    let again = w.imi(&w.trunk(), &["init"]).ok();
    assert_eq!(init.stdout, again.stdout);

    let feat = w.imi(&w.trunk(), &["feat", "login"]).ok();
    assert_eq!(feat.stdout.trim(), w.wt("feat-login").to_str().unwrap());
    let fix = w.imi(&w.trunk(), &["fix", "crash"]).ok();
    assert_eq!(fix.stdout.trim(), w.wt("fix-crash").to_str().unwrap());
    // running add again prints the same path
    assert_eq!(
        w.imi(&w.trunk(), &["feat", "login"]).ok().stdout,
        feat.stdout
    );

    // commit in one, leave the other dirty
    w.write(&w.wt("feat-login").join("login.rs"), "fn login() {}\n");
    w.git(&w.wt("feat-login"), &["add", "login.rs"]);
    w.git(
        &w.wt("feat-login"),
        &["commit", "--quiet", "-m", "add login"],
    );
    w.write(&w.wt("fix-crash").join("scratch.txt"), "wip\n");

    // status from inside a worktree's subdirectory finds the project
    let sub = w.wt("fix-crash").join("nested");
    std::fs::create_dir_all(&sub).unwrap();
    w.write(&sub.join("notes.md"), "notes\n");
    let status = w.imi(&sub, &["status"]).ok();
    insta::assert_snapshot!("status_human", commit_ages(&w.normalize(&status.stdout)));
    let (_, doc) = w.imi_json(&w.trunk(), &["status"]);
    let rows = doc["data"]["worktrees"].as_array().unwrap();
    let by_name = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap().clone();
    assert_eq!(by_name("feat-login")["ahead_of_trunk"], 1);
    assert_eq!(by_name("feat-login")["status"], "ahead");
    assert_eq!(
        by_name("fix-crash")["uncommitted_files_count"],
        2,
        "scratch.txt and nested/ (untracked)"
    );
    assert_eq!(by_name("fix-crash")["status"], "uncommitted");

    // merge the first
    let merged = w.imi(&w.trunk(), &["merge", "feat-login"]).ok();
    assert!(
        merged.stdout.starts_with("Merged feat/login into main"),
        "{}",
        merged.stdout
    );
    assert!(!w.wt("feat-login").exists());
    assert!(w.trunk().join("login.rs").exists());
    assert_eq!(w.git(&w.trunk(), &["branch", "--list", "feat/login"]), "");
    let (_, doc) = w.imi_json(&w.trunk(), &["list", "--all"]);
    let feat_row = doc["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "feat-login")
        .unwrap()
        .clone();
    assert!(feat_row["merged_at"].is_string());
    assert_eq!(feat_row["merged_by"], "tester");
    assert_eq!(
        feat_row["merge_commit_hash"].as_str().unwrap(),
        w.git(&w.trunk(), &["rev-parse", "HEAD"])
    );
    assert_eq!(feat_row["active"], false);

    // remove refuses the dirty one, and the work is still there
    let refused = w.imi(&w.trunk(), &["remove", "fix-crash"]);
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("remove_dirty_refused", w.normalize(&refused.stderr));
    assert_eq!(
        std::fs::read_to_string(w.wt("fix-crash").join("scratch.txt")).unwrap(),
        "wip\n"
    );
    // --force removes it
    let forced = w.imi(&w.trunk(), &["remove", "fix-crash", "--force"]).ok();
    assert!(!w.wt("fix-crash").exists(), "{}", forced.stdout);

    let list = w.imi(&w.trunk(), &["list"]).ok();
    insta::assert_snapshot!("list_after_journey", w.normalize(&list.stdout));
    let (code, doc) = w.imi_json(&w.trunk(), &["list"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(
        "list_after_journey_json",
        w.normalize(&serde_json::to_string_pretty(&strip_times(doc)).unwrap())
    );
    let log = w.imi_json(&w.trunk(), &["log"]).1;
    let kinds: Vec<&str> = log["data"]["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["activity_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["removed", "removed", "merged", "created", "created"]
    );
}

/// Timestamps differ run to run: keep the keys, drop the values.
fn strip_times(mut v: serde_json::Value) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.ends_with("_at") && x.is_string() {
                        *x = serde_json::Value::String("[TIME]".into());
                    } else {
                        walk(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

fn project_found_from_anywhere_and_by_p(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "x"]).ok();
    let trunk = w.trunk().to_string_lossy().into_owned();
    // from a worktree
    assert_eq!(w.imi(&w.wt("feat-x"), &["trunk"]).ok().stdout.trim(), trunk);
    // from outside, with -p as name, remote (another form) and UUID
    let (_, doc) = w.imi_json(w.path(), &["-p", "app", "list"]);
    let id = doc["data"]["project"]["id"].as_str().unwrap().to_string();
    let origin = format!("file://{}/", w.origin().display());
    for spec in ["app", origin.as_str(), id.as_str()] {
        let r = w.imi(w.path(), &["-p", spec, "trunk"]).ok();
        assert_eq!(r.stdout.trim(), trunk, "-p {spec}");
    }
    // outside any project, status covers every project and names each one
    let all = w.imi(w.path(), &["status"]).ok();
    assert!(
        all.stdout.starts_with("PROJECT  WORKTREE"),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout.lines().any(|l| l.starts_with("app      feat-x")),
        "{}",
        all.stdout
    );
    let r = w.imi(w.path(), &["trunk"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

all_backends! {
    new_user_journey => journey;
    project_is_found_from_any_directory_and_by_p => project_found_from_anywhere_and_by_p;
}

/// `imi ... | head` is not an error: a closed pipe ends the output quietly.
#[test]
fn a_closed_pipe_is_not_an_error() {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_imi");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; for i in 1 2 3; do '{bin}' types list; done | head -c 1 >/dev/null"
        ))
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no error printed");
}
