//! Answers read from git's own files instead of asking a git process: where the
//! repository's directories are, what a ref or `HEAD` points at, which registered
//! worktree lives at a path, and whether a name is a valid branch name. Each
//! starts no process (a git start costs about as much as `git worktree remove`'s
//! own work on a small repository), and each says "don't know" ([`None`]) for
//! anything it does not read exactly as git does (the reftable format, a relative
//! worktree link, a ref file it cannot parse, `GIT_DIR` and friends in the
//! environment); the caller then asks git, so an answer is git's or nothing.
//!
//! Only reads: nothing here writes into `.git`. git writes every file read here
//! by renaming a finished lock file over it, so a read sees the old or the new
//! file, never half of one; a ref moved from its loose file into `packed-refs` is
//! written there before the loose file goes, so reading the loose file first and
//! `packed-refs` second never misses it (git's own order).

use std::ffi::OsString;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use crate::worktree::WorktreeEntry;

/// Environment variables that move git's directories away from `<dir>/.git`: with
/// any of them set the files below may not be the ones git reads.
const RELOCATING_ENV: [&str; 5] = [
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_WORK_TREE",
    "GIT_REF_STORAGE",
    "GIT_NAMESPACE",
];

/// A worktree's git directory and the repository's common one.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `<dir>/.git`, or the linked worktree's `<common>/worktrees/<id>`.
    git_dir: PathBuf,
    /// Shared by all worktrees; absolute, symbolic links resolved (as
    /// `git rev-parse --path-format=absolute --git-common-dir` prints it).
    common: PathBuf,
    /// Refs are files (no `reftable/`): only then are they read here.
    files_backend: bool,
}

impl Layout {
    /// The layout of the worktree whose top directory is `dir`, `None` unless
    /// `dir/.git` is one (a subdirectory of a worktree, a bare repository: ask git).
    /// `env`: the variables the caller adds to git's environment.
    pub(crate) fn of(dir: &Path, env: &[(OsString, OsString)]) -> Option<Layout> {
        let relocated = RELOCATING_ENV.iter().any(|k| {
            std::env::var_os(k).is_some() || env.iter().any(|(key, _)| key.as_os_str() == *k)
        });
        if relocated {
            return None;
        }
        let dot_git = dir.join(".git");
        let meta = std::fs::metadata(&dot_git).ok()?;
        let git_dir = if meta.is_dir() {
            dot_git
        } else {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text
                .strip_prefix("gitdir: ")?
                .trim_end_matches(['\n', '\r']);
            if target.is_empty() {
                return None;
            }
            dir.join(target)
        };
        if !git_dir.join("HEAD").is_file() {
            return None;
        }
        let common = match std::fs::read_to_string(git_dir.join("commondir")) {
            Ok(c) => {
                let c = c.trim_end_matches(['\n', '\r']);
                if c.is_empty() {
                    return None;
                }
                git_dir.join(c)
            }
            Err(e) if e.kind() == IoKind::NotFound => git_dir.clone(),
            Err(_) => return None,
        };
        let common = common.canonicalize().ok()?;
        let files_backend = !common.join("reftable").exists();
        Some(Layout {
            git_dir,
            common,
            files_backend,
        })
    }

    pub(crate) fn common(&self) -> &Path {
        &self.common
    }

    /// What the full ref `name` (`HEAD`, `refs/heads/x`, ...) points at after
    /// following symbolic refs: `Some(Some(oid))`, `Some(None)` when there is no
    /// such ref (or it is a branch not born yet), `None`: ask git.
    pub(crate) fn resolve(&self, name: &str) -> Option<Option<String>> {
        if !self.files_backend {
            return None;
        }
        let mut name = name.to_string();
        // git follows at most five levels of symbolic refs
        for _ in 0..5 {
            match self.read_ref(&name)? {
                RefValue::Missing => return Some(None),
                RefValue::Oid(oid) => return Some(Some(oid)),
                RefValue::Symbolic(target) => name = target,
            }
        }
        None
    }

    /// The branch `HEAD` names (`refs/heads/` left off), `Some(None)` when it is
    /// detached, `None`: ask git.
    pub(crate) fn head_branch(&self) -> Option<Option<String>> {
        if !self.files_backend {
            return None;
        }
        match self.read_ref("HEAD")? {
            RefValue::Oid(_) => Some(None),
            RefValue::Symbolic(t) => t.strip_prefix("refs/heads/").map(|b| Some(b.to_string())),
            RefValue::Missing => None,
        }
    }

