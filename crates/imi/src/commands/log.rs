//! `imi log [--agent ID]`: the activity log, newest first; `imi log add` appends.

use imi_core::Result;

use super::Ctx;
use crate::cli::{LogArgs, LogCommand};
use crate::ops::log::{self, ActivityLog, AddArgs, ListArgs};
use crate::table;
use crate::ui::Output;

pub async fn cmd_log(ctx: &Ctx<'_>, args: &LogArgs) -> Result<Output> {
    if let Some(LogCommand::Add {
        activity_type,
        description,
        worktree,
        file,
    }) = &args.add
    {
        let add = AddArgs {
            project: ctx.project(),
            activity_type: activity_type.clone(),
            description: description.clone(),
            worktree: worktree.clone(),
            file: file.clone(),
        };
        let r = log::add(&ctx.env, &add).await?;
        let human = format!(
            "Logged {} by {}",
            r.activity.activity_type, r.activity.agent_id
        );
        return Output::report(&r, human);
    }
    let list = ListArgs {
        agent: ctx.global.agent.clone(),
        limit: args.limit,
    };
    let r = log::list(&ctx.env, &list).await?;
    Output::report(&r, render(&r))
}

fn render(r: &ActivityLog) -> String {
    let rows: Vec<Vec<String>> = r
        .activities
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
    if rows.is_empty() {
        "No activity yet.".to_string()
    } else {
        table::render(&["WHEN", "AGENT", "TYPE", "WHERE", "WHAT"], &rows)
    }
}
