//! Input rules shared by every interface (SPEC §2): worktree and type names, project
//! names, agent ids, activity types, counts. Each check returns a `VALIDATION_ERROR`
//! that says what is wrong and, where possible, suggests a valid value.

use crate::error::{Error, Result};
use crate::model::ACTIVITY_TYPES;

/// A worktree name must make a valid branch name (`<prefix><name>`) and a safe
/// directory name (`<prefix><name>`): one path component, no ref-format tricks.
pub fn validate_worktree_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else if name.chars().any(char::is_control) {
        Some("contains control characters")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a slash")
    } else if name.contains("..") {
        Some("contains `..`")
    } else if name.starts_with('-') || name.starts_with('.') {
        Some("starts with `-` or `.`")
    } else if name.ends_with('.') {
        Some("ends with `.`")
    } else if name.ends_with(".lock") {
        Some("ends with `.lock`")
    } else if name.contains("@{") || name == "@" {
        Some("contains `@{`")
    } else if name.chars().any(|c| "~^:?*[".contains(c)) {
        Some("contains one of ~ ^ : ? * [")
    } else if name.len() > 200 {
        Some("is longer than 200 bytes")
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

/// A prefix is glued to a worktree name, so it follows the same character rules
/// (slashes are allowed in branch prefixes, not in directory prefixes).
pub fn validate_prefix(what: &str, prefix: &str, allow_slash: bool) -> Result<()> {
    let bad = prefix.chars().any(|c| {
        c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c) || (!allow_slash && c == '/')
    }) || prefix.contains("..")
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
        return Err(Error::validation(format!(
            "{what} contains control characters"
        )));
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    proptest! {
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