    /// `name` as its own file says, or as `packed-refs` does.
    fn read_ref(&self, name: &str) -> Option<RefValue> {
        let per_worktree = name == "HEAD"
            || ["refs/bisect/", "refs/worktree/", "refs/rewritten/"]
                .iter()
                .any(|p| name.starts_with(p));
        // only names read exactly here: HEAD and valid refs under refs/ (which also
        // keeps a hostile name from reaching outside the directory)
        if !(name == "HEAD" || name.starts_with("refs/") && valid_refname(name)) {
            return None;
        }
        let base = if per_worktree {
            &self.git_dir
        } else {
            &self.common
        };
        let file = base.join(name);
        // a symbolic link is a symbolic ref to git (core.preferSymlinkRefs), read
        // from the link's text, not by following it: ask git
        if std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink()) {
            return None;
        }
        match std::fs::read(&file) {
            Ok(bytes) => return parse_loose(&bytes),
            // a directory (refs/heads/feat while asking for refs/heads/feat): no ref
            Err(e) if e.kind() == IoKind::NotFound || e.kind() == IoKind::IsADirectory => {}
            Err(e) if e.kind() == IoKind::NotADirectory => {}
            Err(_) => return None,
        }
        if per_worktree {
            return Some(RefValue::Missing);
        }
        let packed = match std::fs::read(self.common.join("packed-refs")) {
            Ok(p) => p,
            Err(e) if e.kind() == IoKind::NotFound => return Some(RefValue::Missing),
            Err(_) => return None,
        };
        for line in packed.split(|&b| b == b'\n') {
            if line.is_empty() || line[0] == b'#' || line[0] == b'^' {
                continue;
            }
            let line = std::str::from_utf8(line).ok()?;
            let (oid, r) = line.split_once(' ')?;
            if r == name {
                return is_oid(oid).then(|| RefValue::Oid(oid.to_string()));
            }
        }
        Some(RefValue::Missing)
    }

    /// The worktree registered at `path` (its `.git` file and its admin directory
    /// `<common>/worktrees/<id>` pointing at each other), as `git worktree list`
    /// shows it: `Some(None)` when no registered worktree is there, `None`: ask git.
    pub(crate) fn worktree_at(&self, path: &Path) -> Option<Option<WorktreeEntry>> {
        if !self.files_backend || !path.is_absolute() {
            return None;
        }
        // the main worktree: `<path>/.git` is the common directory itself
        if let Ok(own) = path.join(".git").canonicalize()
            && own == self.common
        {
            // core.bare set (in any spelling, or per worktree): git decides what
            // it lists
            let config = std::fs::read_to_string(self.common.join("config")).ok()?;
            let bare_set = config.lines().any(|l| {
                let l = l.trim().to_ascii_lowercase();
                l.starts_with("bare")
                    && l.trim_start_matches("bare").trim_start().starts_with('=')
                    && l.split_once('=').map(|(_, v)| v.trim()) != Some("false")
            });
            if bare_set || self.common.join("config.worktree").exists() {
                return None;
            }
            let main = Layout {
                git_dir: self.common.clone(),
                ..self.clone()
            };
            return Some(Some(main.entry(path.to_path_buf(), None)?));
        }
        let wanted = path.join(".git");
        let wanted_real = wanted.canonicalize().ok();
        let admin_root = self.common.join("worktrees");
        let dirs = match std::fs::read_dir(&admin_root) {
            Ok(d) => d,
            Err(e) if e.kind() == IoKind::NotFound => return Some(None),
            Err(_) => return None,
        };
        for d in dirs {
            let admin = d.ok()?.path();
            if !admin.is_dir() {
                continue;
            }
            // a half-made admin directory (no gitdir yet): git's list has its rules
            let gitdir = std::fs::read_to_string(admin.join("gitdir")).ok()?;
            let gitdir = gitdir.strip_suffix('\n').unwrap_or(&gitdir);
            if gitdir.trim() != gitdir {
                return None; // white space git would trim: its rules, not these
            }
            let gitdir = Path::new(gitdir);
            if !gitdir.is_absolute() {
                return None; // worktree.useRelativePaths: not read here
            }
            let same = gitdir == wanted
                || wanted_real.is_some() && gitdir.canonicalize().ok() == wanted_real;
            if !same {
                continue;
            }
            let locked = match std::fs::read_to_string(admin.join("locked")) {
                Ok(r) => Some(r.trim().to_string()), // as git trims the reason
                Err(e) if e.kind() == IoKind::NotFound => None,
                Err(_) => return None,
            };
            let linked = Layout {
                git_dir: admin,
                ..self.clone()
            };
            let mut entry = linked.entry(path.to_path_buf(), locked)?;
            // git: a locked worktree is never prunable; else one whose .git is gone
            entry.prunable = entry.locked.is_none() && !gitdir.exists();
            return Some(Some(entry));
        }
        Some(None)
    }

    /// The object a revision written as a ref name (short or full) or a full
    /// object id names, with the full ref it was found under (`HEAD` for `HEAD`,
    /// the id itself for an id). Found as git finds it: the first that exists of
    /// `refs/<rev>`, `refs/tags/<rev>`, `refs/heads/<rev>`, `refs/remotes/<rev>`,
    /// `refs/remotes/<rev>/HEAD` (`git help revisions`; `<rev>` itself first when it
    /// is a full ref). `None`: ask git (any other revision syntax, or a name git
    /// would also look up outside `refs/`).
    pub(crate) fn resolve_rev(&self, rev: &str) -> Option<(String, String)> {
        if is_oid(rev) {
            return Some((rev.to_string(), rev.to_string()));
        }
        if rev == "HEAD" {
            return self.resolve("HEAD")?.map(|oid| (oid, rev.to_string()));
        }
        // a one-level name in capitals is a pseudo-ref git reads from .git itself;
        // `@` is HEAD, `x@{...}` a reflog or upstream: all for git
        if rev.contains('@')
            || !rev.starts_with("refs/") && rev.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        {
            return None;
        }
        // a file `<dir>/<rev>` in either git directory: git may read it as a ref first
        if !rev.starts_with("refs/")
            && (self.git_dir.join(rev).exists() || self.common.join(rev).exists())
        {
            return None;
        }
        let candidates = [
            rev.to_string(),
            format!("refs/{rev}"),
            format!("refs/tags/{rev}"),
            format!("refs/heads/{rev}"),
            format!("refs/remotes/{rev}"),
            format!("refs/remotes/{rev}/HEAD"),
        ];
        // `<rev>` outside refs/ (a file in .git): excluded just above
        for cand in candidates.into_iter().filter(|c| c.starts_with("refs/")) {
            if let Some(oid) = self.resolve(&cand)? {
                return Some((oid, cand));
            }
        }
        None
    }

    fn entry(&self, path: PathBuf, locked: Option<String>) -> Option<WorktreeEntry> {
        let branch = self.head_branch()?;
        let head = self.resolve("HEAD")?;
        Some(WorktreeEntry {
            path,
            head,
            branch,
            bare: false,
            prunable: false,
            locked,
        })
    }
}

