//! The registry's records (what a store returns) and the inputs of its operations.
//! Field names follow the table columns of SPEC §3.1: they are part of the contract
//! and appear as-is in `--json` output.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{Error, Result};

/// A JSON object; metadata is always an object, never a scalar or an array.
pub type Metadata = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub remote_origin: Option<String>,
    pub origin_key: String,
    pub default_branch: String,
    pub trunk_path: String,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorktreeType {
    pub id: i32,
    pub name: String,
    pub branch_prefix: String,
    pub worktree_prefix: String,
    pub description: Option<String>,
    pub is_builtin: bool,
    pub color: Option<String>,
    pub icon: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Worktree {
    pub id: Uuid,
    pub project_id: Uuid,
    pub type_name: String,
    pub name: String,
    pub branch_name: String,
    pub path: String,
    pub host: String,
    pub agent_id: Option<String>,
    pub has_uncommitted_changes: bool,
    pub uncommitted_files_count: i32,
    pub ahead_of_trunk: i32,
    pub behind_trunk: i32,
    pub last_commit_hash: Option<String>,
    pub last_commit_message: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by: Option<String>,
    pub merge_commit_hash: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub active: bool,
}

impl Worktree {
    pub fn status(&self) -> WorkStatus {
        WorkStatus::of(
            self.uncommitted_files_count,
            self.ahead_of_trunk,
            self.behind_trunk,
        )
    }
}

/// The one definition of a worktree's in-flight status (SPEC §3.3). The SQL side
/// mirrors it in `imi_work_status()`; the conformance suite checks they agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WorkStatus {
    Uncommitted,
    Diverged,
    Ahead,
    Behind,
    Clean,
}

impl WorkStatus {
    pub fn of(uncommitted: i32, ahead: i32, behind: i32) -> Self {
        if uncommitted > 0 {
            WorkStatus::Uncommitted
        } else if ahead > 0 && behind > 0 {
            WorkStatus::Diverged
        } else if ahead > 0 {
            WorkStatus::Ahead
        } else if behind > 0 {
            WorkStatus::Behind
        } else {
            WorkStatus::Clean
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkStatus::Uncommitted => "uncommitted",
            WorkStatus::Diverged => "diverged",
            WorkStatus::Ahead => "ahead",
            WorkStatus::Behind => "behind",
            WorkStatus::Clean => "clean",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "uncommitted" => WorkStatus::Uncommitted,
            "diverged" => WorkStatus::Diverged,
            "ahead" => WorkStatus::Ahead,
            "behind" => WorkStatus::Behind,
            "clean" => WorkStatus::Clean,
            other => return Err(Error::internal(format!("unknown work status {other:?}"))),
        })
    }
}

/// The activity types the audit log accepts (SPEC §3.1).
pub const ACTIVITY_TYPES: &[&str] = &[
    "created",
    "modified",
    "deleted",
    "committed",
    "pushed",
    "merged",
    "synced",
    "claimed",
    "released",
    "removed",
    "other",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Activity {
    pub id: Uuid,
    pub agent_id: String,
    /// `None` once the worktree row itself has been pruned; the names below keep the
    /// entry readable.
    pub worktree_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub project_name: Option<String>,
    pub worktree_name: Option<String>,
    pub activity_type: String,
    pub file_path: Option<String>,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
}

/// One row of in-flight work (SPEC §3.3), as `get_inflight_work()` returns it, plus
/// the project it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InflightWork {
    pub worktree_id: Uuid,
    pub project_id: Uuid,
    pub project_name: String,
    pub worktree_name: String,
    pub branch_name: String,
    pub path: String,
    pub host: String,
    pub status: WorkStatus,
    pub uncommitted_count: i32,
    pub ahead: i32,
    pub behind: i32,
    pub agent_id: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_activity: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryStats {
    pub total_projects: i64,
    pub active_projects: i64,
    pub total_worktrees: i64,
    pub active_worktrees: i64,
    pub in_flight_worktrees: i64,
    pub total_activities: i64,
    pub activities_last_24h: i64,
}

/// Input of [`crate::Store::register_project`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProject {
    /// The id to give the project if this registration creates it and no project has
    /// that id yet (`imi init` passes the one of `.iMi/project.json`, so a registry
    /// that does not know the project yet keeps its UUID). Ignored when the identity
    /// is already registered: the registry's id stands.
    pub id: Option<Uuid>,
    pub name: String,
    /// The remote as the user gave it; credentials are stripped before storing.
    /// `None` registers the project by its trunk path.
    pub remote_origin: Option<String>,
    /// `None` keeps an existing project's branch (or `main` for a new one).
    pub default_branch: Option<String>,
    pub trunk_path: String,
    pub description: Option<String>,
    pub metadata: Metadata,
}

