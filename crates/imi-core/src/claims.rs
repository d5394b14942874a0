//! Claims with leases (SPEC §7.1): who works on a work item (a project's worktree
//! name, on every host). The record a store returns, the inputs of its claim
//! operations and their rules; the wording of every refusal is in
//! [`crate::messages`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::columns::{Columns, FromColumns};
use crate::error::{Error, Result};
use crate::model::check_id;

/// The longest lease: ten years, in seconds (a longer one is "until released").
pub const MAX_TTL_SECONDS: i64 = 10 * 366 * 24 * 3600;
/// The longest purpose text, in bytes.
pub const MAX_PURPOSE_BYTES: usize = 1024;

/// One row of `claims`: the last tenure of a work item (held, released or expired).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claim {
    pub project_id: Uuid,
    pub project_name: String,
    pub worktree_name: String,
    /// The worktree row the claim was made through (`None` once that row is pruned).
    pub worktree_id: Option<Uuid>,
    /// The holder (of the last tenure when the claim is no longer held).
    pub agent_id: String,
    /// The host of the worktree the holder claimed through.
    pub host: String,
    /// The fencing token: grows by one each time the item changes hands.
    pub epoch: i64,
    pub purpose: Option<String>,
    /// The lease length in seconds; `None`: held until released.
    pub ttl_seconds: Option<i64>,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: Option<DateTime<Utc>>,
    /// `None`: held until released.
    pub expires_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    /// The holder whose expired lease this tenure took over (logged as stolen).
    pub stolen_from: Option<String>,
    /// Held right now by the database's clock: not released, lease not ended.
    pub held: bool,
    /// The database's clock when the row was read (for "expires in").
    pub read_at: DateTime<Utc>,
}

impl Claim {
    /// Whether `agent` holds the claim right now.
    pub fn held_by(&self, agent: &str) -> bool {
        self.held && self.agent_id == agent
    }

    /// Seconds until the lease ends (by the database's clock when read), `None`
    /// for a claim held until released; 0 once ended.
    pub fn expires_in_seconds(&self) -> Option<i64> {
        self.expires_at
            .map(|e| (e - self.read_at).num_seconds().max(0))
    }

    /// "held by ... until ..." in words, for messages.
    pub fn lease_words(&self) -> String {
        match self.expires_at {
            None => "held until released".to_string(),
            Some(e) => format!(
                "lease ends {}",
                e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

impl FromColumns for Claim {
    /// A `claims` row plus `project_name`, `held` and `read_at` columns.
    fn from_columns(r: &impl Columns) -> Result<Claim> {
        Ok(Claim {
            project_id: r.uuid("project_id")?,
            project_name: r.text("project_name")?,
            worktree_name: r.text("worktree_name")?,
            worktree_id: r.opt_uuid("worktree_id")?,
            agent_id: r.text("agent_id")?,
            host: r.text("host")?,
            epoch: r.count("epoch")?,
            purpose: r.opt_text("purpose")?,
            ttl_seconds: r.opt_count("ttl_seconds")?,
            acquired_at: r.time("acquired_at")?,
            renewed_at: r.opt_time("renewed_at")?,
            expires_at: r.opt_time("expires_at")?,
            released_at: r.opt_time("released_at")?,
            stolen_from: r.opt_text("stolen_from")?,
            held: r.flag("held")?,
            read_at: r.time("read_at")?,
        })
    }
}

/// Input of [`crate::Store::claim`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewClaim {
    pub worktree_id: Uuid,
    pub agent_id: String,
    /// `None`: held until released.
    pub ttl_seconds: Option<i64>,
    pub purpose: Option<String>,
}

impl NewClaim {
    pub fn validate(&self) -> Result<()> {
        check_id("agent id", &self.agent_id)?;
        check_ttl(self.ttl_seconds)?;
        if let Some(p) = &self.purpose {
            crate::naming::check_len("purpose", p, MAX_PURPOSE_BYTES)?;
        }
        Ok(())
    }
}

/// A lease length: at least one second, at most [`MAX_TTL_SECONDS`].
pub fn check_ttl(ttl_seconds: Option<i64>) -> Result<()> {
    match ttl_seconds {
        Some(t) if !(1..=MAX_TTL_SECONDS).contains(&t) => Err(Error::validation(format!(
            "lease length {t}s is out of range"
        ))
        .with_hint(format!(
            "give a lease of 1s to {}d, or none to hold the claim until it is released",
            MAX_TTL_SECONDS / 86400
        ))),
        _ => Ok(()),
    }
}

/// What [`crate::Store::claim`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimGrant {
    pub claim: Claim,
    /// The caller held it already: the lease was renewed, the epoch kept.
    pub renewed: bool,
}

/// How [`crate::Store::release_claim`] is scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseScope {
    /// Only the holder's tenure of this epoch.
    Epoch(i64),
    /// Whoever holds it (`--force`; logged with the holder).
    Force,
}

/// Which claims [`crate::Store::list_claims`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFilter {
    pub project_id: Option<Uuid>,
    /// Also released and expired claims.
    pub include_ended: bool,
}

