//! Remove and close: take a worktree off the disk and mark it inactive in the
//! registry. SPEC §9: a dirty worktree or an unmerged branch is
//! refused without `--force`; an unmerged branch is never deleted (its commits stay
//! reachable); a merged branch is deleted with git's safe `branch -d` unless
//! `--keep-branch`; `close` always keeps the branch.

use std::path::Path;

use imi_core::{Error, ErrorKind, NewActivity, Project, Result, Store, Worktree};
use imi_git::Repo;
use serde::{Deserialize, Serialize};

use super::work::{self, Work};
use super::{Env, Report, common};
use crate::context;
use crate::journal::{Intent, Journal, Op};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RemoveArgs {
    /// The project (`-p`), else the one the current directory is in.
    pub project: Option<String>,
    /// The worktree's directory name, or its bare name.
    pub name: String,
    /// Discard uncommitted files and remove despite an unmerged branch (which is
    /// kept; commits on no ref are kept on a rescue ref).
    pub force: bool,
    /// Keep the branch even when it is merged.
    pub keep_branch: bool,
    /// Skip the pre-remove hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CloseArgs {
    pub project: Option<String>,
    pub name: String,
    /// Discard uncommitted files (commits on no ref are kept on a rescue ref).
    pub force: bool,
    /// Skip the pre-remove hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

/// What a remove or a close did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Removed {
    pub worktree: String,
    pub path: String,
    pub branch: String,
    pub branch_deleted: bool,
    /// `None` when the branch does not exist.
    pub branch_merged: Option<bool>,
    /// Where commits that were on no branch are kept.
    pub rescued_ref: Option<String>,
}

impl Report for Removed {}

/// Removes a worktree; its branch goes too when it is merged (unless
/// `keep_branch`). Refused (`UNSAFE`) without `force` when the worktree holds work
/// or the branch is not merged.
pub async fn remove(env: &Env, args: &RemoveArgs) -> Result<Removed> {
    let opts = Opts {
        force: args.force,
        delete_branch: !args.keep_branch,
        check_merged: true,
        op: Op::Remove,
        no_hooks: args.no_hooks,
    };
    let (project, name) = (args.project.as_deref(), args.name.as_str());
    with_store!(env.store().await?, s => remove_in(s, env, project, name, opts).await)
}

/// Removes a worktree and always keeps its branch.
pub async fn close(env: &Env, args: &CloseArgs) -> Result<Removed> {
    let opts = Opts {
        force: args.force,
        delete_branch: false,
        check_merged: false,
        op: Op::Close,
        no_hooks: args.no_hooks,
    };
    let (project, name) = (args.project.as_deref(), args.name.as_str());
    with_store!(env.store().await?, s => remove_in(s, env, project, name, opts).await)
}

#[derive(Clone, Copy)]
struct Opts {
    force: bool,
    delete_branch: bool,
    check_merged: bool,
    op: Op,
    no_hooks: bool,
}

fn unsafe_err(msg: String, hint: &str) -> Error {
    Error::new(ErrorKind::Unsafe, msg).with_hint(hint.to_string())
}

async fn remove_in<S: Store>(
    s: &S,
    env: &Env,
    project: Option<&str>,
    name: &str,
    o: Opts,
) -> Result<Removed> {
    let project = common::resolve_project(s, env, project).await?;
    let w = common::find_worktree(s, &project, name).await?;
    if w.type_name == "trunk" {
        // the worktree is there and well named: it is what it is that forbids this
        return Err(
            Error::conflict(format!("{} is the project's trunk", w.name))
                .with_hint("trunk is never removed by imi; deregister the project instead"),
        );
    }
    super::claims::guard(s, env, &w, o.force, o.op.as_str()).await?;
    // pre-remove, before the lock (a hook may take long): a failure stops the
    // removal unless --force
    if !o.no_hooks && Path::new(&w.path).is_dir() {
        let runs = super::hooks::run_hook(
            s,
            env,
            &project,
            &w,
            crate::setup::Hook::PreRemove,
            Path::new(&w.path),
        )
        .await?;
        if let Some(f) = super::hooks::first_failure(&runs) {
            let log = f.log.clone().unwrap_or_default();
            if !o.force {
                return Err(unsafe_err(
                    format!(
                        "the pre-remove hook `{}` failed; {} was not removed (log: {log})",
                        f.command, w.name
                    ),
                    "fix what the hook reports, or remove anyway with --force (or skip hooks with --no-hooks)",
                ));
            }
            env.observer().note(&format!(
                "the pre-remove hook `{}` failed (log: {log}); removing anyway because of --force",
                f.command
            ));
        }
    }
    let repo = Repo::at(&project.trunk_path);
    // the checks that decide and the steps they allow run under one lock
    let _lock = repo.lock().await?;
    let exists = Path::new(&w.path).is_dir();
    let mut merged = None;
    let state = if exists {
        // files: `git worktree remove` refuses them itself (see `apply`)
        let state = Work::read_commits(Path::new(&w.path))?;
        state.refuse_unless_forced(&w.name, &w.path, o.force)?;
        Some(state)
    } else {
        None
    };
    if repo.branch_exists(&w.branch_name)? {
        let target = common::trunk_ref(&repo, &project)?;
        let is_merged = repo.is_ancestor(&w.branch_name, &target)?
            || repo.is_ancestor(&w.branch_name, &project.default_branch)?;
        merged = Some(is_merged);
        if o.check_merged && !is_merged && !o.force {
            return Err(unsafe_err(
                format!(
                    "branch {} is not merged into {target}; refusing to remove {}",
                    w.branch_name, w.name
                ),
                "merge it with `imi merge`, keep it with `imi close`, or pass --force (the branch is kept)",
            ));
        }
    }
    let mut intent = Intent::for_worktree(o.op, env.agent_id(), &project, &w);
    intent.force = o.force;
    intent.delete_branch = o.delete_branch && merged == Some(true);
    // --force never drops a commit that is on no ref
    intent.rescued = match &state {
        Some(st) => st.rescue(&repo, &w.name)?,
        None => None,
    };
    let journal = Journal::begin(&repo, intent)?;
    let rescued = journal.intent.rescued.clone();
    let branch_deleted = apply(s, env, &project, &w, journal).await?;
    Ok(Removed {
        worktree: w.name,
        path: w.path,
        branch: w.branch_name,
        branch_deleted,
        branch_merged: merged,
        rescued_ref: rescued,
    })
}

