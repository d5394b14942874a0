//! The imi registry on PostgreSQL (SPEC §3).
//!
//! The schema and the SQL interface of SPEC §3.4 (views, functions) live in
//! `migrations/`; [`PgStore`] implements [`imi_core::Store`] by calling those functions
//! (or their row-returning `imi_*` cores), so that programs talking SQL and imi itself
//! share one definition of every operation. Input is validated in Rust first
//! (`imi_core::naming`, `remote`, `metadata`) for clear errors; the database is the
//! backstop. Every operation on the hot path is one statement, one round trip.
//!
//! The store's host name is passed as `p_host` in every statement that needs it (never
//! a session setting, which a transaction-pooling PgBouncer would lose or leak).

mod admin;
mod error;
pub mod events;
mod inline;
mod rows;
mod session;
mod snapshot;

use std::str::FromStr;
use std::time::Duration;

use imi_core::messages::{self, project_not_found, worktree_not_found};
use imi_core::{
    Activity, Days, Error, ErrorKind, GitState, InflightWork, Limit, MetadataTarget, NewActivity,
    NewProject, NewWorktree, NewWorktreeType, Project, ProjectMatch, RegistryStats, Result,
    SchemaStatus, Store, Worktree, WorktreeFilter, WorktreePlace, WorktreeType, remote,
};
use imi_core::{ApiToken, NewApiToken};
use imi_core::{
    Claim, ClaimFilter, ClaimGrant, ClaimTarget, Event, EventFilter, HookApproval, NewClaim,
    NewHookApproval,
};
use rows::BindValues;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Row, postgres::PgRow};
use uuid::Uuid;

pub use admin::MIGRATOR;
use error::db_err;
use imi_core::redact;
use inline::Arg;
use session::Db;
pub use session::Pooling;

