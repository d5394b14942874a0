//! The whole registry as one value: what `imi db export` writes, `imi db import`
//! reads and `imi db copy` moves between backends, and what the legacy importer
//! builds. Rows keep their ids and timestamps; worktree types are matched by name
//! (their serial ids differ between registries).
//!
//! Every backend exports and imports through [`backend`] (over its [`SnapshotTx`])
//! and the rules of [`import`] (the planner, the conflict and reference rules, the
//! count check), so that an import behaves the same on each.

pub mod backend;
mod diff;
pub mod import;

use std::collections::HashSet;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Activity, Project, Worktree, WorktreeType};

pub use backend::{SnapshotTx, export, import};
pub use import::{
    Clash, ClashCandidates, Clashes, ImportPlan, RowAction, RowCounts, TablePlan, TypeWrite,
};

/// `format` of every snapshot document.
pub const SNAPSHOT_FORMAT: &str = "imi-registry";
/// Version of the document layout this binary writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Everything in a registry. Rows are ordered (types by id, the rest by id) so that
/// exporting the same registry twice gives the same document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    pub format: String,
    pub version: u32,
    pub projects: Vec<Project>,
    pub worktree_types: Vec<WorktreeType>,
    pub worktrees: Vec<Worktree>,
    pub activities: Vec<Activity>,
}

impl Default for RegistrySnapshot {
    fn default() -> Self {
        RegistrySnapshot {
            format: SNAPSHOT_FORMAT.to_string(),
            version: SNAPSHOT_VERSION,
            projects: vec![],
            worktree_types: vec![],
            worktrees: vec![],
            activities: vec![],
        }
    }
}

/// A timestamp at the precision every registry keeps: microseconds (PostgreSQL's
/// `timestamptz`; the SQLite file stores six fraction digits). Finer digits (the
/// legacy file's nanoseconds, a document written by hand) are truncated.
pub fn registry_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// What to do with a row whose id the target already holds with other values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Refuse the whole import, listing every conflict.
    #[default]
    Strict,
    /// Replace the target's row with the snapshot's.
    Overwrite,
    /// Leave the target's row as it is (counted as already present).
    KeepExisting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// Do everything inside the transaction, report, then roll back.
    pub dry_run: bool,
}

/// Per-table outcome of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableCounts {
    /// Rows in the snapshot.
    pub read: u64,
    pub inserted: u64,
    /// Already in the target with the same values.
    pub identical: u64,
    /// In the target with other values, replaced (`Overwrite`).
    pub overwritten: u64,
    /// In the target with other values, left alone (`KeepExisting`).
    pub kept: u64,
    /// In the target with other values, refused (`Strict`).
    pub conflicting: u64,
}

/// A row the target holds differently (or a uniqueness rule the row would break).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowConflict {
    pub table: String,
    /// The row's id (types: the name).
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportReport {
    pub projects: TableCounts,
    pub worktree_types: TableCounts,
    pub worktrees: TableCounts,
    pub activities: TableCounts,
    pub conflicts: Vec<RowConflict>,
    /// Row counts after the write equal the counts before plus what was inserted.
    pub verified: bool,
    pub dry_run: bool,
    /// Timestamps finer than registries keep (microseconds) were truncated, e.g. the
    /// legacy file's nanoseconds; `false` when nothing was lost.
    pub timestamps_truncated: bool,
}

impl ImportReport {
    pub fn total_inserted(&self) -> u64 {
        self.projects.inserted
            + self.worktree_types.inserted
            + self.worktrees.inserted
            + self.activities.inserted
    }
}

