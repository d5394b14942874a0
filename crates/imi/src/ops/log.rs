//! The activity log: the newest entries (of everyone, or of one agent), and
//! appending one.

use imi_core::{Activity, NewActivity, Result, Store};
use serde::{Deserialize, Serialize};

use super::{Env, Report, common};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListArgs {
    /// Only this agent's entries.
    pub agent: Option<String>,
    pub limit: i64,
}

/// Newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityLog {
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddArgs {
    /// The project of `worktree` (`-p`), else the one the current directory is in.
    pub project: Option<String>,
    /// created, modified, deleted, committed, pushed, merged, synced, claimed,
    /// released, removed or other.
    pub activity_type: String,
    pub description: String,
    /// The worktree it concerns.
    pub worktree: Option<String>,
    /// The file it concerns.
    pub file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Logged {
    pub activity: Activity,
}

impl Report for ActivityLog {}
impl Report for Logged {}

pub async fn list(env: &Env, args: &ListArgs) -> Result<ActivityLog> {
    let activities = with_store!(env.store().await?, s => match &args.agent {
        Some(agent) => s.recent_activities_by_agent(agent, args.limit).await,
        None => s.recent_activities(args.limit).await,
    })?;
    Ok(ActivityLog { activities })
}

/// Appends an entry by this environment's agent.
pub async fn add(env: &Env, args: &AddArgs) -> Result<Logged> {
    with_store!(env.store().await?, s => add_in(s, env, args).await)
}

async fn add_in<S: Store>(s: &S, env: &Env, args: &AddArgs) -> Result<Logged> {
    let worktree_id = match &args.worktree {
        Some(name) => {
            let project = common::resolve_project(s, env, args.project.as_deref()).await?;
            Some(common::find_worktree(s, &project, name).await?.id)
        }
        None => None,
    };
    let activity = s
        .log_activity(&NewActivity {
            agent_id: env.agent_id().to_string(),
            worktree_id,
            activity_type: args.activity_type.clone(),
            description: Some(args.description.clone()),
            file_path: args.file.clone(),
            ..Default::default()
        })
        .await?;
    Ok(Logged { activity })
}
