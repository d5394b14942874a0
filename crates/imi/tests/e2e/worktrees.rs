//! Creating worktrees: reviews, concurrency, reuse, custom types, metadata, init.

use std::os::unix::fs::MetadataExt;

use crate::all_backends;
use crate::harness::World;

fn review_from_pull_ref(w: &World) {
    // publish a pull request head on the bare origin, as GitHub does
    let seed = w.path().join("seed");
    w.git(&seed, &["switch", "--quiet", "-c", "contributor"]);
    w.write(&seed.join("pr.txt"), "from a pull request\n");
    w.git(&seed, &["add", "pr.txt"]);
    w.git(&seed, &["commit", "--quiet", "-m", "pr"]);
    let pr_head = w.git(&seed, &["rev-parse", "HEAD"]);
    w.git(
        &seed,
        &["push", "--quiet", "origin", "HEAD:refs/pull/7/head"],
    );
    w.init_project();
    let r = w.imi(&w.trunk(), &["review", "7"]).ok();
    assert_eq!(r.stdout.trim(), w.wt("pr-7").to_str().unwrap());
    assert_eq!(w.git(&w.wt("pr-7"), &["rev-parse", "HEAD"]), pr_head);
    assert_eq!(
        w.git(&w.wt("pr-7"), &["branch", "--show-current"]),
        "pr-review/7"
    );
    let (_, doc) = w.imi_json(&w.trunk(), &["list"]);
    let row = doc["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pr-7")
        .unwrap()
        .clone();
    assert_eq!(row["type_name"], "review");
    // again: same path; an unknown number is NOT_FOUND
    assert_eq!(w.imi(&w.trunk(), &["review", "7"]).ok().stdout, r.stdout);
    let (code, doc) = w.imi_json(&w.trunk(), &["review", "8"]);
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (1, Some("NOT_FOUND"))
    );
}

