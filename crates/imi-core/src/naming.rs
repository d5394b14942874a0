//! Input rules shared by every interface (SPEC §2): worktree and type names, project
//! names, agent ids, activity types, counts. Each check returns a `VALIDATION_ERROR`
//! that says what is wrong and, where possible, suggests a valid value.

use crate::error::{Error, Result};
use crate::model::ACTIVITY_TYPES;

/// Longest worktree or project name, in bytes (directory names are limited to 255
/// bytes by most file systems; prefixes are added to worktree names).
pub const MAX_NAME_BYTES: usize = 200;
/// Longest branch name, in bytes.
pub const MAX_BRANCH_BYTES: usize = 255;
/// Longest agent id or host name, in bytes.
pub const MAX_ID_BYTES: usize = 255;
/// Longest description (of a project, type or activity) or file path, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// The largest day count `imi db maintain` accepts (100 years): beyond it the
/// timestamp arithmetic of the backends overflows.
pub const MAX_DAYS: i32 = 36_500;

/// Unicode bidirectional formatting characters: they make a name display in another
/// order than it is stored (a terminal shows `exe.txt` for `txt.exe`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The one rule for any name that becomes a path component (a directory or file
/// name under imi's root): what is wrong with it, if anything. Not empty, not `.` or
/// `..`, no `/` or `\`, no NUL or other control characters, no bidirectional
/// overrides, at most `max` bytes. Every door (CLI, stores, snapshot and legacy
/// import, `.iMi` files, and the SQL triggers that mirror it) applies this rule.
pub fn path_component_problem(name: &str, max: usize) -> Option<String> {
    if name.trim().is_empty() {
        Some("is empty".into())
    } else if name == "." || name == ".." {
        Some(format!("is `{name}`"))
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a slash".into())
    } else if name.chars().any(char::is_control) {
        Some("contains control characters".into())
    } else if name.chars().any(is_bidi_control) {
        Some("contains bidirectional formatting characters".into())
    } else if name.len() > max {
        Some(format!("is longer than {max} bytes"))
    } else {
        None
    }
}

/// A project name becomes the directory `<root>/<name>`: one path component.
pub fn validate_project_name(name: &str) -> Result<()> {
    match path_component_problem(name, MAX_NAME_BYTES) {
        None => Ok(()),
        Some(why) => Err(
            Error::validation(format!("invalid project name {name:?}: it {why}")).with_hint(
                "a project is named after the last part of its remote or path; \
                 give a remote or directory whose last part is a plain name such as `app`",
            ),
        ),
    }
}

/// A worktree name must make a valid branch name (`<prefix><name>`) and a safe
/// directory name (`<prefix><name>`): one path component, no ref-format tricks.
pub fn validate_worktree_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.chars().any(char::is_whitespace) {
        Some("contains whitespace".into())
    } else if let Some(p) = path_component_problem(name, MAX_NAME_BYTES) {
        Some(p)
    } else if name.contains("..") {
        Some("contains `..`".into())
    } else if name.starts_with('-') || name.starts_with('.') {
        Some("starts with `-` or `.`".into())
    } else if name.ends_with('.') {
        Some("ends with `.`".into())
    } else if name.ends_with(".lock") {
        Some("ends with `.lock`".into())
    } else if name.contains("@{") || name == "@" {
        Some("contains `@{`".into())
    } else if name.chars().any(|c| "~^:?*[".contains(c)) {
        Some("contains one of ~ ^ : ? * [".into())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => {
            let mut e = Error::validation(format!("invalid worktree name {name:?}: it {why}"));
            let s = suggest_name(name);
            if !s.is_empty() && s != name {
                e = e.with_hint(format!("try {s:?}"));
            } else {
                e = e.with_hint("use letters, digits, `-` and `_`, e.g. user-auth");
            }
            Err(e)
        }
    }
}

