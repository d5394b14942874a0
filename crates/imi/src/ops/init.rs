//! Init: register the repository at the current directory (or clone a URL into
//! the layout), write `.iMi/project.json` and register the trunk worktree.
//! Idempotent. A repository outside the layout is moved into it only when the
//! arguments allow it (the CLI asks, or takes `--yes`), by a rename (never
//! copy-and-delete).

use std::path::{Path, PathBuf};

use imi_core::{Error, ErrorKind, NewProject, NewWorktree, Project, Result, Store, remote};
use imi_git::{GitError, Repo};
use serde::{Deserialize, Serialize};

use super::{Env, Report};
use crate::context::{self, ProjectFile, WorktreeFile};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InitArgs {
    /// Clone this remote into the layout; else the repository at the current directory.
    pub url: Option<String>,
    /// The repository may be moved into the layout (`--yes`, or a confirmed question).
    pub allow_move: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Initialized {
    pub project: Project,
    pub trunk_path: String,
    /// The directory holding the project's worktrees.
    #[schema(value_type = String)]
    pub container: PathBuf,
    /// Where the repository was before it was moved into the layout.
    #[schema(value_type = Option<String>)]
    pub moved_from: Option<PathBuf>,
}

impl Report for Initialized {}

/// A rename `init` would make to put the repository into the layout.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Move {
    #[schema(value_type = String)]
    pub from: PathBuf,
    #[schema(value_type = String)]
    pub to: PathBuf,
}

/// Registers the project and its trunk (see the module's comment).
pub async fn init(env: &Env, args: &InitArgs) -> Result<Initialized> {
    with_store!(env.store().await?, s => init_in(s, env, args).await)
}

/// The move `init` (without a URL) would make, changing nothing: `None` when the
/// repository is in the layout already. Errors are the ones `init` would give
/// before moving. For a front end that asks before it allows the move.
pub fn planned_move(env: &Env) -> Result<Option<Move>> {
    let (start, run_from) = local_repository(env)?;
    let plan = layout(env, &start, run_from.as_deref())?;
    Ok(plan.move_to.map(|to| Move {
        from: plan.start,
        to,
    }))
}

/// `trunk-<branch>`, with `/` in the branch made safe for a directory name.
pub fn trunk_dir_name(branch: &str) -> String {
    format!("trunk-{}", branch.replace('/', "-"))
}

/// The repository's name: the last part of its remote's identity, else of its path.
/// Checked as a path component either way (imi_core::naming::validate_project_name).
fn project_name(remote: Option<&str>, fallback: &Path) -> Result<String> {
    let name = match remote {
        Some(r) => remote::project_name(r)?,
        None => {
            let n = fallback
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    Error::validation(format!("cannot name the project at {}", fallback.display()))
                        .with_hint("run `imi init` inside the repository's own directory")
                })?;
            n.strip_suffix(".git").map(str::to_string).unwrap_or(n)
        }
    };
    imi_core::naming::validate_project_name(&name)?;
    Ok(name)
}

fn canonical(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p)
        .map_err(|e| Error::validation(format!("cannot resolve {}: {e}", p.display())))
}

/// Clones `url` into `<root>/<name>/trunk-<branch>`, or finds an earlier clone.
fn clone_into_layout(env: &Env, url: &str) -> Result<PathBuf> {
    let name = project_name(Some(url), Path::new(url))?;
    let container = env.settings.root.join(&name);
    if let Some(loc) = context::locate(&container)?
        && loc.container == container
        && Path::new(&loc.project.trunk_path).is_dir()
    {
        return Ok(PathBuf::from(loc.project.trunk_path));
    }
    let created = create_dirs(&container).map_err(|e| {
        Error::validation(format!("cannot create {}: {e}", container.display()))
            .with_hint("check IMI_ROOT / `root` in the config file")
    })?;
    let cloned = clone_into(url, &container);
    if cloned.is_err() {
        // a failed init leaves no empty directories behind
        remove_created(&created);
    }
    cloned
}

/// Creates `dir` and its missing parents; returns the ones it created, outermost
/// first.
fn create_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && p.symlink_metadata().is_err())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir)?;
    missing.reverse();
    Ok(missing)
}

/// Removes what [`create_dirs`] created, innermost first, while each is empty
/// (`remove_dir` never deletes anything inside).
fn remove_created(dirs: &[PathBuf]) {
    for d in dirs.iter().rev() {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
    }
}