fn eight_concurrent_adds(w: &World) {
    w.init_project();
    let children: Vec<_> = (0..8)
        .map(|i| {
            w.cmd(&w.trunk(), &["--json", "feat", &format!("par-{i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let mut git_paths: Vec<String> = w
        .git(&w.trunk(), &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree ").map(str::to_string))
        .collect();
    git_paths.sort();
    let (_, doc) = w.imi_json(&w.trunk(), &["list"]);
    let mut registry: Vec<String> = doc["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    registry.sort();
    assert_eq!(registry.len(), 9, "trunk + 8");
    assert_eq!(
        registry, git_paths,
        "registry matches git worktree list exactly"
    );
}

fn existing_branch_is_reused(w: &World) {
    w.init_project();
    w.git(&w.trunk(), &["branch", "feat/old"]);
    w.git(&w.trunk(), &["switch", "--quiet", "feat/old"]);
    w.write(&w.trunk().join("old.txt"), "old work\n");
    w.git(&w.trunk(), &["add", "old.txt"]);
    w.git(&w.trunk(), &["commit", "--quiet", "-m", "old work"]);
    let tip = w.git(&w.trunk(), &["rev-parse", "HEAD"]);
    w.git(&w.trunk(), &["switch", "--quiet", "main"]);
    w.imi(&w.trunk(), &["feat", "old"]).ok();
    assert_eq!(
        w.git(&w.wt("feat-old"), &["rev-parse", "HEAD"]),
        tip,
        "the branch was reused, not recreated"
    );
    assert!(w.wt("feat-old").join("old.txt").exists());
}

fn custom_type_and_metadata(w: &World) {
    w.init_project();
    let r = w.imi(&w.trunk(), &["types", "add", "spike"]).ok();
    assert!(r.stdout.contains("spike/<name>"), "{}", r.stdout);
    let p = w.imi(&w.trunk(), &["add", "spike", "idea"]).ok();
    assert_eq!(p.stdout.trim(), w.wt("spike-idea").to_str().unwrap());
    assert_eq!(
        w.git(&w.wt("spike-idea"), &["branch", "--show-current"]),
        "spike/idea"
    );
    let types = w.imi(&w.trunk(), &["types", "list"]).ok();
    insta::assert_snapshot!("types_list", types.stdout);
    let (code, doc) = w.imi_json(&w.trunk(), &["types", "remove", "spike"]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("CONFLICT")));
    let (code, doc) = w.imi_json(&w.trunk(), &["add", "nope", "x"]);
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (1, Some("VALIDATION_ERROR"))
    );
    assert!(doc["error"]["message"].as_str().unwrap().contains("nope"));

    w.imi(
        &w.trunk(),
        &["metadata", "set", "spike-idea", "plane.board", "eng"],
    )
    .ok();
    w.imi(
        &w.trunk(),
        &["metadata", "set", "idea", "plane.ticket_id", "42"],
    )
    .ok();
    let (_, doc) = w.imi_json(&w.trunk(), &["metadata", "get", "spike-idea"]);
    assert_eq!(
        doc["data"]["value"],
        serde_json::json!({"plane": {"board": "eng", "ticket_id": 42}})
    );
    assert_eq!(
        w.imi(
            &w.trunk(),
            &["metadata", "get", "spike-idea", "plane.ticket_id"]
        )
        .ok()
        .stdout
        .trim(),
        "42"
    );
    w.imi(
        &w.trunk(),
        &["metadata", "unset", "spike-idea", "plane.board"],
    )
    .ok();
    let (_, doc) = w.imi_json(&w.trunk(), &["metadata", "get", "spike-idea", "plane"]);
    assert_eq!(doc["data"]["value"], serde_json::json!({"ticket_id": 42}));
}

fn init_outside_layout_moves_only_with_yes(w: &World) {
    let elsewhere = w.path().join("elsewhere/app");
    std::fs::create_dir_all(w.path().join("elsewhere")).unwrap();
    let origin = w.origin();
    w.git(
        w.path(),
        &[
            "clone",
            "--quiet",
            origin.to_str().unwrap(),
            elsewhere.to_str().unwrap(),
        ],
    );
    w.write(&elsewhere.join("uncommitted.txt"), "keep me\n");
    let inode = std::fs::metadata(&elsewhere).unwrap().ino();
    let (code, doc) = w.imi_json(&elsewhere, &["init"]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("UNSAFE")));
    assert!(doc["error"]["hint"].as_str().unwrap().contains("--yes"));
    assert!(
        elsewhere.join("uncommitted.txt").exists(),
        "not moved without --yes"
    );
    let (code, doc) = w.imi_json(&elsewhere, &["init", "--yes"]);
    assert_eq!(code, 0, "{doc}");
    assert!(!elsewhere.exists());
    assert_eq!(
        std::fs::metadata(w.trunk()).unwrap().ino(),
        inode,
        "moved by rename, not copied"
    );
    assert_eq!(
        std::fs::read_to_string(w.trunk().join("uncommitted.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(
        doc["data"]["trunk_path"].as_str().unwrap(),
        w.trunk().to_str().unwrap()
    );
    let pf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.root().join("app/.iMi/project.json")).unwrap())
            .unwrap();
    assert_eq!(pf["name"], "app");
    assert_eq!(
        pf["trunk_path"].as_str().unwrap(),
        w.trunk().to_str().unwrap()
    );
}

fn init_clone_and_no_remote(w: &World) {
    let url = format!("file://{}", w.origin().display());
    let (code, doc) = w.imi_json(w.path(), &["init", &url]);
    assert_eq!(code, 0, "{doc}");
    assert!(
        w.trunk().join("README.md").exists(),
        "cloned into the layout"
    );
    let (code, again) = w.imi_json(w.path(), &["init", &url]);
    assert_eq!(code, 0);
    assert_eq!(
        again["data"]["project"]["id"], doc["data"]["project"]["id"],
        "idempotent"
    );

    // a repository with no remote at all
    let local = w.root().join("solo/trunk-main");
    std::fs::create_dir_all(&local).unwrap();
    w.git(&local, &["init", "--quiet", "-b", "main"]);
    w.write(&local.join("f"), "f\n");
    w.git(&local, &["add", "f"]);
    w.git(&local, &["commit", "--quiet", "-m", "f"]);
    let (code, doc) = w.imi_json(&local, &["init"]);
    assert_eq!(code, 0, "{doc}");
    assert!(doc["data"]["project"]["remote_origin"].is_null());
    assert_eq!(doc["data"]["project"]["name"], "solo");
    let r = w.imi(&local, &["feat", "x"]).ok();
    assert_eq!(
        r.stdout.trim(),
        w.root().join("solo/feat-x").to_str().unwrap()
    );
}

all_backends! {
    review_worktree_from_refs_pull => review_from_pull_ref;
    eight_concurrent_adds_match_git_worktree_list => eight_concurrent_adds;
    an_existing_branch_is_reused_not_recreated => existing_branch_is_reused;
    custom_types_and_metadata => custom_type_and_metadata;
    init_moves_a_repository_only_with_yes_by_rename => init_outside_layout_moves_only_with_yes;
    init_clones_a_url_and_registers_a_repository_without_remote => init_clone_and_no_remote;
    merge_squash_ff_only_and_push => merge_modes;
}

fn merge_modes(w: &World) {
    w.init_project();
    // --squash: one single-parent commit on trunk, branch gone
    w.imi(&w.trunk(), &["feat", "sq"]).ok();
    for i in 0..3 {
        w.write(&w.wt("feat-sq").join(format!("s{i}.txt")), "s\n");
        w.git(&w.wt("feat-sq"), &["add", "."]);
        w.git(
            &w.wt("feat-sq"),
            &["commit", "--quiet", "-m", &format!("s{i}")],
        );
    }
    let before = w.git(&w.trunk(), &["rev-parse", "HEAD"]);
    w.imi(&w.trunk(), &["merge", "feat-sq", "--squash"]).ok();
    assert_eq!(
        w.git(&w.trunk(), &["rev-parse", "HEAD^"]),
        before,
        "one new commit"
    );
    assert_eq!(
        w.git(&w.trunk(), &["log", "-1", "--format=%P"])
            .split(' ')
            .count(),
        1,
        "single parent"
    );
    assert!(w.trunk().join("s2.txt").exists());
    assert_eq!(w.git(&w.trunk(), &["branch", "--list", "feat/sq"]), "");

    // --ff-only refuses when trunk moved on, and changes nothing
    w.imi(&w.trunk(), &["feat", "ff"]).ok();
    w.write(&w.wt("feat-ff").join("ff.txt"), "ff\n");
    w.git(&w.wt("feat-ff"), &["add", "."]);
    w.git(&w.wt("feat-ff"), &["commit", "--quiet", "-m", "ff"]);
    w.write(&w.trunk().join("t.txt"), "t\n");
    w.git(&w.trunk(), &["add", "."]);
    w.git(&w.trunk(), &["commit", "--quiet", "-m", "t"]);
    let trunk_head = w.git(&w.trunk(), &["rev-parse", "HEAD"]);
    let (code, doc) = w.imi_json(&w.trunk(), &["merge", "feat-ff", "--ff-only"]);
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (1, Some("GIT_ERROR")),
        "{doc}"
    );
    assert!(doc["error"]["hint"].as_str().unwrap().contains("--ff-only"));
    assert_eq!(w.git(&w.trunk(), &["rev-parse", "HEAD"]), trunk_head);
    assert!(w.wt("feat-ff").join("ff.txt").exists());

    // a merge commit, pushed to origin
    let r = w.imi(&w.trunk(), &["merge", "feat-ff", "--push"]).ok();
    assert!(
        r.stdout.contains("Merged feat/ff into main"),
        "{}",
        r.stdout
    );
    let pushed = w.git(&w.origin(), &["rev-parse", "main"]);
    assert_eq!(pushed, w.git(&w.trunk(), &["rev-parse", "HEAD"]));
    assert_eq!(
        w.git(&w.trunk(), &["log", "-1", "--format=%P"])
            .split(' ')
            .count(),
        2,
        "merge commit"
    );
}
