//! `imi add <type> <name>` (and `imi feat|fix|aiops|devops <name>`, `imi review
//! <N>`): make (or find) a worktree and print its path (see `ops::add`).

use imi_core::Result;

use super::Ctx;
use crate::cli::{self, ShorthandArgs};
use crate::ops::add::{self, AddArgs, ReviewArgs};
use crate::ui::Output;

pub async fn cmd_add(ctx: &Ctx<'_>, type_name: &str, args: &ShorthandArgs) -> Result<Output> {
    let args = AddArgs {
        project: ctx.project(),
        type_name: type_name.to_string(),
        name: args.name.clone(),
        from: args.from.clone(),
        fetch: !args.no_fetch,
        no_hooks: args.no_hooks,
    };
    if !args.no_hooks {
        super::hooks::ask_approvals(ctx, crate::setup::Hook::PostCreate).await?;
    }
    let r = add::add(&ctx.env, &args).await?;
    Output::report(&r, r.path.clone())
}

pub async fn cmd_review(ctx: &Ctx<'_>, args: &cli::ReviewArgs) -> Result<Output> {
    let args = ReviewArgs {
        project: ctx.project(),
        number: args.number,
        no_hooks: args.no_hooks,
    };
    if !args.no_hooks {
        super::hooks::ask_approvals(ctx, crate::setup::Hook::PostCreate).await?;
    }
    let r = add::review(&ctx.env, &args).await?;
    Output::report(&r, r.path.clone())
}
