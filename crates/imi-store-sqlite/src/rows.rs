//! Column lists and row decoding. UUIDs are TEXT, timestamps TEXT
//! `%Y-%m-%dT%H:%M:%S.ffffffZ` (UTC, microseconds), metadata JSON TEXT, booleans INTEGER.

use chrono::{DateTime, Utc};
use imi_core::columns::{Params, ToParams};
use imi_core::{
    Activity, Columns, Days, Error, FromColumns, InflightWork, Metadata, Project, Result,
    WorkStatus, Worktree, WorktreeType,
};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Decode, Row, Sqlite, Type};
use uuid::Uuid;

use crate::error::db_err;
use crate::id_text;

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

/// `now - days` in the stored form, for the retention cut-offs.
pub(crate) fn days_ago_text(days: Days) -> String {
    ts_text(days.before(Utc::now()))
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

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| Error::internal(format!("registry holds an invalid timestamp {s:?}")))
}

/// Stored metadata as read back: never fails on depth (imi_core::metadata::decode_stored).
pub(crate) fn parse_meta(s: &str) -> Result<Metadata> {
    Ok(imi_core::metadata::decode_stored(s)?.doc)
}

/// A row read through [`Columns`]: ids and times are TEXT here.
struct Cols<'r>(&'r SqliteRow);

impl Columns for Cols<'_> {
    fn text(&self, col: &str) -> Result<String> {
        get(self.0, col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        get(self.0, col)
    }
    fn int(&self, col: &str) -> Result<i32> {
        get(self.0, col)
    }
    fn count(&self, col: &str) -> Result<i64> {
        get(self.0, col)
    }
    fn opt_count(&self, col: &str) -> Result<Option<i64>> {
        get(self.0, col)
    }
    fn flag(&self, col: &str) -> Result<bool> {
        get(self.0, col)
    }
    fn uuid(&self, col: &str) -> Result<Uuid> {
        parse_uuid(get::<&str>(self.0, col)?)
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        get::<Option<&str>>(self.0, col)?
            .map(parse_uuid)
            .transpose()
    }
    fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        parse_ts(get::<&str>(self.0, col)?)
    }
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        get::<Option<&str>>(self.0, col)?.map(parse_ts).transpose()
    }
    fn metadata(&self, col: &str) -> Result<Metadata> {
        parse_meta(get::<&str>(self.0, col)?)
    }
}

/// The record of type `T` in `row`.
pub(crate) fn read<T: FromColumns>(row: &SqliteRow) -> Result<T> {
    T::from_columns(&Cols(row))
}

// The snapshot import reads records by these names.
pub(crate) fn project(row: &SqliteRow) -> Result<Project> {
    read(row)
}
pub(crate) fn worktree(row: &SqliteRow) -> Result<Worktree> {
    read(row)
}
pub(crate) fn worktree_type(row: &SqliteRow) -> Result<WorktreeType> {
    read(row)
}
pub(crate) fn activity(row: &SqliteRow) -> Result<Activity> {
    read(row)
}

pub(crate) fn meta_text(m: &Metadata) -> String {
    imi_core::metadata::to_text(m)
}

/// A statement's parameters bound in the stored forms: ids and times as TEXT,
/// metadata as JSON TEXT, booleans as INTEGER.
struct Bind<'a>(Query<'a, Sqlite, SqliteArguments<'a>>);

impl<'a> Params<'a> for Bind<'a> {
    fn text(self, v: &'a str) -> Self {
        Bind(self.0.bind(v))
    }
    fn opt_text(self, v: Option<&'a str>) -> Self {
        Bind(self.0.bind(v))
    }
    fn int(self, v: i32) -> Self {
        Bind(self.0.bind(v))
    }
    fn count(self, v: i64) -> Self {
        Bind(self.0.bind(v))
    }
    fn opt_count(self, v: Option<i64>) -> Self {
        Bind(self.0.bind(v))
    }
    fn flag(self, v: bool) -> Self {
        Bind(self.0.bind(v))
    }
    fn uuid(self, v: Uuid) -> Self {
        Bind(self.0.bind(id_text(v)))
    }
    fn opt_uuid(self, v: Option<Uuid>) -> Self {
        Bind(self.0.bind(v.map(id_text)))
    }
    fn time(self, v: DateTime<Utc>) -> Self {
        Bind(self.0.bind(ts_text(v)))
    }
    fn opt_time(self, v: Option<DateTime<Utc>>) -> Self {
        Bind(self.0.bind(v.map(ts_text)))
    }
    fn metadata(self, v: &'a Metadata) -> Self {
        Bind(self.0.bind(meta_text(v)))
    }
}

/// `.values(row)`: binds the values of a record ([`ToParams`]) in their order.
pub(crate) trait BindValues<'a> {
    fn values<R: ToParams + ?Sized>(self, row: &'a R) -> Self;
}

impl<'a> BindValues<'a> for Query<'a, Sqlite, SqliteArguments<'a>> {
    fn values<R: ToParams + ?Sized>(self, row: &'a R) -> Self {
        row.to_params(Bind(self)).0
    }
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
