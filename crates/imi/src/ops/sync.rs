//! Sync: reads every active worktree of this host from git (in parallel) and
//! writes its in-flight state to the registry in batched transactions. A directory
//! that is gone is reported and left registered (`imi prune` forgets it); a
//! worktree git reading fails on is reported and not written. git worktrees the
//! registry does not know are listed, and registered when asked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use imi_core::{
    Error, GitState, NewActivity, NewWorktree, Project, Result, Store, Worktree, WorktreeFilter,
    naming,
};
use imi_git::{Repo, WorktreeEntry};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Env, Report, common};
use crate::context::{self, WorktreeFile};
use crate::gitstate::{self, Job, Read};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SyncArgs {
    /// One project (`-p`); every active project when `None`.
    pub project: Option<String>,
    /// Register the git worktrees the registry does not know.
    pub register: bool,
    /// Their type when no type's worktree prefix starts a name.
    pub type_name: Option<String>,
    /// Types for particular worktrees (by path), after the prefix and `type_name`:
    /// the answers of a front end that asked (see [`untyped`]).
    #[serde(default)]
    pub types: BTreeMap<PathBuf, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Synced {
    pub summary: Summary,
    /// Every worktree read, with the state written.
    pub worktrees: Vec<SyncedWorktree>,
    pub missing: Vec<Missing>,
    pub failed: Vec<Failed>,
    pub registered: Vec<Worktree>,
    pub unregistered: Vec<Unregistered>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub synced: usize,
    pub changed: usize,
    pub missing: usize,
    pub failed: usize,
    pub registered: usize,
    pub unregistered: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncedWorktree {
    pub id: Uuid,
    pub project: String,
    pub name: String,
    pub path: String,
    /// A [`imi_core::WorkStatus`], `missing` or `failed`.
    pub status: String,
    pub uncommitted_files_count: i32,
    pub ahead_of_trunk: i32,
    pub behind_trunk: i32,
    pub last_commit_hash: Option<String>,
    /// Whether the state differs from what the registry held.
    pub changed: bool,
}

/// A registered worktree whose directory is gone.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Missing {
    pub project: String,
    pub name: String,
    pub path: String,
}

/// A worktree git could not read, or a registration that failed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failed {
    pub project: String,
    pub name: String,
    pub path: String,
    /// Registrations only: the branch (or the start of a detached HEAD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Option<String>>,
    pub error: String,
}

/// A git worktree the registry does not know, left so.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unregistered {
    pub project: String,
    pub name: String,
    pub path: String,
    pub branch: Option<String>,
    /// Why `register` did not register it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Report for Synced {}

/// Unknown git worktrees whose names no type's prefix starts, and the types one
/// could be given: what a front end asks about before a `register` without
/// `type_name`. Changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Untyped {
    #[schema(value_type = Vec<String>)]
    pub paths: Vec<PathBuf>,
    /// Type names, trunk excepted.
    pub types: Vec<String>,
}

/// The active worktrees of this host in the given projects, each with its job.
pub async fn targets<S: Store>(s: &S, projects: &[Project]) -> Result<Vec<(Worktree, Job)>> {
    let filter = WorktreeFilter {
        host: Some(s.host().to_string()),
        ..Default::default()
    };
    let all = s.list_worktrees(&filter).await?;
    let refs: Vec<String> =
        gitstate::par_map_async(projects.to_vec(), gitstate::project_trunk_ref, || {}).await?;
    let by_project: HashMap<Uuid, &str> = projects
        .iter()
        .zip(&refs)
        .map(|(p, r)| (p.id, r.as_str()))
        .collect();
    Ok(all
        .into_iter()
        .filter_map(|w| {
            let r = by_project.get(&w.project_id)?;
            let job = Job::of(&w, r);
            Some((w, job))
        })
        .collect())
}

fn norm(p: &str) -> String {
    let t = p.trim_end_matches('/');
    std::fs::canonicalize(t)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| t.to_string())
}

/// git worktrees (of the projects' trunks) that no active registry row of this
/// host points at: `(project, entry)`.
pub async fn unknown_worktrees<'a>(
    projects: &'a [Project],
    known: &[Worktree],
) -> Result<Vec<(&'a Project, WorktreeEntry)>> {
    let known: HashSet<String> = known.iter().map(|w| norm(&w.path)).collect();
    let present: Vec<&Project> = projects
        .iter()
        .filter(|p| Path::new(&p.trunk_path).is_dir())
        .collect();
    let trunks: Vec<String> = present.iter().map(|p| p.trunk_path.clone()).collect();
    let lists = gitstate::par_map_async(
        trunks,
        |t| Repo::at(t).worktree_list().unwrap_or_default(),
        || {},
    )
    .await?;
    let mut out = vec![];
    for (p, list) in present.into_iter().zip(lists) {
        for e in list {
            if e.bare || e.prunable || known.contains(&norm(&e.path.to_string_lossy())) {
                continue;
            }
            out.push((p, e));
        }
    }
    Ok(out)
}

