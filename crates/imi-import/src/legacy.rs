//! `imi import legacy`: the earlier iMi tool's SQLite database into the registry.
//!
//! Mapping (SPEC §6, LEGACY.md):
//! - `repositories` → projects, keeping the legacy UUID. A repository whose remote
//!   (or, without one, trunk path) is already registered is matched to that project,
//!   not duplicated. `path` may be the trunk (`.../trunk-<branch>`) or the container
//!   (then the trunk is `<container>/trunk-<default_branch>`); trailing `/` dropped.
//! - `worktree_types` → types by name; unknown ones become custom types.
//! - `worktrees` (text FK `repo_name`) → worktrees with the project's UUID; branch
//!   names lose `refs/heads/`; free-text types map `pr` → review, `trunk` → trunk,
//!   anything else unknown → a custom type of that name, created.
//! - `agent_activities` → activities with their original timestamps. One whose
//!   worktree is gone is kept without a worktree (history is never dropped) and
//!   listed; a type imi does not know becomes `other`, the original kept in metadata.
//!
//! Ids the legacy rows lack or hold malformed are derived (UUID v5 of the row's
//! identity), so importing the same file twice adds nothing.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use imi_core::snapshot::{self, ImportMode, ImportOptions, RegistrySnapshot};
use imi_core::{
    ACTIVITY_TYPES, Activity, Error, Metadata, Project, Result, Store, Worktree, WorktreeFilter,
    WorktreeType, naming, remote,
};
use serde::Serialize;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, SqliteConnection};
use uuid::Uuid;

/// Namespace of the ids derived for legacy rows without a usable UUID.
const NAMESPACE: Uuid = Uuid::from_u128(0x6c7d_3a4e_9f21_4b8c_a0d5_1e2f_3a4b_5c6d);

/// Where the earlier tool kept its database (and the other path its documents name).
pub fn default_paths(home: &Path) -> [PathBuf; 2] {
    [
        home.join(".config/iMi/iMi.db"),
        home.join(".local/share/imi/database.db"),
    ]
}

// --- reading ------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct LegacyRepo {
    pub id: String,
    pub name: String,
    pub path: String,
    pub remote_url: String,
    pub default_branch: String,
    pub created_at: String,
    pub updated_at: String,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LegacyType {
    pub id: i64,
    pub name: String,
    pub branch_prefix: String,
    pub worktree_prefix: String,
    pub description: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct LegacyWorktree {
    pub id: String,
    pub repo_name: String,
    pub worktree_name: String,
    pub branch_name: String,
    pub worktree_type: String,
    pub path: String,
    pub created_at: String,
    pub updated_at: String,
    pub active: bool,
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LegacyActivity {
    pub id: String,
    pub agent_id: String,
    pub worktree_id: String,
    pub activity_type: String,
    pub file_path: Option<String>,
    pub description: String,
    pub created_at: String,
}

/// The legacy file's rows, as read.
#[derive(Debug, Clone, Default)]
pub struct LegacyData {
    pub path: PathBuf,
    pub repositories: Vec<LegacyRepo>,
    pub worktree_types: Vec<LegacyType>,
    pub worktrees: Vec<LegacyWorktree>,
    pub activities: Vec<LegacyActivity>,
}

impl LegacyData {
    pub fn rows(&self) -> u64 {
        (self.repositories.len()
            + self.worktree_types.len()
            + self.worktrees.len()
            + self.activities.len()) as u64
    }
}

const TABLES: [&str; 4] = [
    "repositories",
    "worktree_types",
    "worktrees",
    "agent_activities",
];

fn not_legacy(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::validation(format!(
        "{} is not the earlier iMi's database: {why}; nothing was imported",
        path.display()
    ))
    .with_hint("give the path of the earlier iMi's iMi.db (default ~/.config/iMi/iMi.db)")
}

fn read_err(path: &Path, table: &str, e: sqlx::Error) -> Error {
    not_legacy(path, format_args!("cannot read its {table} table ({e})"))
}

/// Opens `path` read-only and reads every legacy row. A missing file, a file that is
/// not SQLite, or SQLite without the legacy tables is a `VALIDATION_ERROR` (or
/// `NOT_FOUND`) that names the file; nothing is written anywhere.
pub async fn read(path: &Path) -> Result<LegacyData> {
    let mut f = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!("legacy database {} does not exist", path.display()))
                .with_hint("give its path: imi import legacy /path/to/iMi.db")
        } else {
            Error::validation(format!("cannot open {}: {e}", path.display()))
                .with_hint("check the file's permissions")
        }
    })?;
    let mut header = [0u8; 16];
    let n = f.read(&mut header).unwrap_or(0);
    if n < 16 || &header != b"SQLite format 3\0" {
        return Err(not_legacy(path, "it is not an SQLite database"));
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|e| not_legacy(path, format_args!("SQLite cannot open it ({e})")))?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| not_legacy(path, format_args!("SQLite cannot open it ({e})")))?;
    let data = read_tables(path, &mut conn).await;
    drop(conn);
    pool.close().await;
    data
}

