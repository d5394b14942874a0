//! Column lists and row decoding. UUIDs are TEXT, timestamps TEXT
//! `%Y-%m-%dT%H:%M:%S.ffffffZ` (UTC, microseconds), metadata JSON TEXT, booleans INTEGER.

use chrono::{DateTime, Utc};
use imi_core::{
    Activity, Error, InflightWork, Metadata, Project, Result, WorkStatus, Worktree, WorktreeType,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};
use uuid::Uuid;

use crate::error::db_err;

macro_rules! project_cols {
    () => {
        "id, name, remote_origin, origin_key, default_branch, trunk_path, description, \
         metadata, created_at, updated_at, active"
    };
}

/// Worktree columns; `type_name` by primary-key subquery so that the same list works
/// in `SELECT ... FROM worktrees` and in `RETURNING`.
macro_rules! worktree_cols {
    () => {
        "id, project_id, \
         (SELECT t.name FROM worktree_types t WHERE t.id = type_id) AS type_name, \
         name, branch_name, path, host, agent_id, has_uncommitted_changes, \
         uncommitted_files_count, ahead_of_trunk, behind_trunk, last_commit_hash, \
         last_commit_message, last_sync_at, merged_at, merged_by, merge_commit_hash, \
         metadata, created_at, updated_at, active"
    };
}

macro_rules! type_cols {
    () => {
        "id, name, branch_prefix, worktree_prefix, description, is_builtin, color, icon, \
         metadata, created_at"
    };
}

macro_rules! activity_cols {
    () => {
        "id, agent_id, worktree_id, project_id, project_name, worktree_name, activity_type, \
         file_path, description, metadata, created_at"
    };
}

/// The in-flight predicate of SPEC §3.3, verbatim as in the partial index
/// `worktrees_inflight` (SQLite only uses the index when the terms match).
macro_rules! inflight_pred {
    ($p:literal) => {
        concat!(
            $p,
            "active = 1 AND ",
            $p,
            "merged_at IS NULL AND (",
            $p,
            "uncommitted_files_count > 0 OR ",
            $p,
            "ahead_of_trunk > 0 OR ",
            $p,
            "behind_trunk > 0)"
        )
    };
}

pub(crate) use {activity_cols, inflight_pred, project_cols, type_cols, worktree_cols};

/// A timestamp in the stored form: UTC to the microsecond, always six fraction
/// digits (`2026-01-02T03:04:05.123456Z`), so the fixed-width text sorts
/// chronologically and holds exactly what PostgreSQL's `timestamptz` holds. Finer
/// digits are truncated.
pub(crate) fn ts_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// "Now" for imi's own writes, from the Rust clock: SQLite's clock (`'now'`) has
/// milliseconds only. One value per operation, bound as a parameter, so that the
/// columns one operation stamps agree (PostgreSQL's `now()` is the transaction's).
pub(crate) fn now_text() -> String {
    ts_text(Utc::now())
}

/// `now - days` in the stored form, for the retention cut-offs. `days` is validated
/// to 0..=36500 (`naming::validate_days`), so the subtraction stays far inside
/// chrono's range (which ends 262 000 years away) and cannot panic.
pub(crate) fn days_ago_text(days: i32) -> String {
    ts_text(Utc::now() - chrono::TimeDelta::days(i64::from(days)))
}

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(col).map_err(db_err)
}

pub(crate) fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| Error::internal(format!("registry holds an invalid id {s:?}")))
}

fn uuid(row: &SqliteRow, col: &str) -> Result<Uuid> {
    parse_uuid(get::<&str>(row, col)?)
}

fn opt_uuid(row: &SqliteRow, col: &str) -> Result<Option<Uuid>> {
    get::<Option<&str>>(row, col)?.map(parse_uuid).transpose()
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| Error::internal(format!("registry holds an invalid timestamp {s:?}")))
}

fn ts(row: &SqliteRow, col: &str) -> Result<DateTime<Utc>> {
    parse_ts(get::<&str>(row, col)?)
}

fn opt_ts(row: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    get::<Option<&str>>(row, col)?.map(parse_ts).transpose()
}

/// Stored metadata as read back: never fails on depth (imi_core::metadata::decode_stored).
pub(crate) fn parse_meta(s: &str) -> Result<Metadata> {
    Ok(imi_core::metadata::decode_stored(s)?.doc)
}

fn meta(row: &SqliteRow, col: &str) -> Result<Metadata> {
    parse_meta(get::<&str>(row, col)?)
}

