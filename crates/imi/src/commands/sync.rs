//! `imi sync [-p P] [--register [--type T]] [--watch]`: reads every active worktree
//! of this host from git and writes its in-flight state to the registry (see
//! `ops::sync`); `--watch` then keeps it current (`ops::watch`). On a terminal,
//! `--register` asks the type of a worktree whose name no type's prefix starts.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use imi_core::Result;

use super::Ctx;
use crate::cli;
use crate::ops::sync::{self, SyncArgs, Synced};
use crate::ops::watch::{self, WatchArgs};
use crate::table;
use crate::ui::Output;

pub async fn cmd_sync(ctx: &Ctx<'_>, args: &cli::SyncArgs) -> Result<Output> {
    let mut types = BTreeMap::new();
    if args.register && args.type_name.is_none() && !ctx.global.json && interactive() {
        let untyped = sync::untyped(&ctx.env, ctx.global.project.as_deref()).await?;
        for path in untyped.paths {
            if let Some(t) = ask_type(&untyped.types, &path) {
                types.insert(path, t);
            }
        }
    }
    let sync_args = SyncArgs {
        project: ctx.project(),
        register: args.register,
        type_name: args.type_name.clone(),
        types,
    };
    let r = sync::sync(&ctx.env, &sync_args).await?;
    let human = render(&r);
    if !args.watch {
        return Output::report(&r, human);
    }
    ctx.ui.note(human.lines().last().unwrap_or("synced").trim());
    let watched = watch::watch(
        &ctx.env,
        &WatchArgs {
            project: ctx.project(),
        },
    )
    .await?;
    Output::report(&watched, "")
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn ask_type(names: &[String], path: &Path) -> Option<String> {
    dialoguer::Select::new()
        .with_prompt(format!("Type of {}", path.display()))
        .items(names)
        .default(0)
        .interact_on_opt(&dialoguer::console::Term::stderr())
        .ok()
        .flatten()
        .and_then(|i| names.get(i).cloned())
}

fn render(r: &Synced) -> String {
    let mut human = String::new();
    let rows: Vec<Vec<String>> = r
        .worktrees
        .iter()
        .filter(|w| w.changed || w.status == "missing" || w.status == "failed")
        .map(|w| {
            vec![
                w.project.clone(),
                w.name.clone(),
                w.status.clone(),
                w.uncommitted_files_count.to_string(),
                format!("+{} -{}", w.ahead_of_trunk, w.behind_trunk),
            ]
        })
        .collect();
    if !rows.is_empty() {
        human.push_str(&table::render(
            &["PROJECT", "WORKTREE", "STATUS", "DIRTY", "AHEAD/BEHIND"],
            &rows,
        ));
        human.push('\n');
    }
    let sum = &r.summary;
    human.push_str(&format!(
        "synced {}, changed {}, missing {}, failed {}",
        sum.synced, sum.changed, sum.missing, sum.failed
    ));
    if sum.registered > 0 {
        human.push_str(&format!(", registered {}", sum.registered));
    }
    human.push('\n');
    for m in &r.missing {
        human.push_str(&format!(
            "missing: {} ({}): run `imi prune` to forget it\n",
            m.name, m.path
        ));
    }
    for f in &r.failed {
        human.push_str(&format!("failed: {}: {}\n", f.path, f.error));
    }
    for u in &r.unregistered {
        human.push_str(&format!(
            "not registered: {}{}\n",
            u.path,
            match &u.reason {
                Some(reason) => format!(" ({reason})"),
                None => " (run `imi sync --register`)".into(),
            }
        ));
    }
    human
}
