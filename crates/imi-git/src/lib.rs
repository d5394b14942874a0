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
}

/// How `merge` joins a branch into trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Always a merge commit (`--no-ff`).
    Commit,
    Squash,
    FastForwardOnly,
}

/// Result of [`Repo::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    Merged {
        commit: String,
    },
    /// The merge conflicted and was aborted: both sides are as they were.
    Conflict {
        files: Vec<String>,
    },
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

    /// Runs `f` holding an exclusive lock shared by every imi process working on
    /// this repository. git's own lock files make concurrent `worktree add`,
    /// `worktree remove` and `fetch` fail rather than wait (and `worktree add` can
    /// read another one's half-written admin directory), so imi queues them.
    pub fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let path = self.common_dir()?.join("imi.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Git,
                    format!("cannot open {}: {e}", path.display()),
                )
            })?;
        file.lock().map_err(|e| {
            Error::new(
                ErrorKind::Git,
                format!("cannot lock {}: {e}", path.display()),
            )
        })?;
        let out = f();
        let _ = file.unlock();
        out
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

    /// Merges `branch` into the branch checked out here. A conflict is aborted with
    /// `git merge --abort`, so both sides stay exactly as they were; the caller has
    /// checked that this worktree is clean. A squash runs as a `--no-commit` merge
    /// (abortable like any other) committed with one parent.
    pub fn merge(&self, branch: &str, mode: MergeMode, message: &str) -> Result<MergeOutcome> {
        let mut args = vec!["merge", "--no-edit"];
        match mode {
            MergeMode::Commit => args.extend(["--no-ff", "-m", message]),
            MergeMode::FastForwardOnly => args.push("--ff-only"),
            MergeMode::Squash => args.extend(["--no-ff", "--no-commit"]),
        }
        args.extend(["--", branch]);
        let out = self.output(&args)?;
        if !out.status.success() {
            if self.merge_in_progress()? {
                let files: Vec<String> = self
                    .run(["diff", "--name-only", "--diff-filter=U"])?
                    .lines()
                    .map(str::to_string)
                    .collect();
                self.run(["merge", "--abort"])?;
                return Ok(MergeOutcome::Conflict { files });
            }
            let refs: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            let e = git_error(&refs, &out);
            return Err(if mode == MergeMode::FastForwardOnly {
                e.with_hint("the branches have diverged: merge without --ff-only, or rebase the branch first")
            } else {
                e
            });
        }
        if mode == MergeMode::Squash && self.merge_in_progress()? {
            // Forget MERGE_HEAD, keep the merged index: the commit gets one parent.
            self.run(["merge", "--quit"])?;
            self.run(["commit", "--quiet", "--no-verify", "-m", message])?;
        }
        Ok(MergeOutcome::Merged {
            commit: self.rev_parse("HEAD")?,
        })
    }

    fn merge_in_progress(&self) -> Result<bool> {
        self.check(["rev-parse", "--quiet", "--verify", "MERGE_HEAD"])
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
