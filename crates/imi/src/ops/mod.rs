//! The operations imi performs, one module per operation: the single home of what
//! each one does, shared by every front end. The command line (`commands/`) calls
//! them today; the REST API (`imi serve`) and the MCP server (`imi mcp`) will call
//! exactly the same functions.
//!
//! An operation takes typed arguments and an [`Env`], and returns a typed report
//! that serialises to the `data` of the JSON envelope (or an [`imi_core::Error`]).
//! It never prints, prompts or reads the terminal: every question (a confirmation,
//! `--force`, `--yes`, a worktree's type) is answered by its arguments, and remarks
//! and progress go to the [`Observer`] of the environment, which the front end
//! chooses (the CLI prints them on stderr; a server can collect or drop them).

pub mod add;
pub mod board;
pub mod claims;
pub mod common;
pub mod doctor;
pub mod events;
pub mod hooks;
pub mod inflight;
pub mod init;
pub mod list;
pub mod log;
pub mod merge;
pub mod metadata;
pub mod prune;
pub mod recover;
pub mod remove;
pub mod status;
pub mod sync;
#[cfg(test)]
mod tests;
pub mod tokens;
pub mod types;
pub mod watch;
pub mod work;

use std::path::PathBuf;

use imi_core::{Error, Result};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::config::Settings;
use crate::registry::AnyStore;

/// Where progress and remarks of an operation go. Every method has a default that
/// drops what it is given, so an implementation keeps only what it shows.
pub trait Observer: Send + Sync {
    /// A remark for people (what the CLI prints as `note: ...` on stderr).
    fn note(&self, message: &str) {
        let _ = message;
    }
    /// A run of `total` steps of `what` (e.g. `syncing`) begins.
    fn begin(&self, what: &str, total: usize) {
        let _ = (what, total);
    }
    /// One step of the current run is done (called from worker threads).
    fn step(&self) {}
    /// The current run is over.
    fn end(&self) {}
}

/// An observer that drops everything.
pub struct Quiet;

impl Observer for Quiet {}

/// What every operation runs with: the settings (registry, layout root, agent, this
/// host's name), the directory it was started from, the registry (opened on first
/// use, or handed in already open), and the observer.
pub struct Env {
    pub settings: Settings,
    /// Where a project is looked for when none is named (the CLI's current directory).
    pub cwd: PathBuf,
    store: OnceCell<AnyStore>,
    schema_checked: OnceCell<imi_core::SchemaStatus>,
    observer: Box<dyn Observer>,
}

impl Env {
    /// An environment whose registry is opened on first use; remarks are dropped.
    pub fn new(settings: Settings, cwd: PathBuf) -> Env {
        Env {
            settings,
            cwd,
            store: OnceCell::new(),
            schema_checked: OnceCell::new(),
            observer: Box::new(Quiet),
        }
    }

    /// The same environment reporting to `observer`.
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Env {
        self.observer = Box::new(observer);
        self
    }

    /// The same settings and registry (opened here first, shared, not reopened),
    /// acting as `agent` (when given) from `cwd`, with remarks dropped: the
    /// environment of one request to a server.
    pub async fn for_request(&self, agent: Option<&str>, cwd: PathBuf) -> Result<Env> {
        let store = self.store().await?.clone();
        let mut settings = self.settings.clone();
        if let Some(agent) = agent {
            settings.agent_id = agent.to_string();
            settings.agent_source = crate::config::Source::Flag;
        }
        Ok(Env {
            settings,
            cwd,
            store: OnceCell::new_with(Some(store)),
            schema_checked: OnceCell::new_with(self.schema_checked.get().cloned()),
            observer: Box::new(Quiet),
        })
    }

    /// Who acts (recorded in the activity log and in intent records).
    pub fn agent_id(&self) -> &str {
        &self.settings.agent_id
    }

    pub fn observer(&self) -> &dyn Observer {
        self.observer.as_ref()
    }

    /// The registry, its schema brought up to this binary's (first use migrates; a
    /// newer schema is refused). Connected and checked once per environment.
    pub async fn store(&self) -> Result<&AnyStore> {
        let store = self.connected().await?;
        self.schema_checked
            .get_or_try_init(|| store.ensure_schema())
            .await?;
        Ok(store)
    }

    /// The same environment on a registry opened already (a server opens its own,
    /// with a pool of connections).
    pub fn with_store(mut self, store: AnyStore) -> Env {
        self.store = OnceCell::new_with(Some(store));
        self
    }

    /// The registry, when it was opened (for the front end to close it when done).
    pub fn into_store(self) -> Option<AnyStore> {
        self.store.into_inner()
    }

    /// The registry without touching its schema (for `imi doctor`, which reports
    /// the schema instead of migrating it).
    pub async fn connected(&self) -> Result<&AnyStore> {
        self.store
            .get_or_try_init(|| AnyStore::connect(&self.settings))
            .await
    }
}

/// A report of an operation: serialisable as the JSON envelope's `data`. A report
/// may carry a failure (problems `imi doctor` found, an interrupted operation
/// `imi recover` could not finish, a push that failed after a merge): the front end
/// shows the report, then the error, and the command fails.
pub trait Report: Serialize {
    fn failure(&self) -> Option<&Error> {
        None
    }
}
