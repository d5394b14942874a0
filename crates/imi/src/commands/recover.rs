//! `imi recover`: finish or undo operations that were interrupted and left an
//! intent record behind (see `ops::recover`).

use imi_core::Result;

use super::Ctx;
use crate::ops::recover::{self, RecoverArgs, Recovery};
use crate::ui::Output;

pub async fn cmd_recover(ctx: &Ctx<'_>) -> Result<Output> {
    let args = RecoverArgs {
        project: ctx.project(),
    };
    let r = recover::recover(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Recovery) -> String {
    let mut human = String::new();
    if r.operations.is_empty() {
        human.push_str("no interrupted operations\n");
    }
    for op in &r.operations {
        human.push_str(&format!(
            "{}  {} of {} in {}: {}\n",
            op.outcome, op.operation, op.worktree, op.project, op.message
        ));
    }
    human
}
