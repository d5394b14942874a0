//! `imi remove` / `imi rm` and `imi close`: take a worktree off the disk and mark it
//! inactive in the registry (see `ops::remove` for the rules).

use imi_core::Result;

use super::Ctx;
use crate::cli;
use crate::ops::remove::{self, CloseArgs, RemoveArgs, Removed};
use crate::ui::Output;

pub async fn cmd_remove(ctx: &Ctx<'_>, args: &cli::RemoveArgs) -> Result<Output> {
    let args = RemoveArgs {
        project: ctx.project(),
        name: args.name.clone(),
        force: args.force,
        keep_branch: args.keep_branch,
        no_hooks: args.no_hooks,
    };
    if !args.no_hooks {
        super::hooks::ask_approvals(ctx, crate::setup::Hook::PreRemove).await?;
    }
    let r = remove::remove(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

pub async fn cmd_close(ctx: &Ctx<'_>, args: &cli::CloseArgs) -> Result<Output> {
    let args = CloseArgs {
        project: ctx.project(),
        name: args.name.clone(),
        force: args.force,
        no_hooks: args.no_hooks,
    };
    if !args.no_hooks {
        super::hooks::ask_approvals(ctx, crate::setup::Hook::PreRemove).await?;
    }
    let r = remove::close(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Removed) -> String {
    let mut human = format!("Removed {} ({})", r.worktree, r.path);
    match (r.branch_merged, r.branch_deleted) {
        (_, true) => human.push_str(&format!("; deleted merged branch {}", r.branch)),
        (Some(false), _) => human.push_str(&format!("; kept unmerged branch {}", r.branch)),
        (Some(true), false) => human.push_str(&format!("; kept branch {}", r.branch)),
        (None, _) => {}
    }
    if let Some(rescued) = &r.rescued_ref {
        human.push_str(&format!("; its commits on no branch are kept on {rescued}"));
    }
    human
}
