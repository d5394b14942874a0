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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_and_copies_on_either_side_take_the_next_path() {
        let out = b"R  new name\0old name\0 R moved\0was\0C  copy\0orig\0RM both\0before\0?? x\0";
        let got = parse_status_z(out);
        let summary: Vec<(char, char, &str, Option<&str>)> = got
            .iter()
            .map(|e| (e.index, e.worktree, e.path.as_str(), e.from.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ('R', ' ', "new name", Some("old name")),
                (' ', 'R', "moved", Some("was")),
                ('C', ' ', "copy", Some("orig")),
                ('R', 'M', "both", Some("before")),
                ('?', '?', "x", None),
            ]
        );
    }

    #[test]
    fn paths_keep_every_character_and_bad_utf8_is_replaced() {
        let out = b" M  leading space\0?? tab\there\0 D caf\xc3\xa9\0?? bad\xff\0";
        let paths: Vec<String> = parse_status_z(out).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            vec![" leading space", "tab\there", "café", "bad\u{fffd}"]
        );
        assert!(parse_status_z(b"").is_empty());
    }
}