/// The type whose worktree prefix starts `name` (the longest such prefix).
pub fn type_from_name(types: &[imi_core::WorktreeType], name: &str) -> Option<String> {
    types
        .iter()
        .filter(|t| t.name != "trunk")
        .filter(|t| name.len() > t.worktree_prefix.len() && name.starts_with(&t.worktree_prefix))
        .max_by_key(|t| t.worktree_prefix.len())
        .map(|t| t.name.clone())
}

pub async fn untyped(env: &Env, project: Option<&str>) -> Result<Untyped> {
    with_store!(env.store().await?, s => {
        let projects = common::scope(s, project).await?;
        let known: Vec<Worktree> = targets(s, &projects).await?.into_iter().map(|(w, _)| w).collect();
        let unknown = unknown_worktrees(&projects, &known).await?;
        if unknown.is_empty() {
            return Ok(Untyped { paths: vec![], types: vec![] });
        }
        let types = s.list_types().await?;
        Ok(Untyped {
            paths: unknown
                .into_iter()
                .filter(|(_, e)| type_from_name(&types, &dir_name(e)).is_none())
                .map(|(_, e)| e.path)
                .collect(),
            types: types.into_iter().filter(|t| t.name != "trunk").map(|t| t.name).collect(),
        })
    })
}

fn dir_name(e: &WorktreeEntry) -> String {
    e.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct Registration {
    registered: Vec<Worktree>,
    unregistered: Vec<Unregistered>,
    failed: Vec<Failed>,
}

async fn register_unknown<S: Store>(
    s: &S,
    env: &Env,
    args: &SyncArgs,
    projects: &[Project],
    known: &[Worktree],
) -> Result<Registration> {
    let mut r = Registration {
        registered: vec![],
        unregistered: vec![],
        failed: vec![],
    };
    let unknown = unknown_worktrees(projects, known).await?;
    if unknown.is_empty() {
        return Ok(r);
    }
    let types = s.list_types().await?;
    if let Some(t) = &args.type_name
        && !types.iter().any(|x| &x.name == t)
    {
        return Err(Error::validation(format!("unknown worktree type {t:?}"))
            .with_hint("see `imi types list`"));
    }
    for (p, e) in unknown {
        let path = e.path.to_string_lossy().into_owned();
        let name = dir_name(&e);
        let branch = e.branch.clone().or_else(|| {
            e.head
                .as_ref()
                .map(|h| h.get(..12).unwrap_or(h).to_string())
        });
        let entry = Unregistered {
            project: p.name.clone(),
            name: name.clone(),
            path: path.clone(),
            branch: branch.clone(),
            reason: None,
        };
        if !args.register {
            r.unregistered.push(entry);
            continue;
        }
        let type_name = type_from_name(&types, &name)
            .or_else(|| args.type_name.clone())
            .or_else(|| args.types.get(&e.path).cloned());
        let Some(type_name) = type_name else {
            r.unregistered.push(Unregistered {
                reason: Some("no type's prefix matches the name: pass --type TYPE".into()),
                ..entry
            });
            continue;
        };
        let result = async {
            naming::validate_worktree_name(&name)?;
            let branch = branch
                .clone()
                .ok_or_else(|| Error::validation(format!("{path} has no HEAD")))?;
            let w = s
                .register_worktree(&NewWorktree {
                    project_id: p.id,
                    type_name: type_name.clone(),
                    name: name.clone(),
                    branch_name: branch.clone(),
                    path: path.clone(),
                    agent_id: common::explicit_agent(env),
                    ..Default::default()
                })
                .await?;
            let container = common::container(p);
            if Path::new(&path).parent() == Some(container.as_path()) {
                context::write_json(
                    &context::worktree_file_path(&container, &name),
                    &WorktreeFile {
                        worktree_id: w.id,
                        name: name.clone(),
                        type_name: type_name.clone(),
                        branch,
                        agent_id: w.agent_id.clone(),
                    },
                )?;
            }
            s.log_activity(&NewActivity {
                agent_id: env.agent_id().to_string(),
                worktree_id: Some(w.id),
                activity_type: "created".into(),
                description: Some(format!(
                    "registered existing worktree {name} (imi sync --register)"
                )),
                ..Default::default()
            })
            .await?;
            Ok::<_, Error>(w)
        }
        .await;
        match result {
            Ok(w) => r.registered.push(w),
            Err(e) if e.kind == imi_core::ErrorKind::Unavailable => return Err(e),
            Err(e) => r.failed.push(Failed {
                project: entry.project,
                name: entry.name,
                path: entry.path,
                branch: Some(entry.branch),
                error: e.message,
            }),
        }
    }
    Ok(r)
}

fn row(w: &Worktree, project: &str, state: &str, changed: bool) -> SyncedWorktree {
    SyncedWorktree {
        id: w.id,
        project: project.to_string(),
        name: w.name.clone(),
        path: w.path.clone(),
        status: state.to_string(),
        uncommitted_files_count: w.uncommitted_files_count,
        ahead_of_trunk: w.ahead_of_trunk,
        behind_trunk: w.behind_trunk,
        last_commit_hash: w.last_commit_hash.clone(),
        changed,
    }
}

/// Reads and writes every active worktree of this host (in the projects asked for).
pub async fn sync(env: &Env, args: &SyncArgs) -> Result<Synced> {
    with_store!(env.store().await?, s => sync_in(s, env, args).await)
}

async fn sync_in<S: Store>(s: &S, env: &Env, args: &SyncArgs) -> Result<Synced> {
    let projects = common::scope(s, args.project.as_deref()).await?;
    let names: HashMap<Uuid, String> = projects.iter().map(|p| (p.id, p.name.clone())).collect();
    let mut targets = targets(s, &projects).await?;
    let known: Vec<Worktree> = targets.iter().map(|(w, _)| w.clone()).collect();
    let reg = register_unknown(s, env, args, &projects, &known).await?;
    if !reg.registered.is_empty() {
        let refs: HashMap<Uuid, String> = projects
            .iter()
            .map(|p| (p.id, gitstate::project_trunk_ref(p)))
            .collect();
        for w in &reg.registered {
            if let Some(r) = refs.get(&w.project_id) {
                targets.push((w.clone(), Job::of(w, r)));
            }
        }
    }

    let jobs: Vec<Job> = targets.iter().map(|(_, j)| j.clone()).collect();
    let observer = env.observer();
    observer.begin("syncing", jobs.len());
    let reads = gitstate::read_all(&jobs, || observer.step()).await?;
    observer.end();

    let mut updates: Vec<(Uuid, GitState)> = vec![];
    let mut rows = vec![];
    let mut missing = vec![];
    let mut failed = reg.failed;
    let mut changed = 0usize;
    for ((mut w, _), read) in targets.into_iter().zip(reads) {
        let project = names.get(&w.project_id).cloned().unwrap_or_default();
        match read {
            Read::State(st, _) => {
                let ch = gitstate::changed(&w, &st);
                changed += usize::from(ch);
                gitstate::apply(&mut w, &st);
                rows.push(row(&w, &project, w.status().as_str(), ch));
                updates.push((w.id, st));
            }
            Read::Missing => {
                missing.push(Missing {
                    project: project.clone(),
                    name: w.name.clone(),
                    path: w.path.clone(),
                });
                rows.push(row(&w, &project, "missing", false));
            }
            Read::Failed(e) => {
                failed.push(Failed {
                    project: project.clone(),
                    name: w.name.clone(),
                    path: w.path.clone(),
                    branch: None,
                    error: e.message,
                });
                rows.push(row(&w, &project, "failed", false));
            }
        }
    }
    if let Err((written, e)) = gitstate::write_batches(s, &updates).await {
        let msg = format!(
            "{} (sync wrote {written} of {} worktrees, each batch whole or not at all)",
            e.message,
            updates.len()
        );
        // the store's hint says what is wrong with the registry (a full disk, a
        // server down); sync adds that rerunning it is safe
        let hint = match &e.hint {
            Some(h) => format!("{h}; `imi sync` rewrites every worktree"),
            None => {
                "run `imi sync` again once the registry is back: it rewrites every worktree".into()
            }
        };
        return Err(Error { message: msg, ..e }.with_hint(hint));
    }
    Ok(Synced {
        summary: Summary {
            synced: updates.len(),
            changed,
            missing: missing.len(),
            failed: failed.len(),
            registered: reg.registered.len(),
            unregistered: reg.unregistered.len(),
        },
        worktrees: rows,
        missing,
        failed,
        registered: reg.registered,
        unregistered: reg.unregistered,
    })
}
