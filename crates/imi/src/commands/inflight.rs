//! `imi inflight`: in-flight work (SPEC §3.3) across all projects (or `-p` one),
//! most recently changed first, with the age of each worktree's last sync.
//! `imi stats`: the registry's counts.

use imi_core::Result;

use super::Ctx;
use crate::ops::inflight::{self, Args, Inflight, Stats};
use crate::table::{self, Cell, Term};
use crate::ui::Output;

pub async fn cmd_inflight(ctx: &Ctx<'_>) -> Result<Output> {
    let r = inflight::inflight(
        &ctx.env,
        &Args {
            project: ctx.project(),
        },
    )
    .await?;
    Ok(Output::report(&r, render(&r, Term::stdout()))?.styled())
}

pub async fn cmd_stats(ctx: &Ctx<'_>) -> Result<Output> {
    let r = inflight::stats(&ctx.env).await?;
    Output::report(&r, render_stats(&r))
}

/// [`age_of`] of a sync at `t`, seen at `now`.
#[cfg(test)]
fn age(t: Option<chrono::DateTime<chrono::Utc>>, now: chrono::DateTime<chrono::Utc>) -> String {
    age_of(t.map(|t| (now - t).num_seconds().max(0)))
}

/// `42s ago`, `5m ago`, `3h ago`, `2d ago` ([`imi_core::display::age`] of the
/// seconds since the last sync); `never` for no sync yet.
fn age_of(secs: Option<i64>) -> String {
    secs.map_or_else(
        || "never".into(),
        |s| format!("{} ago", imi_core::display::age(s)),
    )
}

fn render(r: &Inflight, term: Term) -> String {
    if r.inflight.is_empty() {
        return "No work in flight: every worktree is clean and level with trunk (as of its last `imi sync`).".to_string();
    }
    // the column appears once some worktree is claimed
    let claimed = r.inflight.iter().any(|e| e.claim.is_some());
    let rows: Vec<Vec<Cell>> = r
        .inflight
        .iter()
        .map(|e| {
            let w = &e.work;
            let mut row = vec![
                Cell::plain(w.project_name.clone()),
                Cell::plain(w.worktree_name.clone()),
                Cell::new(w.status.as_str(), table::status_style(w.status.as_str())),
                Cell::plain(w.uncommitted_count.to_string()),
                Cell::plain(format!("+{} -{}", w.ahead, w.behind)),
                w.agent_id
                    .clone()
                    .map_or(Cell::new("-", table::DIM), Cell::plain),
                Cell::plain(w.host.clone()),
                Cell::new(age_of(e.sync_age_seconds), table::DIM),
            ];
            if claimed {
                row.push(e.claim.as_ref().map_or(Cell::new("-", table::DIM), |c| {
                    Cell::new(c.agent_id.clone(), table::MAGENTA)
                }));
            }
            row
        })
        .collect();
    let mut headers = vec![
        "PROJECT",
        "WORKTREE",
        "STATUS",
        "DIRTY",
        "AHEAD/BEHIND",
        "OWNER",
        "HOST",
        "SYNCED",
    ];
    if claimed {
        headers.push("CLAIMED BY");
    }
    // on a narrow terminal, cut the worktree's and the project's names first
    table::render_styled(&headers, rows, &[(1, 12), (0, 10), (6, 10)], term)
}

fn render_stats(r: &Stats) -> String {
    let st = &r.stats;
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
    table::render(&["", "ACTIVE", "TOTAL"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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
