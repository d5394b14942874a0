//! Add (and review): a worktree `<container>/<worktree_prefix><name>` on branch
//! `<branch_prefix><name>`. An existing branch is reused, never recreated; running
//! it again prints the same path. git runs first and the registry row is written
//! only when git succeeded; if the registry then fails, the fresh worktree (and a
//! branch this command created) is removed again.

use std::path::Path;

use imi_core::{
    Error, ErrorKind, NewActivity, NewWorktree, Project, Result, Store, Worktree, naming,
};
use imi_git::{GitError, Repo};
use serde::{Deserialize, Serialize};

use super::{Env, Report, common, work};
use crate::context::{self, WorktreeFile};
use crate::journal::{Intent, Journal, Op};
use crate::registry::with_store;

#[derive(Debug, Clone, Deserialize)]
pub struct AddArgs {
    /// The project (`-p`), else the one the current directory is in.
    pub project: Option<String>,
    /// The worktree type (`feat`, `fix`, a custom one).
    pub type_name: String,
    /// The name after the type's prefixes: `login` for `feat-login` on `feat/login`.
    pub name: String,
    /// Where a new branch starts (a branch, tag or commit); trunk's ref by default.
    pub from: Option<String>,
    /// Fetch origin first.
    pub fetch: bool,
    /// Skip the hooks (files are still copied).
    #[serde(default)]
    pub no_hooks: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReviewArgs {
    pub project: Option<String>,
    /// The pull or merge request number.
    pub number: u64,
    /// Skip the hooks (files are still copied).
    #[serde(default)]
    pub no_hooks: bool,
}

/// The worktree (made now, or found made before).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Added {
    pub worktree: Worktree,
    pub path: String,
    /// `false` when it was already there (running `add` again).
    pub created: bool,
    /// What setting up the new worktree did (files copied, `post-create` hooks);
    /// `None` when it was already there.
    pub setup: Option<super::hooks::Setup>,
}

impl Report for Added {}

enum Source<'a> {
    /// `from` or the trunk ref; `fetch` first.
    Branch { from: Option<&'a str>, fetch: bool },
    /// A pull / merge request head.
    Review(u64),
}

/// A worktree `<container>/<worktree_prefix><name>` on branch
/// `<branch_prefix><name>`; an existing branch is reused.
pub async fn add(env: &Env, args: &AddArgs) -> Result<Added> {
    let src = Source::Branch {
        from: args.from.as_deref(),
        fetch: args.fetch,
    };
    let project = args.project.as_deref();
    with_store!(env.store().await?, s => {
        let (added, project) = add_in(s, env, project, &args.type_name, &args.name, src).await?;
        set_up(s, env, &project, added, args.no_hooks).await
    })
}

/// After the repository lock is released: a hook may take minutes, and other adds
/// must not wait for it. `project` as this host sees it (its trunk).
async fn set_up<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    mut added: Added,
    no_hooks: bool,
) -> Result<Added> {
    if !added.created {
        return Ok(added);
    }
    // the worktree exists now: a failure to set it up is reported, never undone
    match super::hooks::set_up(s, env, project, &added.worktree, no_hooks).await {
        Ok(setup) => added.setup = Some(setup),
        Err(e) => env.observer().note(&format!(
            "setting up {} failed ({}); the worktree is kept: copy the files yourself or run `imi hooks run post-create {}`",
            added.worktree.name,
            imi_core::redact(&e.message),
            added.worktree.name
        )),
    }
    Ok(added)
}

/// A `review` worktree of pull (or merge) request `number`, fetched from origin.
pub async fn review(env: &Env, args: &ReviewArgs) -> Result<Added> {
    let name = args.number.to_string();
    let project = args.project.as_deref();
    with_store!(env.store().await?, s => {
        let (added, project) =
            add_in(s, env, project, "review", &name, Source::Review(args.number)).await?;
        set_up(s, env, &project, added, args.no_hooks).await
    })
}

fn added(worktree: Worktree, created: bool) -> Added {
    Added {
        path: worktree.path.clone(),
        worktree,
        created,
        setup: None,
    }
}

