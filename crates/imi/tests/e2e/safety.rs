//! SPEC §9: every refusal leaves the user's work exactly where it was.

use crate::both_backends;
use crate::harness::World;

fn head(w: &World, dir: &std::path::Path) -> String {
    w.git(dir, &["rev-parse", "HEAD"])
}

fn remove_refuses_unmerged_branch(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "work"]).ok();
    w.write(&w.wt("feat-work").join("a.txt"), "a\n");
    w.git(&w.wt("feat-work"), &["add", "a.txt"]);
    w.git(&w.wt("feat-work"), &["commit", "--quiet", "-m", "work"]);
    let tip = head(w, &w.wt("feat-work"));
    let (code, doc) = w.imi_json(&w.trunk(), &["remove", "feat-work"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "UNSAFE");
    assert!(doc["error"]["hint"].as_str().unwrap().contains("--force"));
    assert!(
        w.wt("feat-work").join("a.txt").exists(),
        "worktree still there"
    );
    // --force removes the worktree but never the unmerged branch
    let r = w.imi(&w.trunk(), &["remove", "feat-work", "--force"]).ok();
    assert!(
        r.stdout.contains("kept unmerged branch feat/work"),
        "{}",
        r.stdout
    );
    assert_eq!(
        w.git(&w.trunk(), &["rev-parse", "feat/work"]),
        tip,
        "the commits survive"
    );
}

fn close_keeps_branch_and_refuses_dirty(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["fix", "bug"]).ok();
    w.write(&w.wt("fix-bug").join("edit.txt"), "edit\n");
    let r = w.imi(&w.trunk(), &["close", "fix-bug"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("uncommitted"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(w.wt("fix-bug").join("edit.txt")).unwrap(),
        "edit\n"
    );
    std::fs::remove_file(w.wt("fix-bug").join("edit.txt")).unwrap();
    w.imi(&w.trunk(), &["close", "fix-bug"]).ok();
    assert!(!w.wt("fix-bug").exists());
    assert_eq!(
        w.git(&w.trunk(), &["branch", "--list", "fix/bug"]).trim(),
        "fix/bug"
    );
}

fn merge_refuses_dirty_sides(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "m"]).ok();
    w.write(&w.wt("feat-m").join("f.txt"), "f\n");
    w.git(&w.wt("feat-m"), &["add", "f.txt"]);
    w.git(&w.wt("feat-m"), &["commit", "--quiet", "-m", "f"]);
    // dirty worktree
    w.write(&w.wt("feat-m").join("dirty.txt"), "d\n");
    let (code, doc) = w.imi_json(&w.trunk(), &["merge", "feat-m"]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("UNSAFE")));
    assert!(w.wt("feat-m").join("dirty.txt").exists());
    std::fs::remove_file(w.wt("feat-m").join("dirty.txt")).unwrap();
    // dirty trunk
    let trunk_head = head(w, &w.trunk());
    w.write(&w.trunk().join("README.md"), "changed in trunk\n");
    let (code, doc) = w.imi_json(&w.trunk(), &["merge", "feat-m"]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("UNSAFE")));
    assert_eq!(
        std::fs::read_to_string(w.trunk().join("README.md")).unwrap(),
        "changed in trunk\n"
    );
    assert_eq!(head(w, &w.trunk()), trunk_head);
    assert!(w.wt("feat-m").exists());
}

fn conflicted_merge_restores_both_sides(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["feat", "c"]).ok();
    w.write(&w.wt("feat-c").join("README.md"), "branch side\n");
    w.git(&w.wt("feat-c"), &["commit", "--quiet", "-am", "branch"]);
    w.write(&w.trunk().join("README.md"), "trunk side\n");
    w.git(&w.trunk(), &["commit", "--quiet", "-am", "trunk"]);
    let (t, b) = (head(w, &w.trunk()), head(w, &w.wt("feat-c")));
    let (code, doc) = w.imi_json(&w.trunk(), &["merge", "feat-c"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "CONFLICT");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("README.md"),
        "{doc}"
    );
    assert_eq!(head(w, &w.trunk()), t);
    assert_eq!(head(w, &w.wt("feat-c")), b);
    assert_eq!(
        w.git(&w.trunk(), &["status", "--porcelain"]),
        "",
        "trunk clean again"
    );
    assert_eq!(
        std::fs::read_to_string(w.trunk().join("README.md")).unwrap(),
        "trunk side\n"
    );
    let (_, doc) = w.imi_json(&w.trunk(), &["list"]);
    let row = doc["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "feat-c")
        .unwrap()
        .clone();
    assert_eq!(row["active"], true);
    assert!(row["merged_at"].is_null(), "no merge recorded");
}

