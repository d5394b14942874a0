//! What counts as work (SPEC §9, one rule for remove, close, merge and prune):
//! uncommitted and untracked files; commits reachable from the worktree's HEAD
//! (a detached one too) but from no branch, remote-tracking branch, tag or rescue
//! ref; and the branch itself until it is merged. Stashes live in the repository,
//! not in a worktree, and imi never drops them. No command drops work without
//! `--force`, and `--force` never drops a commit that is on no ref: it is kept on
//! `refs/imi/rescued/<worktree>` first.

use std::path::Path;

use imi_core::{Error, ErrorKind, Result};
use imi_git::{GitError, Repo, StatusEntry, Untracked};

/// The state of a worktree's directory that decides whether it may go.
#[derive(Debug, Clone, Default)]
pub struct Work {
    /// Files `git status --porcelain` lists (untracked included).
    pub uncommitted: usize,
    /// The branch checked out, `None` when HEAD is detached.
    pub head_branch: Option<String>,
    pub head: Option<String>,
    /// Commits on HEAD and on no other ref (0 when HEAD is a branch: the branch
    /// keeps them; the caller decides about deleting that branch).
    pub unreferenced: u32,
}

impl Work {
    /// Reads the worktree at `path`.
    pub fn read(path: &Path) -> Result<Work> {
        let mut work = Work::read_commits(path)?;
        work.uncommitted = Repo::at(path).uncommitted_count()?;
        Ok(work)
    }

    /// [`Work::read`] without counting files (`uncommitted` is 0): for a removal,
    /// where `git worktree remove` (without `--force`) checks the same `git status`
    /// listing itself, at the last moment, and refuses; `--force` discards the
    /// files anyway. Reads HEAD from git's files; starts git only for a detached
    /// HEAD (its commits on no other ref).
    pub fn read_commits(path: &Path) -> Result<Work> {
        let repo = Repo::at(path);
        let uncommitted = 0;
        let head_branch = repo.current_branch()?;
        let head = repo.rev_parse("HEAD").ok();
        let unreferenced = match (&head_branch, &head) {
            (None, Some(h)) => repo.unique_commits(h, None)?,
            _ => 0,
        };
        Ok(Work {
            uncommitted,
            head_branch,
            head,
            unreferenced,
        })
    }

    /// `UNSAFE` unless `force`: uncommitted files, or commits on no ref.
    pub fn refuse_unless_forced(&self, name: &str, path: &str, force: bool) -> Result<()> {
        if force {
            return Ok(());
        }
        if self.uncommitted > 0 {
            return Err(Error::new(
                ErrorKind::Unsafe,
                format!(
                    "{name} has {} uncommitted file(s); refusing to remove it",
                    self.uncommitted
                ),
            )
            .with_hint("commit or stash them first, or pass --force to discard them"));
        }
        if self.unreferenced > 0 {
            return Err(Error::new(
                ErrorKind::Unsafe,
                format!(
                    "{name} has a detached HEAD with {} commit(s) on no branch; refusing to remove it",
                    self.unreferenced
                ),
            )
            .with_hint(format!(
                "keep them on a branch with `git -C {path} switch -c <branch>`, or pass --force (they are kept on refs/imi/rescued/{name})"
            )));
        }
        Ok(())
    }

    /// With `--force`: puts commits that are on no ref on a rescue ref first.
    pub fn rescue(&self, repo: &Repo, name: &str) -> Result<Option<String>> {
        match (&self.head, self.unreferenced) {
            (Some(h), n) if n > 0 => Ok(Some(repo.rescue(name, h)?)),
            _ => Ok(None),
        }
    }
}

/// Takes the worktree at `path` off the disk with `git worktree remove`, forced
/// only when `force` was given or when git refused because of changes that are
/// all tracked files already deleted (a removal that was interrupted half-way:
/// their content is in HEAD).
pub fn remove_dir(repo: &Repo, path: &Path, force: bool) -> Result<()> {
    match repo.worktree_remove(path, force) {
        Ok(()) => Ok(()),
        Err(e @ GitError::WouldLoseWork { .. }) if !force && only_deletions(path) => {
            repo.worktree_remove(path, true).map_err(|_| e.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn only_deletions(path: &Path) -> bool {
    let Ok(entries) = Repo::at(path).status(Untracked::All, true) else {
        return false;
    };
    !entries.is_empty() && entries.iter().all(StatusEntry::deletion_only)
}
