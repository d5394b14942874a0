//! Legacy databases with the exact schema of the earlier iMi tool (LEGACY.md), for
//! tests and the import benchmark.

use std::path::Path;
use std::str::FromStr;

use imi_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Executor, QueryBuilder, Sqlite};

/// The legacy tool's DDL and seed rows, verbatim in shape: text UUIDs, a text foreign
/// key from worktrees to repositories by name, free-text types, declared but
/// unenforced foreign keys.
pub const LEGACY_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS repositories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    remote_url TEXT NOT NULL,
    default_branch TEXT NOT NULL DEFAULT 'main',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE IF NOT EXISTS worktree_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    branch_prefix TEXT NOT NULL,
    worktree_prefix TEXT NOT NULL,
    description TEXT,
    is_builtin BOOLEAN NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS worktrees (
    id TEXT PRIMARY KEY,
    repo_name TEXT NOT NULL,
    worktree_name TEXT NOT NULL,
    branch_name TEXT NOT NULL,
    worktree_type TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    agent_id TEXT,
    FOREIGN KEY (repo_name) REFERENCES repositories (name),
    UNIQUE (repo_name, worktree_name)
);
CREATE TABLE IF NOT EXISTS agent_activities (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    worktree_id TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    file_path TEXT,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL,
    FOREIGN KEY (worktree_id) REFERENCES worktrees (id)
);
CREATE INDEX IF NOT EXISTS idx_worktrees_repo ON worktrees (repo_name);
CREATE INDEX IF NOT EXISTS idx_worktrees_active ON worktrees (active);
CREATE INDEX IF NOT EXISTS idx_agent_activities_worktree ON agent_activities (worktree_id);
INSERT OR IGNORE INTO worktree_types (name, branch_prefix, worktree_prefix, description, is_builtin, created_at) VALUES
    ('feat', 'feat/', 'feat-', 'Feature development', 1, '2025-01-01T00:00:00.000000000+00:00'),
    ('fix', 'fix/', 'fix-', 'Bug fixes', 1, '2025-01-01T00:00:00.000000000+00:00'),
    ('aiops', 'aiops/', 'aiops-', 'AI operations', 1, '2025-01-01T00:00:00.000000000+00:00'),
    ('devops', 'devops/', 'devops-', 'DevOps tasks', 1, '2025-01-01T00:00:00.000000000+00:00'),
    ('review', 'pr-review/', 'pr-review-', 'Pull request reviews', 1, '2025-01-01T00:00:00.000000000+00:00');
"#;

fn setup_err(e: sqlx::Error) -> Error {
    Error::internal(format!("building a legacy database: {e}"))
}

/// Creates (or opens) a legacy database at `path` with the legacy schema.
pub async fn create(path: &Path) -> Result<SqlitePool> {
    let opts = SqliteConnectOptions::from_str("sqlite:")
        .map_err(setup_err)?
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(false)
        .journal_mode(SqliteJournalMode::Delete);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(setup_err)?;
    pool.execute(LEGACY_SCHEMA).await.map_err(setup_err)?;
    Ok(pool)
}

pub struct Repo<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub path: &'a str,
    pub remote_url: &'a str,
    pub default_branch: &'a str,
    pub created_at: &'a str,
    pub active: bool,
}

pub struct Wt<'a> {
    pub id: &'a str,
    pub repo_name: &'a str,
    pub worktree_name: &'a str,
    pub branch_name: &'a str,
    pub worktree_type: &'a str,
    pub path: &'a str,
    pub created_at: &'a str,
    pub active: bool,
    pub agent_id: Option<&'a str>,
}

pub struct Act<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub worktree_id: &'a str,
    pub activity_type: &'a str,
    pub file_path: Option<&'a str>,
    pub description: &'a str,
    pub created_at: &'a str,
}

pub async fn repo(pool: &SqlitePool, r: &Repo<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO repositories (id, name, path, remote_url, default_branch, created_at, updated_at, active) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
    )
    .bind(r.id)
    .bind(r.name)
    .bind(r.path)
    .bind(r.remote_url)
    .bind(r.default_branch)
    .bind(r.created_at)
    .bind(r.active)
    .execute(pool)
    .await
    .map_err(setup_err)?;
    Ok(())
}

pub async fn worktree(pool: &SqlitePool, w: &Wt<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO worktrees (id, repo_name, worktree_name, branch_name, worktree_type, path, \
         created_at, updated_at, active, agent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
    )
    .bind(w.id)
    .bind(w.repo_name)
    .bind(w.worktree_name)
    .bind(w.branch_name)
    .bind(w.worktree_type)
    .bind(w.path)
    .bind(w.created_at)
    .bind(w.active)
    .bind(w.agent_id)
    .execute(pool)
    .await
    .map_err(setup_err)?;
    Ok(())
}

