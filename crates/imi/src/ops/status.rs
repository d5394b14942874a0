//! The live git state of this host's worktrees (of one project, or of all projects
//! outside one), read from git and written back to the registry.

use imi_core::{GitState, Result, Store, Worktree, WorktreeFilter};
use imi_git::Repo;
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
    /// Counts over `worktrees`.
    pub summary: Summary,
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
    /// Uncommitted files by kind; `None` when the directory is gone.
    pub changes: Option<Changes>,
    /// The branch's upstream and how HEAD stands against it; `None` without one.
    pub upstream: Option<Upstream>,
    /// HEAD's last commit; `None` when the directory is gone or before a commit.
    pub last_commit: Option<LastCommit>,
    /// Nothing would be lost by removing it: nothing is uncommitted, and every
    /// commit of the branch (or, after a squash merge, its whole content) is
    /// already in the trunk. Never true of the trunk itself.
    pub integrated: bool,
    /// The project's name.
    #[serde(skip)]
    pub project: String,
}

/// Uncommitted files by kind, as `git status` lists them (each file once: a
/// conflict first, then staged, then modified in the worktree only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Changes {
    pub staged: u32,
    pub modified: u32,
    pub untracked: u32,
    pub conflicted: u32,
}

impl Changes {
    pub fn total(&self) -> u32 {
        self.staged + self.modified + self.untracked + self.conflicted
    }
}

/// The branch's upstream (`git status --branch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Upstream {
    /// `origin/feat/x`.
    pub name: String,
    /// Commits not pushed / not pulled; `None` when the upstream branch is gone.
    pub ahead: Option<u32>,
    pub behind: Option<u32>,
}

/// A commit as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastCommit {
    pub hash: String,
    /// When it was committed (the committer's time).
    pub committed_at: chrono::DateTime<chrono::Utc>,
    pub subject: String,
}

/// Counts over the listed worktrees (the status table's footer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub worktrees: usize,
    /// With uncommitted files.
    pub changed: usize,
    /// With commits the trunk does not have.
    pub ahead: usize,
    /// Missing commits the trunk has.
    pub behind: usize,
    /// [`Live::integrated`]: safe to remove.
    pub integrated: usize,
    /// Registered, but the directory is gone.
    pub missing: usize,
    /// Held by a claim.
    pub claimed: usize,
}

impl Summary {
    pub(crate) fn of(live: &[Live]) -> Summary {
        let count = |f: &dyn Fn(&Live) -> bool| live.iter().filter(|l| f(l)).count();
        Summary {
            worktrees: live.len(),
            changed: count(&|l| l.changes.as_ref().is_some_and(|c| c.total() > 0)),
            ahead: count(&|l| !l.missing && l.worktree.ahead_of_trunk > 0),
            behind: count(&|l| !l.missing && l.worktree.behind_trunk > 0),
            integrated: count(&|l| l.integrated),
            missing: count(&|l| l.missing),
            claimed: count(&|l| l.claim.is_some()),
        }
    }
}

impl Live {
    /// A worktree and what was just read of it (`None`: its directory is gone).
    fn new(
        project: String,
        mut w: Worktree,
        read: Option<(&GitState, &gitstate::Extra)>,
        trunk_tree: Option<&str>,
        claim: Option<imi_core::Claim>,
    ) -> Live {
        let Some((st, extra)) = read else {
            return Live {
                claim,
                status: "missing".into(),
                worktree: w,
                missing: true,
                changes: None,
                upstream: None,
                last_commit: None,
                integrated: false,
                project,
            };
        };
        gitstate::apply(&mut w, st);
        let s = &extra.summary;
        let changes = Changes {
            staged: s.staged,
            modified: s.modified,
            untracked: s.untracked,
            conflicted: s.conflicted,
        };
        let same_content = matches!((&extra.head, trunk_tree), (Some(h), Some(t)) if h.tree == t);
        let integrated = w.type_name != "trunk"
            && extra.head.is_some()
            && changes.total() == 0
            && (w.ahead_of_trunk == 0 || same_content);
        Live {
            claim,
            status: w.status().as_str().to_string(),
            changes: Some(changes),
            upstream: s.upstream.as_ref().map(|name| Upstream {
                name: name.clone(),
                ahead: s.upstream_ahead_behind.map(|ab| ab.0),
                behind: s.upstream_ahead_behind.map(|ab| ab.1),
            }),
            last_commit: extra.head.as_ref().map(|c| LastCommit {
                hash: c.hash.clone(),
                committed_at: chrono::DateTime::from_timestamp(c.time, 0).unwrap_or_default(),
                subject: c.subject.clone(),
            }),
            integrated,
            worktree: w,
            missing: false,
            project,
        }
    }
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
        let worktrees = s.list_worktrees(&filter).await?;
        if worktrees.is_empty() {
            continue;
        }
        let trunk_ref = gitstate::project_trunk_ref(p);
        // what a squash-merged branch's content is compared with
        let trunk_tree = Repo::at(&p.trunk_path).rev_parse_tree(&trunk_ref).ok();
        for w in worktrees {
            jobs.push(gitstate::Job::of(&w, &trunk_ref));
            rows.push((p.name.clone(), w, trunk_tree.clone()));
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
    for ((project, w, trunk_tree), read) in rows.into_iter().zip(reads) {
        let claim = claims.remove(&(w.project_id, w.name.clone()));
        match read {
            gitstate::Read::State(st, extra) => {
                let id = w.id;
                live.push(Live::new(
                    project,
                    w,
                    Some((&st, &extra)),
                    trunk_tree.as_deref(),
                    claim,
                ));
                updates.push((id, st));
            }
            gitstate::Read::Missing => live.push(Live::new(project, w, None, None, claim)),
            gitstate::Read::Failed(e) => return Err(e),
        }
    }
    s.update_git_states(&updates).await?;
    Ok(Status {
        summary: Summary::of(&live),
        worktrees: live,
        all_projects: !inside,
        projects: projects.len(),
    })
}
