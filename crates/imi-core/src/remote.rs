//! Project identity (SPEC §3.2): the canonical key of a git remote, and the remote
//! with credentials stripped. Pure functions; the PostgreSQL migration mirrors them
//! in `imi_origin_key()` / `imi_sanitize_remote()` and a conformance test checks
//! both give the same answers.
//!
//! Rules, in order:
//! 1. Trim whitespace. Empty is invalid.
//! 2. `scheme://[userinfo@]host[:port]/path` for ssh, git+ssh, ssh+git, git, http,
//!    https, ftp, ftps: a *network* remote.
//! 3. `file://path`: a *local* remote with that path.
//! 4. `[user@]host:path` where the part before the first `:` has no `/` and is longer
//!    than one character (scp-like syntax, as git decides): a *network* remote.
//! 5. Anything else: a *local* path.
//!
//! Network key: `lowercase(host)/lowercase(path)` with the user, password and port
//! dropped, repeated slashes collapsed, leading `/` and `~` removed, trailing `/`
//! and one trailing `.git` removed. Forges treat owner and repository names
//! case-insensitively, and one repository reached over ssh and https must be one
//! project, so scheme and port are not part of the identity.
//!
//! Local key: the path with repeated and trailing slashes removed (case kept: file
//! systems are case-sensitive; `.git` kept: `repo` and `repo.git` are different
//! directories).

use crate::error::{Error, Result};

const NETWORK_SCHEMES: &[&str] = &[
    "ssh", "git+ssh", "ssh+git", "git", "http", "https", "ftp", "ftps",
];

enum Parsed<'a> {
    Network {
        scheme: Option<&'a str>,
        userinfo: Option<&'a str>,
        /// host plus any `:port`, exactly as written
        authority: &'a str,
        host: &'a str,
        path: &'a str,
    },
    Local {
        path: &'a str,
    },
}

fn parse(remote: &str) -> Result<Parsed<'_>> {
    let s = remote.trim();
    if s.is_empty() {
        return Err(Error::validation("remote is empty")
            .with_hint("give a git remote URL such as https://github.com/owner/repo"));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::validation(
            "remote contains control characters; give a git remote URL",
        ));
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        let lower = scheme.to_ascii_lowercase();
        if lower == "file" {
            return Ok(Parsed::Local { path: rest });
        }
        if !NETWORK_SCHEMES.contains(&lower.as_str()) {
            return Err(Error::validation(format!(
                "unsupported remote scheme {scheme:?} in {:?}",
                sanitize_display(s)
            ))
            .with_hint("use ssh://, https://, http://, git://, file:// or user@host:path"));
        }
        let (auth_all, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, authority) = match auth_all.rfind('@') {
            Some(i) => (Some(&auth_all[..i]), &auth_all[i + 1..]),
            None => (None, auth_all),
        };
        let host = strip_port(authority);
        if host.is_empty() {
            return Err(Error::validation(format!(
                "remote {:?} has no host",
                sanitize_display(s)
            )));
        }
        return Ok(Parsed::Network {
            scheme: Some(scheme),
            userinfo,
            authority,
            host,
            path,
        });
    }
    if let Some(colon) = s.find(':') {
        let before = &s[..colon];
        if !before.contains('/') && before.len() > 1 {
            let (userinfo, host) = match before.rfind('@') {
                Some(i) => (Some(&before[..i]), &before[i + 1..]),
                None => (None, before),
            };
            if host.is_empty() {
                return Err(Error::validation(format!(
                    "remote {:?} has no host",
                    sanitize_display(s)
                )));
            }
            return Ok(Parsed::Network {
                scheme: None,
                userinfo,
                authority: host,
                host,
                path: &s[colon + 1..],
            });
        }
    }
    Ok(Parsed::Local { path: s })
}

fn strip_port(authority: &str) -> &str {
    // `[::1]:22` keeps the brackets; `host:22` loses the port.
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    match authority.rfind(':') {
        Some(i) => &authority[..i],
        None => authority,
    }
}

fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// The canonical identity of a remote: `github.com/owner/repo` for network remotes,
/// the normalised path for local ones.
pub fn origin_key(remote: &str) -> Result<String> {
    match parse(remote)? {
        Parsed::Network { host, path, .. } => {
            let mut p = collapse_slashes(path);
            while p.starts_with('/') || p.starts_with('~') {
                p.remove(0);
            }
            while p.ends_with('/') {
                p.pop();
            }
            if let Some(stripped) = p.strip_suffix(".git") {
                p = stripped.to_string();
            }
            while p.ends_with('/') {
                p.pop();
            }
            if p.is_empty() {
                return Err(Error::validation(format!(
                    "remote {:?} names no repository",
                    sanitize_display(remote.trim())
                ))
                .with_hint("a remote looks like https://host/owner/repo or git@host:owner/repo"));
            }
            Ok(format!(
                "{}/{}",
                host.to_ascii_lowercase(),
                p.to_ascii_lowercase()
            ))
        }
        Parsed::Local { path } => {
            let key = local_key(path);
            if key.is_empty() {
                return Err(Error::validation(format!(
                    "remote {:?} names no path",
                    sanitize_display(remote)
                ))
                .with_hint("give a path such as file:///srv/git/repo.git"));
            }
            Ok(key)
        }
    }
}