/// Parses a lease length: `90s`, `30m`, `2h`, `1d`, `1h30m`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let bad = || {
        Error::validation(format!("invalid duration {text:?}"))
            .with_hint("write a duration like 90s, 30m, 2h, 1d or 1h30m")
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = t.parse::<i64>() {
        check_ttl(Some(n))?;
        return Ok(n);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    check_ttl(Some(total))?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        for bad in ["", "m", "3x", "1h3", "-5", "0s", "99999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

/// The worktree a claim operation named, as found after the operation matched no
/// row: `None` when there is no such worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTarget {
    pub name: String,
    pub active: bool,
}

/// Why [`crate::Store::claim`] matched no row: the refusal, or `None` when the item
/// is free now (released or expired meanwhile: claim again).
pub fn claim_refusal(
    worktree_id: Uuid,
    target: Option<&ClaimTarget>,
    found: Option<&Claim>,
) -> Option<Error> {
    match target {
        None => return Some(crate::messages::worktree_not_found(worktree_id)),
        Some(t) if !t.active => {
            return Some(crate::messages::worktree_removed(&t.name, worktree_id));
        }
        Some(_) => {}
    }
    match found {
        Some(c) if c.held => Some(crate::messages::claim_held(c)),
        _ => None,
    }
}

/// The answer of [`crate::Store::release_claim`] when it matched no row: releasing
/// one's own released tenure again is the claim as it is; anything else a refusal.
pub fn release_outcome(
    worktree_id: Uuid,
    target: Option<&ClaimTarget>,
    agent: &str,
    scope: ReleaseScope,
    found: Option<Claim>,
) -> Result<Claim> {
    let Some(t) = target else {
        return Err(crate::messages::worktree_not_found(worktree_id));
    };
    match (scope, found) {
        (ReleaseScope::Epoch(e), Some(c))
            if c.released_at.is_some() && c.agent_id == agent && c.epoch == e =>
        {
            Ok(c)
        }
        (ReleaseScope::Epoch(e), found) => Err(crate::messages::claim_not_yours(
            &t.name,
            agent,
            Some(e),
            found.as_ref(),
        )),
        (ReleaseScope::Force, _) => Err(Error::not_found(format!(
            "worktree {:?} is not claimed",
            t.name
        ))
        .with_hint("nothing to release")),
    }
}

/// The refusal of a renewal that matched no row.
pub fn renew_refusal(
    worktree_id: Uuid,
    target: Option<&ClaimTarget>,
    agent: &str,
    epoch: i64,
    found: Option<&Claim>,
) -> Error {
    match target {
        None => crate::messages::worktree_not_found(worktree_id),
        Some(t) => crate::messages::claim_not_yours(&t.name, agent, Some(epoch), found),
    }
}

/// The claim rule for a command that changes a worktree (`action`, e.g. "remove
/// feat-login"): free, or held by `agent`, goes ahead (`Ok(None)`); held by another
/// agent is a `CONFLICT` naming it unless `force`, which goes ahead with the claim
/// it overrides (`Ok(Some)`: the caller logs it).
pub fn gate<'c>(
    found: Option<&'c Claim>,
    agent: &str,
    force: bool,
    action: &str,
) -> Result<Option<&'c Claim>> {
    match found {
        Some(c) if c.held && c.agent_id != agent => {
            if force {
                Ok(Some(c))
            } else {
                Err(crate::messages::worktree_claimed(c, action))
            }
        }
        _ => Ok(None),
    }
}
