//! Lookups several operations share: the project an operation acts on (as this host
//! sees it), a worktree by name, trunk's ref, the layout's directories.

use std::path::{Path, PathBuf};

use imi_core::{Error, Project, Result, Store, Worktree, WorktreeFilter, messages};
use imi_git::Repo;

use super::Env;
use crate::config::Source;
use crate::context;

/// Whether an operation runs inside one project: one is named (`spec`), or `cwd` is
/// inside a project's container.
pub fn inside_project(env: &Env, spec: Option<&str>) -> Result<bool> {
    Ok(spec.is_some() || context::locate(&env.cwd)?.is_some())
}

/// The project an operation acts on: `spec` (UUID, remote in any form, or name),
/// else the project whose container holds the current directory.
pub async fn resolve_project<S: Store>(s: &S, env: &Env, spec: Option<&str>) -> Result<Project> {
    if spec.is_none()
        && let Some(loc) = context::locate(&env.cwd)?
    {
        // this host's `imi init` wrote the file: its trunk is this host's trunk
        let mut p = project_of_file(s, &loc).await?;
        p.trunk_path = loc.project.trunk_path;
        return Ok(p);
    }
    let p = match spec {
        Some(spec) => project_by_spec(s, spec).await?,
        None => {
            return Err(Error::not_found(format!(
                "{} is not inside an imi project",
                env.cwd.display()
            ))
            .with_hint("run `imi init` in a git repository, or pass -p <name|uuid|remote>"));
        }
    };
    on_this_host(s, p).await
}

/// The project as this host sees it: several hosts share one project row, and each
/// registers its own trunk (SPEC §3.1), so the trunk path (and the container beside
/// it, where worktrees go) is this host's trunk worktree when it has one.
pub async fn on_this_host<S: Store>(s: &S, p: Project) -> Result<Project> {
    let id = p.id;
    let mut all = with_host_trunks(s, vec![p], Some(id)).await?;
    all.pop()
        .ok_or_else(|| Error::internal("a project went missing while reading its trunk"))
}

/// [`on_this_host`] for many projects, with one query.
pub async fn on_this_host_all<S: Store>(s: &S, projects: Vec<Project>) -> Result<Vec<Project>> {
    with_host_trunks(s, projects, None).await
}

async fn with_host_trunks<S: Store>(
    s: &S,
    mut projects: Vec<Project>,
    project_id: Option<uuid::Uuid>,
) -> Result<Vec<Project>> {
    let filter = imi_core::WorktreeFilter {
        project_id,
        type_name: Some("trunk".into()),
        host: Some(s.host().to_string()),
        ..Default::default()
    };
    let mut trunks: std::collections::HashMap<uuid::Uuid, String> = s
        .list_worktrees(&filter)
        .await?
        .into_iter()
        .map(|w| (w.project_id, w.path))
        .collect();
    for p in &mut projects {
        if let Some(t) = trunks.remove(&p.id) {
            p.trunk_path = t;
        }
    }
    Ok(projects)
}

async fn project_of_file<S: Store>(s: &S, loc: &context::Location) -> Result<Project> {
    s.get_project(loc.project.project_id).await.map_err(|e| {
        if e.kind != imi_core::ErrorKind::NotFound {
            // the registry failed, not the file: its own message says what to do
            return e;
        }
        Error::new(
            e.kind,
            format!(
                "{} names project {} but the registry does not know it",
                context::project_file_path(&loc.container).display(),
                loc.project.project_id
            ),
        )
        .with_hint("run `imi init` in the trunk to register it again")
    })
}

/// A project named by a UUID, a remote (anything with `:` or `/`), else a name.
pub async fn project_by_spec<S: Store>(s: &S, spec: &str) -> Result<Project> {
    if let Ok(id) = uuid::Uuid::parse_str(spec.trim()) {
        return s.get_project(id).await;
    }
    if spec.contains(':') || spec.contains('/') {
        return s.get_project_by_origin(spec).await;
    }
    s.get_project_by_name(spec).await
}

/// The projects an operation over many covers: `spec`, else every active project;
/// each as this host sees it.
pub async fn scope<S: Store>(s: &S, spec: Option<&str>) -> Result<Vec<Project>> {
    let projects = match spec {
        Some(spec) => vec![project_by_spec(s, spec).await?],
        None => s.list_projects(false).await?,
    };
    on_this_host_all(s, projects).await
}

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
        0 => Err(messages::no_active_worktree_named(
            name,
            &project.name,
            s.host(),
        )),
        _ => Err(messages::ambiguous_worktree_name(
            name,
            candidates.iter().map(|w| w.name.as_str()),
        )),
    }
}

/// The worktree named, else the one the current directory is in.
pub async fn worktree_here_or_named<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    name: Option<&str>,
) -> Result<Worktree> {
    if let Some(n) = name {
        return find_worktree(s, project, n).await;
    }
    let loc = context::locate(&env.cwd)?;
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
pub fn explicit_agent(env: &Env) -> Option<String> {
    (env.settings.agent_source != Source::Default).then(|| env.settings.agent_id.clone())
}

/// The directory holding the project's worktrees.
pub fn container(project: &Project) -> PathBuf {
    let trunk = Path::new(project.trunk_path.trim_end_matches('/'));
    trunk
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| trunk.to_path_buf())
}
