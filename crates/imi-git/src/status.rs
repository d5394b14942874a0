//! `git status --porcelain=v1 -z`: what is uncommitted in a worktree, read from
//! the one format git promises not to change, with paths as git stores them (no
//! quoting, spaces and any other character kept).

use crate::{Repo, Result};

/// Which untracked files `git status` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untracked {
    No,
    /// Untracked directories as one entry (git's default).
    Normal,
    /// Every untracked file.
    All,
}

/// One entry of `git status --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The index's status letter (`M`, `A`, `D`, `R`, `C`, `U`, `?`, `!`, or ` `).
    pub index: char,
    /// The worktree's status letter (same letters).
    pub worktree: char,
    pub path: String,
    /// Where a rename or copy came from.
    pub from: Option<String>,
}

impl StatusEntry {
    pub fn untracked(&self) -> bool {
        self.index == '?'
    }

    /// A tracked file deleted (in the index, the worktree or both) and nothing else.
    pub fn deletion_only(&self) -> bool {
        matches!(
            (self.index, self.worktree),
            (' ', 'D') | ('D', ' ') | ('D', 'D')
        )
    }
}

/// Parses `git status --porcelain=v1 -z`: each entry is `XY <path>` and a NUL;
/// a rename or copy (`R` or `C` on either side) is followed by the path it came
/// from and another NUL.
pub fn parse_status_z(out: &[u8]) -> Vec<StatusEntry> {
    let mut entries = vec![];
    let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(f) = fields.next() {
        let (Some(&x), Some(&y)) = (f.first(), f.get(1)) else {
            continue;
        };
        let path = String::from_utf8_lossy(f.get(3..).unwrap_or_default()).into_owned();
        let (index, worktree) = (char::from(x), char::from(y));
        let moved = [index, worktree].iter().any(|c| matches!(c, 'R' | 'C'));
        let from = moved
            .then(|| fields.next())
            .flatten()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        entries.push(StatusEntry {
            index,
            worktree,
            path,
            from,
        });
    }
    entries
}

impl Repo {
    /// What `git status` lists (ignored files never): uncommitted changes and
    /// untracked files as `untracked` asks; renames detected as the user's git
    /// does (`status.renames`, on by default) when `renames`, else never.
    pub fn status(&self, untracked: Untracked, renames: bool) -> Result<Vec<StatusEntry>> {
        let untracked = match untracked {
            Untracked::No => "--untracked-files=no",
            Untracked::Normal => "--untracked-files=normal",
            Untracked::All => "--untracked-files=all",
        };
        // --no-optional-locks: a read must not rewrite the index (a watcher would
        // see its own writes), as git recommends for background status.
        let mut args = vec![
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            untracked,
            "--ignored=no",
        ];
        if !renames {
            args.push("--no-renames");
        }
        let out = self.run_bytes(args)?;
        Ok(parse_status_z(&out))
    }

    /// Files `git status --porcelain` lists (untracked included, a rename once).
    pub fn uncommitted_count(&self) -> Result<usize> {
        Ok(self.status(Untracked::Normal, true)?.len())
    }
}
