//! The git operations imi needs, run through the `git` binary: the user's git, with
//! the user's configuration, hooks and credential helpers, and the exact semantics
//! they know. Nothing here deletes work: removal and branch deletion use git's own
//! safe forms unless the caller passes `force` (SPEC §9), and no function runs
//! `reset --hard` or `clean`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imi_core::{Error, ErrorKind, Result};

/// A git repository (any of its worktrees) addressed by a directory.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
}

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

/// An exclusive lock on a repository, shared by every imi process working on it
/// (every worktree of the repository maps to the same lock). Released on drop.
#[derive(Debug)]
pub struct RepoLock {
    file: std::fs::File,
    path: PathBuf,
}

impl RepoLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

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
}

fn git_error(args: &[&OsStr], out: &Output) -> Error {
    git_error_in(None, args, out)
}

fn git_error_in(dir: Option<&Path>, args: &[&OsStr], out: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message");
    let cmd: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let at = dir
        .map(|d| format!("-C {} ", d.display()))
        .unwrap_or_default();
    // git echoes URLs (with their credentials) in its messages: hide them.
    Error::new(
        ErrorKind::Git,
        imi_core::redact(&format!("`git {}` failed: {first}", cmd.join(" "))),
    )
    .with_hint(imi_core::redact(&format!(
        "run `git {at}{}` yourself to see git's full output",
        cmd.join(" ")
    )))
}

impl Repo {
    pub fn at(dir: impl Into<PathBuf>) -> Repo {
        Repo { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command<I, S>(&self, args: I) -> (Command, Vec<std::ffi::OsString>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.dir).args(&args);
        // Never prompt for credentials or an editor: imi runs in scripts and agents.
        c.env("GIT_TERMINAL_PROMPT", "0").env("GIT_EDITOR", "true");
        (c, args)
    }

    fn output<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (mut c, _) = self.command(args);
        c.output().map_err(|e| {
            Error::new(ErrorKind::Git, format!("cannot run git: {e}"))
                .with_hint("install git and make sure it is on PATH")
        })
    }

    /// Runs git and returns trimmed stdout, or a `GIT_ERROR` with git's message.
    pub fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (mut c, args) = self.command(args);
        let out = c.output().map_err(|e| {
            Error::new(ErrorKind::Git, format!("cannot run git: {e}"))
                .with_hint("install git and make sure it is on PATH")
        })?;
        if !out.status.success() {
            let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            return Err(git_error_in(Some(&self.dir), &refs, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// Runs git; `Ok(true)` on exit 0, `Ok(false)` on exit 1, error otherwise.
    fn check<I, S>(&self, args: I) -> Result<bool>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (mut c, args) = self.command(args);
        let out = c
            .output()
            .map_err(|e| Error::new(ErrorKind::Git, format!("cannot run git: {e}")))?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => {
                let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
                Err(git_error(&refs, &out))
            }
        }
    }

    /// Runs `f` holding the repository's lock (see [`Repo::lock`]).
    pub fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _guard = self.lock()?;
        f()
    }