/// Connections per store: enough for parallel sync and the API, small enough for
/// many agents sharing one server.
const POOL_SIZE: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a first connection may take before imi checks that anything listens.
const PROBE_AFTER: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    pooling: Pooling,
    host: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the connect options: they hold the password
        f.debug_struct("PgStore")
            .field("host", &self.host)
            .field("pooling", &self.pooling)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL; missing parts come from the `PG*`
    /// variables and `.pgpass`). `host` is recorded on worktrees registered without
    /// one. An unreachable server is `REGISTRY_UNAVAILABLE`; the message never
    /// contains the password.
    pub async fn connect(url: &str, host: impl Into<String>) -> Result<PgStore> {
        PgStore::connect_with_pool_size(url, host, POOL_SIZE).await
    }

    /// [`PgStore::connect`] with at most `max_connections` connections (at least
    /// one). A process that runs one statement at a time (the command line) gives
    /// 1: every statement then reuses the connection opened here, where a larger
    /// pool would open another while the previous one is being handed back.
    pub async fn connect_with_pool_size(
        url: &str,
        host: impl Into<String>,
        max_connections: u32,
    ) -> Result<PgStore> {
        let mut host: String = host.into();
        if host.trim().is_empty() {
            host = "localhost".to_string();
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| {
                Error::validation(format!("invalid PostgreSQL URL {}", redact(url)))
                    .with_hint("a URL looks like postgres://user@host:5432/dbname")
            })?
            .application_name("imi")
            // a startup parameter PgBouncer refuses unless configured to ignore it;
            // it only changes floats sent as text, and imi reads results as binary
            .extra_float_digits(None);
        let pooling = session::pooling_of(url)?;
        let database = options.get_database().map(str::to_string);
        let target = options.clone();
        let connect = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before every checkout: it doubles each call's round trips. A
            // connection that died is reported by the statement that uses it.
            .test_before_acquire(false)
            // No session state (SET, set_config(..., false)): behind a transaction-pooling
            // PgBouncer the next statement may run on another server connection. The
            // host is passed in each statement that needs it (p_host).
            .connect_with(options);
        // A refused port fails at once: the pool would retry it until its acquire
        // timeout, as it does for a server that is starting. Only a connection
        // that is slow to come is probed, so a healthy server never sees the probe.
        tokio::pin!(connect);
        let connected = tokio::select! {
            r = &mut connect => r,
            () = tokio::time::sleep(PROBE_AFTER) => match admin::nothing_listens(&target).await {
                Some(refused) => Err(sqlx::Error::Io(refused)),
                None => connect.await,
            },
        };
        let pool = connected.map_err(|e| {
            let missing_db =
                matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("3D000"));
            let inner = db_err(e);
            let kind = match inner.kind {
                imi_core::ErrorKind::Validation | imi_core::ErrorKind::Unavailable => inner.kind,
                // authentication, missing database, ...: the registry is not usable
                _ => imi_core::ErrorKind::Unavailable,
            };
            Error::new(
                kind,
                format!(
                    "cannot connect to the PostgreSQL registry at {}: {}",
                    redact(url),
                    inner.message
                ),
            )
            .with_hint(match (missing_db, &database) {
                (true, Some(db)) => format!(
                    "create it (`createdb {}` with the same host, port and user), or point \
                         IMI_DATABASE_URL / --database at an existing database",
                    imi_core::messages::shell_word(db)
                ),
                _ => "check that PostgreSQL is running and that IMI_DATABASE_URL / --database \
                          (and PGPASSWORD or ~/.pgpass) are right"
                    .to_string(),
            })
        })?;
        Ok(PgStore {
            pool,
            pooling,
            host,
        })
    }

    /// The connection pool, for administration commands and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where a statement outside imi's own transactions runs (see [`Pooling`]).
    fn db(&self) -> Db<'_> {
        Db {
            pool: &self.pool,
            pooling: self.pooling,
        }
    }

    /// Whether this store reaches PostgreSQL through a transaction-pooling PgBouncer.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Why `imi_register_worktree` refused `w` (`err`, as its SQL words it), worded
    /// by imi-core: what the registration rules (`NewWorktree::admit`) say about
    /// the place it asked for. `err` itself when they see nothing in the way (the
    /// place changed meanwhile) or the failure was not a refusal.
    async fn refused_worktree(&self, w: &NewWorktree, host: &str, err: Error) -> Error {
        if !matches!(
            err.kind,
            ErrorKind::Validation | ErrorKind::NotFound | ErrorKind::Conflict
        ) {
            return err;
        }
        let found = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM worktree_types t WHERE t.name = $1) AS type_known, \
             (SELECT p.active FROM projects p WHERE p.id = $2) AS project_active, \
             n.active AS name_active, n.path AS name_path, \
             o.name AS owner, o.project_name AS owner_project \
             FROM (SELECT 1) AS one \
             LEFT JOIN LATERAL (SELECT w.id, w.active, w.path FROM worktrees w \
               WHERE w.project_id = $2 AND w.name = $3 AND w.host = $4 \
               ORDER BY w.active DESC, w.updated_at DESC, w.id DESC LIMIT 1) n ON true \
             LEFT JOIN LATERAL (SELECT w.name, p.name AS project_name FROM worktrees w \
               JOIN projects p ON p.id = w.project_id \
               WHERE w.host = $4 AND w.path = $5 AND w.active AND w.id IS DISTINCT FROM n.id \
               LIMIT 1) o ON true",
        )
        .bind(&w.type_name)
        .bind(w.project_id)
        .bind(&w.name)
        .bind(host)
        .bind(&w.path)
        .fetch_one(self.db())
        .await;
        let place = found.and_then(|r| {
            let name_active: Option<bool> = r.try_get("name_active")?;
            let owner: Option<String> = r.try_get("owner")?;
            Ok(WorktreePlace {
                type_known: r.try_get("type_known")?,
                project_active: r.try_get("project_active")?,
                same_name: name_active.zip(r.try_get::<Option<String>, _>("name_path")?),
                place_owner: owner.zip(r.try_get::<Option<String>, _>("owner_project")?),
            })
        });
        match place.map(|p| w.admit(host, &p)) {
            Ok(Err(refusal)) => refusal,
            _ => err,
        }
    }

    /// The first of `ids` that no worktree has (the one a batch update failed on).
    async fn first_unknown(&self, ids: &[Uuid]) -> Result<Option<Uuid>> {
        sqlx::query_scalar(
            "SELECT u.id FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord) \
             WHERE NOT EXISTS (SELECT 1 FROM worktrees w WHERE w.id = u.id) \
             ORDER BY u.ord LIMIT 1",
        )
        .bind(ids)
        .fetch_optional(self.db())
        .await
        .map_err(db_err)
    }

    async fn worktree_from(&self, sql: &'static str, id: Uuid) -> Result<Worktree> {
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => rows::read(&r),
            None => Err(worktree_not_found(id)),
        }
    }
}

/// A claim row of `imi_*_claim*` or `claims` with its project name, whether it is
/// held and the database's clock.
const CLAIM_COLS: &str = "c.*, (SELECT p.name FROM projects p WHERE p.id = c.project_id) AS project_name, \
     (c.released_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())) AS held, \
     now() AS read_at";

fn many<T>(rows: Vec<PgRow>, f: impl Fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

/// `db_err`, except that the `NOT_FOUND` an `imi_*` function raises for worktree
/// `id` (its only one) is worded by imi-core.
fn worktree_err(id: Uuid) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| match db_err(e) {
        e if e.kind == ErrorKind::NotFound => worktree_not_found(id),
        e => e,
    }
}

