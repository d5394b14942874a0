//! `imi status`: the live git state of this host's worktrees (of this project, or
//! of all projects outside one), read from git and written back to the registry.

use imi_core::Result;

use super::Ctx;
use crate::cli::StatusArgs;
use crate::ops::status::{self, Args, Status};
use crate::table;
use crate::ui::Output;

pub async fn cmd_status(ctx: &Ctx<'_>, _args: &StatusArgs) -> Result<Output> {
    let r = status::status(
        &ctx.env,
        &Args {
            project: ctx.project(),
        },
    )
    .await?;
    Output::report(&r, render(&r))
}

fn render(r: &Status) -> String {
    if r.worktrees.is_empty() {
        return if r.projects == 0 {
            imi_core::messages::NO_PROJECTS_YET.to_string()
        } else {
            "No worktrees on this host.".to_string()
        };
    }
    // the column appears once some worktree is claimed
    let claimed = r.worktrees.iter().any(|l| l.claim.is_some());
    let rows: Vec<Vec<String>> = r
        .worktrees
        .iter()
        .map(|l| {
            let w = &l.worktree;
            let mut row = vec![];
            if r.all_projects {
                row.push(l.project.clone());
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
                l.status.clone(),
            ]);
            if claimed {
                row.push(l.claim.as_ref().map_or("-".into(), |c| c.agent_id.clone()));
            }
            row
        })
        .collect();
    let mut headers = vec![];
    if r.all_projects {
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
    if claimed {
        headers.push("CLAIMED BY");
    }
    table::render(&headers, &rows)
}
