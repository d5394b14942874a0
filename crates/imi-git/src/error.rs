//! What can go wrong when imi runs git. A failed git call is classified once, in
//! [`classify`], from its exit status and output; the result is turned into imi's
//! error codes (SPEC §4) once, in [`GitError::into_error`] (which the `From` impl
//! uses). Callers decide by the variant, never by reading a message.
//!
//! git's messages are read in English: every git imi runs gets
//! `GIT_TEXTDOMAINDIR` pointing nowhere (see `Repo::command`), so a user's locale
//! cannot change the classification.

use std::fmt;
use std::path::PathBuf;
use std::process::Output;

use imi_core::{Error, ErrorKind};

pub type Result<T, E = GitError> = std::result::Result<T, E>;

/// One git command line, as shown in messages (credentials already hidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The `-C` directory, when the command ran in one.
    pub dir: Option<PathBuf>,
    /// The arguments after `git` (and after `-C <dir>`), joined by spaces.
    pub args: String,
}

impl Invocation {
    pub fn new<S: AsRef<std::ffi::OsStr>>(dir: Option<PathBuf>, args: &[S]) -> Invocation {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        // each argument as a shell reads it back, so the command can be pasted
        let args: Vec<String> = args
            .iter()
            .map(|a| imi_core::messages::shell_word(a))
            .collect();
        Invocation {
            dir,
            // git echoes URLs (with their credentials) in its command lines too
            args: imi_core::redact(&args.join(" ")),
        }
    }

    /// The command as a user would type it to see git's full output.
    pub fn rerun(&self) -> String {
        match &self.dir {
            Some(d) => format!("git -C {} {}", quoted(d), self.args),
            None => format!("git {}", self.args),
        }
    }
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "git {}", self.args)
    }
}

/// Why a git step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    /// git could not be started: not installed, not on `PATH`, not executable.
    #[error("cannot run {program}: {reason}")]
    Spawn { program: String, reason: String },

    /// The directory is not in a git repository (or does not exist).
    #[error("{} is not inside a git repository", dir.display())]
    NotARepository { dir: PathBuf },

    /// Another process holds one of git's lock files (`index.lock`, a ref's or the
    /// config's `.lock`). imi's own repository lock is waited for, never reported.
    #[error("`{command}` failed: {message}")]
    Locked {
        command: Invocation,
        /// The lock file, when git named it.
        lock: Option<PathBuf>,
        message: String,
    },

    /// The step conflicts with the files: a merge (or apply) stopped on
    /// conflicting changes, or the index still has unresolved ones.
    #[error("`{command}` failed: {message}")]
    Conflict {
        command: Invocation,
        /// The conflicting files, when git named them.
        files: Vec<String>,
        message: String,
    },

    /// git refused because the step would overwrite or delete someone's work:
    /// local changes or untracked files in the way of a checkout or merge, a
    /// worktree with changes, a branch that is not merged.
    #[error("`{command}` failed: {message}")]
    WouldLoseWork {
        command: Invocation,
        /// The files git named.
        files: Vec<String>,
        message: String,
    },

    /// Any other failure: git's own first line of explanation.
    #[error("`{command}` failed: {message}")]
    Failed {
        command: Invocation,
        /// The exit code (`None` when killed by a signal).
        code: Option<i32>,
        message: String,
    },

    /// git needs an author or committer identity and has none (`user.name`,
    /// `user.email` unset and not guessable).
    #[error("`{command}` failed: {message}")]
    NoIdentity {
        command: Invocation,
        message: String,
    },

    /// git succeeded but printed something imi cannot read.
    #[error("unexpected output of `{command}`: {output:?}")]
    Unexpected { command: Invocation, output: String },

    /// imi's repository lock file cannot be opened or locked.
    #[error("cannot lock {}: {reason}", path.display())]
    LockFile { path: PathBuf, reason: String },
}

impl GitError {
    pub(crate) fn spawn(program: &std::path::Path, e: &std::io::Error) -> GitError {
        let program = if program == std::path::Path::new("git") {
            "git".to_string()
        } else {
            format!("git ({})", program.display())
        };
        GitError::Spawn {
            program,
            reason: e.to_string(),
        }
    }

    /// The `imi_core::Error` (code, message, hint) for this failure: the one place
    /// git failures become imi's section-4 codes.
    pub fn into_error(self) -> Error {
        self.into_error_with_hint(None)
    }