impl RegistrySnapshot {
    /// Checks what a store cannot check row by row: the format and version, unique
    /// ids, and derived values. References to rows outside the snapshot are checked
    /// by the store against its own rows.
    pub fn validate(&self) -> Result<()> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(Error::validation(format!(
                "not an imi registry document (format {:?}, expected {SNAPSHOT_FORMAT:?})",
                self.format
            ))
            .with_hint("give a file written by `imi db export`"));
        }
        if self.version != SNAPSHOT_VERSION {
            return Err(Error::validation(format!(
                "registry document version {} is not supported (this imi reads version {SNAPSHOT_VERSION})",
                self.version
            ))
            .with_hint("export it again with this imi, or upgrade imi"));
        }
        fn unique<I: std::hash::Hash + Eq + std::fmt::Display>(
            table: &str,
            ids: impl Iterator<Item = I>,
        ) -> Result<()> {
            let mut seen = HashSet::new();
            for id in ids {
                if let Some(dup) = seen.replace(id) {
                    return Err(Error::validation(format!(
                        "the document lists {table} {dup} twice"
                    ))
                    .with_hint("fix or re-export the document; nothing was written"));
                }
            }
            Ok(())
        }
        unique("project", self.projects.iter().map(|p| p.id))?;
        unique(
            "worktree type",
            self.worktree_types.iter().map(|t| t.name.clone()),
        )?;
        unique("worktree", self.worktrees.iter().map(|w| w.id))?;
        unique("activity", self.activities.iter().map(|a| a.id))?;
        for p in &self.projects {
            validate_project_row(p)?;
        }
        for t in &self.worktree_types {
            validate_type_row(t)?;
        }
        for w in &self.worktrees {
            validate_worktree_row(w)?;
        }
        for a in &self.activities {
            validate_activity_row(a)?;
        }
        Ok(())
    }

    /// The snapshot at the registries' timestamp precision ([`registry_time`]);
    /// whether anything changed.
    pub fn at_registry_precision(&self) -> (RegistrySnapshot, bool) {
        let mut s = self.clone();
        let mut changed = false;
        let mut fix = |t: &mut DateTime<Utc>| {
            let n = registry_time(*t);
            if n != *t {
                changed = true;
                *t = n;
            }
        };
        for r in &mut s.projects {
            fix(&mut r.created_at);
            fix(&mut r.updated_at);
        }
        for r in &mut s.worktree_types {
            fix(&mut r.created_at);
        }
        for r in &mut s.worktrees {
            fix(&mut r.created_at);
            fix(&mut r.updated_at);
            if let Some(t) = &mut r.last_sync_at {
                fix(t);
            }
            if let Some(t) = &mut r.merged_at {
                fix(t);
            }
            // derived, whatever the document says
            r.has_uncommitted_changes = r.uncommitted_files_count > 0;
        }
        for r in &mut s.activities {
            fix(&mut r.created_at);
        }
        (s, changed)
    }

    /// Rows in a stable order (types by id, everything else by id).
    pub fn sort(&mut self) {
        self.projects.sort_by_key(|r| r.id);
        self.worktree_types.sort_by_key(|r| r.id);
        self.worktrees.sort_by_key(|r| r.id);
        self.activities.sort_by_key(|r| r.id);
    }
}

fn in_row(table: &str, id: impl std::fmt::Display, e: Error) -> Error {
    let hint = e
        .hint
        .clone()
        .unwrap_or_else(|| "fix the document; nothing was written".into());
    Error::new(
        e.kind,
        format!("{table} {id} in the document: {}", e.message),
    )
    .with_hint(hint)
}

/// The input rules of [`crate::Store::register_project`], for a project row that
/// enters by import (the same rules whatever the door).
pub fn validate_project_row(p: &Project) -> Result<()> {
    use crate::naming;
    let check = || -> Result<()> {
        naming::validate_project_name(&p.name)?;
        naming::require_non_empty("origin key", &p.origin_key)?;
        naming::validate_branch_name("default branch", &p.default_branch)?;
        crate::model::check_path("trunk path", &p.trunk_path)?;
        if let Some(d) = &p.description {
            naming::check_len("description", d, naming::MAX_TEXT_BYTES)?;
        }
        crate::metadata::check_limits("project metadata", &p.metadata)
    };
    check().map_err(|e| in_row("project", p.id, e))
}

