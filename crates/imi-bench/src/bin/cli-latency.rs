//! `cargo build --release -p imi && cargo run --release -p imi-bench --bin cli-latency [-- N]`
//!
//! SPEC §8: `imi prompt` and `imi path` must cost about as much as starting a
//! process. This builds a project with a few worktrees (a real git repository,
//! `.iMi` files, a registry in a temporary HOME), then times N runs of each command
//! below, interleaved so that they share the machine's noise, and prints p50 / p99
//! and each one's ratio to `git rev-parse --show-toplevel` in the same worktree
//! (the floor: a small process that reads a few files). Target: under 2x.
//!
//! The imi binary is `$IMI_BIN`, else `target/release/imi`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use imi_core::{NewProject, NewWorktree, Store};
use imi_store_sqlite::SqliteStore;
use imi_testkit::cli::git;

fn imi_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("IMI_BIN") {
        return PathBuf::from(b);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("target/release/imi")
}

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// A project `app` in `<home>/code/app`: trunk-main plus feat-x, fix-y and
/// aiops-z as real git worktrees, registered, with their `.iMi` files. Returns
/// the feat-x directory.
fn build(home: &Path) -> PathBuf {
    let container = home.join("code/app");
    let trunk = container.join("trunk-main");
    std::fs::create_dir_all(&trunk).unwrap();
    git(home, &trunk, &["init", "-q", "-b", "main"]);
    std::fs::write(trunk.join("README"), "app\n").unwrap();
    git(home, &trunk, &["add", "README"]);
    git(home, &trunk, &["commit", "-q", "-m", "init"]);
    let worktrees = [("feat", "feat-x"), ("fix", "fix-y"), ("aiops", "aiops-z")];
    for (t, name) in worktrees {
        let branch = format!("{t}/{}", &name[t.len() + 1..]);
        let dir = container.join(name);
        git(
            home,
            &trunk,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                &branch,
                dir.to_str().unwrap(),
            ],
        );
    }
    let db = home.join(".local/share/imi/registry.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&db, imi_testkit::cli::HOST)
            .await
            .unwrap();
        imi_core::store::ensure_schema(&s).await.unwrap();
        let p = s
            .register_project(&NewProject {
                name: "app".into(),
                remote_origin: Some("git@github.com:acme/app.git".into()),
                default_branch: Some("main".into()),
                trunk_path: trunk.display().to_string(),
                ..NewProject::default()
            })
            .await
            .unwrap();
        write_json(
            &container.join(".iMi/project.json"),
            &serde_json::json!({"project_id": p.id, "name": "app",
                "remote_origin": p.remote_origin, "default_branch": "main",
                "trunk_path": p.trunk_path}),
        );
        for (t, name) in [("trunk", "trunk-main")].into_iter().chain(worktrees) {
            let w = s
                .register_worktree(&NewWorktree {
                    project_id: p.id,
                    type_name: t.into(),
                    name: name.into(),
                    branch_name: name.into(),
                    path: container.join(name).display().to_string(),
                    agent_id: Some("agent-1".into()),
                    ..NewWorktree::default()
                })
                .await
                .unwrap();
            write_json(
                &container.join(format!(".iMi/worktrees/{name}.json")),
                &serde_json::json!({"worktree_id": w.id, "name": name, "type": t,
                    "branch": name, "agent_id": "agent-1"}),
            );
        }
    });
    container.join("feat-x")
}

struct Case {
    label: &'static str,
    program: PathBuf,
    args: Vec<&'static str>,
    times: Vec<Duration>,
}

fn pct(v: &[Duration], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N must be a number"))
        .unwrap_or(200);
    let imi = imi_bin();
    assert!(
        imi.is_file(),
        "{} not found: run `cargo build --release -p imi` or set IMI_BIN",
        imi.display()
    );
    let home = tempfile::tempdir().unwrap();
    let here = build(home.path());
    let git_bin = PathBuf::from("git");
    let mut cases = vec![
        Case {
            label: "git rev-parse --show-toplevel",
            program: git_bin,
            args: vec!["rev-parse", "--show-toplevel"],
            times: vec![],
        },
        Case {
            label: "imi prompt",
            program: imi.clone(),
            args: vec!["prompt"],
            times: vec![],
        },
        Case {
            label: "imi path feat-x",
            program: imi.clone(),
            args: vec!["path", "feat-x"],
            times: vec![],
        },
        Case {
            label: "imi -p app path feat-x (registry)",
            program: imi.clone(),
            args: vec!["-p", "app", "path", "feat-x"],
            times: vec![],
        },
    ];
    let h = home.path();
    let run = |c: &Case| {
        let t = Instant::now();
        let out = imi_testkit::cli::command(&c.program, h, &here)
            .args(&c.args)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let d = t.elapsed();
        assert!(out.status.success(), "{} failed", c.label);
        (d, String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    for c in &cases {
        let (_, out) = run(c);
        println!("{:<36} -> {out}", c.label);
    }
    // warm-up, then interleaved rounds
    for _ in 0..10 {
        for c in &cases {
            run(c);
        }
    }
    for _ in 0..n {
        for c in cases.iter_mut() {
            let (d, _) = run(c);
            c.times.push(d);
        }
    }
    let git_p50 = pct(&cases[0].times, 0.5);
    println!("\n{n} runs each, interleaved; times in ms");
    println!(
        "{:<36} {:>7} {:>7} {:>12}",
        "command", "p50", "p99", "p50 vs git"
    );
    for c in &cases {
        let p50 = pct(&c.times, 0.5);
        println!(
            "{:<36} {:>7.2} {:>7.2} {:>11.2}x",
            c.label,
            p50,
            pct(&c.times, 0.99),
            p50 / git_p50
        );
    }
    println!("target: imi prompt and imi path under 2x git's p50");
}
