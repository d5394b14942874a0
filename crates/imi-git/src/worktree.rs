//! `git worktree`: list (porcelain), add, remove, prune.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::{Repo, Result};

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeEntry {
    pub path: PathBuf,
    pub head: Option<String>,
    /// Short branch name; `None` when detached or bare.
    pub branch: Option<String>,
    pub bare: bool,
    pub prunable: bool,
    /// `git worktree lock` reason (`Some("")` when locked without one). git locks a
    /// worktree with the reason `initializing` while `git worktree add` runs.
    pub locked: Option<String>,
}

/// Parses `git worktree list --porcelain`: one block of lines per worktree, each
/// block starting with `worktree <path>`.
fn parse_list(out: &str) -> Vec<WorktreeEntry> {
    let mut list = vec![];
    let mut cur: Option<WorktreeEntry> = None;
    for line in out.lines() {
        if let Some(p) = line.strip_prefix("worktree ") {
            if let Some(e) = cur.take() {
                list.push(e);
            }
            cur = Some(WorktreeEntry {
                path: PathBuf::from(p),
                head: None,
                branch: None,
                bare: false,
                prunable: false,
                locked: None,
            });
        } else if let Some(e) = cur.as_mut() {
            if let Some(h) = line.strip_prefix("HEAD ") {
                e.head = Some(h.to_string());
            } else if let Some(b) = line.strip_prefix("branch ") {
                e.branch = Some(b.strip_prefix("refs/heads/").unwrap_or(b).to_string());
            } else if line == "bare" {
                e.bare = true;
            } else if line.starts_with("prunable") {
                e.prunable = true;
            } else if line == "locked" {
                e.locked = Some(String::new());
            } else if let Some(r) = line.strip_prefix("locked ") {
                e.locked = Some(r.to_string());
            }
        }
    }
    if let Some(e) = cur {
        list.push(e);
    }
    list
}

impl Repo {
    pub fn worktree_list(&self) -> Result<Vec<WorktreeEntry>> {
        Ok(parse_list(&self.run([
            "worktree",
            "list",
            "--porcelain",
        ])?))
    }

    /// The registered worktree whose top directory is `path`, as
    /// [`Repo::worktree_list`] would list it; read from git's files when possible.
    pub fn worktree_at(&self, path: &Path) -> Result<Option<WorktreeEntry>> {
        if let Some(found) = self.layout().and_then(|l| l.worktree_at(path)) {
            return Ok(found);
        }
        Ok(self.worktree_list()?.into_iter().find(|e| e.path == path))
    }

    /// `git worktree add`: a new branch `branch` from `start` when `start` is given,
    /// else the existing branch.
    pub fn worktree_add(&self, path: &Path, branch: &str, start: Option<&str>) -> Result<()> {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("worktree"),
            OsStr::new("add"),
            OsStr::new("--quiet"),
        ];
        if let Some(start) = start {
            // --no-track: a new feat/x must not push to the trunk branch it started from
            args.extend([
                OsStr::new("--no-track"),
                OsStr::new("-b"),
                OsStr::new(branch),
                path.as_os_str(),
                OsStr::new(start),
            ]);
        } else {
            args.extend([path.as_os_str(), OsStr::new(branch)]);
        }
        self.run(args)?;
        Ok(())
    }

    /// `git worktree remove`; without `force` git refuses a worktree with changes
    /// or untracked files ([`crate::GitError::WouldLoseWork`]).
    pub fn worktree_remove(&self, path: &Path, force: bool) -> Result<()> {
        // git checks the worktree with a plain `git status`, which honours
        // status.showUntrackedFiles: set to `no` (git's own advice for slow status),
        // untracked files would be deleted unasked. Always look at them.
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("-c"),
            OsStr::new("status.showUntrackedFiles=normal"),
            OsStr::new("worktree"),
            OsStr::new("remove"),
        ];
        if force {
            args.push(OsStr::new("--force"));
        }
        args.push(path.as_os_str());
        self.run(args)?;
        Ok(())
    }

    pub fn worktree_prune(&self) -> Result<()> {
        self.run(["worktree", "prune"])?;
        Ok(())
    }
}
