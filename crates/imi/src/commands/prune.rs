//! `imi prune [--dry-run] [--force]`: reconcile the registry and the disk (see
//! `ops::prune`).

use imi_core::Result;

use super::Ctx;
use crate::cli;
use crate::ops::prune::{self, PruneArgs, Pruned};
use crate::ui::Output;

pub async fn cmd_prune(ctx: &Ctx<'_>, args: &cli::PruneArgs) -> Result<Output> {
    let args = PruneArgs {
        project: ctx.project(),
        dry_run: args.dry_run,
        force: args.force,
    };
    let r = prune::prune(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Pruned) -> String {
    let dry = r.dry_run;
    let mut human = String::new();
    if dry {
        human.push_str("dry run: nothing was changed\n");
    }
    let verb = |done: &str, would: &str| {
        if dry {
            would.to_string()
        } else {
            done.to_string()
        }
    };
    human.push_str(&format!(
        "{} {} stale git worktree entr{}\n",
        verb(
            "git worktree prune: removed",
            "git worktree prune would remove"
        ),
        r.git_pruned.len(),
        if r.git_pruned.len() == 1 { "y" } else { "ies" }
    ));
    for g in &r.git_pruned {
        human.push_str(&format!("  {}\n", g.path.display()));
    }
    human.push_str(&format!(
        "{} {} worktree(s) whose directories are gone\n",
        verb("forgot", "would forget"),
        r.forgotten.len()
    ));
    for f in &r.forgotten {
        human.push_str(&format!("  {} ({})\n", f.name, f.path));
    }
    if !r.strays.is_empty() {
        human.push_str(&format!("{} stray director(ies):\n", r.strays.len()));
        for st in &r.strays {
            human.push_str(&format!(
                "  {}  {}{}\n",
                st.path.display(),
                st.action,
                st.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        if !r.force && r.strays.iter().any(|s| s.reason.is_none()) {
            human.push_str("  delete the clean ones with `imi prune --force`\n");
        }
    }
    human
}