/// The statements that lock, read and write `target`'s metadata (chosen, never
/// formatted). The `updated_at` trigger stamps the write.
fn metadata_sql(target: MetadataTarget) -> (Uuid, [&'static str; 3]) {
    match target {
        MetadataTarget::Project(id) => (
            id,
            [
                "SELECT metadata FROM projects WHERE id = $1 FOR UPDATE",
                "SELECT metadata FROM projects WHERE id = $1",
                "UPDATE projects SET metadata = $2::jsonb WHERE id = $1",
            ],
        ),
        MetadataTarget::Worktree(id) => (
            id,
            [
                "SELECT metadata FROM worktrees WHERE id = $1 FOR UPDATE",
                "SELECT metadata FROM worktrees WHERE id = $1",
                "UPDATE worktrees SET metadata = $2::jsonb WHERE id = $1",
            ],
        ),
    }
}

/// The stored metadata text of a `SELECT metadata` row (parsed by the caller: see
/// imi_core::metadata for why text).
fn metadata_text(row: &PgRow) -> Result<String> {
    let Json(raw): Json<Box<serde_json::value::RawValue>> = row
        .try_get(0)
        .map_err(|e| Error::internal(format!("reading metadata: {e}")))?;
    Ok(raw.get().to_string())
}

/// One hook approval by project key (1) and command hash (2).
macro_rules! approval_by_key {
    () => {
        "SELECT project_key, command_hash, command, approved_by, approved_at \
         FROM hook_approvals WHERE project_key = $1 AND command_hash = $2"
    };
}

/// The columns of an [`ApiToken`] (never `token_hash`).
macro_rules! token_cols {
    () => {
        "id, name, scope, created_by, created_at, expires_at, revoked_at"
    };
}

/// Usable: not revoked, not expired by the database's clock.
macro_rules! token_usable {
    () => {
        "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
    };
}

impl Store for PgStore {
    type Waiter = events::PgEventWaiter;

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn host(&self) -> &str {
        &self.host
    }

    // --- schema -------------------------------------------------------------------

    async fn migrate(&self) -> Result<SchemaStatus> {
        self.migrate_impl().await
    }

    async fn schema_status(&self) -> Result<SchemaStatus> {
        self.schema_status_impl().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(self.db())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn change_token(&self) -> Result<String> {
        // The snapshot names every transaction that has committed (below xmax and
        // not in progress): two equal snapshots see the same rows. It is the
        // cluster's, so a commit in another database changes it too (a needless
        // miss, never a stale hit).
        sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(self.db())
            .await
            .map_err(db_err)
    }

    // --- projects -----------------------------------------------------------------

    async fn register_project(&self, p: &NewProject) -> Result<Project> {
        // Canonical key and stored form computed here with imi_core::remote and passed
        // in, so the SQL side does not compute them again (its plpgsql port of the same
        // rules is for SQL callers; `canonicalisation_agrees_with_rust` proves both equal).
        let (origin_key, sanitized) = p.identity()?;
        const SQL: &str = "SELECT * FROM imi_register_project(p_name := $1, p_remote_origin := $2, \
             p_default_branch := $3, p_trunk_path := $4, p_metadata := $5, p_description := $6, \
             p_origin_key := $7, p_remote_sanitized := $8, p_id := $9)";
        let row = inline::fetch_one(
            self.db(),
            SQL,
            &[
                Arg::Text(Some(&p.name)),
                Arg::Text(p.remote_origin.as_deref()),
                Arg::Text(p.default_branch.as_deref()),
                Arg::Text(Some(&p.trunk_path)),
                Arg::Jsonb(&p.metadata),
                Arg::Text(p.description.as_deref()),
                Arg::Text(Some(&origin_key)),
                Arg::Text(sanitized.as_deref()),
                Arg::MaybeUuid(p.id),
            ],
        )
        .await?;
        rows::read(&row)
    }

    async fn get_project(&self, id: Uuid) -> Result<Project> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => rows::read(&r),
            None => Err(project_not_found(id)),
        }
    }

    async fn get_project_by_origin(&self, remote_origin: &str) -> Result<Project> {
        remote::origin_key(remote_origin)?;
        // the active project with this key, else the most recently updated inactive one
        // (reported as deactivated)
        let row = sqlx::query("SELECT * FROM imi_project_by_origin(p_remote_origin := $1)")
            .bind(remote_origin)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)?;
        let found = row.as_ref().map(rows::read).transpose()?;
        messages::active_by_origin(remote_origin, found)
    }

    async fn get_project_by_name(&self, name: &str) -> Result<Project> {
        let found =
            sqlx::query("SELECT * FROM projects WHERE name = $1 AND active ORDER BY id LIMIT 2")
                .bind(name)
                .fetch_all(self.db())
                .await
                .map_err(db_err)?;
        let found = found.iter().map(rows::read).collect::<Result<Vec<_>>>()?;
        messages::single_named(name, found)
    }

    async fn list_projects(&self, include_inactive: bool) -> Result<Vec<Project>> {
        let found = sqlx::query(
            "SELECT * FROM projects WHERE active OR $1 ORDER BY name COLLATE \"C\", id",
        )
        .bind(include_inactive)
        .fetch_all(self.db())
        .await
        .map_err(db_err)?;
        many(found, rows::read)
    }

    async fn search_projects(&self, query: &str) -> Result<Vec<ProjectMatch>> {
        // an empty query lists active projects, most recently updated first
        let found = sqlx::query("SELECT * FROM search_projects(p_query := $1)")
            .bind(query)
            .fetch_all(self.db())
            .await
            .map_err(db_err)?;
        found
            .iter()
            .map(|r| {
                let get = |e: sqlx::Error| Error::internal(format!("reading search result: {e}"));
                Ok(ProjectMatch {
                    id: r.try_get("id").map_err(get)?,
                    name: r.try_get("name").map_err(get)?,
                    remote_origin: r.try_get("remote_origin").map_err(get)?,
                    trunk_path: r.try_get("trunk_path").map_err(get)?,
                    relevance: r.try_get("relevance").map_err(get)?,
                })
            })
            .collect()
    }

    async fn deactivate_project(&self, id: Uuid) -> Result<()> {
        sqlx::query("SELECT deactivate_project(p_project_id := $1)")
            .bind(id)
            .execute(self.db())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    // --- worktrees ----------------------------------------------------------------

    async fn register_worktree(&self, w: &NewWorktree) -> Result<Worktree> {
        let host = w.host.as_deref().unwrap_or(self.host.as_str());
        w.validate(host)?;
        const SQL: &str = "SELECT w.*, (SELECT t.name FROM worktree_types t WHERE t.id = w.type_id) \
             AS type_name FROM imi_register_worktree(p_project_id := $1, p_type_name := $2, \
             p_name := $3, p_branch_name := $4, p_path := $5, p_agent_id := $6, p_metadata := $7, \
             p_host := $8, p_name_checked := true) w";
        let row = inline::fetch_one(
            self.db(),
            SQL,
            &[
                Arg::Uuid(w.project_id),
                Arg::Text(Some(&w.type_name)),
                Arg::Text(Some(&w.name)),
                Arg::Text(Some(&w.branch_name)),
                Arg::Text(Some(&w.path)),
                Arg::Text(w.agent_id.as_deref()),
                Arg::Jsonb(&w.metadata),
                Arg::Text(Some(host)),
            ],
        )
        .await;
        match row {
            Ok(row) => rows::read(&row),
            Err(e) => Err(self.refused_worktree(w, host, e).await),
        }
    }

    async fn get_worktree(&self, id: Uuid) -> Result<Worktree> {
        const SQL: &str = "SELECT w.*, t.name AS type_name FROM worktrees w \
                           JOIN worktree_types t ON t.id = w.type_id WHERE w.id = $1";
        self.worktree_from(SQL, id).await
    }

    async fn get_worktree_by_path(&self, path: &str) -> Result<Worktree> {
        let row = sqlx::query(
            "SELECT w.*, t.name AS type_name FROM imi_worktree_by_path(p_path := $1, p_host := $2) w \
             JOIN worktree_types t ON t.id = w.type_id",
        )
        .bind(path)
        .bind(&self.host)
        .fetch_optional(self.db())
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => rows::read(&r),
            None => Err(messages::no_worktree_at(path, &self.host)),
        }
    }

    async fn get_worktree_by_name(&self, project_id: Uuid, name: &str) -> Result<Worktree> {
        // this host's checkout of the name: the active one, else the most recent
        let row = sqlx::query(
            "SELECT w.*, t.name AS type_name FROM worktrees w \
             JOIN worktree_types t ON t.id = w.type_id \
             WHERE w.project_id = $1 AND w.name = $2 AND w.host = $3 \
             ORDER BY w.active DESC, w.updated_at DESC, w.id DESC LIMIT 1",
        )
        .bind(project_id)
        .bind(name)
        .bind(&self.host)
        .fetch_optional(self.db())
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => rows::read(&r),
            None => Err(messages::no_worktree_named(project_id, name, &self.host)),
        }
    }

    async fn list_worktrees(&self, filter: &WorktreeFilter) -> Result<Vec<Worktree>> {
        let found = sqlx::query(
            "SELECT w.*, t.name AS type_name FROM worktrees w \
             JOIN worktree_types t ON t.id = w.type_id \
             WHERE ($1::uuid IS NULL OR w.project_id = $1) \
               AND ($2::text IS NULL OR t.name = $2) \
               AND ($3::text IS NULL OR w.agent_id = $3) \
               AND ($4::text IS NULL OR w.host = $4) \
               AND (w.active OR $5) \
             ORDER BY w.name COLLATE \"C\", w.id",
        )
        .bind(filter.project_id)
        .bind(filter.type_name.as_deref())
        .bind(filter.agent_id.as_deref())
        .bind(filter.host.as_deref())
        .bind(filter.include_inactive)
        .fetch_all(self.db())
        .await
        .map_err(db_err)?;
        many(found, rows::read)
    }

    async fn update_git_state(&self, id: Uuid, state: &GitState) -> Result<Worktree> {
        state.validate()?;
        let row = sqlx::query(
            "SELECT w.*, (SELECT t.name FROM worktree_types t WHERE t.id = w.type_id) AS type_name \
             FROM imi_update_git_state(p_worktree_id := $1, p_uncommitted_count := $2, \
             p_ahead := $3, p_behind := $4, p_last_commit_hash := $5, \
             p_last_commit_message := $6) w",
        )
        .bind(id)
        .bind(state.uncommitted_count)
        .bind(state.ahead)
        .bind(state.behind)
        .bind(state.last_commit_hash.as_deref())
        .bind(state.last_commit_message.as_deref())
        .fetch_one(self.db())
        .await
        .map_err(worktree_err(id))?;
        rows::read(&row)
    }

    async fn update_git_states(&self, updates: &[(Uuid, GitState)]) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        for (_, s) in updates {
            s.validate()?;
        }
        let ids: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
        let uncommitted: Vec<Option<i32>> =
            updates.iter().map(|(_, s)| s.uncommitted_count).collect();
        let ahead: Vec<Option<i32>> = updates.iter().map(|(_, s)| s.ahead).collect();
        let behind: Vec<Option<i32>> = updates.iter().map(|(_, s)| s.behind).collect();
        let hashes: Vec<Option<String>> = updates
            .iter()
            .map(|(_, s)| s.last_commit_hash.clone())
            .collect();
        let messages: Vec<Option<String>> = updates
            .iter()
            .map(|(_, s)| s.last_commit_message.clone())
            .collect();
        // One statement: atomic (any error rolls back every row), one round trip.
        let done = sqlx::query(
            "SELECT g.id FROM unnest($1::uuid[], $2::int4[], $3::int4[], $4::int4[], \
             $5::text[], $6::text[]) WITH ORDINALITY AS u(id, uc, ah, be, h, m, ord) \
             CROSS JOIN LATERAL imi_update_git_state(p_worktree_id := u.id, \
             p_uncommitted_count := u.uc, p_ahead := u.ah, p_behind := u.be, \
             p_last_commit_hash := u.h, p_last_commit_message := u.m) g",
        )
        .bind(&ids)
        .bind(uncommitted)
        .bind(ahead)
        .bind(behind)
        .bind(hashes)
        .bind(messages)
        .fetch_all(self.db())
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) => match db_err(e) {
                e if e.kind == ErrorKind::NotFound => Err(self
                    .first_unknown(&ids)
                    .await?
                    .map_or(e, worktree_not_found)),
                e => Err(e),
            },
        }
    }

    async fn mark_merged(
        &self,
        id: Uuid,
        merged_by: &str,
        merge_commit_hash: Option<&str>,
    ) -> Result<Worktree> {
        imi_core::validate_merged_by(merged_by)?;
        let row = sqlx::query(
            "SELECT w.*, (SELECT t.name FROM worktree_types t WHERE t.id = w.type_id) AS type_name \
             FROM imi_mark_worktree_merged(p_worktree_id := $1, p_merged_by := $2, \
             p_merge_commit_hash := $3) w",
        )
        .bind(id)
        .bind(merged_by)
        .bind(merge_commit_hash)
        .fetch_one(self.db())
        .await
        .map_err(worktree_err(id))?;
        rows::read(&row)
    }

    async fn deactivate_worktree(&self, id: Uuid) -> Result<()> {
        let exists: bool = sqlx::query_scalar(
            "WITH u AS (UPDATE worktrees SET active = false WHERE id = $1 AND active RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM u) OR EXISTS (SELECT 1 FROM worktrees WHERE id = $1)",
        )
        .bind(id)
        .fetch_one(self.db())
        .await
        .map_err(db_err)?;
        if exists {
            Ok(())
        } else {
            Err(worktree_not_found(id))
        }
    }

    // --- types --------------------------------------------------------------------

    async fn list_types(&self) -> Result<Vec<WorktreeType>> {
        let found = sqlx::query("SELECT * FROM worktree_types ORDER BY id")
            .fetch_all(self.db())
            .await
            .map_err(db_err)?;
        many(found, rows::read)
    }

    async fn add_type(&self, t: &NewWorktreeType) -> Result<WorktreeType> {
        let (branch_prefix, worktree_prefix) = t.prefixes()?;
        let row = sqlx::query(
            "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description, color, icon) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING *",
        )
        .bind(&t.name)
        .bind(&branch_prefix)
        .bind(&worktree_prefix)
        .bind(t.description.as_deref())
        .bind(t.color.as_deref())
        .bind(t.icon.as_deref())
        .fetch_optional(self.db())
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => rows::read(&r),
            None => Err(messages::worktree_type_exists(&t.name)),
        }
    }

    async fn remove_type(&self, name: &str) -> Result<()> {
        let mut tx = self.db().begin().await?;
        // FOR UPDATE: a worktree being registered with this type (its foreign key
        // check locks the type row) either finishes first and is counted, or waits.
        let found: Option<(i32, bool)> =
            sqlx::query_as("SELECT id, is_builtin FROM worktree_types WHERE name = $1 FOR UPDATE")
                .bind(name)
                .fetch_optional(&mut tx)
                .await
                .map_err(db_err)?;
        let mut usage = None;
        if let Some((id, is_builtin)) = found {
            let (active, inactive): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE active), count(*) FILTER (WHERE NOT active) \
                 FROM worktrees WHERE type_id = $1",
            )
            .bind(id)
            .fetch_one(&mut tx)
            .await
            .map_err(db_err)?;
            usage = Some(imi_core::TypeUse {
                is_builtin,
                active,
                inactive,
            });
        }
        imi_core::check_type_removal(name, usage)?;
        sqlx::query("DELETE FROM worktree_types WHERE id = $1")
            .bind(found.map(|f| f.0))
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        tx.commit().await
    }

    // --- metadata -----------------------------------------------------------------

    async fn read_metadata(&self, target: MetadataTarget) -> Result<String> {
        let (id, [_, read, _]) = metadata_sql(target);
        let row = sqlx::query(read)
            .bind(id)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)?
            .ok_or_else(|| messages::target_not_found(target))?;
        metadata_text(&row)
    }

    async fn edit_metadata<T, F>(&self, target: MetadataTarget, edit: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(&str) -> Result<(Option<String>, T)> + Send,
    {
        let (id, [lock, _, write]) = metadata_sql(target);
        let mut tx = self.db().begin().await?;
        let row = sqlx::query(lock)
            .bind(id)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| messages::target_not_found(target))?;
        let (new_text, out) = edit(&metadata_text(&row)?)?;
        if let Some(t) = new_text {
            sqlx::query(write)
                .bind(id)
                .bind(t)
                .execute(&mut tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await?;
        Ok(out)
    }

    // --- activities ---------------------------------------------------------------

    async fn log_activity(&self, a: &NewActivity) -> Result<Activity> {
        a.validate()?;
        let row = sqlx::query(
            "SELECT * FROM imi_log_activity(p_agent_id := $1, p_worktree_id := $2, \
             p_activity_type := $3, p_description := $4, p_file_path := $5, p_metadata := $6)",
        )
        .bind(&a.agent_id)
        .bind(a.worktree_id)
        .bind(&a.activity_type)
        .bind(a.description.as_deref())
        .bind(a.file_path.as_deref())
        .bind(Json(&a.metadata))
        .fetch_one(self.db())
        .await
        .map_err(|e| match a.worktree_id {
            Some(id) => worktree_err(id)(e),
            None => db_err(e),
        })?;
        rows::read(&row)
    }

    async fn recent_activities_by_agent(
        &self,
        agent_id: &str,
        limit: i64,
    ) -> Result<Vec<Activity>> {
        let limit = Limit::new(limit)?;
        let found = sqlx::query(
            "SELECT * FROM agent_activities WHERE agent_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(agent_id)
        .bind(limit.get())
        .fetch_all(self.db())
        .await
        .map_err(db_err)?;
        many(found, rows::read)
    }

    async fn recent_activities(&self, limit: i64) -> Result<Vec<Activity>> {
        let limit = Limit::new(limit)?;
        let found = sqlx::query(
            "SELECT * FROM agent_activities ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(limit.get())
        .fetch_all(self.db())
        .await
        .map_err(db_err)?;
        many(found, rows::read)
    }

    // --- claims -----------------------------------------------------------------------

    async fn try_claim(&self, c: &NewClaim) -> Result<Option<ClaimGrant>> {
        let sql = format!(
            "SELECT {CLAIM_COLS}, c.renewed_at IS NOT NULL AS renewed \
             FROM imi_claim_worktree(p_worktree_id := $1, p_agent_id := $2, \
             p_ttl_seconds := $3, p_purpose := $4) c"
        );
        let row = inline::fetch_optional(
            self.db(),
            &sql,
            &[
                Arg::Uuid(c.worktree_id),
                Arg::Text(Some(&c.agent_id)),
                Arg::Int(c.ttl_seconds),
                Arg::Text(c.purpose.as_deref()),
            ],
        )
        .await?;
        row.map(|r| {
            Ok(ClaimGrant {
                claim: rows::read(&r)?,
                renewed: r
                    .try_get("renewed")
                    .map_err(|e| Error::internal(format!("reading claim: {e}")))?,
            })
        })
        .transpose()
    }

    async fn try_renew(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: i64,
        ttl_seconds: Option<i64>,
    ) -> Result<Option<Claim>> {
        let sql = format!(
            "SELECT {CLAIM_COLS} FROM imi_renew_claim(p_worktree_id := $1, p_agent_id := $2, \
             p_epoch := $3, p_ttl_seconds := $4) c"
        );
        let row = inline::fetch_optional(
            self.db(),
            &sql,
            &[
                Arg::Uuid(worktree_id),
                Arg::Text(Some(agent_id)),
                Arg::Int(Some(epoch)),
                Arg::Int(ttl_seconds),
            ],
        )
        .await?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn try_release(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: Option<i64>,
        force: bool,
    ) -> Result<Option<Claim>> {
        let sql = format!(
            "SELECT {CLAIM_COLS} FROM imi_release_claim(p_worktree_id := $1, p_agent_id := $2, \
             p_epoch := $3, p_force := $4) c"
        );
        let row = inline::fetch_optional(
            self.db(),
            &sql,
            &[
                Arg::Uuid(worktree_id),
                Arg::Text(Some(agent_id)),
                Arg::Int(epoch),
                Arg::Bool(force),
            ],
        )
        .await?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn get_claim(&self, worktree_id: Uuid) -> Result<Option<Claim>> {
        let sql = format!(
            "SELECT {CLAIM_COLS} FROM claims c JOIN worktrees w \
             ON c.project_id = w.project_id AND c.worktree_name = w.name WHERE w.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(worktree_id)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn claim_target(&self, worktree_id: Uuid) -> Result<Option<ClaimTarget>> {
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT name, active FROM worktrees WHERE id = $1")
                .bind(worktree_id)
                .fetch_optional(self.db())
                .await
                .map_err(db_err)?;
        Ok(row.map(|(name, active)| ClaimTarget { name, active }))
    }

    async fn list_claims(&self, filter: &ClaimFilter) -> Result<Vec<Claim>> {
        let sql = format!(
            "SELECT * FROM (SELECT {CLAIM_COLS} FROM claims c \
             WHERE ($1::uuid IS NULL OR c.project_id = $1)) x \
             WHERE held OR $2 ORDER BY project_name COLLATE \"C\", worktree_name COLLATE \"C\""
        );
        let found = sqlx::query(&sql)
            .bind(filter.project_id)
            .bind(filter.include_ended)
            .fetch_all(self.db())
            .await
            .map_err(db_err)?;
        many(found, rows::read)
    }

    // --- events -------------------------------------------------------------------

    async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        filter.validate()?;
        // after an id: ascending from it; else the latest, read backwards and turned
        // around (each an index range on the primary key)
        let order = if filter.after.is_some() {
            "AND id > $1 ORDER BY id"
        } else {
            "AND $1::bigint IS NULL ORDER BY id DESC"
        };
        let sql = format!(
            "SELECT id, type, project_id, project_name, worktree_id, worktree_name, agent_id, \
                    host, payload, created_at FROM events \
              WHERE ($2::uuid IS NULL OR project_id = $2) \
                AND (cardinality($3::text[]) = 0 OR type LIKE ANY ($3)) {order} LIMIT $4"
        );
        let found = sqlx::query(&sql)
            .bind(filter.after)
            .bind(filter.project_id)
            .bind(filter.like_patterns())
            .bind(filter.limit)
            .fetch_all(self.db())
            .await
            .map_err(db_err)?;
        let mut events = many(found, rows::read)?;
        if filter.after.is_none() {
            events.reverse();
        }
        Ok(events)
    }

    async fn last_event_id(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(id), 0)::bigint FROM events")
            .fetch_one(self.db())
            .await
            .map_err(db_err)
    }

    async fn event_waiter(&self) -> Result<events::PgEventWaiter> {
        events::PgEventWaiter::new(&self.pool, self.pooling).await
    }

    // --- hook approvals ---------------------------------------------------------------

    async fn hook_approval(
        &self,
        project_key: &str,
        command_hash: &str,
    ) -> Result<Option<HookApproval>> {
        let found = sqlx::query(approval_by_key!())
            .bind(project_key)
            .bind(command_hash)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)?;
        found.as_ref().map(rows::read).transpose()
    }

    async fn approve_hook(&self, a: &NewHookApproval) -> Result<HookApproval> {
        a.validate()?;
        // one statement: the new row, or the approval that was there
        let row = sqlx::query(
            "WITH ins AS (INSERT INTO hook_approvals (project_key, command_hash, command, approved_by) \
                          VALUES ($1, $2, $3, $4) ON CONFLICT (project_key, command_hash) DO NOTHING \
                          RETURNING project_key, command_hash, command, approved_by, approved_at) \
             SELECT * FROM ins UNION ALL \
             SELECT project_key, command_hash, command, approved_by, approved_at FROM hook_approvals \
              WHERE project_key = $1 AND command_hash = $2 AND NOT EXISTS (SELECT 1 FROM ins)",
        )
        .bind(&a.project_key)
        .bind(a.hash())
        .bind(&a.command)
        .bind(&a.approved_by)
        .fetch_one(self.db())
        .await
        .map_err(db_err)?;
        rows::read(&row)
    }

    async fn revoke_hook(&self, project_key: &str, command_hash: &str) -> Result<bool> {
        let n =
            sqlx::query("DELETE FROM hook_approvals WHERE project_key = $1 AND command_hash = $2")
                .bind(project_key)
                .bind(command_hash)
                .execute(self.db())
                .await
                .map_err(db_err)?
                .rows_affected();
        Ok(n > 0)
    }

    async fn list_hook_approvals(&self, project_key: Option<&str>) -> Result<Vec<HookApproval>> {
        let found = sqlx::query(
            "SELECT project_key, command_hash, command, approved_by, approved_at FROM hook_approvals \
             WHERE $1::text IS NULL OR project_key = $1 ORDER BY project_key COLLATE \"C\", command COLLATE \"C\"",
        )
        .bind(project_key)
        .fetch_all(self.db())
        .await
        .map_err(db_err)?;
        many(found, rows::read)
    }

    // --- API tokens --------------------------------------------------------------------

    async fn insert_api_token(&self, t: &NewApiToken) -> Result<Option<ApiToken>> {
        let row = sqlx::query(concat!(
            "INSERT INTO api_tokens (id, name, scope, token_hash, created_by, expires_at) ",
            "VALUES ($1, $2, $3, $4, $5, now() + $6::bigint * interval '1 second') ",
            "ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING RETURNING ",
            token_cols!()
        ))
        .values(t)
        .fetch_optional(self.db())
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn api_token_for_check(&self, id: &str) -> Result<Option<(ApiToken, String)>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            ", token_hash FROM api_tokens WHERE id = $1 AND ",
            token_usable!()
        ))
        .bind(id)
        .fetch_optional(self.db())
        .await
        .map_err(db_err)?;
        found.as_ref().map(rows::read).transpose()
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            " FROM api_tokens WHERE revoked_at IS NULL ORDER BY name COLLATE \"C\""
        ))
        .fetch_all(self.db())
        .await
        .map_err(db_err)?;
        many(found, rows::read)
    }

    async fn revoke_api_token(&self, name: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(concat!(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL ",
            "RETURNING ",
            token_cols!()
        ))
        .bind(name)
        .fetch_optional(self.db())
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn has_usable_api_token(&self) -> Result<bool> {
        sqlx::query_scalar(concat!(
            "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE ",
            token_usable!(),
            ")"
        ))
        .fetch_one(self.db())
        .await
        .map_err(db_err)
    }

    // --- derived ------------------------------------------------------------------

    async fn inflight(&self, project_id: Option<Uuid>) -> Result<Vec<InflightWork>> {
        let found = match project_id {
            None => {
                sqlx::query("SELECT * FROM v_inflight_work ORDER BY updated_at DESC, worktree_id")
                    .fetch_all(self.db())
                    .await
            }
            Some(id) => {
                sqlx::query(
                    "SELECT * FROM v_inflight_work WHERE project_id = $1 \
                     ORDER BY updated_at DESC, worktree_id",
                )
                .bind(id)
                .fetch_all(self.db())
                .await
            }
        }
        .map_err(db_err)?;
        many(found, rows::inflight)
    }

    async fn project_trunk(&self, project_id: Uuid) -> Result<Option<(String, bool)>> {
        // get_project_working_path's read; the rule itself is imi-core's
        sqlx::query_as("SELECT trunk_path, active FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(self.db())
            .await
            .map_err(db_err)
    }

    async fn stats(&self) -> Result<RegistryStats> {
        let row = sqlx::query("SELECT * FROM get_registry_stats()")
            .fetch_one(self.db())
            .await
            .map_err(db_err)?;
        rows::read(&row)
    }

    // --- retention ----------------------------------------------------------------

    async fn cleanup_old_activities(&self, retention_days: i32) -> Result<i64> {
        let days = Days::new("retention days", retention_days)?;
        let n: i32 = sqlx::query_scalar("SELECT cleanup_old_activities(p_retention_days := $1)")
            .bind(days.get())
            .fetch_one(self.db())
            .await
            .map_err(db_err)?;
        Ok(i64::from(n))
    }

    async fn prune_inactive_worktrees(&self, inactive_days: i32) -> Result<i64> {
        let days = Days::new("inactive days", inactive_days)?;
        let n: i32 = sqlx::query_scalar("SELECT prune_inactive_worktrees(p_inactive_days := $1)")
            .bind(days.get())
            .fetch_one(self.db())
            .await
            .map_err(db_err)?;
        Ok(i64::from(n))
    }

    // --- moving data ----------------------------------------------------------------

    async fn export_snapshot(&self) -> Result<imi_core::RegistrySnapshot> {
        imi_core::snapshot::export(self.export_transaction()).await
    }

    async fn import_snapshot(
        &self,
        input: &imi_core::RegistrySnapshot,
        opts: imi_core::ImportOptions,
    ) -> Result<imi_core::ImportReport> {
        imi_core::snapshot::import(input, opts, self.import_transaction()).await
    }
}
