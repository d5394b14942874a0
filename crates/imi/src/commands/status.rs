//! `imi status`: the live git state of this host's worktrees (of this project, or
//! of all projects outside one), read from git and written back to the registry.

use std::path::Path;

use imi_core::{GitState, Result, Store, Worktree, WorktreeFilter};
use imi_git::Repo;
use serde_json::json;

use super::{Ctx, common, resolve_project};
use crate::cli::StatusArgs;
use crate::context;
use crate::registry::with_store;
use crate::table;
use crate::ui::Output;

pub async fn cmd_status(ctx: &Ctx<'_>, _args: &StatusArgs) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => status(s, ctx).await)
}

#[derive(serde::Serialize)]
struct Live {
    #[serde(flatten)]
    worktree: Worktree,
    status: &'static str,
    missing: bool,
}

/// Reads one worktree's state from git; `None` when its directory is gone.
pub fn read_state(w: &Worktree, trunk_ref: &str) -> Result<Option<GitState>> {
    if !Path::new(&w.path).is_dir() {
        return Ok(None);
    }
    let repo = Repo::at(&w.path);
    let dirty = repo.uncommitted_count()?;
    let (ahead, behind) = if w.type_name == "trunk" {
        (0, 0)
    } else {
        repo.ahead_behind("HEAD", trunk_ref)?
    };
    let last = repo.last_commit()?;
    Ok(Some(GitState {
        uncommitted_count: Some(i32::try_from(dirty).unwrap_or(i32::MAX)),
        ahead: Some(i32::try_from(ahead).unwrap_or(i32::MAX)),
        behind: Some(i32::try_from(behind).unwrap_or(i32::MAX)),
        last_commit_hash: last.as_ref().map(|l| l.0.clone()),
        last_commit_message: last.map(|l| l.1),
    }))
}

async fn status<S: Store>(s: &S, ctx: &Ctx<'_>) -> Result<Output> {
    let inside = ctx.global.project.is_some() || context::locate(&ctx.cwd)?.is_some();
    let projects = if inside {
        vec![resolve_project(s, ctx).await?]
    } else {
        s.list_projects(false).await?
    };
    let mut live = vec![];
    let mut updates = vec![];
    for p in &projects {
        let filter = WorktreeFilter {
            project_id: Some(p.id),
            host: Some(s.host().to_string()),
            ..Default::default()
        };
        let trunk_ref = common::trunk_ref(&Repo::at(&p.trunk_path), p)
            .unwrap_or_else(|_| p.default_branch.clone());
        for w in s.list_worktrees(&filter).await? {
            match read_state(&w, &trunk_ref)? {
                Some(st) => {
                    updates.push((w.id, st.clone()));
                    let mut w = w;
                    w.uncommitted_files_count = st.uncommitted_count.unwrap_or(0);
                    w.has_uncommitted_changes = w.uncommitted_files_count > 0;
                    w.ahead_of_trunk = st.ahead.unwrap_or(0);
                    w.behind_trunk = st.behind.unwrap_or(0);
                    w.last_commit_hash = st.last_commit_hash;
                    w.last_commit_message = st.last_commit_message;
                    live.push(Live {
                        status: w.status().as_str(),
                        worktree: w,
                        missing: false,
                    });
                }
                None => live.push(Live {
                    status: "missing",
                    worktree: w,
                    missing: true,
                }),
            }
        }
    }
    s.update_git_states(&updates).await?;
    let rows: Vec<Vec<String>> = live
        .iter()
        .map(|l| {
            let w = &l.worktree;
            vec![
                w.name.clone(),
                w.type_name.clone(),
                w.branch_name.clone(),
                w.agent_id.clone().unwrap_or_else(|| "-".into()),
                if l.missing {
                    "-".into()
                } else {
                    w.uncommitted_files_count.to_string()
                },
                if l.missing {
                    "-".into()
                } else {
                    format!("+{} -{}", w.ahead_of_trunk, w.behind_trunk)
                },
                l.status.to_string(),
            ]
        })
        .collect();
    let human = if rows.is_empty() {
        "No worktrees on this host.".to_string()
    } else {
        table::render(
            &[
                "WORKTREE",
                "TYPE",
                "BRANCH",
                "OWNER",
                "DIRTY",
                "AHEAD/BEHIND",
                "STATUS",
            ],
            &rows,
        )
    };
    Ok(Output::new(json!({"worktrees": live}), human))
}
