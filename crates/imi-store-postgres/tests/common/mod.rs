//! Shared set-up: a fresh database per test with the schema applied.
#![allow(dead_code)]

use imi_core::{NewProject, NewWorktree, Project, Store, Worktree};
use imi_store_postgres::PgStore;
use imi_testkit::PgTestDb;

pub const HOST: &str = "test-host";

/// A migrated store on a fresh database; `None` when PostgreSQL is not available
/// (and not required).
pub async fn store() -> Option<(PgTestDb, PgStore)> {
    let db = PgTestDb::create().await?;
    let store = PgStore::connect(&db.url, HOST).await.unwrap();
    store.migrate().await.unwrap();
    Some((db, store))
}

pub async fn project(store: &PgStore, name: &str) -> Project {
    store
        .register_project(&NewProject {
            id: None,
            name: name.to_string(),
            remote_origin: Some(format!("git@github.com:owner/{name}.git")),
            default_branch: None,
            trunk_path: format!("/code/{name}/trunk-main"),
            description: None,
            metadata: Default::default(),
        })
        .await
        .unwrap()
}

pub async fn worktree(store: &PgStore, project: &Project, ty: &str, name: &str) -> Worktree {
    store
        .register_worktree(&NewWorktree {
            project_id: project.id,
            type_name: ty.to_string(),
            name: name.to_string(),
            branch_name: name.replacen('-', "/", 1),
            path: format!("/code/{}/{name}", project.name),
            host: None,
            agent_id: None,
            metadata: Default::default(),
        })
        .await
        .unwrap()
}

/// The SQLSTATE of a failed query.
pub fn sqlstate(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("not a database error: {other}"),
    }
}
