//! `imi metadata set|get|unset <worktree> <key> [value]`: dotted keys set deep
//! values without touching siblings; a value that parses as JSON is stored as JSON.

use imi_core::Result;

use super::Ctx;
use crate::cli::MetadataCommand;
use crate::ops::metadata::{self, GetArgs, SetArgs, Target, UnsetArgs};
use crate::ui::Output;

pub async fn cmd_metadata(ctx: &Ctx<'_>, cmd: &MetadataCommand) -> Result<Output> {
    let target = |worktree: &String| Target {
        project: ctx.project(),
        worktree: worktree.clone(),
    };
    match cmd {
        MetadataCommand::Set {
            worktree,
            key,
            value,
            force,
        } => {
            let args = SetArgs {
                target: target(worktree),
                key: key.clone(),
                value: value.clone(),
                force: *force,
            };
            let r = metadata::set(&ctx.env, &args).await?;
            let human = format!("{} = {}", r.key, show(&r.value));
            Output::report(&r, human)
        }
        MetadataCommand::Get { worktree, key } => {
            let args = GetArgs {
                target: target(worktree),
                key: key.clone(),
            };
            let r = metadata::get(&ctx.env, &args).await?;
            let human = r.value.as_ref().map_or_else(|| "{}".into(), show);
            Output::report(&r, human)
        }
        MetadataCommand::Unset {
            worktree,
            key,
            force,
        } => {
            let args = UnsetArgs {
                target: target(worktree),
                key: key.clone(),
                force: *force,
            };
            let r = metadata::unset(&ctx.env, &args).await?;
            let human = if r.removed {
                format!("Removed {}", r.key)
            } else {
                format!("{} was not set", r.key)
            };
            Output::report(&r, human)
        }
    }
}

/// A stored metadata value (JSON by nature) for people: a string as itself,
/// anything else as pretty JSON.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