/// The project name a remote gives: the last part of its identity, with one `.git`
/// removed. It becomes the directory `<root>/<name>`, so it must be a plain name
/// ([`crate::naming::validate_project_name`]): `https://host/owner/..` or
/// `file:///tmp/x/..` give `..` and are refused.
pub fn project_name(remote: &str) -> Result<String> {
    let key = origin_key(remote)?;
    let last = key.rsplit('/').find(|p| !p.is_empty()).unwrap_or_default();
    let name = last.strip_suffix(".git").unwrap_or(last);
    crate::naming::validate_project_name(name).map_err(|e| {
        Error::validation(format!(
            "remote {:?} does not end in a usable repository name: {}",
            sanitize_display(remote.trim()),
            e.message
        ))
        .with_hint("give the repository's own URL, e.g. https://host/owner/repo (no `..` or `.` at the end)")
    })?;
    Ok(name.to_string())
}

/// Key of a local path (also used for projects without a remote, by trunk path).
pub fn local_key(path: &str) -> String {
    let mut p = collapse_slashes(path.trim());
    while p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    p
}

/// The remote with credentials removed: the whole user part of http(s)/ftp URLs
/// (tokens are often given as the user name), the password of any other URL.
/// This is what imi stores and prints.
pub fn sanitize(remote: &str) -> Result<String> {
    let s = remote.trim();
    match parse(s)? {
        Parsed::Network {
            scheme: Some(scheme),
            userinfo: Some(userinfo),
            authority,
            path,
            ..
        } => {
            let lower = scheme.to_ascii_lowercase();
            let keep_user = !matches!(lower.as_str(), "http" | "https" | "ftp" | "ftps");
            let user = userinfo.split(':').next().unwrap_or_default();
            if keep_user && !user.is_empty() {
                Ok(format!("{scheme}://{user}@{authority}{path}"))
            } else {
                Ok(format!("{scheme}://{authority}{path}"))
            }
        }
        Parsed::Network {
            scheme: None,
            userinfo: Some(userinfo),
            authority,
            path,
            ..
        } => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if user.is_empty() {
                Ok(format!("{authority}:{path}"))
            } else {
                Ok(format!("{user}@{authority}:{path}"))
            }
        }
        _ => Ok(s.to_string()),
    }
}

/// Refuses a URL whose credentials cannot be told from its path: an `@` after the
/// point where the host ends (`https://user:pa/ss@host/repo`, a password typed with
/// a raw `/`, `?` or `#`). Read as a URL, its "host" is the user name and its path
/// holds the password, so stripping credentials would keep the secret; git cannot
/// use it either. Such a remote is never cloned, stored or printed.
pub fn check_credentials_unambiguous(remote: &str) -> Result<()> {
    let s = remote.trim();
    let Some((_, rest)) = s.split_once("://") else {
        return Ok(());
    };
    let host_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    match rest.rfind('@') {
        Some(at) if at > host_end => Err(Error::validation(format!(
            "remote {} has an `@` after its host: its user name or password cannot be told from its path",
            sanitize_display(s)
        ))
        .with_hint(
            "percent-encode special characters in the user name and password \
             (/ is %2F, @ is %40, # is %23, ? is %3F, % is %25), or use a credential helper",
        )),
        _ => Ok(()),
    }
}

