//! Rows to domain records. Columns are read by name, so `SELECT *` and the
//! row-returning `imi_*` functions map the same way.

use imi_core::{
    Activity, Error, InflightWork, Metadata, Project, RegistryStats, Result, WorkStatus, Worktree,
    WorktreeType,
};
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Decode, Postgres, Row, Type};

fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(col)
        .map_err(|e| Error::internal(format!("reading column {col}: {e}")))
}

/// Stored metadata as read back: the raw text, parsed without ever failing on depth
/// (imi_core::metadata::decode_stored).
fn metadata(row: &PgRow) -> Result<Metadata> {
    let Json(raw): Json<Box<RawValue>> = get(row, "metadata")?;
    Ok(imi_core::metadata::decode_stored(raw.get())?.doc)
}

pub(crate) fn project(row: &PgRow) -> Result<Project> {
    Ok(Project {
        id: get(row, "id")?,
        name: get(row, "name")?,
        remote_origin: get(row, "remote_origin")?,
        origin_key: get(row, "origin_key")?,
        default_branch: get(row, "default_branch")?,
        trunk_path: get(row, "trunk_path")?,
        description: get(row, "description")?,
        metadata: metadata(row)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        active: get(row, "active")?,
    })
}

/// A `worktrees` row plus a `type_name` column.
pub(crate) fn worktree(row: &PgRow) -> Result<Worktree> {
    Ok(Worktree {
        id: get(row, "id")?,
        project_id: get(row, "project_id")?,
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
        last_sync_at: get(row, "last_sync_at")?,
        merged_at: get(row, "merged_at")?,
        merged_by: get(row, "merged_by")?,
        merge_commit_hash: get(row, "merge_commit_hash")?,
        metadata: metadata(row)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        active: get(row, "active")?,
    })
}

pub(crate) fn worktree_type(row: &PgRow) -> Result<WorktreeType> {
    Ok(WorktreeType {
        id: get(row, "id")?,
        name: get(row, "name")?,
        branch_prefix: get(row, "branch_prefix")?,
        worktree_prefix: get(row, "worktree_prefix")?,
        description: get(row, "description")?,
        is_builtin: get(row, "is_builtin")?,
        color: get(row, "color")?,
        icon: get(row, "icon")?,
        metadata: metadata(row)?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn activity(row: &PgRow) -> Result<Activity> {
    Ok(Activity {
        id: get(row, "id")?,
        agent_id: get(row, "agent_id")?,
        worktree_id: get(row, "worktree_id")?,
        project_id: get(row, "project_id")?,
        project_name: get(row, "project_name")?,
        worktree_name: get(row, "worktree_name")?,
        activity_type: get(row, "activity_type")?,
        file_path: get(row, "file_path")?,
        description: get(row, "description")?,
        metadata: metadata(row)?,
        created_at: get(row, "created_at")?,
    })
}

/// A `v_inflight_work` row.
pub(crate) fn inflight(row: &PgRow) -> Result<InflightWork> {
    let status: String = get(row, "status")?;
    Ok(InflightWork {
        worktree_id: get(row, "worktree_id")?,
        project_id: get(row, "project_id")?,
        project_name: get(row, "project_name")?,
        worktree_name: get(row, "worktree_name")?,
        branch_name: get(row, "branch_name")?,
        path: get(row, "path")?,
        host: get(row, "host")?,
        status: WorkStatus::parse(&status)?,
        uncommitted_count: get(row, "uncommitted_files_count")?,
        ahead: get(row, "ahead_of_trunk")?,
        behind: get(row, "behind_trunk")?,
        agent_id: get(row, "agent_id")?,
        last_sync_at: get(row, "last_sync_at")?,
        last_activity: get(row, "updated_at")?,
    })
}

/// A `get_registry_stats()` row.
pub(crate) fn stats(row: &PgRow) -> Result<RegistryStats> {
    Ok(RegistryStats {
        total_projects: get(row, "total_projects")?,
        active_projects: get(row, "active_projects")?,
        total_worktrees: get(row, "total_worktrees")?,
        active_worktrees: get(row, "active_worktrees")?,
        in_flight_worktrees: get(row, "in_flight_worktrees")?,
        total_activities: get(row, "total_activities")?,
        activities_last_24h: get(row, "activities_last_24h")?,
    })
}
