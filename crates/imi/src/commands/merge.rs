//! `imi merge [name]`: merge a worktree's branch into trunk's default branch in the
//! trunk worktree, record the merge, then remove the worktree and the merged
//! branch. Refuses when either side is dirty; a conflicted merge is aborted so both
//! sides are exactly as they were.

use std::path::Path;

use imi_core::{Error, ErrorKind, NewActivity, Result, Store};
use imi_git::{MergeMode, MergeOutcome, Repo};
use serde_json::json;

use super::{Ctx, common, remove, resolve_project};
use crate::cli::MergeArgs;
use crate::registry::with_store;
use crate::ui::Output;

pub async fn cmd_merge(ctx: &Ctx<'_>, args: &MergeArgs) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => merge(s, ctx, args).await)
}

async fn merge<S: Store>(s: &S, ctx: &Ctx<'_>, args: &MergeArgs) -> Result<Output> {
    let project = resolve_project(s, ctx).await?;
    let w = common::worktree_here_or_named(s, ctx, &project, args.name.as_deref()).await?;
    if w.type_name == "trunk" {
        return Err(Error::validation("the trunk cannot be merged into itself")
            .with_hint("name the worktree to merge"));
    }
    let trunk = Repo::at(&project.trunk_path);
    let wt = Repo::at(&w.path);
    if !Path::new(&w.path).is_dir() {
        return Err(Error::not_found(format!("{} is gone from disk", w.path))
            .with_hint("run `imi prune`, or recreate it with `imi add`"));
    }
    let dirty = wt.uncommitted_count()?;
    if dirty > 0 {
        return Err(Error::new(
            ErrorKind::Unsafe,
            format!("{} has {dirty} uncommitted file(s)", w.name),
        )
        .with_hint("commit or stash them, then merge again"));
    }
    let trunk_dirty = trunk.uncommitted_count()?;
    if trunk_dirty > 0 {
        return Err(Error::new(
            ErrorKind::Unsafe,
            format!(
                "trunk {} has {trunk_dirty} uncommitted file(s)",
                project.trunk_path
            ),
        )
        .with_hint("commit or stash them in trunk, then merge again"));
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
    let commit = match trunk.merge(&w.branch_name, mode, &message)? {
        MergeOutcome::Merged { commit } => commit,
        MergeOutcome::Conflict { files } => {
            return Err(Error::conflict(format!(
                "merging {} into {} conflicts in {}; the merge was aborted and both sides are unchanged",
                w.branch_name,
                project.default_branch,
                files.join(", ")
            ))
            .with_hint(format!("rebase {} onto {} (or merge it in the worktree), resolve, then run `imi merge` again", w.branch_name, project.default_branch)));
        }
    };
    let merged = s
        .mark_merged(w.id, &ctx.settings.agent_id, Some(&commit))
        .await?;
    s.log_activity(&NewActivity {
        agent_id: ctx.settings.agent_id.clone(),
        worktree_id: Some(w.id),
        activity_type: "merged".into(),
        description: Some(format!("{message} ({commit})")),
        ..Default::default()
    })
    .await?;
    if args.push {
        trunk.push("origin", &project.default_branch)?;
    }
    // the worktree is clean and merged: remove it and its branch (a squash merge
    // leaves the branch unreachable from trunk, so it needs -D; it was just merged)
    trunk.locked(|| trunk.worktree_remove(Path::new(&w.path), false))?;
    trunk.branch_delete(&w.branch_name, mode == MergeMode::Squash)?;
    remove::finish(s, ctx, &project, &w, "merged").await?;
    Ok(Output::new(
        json!({"worktree": merged, "merge_commit": commit, "pushed": args.push}),
        format!(
            "Merged {} into {} ({commit}); removed {} and branch {}",
            w.branch_name, project.default_branch, w.name, w.branch_name
        ),
    ))
}