impl NewProject {
    /// Checks the input and returns the project's identity: its canonical key and
    /// the remote as stored (credentials stripped). Both backends register through
    /// this, so identity has one definition.
    pub fn identity(&self) -> Result<(String, Option<String>)> {
        use crate::naming;
        naming::validate_project_name(&self.name)?;
        check_path("trunk path", &self.trunk_path)?;
        if let Some(b) = &self.default_branch {
            naming::validate_branch_name("default branch", b)?;
        }
        if let Some(d) = &self.description {
            naming::check_len("description", d, naming::MAX_TEXT_BYTES)?;
        }
        crate::metadata::check_limits("project metadata", &self.metadata)?;
        match &self.remote_origin {
            Some(r) => Ok((
                {
                    crate::remote::check_credentials_unambiguous(r)?;
                    crate::remote::origin_key(r)?
                },
                Some(crate::remote::sanitize(r)?),
            )),
            None => Ok((crate::remote::local_key(&self.trunk_path), None)),
        }
    }
}

/// Longest path imi stores, in bytes (Linux's PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;

/// A path column: non-empty, no control characters, at most [`MAX_PATH_BYTES`].
pub fn check_path(what: &str, path: &str) -> Result<()> {
    crate::naming::require_non_empty(what, path)?;
    crate::naming::check_len(what, path, MAX_PATH_BYTES)
}

/// An agent id or host: non-empty, no control characters, bounded.
pub fn check_id(what: &str, id: &str) -> Result<()> {
    crate::naming::require_non_empty(what, id)?;
    crate::naming::check_len(what, id, crate::naming::MAX_ID_BYTES)
}

/// Input of [`crate::Store::register_worktree`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewWorktree {
    pub project_id: Uuid,
    pub type_name: String,
    pub name: String,
    pub branch_name: String,
    pub path: String,
    /// `None`: this machine's host name.
    pub host: Option<String>,
    pub agent_id: Option<String>,
    pub metadata: Metadata,
}

impl NewWorktree {
    /// The rules every store applies before registering (`host`: the host the row
    /// will carry).
    pub fn validate(&self, host: &str) -> Result<()> {
        crate::naming::validate_worktree_name(&self.name)?;
        crate::naming::require_non_empty("worktree type", &self.type_name)?;
        crate::naming::validate_branch_name("branch name", &self.branch_name)?;
        check_path("worktree path", &self.path)?;
        if let Some(a) = &self.agent_id {
            check_id("agent id", a)?;
        }
        check_id("host", host)?;
        crate::metadata::check_limits("worktree metadata", &self.metadata)
    }
}

/// A git-state update; `None` leaves a field unchanged (as in
/// `update_worktree_git_state`). `last_sync_at` is always stamped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitState {
    pub uncommitted_count: Option<i32>,
    pub ahead: Option<i32>,
    pub behind: Option<i32>,
    pub last_commit_hash: Option<String>,
    pub last_commit_message: Option<String>,
}

impl GitState {
    /// The rules every store applies before writing: no count is negative.
    pub fn validate(&self) -> Result<()> {
        crate::naming::validate_count("uncommitted count", self.uncommitted_count)?;
        crate::naming::validate_count("ahead count", self.ahead)?;
        crate::naming::validate_count("behind count", self.behind)
    }
}

/// Who merged a worktree ([`crate::Store::mark_merged`]): not empty.
pub fn validate_merged_by(merged_by: &str) -> Result<()> {
    crate::naming::require_non_empty("merged by", merged_by)
}

/// How many rows a listing returns: 1 or more, checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(i64);

impl Limit {
    pub fn new(limit: i64) -> Result<Limit> {
        if limit <= 0 {
            return Err(
                Error::validation(format!("limit must be positive (got {limit})"))
                    .with_hint("give a limit of 1 or more"),
            );
        }
        Ok(Limit(limit))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A day count of the retention operations: 0 to [`crate::naming::MAX_DAYS`] (100
/// years), checked once, so that `now - days` is always a valid time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(i32);

impl Days {
    /// `what` names the count in the error (`retention days`, `inactive days`).
    pub fn new(what: &str, days: i32) -> Result<Days> {
        crate::naming::validate_days(what, days)?;
        Ok(Days(days))
    }

    pub fn get(self) -> i32 {
        self.0
    }

    /// `now - self`: cannot overflow (at most 100 years back, chrono reaches
    /// 262 000 years).
    pub fn before(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::TimeDelta::days(i64::from(self.0))
    }
}

/// Input of [`crate::Store::log_activity`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewActivity {
    pub agent_id: String,
    pub worktree_id: Option<Uuid>,
    pub activity_type: String,
    pub description: Option<String>,
    pub file_path: Option<String>,
    pub metadata: Metadata,
}

impl NewActivity {
    /// The rules every store applies before appending.
    pub fn validate(&self) -> Result<()> {
        check_id("agent id", &self.agent_id)?;
        crate::naming::validate_activity_type(&self.activity_type)?;
        if let Some(d) = &self.description {
            crate::naming::check_len("description", d, crate::naming::MAX_TEXT_BYTES)?;
        }
        if let Some(f) = &self.file_path {
            crate::naming::check_len("file path", f, MAX_PATH_BYTES)?;
        }
        crate::metadata::check_limits("activity metadata", &self.metadata)
    }
}

/// Input of [`crate::Store::add_type`]; prefixes default to `<name>/` and `<name>-`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewWorktreeType {
    pub name: String,
    pub branch_prefix: Option<String>,
    pub worktree_prefix: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon: Option<String>,
}

impl NewWorktreeType {
    /// Checks the input and returns the branch and worktree prefixes to store (the
    /// defaults filled in). Both stores add types through this.
    pub fn prefixes(&self) -> Result<(String, String)> {
        use crate::naming;
        naming::validate_type_name(&self.name)?;
        let branch = self
            .branch_prefix
            .clone()
            .unwrap_or_else(|| format!("{}/", self.name));
        let dir = self
            .worktree_prefix
            .clone()
            .unwrap_or_else(|| format!("{}-", self.name));
        naming::validate_prefix("branch prefix", &branch, true)?;
        naming::validate_custom_worktree_prefix(&dir)?;
        for (what, v) in [
            ("description", &self.description),
            ("color", &self.color),
            ("icon", &self.icon),
        ] {
            if let Some(v) = v {
                naming::check_len(what, v, naming::MAX_TEXT_BYTES)?;
            }
        }
        Ok((branch, dir))
    }
}

/// Filters of [`crate::Store::list_worktrees`]; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorktreeFilter {
    pub project_id: Option<Uuid>,
    pub type_name: Option<String>,
    pub agent_id: Option<String>,
    pub host: Option<String>,
    /// `false` (the default) lists only active worktrees.
    pub include_inactive: bool,
}