/// `name` as a file name stem that cannot leave its directory: unchanged when it is
/// a valid worktree name, else every byte outside `[A-Za-z0-9_-]` written as `%XX`
/// (so a registry row named `../../x` maps to `%2E%2E%2F%2E%2E%2Fx`, a harmless
/// sibling). Defence in depth for paths joined from names read back from a registry.
pub fn safe_file_stem(name: &str) -> std::borrow::Cow<'_, str> {
    if validate_worktree_name(name).is_ok() {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    std::borrow::Cow::Owned(out)
}

/// Checks a free-text or identifier field: at most `max` bytes, and no NUL
/// character (PostgreSQL's text cannot hold one, so neither backend takes one).
pub fn check_len(what: &str, value: &str, max: usize) -> Result<()> {
    if value.contains('\0') {
        return Err(
            Error::validation(format!("{what} contains a NUL character"))
                .with_hint(format!("give the {what} without NUL (\\0) characters")),
        );
    }
    if value.len() > max {
        return Err(Error::validation(format!(
            "{what} is too long ({} bytes, at most {max})",
            value.len()
        ))
        .with_hint(format!("shorten the {what}")));
    }
    Ok(())
}

/// A branch name: non-empty, no control characters, at most 255 bytes.
pub fn validate_branch_name(what: &str, branch: &str) -> Result<()> {
    require_non_empty(what, branch)?;
    check_len(what, branch, MAX_BRANCH_BYTES)
}

/// The directory prefix of a custom type must not make worktree directories that
/// look like a trunk (`trunk-<branch>`): `imi add` would then write over the trunk's
/// `.iMi` file. True when some valid worktree name glued to `prefix` starts with
/// `trunk-` (case-insensitively, for case-insensitive file systems).
pub fn prefix_collides_with_trunk(prefix: &str) -> bool {
    const TRUNK: &str = "trunk-";
    let p = prefix.to_ascii_lowercase();
    if p.starts_with(TRUNK) {
        return true;
    }
    // `t`, `tr`, ... `trun`: the name supplies the rest. `trunk` alone would need a
    // name starting with `-`, which no valid name does.
    TRUNK.starts_with(&p) && !p.is_empty() && p.len() < TRUNK.len() - 1
}

/// A directory name a non-trunk worktree may not take: the trunk directory names
/// `trunk-<branch>` are reserved.
pub fn is_trunk_dir_name(dir: &str) -> bool {
    dir.to_ascii_lowercase().starts_with("trunk-")
}

/// Rules of a custom type's worktree prefix: the character rules of
/// [`validate_prefix`] plus no collision with trunk directories.
pub fn validate_custom_worktree_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Err(Error::validation("worktree prefix is empty")
            .with_hint("give a worktree prefix such as spike-"));
    }
    validate_prefix("worktree prefix", prefix, false)?;
    // its length is bounded in characters above (what JSON Schema's maxLength counts,
    // so the API's document and the rule agree); the directory name it starts is
    // bounded in bytes when a worktree is named (validate_worktree_name)
    if let Some(why) = path_component_problem(prefix, 4 * MAX_PREFIX_CHARS) {
        return Err(
            Error::validation(format!("invalid worktree prefix {prefix:?}: it {why}"))
                .with_hint("use letters, digits, `-` and `_`, e.g. spike-"),
        );
    }
    if prefix_collides_with_trunk(prefix) {
        return Err(Error::validation(format!(
            "worktree prefix {prefix:?} would make directories named like the trunk (trunk-<branch>)"
        ))
        .with_hint("pick a prefix that does not start like `trunk-`, e.g. spike-"));
    }
    Ok(())
}

/// A valid name close to `name`: lowercase, runs of invalid characters become `-`.
pub fn suggest_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let ok = c.is_alphanumeric() || c == '_' || c == '.';
        if ok {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.contains("..") {
        out = out.replace("..", ".");
    }
    let mut out = out.trim_matches(|c| c == '-' || c == '.').to_string();
    while out.ends_with(".lock") {
        out.truncate(out.len() - ".lock".len());
        out = out.trim_end_matches(['-', '.']).to_string();
    }
    out.truncate(200);
    out
}