    fn lock_file(&self) -> Result<(std::fs::File, PathBuf)> {
        let path = self.common_dir()?.join("imi.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Git,
                    format!("cannot open the lock file {}: {e}", path.display()),
                )
                .with_hint("check the permissions of the repository's .git directory")
            })?;
        Ok((file, path))
    }

    /// Waits for and takes the exclusive lock shared by every imi process working on
    /// this repository. Every step that changes the repository's shared state (merge,
    /// commit into trunk, worktree add/remove, branch delete, fetch, push) runs under
    /// it, together with the checks that decide it; git's own lock files make
    /// concurrent steps fail rather than wait, and a merge must never see another
    /// process's half-done one. The lock is an `flock`: the kernel drops it when
    /// the process dies, so a killed imi never leaves it held.
    pub fn lock(&self) -> Result<RepoLock> {
        let (file, path) = self.lock_file()?;
        file.lock().map_err(|e| {
            Error::new(
                ErrorKind::Git,
                format!("cannot lock {}: {e}", path.display()),
            )
        })?;
        Ok(RepoLock { file, path })
    }

    /// The lock when nobody holds it, `None` when another process does.
    pub fn try_lock(&self) -> Result<Option<RepoLock>> {
        let (file, path) = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RepoLock { file, path })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::new(
                ErrorKind::Git,
                format!("cannot lock {}: {e}", path.display()),
            )),
        }
    }

    /// The top directory of the worktree containing `dir`.
    pub fn toplevel(&self) -> Result<PathBuf> {
        self.run(["rev-parse", "--show-toplevel"])
            .map(PathBuf::from)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Git,
                    format!("{} is not inside a git repository", self.dir.display()),
                )
                .with_hint("cd into a git repository, or pass -p <project>")
            })
    }

    /// The repository's shared `.git` directory (same for every worktree).
    pub fn common_dir(&self) -> Result<PathBuf> {
        let p =
            PathBuf::from(self.run(["rev-parse", "--path-format=absolute", "--git-common-dir"])?);
        Ok(p)
    }

    pub fn remote_url(&self, remote: &str) -> Result<Option<String>> {
        let out = self.output(["remote", "get-url", remote])?;
        if out.status.success() {
            Ok(
                Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
                    .filter(|s| !s.is_empty()),
            )
        } else {
            Ok(None)
        }
    }

    /// The branch checked out here, `None` when detached.
    pub fn current_branch(&self) -> Result<Option<String>> {
        let out = self.output(["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        if out.status.success() {
            Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ))
        } else {
            Ok(None)
        }
    }

    /// The remote's default branch (`refs/remotes/<remote>/HEAD`), if known.
    pub fn remote_default_branch(&self, remote: &str) -> Result<Option<String>> {
        let out = self.output([
            "symbolic-ref",
            "--quiet",
            "--short",
            &format!("refs/remotes/{remote}/HEAD"),
        ])?;
        if !out.status.success() {
            return Ok(None);
        }
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(s.strip_prefix(&format!("{remote}/")).map(str::to_string))
    }

    pub fn fetch(&self, remote: &str) -> Result<()> {
        self.run(["fetch", "--quiet", "--prune", remote]).map(drop).map_err(|e| {
            e.with_hint(format!("check the network and `git remote -v`, or pass --no-fetch to use what is already fetched from {remote}"))
        })
    }

    /// Fetches `src` (a ref on `remote`) into the local branch `dst`. Refuses to
    /// move an existing `dst` that is not an ancestor of the new head (no `+`).
    pub fn fetch_ref(&self, remote: &str, src: &str, dst: &str) -> Result<bool> {
        let out = self.output([
            "fetch",
            "--quiet",
            remote,
            &format!("{src}:refs/heads/{dst}"),
        ])?;
        Ok(out.status.success())
    }

    /// Does `remote` publish the ref `r`? A remote that cannot be reached is a
    /// `GIT_ERROR` (with git's reason), never "no such ref".
    pub fn remote_has_ref(&self, remote: &str, r: &str) -> Result<bool> {
        let out = self.run(["ls-remote", "--", remote, r]).map_err(|e| {
            e.with_hint(format!(
                "check the network and `git remote get-url {remote}`, then try again"
            ))
        })?;
        Ok(out.lines().any(|l| l.split('\t').nth(1) == Some(r)))
    }

    pub fn ref_exists(&self, r: &str) -> Result<bool> {
        self.check(["show-ref", "--verify", "--quiet", r])
    }

    pub fn branch_exists(&self, branch: &str) -> Result<bool> {
        self.ref_exists(&format!("refs/heads/{branch}"))
    }

    /// `git check-ref-format --branch`: is `name` a valid branch name?
    pub fn valid_branch_name(&self, name: &str) -> Result<bool> {
        let out = self.output(["check-ref-format", "--branch", name])?;
        Ok(out.status.success())
    }

    pub fn rev_parse(&self, rev: &str) -> Result<String> {
        self.run([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
    }

    /// The blob of `path` in commit `rev`, `None` when the commit has no such file.
    pub fn rev_parse_blob(&self, rev: &str, path: &str) -> Result<Option<String>> {
        let out = self.output(["rev-parse", "--verify", "--quiet", &format!("{rev}:{path}")])?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }

    /// The content of `path` in commit `rev`, `None` when it has no such file.
    pub fn blob_bytes(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let out = self.output(["cat-file", "blob", &format!("{rev}:{path}")])?;
        Ok(out.status.success().then_some(out.stdout))
    }

    pub fn worktree_list(&self) -> Result<Vec<WorktreeEntry>> {
        let out = self.run(["worktree", "list", "--porcelain"])?;
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
        Ok(list)
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
        self.run(args).map(drop)
    }

    /// `git worktree remove`; without `force` git refuses a dirty worktree.
    pub fn worktree_remove(&self, path: &Path, force: bool) -> Result<()> {
        let mut args: Vec<&OsStr> = vec![OsStr::new("worktree"), OsStr::new("remove")];
        if force {
            args.push(OsStr::new("--force"));
        }
        args.push(path.as_os_str());
        self.run(args).map(drop)
    }

    pub fn worktree_prune(&self) -> Result<()> {
        self.run(["worktree", "prune"]).map(drop)
    }

    /// Deletes a branch: `-d` (git refuses an unmerged one) or, with `force`, `-D`.
    pub fn branch_delete(&self, branch: &str, force: bool) -> Result<()> {
        self.run(["branch", if force { "-D" } else { "-d" }, "--", branch])
            .map(drop)
    }

    /// Files `git status --porcelain` lists (untracked included).
    pub fn uncommitted_count(&self) -> Result<usize> {
        // --no-optional-locks: a read must not rewrite the index (a watcher would
        // see its own writes), as git recommends for background status.
        let out = self.run([
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=normal",
        ])?;
        // -z: entries end with NUL; renames carry a second NUL-terminated path.
        let mut n = 0;
        let mut parts = out.split('\0').filter(|s| !s.is_empty());
        while let Some(entry) = parts.next() {
            n += 1;
            let code = entry.get(..2).unwrap_or_default();
            if code.starts_with('R') || code.starts_with('C') {
                parts.next();
            }
        }
        Ok(n)
    }

    /// Commits on `a` not on `b`, and on `b` not on `a`.
    pub fn ahead_behind(&self, a: &str, b: &str) -> Result<(u32, u32)> {
        let out = self.run(["rev-list", "--left-right", "--count", &format!("{a}...{b}")])?;
        let mut it = out.split_whitespace().map(|s| s.parse::<u32>());
        match (it.next(), it.next()) {
            (Some(Ok(x)), Some(Ok(y))) => Ok((x, y)),
            _ => Err(Error::new(
                ErrorKind::Git,
                format!("unexpected `git rev-list --count` output: {out:?}"),
            )),
        }
    }

    /// Is `commit` contained in `into`?
    pub fn is_ancestor(&self, commit: &str, into: &str) -> Result<bool> {
        self.check(["merge-base", "--is-ancestor", commit, into])
    }

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
            return Err(Error::new(
                ErrorKind::Git,
                format!(
                    "{branch} cannot be fast-forwarded onto the trunk: the branches have diverged"
                ),
            )
            .with_hint("merge without --ff-only, or rebase the branch first"));
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

    /// The tree of commit `rev`.
    pub fn rev_parse_tree(&self, rev: &str) -> Result<String> {
        self.run([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{tree}}"),
        ])
    }

    /// `git merge-tree --write-tree`: the tree merging `ours` and `theirs` would give.
    pub fn merge_tree(&self, ours: &str, theirs: &str) -> Result<MergeTree> {
        let args = [
            "merge-tree",
            "--write-tree",
            "-z",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ];
        let out = self.output(args)?;
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
            _ => {
                let refs: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
                Err(git_error_in(Some(&self.dir), &refs, &out))
            }
        }
    }

    /// Files in this worktree that git would overwrite (or refuse to) when moving
    /// from `from` to `to`: untracked and ignored files at paths the update adds,
    /// or in the place of a directory it adds. git overwrites ignored files
    /// silently, so callers check this before every update of a worktree.
    pub fn in_the_way(&self, from: &str, to: &str) -> Result<Vec<String>> {
        let out = self.run(["diff", "--name-status", "-z", "--no-renames", from, to])?;
        let mut added = vec![];
        let mut deleted = std::collections::HashSet::new();
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
        let mut found = vec![];
        for path in &added {
            if self.dir.join(path).symlink_metadata().is_ok() {
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
                if self
                    .dir
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
        self.run(["merge", "--ff-only", "--quiet", "--no-edit", to])
            .map(drop)
    }

    /// Is a merge, cherry-pick or revert half-done here (someone's `MERGE_HEAD`)?
    pub fn merge_in_progress(&self) -> Result<bool> {
        self.check(["rev-parse", "--quiet", "--verify", "MERGE_HEAD"])
    }

    /// Commits reachable from `rev` but from no branch, remote-tracking branch, tag
    /// or rescue ref (`refs/imi/rescued/*`), leaving out `except_branch`: the work
    /// that would be lost if `rev` (a detached HEAD, or a branch about to be
    /// deleted) went away.
    pub fn unique_commits(&self, rev: &str, except_branch: Option<&str>) -> Result<u32> {
        let mut args = vec![
            "rev-list".to_string(),
            "--count".into(),
            rev.into(),
            "--not".into(),
        ];
        if let Some(b) = except_branch {
            args.push(format!("--exclude={b}"));
        }
        args.extend([
            "--branches".into(),
            "--remotes".into(),
            "--tags".into(),
            "--glob=refs/imi/rescued/*".into(),
        ]);
        let out = self.run(&args)?;
        out.trim().parse().map_err(|_| {
            Error::new(
                ErrorKind::Git,
                format!("unexpected `git rev-list --count` output: {out:?}"),
            )
        })
    }

    /// Keeps `commit` reachable from `refs/imi/rescued/<name>` (or `<name>-2`, ...
    /// when taken) and returns the ref's name.
    pub fn rescue(&self, name: &str, commit: &str) -> Result<String> {
        for n in 1.. {
            let r = if n == 1 {
                format!("refs/imi/rescued/{name}")
            } else {
                format!("refs/imi/rescued/{name}-{n}")
            };
            // the empty old value makes update-ref refuse an existing ref
            let out = self.output(["update-ref", "-m", "imi: rescued", &r, commit, ""])?;
            if out.status.success() {
                return Ok(r);
            }
            if !self.ref_exists(&r)? {
                let args = [OsStr::new("update-ref"), OsStr::new(&r), OsStr::new(commit)];
                return Err(git_error_in(Some(&self.dir), &args, &out));
            }
        }
        Err(Error::internal("unreachable: the rescue loop has no end"))
    }

    pub fn push(&self, remote: &str, branch: &str) -> Result<()> {
        self.run(["push", "--quiet", remote, branch]).map(drop)
    }

    /// Last commit's hash and subject of HEAD.
    pub fn last_commit(&self) -> Result<Option<(String, String)>> {
        let out = self.output(["log", "-1", "--format=%H%x00%s"])?;
        if !out.status.success() {
            return Ok(None); // no commits yet
        }
        let s = String::from_utf8_lossy(&out.stdout);
        Ok(s.trim_end()
            .split_once('\0')
            .map(|(h, m)| (h.to_string(), m.to_string())))
    }
}

/// The credentials of a clone URL, kept off every command line.
struct UrlCredentials {
    /// `scheme://user:password@host[:port]`, percent-encoded as given: a line of a
    /// `git credential-store` file.
    store_line: String,
    username: String,
    password: String,
}

/// Splits `url` into the URL git is given (no credentials: `remote::sanitize`) and
/// the credentials, for http(s)/ftp(s) URLs that carry any. Other URLs lose only a
/// password (ssh never takes one from the URL).
fn split_credentials(url: &str) -> Result<(String, Option<UrlCredentials>)> {
    imi_core::remote::check_credentials_unambiguous(url)?;
    let clean = imi_core::remote::sanitize(url)?;
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return Ok((clean, None));
    };
    let scheme = parsed.scheme().to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "ftp" | "ftps")
        || (parsed.username().is_empty() && parsed.password().is_none())
    {
        return Ok((clean, None));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let username = decode(parsed.username());
    let password = decode(parsed.password().unwrap_or_default());
    if username
        .chars()
        .chain(password.chars())
        .any(char::is_control)
    {
        return Err(Error::validation(format!(
            "the credentials in {} contain control characters",
            imi_core::redact(url)
        ))
        .with_hint("fix the URL's user name or password"));
    }
    let host = parsed.host_str().unwrap_or_default();
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let store_line = format!(
        "{scheme}://{}:{}@{host}{port}",
        parsed.username(),
        parsed.password().unwrap_or_default()
    );
    Ok((
        clean,
        Some(UrlCredentials {
            store_line,
            username,
            password,
        }),
    ))
}

