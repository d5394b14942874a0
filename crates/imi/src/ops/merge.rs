//! Merge: merge a worktree's branch into trunk's default branch, record
//! the merge, then remove the worktree and the merged branch.
//!
//! Safety (SPEC §9): everything from the first check to the last step runs under
//! the repository lock, so concurrent merges into one trunk queue instead of
//! reading each other's half-done state. The merge (or squash) commit is computed
//! as an object without touching trunk (`git merge-tree`); trunk changes in one
//! step, a fast-forward to that commit, after checking that no untracked or
//! ignored file in trunk would be overwritten. A conflict therefore changes
//! nothing at all. An intent record (see `journal.rs`) covers the steps from the
//! fast-forward to the registry, so `imi doctor` finds an interrupted merge and
//! `imi recover` finishes it.

use std::path::Path;

use imi_core::{Error, ErrorKind, NewActivity, Project, Result, Store, Worktree};
use imi_git::{MergeMode, MergePlan, MergeTree, Repo};
use serde::{Deserialize, Serialize};

use super::work::{self, Work};
use super::{Env, Report, common, remove};
use crate::journal::{Intent, Journal, Op};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MergeArgs {
    /// The project (`-p`), else the one the current directory is in.
    pub project: Option<String>,
    /// The worktree; else the one the current directory is in.
    pub name: Option<String>,
    /// One commit on trunk with the branch's changes (the branch is deleted when
    /// trunk has them all).
    pub squash: bool,
    /// Refuse unless trunk can fast-forward to the branch.
    pub ff_only: bool,
    /// Push trunk's branch to origin afterwards.
    pub push: bool,
    /// Merge a worktree another agent has claimed (logged).
    #[serde(default)]
    pub force: bool,
    /// Skip the post-merge hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

/// A merge that is done: trunk holds it, the worktree and its branch are gone.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Merged {
    /// The worktree's row as recorded (inactive, with the merge commit).
    pub worktree: Worktree,
    pub merge_commit: String,
    /// Whether a push was asked for.
    pub pushed: bool,
    /// Trunk's branch, merged into.
    #[serde(skip)]
    pub into: String,
    /// The push was asked for and failed (after everything else was done).
    #[serde(skip)]
    pub push_error: Option<Error>,
    /// Without a push: how many commits trunk's branch now has that its
    /// remote-tracking branch (`remote_ref`) lacks. `None` after a push, or when
    /// trunk has no remote-tracking branch.
    pub trunk_ahead_of_remote: Option<u32>,
    /// The remote-tracking branch trunk was compared with (`origin/main`).
    pub remote_ref: Option<String>,
    /// Trunk's directory (for the push command the CLI suggests).
    #[serde(skip)]
    pub trunk_path: String,
    /// The post-merge hook commands, run in the trunk after the merge.
    #[serde(default)]
    pub hooks: Vec<super::hooks::HookRun>,
}

impl Report for Merged {
    fn failure(&self) -> Option<&Error> {
        self.push_error.as_ref()
    }
}

/// Merges a worktree's branch into trunk's default branch, records the merge,
/// then removes the worktree and the merged branch.
pub async fn merge(env: &Env, args: &MergeArgs) -> Result<Merged> {
    with_store!(env.store().await?, s => {
        let (mut m, project) = merge_in(s, env, args).await?;
        if !args.no_hooks {
            // after the lock; in the trunk (the worktree is gone); a failure is
            // reported, the merge stands
            let trunk = Path::new(&project.trunk_path);
            let hook = crate::setup::Hook::PostMerge;
            match super::hooks::run_hook(s, env, &project, &m.worktree, hook, trunk).await {
                Ok(runs) => m.hooks = runs,
                Err(e) => env.observer().note(&format!(
                    "the post-merge hooks did not run: {}",
                    imi_core::redact(&e.message)
                )),
            }
            if let Some(f) = super::hooks::first_failure(&m.hooks) {
                env.observer().note(&format!(
                    "the post-merge hook `{}` failed (log: {}); the merge is done",
                    f.command,
                    f.log.as_deref().unwrap_or("-")
                ));
            }
        }
        Ok(m)
    })
}

fn unsafe_err(msg: String, hint: String) -> Error {
    Error::new(ErrorKind::Unsafe, msg).with_hint(hint)
}

