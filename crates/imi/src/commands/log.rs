//! `imi log [--agent ID]`: the activity log, newest first; `imi log add` appends.

use imi_core::{NewActivity, Result, Store};
use serde_json::json;

use super::{Ctx, common, resolve_project};
use crate::cli::{LogArgs, LogCommand};
use crate::registry::with_store;
use crate::table;
use crate::ui::Output;

pub async fn cmd_log(ctx: &Ctx<'_>, args: &LogArgs) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => log(s, ctx, args).await)
}

async fn log<S: Store>(s: &S, ctx: &Ctx<'_>, args: &LogArgs) -> Result<Output> {
    if let Some(LogCommand::Add {
        activity_type,
        description,
        worktree,
        file,
    }) = &args.add
    {
        let worktree_id = match worktree {
            Some(name) => {
                let project = resolve_project(s, ctx).await?;
                Some(common::find_worktree(s, &project, name).await?.id)
            }
            None => None,
        };
        let a = s
            .log_activity(&NewActivity {
                agent_id: ctx.settings.agent_id.clone(),
                worktree_id,
                activity_type: activity_type.clone(),
                description: Some(description.clone()),
                file_path: file.clone(),
                ..Default::default()
            })
            .await?;
        return Ok(Output::new(
            json!({"activity": a}),
            format!("Logged {} by {}", a.activity_type, a.agent_id),
        ));
    }
    let list = match &ctx.global.agent {
        Some(agent) => s.recent_activities_by_agent(agent, args.limit).await?,
        None => s.recent_activities(args.limit).await?,
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.created_at
                    .with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                a.agent_id.clone(),
                a.activity_type.clone(),
                match (&a.project_name, &a.worktree_name) {
                    (Some(p), Some(w)) => format!("{p}/{w}"),
                    _ => "-".into(),
                },
                a.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let human = if rows.is_empty() {
        "No activity yet.".to_string()
    } else {
        table::render(&["WHEN", "AGENT", "TYPE", "WHERE", "WHAT"], &rows)
    };
    Ok(Output::new(json!({"activities": list}), human))
}
