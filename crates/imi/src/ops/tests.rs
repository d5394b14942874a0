//! The operations called directly, as a server will call them: no terminal, a
//! registry in a temporary SQLite file, a real git repository with a bare origin,
//! and an observer that collects what it is told.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::*;
use crate::config::Source;
use crate::dburl::DatabaseTarget;

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<String>>>);

impl Observer for Collect {
    fn note(&self, message: &str) {
        self.0.lock().unwrap().push(format!("note {message}"));
    }
    fn begin(&self, what: &str, total: usize) {
        self.0.lock().unwrap().push(format!("begin {what} {total}"));
    }
    fn step(&self) {
        self.0.lock().unwrap().push("step".into());
    }
    fn end(&self) {
        self.0.lock().unwrap().push("end".into());
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn env(home: &Path, cwd: PathBuf) -> Env {
    Env::new(
        Settings {
            config_file: home.join("config.toml"),
            database: DatabaseTarget::Sqlite(home.join("registry.db")),
            database_source: Source::Flag,
            root: home.join("code"),
            root_source: Source::Default,
            agent_id: "agent-7".into(),
            agent_source: Source::Flag,
            host: "ops-test-host".into(),
            setup: Default::default(),
        },
        cwd,
    )
}

// one thread, as the CLI's runtime: an operation that blocked it (block_in_place
// panics there; a blocking wait would stall) fails this test
#[tokio::test(flavor = "current_thread")]
async fn operations_run_without_a_terminal_and_report_typed_results() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let origin = home.join("remotes/app.git");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "-q", "--bare", "-b", "main"]);
    let src = home.join("src/app");
    std::fs::create_dir_all(&src).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    git(&src, &["commit", "-q", "--allow-empty", "-m", "initial"]);
    git(&src, &["remote", "add", "origin", origin.to_str().unwrap()]);
    git(&src, &["push", "-q", "origin", "main"]);

    // outside the layout: refused unless the move is allowed, and nothing moves
    let e = env(home, src.clone());
    let plan = init::planned_move(&e).unwrap().expect("a move is needed");
    assert_eq!(plan.to, home.join("code/app/trunk-main"));
    let refused = init::init(&e, &init::InitArgs::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "UNSAFE");
    assert!(src.is_dir());
    let args = init::InitArgs {
        url: None,
        allow_move: true,
    };
    let done = init::init(&e, &args).await.unwrap();
    assert_eq!(done.project.name, "app");
    assert_eq!(done.moved_from.as_deref(), Some(plan.from.as_path()));
    assert!(Path::new(&done.trunk_path).is_dir());

    // inside the project now: the project is found from the directory
    let seen = Collect::default();
    let e = env(home, PathBuf::from(&done.trunk_path)).with_observer(seen.clone());
    let add_args = add::AddArgs {
        project: None,
        type_name: "feat".into(),
        name: "login".into(),
        from: None,
        fetch: false,
        no_hooks: false,
    };
    let added = add::add(&e, &add_args).await.unwrap();
    assert!(added.created);
    assert_eq!(added.worktree.name, "feat-login");
    assert_eq!(added.worktree.agent_id.as_deref(), Some("agent-7"));
    assert_eq!(added.worktree.host, "ops-test-host");
    let again = add::add(&e, &add_args).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.path, added.path);

    std::fs::write(Path::new(&added.path).join("wip.txt"), "x").unwrap();
    let st = status::status(&e, &status::Args::default()).await.unwrap();
    assert!(!st.all_projects);
    let live = st
        .worktrees
        .iter()
        .find(|l| l.worktree.name == "feat-login")
        .unwrap();
    assert_eq!(live.worktree.uncommitted_files_count, 1);
    assert_eq!(live.project, "app");

    let synced = sync::sync(&e, &sync::SyncArgs::default()).await.unwrap();
    assert_eq!(synced.summary.synced, 2);
    let events = seen.0.lock().unwrap().clone();
    assert_eq!(events.first().map(String::as_str), Some("begin syncing 2"));
    assert_eq!(events.iter().filter(|e| *e == "step").count(), 2);
    assert_eq!(events.last().map(String::as_str), Some("end"));

    // the safety rule holds here too: work is not dropped without force
    let rm = remove::RemoveArgs {
        project: None,
        name: "login".into(),
        force: false,
        keep_branch: false,
        no_hooks: false,
    };
    let unsafe_rm = remove::remove(&e, &rm).await.unwrap_err();
    assert_eq!(unsafe_rm.code(), "UNSAFE");
    assert!(Path::new(&added.path).is_dir());
    std::fs::remove_file(Path::new(&added.path).join("wip.txt")).unwrap();
    let removed = remove::remove(&e, &rm).await.unwrap();
    assert_eq!(removed.worktree, "feat-login");
    assert!(removed.branch_deleted, "{removed:?}");
    assert!(!Path::new(&added.path).exists());

    // the JSON the CLI prints is the report itself
    let data = serde_json::to_value(&removed).unwrap();
    assert_eq!(data["branch"], "feat/login");
    assert_eq!(data["branch_merged"], true);
    let doctor = doctor::doctor(&e).await.unwrap();
    assert!(doctor.ok, "{doctor:?}");
    assert!(doctor.failure().is_none());
}
