//! `imi remove` / `imi rm` and `imi close`: take a worktree off the disk and mark it
//! inactive in the registry. SPEC §9: a dirty worktree or an unmerged branch is
//! refused without `--force`; an unmerged branch is never deleted (its commits stay
//! reachable); a merged branch is deleted with git's safe `branch -d` unless
//! `--keep-branch`; `close` always keeps the branch.

use std::path::Path;

use imi_core::{Error, ErrorKind, NewActivity, Project, Result, Store, Worktree};
use imi_git::Repo;
use serde_json::json;

use super::Ctx;
use super::work::{self, Work};
use crate::cli::{CloseArgs, RemoveArgs};
use crate::context;
use crate::journal::{Intent, Journal, Op};
use crate::ops::common;
use crate::registry::with_store;
use crate::ui::Output;

pub async fn cmd_remove(ctx: &Ctx<'_>, args: &RemoveArgs) -> Result<Output> {
    let store = ctx.store().await?;
    let opts = Opts {
        force: args.force,
        delete_branch: !args.keep_branch,
        check_merged: true,
        verb: "removed",
    };
    with_store!(&store, s => remove(s, ctx, &args.name, opts).await)
}

pub async fn cmd_close(ctx: &Ctx<'_>, args: &CloseArgs) -> Result<Output> {
    let store = ctx.store().await?;
    let opts = Opts {
        force: args.force,
        delete_branch: false,
        check_merged: false,
        verb: "closed",
    };
    with_store!(&store, s => remove(s, ctx, &args.name, opts).await)
}

#[derive(Clone, Copy)]
struct Opts {
    force: bool,
    delete_branch: bool,
    check_merged: bool,
    verb: &'static str,
}

fn unsafe_err(msg: String, hint: &str) -> Error {
    Error::new(ErrorKind::Unsafe, msg).with_hint(hint.to_string())
}

async fn remove<S: Store>(s: &S, ctx: &Ctx<'_>, name: &str, o: Opts) -> Result<Output> {
    let project =
        crate::ops::common::resolve_project(s, &ctx.env, ctx.global.project.as_deref()).await?;
    let w = common::find_worktree(s, &project, name).await?;
    if w.type_name == "trunk" {
        return Err(
            Error::validation(format!("{} is the project's trunk", w.name))
                .with_hint("trunk is never removed by imi; deregister the project instead"),
        );
    }
    let repo = Repo::at(&project.trunk_path);
    // the checks that decide and the steps they allow run under one lock
    let _lock = repo.lock()?;
    let exists = Path::new(&w.path).is_dir();
    let mut merged = None;
    let state = if exists {
        let state = Work::read(Path::new(&w.path))?;
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
    let mut intent = Intent::for_worktree(
        if o.verb == "closed" {
            Op::Close
        } else {
            Op::Remove
        },
        &ctx.env.settings.agent_id,
        &project,
        &w,
    );
    intent.force = o.force;
    intent.delete_branch = o.delete_branch && merged == Some(true);
    // --force never drops a commit that is on no ref
    intent.rescued = match &state {
        Some(st) => st.rescue(&repo, &w.name)?,
        None => None,
    };
    let journal = Journal::begin(&repo, intent)?;
    let rescued = journal.intent.rescued.clone();
    let branch_deleted = apply(s, ctx, &project, &w, journal).await?;
    let mut human = format!("Removed {} ({})", w.name, w.path);
    match (merged, branch_deleted) {
        (_, true) => human.push_str(&format!("; deleted merged branch {}", w.branch_name)),
        (Some(false), _) => human.push_str(&format!("; kept unmerged branch {}", w.branch_name)),
        (Some(true), false) => human.push_str(&format!("; kept branch {}", w.branch_name)),
        (None, _) => {}
    }
    if let Some(r) = &rescued {
        human.push_str(&format!("; its commits on no branch are kept on {r}"));
    }
    Ok(Output::new(
        json!({"worktree": w.name, "path": w.path, "branch": w.branch_name, "branch_deleted": branch_deleted, "branch_merged": merged, "rescued_ref": rescued}),
        human,
    ))
}

/// The steps of a remove or close, each skipped when already done: the directory,
/// the merged branch, the registry. Run by `imi remove` / `imi close` and, for an
/// interrupted one, by `imi recover`, under the repository lock. Returns whether
/// the branch was deleted. On failure the record stays and the error says how to
/// finish.
pub async fn apply<S: Store>(
    s: &S,
    ctx: &Ctx<'_>,
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
        .worktree_list()
        .map_err(|e| left(e, "listing worktrees"))?;
    match listed.iter().find(|e| e.path == path) {
        Some(e) if !e.prunable && path.is_dir() => {
            if let Err(e) = work::remove_dir(&repo, path, i.force) {
                if path.is_dir() && repo.worktree_list()?.iter().any(|x| x.path == path) {
                    // git refused before removing anything: the command simply failed
                    journal.done()?;
                    return Err(e);
                }
                return Err(left(e, "`git worktree remove`"));
            }
        }
        Some(_) => repo
            .worktree_prune()
            .map_err(|e| left(e, "`git worktree prune`"))?,
        None => {}
    }
    let branch_deleted = i.delete_branch && repo.branch_exists(&i.branch)? && {
        // git's safe -d: it refuses a branch that is not merged
        repo.branch_delete(&i.branch, false)
            .map_err(|e| left(e, "deleting the merged branch"))?;
        true
    };
    finish(
        s,
        ctx,
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
    ctx: &Ctx<'_>,
    project: &Project,
    w: &Worktree,
    verb: &str,
) -> Result<()> {
    s.deactivate_worktree(w.id).await?;
    let file = context::worktree_file_path(&common::container(project), &w.name);
    let _ = std::fs::remove_file(file);
    s.log_activity(&NewActivity {
        agent_id: ctx.env.settings.agent_id.clone(),
        worktree_id: Some(w.id),
        activity_type: "removed".into(),
        description: Some(format!("{verb} worktree {}", w.name)),
        ..Default::default()
    })
    .await?;
    Ok(())
}
