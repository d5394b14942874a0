//! `imi status`: the live git state of this host's worktrees (of this project, or
//! of all projects outside one), read from git and written back to the registry.

use imi_core::{Result, Store, Worktree, WorktreeFilter};
use serde_json::json;

use super::{Ctx, on_this_host_all, resolve_project};
use crate::cli::StatusArgs;
use crate::context;
use crate::gitstate;
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

async fn status<S: Store>(s: &S, ctx: &Ctx<'_>) -> Result<Output> {
    let inside = ctx.global.project.is_some() || context::locate(&ctx.cwd)?.is_some();
    let projects = if inside {
        vec![resolve_project(s, ctx).await?]
    } else {
        on_this_host_all(s, s.list_projects(false).await?).await?
    };
    let mut rows = vec![];
    let mut jobs = vec![];
    for p in &projects {
        let filter = WorktreeFilter {
            project_id: Some(p.id),
            host: Some(s.host().to_string()),
            ..Default::default()
        };
        let trunk_ref = gitstate::project_trunk_ref(p);
        for w in s.list_worktrees(&filter).await? {
            jobs.push(gitstate::Job::of(&w, &trunk_ref));
            rows.push(w);
        }
    }
    let reads = gitstate::read_all(&jobs, || {});
    let mut live = vec![];
    let mut updates = vec![];
    for (mut w, read) in rows.into_iter().zip(reads) {
        match read {
            gitstate::Read::State(st) => {
                gitstate::apply(&mut w, &st);
                updates.push((w.id, st));
                live.push(Live {
                    status: w.status().as_str(),
                    worktree: w,
                    missing: false,
                });
            }
            gitstate::Read::Missing => live.push(Live {
                status: "missing",
                worktree: w,
                missing: true,
            }),
            gitstate::Read::Failed(e) => return Err(e),
        }
    }
    s.update_git_states(&updates).await?;
    let names: std::collections::HashMap<uuid::Uuid, &str> =
        projects.iter().map(|p| (p.id, p.name.as_str())).collect();
    let rows: Vec<Vec<String>> = live
        .iter()
        .map(|l| {
            let w = &l.worktree;
            let mut row = vec![];
            if !inside {
                row.push(names.get(&w.project_id).copied().unwrap_or("-").to_string());
            }
            row.extend([
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
            ]);
            row
        })
        .collect();
    let human = if rows.is_empty() {
        "No worktrees on this host.".to_string()
    } else {
        let mut headers = vec![];
        if !inside {
            headers.push("PROJECT");
        }
        headers.extend([
            "WORKTREE",
            "TYPE",
            "BRANCH",
            "OWNER",
            "DIRTY",
            "AHEAD/BEHIND",
            "STATUS",
        ]);
        table::render(&headers, &rows)
    };
    Ok(Output::new(json!({"worktrees": live}), human))
}
