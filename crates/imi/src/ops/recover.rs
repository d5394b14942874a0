//! Recover: finish or undo operations that were interrupted (killed, crashed,
//! power loss) and left an intent record behind (see `journal.rs`). The rule: an
//! operation whose decisive git step happened is completed (a merge that moved
//! trunk is recorded and its worktree removed; a remove that started deleting
//! finishes; an add whose `git worktree add` finished is registered); one whose
//! decisive step did not happen is undone (nothing merged; the half-made worktree
//! of an add, which holds nobody's work, is taken away). Records of operations
//! still running (their process holds the repository lock) are left alone.

use std::path::Path;

use imi_core::{Error, ErrorKind, Project, Result, Store};
use imi_git::{Repo, Untracked};
use serde::{Deserialize, Serialize};

use super::{Env, Report, add, common, merge, remove};
use crate::journal::{self, Intent, Journal, Op};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecoverArgs {
    /// One project (`-p`); every active project when `None`.
    pub project: Option<String>,
}

/// Every interrupted operation found, and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recovery {
    pub operations: Vec<Recovered>,
    /// Some operations could not be finished.
    #[serde(skip)]
    pub failure: Option<Error>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recovered {
    pub project: String,
    pub operation: String,
    pub worktree: String,
    /// completed, undone, running, failed
    pub outcome: String,
    pub message: String,
}

impl Report for Recovery {
    fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }
}

pub async fn recover(env: &Env, args: &RecoverArgs) -> Result<Recovery> {
    with_store!(env.store().await?, s => recover_in(s, env, args).await)
}

async fn recover_in<S: Store>(s: &S, env: &Env, args: &RecoverArgs) -> Result<Recovery> {
    let projects = common::scope(s, args.project.as_deref()).await?;
    let mut done: Vec<Recovered> = vec![];
    for p in &projects {
        if !Path::new(&p.trunk_path).is_dir() {
            continue;
        }
        let repo = Repo::at(&p.trunk_path);
        let records = journal::list(&repo)?;
        if records.is_empty() {
            continue;
        }
        let Some(_lock) = repo.try_lock()? else {
            for (_, r) in &records {
                if let Ok(i) = r {
                    done.push(entry(
                        p,
                        i,
                        "running",
                        "still running: try again when it ends".into(),
                    ));
                }
            }
            continue;
        };
        journal::clear_temporaries(&repo)?;
        let since = records
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().map(|i| i.started_at))
            .min();
        if let Some(since) = since {
            clear_stale_git_locks(&repo, since).await?;
        }
        for (path, r) in records {
            let i = match r {
                Ok(i) => i,
                Err(e) => {
                    done.push(Recovered {
                        project: p.name.clone(),
                        operation: "unknown".into(),
                        worktree: String::new(),
                        outcome: "failed".into(),
                        message: format!(
                            "cannot read {}: {e}; delete it once you have checked the worktrees",
                            path.display()
                        ),
                    });
                    continue;
                }
            };
            let j = Journal::resume(path, i.clone());
            let outcome = match i.op {
                Op::Add => recover_add(s, env, p, j).await,
                Op::Remove | Op::Close => recover_remove(s, env, p, j).await,
                Op::Merge => recover_merge(s, env, p, j).await,
            };
            done.push(match outcome {
                Ok((o, m)) => entry(p, &i, o, m),
                Err(e) => entry(
                    p,
                    &i,
                    "failed",
                    format!(
                        "{}{}",
                        e.message,
                        e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
                    ),
                ),
            });
        }
    }
    let failed = done.iter().filter(|r| r.outcome == "failed").count();
    let failure = (failed > 0).then(|| {
        Error::new(
            ErrorKind::Conflict,
            format!("{failed} interrupted operation(s) could not be finished"),
        )
        .with_hint("see the message under each; fix it and run `imi recover` again")
    });
    Ok(Recovery {
        operations: done,
        failure,
    })
}

fn entry(p: &Project, i: &Intent, outcome: &'static str, message: String) -> Recovered {
    Recovered {
        project: p.name.clone(),
        operation: i.op.as_str().into(),
        worktree: i.worktree.clone(),
        outcome: outcome.into(),
        message,
    }
}

