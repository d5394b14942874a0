//! Rows to domain records. Columns are read by name, so `SELECT *` and the
//! row-returning `imi_*` functions map the same way.

use chrono::{DateTime, Utc};
use imi_core::columns::{Params, ToParams};
use imi_core::{
    Activity, Columns, Error, FromColumns, InflightWork, Metadata, Project, Result, WorkStatus,
    Worktree, WorktreeType,
};
use serde_json::value::RawValue;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{Decode, Postgres, Row, Type};
use uuid::Uuid;

fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(col)
        .map_err(|e| Error::internal(format!("reading column {col}: {e}")))
}

/// A row read through [`Columns`]: every column decodes to its Rust type directly.
struct Cols<'r>(&'r PgRow);

/// `fn name(&self, col) -> Result<T> { get(row, col) }` for each `name -> T`.
macro_rules! decoded {
    ($($name:ident -> $t:ty),* $(,)?) => {
        $(fn $name(&self, col: &str) -> Result<$t> {
            get(self.0, col)
        })*
    };
}

impl Columns for Cols<'_> {
    decoded!(
        text -> String,
        opt_text -> Option<String>,
        int -> i32,
        count -> i64,
        opt_count -> Option<i64>,
        flag -> bool,
        uuid -> Uuid,
        opt_uuid -> Option<Uuid>,
        time -> DateTime<Utc>,
        opt_time -> Option<DateTime<Utc>>,
    );

    /// The raw jsonb text, parsed without ever failing on depth.
    fn metadata(&self, col: &str) -> Result<Metadata> {
        let Json(raw): Json<Box<RawValue>> = get(self.0, col)?;
        Ok(imi_core::metadata::decode_stored(raw.get())?.doc)
    }
}

/// The record of type `T` in `row` (`SELECT *` and the row-returning `imi_*`
/// functions alike; a worktree also needs a `type_name` column).
pub(crate) fn read<T: FromColumns>(row: &PgRow) -> Result<T> {
    T::from_columns(&Cols(row))
}

/// `rows::project` and the like, by which the snapshot import reads records.
macro_rules! readers {
    ($($name:ident: $t:ty),*) => {
        $(pub(crate) fn $name(row: &PgRow) -> Result<$t> {
            read(row)
        })*
    };
}
readers!(project: Project, worktree: Worktree, worktree_type: WorktreeType, activity: Activity);

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

/// Metadata as JSON text, for a parameter the statement casts to `jsonb`.
pub(crate) fn meta_text(m: &Metadata) -> String {
    // Serialising a map of `Value`s cannot fail (string keys, no custom Serialize).
    serde_json::to_string(m).unwrap_or_else(|_| "{}".to_string())
}

/// A statement's parameters as their own types (`uuid`, `timestamptz`); metadata
/// as JSON text that the statement casts to `jsonb`.
struct Bind<'a>(Query<'a, Postgres, PgArguments>);

/// `fn name(self, v: T) -> Self` binding `v` as it is, for each `name: T`.
macro_rules! bound {
    ($($name:ident: $t:ty),* $(,)?) => {
        $(fn $name(self, v: $t) -> Self {
            Bind(self.0.bind(v))
        })*
    };
}

impl<'a> Params<'a> for Bind<'a> {
    bound!(
        text: &'a str,
        opt_text: Option<&'a str>,
        int: i32,
        count: i64,
        opt_count: Option<i64>,
        flag: bool,
        uuid: Uuid,
        opt_uuid: Option<Uuid>,
        time: DateTime<Utc>,
        opt_time: Option<DateTime<Utc>>,
    );

    fn metadata(self, v: &'a Metadata) -> Self {
        Bind(self.0.bind(meta_text(v)))
    }
}

/// `.values(row)`: binds the values of a record ([`ToParams`]) in their order.
pub(crate) trait BindValues<'a> {
    fn values<R: ToParams + ?Sized>(self, row: &'a R) -> Self;
}

impl<'a> BindValues<'a> for Query<'a, Postgres, PgArguments> {
    fn values<R: ToParams + ?Sized>(self, row: &'a R) -> Self {
        row.to_params(Bind(self)).0
    }
}