fn existing_directory_leaves_no_row(w: &World) {
    w.init_project();
    std::fs::create_dir_all(w.wt("feat-taken")).unwrap();
    w.write(&w.wt("feat-taken").join("mine.txt"), "not a worktree\n");
    let (code, doc) = w.imi_json(&w.trunk(), &["feat", "taken"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "CONFLICT");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("move that directory away"),
        "{doc}"
    );
    assert_eq!(
        std::fs::read_to_string(w.wt("feat-taken").join("mine.txt")).unwrap(),
        "not a worktree\n"
    );
    let (_, doc) = w.imi_json(&w.trunk(), &["list", "--all"]);
    assert!(
        !doc.to_string().contains("feat-taken"),
        "no registry row: {doc}"
    );
    assert_eq!(
        w.git(&w.trunk(), &["branch", "--list", "feat/taken"]),
        "",
        "no branch"
    );
}

fn bad_names_are_refused_with_a_suggestion(w: &World) {
    w.init_project();
    for (bad, suggestion) in [
        ("user auth", "user-auth"),
        ("a..b", "a.b"),
        ("a/b", "a-b"),
        ("-rf", "rf"),
        ("x~1", "x-1"),
        ("no@{x", "no-x"),
    ] {
        let (code, doc) = w.imi_json(&w.trunk(), &["feat", "--", bad]);
        assert_eq!(code, 1, "{bad}");
        assert_eq!(doc["error"]["code"], "VALIDATION_ERROR", "{bad}");
        assert_eq!(
            doc["error"]["hint"].as_str().unwrap(),
            format!("try {suggestion:?}"),
            "{bad}"
        );
    }
    let dirs: Vec<String> = std::fs::read_dir(w.root().join("app"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut dirs = dirs;
    dirs.sort();
    assert_eq!(dirs, [".iMi", "trunk-main"], "nothing created");
    assert_eq!(w.git(&w.trunk(), &["branch", "--list", "feat/*"]), "");
}

/// `git status` can be told to hide untracked files (`status.showUntrackedFiles=no`,
/// git's advice when status is slow); `imi remove` still refuses them, with the
/// count, and leaves them where they were.
fn remove_refuses_untracked_files_status_hides(w: &World) {
    w.init_project();
    w.git(&w.trunk(), &["config", "status.showUntrackedFiles", "no"]);
    w.imi(&w.trunk(), &["feat", "notes"]).ok();
    w.write(&w.wt("feat-notes").join("notes.txt"), "mine\n");
    let (code, doc) = w.imi_json(&w.trunk(), &["remove", "feat-notes"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "UNSAFE");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 uncommitted file(s)"),
        "{doc}"
    );
    assert_eq!(
        std::fs::read_to_string(w.wt("feat-notes").join("notes.txt")).unwrap(),
        "mine\n"
    );
    // the branch too (w.git fails the test if it is gone)
    w.git(
        &w.trunk(),
        &["show-ref", "--verify", "refs/heads/feat/notes"],
    );
}

both_backends! {
    remove_refuses_untracked_files_that_status_hides => remove_refuses_untracked_files_status_hides;
    remove_refuses_an_unmerged_branch_and_force_keeps_it => remove_refuses_unmerged_branch;
    close_refuses_dirty_and_keeps_the_branch => close_keeps_branch_and_refuses_dirty;
    merge_refuses_a_dirty_worktree_or_trunk => merge_refuses_dirty_sides;
    conflicted_merge_leaves_both_sides_as_they_were => conflicted_merge_restores_both_sides;
    existing_directory_fails_cleanly_with_no_row => existing_directory_leaves_no_row;
    bad_names_are_refused_with_a_suggestion => bad_names_are_refused_with_a_suggestion;
}