/// Custom type names: `[a-z][a-z0-9-]*`, at most 32 characters.
pub fn validate_type_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && name.len() <= 32;
    if ok {
        Ok(())
    } else {
        Err(
            Error::validation(format!("invalid type name {name:?}")).with_hint(
                "type names are lowercase: a letter, then letters, digits or `-` (e.g. spike)",
            ),
        )
    }
}

/// The most characters of a branch or worktree prefix.
pub const MAX_PREFIX_CHARS: usize = 64;

/// A prefix is glued to a worktree name, so it follows the same character rules
/// (slashes are allowed in branch prefixes, not in directory prefixes).
pub fn validate_prefix(what: &str, prefix: &str, allow_slash: bool) -> Result<()> {
    let bad = prefix.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || is_bidi_control(c)
            || "~^:?*[\\".contains(c)
            || (!allow_slash && c == '/')
    }) || prefix.chars().count() > MAX_PREFIX_CHARS
        || prefix.contains("..")
        || prefix.contains("@{")
        || prefix.starts_with(['-', '.', '/']);
    if bad {
        return Err(Error::validation(format!("invalid {what} {prefix:?}"))
            .with_hint("use letters, digits, `-`, `_` (and `/` in branch prefixes), e.g. spike/"));
    }
    Ok(())
}

pub fn require_non_empty(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation(format!("{what} is empty"))
            .with_hint(format!("give a non-empty {what}")));
    }
    if value.chars().any(char::is_control) {
        return Err(
            Error::validation(format!("{what} contains control characters"))
                .with_hint(format!("give the {what} without control characters")),
        );
    }
    Ok(())
}

pub fn validate_activity_type(t: &str) -> Result<()> {
    if ACTIVITY_TYPES.contains(&t) {
        Ok(())
    } else {
        Err(Error::validation(format!("unknown activity type {t:?}"))
            .with_hint(format!("use one of: {}", ACTIVITY_TYPES.join(", "))))
    }
}

pub fn validate_count(what: &str, n: Option<i32>) -> Result<()> {
    match n {
        Some(v) if v < 0 => Err(Error::validation(format!("{what} is negative ({v})"))
            .with_hint("counts are zero or more")),
        _ => Ok(()),
    }
}

