//! The board (SPEC §7.5): every worktree in flight across projects, hosts and
//! agents, sorted into columns. The one place that decides a card's column; the
//! server renders it (`GET /`), anything else may read it as data.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use imi_core::{Claim, ClaimFilter, Result, Store, Worktree, WorktreeFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Env, Report};
use crate::registry::with_store;

/// How long merged and removed worktrees stay on the board.
const RECENT_DAYS: i64 = 7;
/// At most this many merged or removed cards.
const RECENT_CARDS: usize = 30;
/// Activities read to find each worktree's last hook run.
const HOOK_SCAN: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// Clean and unclaimed.
    Available,
    /// An agent holds the claim.
    Claimed,
    /// Uncommitted, diverged or behind while unclaimed, an expired lease, a failed hook.
    Attention,
    /// Commits the trunk lacks, nothing else: ready to merge.
    Ready,
    /// Merged or removed in the last days.
    Done,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::Available,
        Column::Claimed,
        Column::Attention,
        Column::Ready,
        Column::Done,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Available => "Available",
            Column::Claimed => "Claimed",
            Column::Attention => "Needs attention",
            Column::Ready => "Ready to merge",
            Column::Done => "Merged or removed",
        }
    }

    /// What the column holds, in a sentence (the title's tooltip).
    pub fn hint(self) -> &'static str {
        match self {
            Column::Available => "Clean and unclaimed: free to pick up",
            Column::Claimed => "Held by an agent, with the lease's time left",
            Column::Attention => {
                "Uncommitted, diverged or behind while unclaimed, an expired lease, or a failed hook"
            }
            Column::Ready => "Commits the trunk lacks and nothing else: ready to merge",
            // RECENT_DAYS
            Column::Done => "Merged or removed in the last 7 days",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Column::Available => "available",
            Column::Claimed => "claimed",
            Column::Attention => "attention",
            Column::Ready => "ready",
            Column::Done => "done",
        }
    }
}

