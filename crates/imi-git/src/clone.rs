//! `git clone` of a URL that may carry credentials, keeping them off every command
//! line and out of the clone's configuration.

use std::path::Path;
use std::process::Command;

use imi_core::{Error, ErrorKind, Result};

use crate::Repo;
use crate::error::{GitError, Invocation, classify};

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
        .envs(crate::GIT_ENV);
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
        .map_err(|e| GitError::spawn(Path::new("git"), &e))?;
    if !out.status.success() {
        let args = [
            std::ffi::OsStr::new("clone"),
            std::ffi::OsStr::new(&clean),
            dest.as_os_str(),
        ];
        return Err(classify(Invocation::new(None, &args), &out)
            .into_error_with_hint(Some("check the URL and your access to it".into())));
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
    ])?;
    Ok(())
}
