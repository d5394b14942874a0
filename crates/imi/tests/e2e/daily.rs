//! Issue 11, item 2: `imi status` as a person wants it, in real repositories:
//! uncommitted files by kind, ahead/behind trunk and upstream, the last commit,
//! branches already integrated into trunk; colour on a real terminal (a pty made
//! by `script`), never into a pipe or with `NO_COLOR`; fitted to `COLUMNS`.

use std::process::Command;

use crate::both_backends;
use crate::harness::{World, from_output};

/// A trunk and four worktrees: work in progress (pushed, then one more commit,
/// then a staged, a modified and an untracked file), a branch merged into trunk,
/// a branch squash-merged into trunk, and a fresh one.
fn layout(w: &World) {
    w.init_project();
    let trunk = w.trunk();
    for name in ["work", "done", "squash"] {
        w.imi(&trunk, &["feat", name]).ok();
    }
    let work = w.wt("feat-work");
    w.write(&work.join("a.txt"), "a\n");
    w.git(&work, &["add", "a.txt"]);
    w.git(&work, &["commit", "--quiet", "-m", "Add a"]);
    w.git(&work, &["push", "--quiet", "-u", "origin", "feat/work"]);
    w.write(&work.join("a.txt"), "a, pushed\n");
    w.git(
        &work,
        &["commit", "--quiet", "-am", "Change a after the push"],
    );
    w.write(&work.join("b.txt"), "staged\n");
    w.git(&work, &["add", "b.txt"]);
    w.write(&work.join("a.txt"), "a, modified\n");
    w.write(&work.join("untracked.txt"), "?\n");

    // merged: its commit reaches the trunk's remote
    let done = w.wt("feat-done");
    w.write(&done.join("done.txt"), "done\n");
    w.git(&done, &["add", "done.txt"]);
    w.git(&done, &["commit", "--quiet", "-m", "Finish it"]);
    w.git(&trunk, &["merge", "--quiet", "--ff-only", "feat/done"]);
    w.git(&trunk, &["push", "--quiet", "origin", "main"]);

    // squash-merged: other commits, the same content
    let squash = w.wt("feat-squash");
    w.git(&squash, &["merge", "--quiet", "--ff-only", "origin/main"]);
    for (f, text) in [("s1.txt", "one\n"), ("s2.txt", "two\n")] {
        w.write(&squash.join(f), text);
        w.git(&squash, &["add", f]);
        w.git(&squash, &["commit", "--quiet", "-m", &format!("Add {f}")]);
    }
    w.git(&trunk, &["merge", "--quiet", "--squash", "feat/squash"]);
    w.git(&trunk, &["commit", "--quiet", "-m", "Squash feat/squash"]);
    w.git(&trunk, &["push", "--quiet", "origin", "main"]);
    w.imi(&trunk, &["feat", "fresh"]).ok();
}

fn status_in_real_repositories(w: &World) {
    layout(w);
    let trunk = w.trunk();
    let (code, doc) = w.imi_json(&trunk, &["status"]);
    assert_eq!(code, 0, "{doc}");
    let rows = doc["data"]["worktrees"].as_array().unwrap();
    let by = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap().clone();

    let work = by("feat-work");
    assert_eq!(
        work["changes"],
        serde_json::json!({"staged": 1, "modified": 1, "untracked": 1, "conflicted": 0}),
        "{work}"
    );
    assert_eq!(work["uncommitted_files_count"], 3);
    assert_eq!(
        work["upstream"],
        serde_json::json!({"name": "origin/feat/work", "ahead": 1, "behind": 0})
    );
    assert_eq!(work["ahead_of_trunk"], 2);
    assert_eq!(work["last_commit"]["subject"], "Change a after the push");
    assert_eq!(work["last_commit"]["committed_at"], "2026-01-01T00:00:00Z");
    assert_eq!(
        work["last_commit"]["hash"],
        w.git(&w.wt("feat-work"), &["rev-parse", "HEAD"])
    );
    assert_eq!(work["integrated"], false);

    let done = by("feat-done");
    assert_eq!(done["integrated"], true, "{done}");
    assert_eq!(done["ahead_of_trunk"], 0);
    assert_eq!(done["upstream"], serde_json::Value::Null);
    let squash = by("feat-squash");
    assert_eq!(squash["ahead_of_trunk"], 2, "{squash}");
    assert_eq!(squash["integrated"], true, "same content as the trunk");
    assert_eq!(by("feat-fresh")["integrated"], true, "nothing of its own");
    let main = by("trunk-main");
    assert_eq!(main["integrated"], false, "never the trunk");
    assert_eq!(main["upstream"]["name"], "origin/main");
    assert_eq!(
        doc["data"]["summary"],
        serde_json::json!({"worktrees": 5, "changed": 1, "ahead": 2, "behind": 3,
            "integrated": 3, "missing": 0, "claimed": 0}),
    );

    // into a pipe: plain text, every column, a footer
    let plain = w.imi(&trunk, &["status"]).ok().stdout;
    assert!(!plain.contains('\x1b'), "{plain}");
    let line = |n: &str| {
        plain
            .lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("{n} in {plain}"))
            .to_string()
    };
    assert!(
        plain.starts_with("WORKTREE     BRANCH       CHANGES   TRUNK  REMOTE  STATUS"),
        "{plain}"
    );
    let l = line("feat-work");
    assert!(
        l.contains("+1 !1 ?1") && l.contains("↑2") && l.contains("⇡1"),
        "{l}"
    );
    assert!(l.contains("Change a after the push"), "{l}");
    assert!(line("feat-done").contains("integrated"));
    assert!(line("feat-squash").contains("integrated"));
    assert!(
        plain.contains("5 worktrees: 1 with changes, 2 ahead of trunk, 3 behind trunk, 3 integrated (safe to remove)"),
        "{plain}"
    );

    // a narrow terminal: the table fits, the subject is cut
    let mut c = w.cmd(&trunk, &["status"]);
    let narrow = from_output(c.env("COLUMNS", "80").output().unwrap())
        .ok()
        .stdout;
    for l in narrow.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(l) <= 80,
            "{l:?} in\n{narrow}"
        );
    }
    assert!(narrow.contains('…'), "{narrow}");
}

/// `imi status` on a pseudo-terminal made by util-linux `script`.
fn on_a_terminal(w: &World, no_color: bool) -> String {
    let mut c = Command::new("script");
    w.imi_env(&mut c);
    c.env_remove("NO_COLOR").env("COLUMNS", "120");
    if no_color {
        c.env("NO_COLOR", "1");
    }
    let imi = env!("CARGO_BIN_EXE_imi").replace('\'', r"'\''");
    c.current_dir(w.trunk())
        .args(["-qec", &format!("'{imi}' status"), "/dev/null"]);
    from_output(c.output().unwrap()).ok().stdout
}

fn colour_only_on_a_terminal(w: &World) {
    layout(w);
    let coloured = on_a_terminal(w, false);
    assert!(coloured.contains("\x1b[1mWORKTREE\x1b[0m"), "{coloured:?}");
    assert!(
        coloured.contains("\x1b[32mintegrated\x1b[0m"),
        "{coloured:?}"
    );
    assert!(coloured.contains("\x1b[32m+1\x1b[0m"), "{coloured:?}");
    let plain = on_a_terminal(w, true);
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    assert!(plain.contains("integrated"), "{plain:?}");
}

both_backends! {
    status_shows_changes_upstream_commits_and_integrated_branches => status_in_real_repositories;
    status_is_coloured_only_on_a_terminal => colour_only_on_a_terminal;
}
