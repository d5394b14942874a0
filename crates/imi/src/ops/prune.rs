//! Prune: reconcile the registry and the disk.
//! 1. `git worktree prune` in each project (the entries it drops are listed first);
//! 2. registry rows of this host whose directories are gone are forgotten
//!    (deactivated, activity `removed`; their history stays);
//! 3. worktree-like directories in each project's container that no active row
//!    points at are listed. With `--force` a stray that is a clean git worktree is
//!    removed with `git worktree remove` (git's safe form, which refuses a dirty
//!    one too), an empty directory is removed; anything else is kept (SPEC §9).
//!
//! A dry run changes nothing at all: it reports what would happen.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use imi_core::{NewActivity, Result, Store, WorktreeFilter};
use imi_git::Repo;
use serde::{Deserialize, Serialize};

use super::{Env, Report, common};
use crate::context;
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PruneArgs {
    /// One project (`-p`); every active project when `None`.
    pub project: Option<String>,
    /// Change nothing; report what would happen.
    pub dry_run: bool,
    /// Delete the strays that hold no work (clean git worktrees, empty directories).
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pruned {
    pub dry_run: bool,
    /// Stale entries `git worktree prune` removed (or would remove).
    pub git_pruned: Vec<GitPruned>,
    /// Registry rows of this host whose directories are gone, forgotten.
    pub forgotten: Vec<Forgotten>,
    /// Worktree-like directories no active row points at.
    pub strays: Vec<Stray>,
    /// Whether strays were to be deleted.
    #[serde(skip)]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GitPruned {
    pub project: String,
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Forgotten {
    pub project: Option<String>,
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stray {
    pub project: String,
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub git_worktree: bool,
    pub uncommitted_files_count: Option<usize>,
    /// `deleted`, `would delete` or `kept`.
    pub action: String,
    /// Why it is not deletable; `None` when it holds no work.
    pub reason: Option<String>,
}

impl Report for Pruned {}

pub async fn prune(env: &Env, args: &PruneArgs) -> Result<Pruned> {
    with_store!(env.store().await?, s => prune_in(s, env, args).await)
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

async fn prune_in<S: Store>(s: &S, env: &Env, args: &PruneArgs) -> Result<Pruned> {
    let dry = args.dry_run;
    let projects = common::scope(s, args.project.as_deref()).await?;
    let types = s.list_types().await?;
    let mut git_pruned: Vec<GitPruned> = vec![];
    let mut forgotten: Vec<Forgotten> = vec![];
    let mut strays: Vec<Stray> = vec![];

    // 1. git's own stale entries
    for p in &projects {
        if !Path::new(&p.trunk_path).is_dir() {
            continue;
        }
        let repo = Repo::at(&p.trunk_path);
        let stale: Vec<_> = repo
            .worktree_list()?
            .into_iter()
            .filter(|e| e.prunable)
            .collect();
        if stale.is_empty() {
            continue;
        }
        if !dry {
            let _lock = repo.lock().await?;
            repo.worktree_prune()?;
        }
        git_pruned.extend(stale.iter().map(|e| GitPruned {
            project: p.name.clone(),
            path: e.path.clone(),
            branch: e.branch.clone(),
        }));
    }

    // 2. registry rows whose directories are gone
    let ids: HashSet<uuid::Uuid> = projects.iter().map(|p| p.id).collect();
    let all = s.list_worktrees(&WorktreeFilter::default()).await?;
    let host = s.host().to_string();
    let mut live_paths: HashSet<PathBuf> = HashSet::new();
    for w in &all {
        let here = w.host == host && ids.contains(&w.project_id);
        if !here || Path::new(&w.path).is_dir() {
            live_paths.insert(canon(Path::new(&w.path)));
            continue;
        }
        let project = projects.iter().find(|p| p.id == w.project_id);
        forgotten.push(Forgotten {
            project: project.map(|p| p.name.clone()),
            name: w.name.clone(),
            path: w.path.clone(),
        });
        if dry {
            continue;
        }
        s.deactivate_worktree(w.id).await?;
        s.log_activity(&NewActivity {
            agent_id: env.agent_id().to_string(),
            worktree_id: Some(w.id),
            activity_type: "removed".into(),
            description: Some(format!(
                "forgotten by imi prune: directory {} is gone",
                w.path
            )),
            ..Default::default()
        })
        .await?;
        if let Some(p) = project {
            let file = context::worktree_file_path(&common::container(p), &w.name);
            let _ = std::fs::remove_file(file);
        }
    }

    // 3. stray worktree-like directories
    for p in &projects {
        let container = common::container(p);
        let Ok(entries) = std::fs::read_dir(&container) else {
            continue;
        };
        let trunk = Repo::at(&p.trunk_path);
        let git_paths: HashSet<PathBuf> = if Path::new(&p.trunk_path).is_dir() {
            trunk
                .worktree_list()
                .unwrap_or_default()
                .into_iter()
                .map(|e| canon(&e.path))
                .collect()
        } else {
            HashSet::new()
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || live_paths.contains(&canon(&dir)) {
                continue;
            }
            let has_git = dir.join(".git").exists();
            let prefixed = types.iter().any(|t| {
                name.len() > t.worktree_prefix.len() && name.starts_with(&t.worktree_prefix)
            });
            if !has_git && !prefixed {
                continue;
            }
            let is_git_worktree = git_paths.contains(&canon(&dir));
            let uncommitted = if has_git {
                Repo::at(&dir).uncommitted_count().ok()
            } else {
                None
            };
            let empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
            // commits on a detached HEAD that no ref holds are work too
            let unreferenced = if is_git_worktree && uncommitted == Some(0) {
                super::work::Work::read(&dir).map(|w| w.unreferenced).ok()
            } else {
                None
            };
            let deletable =
                (is_git_worktree && uncommitted == Some(0) && unreferenced == Some(0)) || empty;
            let reason = if deletable {
                None
            } else if let Some(n) = uncommitted.filter(|n| *n > 0) {
                Some(format!("dirty: {n} uncommitted file(s)"))
            } else if let Some(n) = unreferenced.filter(|n| *n > 0) {
                Some(format!(
                    "holds {n} commit(s) on no branch: `git -C {} switch -c <branch>` keeps them",
                    dir.display()
                ))
            } else if !is_git_worktree {
                Some(format!(
                    "not a git worktree of {}: check it and delete it yourself",
                    p.name
                ))
            } else {
                Some("git cannot read it".to_string())
            };
            let action = match (deletable, args.force, dry) {
                (true, true, true) => "would delete",
                (true, true, false) => {
                    if is_git_worktree {
                        // decide again under the lock: nothing may have changed since
                        let _lock = trunk.lock().await?;
                        let now = super::work::Work::read(&dir)?;
                        if now.uncommitted > 0 || now.unreferenced > 0 {
                            strays.push(Stray {
                                project: p.name.clone(),
                                path: dir,
                                git_worktree: true,
                                uncommitted_files_count: Some(now.uncommitted),
                                action: "kept".into(),
                                reason: Some("changed while imi prune ran".into()),
                            });
                            continue;
                        }
                        trunk.worktree_remove(&dir, false)?;
                    } else {
                        std::fs::remove_dir(&dir).map_err(|e| {
                            imi_core::Error::internal(format!(
                                "cannot remove {}: {e}",
                                dir.display()
                            ))
                        })?;
                    }
                    "deleted"
                }
                _ => "kept",
            };
            strays.push(Stray {
                project: p.name.clone(),
                path: dir,
                git_worktree: is_git_worktree,
                uncommitted_files_count: uncommitted,
                action: action.into(),
                reason,
            });
        }
    }
    Ok(Pruned {
        dry_run: dry,
        git_pruned,
        forgotten,
        strays,
        force: args.force,
    })
}
