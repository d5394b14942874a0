//! Settings from the config file, the environment and flags (SPEC §1): flags win over
//! the environment, which wins over `$XDG_CONFIG_HOME/imi/config.toml`. imi writes
//! the config file only when asked (`imi config set|unset`, `commands/config.rs`).

use std::path::{Path, PathBuf};

use imi_core::{Error, Result};
use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::dburl::DatabaseTarget;

/// The config file's keys; unknown keys are an error so typos don't go unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    root: Option<PathBuf>,
    agent_id: Option<String>,
    /// The user's own hooks (trusted: they run without approval).
    #[serde(default)]
    hooks: crate::setup::HooksTable,
    /// Ignored files the user wants copied into every new worktree.
    #[serde(default)]
    copy: crate::setup::CopyTable,
}

/// Where a setting's value came from (shown by `imi config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Flag,
    Env,
    ConfigFile,
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Flag => "flag",
            Source::Env => "environment",
            Source::ConfigFile => "config file",
            Source::Default => "default",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config_file: PathBuf,
    pub database: DatabaseTarget,
    pub database_source: Source,
    pub root: PathBuf,
    pub root_source: Source,
    pub agent_id: String,
    pub agent_source: Source,
    pub host: String,
    /// The `[hooks]` and `[copy]` tables of the user's config file.
    pub setup: crate::setup::SetupTables,
}

pub fn home_dir() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::validation("HOME is not set")
                .with_hint("set HOME, or pass --database and IMI_ROOT explicitly")
        })
}

fn xdg_dir(var: &str, fallback: &str) -> Result<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) => Ok(PathBuf::from(v)),
        None => Ok(home_dir()?.join(fallback)),
    }
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

pub fn config_path() -> Result<PathBuf> {
    Ok(xdg_dir("XDG_CONFIG_HOME", ".config")?
        .join("imi")
        .join("config.toml"))
}

/// `$XDG_STATE_HOME/imi` (else `~/.local/state/imi`): hook logs.
pub fn state_dir() -> Result<PathBuf> {
    Ok(xdg_dir("XDG_STATE_HOME", ".local/state")?.join("imi"))
}

pub fn default_sqlite_path() -> Result<PathBuf> {
    Ok(xdg_dir("XDG_DATA_HOME", ".local/share")?
        .join("imi")
        .join("registry.db"))
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => {
            return Err(
                Error::validation(format!("cannot read {}: {e}", path.display()))
                    .with_hint("fix the file's permissions, or remove it"),
            );
        }
    };
    parse_text(&text, path)
}

/// Checks text meant for the config file with the parser that reads it.
pub fn check_file_text(text: &str, path: &Path) -> Result<()> {
    parse_text(text, path).map(|_| ())
}

fn parse_text(text: &str, path: &Path) -> Result<FileConfig> {
    toml::from_str(text).map_err(|e| {
        // line and column (1-based) of where the parser stopped
        let at = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(", line {line}, column {column}")
            })
            .unwrap_or_default();
        Error::validation(format!(
            "invalid config file {}{at}: {}",
            path.display(),
            imi_core::redact(e.message().trim_end()).replace('\n', "; ")
        ))
        .with_hint("valid keys are database_url, root, agent_id, [hooks] and [copy]")
    })
}

fn pick<T>(flag: Option<T>, env: Option<T>, file: Option<T>) -> Option<(T, Source)> {
    flag.map(|v| (v, Source::Flag))
        .or_else(|| env.map(|v| (v, Source::Env)))
        .or_else(|| file.map(|v| (v, Source::ConfigFile)))
}

impl Settings {
    pub fn load(global: &GlobalArgs) -> Result<Settings> {
        let config_file = config_path()?;
        let file = read_file(&config_file)?;

        let (database, database_source) = match pick(
            global.database.clone(),
            env("IMI_DATABASE_URL"),
            file.database_url,
        ) {
            Some((url, src)) => (DatabaseTarget::parse(&url)?, src),
            None => (
                DatabaseTarget::Sqlite(default_sqlite_path()?),
                Source::Default,
            ),
        };
        let (root, root_source) = match pick(None, env("IMI_ROOT").map(PathBuf::from), file.root) {
            Some(v) => v,
            None => (home_dir()?.join("code"), Source::Default),
        };
        let (agent_id, agent_source) =
            match pick(global.agent.clone(), env("IMI_AGENT_ID"), file.agent_id) {
                Some(v) => v,
                None => (
                    env("USER")
                        .or_else(|| env("LOGNAME"))
                        .unwrap_or_else(|| "unknown".into()),
                    Source::Default,
                ),
            };
        imi_core::naming::require_non_empty("agent id", &agent_id)?;
        // IMI_HOST: for containers whose host name changes on every start
        let host = env("IMI_HOST")
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
        Ok(Settings {
            config_file,
            database,
            database_source,
            root,
            root_source,
            agent_id,
            agent_source,
            host,
            setup: crate::setup::SetupTables {
                hooks: file.hooks,
                copy: file.copy,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_config_file_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "root = \"/code\"\ndatabase_url = \n").unwrap();
        let e = read_file(&path).unwrap_err();
        assert!(e.message.contains(", line 2, column 16: "), "{}", e.message);
        assert!(!e.message.contains('\n'), "{}", e.message);
        std::fs::write(&path, "root = \"/code\"\n\n  agent = 3 4\n").unwrap();
        let e = read_file(&path).unwrap_err();
        assert!(e.message.contains(", line 3, column"), "{}", e.message);
    }
}
