//! `imi types list|add|remove`: worktree types (SPEC §2).

use imi_core::Result;

use super::Ctx;
use crate::cli::TypesCommand;
use crate::ops::types::{self, AddArgs, TypeList};
use crate::table;
use crate::ui::Output;

pub async fn cmd_types(ctx: &Ctx<'_>, cmd: &TypesCommand) -> Result<Output> {
    match cmd {
        TypesCommand::List => {
            let r = types::list(&ctx.env).await?;
            Output::report(&r, render_list(&r))
        }
        TypesCommand::Add {
            name,
            branch_prefix,
            worktree_prefix,
            description,
        } => {
            let args = AddArgs {
                name: name.clone(),
                branch_prefix: branch_prefix.clone(),
                worktree_prefix: worktree_prefix.clone(),
                description: description.clone(),
            };
            let r = types::add(&ctx.env, &args).await?;
            let t = &r.added;
            let human = format!(
                "Added type {}: branches {}<name>, directories {}<name>",
                t.name, t.branch_prefix, t.worktree_prefix
            );
            Output::report(&r, human)
        }
        TypesCommand::Remove { name } => {
            let r = types::remove(&ctx.env, name).await?;
            let human = format!("Removed type {}", r.removed);
            Output::report(&r, human)
        }
    }
}

fn render_list(r: &TypeList) -> String {
    let rows: Vec<Vec<String>> = r
        .types
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                if t.branch_prefix.is_empty() {
                    "-".into()
                } else {
                    t.branch_prefix.clone()
                },
                t.worktree_prefix.clone(),
                if t.is_builtin {
                    "built-in".into()
                } else {
                    "custom".into()
                },
                t.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table::render(
        &["TYPE", "BRANCH PREFIX", "DIR PREFIX", "KIND", "DESCRIPTION"],
        &rows,
    )
}
