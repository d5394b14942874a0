//! The live git state of this host's worktrees (of one project, or of all projects
//! outside one), read from git and written back to the registry.

use imi_core::{Result, Store, Worktree, WorktreeFilter};
use serde::{Deserialize, Serialize};

use super::{Env, Report, common};
use crate::gitstate;
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Args {
    /// The project (`-p`); else the one the current directory is in, else all.
    pub project: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    pub worktrees: Vec<Live>,
    /// Whether the worktrees are of several projects (run outside one).
    #[serde(skip)]
    pub all_projects: bool,
    /// How many projects were looked at (0: the registry has none on this host).
    #[serde(skip)]
    pub projects: usize,
}

/// A worktree with the state just read from git.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Live {
    #[serde(flatten)]
    pub worktree: Worktree,
    /// A [`imi_core::WorkStatus`], or `missing` when the directory is gone.
    pub status: String,
    pub missing: bool,
    /// The held claim on the worktree's name (any host), `None` when free.
    pub claim: Option<imi_core::Claim>,
    /// The project's name.
    #[serde(skip)]
    pub project: String,
}

impl Report for Status {}

pub async fn status(env: &Env, args: &Args) -> Result<Status> {
    with_store!(env.store().await?, s => status_in(s, env, args).await)
}

async fn status_in<S: Store>(s: &S, env: &Env, args: &Args) -> Result<Status> {
    let spec = args.project.as_deref();
    let inside = common::inside_project(env, spec)?;
    let projects = if inside {
        vec![common::resolve_project(s, env, spec).await?]
    } else {
        common::on_this_host_all(s, s.list_projects(false).await?).await?
    };
    let mut rows = vec![];
    let mut jobs = vec![];
    for p in &projects {
        let filter = WorktreeFilter {
            project_id: Some(p.id),
            host: Some(s.host().to_string()),
            ..Default::default()
        };
        let trunk_ref = gitstate::project_trunk_ref(p);
        for w in s.list_worktrees(&filter).await? {
            jobs.push(gitstate::Job::of(&w, &trunk_ref));
            rows.push((p.name.clone(), w));
        }
    }
    let reads = gitstate::read_all(&jobs, || {}).await?;
    let project_id = if projects.len() == 1 {
        Some(projects[0].id)
    } else {
        None
    };
    let mut claims = super::claims::held_by_item(s, project_id).await?;
    let mut live = vec![];
    let mut updates = vec![];
    for ((project, mut w), read) in rows.into_iter().zip(reads) {
        match read {
            gitstate::Read::State(st) => {
                gitstate::apply(&mut w, &st);
                updates.push((w.id, st));
                live.push(Live {
                    claim: claims.remove(&(w.project_id, w.name.clone())),
                    status: w.status().as_str().to_string(),
                    worktree: w,
                    missing: false,
                    project,
                });
            }
            gitstate::Read::Missing => live.push(Live {
                claim: claims.remove(&(w.project_id, w.name.clone())),
                status: "missing".into(),
                worktree: w,
                missing: true,
                project,
            }),
            gitstate::Read::Failed(e) => return Err(e),
        }
    }
    s.update_git_states(&updates).await?;
    Ok(Status {
        worktrees: live,
        all_projects: !inside,
        projects: projects.len(),
    })
}
