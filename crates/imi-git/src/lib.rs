//! The git operations imi needs, run through the `git` binary: the user's git, with
//! the user's configuration, hooks and credential helpers, and the exact semantics
//! they know. Nothing here deletes work: removal and branch deletion use git's own
//! safe forms unless the caller passes `force` (SPEC §9), and no function runs
//! `reset --hard` or `clean`.
//!
//! Every failure is a typed [`GitError`] (classified once, in `error.rs`); it
//! becomes an `imi_core::Error` with its section-4 code through `From`.

mod clone;
mod error;
mod files;
mod lock;
mod merge;
mod status;
mod worktree;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use clone::clone;
pub use error::{GitError, Invocation, Result};
pub use lock::RepoLock;
pub use merge::{MergeMode, MergePlan, MergeTree};
pub use status::{StatusEntry, StatusSummary, Untracked, parse_status_v2, parse_status_z};
pub use worktree::WorktreeEntry;

use error::classify;

/// The environment of every git imi runs. Never prompt for credentials or an
/// editor: imi runs in scripts and agents. And read git's messages untranslated
/// (its catalogue directory points nowhere), so that classifying a failure does
/// not depend on the user's locale; imi's own messages are English too.
pub(crate) const GIT_ENV: [(&str, &str); 3] = [
    ("GIT_TERMINAL_PROMPT", "0"),
    ("GIT_EDITOR", "true"),
    ("GIT_TEXTDOMAINDIR", "/dev/null/imi-untranslated"),
];

/// One commit as `git log` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub hash: String,
    /// Committer time, seconds since the Unix epoch.
    pub time: i64,
    /// The commit's tree (equal trees: the same content).
    pub tree: String,
    pub subject: String,
}

/// A git repository (any of its worktrees) addressed by a directory.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
    /// [`Repo::common_dir`], once git has said it.
    common: std::sync::OnceLock<PathBuf>,
    /// Where git keeps this worktree's files, when they can be read directly
    /// (`files.rs`); found once per `Repo`.
    layout: std::sync::OnceLock<Option<files::Layout>>,
}

impl Repo {
    pub fn at(dir: impl Into<PathBuf>) -> Repo {
        Repo {
            dir: dir.into(),
            program: PathBuf::from("git"),
            env: vec![],
            common: std::sync::OnceLock::new(),
            layout: std::sync::OnceLock::new(),
        }
    }

