//! The one hermetic environment every CLI test binary and benchmark runs `imi` and
//! `git` in: nothing of the user's machine leaks in (no global or system git
//! configuration, no `HOME`, no locale, no colour), and every commit gets the same
//! author and dates, so two runs of a test make the same objects.

use std::path::Path;
use std::process::Command;

/// The host name imi registers worktrees under in tests (`IMI_HOST`).
pub const HOST: &str = "test-host";

/// Clears `c`'s environment and sets the hermetic one around `home` (a temporary
/// directory of the test): `PATH` is kept, everything else is fixed. Callers add
/// what their test is about
/// (`IMI_DATABASE_URL`, `IMI_ROOT`, ...) after this call.
pub fn hermetic<'c>(c: &'c mut Command, home: &Path) -> &'c mut Command {
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("USER", "tester")
        .env("IMI_HOST", HOST)
        .env("NO_COLOR", "1")
}

/// `program` in the hermetic environment around `home`, run in `dir`.
pub fn command(program: impl AsRef<std::ffi::OsStr>, home: &Path, dir: &Path) -> Command {
    let mut c = Command::new(program);
    hermetic(&mut c, home).current_dir(dir);
    c
}

/// Runs `git args` in `dir` in the hermetic environment; panics with git's
/// message when it fails. Returns stdout without the trailing newline.
#[track_caller]
pub fn git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let out = command("git", home, dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}
