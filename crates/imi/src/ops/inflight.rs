//! In-flight work (SPEC §3.3) across all projects (or one), most recently changed
//! first, with the age of each worktree's last sync; and the registry's counts.

use chrono::Utc;
use imi_core::{InflightWork, RegistryStats, Result, Store};
use serde::{Deserialize, Serialize};

use super::{Env, Report, common};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Args {
    /// One project; all when `None`.
    pub project: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inflight {
    /// The project's name when one was asked for.
    pub project: Option<String>,
    pub inflight: Vec<InflightEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InflightEntry {
    #[serde(flatten)]
    pub work: InflightWork,
    /// Seconds since the last `imi sync` wrote the state; `None`: never synced.
    pub sync_age_seconds: Option<i64>,
    /// The held claim on the worktree's name (any host), `None` when free.
    pub claim: Option<imi_core::Claim>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    pub stats: RegistryStats,
    /// `sqlite` or `postgres`.
    pub backend: String,
}

impl Report for Inflight {}
impl Report for Stats {}

pub async fn inflight(env: &Env, args: &Args) -> Result<Inflight> {
    let (project, rows, claims) = with_store!(env.store().await?, s => {
        let project = match &args.project {
            Some(spec) => Some(common::project_by_spec(s, spec).await?),
            None => None,
        };
        let rows = s.inflight(project.as_ref().map(|p| p.id)).await?;
        let claims = if rows.is_empty() {
            Default::default()
        } else {
            super::claims::held_by_item(s, project.as_ref().map(|p| p.id)).await?
        };
        (project, rows, claims)
    });
    let now = Utc::now();
    Ok(Inflight {
        project: project.map(|p| p.name),
        inflight: rows
            .into_iter()
            .map(|work| InflightEntry {
                claim: claims
                    .get(&(work.project_id, work.worktree_name.clone()))
                    .cloned(),
                sync_age_seconds: work.last_sync_at.map(|t| (now - t).num_seconds().max(0)),
                work,
            })
            .collect(),
    })
}

pub async fn stats(env: &Env) -> Result<Stats> {
    with_store!(env.store().await?, s => Ok(Stats {
        stats: s.stats().await?,
        backend: s.backend().to_string(),
    }))
}