async fn read_tables(path: &Path, c: &mut SqliteConnection) -> Result<LegacyData> {
    let present: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *c)
            .await
            .map_err(|e| not_legacy(path, format_args!("cannot list its tables ({e})")))?;
    let missing: Vec<&str> = TABLES
        .iter()
        .copied()
        .filter(|t| !present.iter().any(|p| p == t))
        .collect();
    if !missing.is_empty() {
        return Err(not_legacy(
            path,
            format_args!("it has no {} table(s)", missing.join(", ")),
        ));
    }
    let mut tx = c
        .begin()
        .await
        .map_err(|e| read_err(path, "repositories", e))?;
    type RepoRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let repositories = sqlx::query_as::<_, RepoRow>(
        "SELECT CAST(id AS TEXT), CAST(name AS TEXT), CAST(path AS TEXT), CAST(remote_url AS TEXT), \
         CAST(default_branch AS TEXT), CAST(created_at AS TEXT), CAST(updated_at AS TEXT), \
         CAST(active AS INTEGER) FROM repositories ORDER BY rowid",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| read_err(path, "repositories", e))?
    .into_iter()
    .map(|r| LegacyRepo {
        id: r.0.unwrap_or_default(),
        name: r.1.unwrap_or_default(),
        path: r.2.unwrap_or_default(),
        remote_url: r.3.unwrap_or_default(),
        default_branch: r.4.unwrap_or_default(),
        created_at: r.5.unwrap_or_default(),
        updated_at: r.6.unwrap_or_default(),
        active: r.7.unwrap_or(1) != 0,
    })
    .collect();
    type TypeRow = (
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let worktree_types = sqlx::query_as::<_, TypeRow>(
        "SELECT CAST(id AS INTEGER), CAST(name AS TEXT), CAST(branch_prefix AS TEXT), \
         CAST(worktree_prefix AS TEXT), CAST(description AS TEXT), CAST(created_at AS TEXT) \
         FROM worktree_types ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| read_err(path, "worktree_types", e))?
    .into_iter()
    .map(|r| LegacyType {
        id: r.0.unwrap_or_default(),
        name: r.1.unwrap_or_default(),
        branch_prefix: r.2.unwrap_or_default(),
        worktree_prefix: r.3.unwrap_or_default(),
        description: r.4,
        created_at: r.5.unwrap_or_default(),
    })
    .collect();
    type WtRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let worktrees = sqlx::query_as::<_, WtRow>(
        "SELECT CAST(id AS TEXT), CAST(repo_name AS TEXT), CAST(worktree_name AS TEXT), \
         CAST(branch_name AS TEXT), CAST(worktree_type AS TEXT), CAST(path AS TEXT), \
         CAST(created_at AS TEXT), CAST(updated_at AS TEXT), CAST(active AS INTEGER), \
         CAST(agent_id AS TEXT) FROM worktrees ORDER BY rowid",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| read_err(path, "worktrees", e))?
    .into_iter()
    .map(|r| LegacyWorktree {
        id: r.0.unwrap_or_default(),
        repo_name: r.1.unwrap_or_default(),
        worktree_name: r.2.unwrap_or_default(),
        branch_name: r.3.unwrap_or_default(),
        worktree_type: r.4.unwrap_or_default(),
        path: r.5.unwrap_or_default(),
        created_at: r.6.unwrap_or_default(),
        updated_at: r.7.unwrap_or_default(),
        active: r.8.unwrap_or(1) != 0,
        agent_id: r.9,
    })
    .collect();
    type ActRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let activities = sqlx::query_as::<_, ActRow>(
        "SELECT CAST(id AS TEXT), CAST(agent_id AS TEXT), CAST(worktree_id AS TEXT), \
         CAST(activity_type AS TEXT), CAST(file_path AS TEXT), CAST(description AS TEXT), \
         CAST(created_at AS TEXT) FROM agent_activities ORDER BY rowid",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| read_err(path, "agent_activities", e))?
    .into_iter()
    .map(|r| LegacyActivity {
        id: r.0.unwrap_or_default(),
        agent_id: r.1.unwrap_or_default(),
        worktree_id: r.2.unwrap_or_default(),
        activity_type: r.3.unwrap_or_default(),
        file_path: r.4,
        description: r.5.unwrap_or_default(),
        created_at: r.6.unwrap_or_default(),
    })
    .collect();
    let _ = tx.rollback().await;
    Ok(LegacyData {
        path: path.to_path_buf(),
        repositories,
        worktree_types,
        worktrees,
        activities,
    })
}

// --- the report -----------------------------------------------------------------------

/// Per legacy table: rows read, imported, already in the registry, skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableReport {
    pub read: u64,
    pub imported: u64,
    pub already_present: u64,
    pub skipped: u64,
}