enum RefValue {
    Oid(String),
    Symbolic(String),
    Missing,
}

/// A loose ref file: an object id, or `ref: <target>`; `None` for anything else.
fn parse_loose(bytes: &[u8]) -> Option<RefValue> {
    let text = std::str::from_utf8(bytes)
        .ok()?
        .trim_end_matches(['\n', '\r']);
    if let Some(target) = text.strip_prefix("ref:") {
        let target = target.trim_start_matches([' ', '\t']);
        return (target == "HEAD" || target.starts_with("refs/") && valid_refname(target))
            .then(|| RefValue::Symbolic(target.to_string()));
    }
    is_oid(text).then(|| RefValue::Oid(text.to_string()))
}

/// A full SHA-1 or SHA-256 object id in lower-case hex.
fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// git's `check_refname_format` without options: what `git check-ref-format`
/// accepts (one-level names included; `*` never).
fn valid_refname(name: &str) -> bool {
    if name.is_empty() || name == "@" || name.ends_with('/') || name.ends_with('.') {
        return false;
    }
    name.split('/').all(|c| {
        !c.is_empty()
            && !c.starts_with('.')
            && !c.ends_with(".lock")
            && !c.contains("..")
            && !c.contains("@{")
            && !c
                .bytes()
                .any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b))
    })
}

/// `git check-ref-format --branch NAME`: a valid `refs/heads/NAME` that does not
/// start with `-` and is not `HEAD`; `None` (ask git) for a name with `@{`, which
/// git first resolves (`@{-1}`, `x@{u}`).
pub(crate) fn valid_branch_name(name: &str) -> Option<bool> {
    if name.contains("@{") {
        return None; // `@{-1}`, `x@{u}`: git resolves them first
    }
    Some(!name.starts_with('-') && name != "HEAD" && valid_refname(&format!("refs/heads/{name}")))
}