pub async fn activity(pool: &SqlitePool, a: &Act<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_activities (id, agent_id, worktree_id, activity_type, file_path, \
         description, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(a.id)
    .bind(a.agent_id)
    .bind(a.worktree_id)
    .bind(a.activity_type)
    .bind(a.file_path)
    .bind(a.description)
    .bind(a.created_at)
    .execute(pool)
    .await
    .map_err(setup_err)?;
    Ok(())
}

/// Row counts of a generated file.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    pub repositories: usize,
    pub worktrees: usize,
    pub activities: usize,
}

/// A legacy file of `repos` repositories, `worktrees` worktrees spread over them
/// (types feat/fix/pr/unknown, some `refs/heads/` branches) and `activities`
/// activities with nanosecond timestamps, as the earlier tool wrote them.
pub async fn generate(
    path: &Path,
    repos: usize,
    worktrees: usize,
    activities: usize,
) -> Result<Generated> {
    let pool = create(path).await?;
    let mut tx = pool.begin().await.map_err(setup_err)?;
    let uuid = |kind: u128, i: usize| uuid::Uuid::from_u128((kind << 96) | i as u128 | (4 << 76));
    let ts = |i: usize| {
        format!(
            "2025-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}+00:00",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60,
            (i * 7919) % 1_000_000_000
        )
    };
    let rows: Vec<usize> = (0..repos).collect();
    for chunk in rows.chunks(1000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO repositories (id, name, path, remote_url, default_branch, created_at, updated_at, active) ",
        );
        qb.push_values(chunk, |mut b, &i| {
            b.push_bind(uuid(1, i).to_string())
                .push_bind(format!("repo-{i}"))
                .push_bind(format!("/home/me/code/repo-{i}/trunk-main"))
                .push_bind(if i % 10 == 9 {
                    String::new()
                } else {
                    format!("git@github.com:org{}/repo-{i}.git", i % 17)
                })
                .push_bind("main")
                .push_bind(ts(i))
                .push_bind(ts(i + 1))
                .push_bind(true);
        });
        qb.build().execute(&mut *tx).await.map_err(setup_err)?;
    }
    let types = ["feat", "fix", "pr", "unknown", "devops"];
    let rows: Vec<usize> = (0..worktrees).collect();
    for chunk in rows.chunks(1000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO worktrees (id, repo_name, worktree_name, branch_name, worktree_type, path, created_at, updated_at, active, agent_id) ",
        );
        qb.push_values(chunk, |mut b, &i| {
            let r = i % repos.max(1);
            let t = types[i % types.len()];
            let name = format!("{t}-task-{i}");
            b.push_bind(uuid(2, i).to_string())
                .push_bind(format!("repo-{r}"))
                .push_bind(name.clone())
                .push_bind(if i % 3 == 0 {
                    format!("refs/heads/{t}/task-{i}")
                } else {
                    format!("{t}/task-{i}")
                })
                .push_bind(t)
                .push_bind(format!("/home/me/code/repo-{r}/{name}"))
                .push_bind(ts(i))
                .push_bind(ts(i + 2))
                .push_bind(i % 4 != 0)
                .push_bind((i % 2 == 0).then(|| format!("agent-{}", i % 9)));
        });
        qb.build().execute(&mut *tx).await.map_err(setup_err)?;
    }
    let kinds = ["created", "modified", "committed", "file_edit", "pushed"];
    let rows: Vec<usize> = (0..activities).collect();
    for chunk in rows.chunks(2000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO agent_activities (id, agent_id, worktree_id, activity_type, file_path, description, created_at) ",
        );
        qb.push_values(chunk, |mut b, &i| {
            b.push_bind(uuid(3, i).to_string())
                .push_bind(format!("agent-{}", i % 9))
                .push_bind(uuid(2, i % worktrees.max(1)).to_string())
                .push_bind(kinds[i % kinds.len()])
                .push_bind((i % 2 == 0).then(|| format!("src/file_{}.rs", i % 100)))
                .push_bind(format!("did thing {i}"))
                .push_bind(ts(i));
        });
        qb.build().execute(&mut *tx).await.map_err(setup_err)?;
    }
    tx.commit().await.map_err(setup_err)?;
    pool.close().await;
    Ok(Generated {
        repositories: repos,
        worktrees,
        activities,
    })
}