/// The clone of `url` in `container`, at `trunk-<branch>`.
fn clone_into(url: &str, container: &Path) -> Result<PathBuf> {
    let tmp = container.join(format!(".imi-clone-{}", uuid::Uuid::new_v4().simple()));
    if let Err(e) = imi_git::clone(url, &tmp) {
        discard_own_clone(&tmp);
        return Err(e);
    }
    let branch = Repo::at(&tmp)
        .current_branch()?
        .unwrap_or_else(|| "main".into());
    let target = container.join(trunk_dir_name(&branch));
    // rename(2) is atomic and refuses a non-empty target: of several `imi init URL`
    // at once, one clone lands; the others find it and discard their own
    let renamed = if target.symlink_metadata().is_ok() {
        Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
    } else {
        std::fs::rename(&tmp, &target)
    };
    if let Err(e) = renamed {
        let same = Repo::at(&target)
            .remote_url("origin")
            .ok()
            .flatten()
            .and_then(|r| remote::origin_key(&r).ok())
            == remote::origin_key(url).ok();
        if target.is_dir() && same {
            discard_own_clone(&tmp);
            return Ok(target);
        }
        discard_own_clone(&tmp);
        return Err(Error::conflict(format!(
            "cannot put the clone at {}: {}",
            target.display(),
            if target.symlink_metadata().is_ok() {
                "something else is there".to_string()
            } else {
                e.to_string()
            }
        ))
        .with_hint(format!(
            "move {} away, or run `imi init` inside it if it is this repository",
            target.display()
        )));
    }
    Ok(target)
}

/// Deletes a clone this process made a moment ago and nobody has seen (its
/// `.imi-clone-<random>` name is ours): never a user's directory.
fn discard_own_clone(tmp: &Path) {
    let ours = tmp
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".imi-clone-"));
    if ours {
        let _ = std::fs::remove_dir_all(tmp);
    }
}

/// The main worktree of the repository at `env.cwd` (even when run from a linked
/// one), and the linked worktree it was run from, if so.
fn local_repository(env: &Env) -> Result<(PathBuf, Option<PathBuf>)> {
    let repo = Repo::at(&env.cwd);
    let top = repo.toplevel().map_err(|e| match e {
        GitError::NotARepository { .. } => Error::from(e)
            .with_hint("run `imi init` inside a git repository, or `imi init URL` to clone one"),
        e => e.into(),
    })?;
    let common = repo.common_dir()?;
    match common.file_name().and_then(|n| n.to_str()) {
        Some(".git") => {
            let main = common
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or(top.clone());
            // set when run from a linked worktree: the repository to register is elsewhere
            let run_from = (canonical(&main)? != canonical(&top)?).then_some(top);
            Ok((main, run_from))
        }
        _ => Err(Error::validation(format!(
            "{} is a bare repository",
            common.display()
        ))
        .with_hint("run `imi init` in a repository with a working tree, or `imi init URL` to clone one")),
    }
}

/// What the repository at `start` is, and where the layout wants it.
struct Layout {
    /// `start`, canonical.
    start: PathBuf,
    remote_url: Option<String>,
    branch: String,
    trunk_name: String,
    /// Where it must be moved: `None` when it is in the layout already.
    move_to: Option<PathBuf>,
}

/// Reads the repository at `start` and decides whether it must move; refuses a move
/// that must not happen (the main worktree of a linked one; a target in the way).
fn layout(env: &Env, start: &Path, run_from: Option<&Path>) -> Result<Layout> {
    let start = canonical(start)?;
    let repo = Repo::at(&start);
    let remote_url = repo.remote_url("origin")?;
    let branch = match repo.remote_default_branch("origin")? {
        Some(b) => b,
        None => repo.current_branch()?.unwrap_or_else(|| "main".into()),
    };
    let trunk_name = trunk_dir_name(&branch);
    let in_layout = start.file_name().and_then(|n| n.to_str()) == Some(trunk_name.as_str());
    let move_to = if in_layout {
        None
    } else {
        let name = project_name(remote_url.as_deref(), &start)?;
        let target = env.settings.root.join(&name).join(&trunk_name);
        if let Some(here) = run_from {
            // never move a directory the user is not in: the main worktree of this
            // linked one holds other people's checkouts and build trees
            return Err(Error::new(
                ErrorKind::Unsafe,
                format!(
                    "{} is a linked worktree of {}, which is outside imi's layout; imi would move {} to {}",
                    here.display(),
                    start.display(),
                    start.display(),
                    target.display()
                ),
            )
            .with_hint(format!(
                "run `imi init` in {} itself if you want it moved",
                start.display()
            )));
        }
        if target.exists() {
            return Err(Error::conflict(format!(
                "{} is outside the layout, and {} already exists",
                start.display(),
                target.display()
            ))
            .with_hint("move one of them away, or set IMI_ROOT to another directory"));
        }
        Some(target)
    };
    Ok(Layout {
        start,
        remote_url,
        branch,
        trunk_name,
        move_to,
    })
}