async fn recover_add<S: Store>(
    s: &S,
    env: &Env,
    p: &Project,
    j: Journal,
) -> Result<(&'static str, String)> {
    let i = j.intent.clone();
    let repo = Repo::at(&p.trunk_path);
    let path = Path::new(&i.path);
    // a `git worktree add` killed before it finished: its half-written admin
    // directory would even make `git worktree list` fail
    add::discard_unfinished(&repo, path)?;
    let listed = repo.worktree_list()?;
    let finished = listed.iter().any(|e| {
        e.path == path
            && !e.prunable
            && e.locked.as_deref() != Some("initializing")
            && e.branch.as_deref() == Some(i.branch.as_str())
    }) && path.is_dir();
    if finished {
        add::register(
            s,
            env,
            p,
            &i.type_name,
            &i.worktree,
            &i.branch,
            &i.path,
            true,
        )
        .await?;
        j.done()?;
        return Ok(("completed", format!("registered {}", i.path)));
    }
    add::undo_add(&repo, &i)?;
    match s.get_worktree_by_name(p.id, &i.worktree).await {
        Ok(w) if w.active && w.path == i.path => s.deactivate_worktree(w.id).await?,
        Ok(_) => {}
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    j.done()?;
    Ok((
        "undone",
        format!(
            "git had not finished creating {}; it was taken away: run `imi add {} ...` again",
            i.path, i.type_name
        ),
    ))
}

async fn recover_remove<S: Store>(
    s: &S,
    env: &Env,
    p: &Project,
    j: Journal,
) -> Result<(&'static str, String)> {
    let i = j.intent.clone();
    let id = i
        .worktree_id
        .ok_or_else(|| imi_core::Error::internal("a remove record without its worktree id"))?;
    let w = s.get_worktree(id).await?;
    remove::apply(s, env, p, &w, j).await?;
    Ok(("completed", format!("removed {}", i.path)))
}

async fn recover_merge<S: Store>(
    s: &S,
    env: &Env,
    p: &Project,
    j: Journal,
) -> Result<(&'static str, String)> {
    let i = j.intent.clone();
    let (Some(before), Some(commit), Some(id)) = (
        i.trunk_before.clone(),
        i.merge_commit.clone(),
        i.worktree_id,
    ) else {
        return Err(imi_core::Error::internal(
            "a merge record without its commits or worktree",
        ));
    };
    let trunk = Repo::at(&p.trunk_path);
    let head = trunk.rev_parse("HEAD")?;
    if head == commit || trunk.is_ancestor(&commit, &head)? {
        let w = s.get_worktree(id).await?;
        let f = merge::finish(s, env, p, &w, j).await?;
        let mut m = format!(
            "trunk has the merge ({commit}): recorded it, removed {} and its branch",
            i.worktree
        );
        if let Some(e) = f.push_error {
            m.push_str(&format!("; {}", e.message));
        }
        return Ok(("completed", m));
    }
    if head == before && trunk.uncommitted_count()? > 0 {
        // killed inside the fast-forward: trunk's files are part-way from `before`
        // to `commit`. Finish it when every changed file is at one of the two
        // commits' versions (then nothing in trunk is anyone's work but theirs).
        finish_fast_forward(&trunk, p, &before, &commit)?;
        let w = s.get_worktree(id).await?;
        merge::finish(s, env, p, &w, j).await?;
        return Ok((
            "completed",
            format!(
                "finished moving trunk to the merge ({commit}); recorded it, removed {} and its branch",
                i.worktree
            ),
        ));
    }
    j.done()?;
    Ok((
        "undone",
        format!(
            "trunk never moved: nothing was merged, {} and its branch are untouched; run `imi merge {}` again",
            i.worktree, i.worktree
        ),
    ))
}

/// Records left by operations that are no longer running, for `imi doctor`.
pub fn interrupted(repo: &Repo) -> Result<Vec<std::result::Result<Intent, String>>> {
    let records = journal::list(repo)?;
    if records.is_empty() {
        return Ok(vec![]);
    }
    match repo.try_lock()? {
        Some(_lock) => Ok(records.into_iter().map(|(_, r)| r).collect()),
        None => Ok(vec![]), // an operation is running: its record is not left over
    }
}

/// Completes a fast-forward of trunk from `before` to `to` that was killed half-way.
/// Refuses (changing nothing) unless every file that differs from `before` is a
/// path the fast-forward changes and holds `before`'s or `to`'s version of it, or
/// the start of `to`'s (git was killed while writing it).
fn finish_fast_forward(trunk: &Repo, p: &Project, before: &str, to: &str) -> Result<()> {
    let changed: std::collections::HashSet<String> = trunk
        .run(["diff", "--name-only", "-z", "--no-renames", before, to])?
        .split('\0')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    let dirty: Vec<String> = trunk
        .status(Untracked::All, false)?
        .into_iter()
        .map(|e| e.path)
        .collect();
    let refuse = |why: String| {
        imi_core::Error::new(
            ErrorKind::Conflict,
            format!(
                "trunk {} was interrupted while moving from {before} to {to}, and {why}",
                p.trunk_path
            ),
        )
        .with_hint(format!(
            "look at `git -C {} status`, keep what you need, then run `imi recover` again",
            p.trunk_path
        ))
    };
    for path in &dirty {
        if !changed.contains(path) {
            return Err(refuse(format!(
                "{path} changed, which the merge does not touch"
            )));
        }
        let file = Path::new(&p.trunk_path).join(path);
        let on_disk = if file.symlink_metadata().is_ok() {
            Some(trunk.run([
                std::ffi::OsStr::new("hash-object"),
                std::ffi::OsStr::new("--"),
                file.as_os_str(),
            ])?)
        } else {
            None
        };
        let blob = |rev: &str| trunk.rev_parse_blob(rev, path);
        if on_disk != blob(before)? && on_disk != blob(to)? {
            // killed while git wrote it: what is there is the start of `to`'s version
            let partial = match (std::fs::read(&file), trunk.blob_bytes(to, path)?) {
                (Ok(have), Some(want)) => want.starts_with(&have),
                _ => false,
            };
            if !partial {
                return Err(refuse(format!("{path} holds neither version")));
            }
        }
    }
    // every changed path to `to`'s version, in one checkout; paths `to` lacks go
    let mut checkout: Vec<&str> = vec!["checkout", to, "--"];
    for path in &changed {
        if trunk.rev_parse_blob(to, path)?.is_some() {
            checkout.push(path);
        } else {
            let file = Path::new(&p.trunk_path).join(path);
            if file.symlink_metadata().is_ok() {
                std::fs::remove_file(&file).map_err(|e| {
                    imi_core::Error::internal(format!("cannot remove {}: {e}", file.display()))
                })?;
            }
        }
    }
    if checkout.len() > 3 {
        trunk.run(&checkout)?;
    }
    trunk.run([
        "update-ref",
        "-m",
        "imi recover: finish merge",
        &format!("refs/heads/{}", p.default_branch),
        to,
        before,
    ])?;
    trunk.run(["read-tree", to])?;
    Ok(())
}

/// git's `*.lock` files that a killed git left in the repository's git
/// directories since `since` (an operation of ours started then; we hold the
/// repository lock, so no imi runs there). A lock that still exists a second after
/// it was last written belongs to no live git: git holds them for milliseconds.
async fn clear_stale_git_locks(repo: &Repo, since: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let common = repo.common_dir()?;
    let mut found = vec![];
    let mut stack = vec![common.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name();
            if ft.is_dir() {
                if dir == common && (name == "objects" || name == "imi") {
                    continue;
                }
                stack.push(path);
            } else if name.to_string_lossy().ends_with(".lock") && name != "imi.lock" {
                found.push(path);
            }
        }
    }
    let since = std::time::SystemTime::from(since) - STALE_AFTER;
    // (lock, when it was last written), for those written since the operation began
    let fresh: Vec<_> = found
        .into_iter()
        .filter_map(|lock| {
            let modified = lock.metadata().and_then(|m| m.modified()).ok()?;
            // older than the interrupted operation: not ours to judge
            (modified >= since).then_some((lock, modified))
        })
        .collect();
    // wait (once, without blocking the runtime) until the youngest is a second old
    let wait = fresh
        .iter()
        .map(|(_, m)| STALE_AFTER.saturating_sub(m.elapsed().unwrap_or_default()))
        .max()
        .unwrap_or_default();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    for (lock, modified) in fresh {
        if lock.metadata().and_then(|m| m.modified()).ok() == Some(modified) {
            let _ = std::fs::remove_file(&lock);
        }
    }
    Ok(())
}

/// How long git holds a lock file at most, as far as `imi recover` is concerned.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