/// For messages about input that failed to parse: never echo what may be a secret.
fn sanitize_display(s: &str) -> String {
    crate::redact::redact(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_examples_are_one_project() {
        let forms = [
            "git@github.com:Owner/Repo.git",
            "https://github.com/owner/repo",
            "ssh://git@github.com:22/Owner/Repo.git",
            "https://user:token@github.com/owner/repo.git/",
        ];
        for f in forms {
            assert_eq!(origin_key(f).unwrap(), "github.com/owner/repo", "{f}");
        }
    }

    #[test]
    fn hosts_and_subgroups() {
        assert_eq!(
            origin_key("git@gitlab.com:group/sub/Proj.git").unwrap(),
            "gitlab.com/group/sub/proj"
        );
        assert_eq!(
            origin_key("https://gitea.example.org:3000/team/app").unwrap(),
            "gitea.example.org/team/app"
        );
        assert_eq!(
            origin_key("ssh://git@gitea.example.org:2222/team/app.git").unwrap(),
            "gitea.example.org/team/app"
        );
        assert_eq!(
            origin_key("ssh://host/~alice/repo").unwrap(),
            "host/alice/repo"
        );
    }

    #[test]
    fn local_paths_keep_case_and_suffix() {
        assert_eq!(
            origin_key("/srv/Git/repo.git/").unwrap(),
            "/srv/Git/repo.git"
        );
        assert_eq!(
            origin_key("file:///srv/Git//repo.git").unwrap(),
            "/srv/Git/repo.git"
        );
        assert_eq!(origin_key("../rel/repo").unwrap(), "../rel/repo");
        // a single-letter "host" is a Windows drive, not scp syntax
        assert_eq!(origin_key("C:/repos/x").unwrap(), "C:/repos/x");
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            sanitize("https://user:token@github.com/owner/repo.git/").unwrap(),
            "https://github.com/owner/repo.git/"
        );
        assert_eq!(
            sanitize("https://ghp_secret@github.com/o/r").unwrap(),
            "https://github.com/o/r"
        );
        assert_eq!(
            sanitize("ssh://git:pw@host:22/o/r").unwrap(),
            "ssh://git@host:22/o/r"
        );
        assert_eq!(
            sanitize("git@github.com:o/r.git").unwrap(),
            "git@github.com:o/r.git"
        );
    }

    #[test]
    fn ambiguous_credentials_are_refused() {
        for bad in [
            "https://u:pa/ss@h/o/r",
            "https://u:pa?ss@h/o/r",
            "https://u:pa#ss@h/o/r",
            "https://h/o/r@x",
        ] {
            let e = check_credentials_unambiguous(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR");
            assert!(!e.message.contains("ss@"), "{}", e.message);
        }
        for ok in [
            "https://u:pa%2Fss@h/o/r",
            "https://u:p@ss@h/o/r",
            "git@github.com:o/r@x",
            "/srv/a@b",
            "https://h/o/r",
        ] {
            check_credentials_unambiguous(ok).unwrap();
        }
    }

    #[test]
    fn invalid_remotes() {
        for bad in [
            "",
            "   ",
            "https://",
            "https:///o/r",
            "git@github.com:",
            "svn://x/y",
            "a\nb",
            "file://",
        ] {
            let e = origin_key(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad:?}");
            assert!(!e.message.contains("token"));
        }
        let e = origin_key("https://user:token@github.com").unwrap_err();
        assert!(!e.message.contains("token"), "{}", e.message);
    }

    #[test]
    fn project_names_from_remotes() {
        assert_eq!(
            project_name("https://github.com/acme/App.git").unwrap(),
            "app"
        );
        assert_eq!(project_name("git@host:o/r.git/").unwrap(), "r");
        assert_eq!(project_name("/srv/git/repo.git").unwrap(), "repo");
        assert_eq!(project_name("file:///srv/Git/Repo").unwrap(), "Repo");
        for bad in [
            "https://host/owner/..",
            "https://user:token@host/owner/..",
            "file:///tmp/x/..",
            "/tmp/x/..",
            "https://host/owner/.",
            "git@host:owner/..",
            "https://host/owner/..git",
        ] {
            let e = project_name(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad}");
            assert!(!e.message.contains("token"), "{}", e.message);
            assert!(e.hint.is_some());
        }
    }

    fn seg() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9_.-]{0,12}".prop_filter("not .git-only", |s| {
            !s.to_ascii_lowercase().ends_with(".git") && s != "." && s != ".."
        })
    }

    proptest! {
        /// Every way of writing the same forge remote yields the same key.
        #[test]
        fn forms_agree(
            host in "[a-z][a-z0-9-]{0,10}\\.(com|org|io)",
            owner in seg(),
            repo in seg(),
            user in "[a-z]{1,8}",
            secret in "[A-Za-z0-9]{4,16}",
            port in 1u16..65535,
            upper in any::<bool>(),
            dotgit in any::<bool>(),
            slash in any::<bool>(),
        ) {
            let suffix = format!("{}{}", if dotgit { ".git" } else { "" }, if slash { "/" } else { "" });
            let path = if upper { format!("{}/{}", owner.to_uppercase(), repo) } else { format!("{owner}/{repo}") };
            let expect = format!("{host}/{}/{}", owner.to_ascii_lowercase(), repo.to_ascii_lowercase());
            let forms = [
                format!("https://{host}/{path}{suffix}"),
                format!("https://{user}:{secret}@{host}/{path}{suffix}"),
                format!("ssh://{user}@{host}:{port}/{path}{suffix}"),
                format!("{user}@{host}:{path}{suffix}"),
                format!("git://{host}/{path}{suffix}"),
            ];
            for f in &forms {
                prop_assert_eq!(origin_key(f).unwrap(), expect.clone(), "{}", f);
                let clean = sanitize(f).unwrap();
                prop_assert!(!clean.contains(&secret), "{}", clean);
                prop_assert_eq!(origin_key(&clean).unwrap(), expect.clone());
            }
        }

        /// Canonicalising is idempotent on the key's own form and never panics.
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            if let Ok(k) = origin_key(&s) {
                prop_assert!(!k.is_empty());
            }
            let _ = sanitize(&s);
        }
    }
}
