//! `imi metadata set|get|unset <worktree> <key> [value]`: dotted keys set deep
//! values without touching siblings; a value that parses as JSON is stored as JSON.

use imi_core::{MetadataTarget, Result, Store, metadata};
use serde_json::{Value, json};

use super::{Ctx, common, resolve_project};
use crate::cli::MetadataCommand;
use crate::registry::with_store;
use crate::ui::Output;

pub async fn cmd_metadata(ctx: &Ctx<'_>, cmd: &MetadataCommand) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => meta(s, ctx, cmd).await)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

async fn meta<S: Store>(s: &S, ctx: &Ctx<'_>, cmd: &MetadataCommand) -> Result<Output> {
    let project = resolve_project(s, ctx).await?;
    let (MetadataCommand::Set { worktree, .. }
    | MetadataCommand::Get { worktree, .. }
    | MetadataCommand::Unset { worktree, .. }) = cmd;
    let w = common::find_worktree(s, &project, worktree).await?;
    let target = MetadataTarget::Worktree(w.id);
    match cmd {
        MetadataCommand::Set { key, value, .. } => {
            let v = metadata::parse_value(value);
            let doc = s.metadata_set(target, key, v.clone()).await?;
            Ok(Output::new(
                json!({"worktree": w.name, "key": key, "value": v, "metadata": doc}),
                format!("{key} = {}", show(&v)),
            ))
        }
        MetadataCommand::Get { key, .. } => {
            let v = s.metadata_get(target, key.as_deref()).await?;
            let human = match (&v, key) {
                (Some(v), _) => show(v),
                (None, Some(k)) => {
                    return Err(imi_core::Error::not_found(format!(
                        "{} has no metadata key {k:?}",
                        w.name
                    ))
                    .with_hint(format!("see all keys with `imi metadata get {}`", w.name)));
                }
                (None, None) => "{}".into(),
            };
            Ok(Output::new(
                json!({"worktree": w.name, "key": key, "value": v}),
                human,
            ))
        }
        MetadataCommand::Unset { key, .. } => {
            let removed = s.metadata_unset(target, key).await?;
            let human = if removed {
                format!("Removed {key}")
            } else {
                format!("{key} was not set")
            };
            Ok(Output::new(
                json!({"worktree": w.name, "key": key, "removed": removed}),
                human,
            ))
        }
    }
}
