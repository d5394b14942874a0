//! Shared set-up: a migrated store on a fresh file in a temporary directory.
#![allow(dead_code, clippy::unwrap_used)]

use imi_core::store::ensure_schema;
use imi_core::{NewProject, NewWorktree, Project, Store, Worktree};
use imi_store_sqlite::SqliteStore;
use tempfile::TempDir;

pub const HOST: &str = "test-host";

pub struct TestStore {
    pub store: SqliteStore,
    pub dir: TempDir,
}

impl std::ops::Deref for TestStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

pub async fn fresh() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("registry.db"), HOST)
        .await
        .unwrap();
    ensure_schema(&store).await.unwrap();
    TestStore { store, dir }
}

pub fn new_project(name: &str, remote: &str) -> NewProject {
    NewProject {
        id: None,
        name: name.to_string(),
        remote_origin: Some(remote.to_string()),
        default_branch: None,
        trunk_path: format!("/code/{name}/trunk-main"),
        description: None,
        metadata: Default::default(),
    }
}

pub async fn project(s: &SqliteStore, name: &str) -> Project {
    s.register_project(&new_project(
        name,
        &format!("https://github.com/acme/{name}.git"),
    ))
    .await
    .unwrap()
}

pub fn new_worktree(p: &Project, type_name: &str, name: &str) -> NewWorktree {
    NewWorktree {
        project_id: p.id,
        type_name: type_name.to_string(),
        name: name.to_string(),
        branch_name: name.replacen('-', "/", 1),
        path: format!("/code/{}/{name}", p.name),
        host: None,
        agent_id: None,
        metadata: Default::default(),
    }
}

pub async fn worktree(s: &SqliteStore, p: &Project, name: &str) -> Worktree {
    s.register_worktree(&new_worktree(p, "feat", name))
        .await
        .unwrap()
}
