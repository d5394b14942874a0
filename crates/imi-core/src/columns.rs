//! Records from result rows, and records as the parameters of a write. A backend
//! says how it reads one column of its rows ([`Columns`]: SQLite keeps ids and
//! times as text, PostgreSQL as `uuid` and `timestamptz`) and how it binds one
//! parameter ([`Params`]); which columns make a record, and which values a write
//! binds in which order ([`ToParams`]), is written once, here, with the column
//! names of SPEC §3.1.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::*;

/// A record read from one row by the columns it names.
pub trait FromColumns: Sized {
    fn from_columns(r: &impl Columns) -> Result<Self>;
}

/// One result row of a backend, read column by column (by name).
pub trait Columns {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i32>;
    fn count(&self, col: &str) -> Result<i64>;
    fn opt_count(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;
    fn uuid(&self, col: &str) -> Result<Uuid>;
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>>;
    fn time(&self, col: &str) -> Result<DateTime<Utc>>;
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>>;
    /// A stored metadata object, read without ever failing on depth
    /// ([`crate::metadata::decode_stored`]).
    fn metadata(&self, col: &str) -> Result<Metadata>;
}

impl FromColumns for Project {
    fn from_columns(r: &impl Columns) -> Result<Project> {
        Ok(Project {
            id: r.uuid("id")?,
            name: r.text("name")?,
            remote_origin: r.opt_text("remote_origin")?,
            origin_key: r.text("origin_key")?,
            default_branch: r.text("default_branch")?,
            trunk_path: r.text("trunk_path")?,
            description: r.opt_text("description")?,
            metadata: r.metadata("metadata")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
            active: r.flag("active")?,
        })
    }
}

impl FromColumns for Worktree {
    /// A `worktrees` row plus a `type_name` column.
    fn from_columns(r: &impl Columns) -> Result<Worktree> {
        Ok(Worktree {
            id: r.uuid("id")?,
            project_id: r.uuid("project_id")?,
            type_name: r.text("type_name")?,
            name: r.text("name")?,
            branch_name: r.text("branch_name")?,
            path: r.text("path")?,
            host: r.text("host")?,
            agent_id: r.opt_text("agent_id")?,
            has_uncommitted_changes: r.flag("has_uncommitted_changes")?,
            uncommitted_files_count: r.int("uncommitted_files_count")?,
            ahead_of_trunk: r.int("ahead_of_trunk")?,
            behind_trunk: r.int("behind_trunk")?,
            last_commit_hash: r.opt_text("last_commit_hash")?,
            last_commit_message: r.opt_text("last_commit_message")?,
            last_sync_at: r.opt_time("last_sync_at")?,
            merged_at: r.opt_time("merged_at")?,
            merged_by: r.opt_text("merged_by")?,
            merge_commit_hash: r.opt_text("merge_commit_hash")?,
            metadata: r.metadata("metadata")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
            active: r.flag("active")?,
        })
    }
}

impl FromColumns for WorktreeType {
    fn from_columns(r: &impl Columns) -> Result<WorktreeType> {
        Ok(WorktreeType {
            id: r.int("id")?,
            name: r.text("name")?,
            branch_prefix: r.text("branch_prefix")?,
            worktree_prefix: r.text("worktree_prefix")?,
            description: r.opt_text("description")?,
            is_builtin: r.flag("is_builtin")?,
            color: r.opt_text("color")?,
            icon: r.opt_text("icon")?,
            metadata: r.metadata("metadata")?,
            created_at: r.time("created_at")?,
        })
    }
}

impl FromColumns for Activity {
    fn from_columns(r: &impl Columns) -> Result<Activity> {
        Ok(Activity {
            id: r.uuid("id")?,
            agent_id: r.text("agent_id")?,
            worktree_id: r.opt_uuid("worktree_id")?,
            project_id: r.opt_uuid("project_id")?,
            project_name: r.opt_text("project_name")?,
            worktree_name: r.opt_text("worktree_name")?,
            activity_type: r.text("activity_type")?,
            file_path: r.opt_text("file_path")?,
            description: r.opt_text("description")?,
            metadata: r.metadata("metadata")?,
            created_at: r.time("created_at")?,
        })
    }
}

impl FromColumns for RegistryStats {
    /// The row of `get_registry_stats()` (columns named after the fields).
    fn from_columns(r: &impl Columns) -> Result<RegistryStats> {
        Ok(RegistryStats {
            total_projects: r.count("total_projects")?,
            active_projects: r.count("active_projects")?,
            total_worktrees: r.count("total_worktrees")?,
            active_worktrees: r.count("active_worktrees")?,
            in_flight_worktrees: r.count("in_flight_worktrees")?,
            total_activities: r.count("total_activities")?,
            activities_last_24h: r.count("activities_last_24h")?,
        })
    }
}

/// One statement of a backend taking its parameters in order, one value at a
/// time: the write-side twin of [`Columns`] (SQLite binds ids and times as text;
/// PostgreSQL as `uuid` and `timestamptz`; both bind metadata as JSON text).
pub trait Params<'a>: Sized {
    fn text(self, v: &'a str) -> Self;
    fn opt_text(self, v: Option<&'a str>) -> Self;
    fn int(self, v: i32) -> Self;
    fn count(self, v: i64) -> Self;
    fn opt_count(self, v: Option<i64>) -> Self;
    fn flag(self, v: bool) -> Self;
    fn uuid(self, v: Uuid) -> Self;
    fn opt_uuid(self, v: Option<Uuid>) -> Self;
    fn time(self, v: DateTime<Utc>) -> Self;
    fn opt_time(self, v: Option<DateTime<Utc>>) -> Self;
    fn metadata(self, v: &'a Metadata) -> Self;
}

/// The values a write binds for a record, in the order of its columns; the
/// statement's SQL names the columns in the same order.
pub trait ToParams {
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P;
}

impl ToParams for Project {
    /// Every column but `id` (bound by the statement: first in an insert, last in
    /// an update): `name, remote_origin, origin_key, default_branch, trunk_path,
    /// description, metadata, created_at, updated_at, active`.
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P {
        p.text(&self.name)
            .opt_text(self.remote_origin.as_deref())
            .text(&self.origin_key)
            .text(&self.default_branch)
            .text(&self.trunk_path)
            .opt_text(self.description.as_deref())
            .metadata(&self.metadata)
            .time(self.created_at)
            .time(self.updated_at)
            .flag(self.active)
    }
}

impl ToParams for Worktree {
    /// Every stored column but `id` and `type_id` (the target's own number for
    /// `type_name`; both bound by the statement) and `has_uncommitted_changes`
    /// (`uncommitted_files_count > 0`): `project_id, name, branch_name, path,
    /// host, agent_id, uncommitted_files_count, ahead_of_trunk, behind_trunk,
    /// last_commit_hash, last_commit_message, last_sync_at, merged_at, merged_by,
    /// merge_commit_hash, metadata, created_at, updated_at, active`.
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P {
        p.uuid(self.project_id)
            .text(&self.name)
            .text(&self.branch_name)
            .text(&self.path)
            .text(&self.host)
            .opt_text(self.agent_id.as_deref())
            .int(self.uncommitted_files_count)
            .int(self.ahead_of_trunk)
            .int(self.behind_trunk)
            .opt_text(self.last_commit_hash.as_deref())
            .opt_text(self.last_commit_message.as_deref())
            .opt_time(self.last_sync_at)
            .opt_time(self.merged_at)
            .opt_text(self.merged_by.as_deref())
            .opt_text(self.merge_commit_hash.as_deref())
            .metadata(&self.metadata)
            .time(self.created_at)
            .time(self.updated_at)
            .flag(self.active)
    }
}

impl ToParams for WorktreeType {
    /// Every column but `id` (bound first by the statement): `name,
    /// branch_prefix, worktree_prefix, description, is_builtin, color, icon,
    /// metadata, created_at`.
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P {
        p.text(&self.name)
            .text(&self.branch_prefix)
            .text(&self.worktree_prefix)
            .opt_text(self.description.as_deref())
            .flag(self.is_builtin)
            .opt_text(self.color.as_deref())
            .opt_text(self.icon.as_deref())
            .metadata(&self.metadata)
            .time(self.created_at)
    }
}

impl ToParams for Activity {
    /// Every column but `id` (bound by the statement: first in an insert, last in
    /// an update): `agent_id, worktree_id, project_id, project_name,
    /// worktree_name, activity_type, file_path, description, metadata,
    /// created_at`.
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P {
        p.text(&self.agent_id)
            .opt_uuid(self.worktree_id)
            .opt_uuid(self.project_id)
            .opt_text(self.project_name.as_deref())
            .opt_text(self.worktree_name.as_deref())
            .text(&self.activity_type)
            .opt_text(self.file_path.as_deref())
            .opt_text(self.description.as_deref())
            .metadata(&self.metadata)
            .time(self.created_at)
    }
}
