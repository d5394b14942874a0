//! `imi remove` / `imi rm` and `imi close`: take a worktree off the disk and mark it
//! inactive in the registry. SPEC §9: a dirty worktree or an unmerged branch is
//! refused without `--force`; an unmerged branch is never deleted (its commits stay
//! reachable); a merged branch is deleted with git's safe `branch -d` unless
//! `--keep-branch`; `close` always keeps the branch.

use std::path::Path;

use imi_core::{Error, ErrorKind, NewActivity, Project, Result, Store, Worktree};
use imi_git::Repo;
use serde_json::json;

use super::{Ctx, common, resolve_project};
use crate::cli::{CloseArgs, RemoveArgs};
use crate::context;
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
    let project = resolve_project(s, ctx).await?;
    let w = common::find_worktree(s, &project, name).await?;
    if w.type_name == "trunk" {
        return Err(
            Error::validation(format!("{} is the project's trunk", w.name))
                .with_hint("trunk is never removed by imi; deregister the project instead"),
        );
    }
    let repo = Repo::at(&project.trunk_path);
    let exists = Path::new(&w.path).is_dir();
    let mut merged = None;
    if exists {
        let dirty = Repo::at(&w.path).uncommitted_count()?;
        if dirty > 0 && !o.force {
            return Err(unsafe_err(
                format!(
                    "{} has {dirty} uncommitted file(s); refusing to remove it",
                    w.name
                ),
                "commit or stash them first, or pass --force to discard them",
            ));
        }
    }
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
    if exists {
        repo.locked(|| repo.worktree_remove(Path::new(&w.path), o.force))?;
    } else {
        repo.locked(|| repo.worktree_prune())?;
    }
    let branch_deleted = o.delete_branch && merged == Some(true) && {
        repo.branch_delete(&w.branch_name, false)?;
        true
    };
    finish(s, ctx, &project, &w, o.verb).await?;
    let mut human = format!("Removed {} ({})", w.name, w.path);
    match (merged, branch_deleted) {
        (_, true) => human.push_str(&format!("; deleted merged branch {}", w.branch_name)),
        (Some(false), _) => human.push_str(&format!("; kept unmerged branch {}", w.branch_name)),
        (Some(true), false) => human.push_str(&format!("; kept branch {}", w.branch_name)),
        (None, _) => {}
    }
    Ok(Output::new(
        json!({"worktree": w.name, "path": w.path, "branch": w.branch_name, "branch_deleted": branch_deleted, "branch_merged": merged}),
        human,
    ))
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
        agent_id: ctx.settings.agent_id.clone(),
        worktree_id: Some(w.id),
        activity_type: "removed".into(),
        description: Some(format!("{verb} worktree {}", w.name)),
        ..Default::default()
    })
    .await?;
    Ok(())
}