pub(crate) fn meta_text(m: &Metadata) -> String {
    // Serialising a map of `Value`s cannot fail (string keys, no custom Serialize).
    serde_json::to_string(m).unwrap_or_else(|_| "{}".to_string())
}

pub(crate) fn project(row: &SqliteRow) -> Result<Project> {
    Ok(Project {
        id: uuid(row, "id")?,
        name: get(row, "name")?,
        remote_origin: get(row, "remote_origin")?,
        origin_key: get(row, "origin_key")?,
        default_branch: get(row, "default_branch")?,
        trunk_path: get(row, "trunk_path")?,
        description: get(row, "description")?,
        metadata: meta(row, "metadata")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        active: get(row, "active")?,
    })
}

pub(crate) fn worktree(row: &SqliteRow) -> Result<Worktree> {
    Ok(Worktree {
        id: uuid(row, "id")?,
        project_id: uuid(row, "project_id")?,
        type_name: get(row, "type_name")?,
        name: get(row, "name")?,
        branch_name: get(row, "branch_name")?,
        path: get(row, "path")?,
        host: get(row, "host")?,
        agent_id: get(row, "agent_id")?,
        has_uncommitted_changes: get(row, "has_uncommitted_changes")?,
        uncommitted_files_count: get(row, "uncommitted_files_count")?,
        ahead_of_trunk: get(row, "ahead_of_trunk")?,
        behind_trunk: get(row, "behind_trunk")?,
        last_commit_hash: get(row, "last_commit_hash")?,
        last_commit_message: get(row, "last_commit_message")?,
        last_sync_at: opt_ts(row, "last_sync_at")?,
        merged_at: opt_ts(row, "merged_at")?,
        merged_by: get(row, "merged_by")?,
        merge_commit_hash: get(row, "merge_commit_hash")?,
        metadata: meta(row, "metadata")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        active: get(row, "active")?,
    })
}

pub(crate) fn worktree_type(row: &SqliteRow) -> Result<WorktreeType> {
    Ok(WorktreeType {
        id: get(row, "id")?,
        name: get(row, "name")?,
        branch_prefix: get(row, "branch_prefix")?,
        worktree_prefix: get(row, "worktree_prefix")?,
        description: get(row, "description")?,
        is_builtin: get(row, "is_builtin")?,
        color: get(row, "color")?,
        icon: get(row, "icon")?,
        metadata: meta(row, "metadata")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) fn activity(row: &SqliteRow) -> Result<Activity> {
    Ok(Activity {
        id: uuid(row, "id")?,
        agent_id: get(row, "agent_id")?,
        worktree_id: opt_uuid(row, "worktree_id")?,
        project_id: opt_uuid(row, "project_id")?,
        project_name: get(row, "project_name")?,
        worktree_name: get(row, "worktree_name")?,
        activity_type: get(row, "activity_type")?,
        file_path: get(row, "file_path")?,
        description: get(row, "description")?,
        metadata: meta(row, "metadata")?,
        created_at: ts(row, "created_at")?,
    })
}

type InflightTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i32,
    i32,
    i32,
    Option<String>,
    Option<String>,
    String,
);

/// Decodes the JSON array of in-flight rows built by `Store::inflight`.
pub(crate) fn inflight_json(text: &str) -> Result<Vec<InflightWork>> {
    let mut tuples: Vec<InflightTuple> = serde_json::from_str(text)
        .map_err(|e| Error::internal(format!("registry returned malformed in-flight rows: {e}")))?;
    // updated_at desc, then id: both TEXT compared bytewise as SQLite's BINARY collation.
    tuples.sort_unstable_by(|a, b| b.12.cmp(&a.12).then_with(|| a.0.cmp(&b.0)));
    tuples
        .into_iter()
        .map(
            |(
                id,
                project_id,
                project_name,
                name,
                branch,
                path,
                host,
                u,
                a,
                b,
                agent,
                sync,
                upd,
            )| {
                Ok(InflightWork {
                    worktree_id: parse_uuid(&id)?,
                    project_id: parse_uuid(&project_id)?,
                    project_name,
                    worktree_name: name,
                    branch_name: branch,
                    path,
                    host,
                    status: WorkStatus::of(u, a, b),
                    uncommitted_count: u,
                    ahead: a,
                    behind: b,
                    agent_id: agent,
                    last_sync_at: sync.as_deref().map(parse_ts).transpose()?,
                    last_activity: parse_ts(&upd)?,
                })
            },
        )
        .collect()
}