    /// Runs `program` instead of the `git` found on `PATH`.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Repo {
        self.program = program.into();
        self
    }

    /// Sets `key` in the environment of every git this runs (on top of this
    /// process's environment).
    pub fn with_env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Repo {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// git's files for this directory, `None` when they are not read directly.
    fn layout(&self) -> Option<&files::Layout> {
        self.layout
            .get_or_init(|| files::Layout::of(&self.dir, &self.env))
            .as_ref()
    }

    /// Runs git in this directory and returns its output whatever its exit status;
    /// an error only when git cannot be started.
    fn exec<I, S>(&self, args: I) -> Result<(Invocation, Output)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut c = Command::new(&self.program);
        c.arg("-C").arg(&self.dir).args(&args).envs(GIT_ENV);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = c.output().map_err(|e| GitError::spawn(&self.program, &e))?;
        Ok((Invocation::new(Some(self.dir.clone()), &args), out))
    }

    /// Runs git; its stdout on exit 0, the classified failure otherwise.
    fn run_bytes<I, S>(&self, args: I) -> Result<Vec<u8>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (cmd, out) = self.exec(args)?;
        if !out.status.success() {
            return Err(classify(cmd, &out));
        }
        Ok(out.stdout)
    }

    /// Runs git and returns its stdout without trailing white space.
    pub fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run_bytes(args)?;
        Ok(String::from_utf8_lossy(&out).trim_end().to_string())
    }

    /// Runs git; `Ok(true)` on exit 0, `Ok(false)` on exit 1, error otherwise.
    fn check<I, S>(&self, args: I) -> Result<bool>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (cmd, out) = self.exec(args)?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(classify(cmd, &out)),
        }
    }

    /// Asks git something it may answer with "no" (a failure of no other class):
    /// its stdout on exit 0, `None` for that "no". git missing, not a repository,
    /// a lock held: those are errors, not answers.
    fn probe<I, S>(&self, args: I) -> Result<Option<Vec<u8>>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match self.run_bytes(args) {
            Ok(out) => Ok(Some(out)),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Repo::probe`], its answer as one trimmed line.
    fn probe_line<I, S>(&self, args: I) -> Result<Option<String>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Ok(self
            .probe(args)?
            .map(|o| String::from_utf8_lossy(&o).trim().to_string()))
    }

    /// The top directory of the worktree containing `dir`.
    pub fn toplevel(&self) -> Result<PathBuf> {
        self.run(["rev-parse", "--show-toplevel"])
            .map(PathBuf::from)
    }

    /// The repository's shared `.git` directory (same for every worktree),
    /// absolute with symbolic links resolved. Read from the worktree's `.git`, else
    /// asked of git once per `Repo`: an operation asks for it more than once (its
    /// lock, its intent record), and it does not change while the repository exists.
    pub fn common_dir(&self) -> Result<PathBuf> {
        if let Some(l) = self.layout() {
            return Ok(l.common().to_path_buf());
        }
        if let Some(p) = self.common.get() {
            return Ok(p.clone());
        }
        let p =
            PathBuf::from(self.run(["rev-parse", "--path-format=absolute", "--git-common-dir"])?);
        Ok(self.common.get_or_init(|| p).clone())
    }

    /// The URL of `remote`, `None` when there is no such remote.
    pub fn remote_url(&self, remote: &str) -> Result<Option<String>> {
        Ok(self
            .probe_line(["remote", "get-url", remote])?
            .filter(|s| !s.is_empty()))
    }

    /// The branch checked out here, `None` when detached.
    pub fn current_branch(&self) -> Result<Option<String>> {
        if let Some(b) = self.layout().and_then(files::Layout::head_branch) {
            return Ok(b);
        }
        self.probe_line(["symbolic-ref", "--quiet", "--short", "HEAD"])
    }

    /// The remote's default branch (`refs/remotes/<remote>/HEAD`), if known.
    pub fn remote_default_branch(&self, remote: &str) -> Result<Option<String>> {
        let head = format!("refs/remotes/{remote}/HEAD");
        let Some(s) = self.probe_line(["symbolic-ref", "--quiet", "--short", &head])? else {
            return Ok(None);
        };
        Ok(s.strip_prefix(&format!("{remote}/")).map(str::to_string))
    }

    pub fn fetch(&self, remote: &str) -> Result<()> {
        self.run(["fetch", "--quiet", "--prune", remote])?;
        Ok(())
    }

    /// Fetches `src` (a ref on `remote`) into the local branch `dst`. Refuses to
    /// move an existing `dst` that is not an ancestor of the new head (no `+`).
    pub fn fetch_ref(&self, remote: &str, src: &str, dst: &str) -> Result<()> {
        self.run([
            "fetch",
            "--quiet",
            remote,
            &format!("{src}:refs/heads/{dst}"),
        ])?;
        Ok(())
    }

    /// Does `remote` publish the ref `r`? A remote that cannot be reached is an
    /// error (with git's reason), never "no such ref".
    pub fn remote_has_ref(&self, remote: &str, r: &str) -> Result<bool> {
        let out = self.run(["ls-remote", "--", remote, r])?;
        Ok(out.lines().any(|l| l.split('\t').nth(1) == Some(r)))
    }

    /// Does the full ref `r` (`refs/heads/x`) exist (a symbolic ref: does what it
    /// points at)?
    pub fn ref_exists(&self, r: &str) -> Result<bool> {
        if let Some(found) = self.layout().and_then(|l| l.resolve(r)) {
            return Ok(found.is_some());
        }
        self.check(["show-ref", "--verify", "--quiet", r])
    }

    pub fn branch_exists(&self, branch: &str) -> Result<bool> {
        self.ref_exists(&format!("refs/heads/{branch}"))
    }

    /// `git check-ref-format --branch`: is `name` a valid branch name?
    pub fn valid_branch_name(&self, name: &str) -> Result<bool> {
        if let Some(valid) = files::valid_branch_name(name) {
            return Ok(valid);
        }
        Ok(self
            .probe(["check-ref-format", "--branch", name])?
            .is_some())
    }

    /// The commit `rev` names. `HEAD` and branches are read from git's files (a
    /// branch always points at a commit); anything else is asked of git, which
    /// also peels a tag to its commit.
    pub fn rev_parse(&self, rev: &str) -> Result<String> {
        if let Some((oid, full)) = self.layout().and_then(|l| l.resolve_rev(rev))
            && (full == "HEAD" || full.starts_with("refs/heads/"))
        {
            return Ok(oid);
        }
        self.run([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
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

    /// The blob of `path` in commit `rev`, `None` when the commit has no such file.
    pub fn rev_parse_blob(&self, rev: &str, path: &str) -> Result<Option<String>> {
        self.probe_line(["rev-parse", "--verify", "--quiet", &format!("{rev}:{path}")])
    }

    /// The content of `path` in commit `rev`, `None` when it has no such file.
    pub fn blob_bytes(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(blob) = self.rev_parse_blob(rev, path)? else {
            return Ok(None);
        };
        self.run_bytes(["cat-file", "blob", &blob]).map(Some)
    }

    /// Commits on `a` not on `b`, and on `b` not on `a`.
    pub fn ahead_behind(&self, a: &str, b: &str) -> Result<(u32, u32)> {
        let args = ["rev-list", "--left-right", "--count", &format!("{a}...{b}")];
        let out = self.run(args)?;
        let mut it = out.split_whitespace().map(|s| s.parse::<u32>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(x)), Some(Ok(y)), None) => Ok((x, y)),
            _ => Err(self.unexpected(&args, out)),
        }
    }

    fn unexpected<S: AsRef<OsStr>>(&self, args: &[S], output: String) -> GitError {
        GitError::Unexpected {
            command: Invocation::new(Some(self.dir.clone()), args),
            output,
        }
    }

    /// Is `commit` contained in `into`?
    /// Two names of one commit answer without git.
    pub fn is_ancestor(&self, commit: &str, into: &str) -> Result<bool> {
        if let Some(l) = self.layout()
            && let (Some((a, _)), Some((b, _))) = (l.resolve_rev(commit), l.resolve_rev(into))
            && a == b
        {
            return Ok(true);
        }
        self.check(["merge-base", "--is-ancestor", commit, into])
    }

    /// Deletes a branch: `-d` (git refuses an unmerged one) or, with `force`, `-D`.
    pub fn branch_delete(&self, branch: &str, force: bool) -> Result<()> {
        self.run(["branch", if force { "-D" } else { "-d" }, "--", branch])?;
        Ok(())
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
        out.trim()
            .parse()
            .map_err(|_| self.unexpected(&args, out.clone()))
    }

    /// Keeps `commit` reachable from `refs/imi/rescued/<name>` (or `<name>-2`, ...
    /// when taken) and returns the ref's name.
    pub fn rescue(&self, name: &str, commit: &str) -> Result<String> {
        let mut n = 1;
        loop {
            let r = if n == 1 {
                format!("refs/imi/rescued/{name}")
            } else {
                format!("refs/imi/rescued/{name}-{n}")
            };
            // the empty old value makes update-ref refuse an existing ref
            match self.run(["update-ref", "-m", "imi: rescued", &r, commit, ""]) {
                Ok(_) => return Ok(r),
                Err(GitError::Failed { .. }) if self.ref_exists(&r)? => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn push(&self, remote: &str, branch: &str) -> Result<()> {
        self.run(["push", "--quiet", remote, branch])?;
        Ok(())
    }

    /// HEAD's last commit: hash, committer time, tree and subject; `None` before
    /// the first commit.
    pub fn head_commit(&self) -> Result<Option<CommitInfo>> {
        let Some(out) = self.probe(["log", "-1", "--format=%H%x00%ct%x00%T%x00%s"])? else {
            return Ok(None); // no commits yet
        };
        let s = String::from_utf8_lossy(&out);
        let mut it = s.trim_end_matches('\n').splitn(4, '\0');
        match (it.next(), it.next().map(str::parse), it.next(), it.next()) {
            (Some(hash), Some(Ok(time)), Some(tree), Some(subject)) => Ok(Some(CommitInfo {
                hash: hash.to_string(),
                time,
                tree: tree.to_string(),
                subject: subject.to_string(),
            })),
            _ => Err(self.unexpected(&["log", "-1"], s.into_owned())),
        }
    }
}
