//! `imi init [URL]`: register the repository here (or clone URL into the layout),
//! write `.iMi/project.json` and register the trunk worktree. Idempotent. A
//! repository outside the layout is moved into it only after confirmation, by a
//! rename (never copy-and-delete).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use imi_core::{Error, ErrorKind, NewProject, NewWorktree, Result, Store, remote};
use imi_git::Repo;
use serde_json::json;

use super::Ctx;
use crate::cli::InitArgs;
use crate::context::{self, ProjectFile, WorktreeFile};
use crate::registry::with_store;
use crate::ui::Output;

pub async fn cmd_init(ctx: &Ctx<'_>, args: &InitArgs) -> Result<Output> {
    let store = ctx.store().await?;
    with_store!(&store, s => init(s, ctx, args).await)
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

fn confirm(question: &str) -> bool {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// Clones `url` into `<root>/<name>/trunk-<branch>`, or finds an earlier clone.
fn clone_into_layout(ctx: &Ctx<'_>, url: &str) -> Result<PathBuf> {
    let name = project_name(Some(url), Path::new(url))?;
    let container = ctx.env.settings.root.join(&name);
    if let Some(loc) = context::locate(&container)?
        && loc.container == container
        && Path::new(&loc.project.trunk_path).is_dir()
    {
        return Ok(PathBuf::from(loc.project.trunk_path));
    }
    std::fs::create_dir_all(&container).map_err(|e| {
        Error::validation(format!("cannot create {}: {e}", container.display()))
            .with_hint("check IMI_ROOT / `root` in the config file")
    })?;
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

async fn init<S: Store>(s: &S, ctx: &Ctx<'_>, args: &InitArgs) -> Result<Output> {
    // set when run from a linked worktree: the repository to register is elsewhere
    let mut run_from: Option<PathBuf> = None;
    let start = match &args.url {
        Some(url) => {
            remote::check_credentials_unambiguous(url)?;
            remote::origin_key(url)?;
            clone_into_layout(ctx, url)?
        }
        None => {
            let repo = Repo::at(&ctx.env.cwd);
            let top = repo.toplevel()?;
            let common = repo.common_dir()?;
            // the main worktree, even when run from a linked one
            match common.file_name().and_then(|n| n.to_str()) {
                Some(".git") => {
                    let main = common
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or(top.clone());
                    if canonical(&main)? != canonical(&top)? {
                        run_from = Some(top);
                    }
                    main
                }
                _ => {
                    return Err(Error::validation(format!(
                        "{} is a bare repository",
                        common.display()
                    ))
                    .with_hint("run `imi init` in a repository with a working tree, or `imi init URL` to clone one"));
                }
            }
        }
    };
    let start = canonical(&start)?;
    let repo = Repo::at(&start);
    let remote_url = repo.remote_url("origin")?;
    let branch = match repo.remote_default_branch("origin")? {
        Some(b) => b,
        None => repo.current_branch()?.unwrap_or_else(|| "main".into()),
    };
    let trunk_name = trunk_dir_name(&branch);
    let in_layout = start.file_name().and_then(|n| n.to_str()) == Some(trunk_name.as_str());
    let mut moved_from = None;
    let trunk = if in_layout {
        start
    } else {
        let name = project_name(remote_url.as_deref(), &start)?;
        let target = ctx.env.settings.root.join(&name).join(&trunk_name);
        if let Some(here) = &run_from {
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
        let question = format!(
            "Move {} to {} (a rename)?",
            start.display(),
            target.display()
        );
        if !args.yes && !confirm(&question) {
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
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::validation(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::rename(&start, &target).map_err(|e| {
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
        Repo::at(&target).run(["worktree", "repair"])?;
        moved_from = Some(start);
        target
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
    let mut human = format!(
        "Registered project {} ({})\ntrunk {}\n",
        project.name, project.id, trunk_path
    );
    if let Some(from) = &moved_from {
        human.push_str(&format!("moved from {}\n", from.display()));
    }
    Ok(Output::new(
        json!({"project": project, "trunk_path": trunk_path, "container": container, "moved_from": moved_from}),
        human,
    ))
}