/// A legacy row that was not imported, or was imported differently from how it was
/// written; `id` is the legacy id (types: the name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowNote {
    pub table: &'static str,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LegacyReport {
    pub file: String,
    pub dry_run: bool,
    pub repositories: TableReport,
    pub worktree_types: TableReport,
    pub worktrees: TableReport,
    pub activities: TableReport,
    /// Rows not imported, and why.
    pub skipped: Vec<RowNote>,
    /// Rows imported with a change worth knowing (kept without their worktree, type
    /// mapped, matched to an existing project, ...).
    pub notes: Vec<RowNote>,
    /// Custom types created for free-text legacy types.
    pub custom_types_created: Vec<String>,
}

// --- mapping --------------------------------------------------------------------------

fn derive_id(kind: &str, key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{key}").as_bytes())
}

fn legacy_uuid(kind: &str, id: &str, fallback_key: &str) -> Uuid {
    Uuid::parse_str(id.trim()).unwrap_or_else(|_| derive_id(kind, fallback_key))
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            // SQLite's CURRENT_TIMESTAMP form, in UTC
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

fn strip_trailing_slashes(p: &str) -> String {
    let t = p.trim().trim_end_matches('/');
    if t.is_empty() && p.trim().starts_with('/') {
        "/".into()
    } else {
        t.to_string()
    }
}

fn strip_refs_heads(b: &str) -> String {
    let b = b.trim();
    b.strip_prefix("refs/heads/").unwrap_or(b).to_string()
}

/// The trunk of a legacy repository path: the path itself when its last component
/// is `trunk-*`, else `<container>/trunk-<default_branch>`.
pub fn trunk_of(path: &str, default_branch: &str) -> String {
    let p = strip_trailing_slashes(path);
    let last = p.rsplit('/').next().unwrap_or("");
    if last.starts_with("trunk-") {
        p
    } else if p == "/" {
        format!("/trunk-{default_branch}")
    } else {
        format!("{p}/trunk-{default_branch}")
    }
}

/// A valid custom type name for a free-text legacy type.
pub fn type_name_for(free_text: &str) -> String {
    let mut out = String::new();
    for c in free_text.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out = format!("t-{out}").trim_end_matches('-').to_string();
    }
    out.truncate(32);
    let out = out.trim_end_matches('-').to_string();
    if out == "t" { "legacy".into() } else { out }
}