    /// Like [`GitError::into_error`], with `hint` instead of the generic advice
    /// for a [`GitError::Failed`] (the caller knows what the command was for: a
    /// fetch, a push). The other variants keep their own hints: they say what to
    /// do about that particular cause.
    pub fn into_error_with_hint(self, hint: Option<String>) -> Error {
        let message = self.to_string();
        let (kind, generic) = match &self {
            GitError::Spawn { .. } => (
                ErrorKind::Git,
                "install git and make sure it is on PATH".to_string(),
            ),
            GitError::NotARepository { dir } => (
                ErrorKind::Git,
                format!(
                    "check that {} is a git repository (`git -C {} status`); run imi inside one, or pass -p <project>",
                    dir.display(),
                    quoted(dir)
                ),
            ),
            // GIT_ERROR as before the typed error (section 4's codes do not change)
            GitError::Locked { lock, .. } => (
                ErrorKind::Git,
                match lock {
                    Some(l) => format!(
                        "another git process is working in this repository: wait for it to end and try again (if none is running, a crashed git left {} behind: delete it)",
                        l.display()
                    ),
                    None => "another git process is working in this repository: wait for it to end and try again".to_string(),
                },
            ),
            GitError::Conflict { command, .. } => (
                ErrorKind::Conflict,
                format!(
                    "see the conflicts with `{}`, resolve them (or abort), then try again",
                    status_of(command)
                ),
            ),
            // GIT_ERROR as before: imi's own checks refuse first, with UNSAFE
            GitError::WouldLoseWork { command, .. } => (
                ErrorKind::Git,
                format!(
                    "commit, stash or move away what git names (`{}` lists it), then try again",
                    status_of(command)
                ),
            ),
            GitError::NoIdentity { .. } => (
                ErrorKind::Git,
                "tell git who you are: `git config --global user.name 'Your Name'` and \
                 `git config --global user.email you@example.com` (without --global: this \
                 repository only), then try again"
                    .to_string(),
            ),
            GitError::Failed { command, .. } | GitError::Unexpected { command, .. } => (
                ErrorKind::Git,
                format!("run `{}` yourself to see git's full output", command.rerun()),
            ),
            GitError::LockFile { .. } => (
                ErrorKind::Git,
                "check the permissions of the repository's .git directory".to_string(),
            ),
        };
        let hint = match (&self, hint) {
            (GitError::Failed { .. }, Some(h)) => h,
            _ => generic,
        };
        // the parts are redacted when made; this is the last line of defence
        Error::new(kind, imi_core::redact(&message)).with_hint(imi_core::redact(&hint))
    }
}

/// A directory as one shell word.
fn quoted(d: &std::path::Path) -> String {
    imi_core::messages::shell_word(&d.to_string_lossy())
}

fn status_of(command: &Invocation) -> String {
    match &command.dir {
        Some(d) => format!("git -C {} status", quoted(d)),
        None => "git status".to_string(),
    }
}

impl From<GitError> for Error {
    fn from(e: GitError) -> Error {
        e.into_error()
    }
}

/// The lines of git's output, without its `hint:` advice (written for a person
/// typing git commands, not for imi's caller).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with("hint:"))
}

