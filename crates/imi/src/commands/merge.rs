//! `imi merge [name]`: merge a worktree's branch into trunk's default branch, record
//! the merge, then remove the worktree and the merged branch (see `ops::merge`).

use imi_core::Result;

use super::Ctx;
use crate::cli;
use crate::ops::merge::{self, MergeArgs, Merged};
use crate::ui::Output;

pub async fn cmd_merge(ctx: &Ctx<'_>, args: &cli::MergeArgs) -> Result<Output> {
    let args = MergeArgs {
        project: ctx.project(),
        name: args.name.clone(),
        squash: args.squash,
        ff_only: args.ff_only,
        push: args.push,
        force: args.force,
    };
    let r = merge::merge(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Merged) -> String {
    let w = &r.worktree;
    format!(
        "Merged {} into {} ({}); removed {} and branch {}",
        w.branch_name, r.into, r.merge_commit, w.name, w.branch_name
    )
}