/// Moves the repository at `start` to `target` (one rename) and repairs its linked
/// worktrees.
fn move_into_layout(start: &Path, target: &Path) -> Result<()> {
    let created = match target.parent() {
        Some(parent) => create_dirs(parent)
            .map_err(|e| Error::validation(format!("cannot create {}: {e}", parent.display())))?,
        None => vec![],
    };
    std::fs::rename(start, target).map_err(|e| {
        remove_created(&created);
        let err = Error::validation(format!(
            "cannot move {} to {}: {e}",
            start.display(),
            target.display()
        ));
        if e.kind() == std::io::ErrorKind::CrossesDevices {
            err.with_hint("a rename needs both on one file system: move it yourself (or set IMI_ROOT on that file system) and run `imi init` there")
        } else {
            err.with_hint(format!(
                "check that you may write to {} and {}, or move it yourself and run `imi init` there",
                start.parent().map(|p| p.display().to_string()).unwrap_or_default(),
                target.parent().map(|p| p.display().to_string()).unwrap_or_default()
            ))
        }
    })?;
    // linked worktrees point at the old location until repaired
    Repo::at(target).run(["worktree", "repair"])?;
    Ok(())
}

async fn init_in<S: Store>(s: &S, env: &Env, args: &InitArgs) -> Result<Initialized> {
    let (start, run_from) = match &args.url {
        Some(url) => {
            remote::check_credentials_unambiguous(url)?;
            remote::origin_key(url)?;
            (clone_into_layout(env, url)?, None)
        }
        None => local_repository(env)?,
    };
    let Layout {
        start,
        remote_url,
        branch,
        trunk_name,
        move_to,
    } = layout(env, &start, run_from.as_deref())?;
    let (trunk, moved_from) = match move_to {
        None => (start, None),
        Some(target) => {
            if !args.allow_move {
                return Err(Error::new(
                    ErrorKind::Unsafe,
                    format!(
                        "{} is outside imi's layout; imi would move it to {}",
                        start.display(),
                        target.display()
                    ),
                )
                .with_hint(
                    "run `imi init --yes` to move it (a rename: nothing is copied or deleted)",
                ));
            }
            move_into_layout(&start, &target)?;
            (target, Some(start))
        }
    };
    let container = trunk
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::validation("the trunk cannot be the file system root"))?;
    let name = project_name(remote_url.as_deref(), &container)?;
    let trunk_path = trunk.to_string_lossy().into_owned();
    // a trunk already registered for another identity (its origin changed): refuse
    // before writing anything, rather than leave a second project behind
    let new = NewProject {
        // the UUID this project already has in another registry (the file names it):
        // a registry that does not know the project yet keeps it
        id: context::recorded_project_id(&container),
        name: name.clone(),
        remote_origin: remote_url.clone(),
        default_branch: Some(branch.clone()),
        trunk_path: trunk_path.clone(),
        ..Default::default()
    };
    let (key, _) = new.identity()?;
    match s.get_worktree_by_path(&trunk_path).await {
        Ok(w) => {
            let owner = s.get_project(w.project_id).await?;
            if owner.active && owner.origin_key != key {
                return Err(Error::conflict(format!(
                    "{trunk_path} is the trunk of project {} ({}), registered for {}; its origin is now {}",
                    owner.name,
                    owner.id,
                    owner.remote_origin.as_deref().unwrap_or(&owner.origin_key),
                    new.remote_origin.as_deref().unwrap_or("(none)")
                ))
                .with_hint(format!(
                    "to keep project {}, set the origin back (`git -C {trunk_path} remote set-url origin {}`); nothing was changed",
                    owner.name,
                    owner.remote_origin.as_deref().unwrap_or("...")
                )));
            }
        }
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let project = s.register_project(&new).await?;
    let wt = s
        .register_worktree(&NewWorktree {
            project_id: project.id,
            type_name: "trunk".into(),
            name: trunk_name.clone(),
            branch_name: branch.clone(),
            path: trunk_path.clone(),
            ..Default::default()
        })
        .await?;
    context::write_json(
        &context::project_file_path(&container),
        &ProjectFile {
            project_id: project.id,
            name: project.name.clone(),
            remote_origin: project.remote_origin.clone(),
            default_branch: project.default_branch.clone(),
            trunk_path: trunk_path.clone(),
        },
    )?;
    context::write_json(
        &context::worktree_file_path(&container, &trunk_name),
        &WorktreeFile {
            worktree_id: wt.id,
            name: trunk_name,
            type_name: "trunk".into(),
            branch: branch.clone(),
            agent_id: None,
        },
    )?;
    Ok(Initialized {
        project,
        trunk_path,
        container,
        moved_from,
    })
}