/// The merge, and the project as this host sees it (for the post-merge hook).
async fn merge_in<S: Store>(s: &S, env: &Env, args: &MergeArgs) -> Result<(Merged, Project)> {
    let project = common::resolve_project(s, env, args.project.as_deref()).await?;
    let w = common::worktree_here_or_named(s, env, &project, args.name.as_deref()).await?;
    if w.type_name == "trunk" {
        // the worktree is there and well named: it is the trunk that forbids this
        return Err(Error::conflict("the trunk cannot be merged into itself")
            .with_hint("name the worktree to merge"));
    }
    super::claims::guard(s, env, &w, args.force, "merge").await?;
    let trunk = Repo::at(&project.trunk_path);
    if !Path::new(&w.path).is_dir() {
        return Err(Error::not_found(format!("{} is gone from disk", w.path))
            .with_hint("run `imi prune`, or recreate it with `imi add`"));
    }
    let _lock = trunk.lock().await?;
    // every check below decides what happens under the same lock
    let state = Work::read(Path::new(&w.path))?;
    if state.head_branch.as_deref() != Some(w.branch_name.as_str()) {
        let what = match &state.head_branch {
            Some(b) => format!("branch {b}"),
            None => "a detached HEAD".to_string(),
        };
        if state.unreferenced > 0 {
            return Err(unsafe_err(
                format!(
                    "{} has {what} with {} commit(s) on no branch, not {}; merging {} would leave them behind",
                    w.name, state.unreferenced, w.branch_name, w.branch_name
                ),
                format!(
                    "put them on the branch first (`git -C {} switch -C {} ` after checking), then merge again",
                    w.path, w.branch_name
                ),
            ));
        }
        return Err(Error::validation(format!(
            "{} has {what} checked out, not {}",
            w.name, w.branch_name
        ))
        .with_hint(format!(
            "run `git -C {} switch {}`, then merge again",
            w.path, w.branch_name
        )));
    }
    if state.uncommitted > 0 {
        return Err(unsafe_err(
            format!("{} has {} uncommitted file(s)", w.name, state.uncommitted),
            "commit or stash them, then merge again".into(),
        ));
    }
    if trunk.merge_in_progress()? {
        return Err(Error::conflict(format!(
            "trunk {} has an unfinished merge of its own (MERGE_HEAD)",
            project.trunk_path
        ))
        .with_hint(format!(
            "finish it (`git -C {0} commit`) or abort it (`git -C {0} merge --abort`), then merge again",
            project.trunk_path
        )));
    }
    let trunk_dirty = trunk.uncommitted_count()?;
    if trunk_dirty > 0 {
        return Err(unsafe_err(
            format!(
                "trunk {} has {trunk_dirty} uncommitted file(s)",
                project.trunk_path
            ),
            "commit or stash them in trunk, then merge again".into(),
        ));
    }
    match trunk.current_branch()? {
        Some(b) if b == project.default_branch => {}
        other => {
            return Err(Error::validation(format!(
                "trunk has {} checked out, not {}",
                other.as_deref().unwrap_or("a detached HEAD"),
                project.default_branch
            ))
            .with_hint(format!(
                "run `git -C {} switch {}` first",
                project.trunk_path, project.default_branch
            )));
        }
    }
    let mode = if args.squash {
        MergeMode::Squash
    } else if args.ff_only {
        MergeMode::FastForwardOnly
    } else {
        MergeMode::Commit
    };
    let message = format!("Merge {} into {}", w.branch_name, project.default_branch);
    let (before, commit) = match trunk.plan_merge(&w.branch_name, mode, &message)? {
        MergePlan::Conflict { files } => {
            return Err(Error::conflict(format!(
                "merging {} into {} conflicts in {}; nothing was changed",
                w.branch_name,
                project.default_branch,
                files.join(", ")
            ))
            .with_hint(format!(
                "rebase {} onto {} (or merge it in the worktree), resolve, then run `imi merge` again",
                w.branch_name, project.default_branch
            )));
        }
        MergePlan::Diverged => {
            return Err(Error::new(
                ErrorKind::Git,
                format!(
                    "{} cannot be fast-forwarded onto the trunk: the branches have diverged",
                    w.branch_name
                ),
            )
            .with_hint("merge without --ff-only, or rebase the branch first"));
        }
        MergePlan::UpToDate { head } => (head.clone(), head),
        MergePlan::Advance { from, to } => {
            let blocking = trunk.in_the_way(&from, &to)?;
            if !blocking.is_empty() {
                return Err(unsafe_err(
                    format!(
                        "merging {} would overwrite {} untracked or ignored file(s) in trunk: {}",
                        w.branch_name,
                        blocking.len(),
                        blocking.join(", ")
                    ),
                    format!(
                        "move them out of {} (or commit them), then merge again",
                        project.trunk_path
                    ),
                ));
            }
            (from, to)
        }
    };
    let mut intent = Intent::for_worktree(Op::Merge, env.agent_id(), &project, &w);
    intent.trunk_before = Some(before.clone());
    intent.merge_commit = Some(commit.clone());
    intent.squash = mode == MergeMode::Squash;
    intent.push = args.push;
    let journal = Journal::begin(&trunk, intent)?;
    if commit != before
        && let Err(e) = trunk.fast_forward(&commit).map_err(Error::from)
    {
        if trunk.rev_parse("HEAD").ok().as_deref() == Some(before.as_str())
            && trunk.uncommitted_count().ok() == Some(0)
        {
            journal.done()?; // trunk did not move: nothing to finish
            return Err(e);
        }
        return Err(
            Error::new(e.kind, format!("{}; trunk was left part-way", e.message)).with_hint(
                format!(
                    "run `imi recover -p {}` to finish or undo the merge",
                    project.name
                ),
            ),
        );
    }
    let done = finish(s, env, &project, &w, journal).await?;
    // the merge is done: a failure to count is no failure of the merge
    let trunk_ref = crate::gitstate::project_trunk_ref(&project);
    let remote_ref = crate::gitstate::remote_tracking(&trunk_ref).filter(|_| !args.push);
    let ahead = remote_ref
        .and_then(|r| trunk.ahead_behind("HEAD", r).ok())
        .map(|(ahead, _)| ahead);
    let merged = Merged {
        worktree: done.worktree,
        merge_commit: commit,
        pushed: args.push,
        into: project.default_branch.clone(),
        push_error: done.push_error,
        trunk_ahead_of_remote: ahead,
        remote_ref: ahead.and(remote_ref.map(str::to_string)),
        trunk_path: project.trunk_path.clone(),
        hooks: Vec::new(),
    };
    Ok((merged, project))
}

