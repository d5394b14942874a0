//! `imi list` / `imi ls`: the worktrees of this project (of every project when run
//! outside one, or all with `--all`); `--projects` lists projects.

use imi_core::{Result, Store, WorktreeFilter};
use serde_json::json;

use super::Ctx;
use crate::cli::ListArgs;
use crate::context;
use crate::registry::with_store;
use crate::table::{self, Cell, Term};
use crate::ui::Output;

pub async fn cmd_list(ctx: &Ctx<'_>, args: &ListArgs) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => list(s, ctx, args).await)
}

async fn list<S: Store>(s: &S, ctx: &Ctx<'_>, args: &ListArgs) -> Result<Output> {
    if args.projects {
        let projects = s.list_projects(args.all).await?;
        let rows: Vec<Vec<String>> = projects
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.remote_origin.clone().unwrap_or_else(|| "-".into()),
                    p.trunk_path.clone(),
                    if p.active {
                        String::new()
                    } else {
                        "inactive".into()
                    },
                ]
            })
            .collect();
        let human = if rows.is_empty() {
            imi_core::messages::NO_PROJECTS_YET.to_string()
        } else {
            table::render(&["PROJECT", "REMOTE", "TRUNK", ""], &rows)
        };
        return Ok(Output::new(json!({"projects": projects}), human));
    }
    let inside = ctx.global.project.is_some() || context::locate(&ctx.env.cwd)?.is_some();
    let project = if inside {
        Some(crate::ops::common::resolve_project(s, &ctx.env, ctx.global.project.as_deref()).await?)
    } else {
        None
    };
    let filter = WorktreeFilter {
        project_id: project.as_ref().map(|p| p.id),
        include_inactive: args.all,
        ..Default::default()
    };
    let worktrees = s.list_worktrees(&filter).await?;
    let claims = crate::ops::claims::held_by_item(s, project.as_ref().map(|p| p.id)).await?;
    let claimed_by = |w: &imi_core::Worktree| {
        claims
            .get(&(w.project_id, w.name.clone()))
            .map(|c| c.agent_id.clone())
    };
    // the column appears once some listed worktree is claimed
    let any_claimed = worktrees.iter().any(|w| claimed_by(w).is_some());
    let names: std::collections::HashMap<uuid::Uuid, String> = if project.is_some() {
        Default::default()
    } else {
        s.list_projects(true)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect()
    };
    // Several hosts share the registry: each checkout is its own row, shown with its
    // host (the column appears once the list spans more than one host).
    let many_hosts = worktrees.iter().any(|w| w.host != worktrees[0].host);
    let mut rows = vec![];
    for w in &worktrees {
        let mut r = vec![];
        if project.is_none() {
            r.push(names.get(&w.project_id).cloned().unwrap_or_default());
        }
        r.extend([
            w.name.clone(),
            w.type_name.clone(),
            w.branch_name.clone(),
            w.agent_id.clone().unwrap_or_else(|| "-".into()),
        ]);
        if many_hosts {
            r.push(w.host.clone());
        }
        r.push(w.path.clone());
        if any_claimed {
            r.push(claimed_by(w).unwrap_or_else(|| "-".into()));
        }
        if args.all {
            r.push(if w.merged_at.is_some() {
                "merged".into()
            } else if w.active {
                String::new()
            } else {
                "removed".into()
            });
        }
        rows.push(r);
    }
    let mut headers = vec![];
    if project.is_none() {
        headers.push("PROJECT");
    }
    headers.extend(["WORKTREE", "TYPE", "BRANCH", "OWNER"]);
    if many_hosts {
        headers.push("HOST");
    }
    headers.push("PATH");
    if any_claimed {
        headers.push("CLAIMED BY");
    }
    if args.all {
        headers.push("STATE");
    }
    let human = if !rows.is_empty() {
        // on a narrow terminal, cut the path first (its end says least), then the
        // branch and the worktree's name
        let col = |h: &str| headers.iter().position(|x| *x == h).unwrap_or(usize::MAX);
        let shrink = [
            (col("PATH"), 20),
            (col("BRANCH"), 12),
            (col("WORKTREE"), 12),
        ];
        let cells = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|c| match c.as_str() {
                        "-" => Cell::new(c, table::DIM),
                        "merged" => Cell::new(c, table::GREEN),
                        "removed" => Cell::new(c, table::DIM),
                        _ => Cell::plain(c),
                    })
                    .collect()
            })
            .collect();
        table::render_styled(&headers, cells, &shrink, Term::stdout())
    } else if project.is_some() {
        "No worktrees: create one with `imi feat NAME`.".to_string()
    } else if names.is_empty() {
        imi_core::messages::NO_PROJECTS_YET.to_string()
    } else {
        "No worktrees: create one with `imi -p PROJECT feat NAME` (see `imi list --projects`)."
            .to_string()
    };
    // held claims of the listed worktrees' names (a claim covers every host)
    let mut listed_claims: Vec<&imi_core::Claim> = claims
        .values()
        .filter(|c| {
            worktrees
                .iter()
                .any(|w| w.project_id == c.project_id && w.name == c.worktree_name)
        })
        .collect();
    listed_claims.sort_by(|a, b| {
        (&a.project_name, &a.worktree_name).cmp(&(&b.project_name, &b.worktree_name))
    });
    Ok(Output::new(
        json!({"project": project, "worktrees": worktrees, "claims": listed_claims}),
        human,
    )
    .styled())
}