/// The steps of a remove or close, each skipped when already done: the directory,
/// the merged branch, the registry. Run by `imi remove` / `imi close` and, for an
/// interrupted one, by `imi recover`, under the repository lock. Returns whether
/// the branch was deleted. On failure the record stays and the error says how to
/// finish.
pub async fn apply<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    w: &Worktree,
    journal: Journal,
) -> Result<bool> {
    let i = journal.intent.clone();
    let repo = Repo::at(&project.trunk_path);
    let left = |e: Error, what: &str| {
        Error::new(
            e.kind,
            format!("removing {}: {what} failed: {}", i.worktree, e.message),
        )
        .with_hint(format!(
            "fix that, then run `imi recover -p {}` to finish",
            project.name
        ))
    };
    let path = Path::new(&i.path);
    let listed = repo
        .worktree_at(path)
        .map_err(|e| left(e.into(), "listing worktrees"))?;
    match listed {
        Some(e) if !e.prunable && path.is_dir() => {
            if let Err(e) = work::remove_dir(&repo, path, i.force) {
                if path.is_dir() && repo.worktree_at(path)?.is_some() {
                    // git refused before removing anything: the command simply
                    // failed; for files it would lose, say so as `remove` always has
                    journal.done()?;
                    if !i.force {
                        Work::read(path)?.refuse_unless_forced(&i.worktree, &i.path, false)?;
                    }
                    return Err(e);
                }
                return Err(left(e, "`git worktree remove`"));
            }
        }
        Some(_) => repo
            .worktree_prune()
            .map_err(|e| left(e.into(), "`git worktree prune`"))?,
        None => {}
    }
    let branch_deleted = i.delete_branch && repo.branch_exists(&i.branch)? && {
        // git's safe -d: it refuses a branch that is not merged
        repo.branch_delete(&i.branch, false)
            .map_err(|e| left(e.into(), "deleting the merged branch"))?;
        true
    };
    finish(
        s,
        env,
        project,
        w,
        if i.op == Op::Close {
            "closed"
        } else {
            "removed"
        },
    )
    .await
    .map_err(|e| {
        Error::new(
            e.kind,
            format!(
                "removed {} from disk, but the registry could not be updated: {}",
                i.worktree, e.message
            ),
        )
        .with_hint(format!(
            "run `imi recover -p {}` once the registry is reachable",
            project.name
        ))
    })?;
    journal.done()?;
    Ok(branch_deleted)
}

/// Registry and file-system bookkeeping after the worktree left the disk.
pub async fn finish<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    w: &Worktree,
    verb: &str,
) -> Result<()> {
    s.deactivate_worktree(w.id).await?;
    super::claims::release_with_last_checkout(s, env, w).await;
    let file = context::worktree_file_path(&common::container(project), &w.name);
    let _ = std::fs::remove_file(file);
    s.log_activity(&NewActivity {
        agent_id: env.agent_id().to_string(),
        worktree_id: Some(w.id),
        activity_type: "removed".into(),
        description: Some(format!("{verb} worktree {}", w.name)),
        ..Default::default()
    })
    .await?;
    Ok(())
}
