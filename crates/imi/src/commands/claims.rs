//! `imi claim`, `imi renew`, `imi release`, `imi claims`: who works where (see
//! `ops::claims` and SPEC §7.1).

use imi_core::Result;
use imi_core::claims::parse_duration;

use super::Ctx;
use crate::cli;
use crate::ops::claims::{self, ClaimArgs, ClaimReport, ListArgs, ReleaseArgs, RenewArgs, Target};
use crate::table;
use crate::ui::Output;

fn target(ctx: &Ctx<'_>, worktree: &Option<String>) -> Target {
    Target {
        project: ctx.project(),
        worktree: worktree.clone(),
    }
}

fn ttl(text: &Option<String>) -> Result<Option<i64>> {
    text.as_deref().map(parse_duration).transpose()
}

pub async fn cmd_claim(ctx: &Ctx<'_>, a: &cli::ClaimArgs) -> Result<Output> {
    let args = ClaimArgs {
        target: target(ctx, &a.worktree),
        ttl_seconds: ttl(&a.ttl)?,
        purpose: a.purpose.clone(),
    };
    let r = claims::claim(&ctx.env, &args).await?;
    let c = &r.claim;
    let verb = match (&c.stolen_from, r.renewed) {
        (_, true) => "Renewed the claim on".to_string(),
        (Some(prev), false) => format!("Took over (the lease of {prev} had ended)"),
        (None, false) => "Claimed".to_string(),
    };
    let human = format!(
        "{verb} {} for {} (epoch {}, {})",
        c.worktree_name,
        c.agent_id,
        c.epoch,
        lease(&r)
    );
    Output::report(&r, human)
}

pub async fn cmd_renew(ctx: &Ctx<'_>, a: &cli::RenewArgs) -> Result<Output> {
    let args = RenewArgs {
        target: target(ctx, &a.worktree),
        ttl_seconds: ttl(&a.ttl)?,
        epoch: a.epoch,
    };
    let r = claims::renew(&ctx.env, &args).await?;
    let human = format!(
        "Renewed the claim on {} (epoch {}, {})",
        r.claim.worktree_name,
        r.claim.epoch,
        lease(&r)
    );
    Output::report(&r, human)
}

pub async fn cmd_release(ctx: &Ctx<'_>, a: &cli::ReleaseArgs) -> Result<Output> {
    let args = ReleaseArgs {
        target: target(ctx, &a.worktree),
        force: a.force,
        epoch: a.epoch,
    };
    let r = claims::release(&ctx.env, &args).await?;
    let c = &r.claim;
    let human = if c.agent_id == ctx.env.agent_id() {
        format!("Released {} (epoch {})", c.worktree_name, c.epoch)
    } else {
        format!(
            "Released {}'s claim on {} (epoch {}; forced, logged)",
            c.agent_id, c.worktree_name, c.epoch
        )
    };
    Output::report(&r, human)
}

pub async fn cmd_claims(ctx: &Ctx<'_>, a: &cli::ClaimsArgs) -> Result<Output> {
    let args = ListArgs {
        project: ctx.project(),
        all: a.all,
    };
    let r = claims::list(&ctx.env, &args).await?;
    if r.claims.is_empty() {
        let none = if a.all { "No claims" } else { "No held claims" };
        return Output::report(&r, none);
    }
    let rows: Vec<Vec<String>> = r
        .claims
        .iter()
        .map(|c| {
            let k = &c.claim;
            vec![
                k.project_name.clone(),
                k.worktree_name.clone(),
                k.agent_id.clone(),
                k.host.clone(),
                k.epoch.to_string(),
                k.purpose.clone().unwrap_or_default(),
                expires(c),
            ]
        })
        .collect();
    let human = table::render(
        &[
            "PROJECT",
            "WORKTREE",
            "HOLDER",
            "HOST",
            "EPOCH",
            "PURPOSE",
            "EXPIRES IN",
        ],
        &rows,
    );
    Output::report(&r, human.trim_end().to_string())
}

/// "held until released", "lease ends in 29m 59s", or how it ended.
fn lease(r: &ClaimReport) -> String {
    match r.expires_in_seconds {
        None => "held until released".into(),
        Some(s) => format!("lease ends in {}", span(s)),
    }
}

fn expires(r: &ClaimReport) -> String {
    let c = &r.claim;
    if c.released_at.is_some() {
        return "released".into();
    }
    match r.expires_in_seconds {
        None => "never".into(),
        Some(_) if !c.held => "expired".into(),
        Some(s) => span(s),
    }
}

/// Seconds as `1h 2m 3s` (largest units first, zero units left out).
fn span(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}
