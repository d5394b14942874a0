//! The event log (SPEC §7.2): one row per change of registry state, written by the
//! registry itself (triggers) in the transaction of the change, so an event exists
//! if and only if its change committed. Ids are gap-free and in commit order: a
//! follower that has read up to id N asks for `id > N` and never misses one.
//!
//! The types (`imi.<subject>.<verb>`) are listed in [`TYPES`]; what each payload
//! holds is documented in the README ("Events").

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::columns::{Columns, FromColumns};
use crate::error::{Error, Result};
use crate::model::Metadata;

/// Every event type a registry writes, in the README's order.
pub const TYPES: &[&str] = &[
    "imi.project.registered",
    "imi.project.updated",
    "imi.project.deactivated",
    "imi.project.reactivated",
    "imi.project.deleted",
    "imi.worktree.created",
    "imi.worktree.git_state",
    "imi.worktree.metadata",
    "imi.worktree.merged",
    "imi.worktree.removed",
    "imi.worktree.deleted",
    "imi.claim.claimed",
    "imi.claim.renewed",
    "imi.claim.released",
    "imi.claim.stolen",
    "imi.activity.logged",
    "imi.hook.ran",
    "imi.hook.approved",
    "imi.hook.revoked",
    "imi.type.added",
    "imi.type.removed",
    "imi.registry.imported",
];

/// The most events one read returns.
pub const MAX_LIMIT: i64 = 10_000;

/// One row of `events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub project_id: Option<Uuid>,
    pub project_name: Option<String>,
    pub worktree_id: Option<Uuid>,
    pub worktree_name: Option<String>,
    pub agent_id: Option<String>,
    pub host: Option<String>,
    /// Small, type-specific facts (an epoch, a commit, an activity's type); keys
    /// without a value are left out.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Metadata,
    pub created_at: DateTime<Utc>,
}

impl FromColumns for Event {
    fn from_columns(r: &impl Columns) -> Result<Event> {
        let mut payload = r.metadata("payload")?;
        payload.retain(|_, v| !v.is_null());
        Ok(Event {
            id: r.count("id")?,
            event_type: r.text("type")?,
            project_id: r.opt_uuid("project_id")?,
            project_name: r.opt_text("project_name")?,
            worktree_id: r.opt_uuid("worktree_id")?,
            worktree_name: r.opt_text("worktree_name")?,
            agent_id: r.opt_text("agent_id")?,
            host: r.opt_text("host")?,
            payload,
            created_at: r.time("created_at")?,
        })
    }
}

/// Which events to read: after an id (oldest first), or the latest `limit` (still
/// returned oldest first), optionally of some types and of one project.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventFilter {
    /// Events with a larger id, oldest first; `None`: the latest `limit` events.
    pub after: Option<i64>,
    /// Types to keep (exact, or a prefix ending in `.`: `imi.claim.`); empty: all.
    pub types: Vec<String>,
    pub project_id: Option<Uuid>,
    pub limit: i64,
}

impl EventFilter {
    /// Checks the limit and the types: a misspelt type would otherwise match nothing
    /// and a follower would wait forever.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(
                Error::validation(format!("event limit {} is out of range", self.limit))
                    .with_hint(format!("give a limit from 1 to {MAX_LIMIT}")),
            );
        }
        if let Some(a) = self.after
            && a < 0
        {
            return Err(Error::validation(format!("event id {a} is negative"))
                .with_hint("give the id of the last event you read (0: from the start)"));
        }
        for t in &self.types {
            let known = if t.ends_with('.') {
                TYPES.iter().any(|k| k.starts_with(t.as_str()))
            } else {
                TYPES.contains(&t.as_str())
            };
            if !known {
                return Err(
                    Error::validation(format!("unknown event type {t:?}")).with_hint(format!(
                        "use one of {}, or a prefix such as imi.claim.",
                        TYPES.join(", ")
                    )),
                );
            }
        }
        Ok(())
    }

    /// Whether `event_type` passes the type filter.
    pub fn keeps(&self, event_type: &str) -> bool {
        self.types.is_empty()
            || self.types.iter().any(|t| {
                if t.ends_with('.') {
                    event_type.starts_with(t.as_str())
                } else {
                    event_type == t
                }
            })
    }

    /// The `LIKE` patterns of the type filter (`imi.claim.%` for a prefix), for SQL.
    pub fn like_patterns(&self) -> Vec<String> {
        self.types
            .iter()
            .map(|t| {
                if t.ends_with('.') {
                    format!("{t}%")
                } else {
                    t.clone()
                }
            })
            .collect()
    }
}

/// Waits until new events may exist: a backend's wake-up (PostgreSQL's NOTIFY) or a
/// poll. A wake-up is a hint, never the data: the follower reads `id > last` after
/// every return, so a spurious or late wake-up costs a query, never an event.
pub trait EventWaiter: Send {
    /// Returns when new events may have been committed, at the latest after the
    /// waiter's own poll interval.
    fn wait(&mut self) -> impl Future<Output = ()> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(types: &[&str]) -> EventFilter {
        EventFilter {
            types: types.iter().map(|t| t.to_string()).collect(),
            limit: 10,
            ..Default::default()
        }
    }

    #[test]
    fn type_filters_are_exact_or_prefixes() {
        let f = filter(&["imi.claim.", "imi.worktree.merged"]);
        f.validate().unwrap();
        assert!(f.keeps("imi.claim.stolen"));
        assert!(f.keeps("imi.worktree.merged"));
        assert!(!f.keeps("imi.worktree.removed"));
        assert_eq!(f.like_patterns(), ["imi.claim.%", "imi.worktree.merged"]);
        assert!(filter(&[]).keeps("imi.type.added"));
    }

    #[test]
    fn a_misspelt_type_or_bad_limit_is_refused() {
        let e = filter(&["imi.claim.stole"]).validate().unwrap_err();
        assert!(e.to_string().contains("unknown event type"), "{e}");
        assert!(filter(&["imi.nothing."]).validate().is_err());
        let mut f = filter(&[]);
        f.limit = 0;
        assert!(f.validate().is_err());
        f.limit = 5;
        f.after = Some(-1);
        assert!(f.validate().is_err());
    }
}
