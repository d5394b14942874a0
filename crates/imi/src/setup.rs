//! What sets up a new worktree (SPEC §10): the `[hooks]` and `[copy]` tables of the
//! user's config file (trusted) and of the project's committed `.imi.toml` (whose
//! commands run only once approved, see `ops::hooks`), and `.worktreeinclude`.
//!
//! ```toml
//! [hooks]
//! post-create = ["npm ci", "cp .env.example .env.local"]   # a command or a list
//! pre-remove = "docker compose down"
//! post-merge = "make notify"
//! timeout = "10m"                                          # each command; default 10m
//!
//! [copy]
//! include = [".env", "config/*.local.*"]                   # ignored files to copy
//! ```

use std::path::Path;

use imi_core::{Error, Result};
use serde::Deserialize;

/// The project's file, at the repository root (the trunk).
pub const PROJECT_FILE: &str = ".imi.toml";
/// Patterns (gitignore syntax) of ignored files to copy, at the repository root.
pub const INCLUDE_FILE: &str = ".worktreeinclude";
/// A hook command's time limit when none is configured.
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 600;

/// A command or a list of commands.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Commands {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Commands {
    pub fn list(&self) -> Vec<String> {
        match self {
            Commands::None => Vec::new(),
            Commands::One(c) => vec![c.clone()],
            Commands::Many(v) => v.clone(),
        }
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HooksTable {
    #[serde(default)]
    pub post_create: Commands,
    #[serde(default)]
    pub pre_remove: Commands,
    #[serde(default)]
    pub post_merge: Commands,
    /// Each command's time limit: `90s`, `10m`, `1h`.
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CopyTable {
    /// Ignored files to copy from the trunk (gitignore-style patterns).
    #[serde(default)]
    pub include: Vec<String>,
}

/// The setup part of a config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetupTables {
    #[serde(default)]
    pub hooks: HooksTable,
    #[serde(default)]
    pub copy: CopyTable,
}

/// The three hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub enum Hook {
    #[serde(rename = "post-create")]
    PostCreate,
    #[serde(rename = "pre-remove")]
    PreRemove,
    #[serde(rename = "post-merge")]
    PostMerge,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::PostCreate => "post-create",
            Hook::PreRemove => "pre-remove",
            Hook::PostMerge => "post-merge",
        }
    }

    pub fn parse(s: &str) -> Result<Hook> {
        match s {
            "post-create" => Ok(Hook::PostCreate),
            "pre-remove" => Ok(Hook::PreRemove),
            "post-merge" => Ok(Hook::PostMerge),
            other => Err(Error::validation(format!("unknown hook {other:?}"))
                .with_hint("use post-create, pre-remove or post-merge")),
        }
    }

    pub fn commands(self, t: &HooksTable) -> Vec<String> {
        match self {
            Hook::PostCreate => t.post_create.list(),
            Hook::PreRemove => t.pre_remove.list(),
            Hook::PostMerge => t.post_merge.list(),
        }
    }
}

impl HooksTable {
    /// The configured time limit in seconds (checked), else the default.
    pub fn timeout_seconds(&self) -> Result<i64> {
        match &self.timeout {
            None => Ok(DEFAULT_TIMEOUT_SECONDS),
            Some(t) => imi_core::claims::parse_duration(t),
        }
    }
}

/// The project's `.imi.toml` in `trunk` (empty when there is none).
pub fn project_tables(trunk: &Path) -> Result<SetupTables> {
    let path = trunk.join(PROJECT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SetupTables::default()),
        Err(e) => {
            return Err(
                Error::validation(format!("cannot read {}: {e}", path.display()))
                    .with_hint("fix the file's permissions"),
            );
        }
    };
    toml::from_str(&text).map_err(|e| {
        Error::validation(format!(
            "invalid {}: {}",
            path.display(),
            e.message().trim_end().replace('\n', "; ")
        ))
        .with_hint(
            "[hooks] takes post-create, pre-remove, post-merge, timeout; [copy] takes include",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_is_a_command_or_a_list() {
        let t: SetupTables = toml::from_str(
            "[hooks]\npost-create = [\"npm ci\", \" \", \"make\"]\npre-remove = \"down\"\ntimeout = \"90s\"\n[copy]\ninclude = [\".env\"]\n",
        )
        .unwrap();
        assert_eq!(Hook::PostCreate.commands(&t.hooks), ["npm ci", "make"]);
        assert_eq!(Hook::PreRemove.commands(&t.hooks), ["down"]);
        assert!(Hook::PostMerge.commands(&t.hooks).is_empty());
        assert_eq!(t.hooks.timeout_seconds().unwrap(), 90);
        assert_eq!(t.copy.include, [".env"]);
        assert!(toml::from_str::<SetupTables>("[hooks]\npost_create = \"x\"\n").is_err());
        assert!(Hook::parse("post-merge").is_ok());
        assert!(Hook::parse("on-create").is_err());
    }
}