/// A worktree row that enters by import: the rules of `register_worktree`.
pub fn validate_worktree_row(w: &Worktree) -> Result<()> {
    use crate::naming;
    let check = || -> Result<()> {
        naming::validate_worktree_name(&w.name)?;
        naming::validate_branch_name("branch name", &w.branch_name)?;
        crate::model::check_path("worktree path", &w.path)?;
        crate::model::check_id("host", &w.host)?;
        if let Some(a) = &w.agent_id {
            crate::model::check_id("agent id", a)?;
        }
        for (what, n) in [
            ("uncommitted count", w.uncommitted_files_count),
            ("ahead count", w.ahead_of_trunk),
            ("behind count", w.behind_trunk),
        ] {
            naming::validate_count(what, Some(n))?;
        }
        crate::metadata::check_limits("worktree metadata", &w.metadata)
    };
    check().map_err(|e| in_row("worktree", w.id, e))
}

/// A worktree type that enters by import: its prefixes follow `imi types add`'s
/// rules (the built-in `trunk` keeps its `trunk-`).
pub fn validate_type_row(t: &WorktreeType) -> Result<()> {
    use crate::naming;
    let check = || -> Result<()> {
        naming::require_non_empty("type name", &t.name)?;
        naming::check_len("type name", &t.name, 32)?;
        naming::validate_prefix("branch prefix", &t.branch_prefix, true)?;
        if t.name == "trunk" && t.is_builtin {
            naming::validate_prefix("worktree prefix", &t.worktree_prefix, false)?;
        } else {
            naming::validate_custom_worktree_prefix(&t.worktree_prefix)?;
        }
        crate::metadata::check_limits("type metadata", &t.metadata)
    };
    check().map_err(|e| in_row("worktree type", &t.name, e))
}

/// An activity that enters by import. Its project and worktree names are history
/// (kept as they were, never turned into paths), so only their length is bounded.
pub fn validate_activity_row(a: &Activity) -> Result<()> {
    use crate::naming;
    let check = || -> Result<()> {
        crate::model::check_id("agent id", &a.agent_id)?;
        naming::validate_activity_type(&a.activity_type)?;
        for (what, v) in [
            ("project name", &a.project_name),
            ("worktree name", &a.worktree_name),
        ] {
            if let Some(v) = v {
                naming::check_len(what, v, naming::MAX_TEXT_BYTES)?;
            }
        }
        if let Some(d) = &a.description {
            naming::check_len("description", d, naming::MAX_TEXT_BYTES)?;
        }
        if let Some(f) = &a.file_path {
            naming::check_len("file path", f, crate::model::MAX_PATH_BYTES)?;
        }
        crate::metadata::check_limits("activity metadata", &a.metadata)
    };
    check().map_err(|e| in_row("activity", a.id, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    #[test]
    fn precision_truncates_and_reports() {
        let t = DateTime::parse_from_rfc3339("2025-12-30T14:15:09.470006187+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            registry_time(t).to_rfc3339(),
            "2025-12-30T14:15:09.470006+00:00"
        );
        let mut s = RegistrySnapshot::default();
        s.activities.push(crate::model::Activity {
            id: Uuid::nil(),
            agent_id: "a".into(),
            worktree_id: None,
            project_id: None,
            project_name: None,
            worktree_name: None,
            activity_type: "other".into(),
            file_path: None,
            description: None,
            metadata: Default::default(),
            created_at: t,
        });
        let (at, truncated) = s.at_registry_precision();
        assert!(truncated);
        assert_eq!(at.activities[0].created_at, registry_time(t));
        let (again, truncated) = at.at_registry_precision();
        assert!(!truncated, "microseconds are kept as they are");
        assert_eq!(again, at);
    }

    #[test]
    fn validate_refuses_foreign_documents_and_duplicates() {
        let mut s = RegistrySnapshot::default();
        assert!(s.validate().is_ok());
        s.format = "other".into();
        assert_eq!(s.validate().unwrap_err().code(), "VALIDATION_ERROR");
        let mut s = RegistrySnapshot {
            version: 99,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().message.contains("99"));
        s.version = SNAPSHOT_VERSION;
        assert!(s.validate().is_ok());
    }
}
