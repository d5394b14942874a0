//! `imi hooks list|approve|revoke|run` (see `ops::hooks`), and the question a
//! terminal user gets before `imi add` runs a project command nobody approved yet.

use std::io::{BufRead, IsTerminal, Write};

use imi_core::Result;

use super::Ctx;
use crate::cli::HooksCommand;
use crate::ops::hooks::{self, Origin};
use crate::setup::Hook;
use crate::table;
use crate::ui::Output;

pub async fn cmd_hooks(ctx: &Ctx<'_>, c: &HooksCommand) -> Result<Output> {
    let project = ctx.project();
    match c {
        HooksCommand::List => {
            let r = hooks::list(&ctx.env, project.as_deref()).await?;
            let rows: Vec<Vec<String>> = r
                .commands
                .iter()
                .map(|c| {
                    vec![
                        c.hook.clone(),
                        match c.origin {
                            Origin::User => "your config".into(),
                            Origin::Project => ".imi.toml".into(),
                        },
                        match (c.origin, &c.approved_by) {
                            (Origin::User, _) => "trusted".into(),
                            (_, Some(by)) => format!("approved by {by}"),
                            (_, None) => "NOT APPROVED".into(),
                        },
                        c.command.clone(),
                    ]
                })
                .collect();
            let human = if rows.is_empty() {
                format!(
                    "No hooks configured for {} (.imi.toml or your config's [hooks]).",
                    r.project
                )
            } else {
                table::render(&["HOOK", "FROM", "TRUST", "COMMAND"], &rows)
            };
            Output::report(&r, human)
        }
        HooksCommand::Approve { command } => {
            let r = hooks::approve(&ctx.env, project.as_deref(), command.as_deref()).await?;
            let human = if r.approved.is_empty() {
                format!("{} has no project hook commands to approve.", r.project)
            } else {
                r.approved
                    .iter()
                    .map(|a| format!("Approved for {}: {}", r.project, a.command))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Output::report(&r, human)
        }
        HooksCommand::Revoke { command } => {
            let r = hooks::revoke(&ctx.env, project.as_deref(), command.as_deref()).await?;
            let human = if r.revoked.is_empty() {
                "Nothing was approved.".to_string()
            } else {
                r.revoked
                    .iter()
                    .map(|c| format!("Revoked: {c}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Output::report(&r, human)
        }
        HooksCommand::Run {
            hook,
            worktree,
            force,
        } => {
            let hook = Hook::parse(hook)?;
            let r = hooks::rerun(
                &ctx.env,
                project.as_deref(),
                hook,
                worktree.as_deref(),
                *force,
            )
            .await?;
            let lines: Vec<String> = r
                .hooks
                .iter()
                .map(|h| {
                    format!(
                        "{} {}: {}  {}",
                        h.hook,
                        h.command,
                        h.outcome(),
                        h.log.as_deref().unwrap_or("")
                    )
                })
                .collect();
            let human = if lines.is_empty() {
                format!("No {} commands configured.", hook.name())
            } else {
                lines.join("\n")
            };
            Output::report(&r, human)
        }
    }
}

/// On a terminal (stdin and stderr, not `--json`), asks about each project command
/// of `hook` nobody approved yet and approves the ones the user accepts. Elsewhere
/// it asks nothing: the operation skips unapproved commands and says so.
pub async fn ask_approvals(ctx: &Ctx<'_>, hook: Hook) -> Result<()> {
    if ctx.global.json || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(());
    }
    let project = ctx.project();
    // outside a project there is nothing to ask about (the add will say why)
    let Ok(list) = hooks::list(&ctx.env, project.as_deref()).await else {
        return Ok(());
    };
    for c in list
        .commands
        .iter()
        .filter(|c| !c.approved && c.hook == hook.name())
    {
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "{}'s .imi.toml has a {} hook:\n    {}\nRun it now and from now on (for every agent sharing this registry)? [y/N] ",
            list.project,
            hook.name(),
            c.command
        );
        let _ = err.flush();
        drop(err);
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            hooks::approve(&ctx.env, project.as_deref(), Some(&c.command)).await?;
        }
    }
    Ok(())
}
