//! Reading the registry for front ends without a terminal (`imi mcp`, later the
//! REST API): the projects, a project's worktrees with who holds each claim, and
//! the deterministic path of a trunk or worktree.

use imi_core::{Project, Result, Store, Worktree, WorktreeFilter, naming, sibling_path};
use serde::{Deserialize, Serialize};

use super::{Env, Report, common};
use crate::registry::with_store;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Projects {
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListedWorktree {
    #[serde(flatten)]
    pub worktree: Worktree,
    /// The agent holding the claim on the worktree's name (any host), if any.
    pub claimed_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Worktrees {
    pub project: String,
    pub worktrees: Vec<ListedWorktree>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResolvedPath {
    pub project: String,
    pub path: String,
}

/// One project.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OneProject {
    pub project: Project,
}

/// One worktree of a project: its checkout on this host, else the one most recently
/// updated (a worktree row is one checkout on one host).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OneWorktree {
    pub project: String,
    pub worktree: ListedWorktree,
}

impl Report for OneProject {}
impl Report for OneWorktree {}
impl Report for Projects {}
impl Report for Worktrees {}
impl Report for ResolvedPath {}

/// Names a shell may complete: the active projects, and the worktree names of one
/// project (`spec`, else the one of the current directory, else every project).
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub projects: Vec<String>,
    pub worktrees: Vec<String>,
}

/// [`Names`], from the registry as it is: read only (an SQLite registry that does
/// not exist yet is not created, a schema that is not current is neither migrated
/// nor read: no names), and what can be read is kept when the rest cannot (an
/// unknown `-p` still lets the projects be named).
pub async fn names(env: &Env, spec: Option<&str>) -> Result<Names> {
    if let crate::DatabaseTarget::Sqlite(path) = &env.settings.database
        && !path.exists()
    {
        return Ok(Names::default());
    }
    let store = env.connected().await?;
    let status = with_store!(store, s => s.schema_status().await)?;
    if !status.pending.is_empty() || status.applied > status.latest {
        return Ok(Names::default());
    }
    with_store!(store, s => names_in(s, env, spec).await)
}

async fn names_in<S: Store>(s: &S, env: &Env, spec: Option<&str>) -> Result<Names> {
    let projects = s.list_projects(false).await?;
    let project_id = match spec {
        Some(spec) => common::project_by_spec(s, spec).await.ok().map(|p| p.id),
        None => match crate::context::locate(&env.cwd) {
            Ok(Some(_)) => common::resolve_project(s, env, None)
                .await
                .ok()
                .map(|p| p.id),
            _ => None,
        },
    };
    // a project named but not found offers no worktrees rather than every project's
    let mut worktrees: Vec<String> = if project_id.is_none() && spec.is_some() {
        Vec::new()
    } else {
        s.list_worktrees(&WorktreeFilter {
            project_id,
            ..Default::default()
        })
        .await
        .map(|w| w.into_iter().map(|w| w.name).collect())
        .unwrap_or_default()
    };
    worktrees.sort();
    worktrees.dedup();
    Ok(Names {
        projects: projects.into_iter().map(|p| p.name).collect(),
        worktrees,
    })
}

/// The active projects.
pub async fn projects(env: &Env) -> Result<Projects> {
    let projects = with_store!(env.store().await?, s => s.list_projects(false).await)?;
    Ok(Projects { projects })
}

/// The active worktrees of a project (`spec`, else the one of the current
/// directory) on every host.
pub async fn worktrees(env: &Env, spec: Option<&str>) -> Result<Worktrees> {
    with_store!(env.store().await?, s => worktrees_in(s, env, spec).await).map(|(w, _)| w)
}

/// [`worktrees`], and the moment it goes stale without a commit: the earliest end
/// of a lease it shows (an expired claim no longer names its holder). `None`: only
/// a commit changes it.
pub async fn worktrees_until(
    env: &Env,
    spec: Option<&str>,
) -> Result<(Worktrees, Option<chrono::DateTime<chrono::Utc>>)> {
    with_store!(env.store().await?, s => worktrees_in(s, env, spec).await)
}

async fn worktrees_in<S: Store>(
    s: &S,
    env: &Env,
    spec: Option<&str>,
) -> Result<(Worktrees, Option<chrono::DateTime<chrono::Utc>>)> {
    // a named project needs no look-up of its trunk on this host (one query less):
    // the listing shows the rows, each with its own path
    let project = match spec {
        Some(spec) => common::project_by_spec(s, spec).await?,
        None => common::resolve_project(s, env, None).await?,
    };
    let found = s
        .list_worktrees(&WorktreeFilter {
            project_id: Some(project.id),
            ..Default::default()
        })
        .await?;
    let claims = super::claims::held_by_item(s, Some(project.id)).await?;
    let until = claims.values().filter_map(|c| c.expires_at).min();
    let worktrees = found
        .into_iter()
        .map(|w| ListedWorktree {
            claimed_by: claims
                .get(&(w.project_id, w.name.clone()))
                .map(|c| c.agent_id.clone()),
            worktree: w,
        })
        .collect();
    Ok((
        Worktrees {
            project: project.name,
            worktrees,
        },
        until,
    ))
}

/// A project by name, remote or id (inactive ones too: their rows say so).
pub async fn project(env: &Env, spec: &str) -> Result<OneProject> {
    let project = with_store!(env.store().await?, s => common::project_by_spec(s, spec).await)?;
    Ok(OneProject { project })
}

/// An active worktree of a project by its directory name (see [`OneWorktree`]).
pub async fn worktree(env: &Env, spec: &str, name: &str) -> Result<OneWorktree> {
    naming::validate_worktree_name(name)?;
    let all = worktrees(env, Some(spec)).await?;
    let host = &env.settings.host;
    let found = all
        .worktrees
        .into_iter()
        .filter(|w| w.worktree.name == name)
        .max_by_key(|w| (w.worktree.host == *host, w.worktree.updated_at));
    match found {
        Some(worktree) => Ok(OneWorktree {
            project: all.project,
            worktree,
        }),
        None => Err(imi_core::Error::not_found(format!(
            "project {} has no worktree {name:?}",
            all.project
        ))
        .with_hint("list its worktrees (imi list, or GET .../worktrees)")),
    }
}

/// The trunk's path on this host (`worktree` `None`), else where the worktree of
/// that directory name lives: beside the trunk.
pub async fn path(env: &Env, spec: Option<&str>, worktree: Option<&str>) -> Result<ResolvedPath> {
    if let Some(name) = worktree {
        naming::validate_worktree_name(name)?;
    }
    let project =
        with_store!(env.store().await?, s => common::resolve_project(s, env, spec).await)?;
    if !project.active {
        return Err(imi_core::messages::project_inactive(project.id));
    }
    let path = match worktree {
        None => project.trunk_path.clone(),
        Some(name) => sibling_path(&project.trunk_path, name),
    };
    Ok(ResolvedPath {
        project: project.name,
        path,
    })
}