pub fn validate_days(what: &str, days: i32) -> Result<()> {
    if days < 0 {
        return Err(Error::validation(format!("{what} is negative ({days})"))
            .with_hint("give a number of days, 0 or more"));
    }
    if days > MAX_DAYS {
        return Err(Error::validation(format!(
            "{what} is too large ({days}, at most {MAX_DAYS}: 100 years)"
        ))
        .with_hint(format!("give a number of days from 0 to {MAX_DAYS}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_holds_no_nul() {
        let e = check_len("description", "a\0b", 100).unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
        assert!(e.message.contains("NUL"), "{}", e.message);
        assert!(check_len("description", "a b", 100).is_ok());
    }

    #[test]
    fn refuses_what_git_or_a_shell_would_trip_on() {
        for bad in [
            "",
            "user auth",
            "..",
            "a..b",
            "a/b",
            "-rf",
            ".hidden",
            "x.lock",
            "a@{b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "tab\there",
            "end.",
        ] {
            let e = validate_worktree_name(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad:?}");
        }
        for good in ["user-auth", "login_crash", "v1.2", "42", "Ünïcode"] {
            validate_worktree_name(good).unwrap();
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest_name("User Auth"), "user-auth");
        assert_eq!(suggest_name("-rf"), "rf");
        assert_eq!(suggest_name("a/../b"), "a-.-b");
        assert_eq!(suggest_name("x.lock"), "x");
        let e = validate_worktree_name("User Auth").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("try \"user-auth\""));
    }

    #[test]
    fn project_names_are_one_path_component() {
        let long = "x".repeat(201);
        for bad in [
            "",
            "  ",
            ".",
            "..",
            "a/b",
            "a\\b",
            "nul\0x",
            "esc\x1b[31m",
            "rtl\u{202E}txt.exe",
            "iso\u{2066}late",
            long.as_str(),
        ] {
            let e = validate_project_name(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad:?}");
            assert!(e.hint.is_some());
            assert!(validate_worktree_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "app",
            "my app",
            "a.b",
            ".dotfiles",
            "-x",
            "Ünïcode",
            "v1..2",
        ] {
            validate_project_name(good).unwrap();
        }
    }

    #[test]
    fn trunk_like_prefixes() {
        for p in ["trunk-", "Trunk-x", "trunk-main-", "t", "tr", "tru", "trun"] {
            assert!(prefix_collides_with_trunk(p), "{p:?}");
            assert_eq!(
                validate_custom_worktree_prefix(p).unwrap_err().code(),
                "VALIDATION_ERROR"
            );
        }
        for p in ["trunk", "trunks-", "spike-", "tx-", "feat-"] {
            assert!(!prefix_collides_with_trunk(p), "{p:?}");
            validate_custom_worktree_prefix(p).unwrap();
        }
        assert!(is_trunk_dir_name("trunk-main") && is_trunk_dir_name("TRUNK-x"));
        assert!(!is_trunk_dir_name("feat-trunk-main"));
    }

    #[test]
    fn day_counts_are_bounded() {
        validate_days("d", 0).unwrap();
        validate_days("d", MAX_DAYS).unwrap();
        for bad in [-1, MAX_DAYS + 1, 100_000_000, i32::MAX] {
            assert_eq!(
                validate_days("d", bad).unwrap_err().code(),
                "VALIDATION_ERROR"
            );
        }
    }

    #[test]
    fn safe_stems_never_leave_the_directory() {
        assert_eq!(safe_file_stem("feat-x"), "feat-x");
        assert_eq!(safe_file_stem("../../x"), "%2E%2E%2F%2E%2E%2Fx");
        assert_eq!(safe_file_stem(".."), "%2E%2E");
        assert_eq!(safe_file_stem(""), "%00");
    }

    proptest! {
        /// No accepted worktree name is more than one safe path component.
        #[test]
        fn accepted_worktree_names_are_safe(s in "(\\PC|[/\\\\.\u{0}-\u{1f}\u{202a}-\u{202e}]){0,40}") {
            if validate_worktree_name(&s).is_ok() {
                prop_assert!(!s.is_empty());
                prop_assert!(!s.contains('/') && !s.contains('\\'));
                prop_assert!(!s.split('/').any(|c| c == ".." || c == "."));
                prop_assert!(!s.contains(".."));
                prop_assert!(!s.chars().any(|c| c.is_control() || is_bidi_control(c)));
                prop_assert!(s.len() <= MAX_NAME_BYTES);
            }
            if validate_project_name(&s).is_ok() {
                prop_assert!(s != "." && s != "..");
                prop_assert!(!s.contains('/') && !s.contains('\\'));
                prop_assert!(!s.chars().any(|c| c.is_control() || is_bidi_control(c)));
            }
            let stem = safe_file_stem(&s);
            prop_assert!(!stem.contains('/') && !stem.contains('\\') && stem != ".." && stem != ".");
            prop_assert!(!stem.is_empty());
        }

        /// A suggestion is always itself valid (or empty when nothing usable is left).
        #[test]
        fn suggestion_is_valid(s in "\\PC{0,30}") {
            let sug = suggest_name(&s);
            if !sug.is_empty() {
                prop_assert!(validate_worktree_name(&sug).is_ok(), "{:?} -> {:?}", s, sug);
            }
        }
    }
}