/// What the registry already holds, for matching.
pub struct Existing {
    pub projects: Vec<Project>,
    pub worktrees: Vec<Worktree>,
    pub types: Vec<WorktreeType>,
}

impl Existing {
    pub async fn load<S: Store>(s: &S) -> Result<Existing> {
        Ok(Existing {
            projects: s.list_projects(true).await?,
            worktrees: s
                .list_worktrees(&WorktreeFilter {
                    include_inactive: true,
                    ..Default::default()
                })
                .await?,
            types: s.list_types().await?,
        })
    }
}

/// The rows to write and the report so far (counts of `imported` are filled in by
/// [`import`] from what the store actually inserted).
pub struct Plan {
    pub snapshot: RegistrySnapshot,
    pub report: LegacyReport,
    /// Legacy rows that matched rows already in the registry, per table.
    matched: [u64; 4],
    /// Legacy `worktree_types` rows that become new types.
    new_legacy_types: u64,
}

/// Maps the legacy rows onto the registry. `host` is recorded on the worktrees (the
/// legacy tool had one machine). Calls `progress(n)` as rows are mapped.
pub fn plan(data: &LegacyData, existing: &Existing, host: &str, progress: &dyn Fn(u64)) -> Plan {
    let mut report = LegacyReport {
        file: data.path.display().to_string(),
        ..Default::default()
    };
    let mut snap = RegistrySnapshot::default();
    let mut matched = [0u64; 4];
    let mut new_legacy_types = 0u64;
    let skip = |r: &mut LegacyReport, table: &'static str, id: &str, reason: String| {
        r.skipped.push(RowNote {
            table,
            id: id.to_string(),
            reason,
        });
    };
    let note = |r: &mut LegacyReport, table: &'static str, id: &str, reason: String| {
        r.notes.push(RowNote {
            table,
            id: id.to_string(),
            reason,
        });
    };

    // --- types
    let mut type_names: HashSet<String> = existing.types.iter().map(|t| t.name.clone()).collect();
    let mut next_type_id = existing.types.iter().map(|t| t.id).max().unwrap_or(0) + 1;
    let mut new_type = |snap: &mut RegistrySnapshot,
                        names: &mut HashSet<String>,
                        name: &str,
                        branch: Option<&str>,
                        dir: Option<&str>,
                        description: String,
                        created_at: DateTime<Utc>| {
        let branch = branch
            .filter(|b| naming::validate_prefix("branch prefix", b, true).is_ok())
            .map_or_else(|| format!("{name}/"), str::to_string);
        // the legacy prefix when it follows `imi types add`'s rules (one path
        // component, not like a trunk directory), else `<name>-`, else `legacy-<name>-`
        let dir = dir
            .map(str::to_string)
            .into_iter()
            .chain([format!("{name}-"), format!("legacy-{name}-")])
            .find(|d| naming::validate_custom_worktree_prefix(d).is_ok())
            .unwrap_or_else(|| format!("legacy-{name}-"));
        snap.worktree_types.push(WorktreeType {
            id: next_type_id,
            name: name.to_string(),
            branch_prefix: branch,
            worktree_prefix: dir,
            description: Some(description),
            is_builtin: false,
            color: None,
            icon: None,
            metadata: Metadata::new(),
            created_at,
        });
        next_type_id += 1;
        names.insert(name.to_string());
    };
    for t in &data.worktree_types {
        report.worktree_types.read += 1;
        let raw = t.name.trim();
        let name = match raw {
            "pr" => "review".to_string(),
            _ => type_name_for(raw),
        };
        if type_names.contains(&name) {
            report.worktree_types.already_present += 1;
            matched[1] += 1;
            continue;
        }
        let created = parse_ts(&t.created_at).unwrap_or_else(Utc::now);
        new_type(
            &mut snap,
            &mut type_names,
            &name,
            Some(t.branch_prefix.as_str()),
            Some(t.worktree_prefix.as_str()),
            t.description
                .clone()
                .unwrap_or_else(|| format!("imported from the earlier iMi (type {raw:?})")),
            created,
        );
        if name != raw {
            note(
                &mut report,
                "worktree_types",
                raw,
                format!("imported as type {name:?}"),
            );
        }
        report.custom_types_created.push(name);
        new_legacy_types += 1;
    }
    progress(data.worktree_types.len() as u64);

    // --- repositories
    let mut by_key: HashMap<String, Uuid> = HashMap::new();
    for p in existing.projects.iter().filter(|p| !p.active) {
        by_key.insert(p.origin_key.clone(), p.id);
    }
    for p in existing.projects.iter().filter(|p| p.active) {
        by_key.insert(p.origin_key.clone(), p.id); // active wins
    }
    let existing_project_ids: HashMap<Uuid, &Project> =
        existing.projects.iter().map(|p| (p.id, p)).collect();
    // legacy repo name -> (project id, trunk path, project name)
    let mut repos: HashMap<String, (Uuid, String, String)> = HashMap::new();
    let mut skipped_repos: HashMap<String, String> = HashMap::new();
    for r in &data.repositories {
        report.repositories.read += 1;
        let lid = if r.id.trim().is_empty() {
            r.name.clone()
        } else {
            r.id.clone()
        };
        let name = r.name.trim();
        if name.is_empty() {
            skip(&mut report, "repositories", &lid, "it has no name".into());
            continue;
        }
        let branch = {
            let b = strip_refs_heads(&r.default_branch);
            if b.is_empty() { "main".to_string() } else { b }
        };
        if r.path.trim().is_empty() {
            skip(&mut report, "repositories", &lid, "it has no path".into());
            skipped_repos.insert(r.name.clone(), "its repository has no path".into());
            continue;
        }
        let trunk = trunk_of(&r.path, &branch);
        let remote_url = r.remote_url.trim();
        let (remote_origin, key) = if remote_url.is_empty() {
            (None, remote::local_key(&trunk))
        } else {
            match (remote::sanitize(remote_url), remote::origin_key(remote_url)) {
                (Ok(s), Ok(k)) => (Some(s), k),
                (Err(e), _) | (_, Err(e)) => {
                    let why = format!("its remote is not usable: {}", e.message);
                    skip(&mut report, "repositories", &lid, why.clone());
                    skipped_repos.insert(r.name.clone(), why);
                    continue;
                }
            }
        };
        let id = legacy_uuid("repository", &r.id, name);
        if let Some(p) = existing_project_ids.get(&id) {
            report.repositories.already_present += 1;
            matched[0] += 1;
            repos.insert(r.name.clone(), (id, p.trunk_path.clone(), p.name.clone()));
            continue;
        }
        if let Some(&other) = by_key.get(&key) {
            report.repositories.already_present += 1;
            matched[0] += 1;
            let (trunk_path, pname) = existing_project_ids
                .get(&other)
                .map(|p| (p.trunk_path.clone(), p.name.clone()))
                .or_else(|| {
                    snap.projects
                        .iter()
                        .find(|p| p.id == other)
                        .map(|p| (p.trunk_path.clone(), p.name.clone()))
                })
                .unwrap_or_else(|| (trunk.clone(), name.to_string()));
            note(
                &mut report,
                "repositories",
                &lid,
                format!("{key} is already registered as project {other}: matched, not duplicated"),
            );
            repos.insert(r.name.clone(), (other, trunk_path, pname));
            continue;
        }
        let (Some(created), Some(updated)) = (parse_ts(&r.created_at), parse_ts(&r.updated_at))
        else {
            let why = format!("its timestamps are not RFC 3339 ({:?})", r.created_at);
            skip(&mut report, "repositories", &lid, why.clone());
            skipped_repos.insert(r.name.clone(), why);
            continue;
        };
        if trunk != strip_trailing_slashes(&r.path) {
            note(
                &mut report,
                "repositories",
                &lid,
                format!("path {:?} is the container: trunk is {trunk}", r.path),
            );
        }
        let project = Project {
            id,
            name: name.to_string(),
            remote_origin,
            origin_key: key.clone(),
            default_branch: branch,
            trunk_path: trunk.clone(),
            description: None,
            metadata: Metadata::new(),
            created_at: created,
            updated_at: updated,
            active: r.active,
        };
        // the rules of every other door (a name like `..` would become a path)
        if let Err(e) = snapshot::validate_project_row(&project) {
            let why = format!("{} ({})", e.message, e.hint.unwrap_or_default());
            skip(&mut report, "repositories", &lid, why.clone());
            skipped_repos.insert(r.name.clone(), why);
            continue;
        }
        by_key.insert(key, id);
        repos.insert(r.name.clone(), (id, trunk, name.to_string()));
        snap.projects.push(project);
    }
    progress(data.repositories.len() as u64);

    // --- worktrees
    let existing_wt_ids: HashSet<Uuid> = existing.worktrees.iter().map(|w| w.id).collect();
    let mut by_name: HashMap<(Uuid, String), Uuid> = existing
        .worktrees
        .iter()
        .map(|w| ((w.project_id, w.name.clone()), w.id))
        .collect();
    let mut by_place: HashMap<(String, String), Uuid> = existing
        .worktrees
        .iter()
        .filter(|w| w.active)
        .map(|w| ((w.host.clone(), w.path.clone()), w.id))
        .collect();
    // legacy worktree id text -> (worktree id, project id, project name, worktree name)
    let mut wts: HashMap<String, (Uuid, Uuid, String, String)> = HashMap::new();
    // legacy worktree id text -> names, for activities of skipped worktrees
    let mut skipped_wts: HashMap<String, (String, String)> = HashMap::new();
    for w in &data.worktrees {
        report.worktrees.read += 1;
        let lid = w.id.trim().to_string();
        let mut skip_wt = |r: &mut LegacyReport, why: String| {
            skip(r, "worktrees", &lid, why);
            skipped_wts.insert(lid.clone(), (w.repo_name.clone(), w.worktree_name.clone()));
        };
        let Some((project_id, trunk, pname)) = repos.get(&w.repo_name).cloned() else {
            let why = match skipped_repos.get(&w.repo_name) {
                Some(r) => format!("repository {:?} was skipped ({r})", w.repo_name),
                None => format!(
                    "repository {:?} is not in the legacy file (its row is missing)",
                    w.repo_name
                ),
            };
            skip_wt(&mut report, why);
            continue;
        };
        let name = w.worktree_name.trim().to_string();
        if let Err(e) = naming::validate_worktree_name(&name) {
            skip_wt(
                &mut report,
                format!(
                    "{} (suggested: {:?})",
                    e.message,
                    naming::suggest_name(&name)
                ),
            );
            continue;
        }
        let id = legacy_uuid("worktree", &w.id, &format!("{}/{name}", w.repo_name));
        let id_text = if lid.is_empty() {
            id.to_string()
        } else {
            lid.clone()
        };
        if existing_wt_ids.contains(&id) {
            report.worktrees.already_present += 1;
            matched[2] += 1;
            wts.insert(id_text, (id, project_id, pname, name));
            continue;
        }
        if let Some(&other) = by_name.get(&(project_id, name.clone())) {
            report.worktrees.already_present += 1;
            matched[2] += 1;
            note(
                &mut report,
                "worktrees",
                &lid,
                format!("project {pname} already has worktree {name} ({other}): matched"),
            );
            wts.insert(id_text, (other, project_id, pname, name));
            continue;
        }
        let branch = strip_refs_heads(&w.branch_name);
        if branch.is_empty() {
            skip_wt(&mut report, "it has no branch name".into());
            continue;
        }
        let (Some(created), Some(updated)) = (parse_ts(&w.created_at), parse_ts(&w.updated_at))
        else {
            skip_wt(
                &mut report,
                format!("its timestamps are not RFC 3339 ({:?})", w.created_at),
            );
            continue;
        };
        let raw_type = w.worktree_type.trim();
        let type_name = match raw_type.to_lowercase().as_str() {
            "pr" | "pr-review" | "review" => "review".to_string(),
            "trunk" => "trunk".to_string(),
            other => type_name_for(other),
        };
        if !type_names.contains(&type_name) {
            new_type(
                &mut snap,
                &mut type_names,
                &type_name,
                None,
                None,
                format!("imported from the earlier iMi (type {raw_type:?})"),
                created,
            );
            report.custom_types_created.push(type_name.clone());
        }
        if type_name != raw_type {
            note(
                &mut report,
                "worktrees",
                &lid,
                format!("type {raw_type:?} imported as {type_name:?}"),
            );
        }
        let path = {
            let p = strip_trailing_slashes(&w.path);
            if p.is_empty() {
                let parent = trunk.rsplit_once('/').map_or("", |(a, _)| a);
                format!("{parent}/{name}")
            } else {
                p
            }
        };
        let mut active = w.active;
        if active && let Some(&other) = by_place.get(&(host.to_string(), path.clone())) {
            note(
                &mut report,
                "worktrees",
                &lid,
                format!("{path} is registered as active worktree {other}: imported as inactive"),
            );
            active = false;
        }
        let worktree = Worktree {
            id,
            project_id,
            type_name,
            name,
            branch_name: branch,
            path,
            host: host.to_string(),
            agent_id: w
                .agent_id
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string),
            has_uncommitted_changes: false,
            uncommitted_files_count: 0,
            ahead_of_trunk: 0,
            behind_trunk: 0,
            last_commit_hash: None,
            last_commit_message: None,
            last_sync_at: None,
            merged_at: None,
            merged_by: None,
            merge_commit_hash: None,
            metadata: Metadata::new(),
            created_at: created,
            updated_at: updated,
            active,
        };
        if let Err(e) = snapshot::validate_worktree_row(&worktree) {
            skip_wt(&mut report, e.message);
            continue;
        }
        if active {
            by_place.insert((host.to_string(), worktree.path.clone()), id);
        }
        by_name.insert((project_id, worktree.name.clone()), id);
        wts.insert(
            id_text,
            (id, project_id, pname.clone(), worktree.name.clone()),
        );
        snap.worktrees.push(worktree);
    }
    progress(data.worktrees.len() as u64);

    // --- activities
    let mut seen: HashSet<Uuid> = HashSet::new();
    for (i, a) in data.activities.iter().enumerate() {
        report.activities.read += 1;
        let lid = a.id.trim();
        let id = legacy_uuid(
            "activity",
            lid,
            &format!(
                "{}/{}/{}/{}",
                a.worktree_id, a.agent_id, a.created_at, a.description
            ),
        );
        if !seen.insert(id) {
            skip(
                &mut report,
                "agent_activities",
                lid,
                "its id appears twice".into(),
            );
            continue;
        }
        let Some(created) = parse_ts(&a.created_at) else {
            skip(
                &mut report,
                "agent_activities",
                lid,
                format!("its timestamp is not RFC 3339 ({:?})", a.created_at),
            );
            continue;
        };
        let mut metadata = Metadata::new();
        let activity_type = if ACTIVITY_TYPES.contains(&a.activity_type.trim()) {
            a.activity_type.trim().to_string()
        } else {
            metadata.insert("legacy_activity_type".into(), json!(a.activity_type));
            "other".to_string()
        };
        let agent_id = match a.agent_id.trim() {
            "" => {
                metadata.insert("legacy_agent_id".into(), json!(a.agent_id));
                "unknown".to_string()
            }
            s => s.to_string(),
        };
        let wid = a.worktree_id.trim();
        let (worktree_id, project_id, project_name, worktree_name) = match wts.get(wid) {
            Some((w, p, pn, wn)) => (Some(*w), Some(*p), Some(pn.clone()), Some(wn.clone())),
            None => {
                metadata.insert("legacy_worktree_id".into(), json!(wid));
                let why = match skipped_wts.get(wid) {
                    Some((repo, wt)) => {
                        format!("worktree {wid} ({repo}/{wt}) was skipped: kept without a worktree")
                    }
                    None => format!("worktree {wid} no longer exists: kept without a worktree"),
                };
                note(&mut report, "agent_activities", lid, why);
                match skipped_wts.get(wid) {
                    Some((repo, wt)) => (None, None, Some(repo.clone()), Some(wt.clone())),
                    None => (None, None, None, None),
                }
            }
        };
        let activity = Activity {
            id,
            agent_id,
            worktree_id,
            project_id,
            project_name,
            worktree_name,
            activity_type,
            file_path: a.file_path.clone().filter(|f| !f.is_empty()),
            description: Some(a.description.clone()),
            metadata,
            created_at: created,
        };
        match snapshot::validate_activity_row(&activity) {
            Ok(()) => snap.activities.push(activity),
            Err(e) => skip(&mut report, "agent_activities", lid, e.message),
        }
        if i % 4096 == 4095 {
            progress(4096);
        }
    }
    progress(data.activities.len() as u64 % 4096);
    for s in &report.skipped {
        match s.table {
            "repositories" => report.repositories.skipped += 1,
            "worktree_types" => report.worktree_types.skipped += 1,
            "worktrees" => report.worktrees.skipped += 1,
            _ => report.activities.skipped += 1,
        }
    }
    Plan {
        snapshot: snap,
        report,
        matched,
        new_legacy_types,
    }
}

