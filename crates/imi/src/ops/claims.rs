//! Claims with leases (SPEC §7.1): `claim`, `renew`, `release`, `claims`, and the
//! gate that commands changing a worktree pass ([`guard`]). The agent is the
//! environment's (`--agent`, else `IMI_AGENT_ID`, else the user name).

use imi_core::{Claim, ClaimFilter, NewActivity, NewClaim, ReleaseScope, Result, Store, Worktree};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Env, Report, common};
use crate::registry::with_store;

/// Which worktree: named, else the one the current directory is in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Target {
    /// The project (`-p`), else the one the current directory is in.
    pub project: Option<String>,
    pub worktree: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClaimArgs {
    #[serde(flatten)]
    pub target: Target,
    /// Lease length in seconds; `None`: held until released.
    pub ttl_seconds: Option<i64>,
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RenewArgs {
    #[serde(flatten)]
    pub target: Target,
    /// `None`: the claim's own lease length.
    pub ttl_seconds: Option<i64>,
    /// The tenure to renew; `None`: the current one (refused unless it is ours).
    pub epoch: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReleaseArgs {
    #[serde(flatten)]
    pub target: Target,
    /// Release whoever holds it (logged with the holder).
    pub force: bool,
    /// The tenure to release; `None`: the current one (refused unless it is ours).
    pub epoch: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListArgs {
    /// One project (`-p`); `None`: every project.
    pub project: Option<String>,
    /// Also released and expired claims.
    pub all: bool,
}

/// A claim after `claim`, `renew` or `release`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimReport {
    #[serde(flatten)]
    pub claim: Claim,
    /// The lease seconds left by the database's clock (`None`: until released).
    pub expires_in_seconds: Option<i64>,
    /// `claim` only: the caller held it already and renewed it.
    pub renewed: bool,
}

impl ClaimReport {
    fn of(claim: Claim, renewed: bool) -> ClaimReport {
        ClaimReport {
            expires_in_seconds: claim.expires_in_seconds(),
            claim,
            renewed,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimList {
    pub claims: Vec<ClaimReport>,
}

impl Report for ClaimReport {}
impl Report for ClaimList {}

async fn target<S: Store>(s: &S, env: &Env, t: &Target) -> Result<Worktree> {
    let project = common::resolve_project(s, env, t.project.as_deref()).await?;
    common::worktree_here_or_named(s, env, &project, t.worktree.as_deref()).await
}

/// Makes this agent the holder of the worktree (renews when it is already).
pub async fn claim(env: &Env, args: &ClaimArgs) -> Result<ClaimReport> {
    with_store!(env.store().await?, s => {
        let w = target(s, env, &args.target).await?;
        let g = s.claim(&NewClaim {
            worktree_id: w.id,
            agent_id: env.agent_id().to_string(),
            ttl_seconds: args.ttl_seconds,
            purpose: args.purpose.clone(),
        }).await?;
        Ok(ClaimReport::of(g.claim, g.renewed))
    })
}

/// A tenure named by the caller: epochs count from 1.
fn check_epoch(epoch: Option<i64>) -> Result<()> {
    match epoch {
        Some(e) if e < 1 => Err(imi_core::Error::validation(format!(
            "epoch {e} names no tenure: epochs count from 1"
        ))
        .with_hint(
            "use the claim's `epoch` (imi claims --json), or leave it out for the current one",
        )),
        _ => Ok(()),
    }
}

/// Extends this agent's lease (of `epoch`, else of its current tenure).
pub async fn renew(env: &Env, args: &RenewArgs) -> Result<ClaimReport> {
    check_epoch(args.epoch)?;
    with_store!(env.store().await?, s => {
        let w = target(s, env, &args.target).await?;
        let epoch = match args.epoch {
            Some(e) => e,
            None => s.get_claim(w.id).await?.map_or(0, |c| c.epoch),
        };
        let c = s.renew_claim(w.id, env.agent_id(), epoch, args.ttl_seconds).await?;
        Ok(ClaimReport::of(c, true))
    })
}

/// Ends this agent's claim, or with `force` whoever's (logged).
pub async fn release(env: &Env, args: &ReleaseArgs) -> Result<ClaimReport> {
    check_epoch(args.epoch)?;
    if args.force && args.epoch.is_some() {
        return Err(imi_core::Error::validation(
            "a forced release ends whichever tenure holds the claim; it takes no epoch",
        )
        .with_hint("drop the epoch to force, or drop force to release only that tenure"));
    }
    with_store!(env.store().await?, s => {
        let w = match target(s, env, &args.target).await {
            Ok(w) => w,
            // a worktree removed or merged meanwhile: its claim can still be
            // released (and was, when that was its last checkout: releasing again
            // answers the released claim)
            Err(e) if e.kind == imi_core::ErrorKind::NotFound && args.target.worktree.is_some() => {
                let project = common::resolve_project(s, env, args.target.project.as_deref()).await?;
                let name = args.target.worktree.as_deref().unwrap_or_default();
                s.get_worktree_by_name(project.id, name).await.map_err(|_| e)?
            }
            Err(e) => return Err(e),
        };
        let scope = match (args.force, args.epoch) {
            (true, _) => ReleaseScope::Force,
            (false, Some(e)) => ReleaseScope::Epoch(e),
            (false, None) => ReleaseScope::Epoch(s.get_claim(w.id).await?.map_or(0, |c| c.epoch)),
        };
        let c = s.release_claim(w.id, env.agent_id(), scope).await?;
        Ok(ClaimReport::of(c, false))
    })
}

/// Held claims (with `all` also ended ones), by project and worktree name.
pub async fn list(env: &Env, args: &ListArgs) -> Result<ClaimList> {
    with_store!(env.store().await?, s => {
        let project_id = match args.project.as_deref() {
            Some(spec) => Some(common::project_by_spec(s, spec).await?.id),
            None => None,
        };
        let found = s.list_claims(&ClaimFilter { project_id, include_ended: args.all }).await?;
        Ok(ClaimList { claims: found.into_iter().map(|c| ClaimReport::of(c, false)).collect() })
    })
}

/// The claim rule of a command that changes `w` (`action`: "remove", "merge", ...):
/// refused with `CONFLICT` naming the holder when another agent holds it, unless
/// `force`, which is logged in the activity log and noted.
pub async fn guard<S: Store>(
    s: &S,
    env: &Env,
    w: &Worktree,
    force: bool,
    action: &str,
) -> Result<()> {
    let found = s.get_claim(w.id).await?;
    let what = format!("{action} {}", w.name);
    let Some(c) = imi_core::claims::gate(found.as_ref(), env.agent_id(), force, &what)? else {
        return Ok(());
    };
    s.log_activity(&NewActivity {
        agent_id: env.agent_id().to_string(),
        worktree_id: Some(w.id),
        activity_type: "other".into(),
        description: Some(format!(
            "{what} despite the claim of {} (epoch {}; --force)",
            c.agent_id, c.epoch
        )),
        file_path: None,
        metadata: imi_core::metadata::require_object(json!({
            "claim_override": {"holder": c.agent_id, "epoch": c.epoch, "action": action}
        }))?,
    })
    .await?;
    env.observer().note(&format!(
        "{} is claimed by {} (epoch {}); going ahead because of --force (logged)",
        w.name, c.agent_id, c.epoch
    ));
    Ok(())
}

/// A work item with no checkout left needs no claim: once the last checkout of
/// `w`'s name (on any host) was removed, closed or merged, its held claim is
/// released (logged as `released`; another agent's, which `guard` let through with
/// `--force`, with the holder's name). A failure is only noted: the worktree is
/// gone already and `imi release` can end the claim.
pub async fn release_with_last_checkout<S: Store>(s: &S, env: &Env, w: &Worktree) {
    let run = async {
        let Some(c) = s.get_claim(w.id).await? else {
            return Ok(());
        };
        if !c.held {
            return Ok(());
        }
        let left = s
            .list_worktrees(&imi_core::WorktreeFilter {
                project_id: Some(w.project_id),
                ..Default::default()
            })
            .await?;
        if left.iter().any(|o| o.name == w.name && o.id != w.id) {
            return Ok(());
        }
        let scope = if c.agent_id == env.agent_id() {
            ReleaseScope::Epoch(c.epoch)
        } else {
            ReleaseScope::Force
        };
        s.release_claim(w.id, env.agent_id(), scope)
            .await
            .map(|_| ())
    };
    if let Err(e) = run.await {
        env.observer().note(&format!(
            "the claim on {} was not released ({}); run `imi release {}`",
            w.name, e.message, w.name
        ));
    }
}

/// The held claims of `project` (every project for `None`), by work item
/// (project id, worktree name): one read, for the views that show who works where.
pub async fn held_by_item<S: Store>(
    s: &S,
    project_id: Option<uuid::Uuid>,
) -> Result<std::collections::HashMap<(uuid::Uuid, String), Claim>> {
    let held = s
        .list_claims(&ClaimFilter {
            project_id,
            include_ended: false,
        })
        .await?;
    Ok(held
        .into_iter()
        .map(|c| ((c.project_id, c.worktree_name.clone()), c))
        .collect())
}