/// Whose metadata a metadata operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataTarget {
    Project(Uuid),
    Worktree(Uuid),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectMatch {
    pub id: Uuid,
    pub name: String,
    pub remote_origin: Option<String>,
    pub trunk_path: String,
    pub relevance: f32,
}

/// What the store's schema looks like compared with this binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaStatus {
    pub backend: String,
    /// Highest migration applied to the database (0: none).
    pub applied: i64,
    /// Highest migration this binary knows.
    pub latest: i64,
    pub pending: Vec<i64>,
}

impl SchemaStatus {
    /// The status of a `backend` registry whose applied migrations are `applied`,
    /// for a binary that knows the migrations `known`.
    pub fn compare(backend: &str, applied: &[i64], known: impl IntoIterator<Item = i64>) -> Self {
        let known: Vec<i64> = known.into_iter().collect();
        SchemaStatus {
            backend: backend.to_string(),
            applied: applied.iter().copied().max().unwrap_or(0),
            latest: known.iter().copied().max().unwrap_or(0),
            pending: known.into_iter().filter(|v| !applied.contains(v)).collect(),
        }
    }

    /// `REGISTRY_UNAVAILABLE` when a newer imi wrote the registry's schema.
    pub fn check_not_newer(&self) -> Result<()> {
        if self.applied > self.latest {
            return Err(Error::unavailable(format!(
                "registry schema {} is newer than this imi (which knows up to {})",
                self.applied, self.latest
            ))
            .with_hint("upgrade imi to a version that knows this schema"));
        }
        Ok(())
    }
}

/// A migration failed while it ran: the driver's error (`inner`, already
/// translated) with the migration's version in front.
pub fn migration_failed(version: i64, inner: Error) -> Error {
    Error::new(
        inner.kind,
        format!("migration {version} failed: {}", inner.message),
    )
}

/// Result of a retention clean-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceReport {
    pub activities_deleted: i64,
    pub worktrees_pruned: i64,
}

/// Parses a UUID given by a user, with an error that says what was expected.
pub fn parse_uuid(what: &str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| {
        Error::validation(format!("invalid {what} id {s:?}: not a UUID"))
            .with_hint("ids look like 3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_from_users_are_checked() {
        let id = Uuid::new_v4();
        assert_eq!(parse_uuid("project", &format!(" {id} ")).unwrap(), id);
        let e = parse_uuid("project", "not-a-uuid").unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
        assert!(e.message.contains("not-a-uuid") && e.hint.is_some());
    }

    #[test]
    fn limits_and_days_are_checked_once() {
        assert_eq!(Limit::new(1).unwrap().get(), 1);
        for bad in [0, -1] {
            let e = Limit::new(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR");
            assert!(e.hint.is_some());
        }
        assert_eq!(Days::new("d", 36_500).unwrap().get(), 36_500);
        assert!(Days::new("d", 36_501).is_err() && Days::new("d", -1).is_err());
        let now = Utc::now();
        assert_eq!(
            Days::new("d", 2).unwrap().before(now),
            now - chrono::TimeDelta::days(2)
        );
    }

    #[test]
    fn status_precedence() {
        assert_eq!(WorkStatus::of(1, 1, 1), WorkStatus::Uncommitted);
        assert_eq!(WorkStatus::of(0, 1, 1), WorkStatus::Diverged);
        assert_eq!(WorkStatus::of(0, 1, 0), WorkStatus::Ahead);
        assert_eq!(WorkStatus::of(0, 0, 1), WorkStatus::Behind);
        assert_eq!(WorkStatus::of(0, 0, 0), WorkStatus::Clean);
        for s in ["uncommitted", "diverged", "ahead", "behind", "clean"] {
            assert_eq!(WorkStatus::parse(s).unwrap().as_str(), s);
        }
    }
}
