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
        no_hooks: args.no_hooks,
    };
    if !args.no_hooks {
        super::hooks::ask_approvals(ctx, crate::setup::Hook::PostMerge).await?;
    }
    let r = merge::merge(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Merged) -> String {
    let w = &r.worktree;
    let mut text = format!(
        "Merged {} into {} ({}); removed {} and branch {}",
        w.branch_name, r.into, r.merge_commit, w.name, w.branch_name
    );
    if let (Some(n), Some(remote)) = (r.trunk_ahead_of_remote.filter(|n| *n > 0), &r.remote_ref) {
        let commits = if n == 1 { "commit" } else { "commits" };
        text.push_str(&format!(
            "\n{} is now {n} {commits} ahead of {remote}: push it with `git -C {} push origin {}` \
             (or merge with --push next time)",
            r.into,
            imi_core::messages::shell_word(&r.trunk_path),
            imi_core::messages::shell_word(&r.into)
        ));
    }
    text
}
