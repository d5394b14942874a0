//! `imi add <type> <name>` (and `imi feat|fix|aiops|devops <name>`, `imi review
//! <N>`): a worktree `<container>/<worktree_prefix><name>` on branch
//! `<branch_prefix><name>`. An existing branch is reused, never recreated; running
//! it again prints the same path. git runs first and the registry row is written
//! only when git succeeded; if the registry then fails, the fresh worktree (and a
//! branch this command created) is removed again.

use std::path::Path;
use std::time::Duration;

use imi_core::{Error, NewActivity, NewWorktree, Project, Result, Store, Worktree, naming};
use imi_git::Repo;
use serde_json::json;

use super::{Ctx, common, resolve_project};
use crate::cli::{ReviewArgs, ShorthandArgs};
use crate::context::{self, WorktreeFile};
use crate::registry::with_store;
use crate::ui::Output;

enum Source<'a> {
    /// `--from REF` or the trunk ref; `fetch` first unless `--no-fetch`.
    Branch { from: Option<&'a str>, fetch: bool },
    /// A pull / merge request head.
    Review(u64),
}

pub async fn cmd_add(ctx: &Ctx<'_>, type_name: &str, args: &ShorthandArgs) -> Result<Output> {
    let store = ctx.store().await?;
    let src = Source::Branch {
        from: args.from.as_deref(),
        fetch: !args.no_fetch,
    };
    with_store!(&store, s => add(s, ctx, type_name, &args.name, src).await)
}

pub async fn cmd_review(ctx: &Ctx<'_>, args: &ReviewArgs) -> Result<Output> {
    let store = ctx.store().await?;
    let name = args.number.to_string();
    with_store!(&store, s => add(s, ctx, "review", &name, Source::Review(args.number)).await)
}

/// `git worktree add` can lose a race for one of git's lock files when several
/// processes add worktrees at once; those failures are retried.
fn worktree_add_retrying(
    repo: &Repo,
    path: &Path,
    branch: &str,
    start: Option<&str>,
) -> Result<()> {
    let mut delay = Duration::from_millis(20);
    for attempt in 0.. {
        match repo.locked(|| repo.worktree_add(path, branch, start)) {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt < 8
                    && (e.message.contains(".lock") || e.message.contains("Unable to create")) =>
            {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::internal("unreachable retry loop end"))
}

fn output(w: &Worktree, created: bool) -> Output {
    Output::new(
        json!({"worktree": w, "path": w.path, "created": created}),
        w.path.clone(),
    )
}

async fn add<S: Store>(
    s: &S,
    ctx: &Ctx<'_>,
    type_name: &str,
    name: &str,
    src: Source<'_>,
) -> Result<Output> {
    naming::validate_worktree_name(name)?;
    let project = resolve_project(s, ctx).await?;
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

    let listed = repo.worktree_list()?;
    let entry = listed.iter().find(|e| e.path == path);
    if let Some(e) = entry {
        // already a worktree: make sure it is this branch, then (re)register it
        if e.branch.as_deref() != Some(branch.as_str()) {
            return Err(Error::conflict(format!(
                "{} is a worktree of branch {}, not {branch}",
                path.display(),
                e.branch.as_deref().unwrap_or("(detached)")
            ))
            .with_hint("pick another name, or remove that worktree first"));
        }
        let w = register(
            s,
            ctx,
            &project,
            t.name.as_str(),
            &dir,
            &branch,
            &path_str,
            false,
        )
        .await?;
        return Ok(output(&w, false));
    }
    if path.exists() {
        return Err(Error::conflict(format!(
            "{} exists and is not a worktree of {}",
            path.display(),
            project.name
        ))
        .with_hint("move that directory away, or pick another name"));
    }

    let has_origin = repo.remote_url("origin")?.is_some();
    let created_branch = match src {
        Source::Review(n) => {
            if !has_origin {
                return Err(Error::validation(format!(
                    "project {} has no origin remote to fetch the review from",
                    project.name
                )));
            }
            if !repo.branch_exists(&branch)? {
                let github = format!("refs/pull/{n}/head");
                let gitlab = format!("refs/merge-requests/{n}/head");
                if !repo.fetch_ref("origin", &github, &branch)?
                    && !repo.fetch_ref("origin", &gitlab, &branch)?
                {
                    return Err(Error::not_found(format!(
                        "origin has neither {github} nor {gitlab}"
                    ))
                    .with_hint(
                        "check the number; the remote must publish pull or merge request refs",
                    ));
                }
                worktree_add_retrying(&repo, &path, &branch, None).inspect_err(|_| {
                    let _ = repo.branch_delete(&branch, true);
                })?;
                true
            } else {
                worktree_add_retrying(&repo, &path, &branch, None)?;
                false
            }
        }
        Source::Branch { from, fetch } => {
            if fetch && has_origin {
                repo.locked(|| repo.fetch("origin"))?;
            }
            if repo.branch_exists(&branch)? {
                worktree_add_retrying(&repo, &path, &branch, None)?;
                false
            } else {
                let start = match from {
                    Some(f) => {
                        repo.rev_parse(f).map_err(|_| {
                            Error::validation(format!(
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
                worktree_add_retrying(&repo, &path, &branch, Some(&start))?;
                true
            }
        }
    };

    match register(
        s,
        ctx,
        &project,
        t.name.as_str(),
        &dir,
        &branch,
        &path_str,
        true,
    )
    .await
    {
        Ok(w) => Ok(output(&w, true)),
        Err(e) => {
            // leave the disk as it was: the worktree is fresh and clean
            let cleanup = repo
                .locked(|| repo.worktree_remove(&path, false))
                .and_then(|()| {
                    if created_branch {
                        repo.branch_delete(&branch, true)
                    } else {
                        Ok(())
                    }
                });
            Err(match cleanup {
                Ok(()) => e,
                Err(c) => Error::new(
                    e.kind,
                    format!("{}; and cleaning up failed: {}", e.message, c.message),
                )
                .with_hint(format!(
                    "remove it with `git worktree remove {}`",
                    path.display()
                )),
            })
        }
    }
}

#[allow(clippy::too_many_arguments)] // one call site per path, all fields needed
async fn register<S: Store>(
    s: &S,
    ctx: &Ctx<'_>,
    project: &Project,
    type_name: &str,
    dir: &str,
    branch: &str,
    path: &str,
    log_created: bool,
) -> Result<Worktree> {
    let agent = common::explicit_agent(ctx);
    let existing = s
        .get_worktree_by_name(project.id, dir)
        .await
        .ok()
        .filter(|w| w.active);
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
            agent_id: ctx.settings.agent_id.clone(),
            worktree_id: Some(w.id),
            activity_type: "created".into(),
            description: Some(format!("created worktree {dir} on {branch}")),
            ..Default::default()
        })
        .await?;
    }
    Ok(w)
}
