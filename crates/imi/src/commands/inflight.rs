//! `imi inflight`: in-flight work (SPEC §3.3) across all projects (or `-p` one),
//! most recently changed first, with the age of each worktree's last sync.
//! `imi stats`: the registry's counts.

use chrono::{DateTime, Utc};
use imi_core::{Result, Store};
use serde_json::json;

use super::{Ctx, project_by_spec};
use crate::registry::with_store;
use crate::table;
use crate::ui::Output;

pub async fn cmd_inflight(ctx: &Ctx<'_>) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => inflight(s, ctx).await)
}

pub async fn cmd_stats(ctx: &Ctx<'_>) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => stats(s).await)
}

/// `42s`, `5m`, `3h`, `2d`; `never` for no sync yet.
pub fn age(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else {
        return "never".into();
    };
    let secs = (now - t).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

async fn inflight<S: Store>(s: &S, ctx: &Ctx<'_>) -> Result<Output> {
    let project = match &ctx.global.project {
        Some(spec) => Some(project_by_spec(s, spec).await?),
        None => None,
    };
    let rows = s.inflight(project.as_ref().map(|p| p.id)).await?;
    let now = Utc::now();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.project_name.clone(),
                r.worktree_name.clone(),
                r.status.as_str().to_string(),
                r.uncommitted_count.to_string(),
                format!("+{} -{}", r.ahead, r.behind),
                r.agent_id.clone().unwrap_or_else(|| "-".into()),
                r.host.clone(),
                age(r.last_sync_at, now),
            ]
        })
        .collect();
    let human = if rows.is_empty() {
        "No work in flight: every worktree is clean and level with trunk (as of its last `imi sync`).".to_string()
    } else {
        table::render(
            &[
                "PROJECT",
                "WORKTREE",
                "STATUS",
                "DIRTY",
                "AHEAD/BEHIND",
                "OWNER",
                "HOST",
                "SYNCED",
            ],
            &table_rows,
        )
    };
    let data: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = json!(r);
            v["sync_age_seconds"] = json!(r.last_sync_at.map(|t| (now - t).num_seconds().max(0)));
            v
        })
        .collect();
    Ok(Output::new(
        json!({"project": project.map(|p| p.name), "inflight": data}),
        human,
    ))
}

async fn stats<S: Store>(s: &S) -> Result<Output> {
    let st = s.stats().await?;
    let rows = vec![
        vec![
            "projects".to_string(),
            st.active_projects.to_string(),
            st.total_projects.to_string(),
        ],
        vec![
            "worktrees".to_string(),
            st.active_worktrees.to_string(),
            st.total_worktrees.to_string(),
        ],
        vec![
            "in flight".to_string(),
            st.in_flight_worktrees.to_string(),
            "-".to_string(),
        ],
        vec![
            "activities".to_string(),
            format!("{} in the last 24 h", st.activities_last_24h),
            st.total_activities.to_string(),
        ],
    ];
    let human = table::render(&["", "ACTIVE", "TOTAL"], &rows);
    Ok(Output::new(
        json!({"stats": st, "backend": s.backend()}),
        human,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = Utc::now();
        assert_eq!(age(None, now), "never");
        assert_eq!(age(Some(now - chrono::Duration::seconds(5)), now), "5s ago");
        assert_eq!(age(Some(now - chrono::Duration::minutes(7)), now), "7m ago");
        assert_eq!(age(Some(now - chrono::Duration::hours(3)), now), "3h ago");
        assert_eq!(age(Some(now - chrono::Duration::days(2)), now), "2d ago");
    }
}