/// Reads nothing, writes the plan: one transaction through the store. With
/// `dry_run` the transaction is rolled back and the same report returned.
pub async fn write<S: Store>(s: &S, plan: Plan, dry_run: bool) -> Result<LegacyReport> {
    let Plan {
        snapshot,
        mut report,
        matched,
        new_legacy_types,
    } = plan;
    let r = s
        .import_snapshot(
            &snapshot,
            ImportOptions {
                // a row already imported is left as the registry has it now
                mode: ImportMode::KeepExisting,
                dry_run,
            },
        )
        .await?;
    report.dry_run = dry_run;
    let fill = |t: &mut TableReport, c: &imi_core::snapshot::TableCounts, matched: u64| {
        t.imported = c.inserted;
        t.already_present = matched + c.identical + c.kept;
    };
    fill(&mut report.repositories, &r.projects, matched[0]);
    fill(&mut report.worktree_types, &r.worktree_types, matched[1]);
    fill(&mut report.worktrees, &r.worktrees, matched[2]);
    fill(&mut report.activities, &r.activities, matched[3]);
    // types created for free-text worktree types are not legacy type rows; the
    // store inserted every planned type (it refuses nothing in KeepExisting mode)
    report.worktree_types.imported = new_legacy_types.min(r.worktree_types.inserted);
    Ok(report)
}

/// Reads the legacy file at `path`, maps it, and writes it into `s`.
pub async fn import<S: Store>(
    s: &S,
    path: &Path,
    dry_run: bool,
    progress: &dyn Fn(u64),
) -> Result<LegacyReport> {
    let data = read(path).await?;
    let existing = Existing::load(s).await?;
    let plan = plan(&data, &existing, s.host(), progress);
    write(s, plan, dry_run).await
}
