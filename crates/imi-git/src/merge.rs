//! Merging without touching a worktree: `git merge-tree --write-tree` and
//! `git commit-tree` make the merge as objects, and only a fast-forward (under
//! imi's repository lock) moves trunk.

use std::collections::HashSet;

use crate::{Repo, Result, classify};

/// What `git merge-tree --write-tree` says about merging two commits, computed
/// without touching any working tree or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeTree {
    /// The merged tree.
    Clean { tree: String },
    /// The files that conflict.
    Conflict { files: Vec<String> },
}

/// How `merge` joins a branch into trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Always a merge commit (`--no-ff`).
    Commit,
    Squash,
    FastForwardOnly,
}

/// What [`Repo::plan_merge`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergePlan {
    /// Trunk already has the branch's work: nothing to change.
    UpToDate { head: String },
    /// Move trunk forward from `from` to `to` (a commit that exists already).
    Advance { from: String, to: String },
    /// The branch conflicts with trunk in these files; nothing was changed.
    Conflict { files: Vec<String> },
    /// A fast-forward was asked for, and the branch and trunk have diverged;
    /// nothing was changed.
    Diverged,
}

impl Repo {
    /// Works out how to merge `branch` into the branch checked out here, without
    /// touching this worktree, its index or any ref: the merge (or squash) commit is
    /// written as an object only (`git merge-tree --write-tree` + `git commit-tree`),
    /// so a conflict needs no abort and a crash leaves nothing behind. The caller
    /// applies the plan with [`Repo::fast_forward`], under the repository lock.
    pub fn plan_merge(&self, branch: &str, mode: MergeMode, message: &str) -> Result<MergePlan> {
        let head = self.rev_parse("HEAD")?;
        let tip = self.rev_parse(&format!("refs/heads/{branch}"))?;
        if self.is_ancestor(&tip, &head)? {
            return Ok(MergePlan::UpToDate { head });
        }
        if mode == MergeMode::FastForwardOnly {
            if self.is_ancestor(&head, &tip)? {
                return Ok(MergePlan::Advance {
                    from: head,
                    to: tip,
                });
            }
            return Ok(MergePlan::Diverged);
        }
        let tree = match self.merge_tree(&head, &tip)? {
            MergeTree::Conflict { files } => return Ok(MergePlan::Conflict { files }),
            MergeTree::Clean { tree } => tree,
        };
        if mode == MergeMode::Squash && tree == self.rev_parse_tree(&head)? {
            // the branch's changes are all in trunk already
            return Ok(MergePlan::UpToDate { head });
        }
        let mut args = vec!["commit-tree", tree.as_str(), "-p", head.as_str()];
        if mode == MergeMode::Commit {
            args.extend(["-p", tip.as_str()]);
        }
        args.extend(["-m", message]);
        let to = self.run(&args)?;
        Ok(MergePlan::Advance { from: head, to })
    }

    /// `git merge-tree --write-tree`: the tree merging `ours` and `theirs` would give.
    pub fn merge_tree(&self, ours: &str, theirs: &str) -> Result<MergeTree> {
        let (cmd, out) = self.exec([
            "merge-tree",
            "--write-tree",
            "-z",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split('\0');
        let tree = parts.next().unwrap_or_default().trim().to_string();
        match out.status.code() {
            Some(0) => Ok(MergeTree::Clean { tree }),
            Some(1) => {
                let mut files: Vec<String> = parts
                    .take_while(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect();
                files.dedup();
                Ok(MergeTree::Conflict { files })
            }
            _ => Err(classify(cmd, &out)),
        }
    }

    /// Files in this worktree that git would overwrite (or refuse to) when moving
    /// from `from` to `to`: untracked and ignored files at paths the update adds,
    /// or in the place of a directory it adds. git overwrites ignored files
    /// silently, so callers check this before every update of a worktree.
    pub fn in_the_way(&self, from: &str, to: &str) -> Result<Vec<String>> {
        let out = self.run(["diff", "--name-status", "-z", "--no-renames", from, to])?;
        let mut added = vec![];
        let mut deleted = HashSet::new();
        let mut it = out.split('\0').filter(|s| !s.is_empty());
        while let (Some(status), Some(path)) = (it.next(), it.next()) {
            match status {
                "A" => added.push(path.to_string()),
                "D" => {
                    deleted.insert(path.to_string());
                }
                _ => {}
            }
        }
        let dir = self.dir();
        let mut found = vec![];
        for path in &added {
            if dir.join(path).symlink_metadata().is_ok() {
                found.push(path.clone());
                continue;
            }
            // a file where the update needs a directory
            let mut prefix = String::new();
            for part in path.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                if prefix.len() == path.len() || deleted.contains(&prefix) {
                    continue;
                }
                if dir
                    .join(&prefix)
                    .symlink_metadata()
                    .is_ok_and(|m| !m.is_dir())
                {
                    found.push(prefix.clone());
                    break;
                }
            }
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// Moves the branch checked out here forward to `to` (`git merge --ff-only`):
    /// the only step of an imi merge that changes trunk.
    pub fn fast_forward(&self, to: &str) -> Result<()> {
        self.run(["merge", "--ff-only", "--quiet", "--no-edit", to])?;
        Ok(())
    }

    /// Is a merge, cherry-pick or revert half-done here (someone's `MERGE_HEAD`)?
    pub fn merge_in_progress(&self) -> Result<bool> {
        self.check(["rev-parse", "--quiet", "--verify", "MERGE_HEAD"])
    }
}