async fn add_in<S: Store>(
    s: &S,
    env: &Env,
    project: Option<&str>,
    type_name: &str,
    name: &str,
    src: Source<'_>,
) -> Result<(Added, Project)> {
    naming::validate_worktree_name(name)?;
    let project = common::resolve_project(s, env, project).await?;
    let types = s.list_types().await?;
    let Some(t) = types.iter().find(|t| t.name == type_name) else {
        return Err(
            Error::validation(format!("unknown worktree type {type_name:?}")).with_hint(format!(
                "use one of: {} (or add one with `imi types add`)",
                types
                    .iter()
                    .filter(|t| t.name != "trunk")
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    };
    if t.name == "trunk" {
        return Err(
            Error::validation("the trunk worktree is made by `imi init`, not `imi add`")
                .with_hint("pick another type, e.g. `imi feat NAME`"),
        );
    }
    let branch = format!("{}{name}", t.branch_prefix);
    let dir = format!("{}{name}", t.worktree_prefix);
    naming::validate_worktree_name(&dir)?;
    let trunk_dir = Path::new(&project.trunk_path)
        .file_name()
        .and_then(|n| n.to_str());
    if naming::is_trunk_dir_name(&dir) || trunk_dir == Some(dir.as_str()) {
        return Err(Error::validation(format!(
            "{dir:?} is a trunk directory name (trunk-<branch>), reserved for the trunk"
        ))
        .with_hint(format!(
            "pick another name, or give type {:?} a prefix that does not start like `trunk-`",
            t.name
        )));
    }
    let repo = Repo::at(&project.trunk_path);
    if !repo.valid_branch_name(&branch)? {
        return Err(
            Error::validation(format!("{branch:?} is not a valid git branch name"))
                .with_hint(format!("try {:?}", naming::suggest_name(name))),
        );
    }
    let container = common::container(&project);
    let path = container.join(&dir);
    let path_str = path.to_string_lossy().into_owned();
    if path_str == project.trunk_path.trim_end_matches('/') {
        return Err(Error::validation(format!("{dir} is the trunk's directory"))
            .with_hint("pick another name"));
    }

    // From here to the registry, one lock: concurrent adds of one name queue, and
    // the second finds the first one's worktree and prints the same path.
    let _lock = repo.lock().await?;
    if let Some(e) = repo.worktree_at(&path)? {
        // already a worktree: make sure it is this branch, then (re)register it
        if e.branch.as_deref() != Some(branch.as_str()) {
            return Err(Error::conflict(format!(
                "{} is a worktree of branch {}, not {branch}",
                path.display(),
                e.branch.as_deref().unwrap_or("(detached)")
            ))
            .with_hint("pick another name, or remove that worktree first"));
        }
        let (w, _) = register(
            s,
            env,
            &project,
            t.name.as_str(),
            &dir,
            &branch,
            &path_str,
            false,
        )
        .await?;
        return Ok((added(w, false), project));
    }
    if path.symlink_metadata().is_ok() {
        return Err(Error::conflict(format!(
            "{} exists and is not a worktree of {}",
            path.display(),
            project.name
        ))
        .with_hint("move that directory away, or pick another name"));
    }

    // asked only when needed: with --no-fetch an add starts no git but its own
    let has_origin = || -> Result<bool> { Ok(repo.remote_url("origin")?.is_some()) };
    // what to check out: an existing branch, or a new one from `start`
    let (start, fetch_review) = match src {
        Source::Review(n) => {
            if !has_origin()? {
                return Err(Error::validation(format!(
                    "project {} has no origin remote to fetch the review from",
                    project.name
                )));
            }
            if repo.branch_exists(&branch)? {
                (None, None)
            } else {
                let github = format!("refs/pull/{n}/head");
                let gitlab = format!("refs/merge-requests/{n}/head");
                // ls-remote first: an unreachable remote is GIT_ERROR, not "no such PR"
                let has = |r: &str| {
                    repo.remote_has_ref("origin", r).map_err(|e| {
                        e.into_error_with_hint(Some(
                            "check the network and `git remote get-url origin`, then try again"
                                .into(),
                        ))
                    })
                };
                let found = if has(&github)? {
                    github
                } else if has(&gitlab)? {
                    gitlab
                } else {
                    return Err(Error::not_found(format!(
                        "origin has neither {github} nor {gitlab}"
                    ))
                    .with_hint(
                        "check the number; the remote must publish pull or merge request refs",
                    ));
                };
                (None, Some(found))
            }
        }
        Source::Branch { from, fetch } => {
            if fetch && has_origin()? {
                repo.fetch("origin").map_err(|e| {
                    e.into_error_with_hint(Some(
                        "check the network and `git remote -v`, or pass --no-fetch to use what is already fetched from origin".into(),
                    ))
                })?;
            }
            if repo.branch_exists(&branch)? {
                (None, None)
            } else {
                let start = match from {
                    Some(f) => {
                        // a start that names no commit is not found, as a pull
                        // request number without refs is
                        repo.rev_parse(f).map_err(|_| {
                            Error::not_found(format!(
                                "--from {f:?} is not a commit in {}",
                                project.name
                            ))
                            .with_hint(
                                "give a branch, tag or commit that exists (git fetch first?)",
                            )
                        })?;
                        f.to_string()
                    }
                    None => common::trunk_ref(&repo, &project)?,
                };
                (Some(start), None)
            }
        }
    };
    let mut intent = Intent::new(
        Op::Add,
        env.agent_id(),
        &project,
        &dir,
        t.name.as_str(),
        None,
        &path_str,
        &branch,
    );
    intent.created_branch = start.is_some() || fetch_review.is_some();
    let journal = Journal::begin(&repo, intent)?;
    let git_steps = (|| -> Result<()> {
        if let Some(r) = &fetch_review {
            repo.fetch_ref("origin", r, &branch).map_err(|e| {
                let e = e.into_error_with_hint(Some(
                    "check the network and `git remote -v`, then try again".into(),
                ));
                Error {
                    message: format!("cannot fetch {r} from origin into {branch}: {}", e.message),
                    ..e
                }
            })?;
        }
        Ok(repo.worktree_add(&path, &branch, start.as_deref())?)
    })();
    if let Err(e) = git_steps {
        // git made nothing we must keep: undo what it made, if anything
        return match undo_add(&repo, &journal.intent) {
            Ok(()) => {
                journal.done()?;
                Err(e)
            }
            Err(c) => Err(left_over(e, c, &project)),
        };
    }
    match register(
        s,
        env,
        &project,
        t.name.as_str(),
        &dir,
        &branch,
        &path_str,
        true,
    )
    .await
    {
        Ok((w, _)) => {
            journal.done()?;
            Ok((added(w, true), project))
        }
        Err(e) => {
            // leave the disk and the registry as they were: the worktree is fresh
            let row = match s.get_worktree_by_name(project.id, &dir).await {
                Ok(w) => Ok((w.active && w.path == path_str).then_some(w.id)),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            };
            let undo = undo_add(&repo, &journal.intent);
            let undo = match (undo, row) {
                (Ok(()), Ok(Some(id))) => s.deactivate_worktree(id).await,
                (Ok(()), Ok(None)) => Ok(()),
                (Ok(()), Err(e)) | (Err(e), _) => Err(e),
            };
            match undo {
                Ok(()) => {
                    journal.done()?;
                    Err(e)
                }
                Err(c) => Err(left_over(e, c, &project)),
            }
        }
    }
}

/// Removes a worktree `git worktree add` was killed while creating (git's admin
/// directory for it still says `locked: initializing`): the admin directory under
/// `<common>/worktrees/`, found by the path it points at (or, killed before git
/// wrote that, by its name), and the half-made directory. Until this is done even
/// `git worktree list` can fail on the admin directory's half-written files.
/// Only for the add that made it (its intent record) under the repository lock.
/// Returns whether there was one.
pub fn discard_unfinished(repo: &Repo, path: &Path) -> Result<bool> {
    let admin_root = repo.common_dir()?.join("worktrees");
    let want = path.join(".git");
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found = false;
    if let Ok(entries) = std::fs::read_dir(&admin_root) {
        for e in entries.flatten() {
            let locked = std::fs::read_to_string(e.path().join("locked")).unwrap_or_default();
            if locked.trim() != "initializing" {
                continue;
            }
            let ours = match std::fs::read_to_string(e.path().join("gitdir")) {
                Ok(points_at) if !points_at.trim().is_empty() => {
                    Path::new(points_at.trim()) == want
                }
                // not written yet: git names the directory after the worktree's
                _ => e.file_name().to_string_lossy().starts_with(&base),
            };
            if ours {
                std::fs::remove_dir_all(e.path()).map_err(|err| {
                    Error::internal(format!("cannot remove {}: {err}", e.path().display()))
                })?;
                found = true;
            }
        }
    }
    if found && path.is_dir() {
        std::fs::remove_dir_all(path).map_err(|e| {
            Error::internal(format!("cannot remove {}: {e}", path.display()))
                .with_hint("remove it yourself: git never finished creating it")
        })?;
    }
    Ok(found)
}

fn left_over(e: Error, cleanup: Error, project: &Project) -> Error {
    Error::new(
        e.kind,
        format!(
            "{}; and undoing the add failed: {}",
            e.message, cleanup.message
        ),
    )
    .with_hint(format!(
        "run `imi recover -p {}` to finish undoing it",
        project.name
    ))
}

/// Takes away what an add made on disk: the fresh worktree (git's safe remove: it
/// was just checked out, or is still locked `initializing` by an interrupted
/// `git worktree add`) and the branch it created, when that branch holds no
/// commit that is on no other ref. Shared with `imi recover`.
pub fn undo_add(repo: &Repo, i: &Intent) -> Result<()> {
    let path = Path::new(&i.path);
    let listed = repo.worktree_list()?;
    if let Some(e) = listed.iter().find(|e| e.path == path) {
        if e.prunable || !path.is_dir() {
            repo.worktree_prune()?;
        } else if e.locked.as_deref() == Some("initializing") {
            // git never finished creating it (and never printed its path): nothing
            // in it is anyone's work
            let removed = repo.run([
                std::ffi::OsStr::new("worktree"),
                std::ffi::OsStr::new("remove"),
                std::ffi::OsStr::new("--force"),
                std::ffi::OsStr::new("--force"),
                path.as_os_str(),
            ]);
            match removed {
                Ok(_) => {}
                // too early even for git's own removal (no `.git` file yet)
                Err(GitError::Failed { .. }) => {
                    discard_unfinished(repo, path)?;
                    repo.worktree_prune()?;
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            work::remove_dir(repo, path, false)?;
        }
    } else if path.is_dir() && std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(path);
    }
    if i.created_branch && repo.branch_exists(&i.branch)? {
        let tip = repo.rev_parse(&format!("refs/heads/{}", i.branch))?;
        if repo.unique_commits(&tip, Some(&i.branch))? == 0 {
            repo.branch_delete(&i.branch, true)?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one call site per path, all fields needed
pub async fn register<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    type_name: &str,
    dir: &str,
    branch: &str,
    path: &str,
    log_created: bool,
) -> Result<(Worktree, bool)> {
    let agent = common::explicit_agent(env);
    let existing = s
        .get_worktree_by_name(project.id, dir)
        .await
        .ok()
        .filter(|w| w.active);
    let fresh = !matches!(&existing, Some(w) if w.path == path);
    let w = match existing {
        Some(w) if w.path == path => w,
        _ => {
            s.register_worktree(&NewWorktree {
                project_id: project.id,
                type_name: type_name.into(),
                name: dir.into(),
                branch_name: branch.into(),
                path: path.into(),
                agent_id: agent.clone(),
                ..Default::default()
            })
            .await?
        }
    };
    context::write_json(
        &context::worktree_file_path(&common::container(project), dir),
        &WorktreeFile {
            worktree_id: w.id,
            name: dir.into(),
            type_name: type_name.into(),
            branch: branch.into(),
            agent_id: w.agent_id.clone(),
        },
    )?;
    if log_created {
        s.log_activity(&NewActivity {
            agent_id: env.agent_id().to_string(),
            worktree_id: Some(w.id),
            activity_type: "created".into(),
            description: Some(format!("created worktree {dir} on {branch}")),
            ..Default::default()
        })
        .await?;
    }
    Ok((w, fresh))
}