/// The line that says what went wrong: git's first `fatal:` or `error:` line,
/// else its first line.
fn first_line(text: &str) -> String {
    lines(text)
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or_else(|| lines(text).next())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

/// The path in `Unable to create '<path>.lock': File exists`.
fn lock_path(text: &str) -> Option<PathBuf> {
    let start = text.find("Unable to create '")? + "Unable to create '".len();
    let len = text[start..].find("': File exists")?;
    Some(PathBuf::from(&text[start..start + len]))
}

/// The files git lists under a message, one per tab-indented line.
fn listed_files(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix('\t'))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Classifies the failure of one git call (it ran and exited non-zero) from its
/// exit status and output: the only place imi reads git's messages.
pub(crate) fn classify(command: Invocation, out: &Output) -> GitError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // git merge reports conflicts on stdout, everything else on stderr
    let both = format!("{stderr}\n{stdout}");
    let message = imi_core::redact(&first_line(&stderr));
    if lines(&stderr).any(|l| {
        l.starts_with("fatal: not a git repository") || l.starts_with("fatal: cannot change to '")
    }) && let Some(dir) = &command.dir
    {
        return GitError::NotARepository { dir: dir.clone() };
    }
    if stderr.contains(": File exists")
        && (stderr.contains(".lock': File exists") || stderr.contains("could not lock"))
    {
        return GitError::Locked {
            lock: lock_path(&stderr),
            command,
            message,
        };
    }
    if both.contains("Please tell me who you are")
        || both.contains("unable to auto-detect email address")
        || both.contains("empty ident name")
    {
        return GitError::NoIdentity { command, message };
    }
    if both.contains("would be overwritten by")
        || both.contains("would be removed by")
        || both.contains("contains modified or untracked files")
        || both.contains("is not fully merged")
    {
        return GitError::WouldLoseWork {
            files: listed_files(&stderr),
            command,
            message,
        };
    }
    let conflicts: Vec<String> = both
        .lines()
        .filter_map(|l| l.split_once("Merge conflict in ").map(|(_, f)| f.trim()))
        .map(str::to_string)
        .collect();
    if !conflicts.is_empty()
        || both.contains("CONFLICT (")
        || both.contains("you need to resolve your current index first")
        || both.contains("you have unmerged files")
    {
        let message = if conflicts.is_empty() {
            message
        } else {
            imi_core::redact(&format!("conflicts in {}", conflicts.join(", ")))
        };
        return GitError::Conflict {
            files: conflicts,
            command,
            message,
        };
    }
    GitError::Failed {
        command,
        code: out.status.code(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn out(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    fn cmd(args: &[&str]) -> Invocation {
        Invocation::new(Some(PathBuf::from("/r")), args)
    }

    #[test]
    fn a_first_line_skips_hints_and_prefers_the_error() {
        let e = classify(
            cmd(&["push", "origin", "main"]),
            &out(
                1,
                "",
                "To /o.git\n ! [remote rejected] main -> main (pre-receive hook declined)\nerror: failed to push some refs to '/o.git'\nhint: see git help\n",
            ),
        );
        assert_eq!(
            e,
            GitError::Failed {
                command: cmd(&["push", "origin", "main"]),
                code: Some(1),
                message: "error: failed to push some refs to '/o.git'".into()
            }
        );
        let e = e.into_error();
        assert_eq!(e.kind, ErrorKind::Git);
        assert_eq!(
            e.message,
            "`git push origin main` failed: error: failed to push some refs to '/o.git'"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("run `git -C /r push origin main` yourself to see git's full output")
        );
    }

    #[test]
    fn credentials_never_reach_the_message_or_the_hint() {
        let url = "https://bob:s3cret@example.com/r.git";
        let e = classify(
            cmd(&["fetch", url]),
            &out(
                128,
                "",
                &format!("fatal: unable to access '{url}/': Could not resolve host\n"),
            ),
        )
        .into_error();
        assert!(!e.message.contains("s3cret"), "{}", e.message);
        assert!(!e.message.contains("bob"), "{}", e.message);
        assert!(!e.hint.as_deref().unwrap_or_default().contains("s3cret"));
        assert!(e.message.contains("example.com"), "{}", e.message);
    }

    #[test]
    fn a_context_hint_replaces_only_the_generic_one() {
        let failed = classify(cmd(&["fetch"]), &out(128, "", "fatal: no\n"));
        let e = failed.into_error_with_hint(Some("check the network".into()));
        assert_eq!(e.hint.as_deref(), Some("check the network"));
        let locked = classify(
            cmd(&["fetch"]),
            &out(
                128,
                "",
                "fatal: Unable to create '/r/.git/index.lock': File exists.\n",
            ),
        );
        let e = locked.into_error_with_hint(Some("check the network".into()));
        assert_eq!(e.kind, ErrorKind::Git);
        assert!(e.hint.unwrap().contains("/r/.git/index.lock"));
    }

    #[test]
    fn each_class_has_its_code() {
        let cases = [
            (
                "fatal: not a git repository (or any of the parent directories): .git\n",
                "",
                ErrorKind::Git,
            ),
            (
                "error: could not lock config file .git/config: File exists\n",
                "",
                ErrorKind::Git,
            ),
            (
                "",
                "Auto-merging a\nCONFLICT (content): Merge conflict in a\nAutomatic merge failed; fix conflicts and then commit the result.\n",
                ErrorKind::Conflict,
            ),
            (
                "error: The following untracked working tree files would be overwritten by merge:\n\tx\nPlease move or remove them before you merge.\nAborting\n",
                "",
                ErrorKind::Git,
            ),
            (
                "error: the branch 'side' is not fully merged\n",
                "",
                ErrorKind::Git,
            ),
            ("fatal: bad revision 'nope'\n", "", ErrorKind::Git),
        ];
        for (stderr, stdout, kind) in cases {
            let e = classify(cmd(&["x"]), &out(1, stdout, stderr));
            assert_eq!(e.clone().into_error().kind, kind, "{e:?}");
        }
    }
}
