//! `imi types list|add|remove`: worktree types (SPEC §2).

use imi_core::{NewWorktreeType, Result, Store};
use serde_json::json;

use super::Ctx;
use crate::cli::TypesCommand;
use crate::registry::with_store;
use crate::table;
use crate::ui::Output;

pub async fn cmd_types(ctx: &Ctx<'_>, cmd: &TypesCommand) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => types(s, cmd).await)
}

async fn types<S: Store>(s: &S, cmd: &TypesCommand) -> Result<Output> {
    match cmd {
        TypesCommand::List => {
            let list = s.list_types().await?;
            let rows: Vec<Vec<String>> = list
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
            Ok(Output::new(
                json!({"types": list}),
                table::render(
                    &["TYPE", "BRANCH PREFIX", "DIR PREFIX", "KIND", "DESCRIPTION"],
                    &rows,
                ),
            ))
        }
        TypesCommand::Add {
            name,
            branch_prefix,
            worktree_prefix,
            description,
        } => {
            let t = s
                .add_type(&NewWorktreeType {
                    name: name.clone(),
                    branch_prefix: branch_prefix.clone(),
                    worktree_prefix: worktree_prefix.clone(),
                    description: description.clone(),
                    ..Default::default()
                })
                .await?;
            let human = format!(
                "Added type {}: branches {}<name>, directories {}<name>",
                t.name, t.branch_prefix, t.worktree_prefix
            );
            Ok(Output::new(json!({"type": t}), human))
        }
        TypesCommand::Remove { name } => {
            s.remove_type(name).await?;
            Ok(Output::new(
                json!({"removed": name}),
                format!("Removed type {name}"),
            ))
        }
    }
}
