//! Lookups several worktree commands share.

use imi_core::{Error, Project, Result, Store, Worktree, WorktreeFilter};
use imi_git::Repo;

use super::Ctx;
use crate::config::Source;
use crate::context;

/// A worktree of `project` on this host by directory name (`feat-login`), or by bare
/// name (`login`) when exactly one type's prefix makes it a registered worktree.
/// Another host's checkout of the same name is never found: commands that change or
/// remove a worktree act on this host's rows and disk only.
pub async fn find_worktree<S: Store>(s: &S, project: &Project, name: &str) -> Result<Worktree> {
    if let Ok(w) = s.get_worktree_by_name(project.id, name).await
        && w.active
    {
        return Ok(w);
    }
    let filter = WorktreeFilter {
        project_id: Some(project.id),
        host: Some(s.host().to_string()),
        ..Default::default()
    };
    let types = s.list_types().await?;
    let candidates: Vec<Worktree> = s
        .list_worktrees(&filter)
        .await?
        .into_iter()
        .filter(|w| {
            types
                .iter()
                .any(|t| t.name == w.type_name && w.name == format!("{}{name}", t.worktree_prefix))
        })
        .collect();
    match candidates.len() {
        1 => Ok(candidates
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("empty"))?),
        0 => Err(Error::not_found(format!(
            "no active worktree {name:?} in project {} on {}",
            project.name,
            s.host()
        ))
        .with_hint("list them with `imi list`")),
        _ => Err(Error::conflict(format!(
            "{name:?} matches several worktrees: {}",
            candidates
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("give the full directory name")),
    }
}

/// The worktree named on the command line, else the one the current directory is in.
pub async fn worktree_here_or_named<S: Store>(
    s: &S,
    ctx: &Ctx<'_>,
    project: &Project,
    name: Option<&str>,
) -> Result<Worktree> {
    if let Some(n) = name {
        return find_worktree(s, project, n).await;
    }
    let loc = context::locate(&ctx.cwd)?;
    match loc.as_ref().and_then(|l| l.worktree_name()) {
        Some(n) => find_worktree(s, project, n).await,
        None => Err(Error::validation("which worktree? you are not inside one")
            .with_hint("name it, e.g. `imi merge feat-login`, or cd into the worktree")),
    }
}

/// The ref trunk is compared and merged against: `origin/<default>` when fetched,
/// else the local default branch.
pub fn trunk_ref(repo: &Repo, project: &Project) -> Result<String> {
    let remote = format!("refs/remotes/origin/{}", project.default_branch);
    if repo.ref_exists(&remote)? {
        Ok(format!("origin/{}", project.default_branch))
    } else {
        Ok(project.default_branch.clone())
    }
}

/// The owner recorded on new worktrees: an agent given explicitly (flag, env or
/// config), none when imi only fell back to the user name.
pub fn explicit_agent(ctx: &Ctx<'_>) -> Option<String> {
    (ctx.settings.agent_source != Source::Default).then(|| ctx.settings.agent_id.clone())
}

/// The directory holding the project's worktrees.
pub fn container(project: &Project) -> std::path::PathBuf {
    let trunk = std::path::Path::new(project.trunk_path.trim_end_matches('/'));
    trunk
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| trunk.to_path_buf())
}