pub struct Finished {
    pub worktree: Worktree,
    pub push_error: Option<Error>,
}

/// The steps after trunk holds the merge: record it, take the worktree and its
/// branch away, deregister, push. Run by `imi merge` and, for an interrupted one,
/// by `imi recover`; each step is skipped when already done. The caller holds the
/// repository lock. The record is kept (and the error says to run `imi recover`)
/// when a step fails; a failed push is reported after everything else is done.
pub async fn finish<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    w: &Worktree,
    journal: Journal,
) -> Result<Finished> {
    let i = journal.intent.clone();
    let commit = i
        .merge_commit
        .clone()
        .ok_or_else(|| Error::internal("a merge record without its commit"))?;
    let trunk = Repo::at(&project.trunk_path);
    let left = |e: Error, what: &str| {
        Error::new(
            e.kind,
            format!(
                "merged {} into {} ({commit}), but {what} failed: {}",
                i.branch, project.default_branch, e.message
            ),
        )
        .with_hint(format!(
            "fix that, then run `imi recover -p {}` to finish (the worktree is kept until then)",
            project.name
        ))
    };
    let current = s
        .get_worktree(w.id)
        .await
        .map_err(|e| left(e, "reading the registry"))?;
    let worktree = if current.merge_commit_hash.as_deref() == Some(commit.as_str()) {
        current
    } else {
        let merged = s
            .mark_merged(w.id, &i.agent_id, Some(&commit))
            .await
            .map_err(|e| left(e, "recording the merge in the registry"))?;
        s.log_activity(&NewActivity {
            agent_id: i.agent_id.clone(),
            worktree_id: Some(w.id),
            activity_type: "merged".into(),
            description: Some(format!(
                "Merge {} into {} ({commit})",
                i.branch, project.default_branch
            )),
            ..Default::default()
        })
        .await
        .map_err(|e| left(e, "logging the merge"))?;
        super::claims::release_with_last_checkout(s, env, w).await;
        merged
    };
    let path = Path::new(&i.path);
    let listed = trunk
        .worktree_list()
        .map_err(|e| left(e.into(), "listing worktrees"))?;
    match listed.iter().find(|e| e.path == path) {
        Some(e) if !e.prunable && path.is_dir() => {
            work::remove_dir(&trunk, path, false).map_err(|e| left(e, "removing the worktree"))?
        }
        Some(_) => trunk
            .worktree_prune()
            .map_err(|e| left(e.into(), "pruning the worktree"))?,
        None => {}
    }
    if trunk.branch_exists(&i.branch)? {
        let tip = trunk.rev_parse(&format!("refs/heads/{}", i.branch))?;
        // delete the branch only when trunk has its work: an ancestor, or (for a
        // squash) a branch whose merge into trunk would change nothing
        let integrated = trunk.is_ancestor(&tip, "HEAD")?
            || match trunk.merge_tree("HEAD", &tip)? {
                MergeTree::Clean { tree } => tree == trunk.rev_parse_tree("HEAD")?,
                MergeTree::Conflict { .. } => false,
            };
        if integrated {
            trunk
                .branch_delete(&i.branch, true)
                .map_err(|e| left(e.into(), "deleting the merged branch"))?;
        }
    }
    remove::finish(s, env, project, w, "merged")
        .await
        .map_err(|e| left(e, "updating the registry"))?;
    let push_error = if i.push {
        trunk
            .push("origin", &project.default_branch)
            .err()
            .map(Error::from)
            .map(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "merged {} into {} ({commit}) and removed {}, but pushing {} failed: {}",
                        i.branch,
                        project.default_branch,
                        i.worktree,
                        project.default_branch,
                        e.message
                    ),
                )
                .with_hint(format!(
                    "push it yourself: `git -C {} push origin {}`",
                    project.trunk_path, project.default_branch
                ))
            })
    } else {
        None
    };
    journal.done()?;
    Ok(Finished {
        worktree,
        push_error,
    })
}