/// Adds `key = value` to the configuration git reads from the environment
/// (`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_<n>` / `GIT_CONFIG_VALUE_<n>`), after what
/// the caller's environment already has there.
fn env_config(c: &mut Command, entries: &[(&str, &str)]) {
    let base: usize = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for (i, (k, v)) in entries.iter().enumerate() {
        c.env(format!("GIT_CONFIG_KEY_{}", base + i), k)
            .env(format!("GIT_CONFIG_VALUE_{}", base + i), v);
    }
    c.env("GIT_CONFIG_COUNT", (base + entries.len()).to_string());
}

/// The credential helper of a clone made from a URL with credentials: git's own
/// `credential-store`, reading `<common dir>/imi-credentials` (mode 0600) of the
/// repository it runs in, so it works from every worktree and after a rename.
const STORED_HELPER: &str = "!f() { git credential-store --file=\"$(git rev-parse --path-format=absolute --git-common-dir)/imi-credentials\" \"$@\"; }; f";

/// `git clone` into `dest`.
///
/// Credentials in `url` never reach a command line (`ps` shows every user's): git is
/// given the URL without them, and gets them from a credential helper that reads
/// them from this process's environment (`IMI_GIT_USERNAME`, `IMI_GIT_PASSWORD`),
/// configured through `GIT_CONFIG_*` variables. The clone's `origin` is the URL
/// without credentials; so that later fetches and pushes still authenticate (as
/// they would after `git clone` of that URL, which keeps the URL with its
/// credentials in `.git/config`), the credentials are kept in
/// `.git/imi-credentials` (0600) and the clone's `credential.<url>.helper` reads
/// them with `git credential-store`.
pub fn clone(url: &str, dest: &Path) -> Result<()> {
    let (clean, creds) = split_credentials(url)?;
    let mut c = Command::new("git");
    c.args(["clone", "--quiet", "--", &clean])
        .arg(dest)
        .env("GIT_TERMINAL_PROMPT", "0");
    if let Some(cr) = &creds {
        c.env("IMI_GIT_USERNAME", &cr.username)
            .env("IMI_GIT_PASSWORD", &cr.password);
        env_config(
            &mut c,
            &[
                // only these credentials: none from the user's helpers, and none
                // handed to them either
                ("credential.helper", ""),
                (
                    "credential.helper",
                    "!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$IMI_GIT_USERNAME\" \"$IMI_GIT_PASSWORD\"; }; f",
                ),
            ],
        );
    }
    let out = c
        .output()
        .map_err(|e| Error::new(ErrorKind::Git, format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let args = [OsStr::new("clone"), OsStr::new(&clean), dest.as_os_str()];
        return Err(git_error(&args, &out).with_hint("check the URL and your access to it"));
    }
    if let Some(cr) = creds {
        keep_credentials(dest, &clean, &cr)?;
    }
    Ok(())
}

fn keep_credentials(dest: &Path, clean: &str, cr: &UrlCredentials) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let repo = Repo::at(dest);
    let file = repo.common_dir()?.join("imi-credentials");
    let fail = |e: std::io::Error| {
        Error::new(
            ErrorKind::Git,
            format!("cannot write {}: {e}", file.display()),
        )
        .with_hint(format!(
            "the clone at {} is complete; configure a git credential helper for it",
            dest.display()
        ))
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| writeln!(f, "{}", cr.store_line))
        .map_err(fail)?;
    repo.run([
        "config",
        &format!("credential.{clean}.helper"),
        STORED_HELPER,
    ])
    .map(drop)
}
