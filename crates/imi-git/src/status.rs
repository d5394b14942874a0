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

    /// What is uncommitted, split by kind, and how HEAD stands against its
    /// upstream: one `git status --porcelain=v2 --branch -z` (the same entries as
    /// [`Repo::uncommitted_count`] counts).
    pub fn status_summary(&self) -> Result<StatusSummary> {
        let out = self.run_bytes([
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=normal",
            "--ignored=no",
        ])?;
        Ok(parse_status_v2(&out))
    }
}

/// Uncommitted work by kind (each file counted once, in the first kind that fits:
/// conflicted, then staged, then modified) and the upstream, from
/// `git status --porcelain=v2 --branch -z`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSummary {
    /// Files with changes in the index (and perhaps in the worktree too).
    pub staged: u32,
    /// Tracked files changed in the worktree only.
    pub modified: u32,
    /// Untracked files (an untracked directory counts once).
    pub untracked: u32,
    /// Unmerged files (a conflict to resolve).
    pub conflicted: u32,
    /// Files with changes both staged and not staged (also counted in `staged`).
    pub partly_staged: u32,
    /// The upstream branch (`origin/feat/x`), when one is configured.
    pub upstream: Option<String>,
    /// Commits on HEAD not on the upstream, and on the upstream not on HEAD; `None`
    /// when there is no upstream or it is gone.
    pub upstream_ahead_behind: Option<(u32, u32)>,
}

impl StatusSummary {
    /// Every file `git status` lists (what [`Repo::uncommitted_count`] counts).
    pub fn total(&self) -> u32 {
        self.staged + self.modified + self.untracked + self.conflicted
    }
}

/// Parses `git status --porcelain=v2 --branch -z`. Headers are `# branch.<key>
/// <value>`; entries start `1 XY ...` (changed), `2 XY ...` (renamed or copied, then
/// the original path as its own field), `u XY ...` (unmerged), `? path` and
/// `! path`.
pub fn parse_status_v2(out: &[u8]) -> StatusSummary {
    let mut s = StatusSummary::default();
    let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(f) = fields.next() {
        let text = String::from_utf8_lossy(f);
        if let Some(header) = text.strip_prefix("# ") {
            let (key, value) = header.split_once(' ').unwrap_or((header, ""));
            match key {
                "branch.upstream" => s.upstream = Some(value.to_string()),
                "branch.ab" => {
                    let mut it = value
                        .split(' ')
                        .map(|n| n.trim_start_matches(['+', '-']).parse::<u32>());
                    if let (Some(Ok(a)), Some(Ok(b))) = (it.next(), it.next()) {
                        s.upstream_ahead_behind = Some((a, b));
                    }
                }
                _ => {}
            }
            continue;
        }
        let mut parts = text.splitn(3, ' ');
        let (kind, xy) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut xy = xy.chars();
        let (x, y) = (xy.next().unwrap_or('.'), xy.next().unwrap_or('.'));
        match kind {
            "1" | "2" => {
                if kind == "2" {
                    fields.next(); // the path it came from
                }
                if x != '.' {
                    s.staged += 1;
                    if y != '.' {
                        s.partly_staged += 1;
                    }
                } else {
                    s.modified += 1;
                }
            }
            "u" => s.conflicted += 1,
            "?" => s.untracked += 1,
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_v2_splits_changes_by_kind_and_reads_the_upstream() {
        let out = b"# branch.oid 1234\0# branch.head feat/x y\0# branch.upstream origin/feat/x y\0# branch.ab +3 -12\0\
1 M. N... 100644 100644 100644 a b staged only\0\
1 .M N... 100644 100644 100644 a b changed only\0\
1 MM N... 100644 100644 100644 a b both\0\
2 R. N... 100644 100644 100644 a b R100 new name\0old name\0\
u UU N... 100644 100644 100644 100644 a b c conflict\0\
? untracked dir/\0? 1 M. looks like an entry\0";
        let s = parse_status_v2(out);
        assert_eq!(
            s,
            StatusSummary {
                staged: 3,
                modified: 1,
                untracked: 2,
                conflicted: 1,
                partly_staged: 1,
                upstream: Some("origin/feat/x y".into()),
                upstream_ahead_behind: Some((3, 12)),
            }
        );
        assert_eq!(s.total(), 7);
        // no upstream, or one that is gone (no branch.ab line)
        let gone =
            parse_status_v2(b"# branch.oid 1\0# branch.head main\0# branch.upstream origin/main\0");
        assert_eq!(gone.upstream.as_deref(), Some("origin/main"));
        assert_eq!(gone.upstream_ahead_behind, None);
        assert_eq!(parse_status_v2(b""), StatusSummary::default());
    }

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
