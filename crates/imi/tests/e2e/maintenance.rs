//! `imi prune` (and `--dry-run` changing nothing at all) and `imi doctor` finding
//! each kind of problem, with fixes that work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::both_backends;
use crate::harness::World;

/// Every file under `dir` (`.git` internals included) with its content.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                out.insert(p.clone(), b"<dir>".to_vec());
                walk(&p, out);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

/// What the registry holds, every row.
fn registry(w: &World) -> Value {
    let (code, doc) = w.imi_json(w.path(), &["db", "export"]);
    assert_eq!(code, 0, "{doc}");
    let mut d = doc;
    // the export's own timestamp is not registry state
    if let Some(o) = d.as_object_mut() {
        o.remove("exported_at");
    }
    d
}

fn prune(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "gone"]).ok();
    w.imi(&t, &["feat", "kept"]).ok();
    std::fs::remove_dir_all(w.wt("feat-gone")).unwrap();
    // strays: a clean git worktree, a dirty one, a plain directory
    w.git(
        &t,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "feat/stray",
            "../feat-stray",
        ],
    );
    w.git(
        &t,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "fix/dirty",
            "../fix-dirty",
        ],
    );
    w.write(&w.wt("fix-dirty").join("work.txt"), "precious\n");
    std::fs::create_dir_all(w.wt("feat-junk")).unwrap();
    w.write(&w.wt("feat-junk").join("notes.txt"), "mine\n");

    let before = (
        tree(&w.root()),
        registry(w),
        w.git(&t, &["worktree", "list", "--porcelain"]),
    );
    for args in [
        &["prune", "--dry-run"][..],
        &["prune", "--dry-run", "--force"][..],
    ] {
        let (code, doc) = w.imi_json(&t, args);
        assert_eq!(code, 0, "{doc}");
        let d = &doc["data"];
        assert_eq!(d["dry_run"], true);
        assert_eq!(d["forgotten"][0]["name"], "feat-gone");
        assert_eq!(d["git_pruned"].as_array().unwrap().len(), 1);
        let after = (
            tree(&w.root()),
            registry(w),
            w.git(&t, &["worktree", "list", "--porcelain"]),
        );
        assert!(before == after, "--dry-run changed something ({args:?})");
    }
    let (_, doc) = w.imi_json(&t, &["prune", "--dry-run", "--force"]);
    let strays = doc["data"]["strays"].as_array().unwrap();
    let action = |name: &str| -> String {
        strays
            .iter()
            .find(|s| s["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not listed: {strays:?}"))["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(action("feat-stray"), "would delete");
    assert_eq!(action("fix-dirty"), "kept");
    assert_eq!(action("feat-junk"), "kept");

    // without --force: forget and prune, delete nothing
    let (code, doc) = w.imi_json(&t, &["prune"]);
    assert_eq!(code, 0, "{doc}");
    let rows: Vec<String> = crate::sync::registry_rows(w, &t)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rows, ["feat-kept", "trunk-main"]);
    assert!(
        !w.git(&t, &["worktree", "list", "--porcelain"])
            .contains("feat-gone")
    );
    assert!(w.wt("feat-stray").is_dir());
    // the pruned worktree's history stays
    let (_, log) = w.imi_json(&t, &["log"]);
    assert!(
        log["data"].to_string().contains("forgotten by imi prune"),
        "{log}"
    );

    // --force: the clean stray goes, the dirty one and the plain directory stay
    let (code, doc) = w.imi_json(&t, &["prune", "--force"]);
    assert_eq!(code, 0, "{doc}");
    assert!(!w.wt("feat-stray").exists());
    assert_eq!(
        std::fs::read_to_string(w.wt("fix-dirty").join("work.txt")).unwrap(),
        "precious\n"
    );
    assert!(w.wt("feat-junk").join("notes.txt").exists());
    assert!(w.wt("feat-kept").is_dir());
}

fn doctor_problems(w: &World, dir: &Path) -> (i32, Value) {
    w.imi_json(dir, &["doctor"])
}

fn failing<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    doc["data"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == check && c["ok"] == false)
        .collect()
}

fn doctor(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "one"]).ok();
    w.imi(&t, &["feat", "two"]).ok();
    let (code, doc) = doctor_problems(w, &t);
    assert_eq!((code, &doc["success"]), (0, &Value::Bool(true)), "{doc}");
    assert!(
        w.imi(&t, &["doctor"])
            .ok()
            .stdout
            .contains("everything is consistent")
    );

    // a deleted worktree directory
    std::fs::remove_dir_all(w.wt("feat-one")).unwrap();
    let (code, doc) = doctor_problems(w, &t);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["success"], false);
    let f = failing(&doc, "worktree_path");
    assert_eq!(f.len(), 1, "{doc}");
    assert!(f[0]["message"].as_str().unwrap().contains("feat-one"));
    assert!(f[0]["fix"].as_str().unwrap().starts_with("imi prune"));

    // a worktree made with plain `git worktree add`
    w.git(
        &t,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "feat/plain",
            "../feat-plain",
        ],
    );
    let (code, doc) = doctor_problems(w, &t);
    assert_eq!(code, 1);
    let f = failing(&doc, "git_worktrees");
    assert!(
        f.iter()
            .any(|c| c["message"].as_str().unwrap().contains("feat-plain")
                && c["fix"]
                    .as_str()
                    .unwrap()
                    .starts_with("imi sync --register")),
        "{doc}"
    );

    // a project.json that disagrees with the registry
    let pf = w.root().join("app/.iMi/project.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&pf).unwrap()).unwrap();
    v["default_branch"] = "develop".into();
    std::fs::write(&pf, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (code, doc) = doctor_problems(w, &t);
    assert_eq!(code, 1);
    let f = failing(&doc, "project_file");
    assert_eq!(f.len(), 1, "{doc}");
    assert!(f[0]["message"].as_str().unwrap().contains("default_branch"));
    assert!(f[0]["fix"].as_str().unwrap().ends_with("imi init"));
    // human form: each problem with its fix, exit 1
    let r = w.imi(&t, &["doctor"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("FAIL") && r.stdout.contains("fix: imi prune"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("3 problem"), "{}", r.stderr);

    // the fixes it names work
    w.imi(&t, &["prune"]).ok();
    w.imi(&t, &["sync", "--register"]).ok();
    w.imi(&t, &["init"]).ok();
    let (code, doc) = doctor_problems(w, &t);
    assert_eq!(code, 0, "after the fixes: {doc}");

    // an unreachable registry
    let (code, doc) = w.imi_json(
        &t,
        &[
            "--database",
            "postgres://postgres@127.0.0.1:1/nowhere",
            "doctor",
        ],
    );
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["error"]["code"], "REGISTRY_UNAVAILABLE");
    assert_eq!(failing(&doc, "registry").len(), 1, "{doc}");
    assert!(doc["error"]["hint"].is_string());
}

both_backends! {
    prune => prune;
    doctor => doctor;
}