/// One worktree on the board.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Card {
    pub column: Column,
    pub project: String,
    pub worktree_id: Uuid,
    pub worktree: String,
    pub branch: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub host: String,
    /// The agent holding the claim (or whose lease ended, for an expired lease).
    pub holder: Option<String>,
    pub purpose: Option<String>,
    /// When the lease ends (`None`: held until released, or not claimed).
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The lease's length in seconds (`None`: held until released, or not claimed).
    pub lease_seconds: Option<i64>,
    pub dirty: i32,
    pub ahead: i32,
    pub behind: i32,
    pub last_commit: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Why the card needs attention (empty otherwise).
    pub reasons: Vec<String>,
    /// `merged` or `removed`, for the last column.
    pub ended: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BoardArgs {
    /// Only this project (by name).
    pub project: Option<String>,
    pub host: Option<String>,
    /// Only cards this agent holds or owns.
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Board {
    pub cards: Vec<Card>,
    /// Every project, host and agent on the board before filtering (for the filters).
    pub projects: Vec<String>,
    pub hosts: Vec<String>,
    pub agents: Vec<String>,
    /// The database's clock when read (lease countdowns start from it).
    pub now: DateTime<Utc>,
}

impl Report for Board {}

impl Board {
    pub fn column(&self, c: Column) -> impl Iterator<Item = &Card> {
        self.cards.iter().filter(move |card| card.column == c)
    }
}

/// The column of an active worktree, and why it needs attention.
pub fn classify(w: &Worktree, claim: Option<&Claim>, hook_failed: bool) -> (Column, Vec<String>) {
    let mut reasons = Vec::new();
    if let Some(c) = claim
        && c.held
    {
        return (Column::Claimed, reasons);
    }
    if let Some(c) = claim
        && c.released_at.is_none()
        && c.expires_at.is_some()
    {
        reasons.push(format!("lease of {} expired", c.agent_id));
    }
    if hook_failed {
        reasons.push("a hook failed".into());
    }
    if w.uncommitted_files_count > 0 {
        reasons.push(format!("{} uncommitted", w.uncommitted_files_count));
    }
    if w.ahead_of_trunk > 0 && w.behind_trunk > 0 {
        reasons.push("diverged from trunk".into());
    } else if w.behind_trunk > 0 {
        reasons.push(format!("{} behind trunk", w.behind_trunk));
    }
    let column = if !reasons.is_empty() {
        Column::Attention
    } else if w.ahead_of_trunk > 0 {
        Column::Ready
    } else {
        Column::Available
    };
    (column, reasons)
}

pub async fn board(env: &Env, args: &BoardArgs) -> Result<Board> {
    with_store!(env.store().await?, s => board_in(s, args).await)
}

async fn board_in<S: Store>(s: &S, args: &BoardArgs) -> Result<Board> {
    let projects = s.list_projects(false).await?;
    let names: HashMap<Uuid, String> = projects.iter().map(|p| (p.id, p.name.clone())).collect();
    let worktrees = s
        .list_worktrees(&WorktreeFilter {
            include_inactive: true,
            ..Default::default()
        })
        .await?;
    let claims = s
        .list_claims(&ClaimFilter {
            project_id: None,
            include_ended: true,
        })
        .await?;
    let now = claims.first().map(|c| c.read_at).unwrap_or_else(Utc::now);
    let by_item: HashMap<(Uuid, &str), &Claim> = claims
        .iter()
        .map(|c| ((c.project_id, c.worktree_name.as_str()), c))
        .collect();
    let hooks = last_hook_failed(s).await?;
    let mut cards = Vec::new();
    let mut recent = Vec::new();
    for w in &worktrees {
        let Some(project) = names.get(&w.project_id) else {
            continue;
        };
        if w.type_name == "trunk" {
            continue;
        }
        let claim = by_item.get(&(w.project_id, w.name.as_str())).copied();
        let mut card = Card {
            column: Column::Available,
            project: project.clone(),
            worktree_id: w.id,
            worktree: w.name.clone(),
            branch: w.branch_name.clone(),
            type_name: w.type_name.clone(),
            host: w.host.clone(),
            holder: None,
            purpose: None,
            lease_expires_at: None,
            lease_seconds: None,
            dirty: w.uncommitted_files_count,
            ahead: w.ahead_of_trunk,
            behind: w.behind_trunk,
            last_commit: w.last_commit_message.clone(),
            last_sync_at: w.last_sync_at,
            reasons: Vec::new(),
            ended: None,
            updated_at: w.updated_at,
        };
        if !w.active {
            if now - w.updated_at <= Duration::days(RECENT_DAYS) {
                card.column = Column::Done;
                card.ended = Some(
                    if w.merged_at.is_some() {
                        "merged"
                    } else {
                        "removed"
                    }
                    .into(),
                );
                card.holder = w.merged_by.clone();
                recent.push(card);
            }
            continue;
        }
        let (column, reasons) = classify(w, claim, hooks.get(&w.id).copied().unwrap_or(false));
        card.column = column;
        card.reasons = reasons;
        if let Some(c) = claim
            && (c.held || column == Column::Attention && c.released_at.is_none())
        {
            card.holder = Some(c.agent_id.clone());
            card.purpose = c.purpose.clone();
            card.lease_expires_at = c.expires_at;
            card.lease_seconds = c.ttl_seconds;
        }
        cards.push(card);
    }
    recent.sort_by_key(|c| std::cmp::Reverse(c.updated_at));
    recent.truncate(RECENT_CARDS);
    cards.sort_by(|a, b| {
        (a.project.as_str(), a.worktree.as_str()).cmp(&(b.project.as_str(), b.worktree.as_str()))
    });
    cards.extend(recent);
    let mut all_projects: Vec<String> = cards.iter().map(|c| c.project.clone()).collect();
    let mut hosts: Vec<String> = cards.iter().map(|c| c.host.clone()).collect();
    let mut agents: Vec<String> = cards.iter().filter_map(|c| c.holder.clone()).collect();
    for v in [&mut all_projects, &mut hosts, &mut agents] {
        v.sort();
        v.dedup();
    }
    cards.retain(|c| {
        args.project.as_ref().is_none_or(|p| c.project == *p)
            && args.host.as_ref().is_none_or(|h| c.host == *h)
            && args
                .agent
                .as_ref()
                .is_none_or(|a| c.holder.as_ref() == Some(a))
    });
    Ok(Board {
        cards,
        projects: all_projects,
        hosts,
        agents,
        now,
    })
}

/// For each worktree with a hook run among the latest activities: whether its
/// last run failed.
async fn last_hook_failed<S: Store>(s: &S) -> Result<HashMap<Uuid, bool>> {
    let activities = s.recent_activities(HOOK_SCAN).await?;
    let mut last: HashMap<Uuid, bool> = HashMap::new();
    // newest first: the first run seen per worktree is its last
    for a in activities {
        let (Some(id), Some(status)) = (a.worktree_id, a.metadata.get("status")) else {
            continue;
        };
        if !a.metadata.contains_key("hook") {
            continue;
        }
        last.entry(id)
            .or_insert(matches!(status.as_str(), Some("failed" | "timed_out")));
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worktree(dirty: i32, ahead: i32, behind: i32) -> Worktree {
        Worktree {
            id: Uuid::new_v4(),
            project_id: Uuid::new_v4(),
            type_name: "feat".into(),
            name: "feat-x".into(),
            branch_name: "feat/x".into(),
            path: "/x".into(),
            host: "h".into(),
            agent_id: None,
            has_uncommitted_changes: dirty > 0,
            uncommitted_files_count: dirty,
            ahead_of_trunk: ahead,
            behind_trunk: behind,
            last_commit_hash: None,
            last_commit_message: None,
            last_sync_at: None,
            merged_at: None,
            merged_by: None,
            merge_commit_hash: None,
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            active: true,
        }
    }

    #[test]
    fn columns() {
        assert_eq!(
            classify(&worktree(0, 0, 0), None, false).0,
            Column::Available
        );
        assert_eq!(classify(&worktree(0, 2, 0), None, false).0, Column::Ready);
        assert_eq!(
            classify(&worktree(3, 0, 0), None, false).0,
            Column::Attention
        );
        assert_eq!(
            classify(&worktree(0, 1, 1), None, false).0,
            Column::Attention
        );
        assert_eq!(
            classify(&worktree(0, 0, 1), None, false).0,
            Column::Attention
        );
        assert_eq!(
            classify(&worktree(0, 0, 0), None, true).0,
            Column::Attention
        );
        let (c, why) = classify(&worktree(0, 1, 1), None, false);
        assert_eq!(c, Column::Attention);
        assert_eq!(why, vec!["diverged from trunk".to_string()]);
    }
}
