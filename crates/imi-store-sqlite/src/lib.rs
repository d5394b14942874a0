//! The embedded registry: one SQLite file (WAL), implementing [`imi_core::Store`]
//! with the behaviour of docs/store-semantics.md.
//!
//! Connections: a pool of readers and a single writer connection. Writes in one
//! process queue for the writer; between processes, every read-modify-write runs in
//! a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, waiting up to
//! the busy timeout), so two processes never interleave one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imi_core::messages::{self, project_not_found, worktree_not_found};
use imi_core::{
    Activity, Admission, Days, Error, ErrorKind, GitState, InflightWork, Limit, MetadataTarget,
    NewActivity, NewProject, NewWorktree, NewWorktreeType, Project, ProjectMatch, RegistryStats,
    Result, SchemaStatus, Store, Worktree, WorktreeFilter, WorktreePlace, WorktreeType, metadata,
    remote, search, strip_trailing_slashes,
};
use imi_core::{ApiToken, NewApiToken};
use imi_core::{
    Claim, ClaimFilter, ClaimGrant, ClaimTarget, Event, EventFilter, HookApproval, NewClaim,
    NewHookApproval,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, Sqlite, Transaction};
use uuid::Uuid;

mod error;
mod rows;
mod snapshot;

use error::{db_err, is_unique_violation, migrate_err};
use rows::{
    BindValues, activity_cols, days_ago_text, inflight_pred, now_text, project_cols, type_cols,
    worktree_cols,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READERS: u32 = 4;
/// imi's tables, children first (the order to drop them in).
const TABLES: &[&str] = &[
    "api_tokens",
    "hook_approvals",
    "events",
    "events_muted",
    "claims",
    "agent_activities",
    "worktrees",
    "worktree_types",
    "projects",
    "_sqlx_migrations",
];

/// The SQLite registry. Cheap to share by reference; all methods take `&self`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    host: String,
    /// The writer pool itself when `shared`.
    reader: SqlitePool,
    writer: SqlitePool,
    /// One connection for reads and writes (`readers` 0).
    shared: bool,
    /// The connection [`Store::change_token`] asks, opened on first use.
    watcher: std::sync::Arc<tokio::sync::Mutex<Watcher>>,
}

/// One connection that never writes, kept for `PRAGMA data_version`.
#[derive(Debug)]
struct Watcher {
    /// How it is opened.
    options: SqliteConnectOptions,
    /// Counts the connections opened: a token's values compare only within one.
    generation: u64,
    connection: Option<sqlx::SqliteConnection>,
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The registry is private to its user (issue 8, rule 8): directories created for
/// it are 0700, the file is created 0600 before SQLite opens it (SQLite gives the
/// `-wal` and `-shm` files the database file's mode), and an existing file and its
/// `-wal`/`-shm` are narrowed to 0600. An existing directory is left as it is: it
/// may be shared (`/tmp`) and is not imi's to change.
fn make_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| {
                io_unavailable(format!("cannot create directory {}", parent.display()), e)
            })?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(io_unavailable(
                format!("cannot create {}", path.display()),
                e,
            ));
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut f: OsString = path.as_os_str().to_owned();
        f.push(suffix);
        let f = PathBuf::from(f);
        if let Ok(meta) = std::fs::metadata(&f)
            && meta.is_file()
            && meta.permissions().mode() & 0o077 != 0
        {
            // Only the owner may change the mode; a registry shared on purpose
            // by someone else stays usable.
            let _ = std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(())
}

fn io_unavailable(what: String, e: std::io::Error) -> Error {
    Error::unavailable(format!("{what}: {e}"))
        .with_hint("check that the registry's directory exists and is writable")
}

/// Whether `path` is an SQLite database in WAL mode, read from its 100-byte
/// header (https://www.sqlite.org/fileformat2.html#the_database_header): the magic
/// string, then the write and read format versions at offsets 18 and 19, both 2 in
/// WAL mode. SQLite rewrites them when the journal mode changes (leaving WAL
/// checkpoints first), so the file itself tells; `false` when it cannot be read.
pub fn is_wal_database(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head.starts_with(b"SQLite format 3\0")
        && head[18] == 2
        && head[19] == 2
}

/// Whether a connection handed back to the pool may serve the next caller.
///
/// A transaction that failed to commit (disk full, I/O error) is rolled back by
/// SQLite itself; sqlx then queues its own ROLLBACK, which fails ("no transaction
/// is active") and leaves sqlx's transaction depth at 1: every later `BEGIN
/// IMMEDIATE` on that connection is refused ("transaction depth"), so one failed
/// COMMIT would wedge the single writer for the life of the process. Such a
/// connection is closed instead (SQLite rolls back whatever it still holds); the
/// pool opens a fresh one for the next write.
async fn release_clean(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // Runs after the worker has handled the ROLLBACK queued by a dropped transaction.
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the registry file at `path`.
    /// Does not migrate: call [`imi_core::store::ensure_schema`] or `migrate()`.
    pub async fn open(path: &Path, host: impl Into<String>) -> Result<SqliteStore> {
        SqliteStore::open_with_readers(path, host, READERS).await
    }

    /// [`SqliteStore::open`] with at most `readers` reading connections beside the
    /// writer. A process that runs one statement at a time (the command line) gives
    /// 0: its reads then go through the writer's one connection too, so a command
    /// that reads and then writes opens one connection, not two (each connection is
    /// a thread and a parse of the whole schema, about a third of a quick command's
    /// time). Reads never wait for another process's write either way (WAL).
    ///
    /// Connections open on first use. A file that is already a registry in WAL mode
    /// (read from its header, see [`is_wal_database`]) needs nothing more; any other
    /// file (new, empty, in another journal mode, damaged, unreadable) is opened now,
    /// so that a file that cannot be opened fails here, and switched to WAL.
    pub async fn open_with_readers(
        path: &Path,
        host: impl Into<String>,
        readers: u32,
    ) -> Result<SqliteStore> {
        let s = path.as_os_str();
        if s.is_empty() || s == ":memory:" {
            return Err(Error::validation(format!(
                "invalid registry path {:?}: a file path is needed",
                path.display()
            ))
            .with_hint("give a file path such as ~/.local/share/imi/registry.db"));
        }
        make_private(path)?;
        let mut host = host.into();
        if host.trim().is_empty() {
            host = "localhost".to_string();
        }

        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = |max: u32| {
            SqlitePoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(30))
        };
        let writer = pool(1)
            .after_release(|conn, _| Box::pin(release_clean(conn)))
            .connect_lazy_with(options.clone());
        let shared = readers == 0;
        // Separate readers commit nothing, so they skip the writer's check on release
        // (a round trip to the connection's thread after every statement).
        let reader = if shared {
            writer.clone()
        } else {
            pool(readers).connect_lazy_with(options.clone())
        };
        let ready = is_wal_database(path);
        if !ready {
            // open now: a file that cannot be opened fails here
            reader.acquire().await.map(drop).map_err(|e| {
                let inner = db_err(e);
                Error::new(
                    inner.kind,
                    format!("cannot open registry {}: {}", path.display(), inner.message),
                )
                .with_hint(
                    inner
                        .hint
                        .unwrap_or_else(|| "check the registry path (imi db status)".into()),
                )
            })?;
        }
        let store = SqliteStore {
            path: path.to_path_buf(),
            host,
            reader,
            writer,
            shared,
            watcher: std::sync::Arc::new(tokio::sync::Mutex::new(Watcher {
                options,
                generation: 0,
                connection: None,
            })),
        };
        if !ready {
            store.ensure_wal().await?;
        }
        Ok(store)
    }

    /// Whether this store wrote (or migrated). With separate readers: whether its
    /// writer connection was opened; sharing one connection: whether that
    /// connection changed a row (SQLite's `total_changes()`, triggers included).
    pub async fn has_written(&self) -> bool {
        if self.writer.size() == 0 {
            return false;
        }
        if !self.shared {
            return true;
        }
        // an error: say "wrote" (closing checkpoints, never loses anything)
        sqlx::query_scalar::<_, i64>("SELECT total_changes()")
            .fetch_one(&self.writer)
            .await
            .map_or(true, |n| n > 0)
    }

    /// Closes every connection, waiting for each. The last connection to the file
    /// checkpoints the WAL into it and removes the `-wal` and `-shm` files, so the
    /// next process starts without a WAL to read.
    pub async fn close(&self) {
        if let Some(conn) = self.watcher.lock().await.connection.take() {
            conn.close().await.ok();
        }
        self.writer.close().await;
        self.reader.close().await;
    }

    /// The writer pool, for tools that need raw SQL on the registry (benchmarks,
    /// test harnesses). Writes through it bypass the store's validation.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Opens `sqlite:///abs/path`, `sqlite://rel/path` or `sqlite:path`.
    pub async fn open_url(url: &str, host: impl Into<String>) -> Result<SqliteStore> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                Error::validation(format!("not a sqlite URL: {url:?}"))
                    .with_hint("use sqlite:///absolute/path/registry.db")
            })?;
        let rest = rest.split_once('?').map_or(rest, |(p, _)| p);
        if rest.is_empty() {
            return Err(
                Error::validation(format!("sqlite URL {url:?} names no file"))
                    .with_hint("use sqlite:///absolute/path/registry.db"),
            );
        }
        SqliteStore::open(Path::new(rest), host).await
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut s: OsString = self.path.as_os_str().to_owned();
        s.push(".migrate.lock");
        PathBuf::from(s)
    }

    /// Takes the exclusive cross-process lock that serialises schema changes; released
    /// when the returned file is dropped.
    async fn lock_schema(&self) -> Result<std::fs::File> {
        let lp = self.lock_path();
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::OpenOptionsExt;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&lp)
                .map_err(|e| io_unavailable(format!("cannot open {}", lp.display()), e))?;
            f.lock()
                .map_err(|e| io_unavailable(format!("cannot lock {}", lp.display()), e))?;
            Ok(f)
        })
        .await
        .map_err(|e| Error::internal(format!("schema lock task failed: {e}")))?
    }

    /// WAL is a property of the file; switching to it needs an exclusive lock that the
    /// busy timeout does not wait for, so it happens once, under the schema lock.
    async fn ensure_wal(&self) -> Result<()> {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let _lock = self.lock_schema().await?;
        let mut last = None;
        for attempt in 0..50u64 {
            match sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
                .fetch_one(&self.reader)
                .await
            {
                Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
                Ok(m) => {
                    return Err(Error::unavailable(format!(
                        "registry {} cannot use WAL journaling (journal_mode is {m})",
                        self.path.display()
                    ))
                    .with_hint("put the registry on a local file system"));
                }
                Err(e) => last = Some(db_err(e)),
            }
            tokio::time::sleep(Duration::from_millis(10 + attempt * 5)).await;
        }
        Err(last.unwrap_or_else(|| Error::unavailable("cannot switch the registry to WAL")))
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    /// Drops every imi table, view and trigger and the migration history
    /// (`imi db reset --yes`). The file stays.
    pub async fn reset(&self) -> Result<()> {
        let _lock = self.lock_schema().await?;
        let mut tx = self.begin().await?;
        let objects: Vec<(String, String)> = sqlx::query_as(
            "SELECT type, name FROM sqlite_master \
             WHERE type IN ('view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             ORDER BY type = 'trigger' DESC, name",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for (kind, name) in objects {
            // Names come from sqlite_master, never from input; quoted as identifiers.
            let ident = format!("\"{}\"", name.replace('"', "\"\""));
            let sql = if kind == "view" {
                format!("DROP VIEW IF EXISTS {ident}")
            } else {
                format!("DROP TRIGGER IF EXISTS {ident}")
            };
            sqlx::query(&sql).execute(&mut *tx).await.map_err(db_err)?;
        }
        for t in TABLES {
            sqlx::query(&format!("DROP TABLE IF EXISTS {t}"))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// `VACUUM` and `ANALYZE` (`imi db maintain`).
    pub async fn maintain(&self) -> Result<()> {
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        sqlx::query("VACUUM")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        sqlx::query("ANALYZE")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn register_project_once(
        &self,
        p: &NewProject,
        remote_origin: Option<&str>,
        key: &str,
    ) -> Result<Project> {
        let now = now_text();
        let mut tx = self.begin().await?;
        let existing: Option<(String, String)> = sqlx::query_as(
            "SELECT id, metadata FROM projects WHERE origin_key = ?1 \
             ORDER BY active DESC, updated_at DESC, id DESC LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let row =
            match existing {
                Some((id, meta)) => {
                    // given metadata is merged in; none leaves the stored text as it is
                    let merged_text = if p.metadata.is_empty() {
                        meta
                    } else {
                        let mut merged =
                            metadata::decode_stored(&meta)?.writable("project metadata")?;
                        merged.extend(p.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
                        metadata::check_limits("project metadata", &merged)?;
                        rows::meta_text(&merged)
                    };
                    sqlx::query(concat!(
                        "UPDATE projects SET name = ?1, remote_origin = ?2, trunk_path = ?3, ",
                        "default_branch = coalesce(?4, default_branch), ",
                        "description = coalesce(?5, description), metadata = ?6, active = 1, ",
                        "updated_at = ?8 WHERE id = ?7 RETURNING ",
                        project_cols!()
                    ))
                    .bind(&p.name)
                    .bind(remote_origin)
                    .bind(&p.trunk_path)
                    .bind(p.default_branch.as_deref())
                    .bind(p.description.as_deref())
                    .bind(merged_text)
                    .bind(id)
                    .bind(&now)
                    .fetch_one(&mut *tx)
                    .await
                }
                None => sqlx::query(concat!(
                    "INSERT INTO projects (id, name, remote_origin, origin_key, default_branch, ",
                    "trunk_path, description, metadata, created_at, updated_at) ",
                    // the id asked for when no project has it, else a new one
                    "VALUES (CASE WHEN ?10 IS NOT NULL AND NOT EXISTS ",
                    "(SELECT 1 FROM projects WHERE id = ?10) THEN ?10 ELSE ?1 END, ",
                    "?2, ?3, ?4, coalesce(?5, 'main'), ?6, ?7, ?8, ?9, ?9) RETURNING ",
                    project_cols!()
                ))
                .bind(id_text(Uuid::new_v4()))
                .bind(&p.name)
                .bind(remote_origin)
                .bind(key)
                .bind(p.default_branch.as_deref())
                .bind(&p.trunk_path)
                .bind(p.description.as_deref())
                .bind(rows::meta_text(&p.metadata))
                .bind(&now)
                .bind(p.id.map(id_text))
                .fetch_one(&mut *tx)
                .await,
            }
            .map_err(db_err)?;
        let project = rows::read(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(project)
    }

    async fn fetch_worktree(&self, id: Uuid) -> Result<Option<Worktree>> {
        sqlx::query(concat!(
            "SELECT ",
            worktree_cols!(),
            " FROM worktrees WHERE id = ?1"
        ))
        .bind(id_text(id))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .map(|r| rows::read(&r))
        .transpose()
    }
}

/// SQLite's clock in the stored form ('now' is one value within a statement).
macro_rules! db_now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')"
    };
}

/// A `claims` row (in `RETURNING` too) with its project name, whether it is held
/// and the database's clock.
macro_rules! claim_cols {
    () => {
        concat!(
            "project_id, worktree_name, worktree_id, agent_id, host, epoch, purpose, ttl_seconds, ",
            "acquired_at, renewed_at, expires_at, released_at, stolen_from, ",
            "(SELECT p.name FROM projects p WHERE p.id = project_id) AS project_name, ",
            "(released_at IS NULL AND (expires_at IS NULL OR expires_at > ",
            db_now!(),
            ")) AS held, ",
            db_now!(),
            " AS read_at"
        )
    };
}

impl SqliteStore {
    /// Runs `q`, several statements from `BEGIN IMMEDIATE` to `COMMIT`, on the writer
    /// in one round trip to its thread, and returns the rows its statements returned
    /// (sqlx's own `begin()` and `commit()` together cost about as much as a one-row
    /// write: `imi-bench` timed an insert at 0.431 ms with them, 0.223 ms alone and
    /// 0.212 ms as one batch with `BEGIN IMMEDIATE` and `COMMIT`).
    ///
    /// sqlx does not know about a transaction begun this way, so the pool's check on
    /// release cannot see one left open. Whenever the batch did not run to its end (a
    /// statement failed, and the batch stopped there, perhaps inside its transaction;
    /// or this future was dropped while waiting) the connection never goes back to
    /// the pool: it is closed, and closing rolls back whatever it holds (the pool opens
    /// a fresh writer next time).
    async fn write_batch<'q>(
        &self,
        q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
        let mut held = Unfinished(Some(self.writer.acquire().await.map_err(db_err)?));
        let Some(conn) = held.0.as_mut() else {
            return Err(Error::internal("the writer connection went missing"));
        };
        match q.fetch_all(&mut **conn).await {
            // back to the pool: the batch committed
            Ok(rows) => {
                held.0.take();
                Ok(rows)
            }
            Err(e) => {
                if let Some(conn) = held.0.take() {
                    conn.detach().close().await.ok();
                }
                Err(db_err(e))
            }
        }
    }
}

/// A writer connection whose batch has not finished: dropped as it is (the future
/// that ran the batch was dropped), it is taken out of the pool and closed, which
/// rolls back a transaction the batch may have left open.
struct Unfinished(Option<sqlx::pool::PoolConnection<Sqlite>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // dropping the detached connection ends its thread, which closes it
            drop(conn.detach());
        }
    }
}

/// The events matching the project (?2) and type (?3, a JSON array of LIKE
/// patterns) filters; the caller appends the id range, order and limit.
macro_rules! event_select {
    () => {
        "SELECT id, type, project_id, project_name, worktree_id, worktree_name, agent_id, host, \
         payload, created_at FROM events \
         WHERE (?2 IS NULL OR project_id = ?2) \
           AND (?3 = '[]' OR EXISTS (SELECT 1 FROM json_each(?3) t WHERE events.type LIKE t.value))"
    };
}

/// How often an SQLite follower looks for new events: a primary-key probe of the
/// file, so writes by any process appear.
const EVENT_POLL: Duration = Duration::from_millis(100);

/// The SQLite [`imi_core::EventWaiter`]: a poll (`id > last` is a primary-key probe).
pub struct PollWaiter(Duration);

impl imi_core::EventWaiter for PollWaiter {
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
    }
}

/// One hook approval by project key (1) and command hash (2).
macro_rules! approval_by_key {
    () => {
        "SELECT project_key, command_hash, command, approved_by, approved_at \
         FROM hook_approvals WHERE project_key = ?1 AND command_hash = ?2"
    };
}

/// The columns of an [`ApiToken`] (never `token_hash`).
macro_rules! token_cols {
    () => {
        "id, name, scope, created_by, created_at, expires_at, revoked_at"
    };
}

/// Usable: not revoked, not expired by SQLite's clock.
macro_rules! token_usable {
    () => {
        concat!(
            "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ",
            db_now!(),
            ")"
        )
    };
}

impl Store for SqliteStore {
    type Waiter = PollWaiter;

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn host(&self) -> &str {
        &self.host
    }

    // --- schema -------------------------------------------------------------------

    async fn migrate(&self) -> Result<SchemaStatus> {
        let status = self.schema_status().await?;
        status.check_not_newer()?;
        if status.pending.is_empty() {
            return Ok(status);
        }
        let _lock = self.lock_schema().await?;
        // Another process may have migrated while we waited for the lock.
        let status = self.schema_status().await?;
        status.check_not_newer()?;
        if !status.pending.is_empty() {
            MIGRATOR.run(&self.writer).await.map_err(migrate_err)?;
        }
        self.schema_status().await
    }

    async fn schema_status(&self) -> Result<SchemaStatus> {
        // One query when the history table exists (every registry in use); when it
        // fails, a missing table is an empty history, and a table that exists by now
        // (another process migrated meanwhile) is read again.
        const APPLIED: &str =
            "SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version";
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        let applied: Vec<i64> = match sqlx::query_scalar(APPLIED).fetch_all(&mut *conn).await {
            Ok(v) => v,
            Err(first) => {
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master \
                     WHERE type = 'table' AND name = '_sqlx_migrations')",
                )
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                if !exists {
                    Vec::new()
                } else {
                    // created meanwhile by another process's first use (its migration
                    // committed between the two reads): read it again; a second
                    // failure is the registry's own
                    drop(first);
                    sqlx::query_scalar(APPLIED)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(db_err)?
                }
            }
        };
        let up = |m: &sqlx::migrate::Migration| m.migration_type.is_up_migration();
        let known = MIGRATOR.iter().filter(|m| up(m)).map(|m| m.version);
        Ok(SchemaStatus::compare("sqlite", &applied, known))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn change_token(&self) -> Result<String> {
        // `PRAGMA data_version` changes when another connection commits (any
        // process); this connection never writes, so every commit is another's.
        // Its values mean something only on that one connection: a reopened one
        // starts a new generation.
        let mut slot = self.watcher.lock().await;
        if slot.connection.is_none() {
            let conn = slot.options.connect().await.map_err(db_err)?;
            slot.generation += 1;
            slot.connection = Some(conn);
        }
        let Watcher {
            generation,
            connection,
            ..
        } = &mut *slot;
        let Some(conn) = connection.as_mut() else {
            return Err(Error::internal("the change watcher has no connection"));
        };
        match sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(conn)
            .await
        {
            Ok(v) => Ok(format!("{generation}.{v}")),
            Err(e) => {
                slot.connection = None;
                Err(db_err(e))
            }
        }
    }

    // --- projects -----------------------------------------------------------------

    async fn register_project(&self, p: &NewProject) -> Result<Project> {
        let (key, remote_origin) = p.identity()?;
        let mut attempt = 0;
        loop {
            // Writers are serialised by BEGIN IMMEDIATE, so a unique violation means
            // something outside imi's own protocol raced us: look again.
            match self
                .register_project_once(p, remote_origin.as_deref(), &key)
                .await
            {
                Err(e) if e.kind == ErrorKind::Conflict && attempt < 3 => attempt += 1,
                r => return r,
            }
        }
    }

    async fn get_project(&self, id: Uuid) -> Result<Project> {
        let row = sqlx::query(concat!(
            "SELECT ",
            project_cols!(),
            " FROM projects WHERE id = ?1"
        ))
        .bind(id_text(id))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| project_not_found(id))?;
        rows::read(&row)
    }

    async fn get_project_by_origin(&self, remote_origin: &str) -> Result<Project> {
        let key = remote::origin_key(remote_origin)?;
        let row = sqlx::query(concat!(
            "SELECT ",
            project_cols!(),
            " FROM projects WHERE origin_key = ?1 ORDER BY active DESC, updated_at DESC, id DESC LIMIT 1"
        ))
        .bind(&key)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let found = row.as_ref().map(rows::read).transpose()?;
        messages::active_by_origin(remote_origin, found)
    }

    async fn get_project_by_name(&self, name: &str) -> Result<Project> {
        let found = sqlx::query(concat!(
            "SELECT ",
            project_cols!(),
            " FROM projects WHERE name = ?1 AND active = 1 ORDER BY id LIMIT 2"
        ))
        .bind(name)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let found = found.iter().map(rows::read).collect::<Result<Vec<_>>>()?;
        messages::single_named(name, found)
    }

    async fn list_projects(&self, include_inactive: bool) -> Result<Vec<Project>> {
        let sql = if include_inactive {
            concat!(
                "SELECT ",
                project_cols!(),
                " FROM projects ORDER BY name, id"
            )
        } else {
            concat!(
                "SELECT ",
                project_cols!(),
                " FROM projects WHERE active = 1 ORDER BY name, id"
            )
        };
        sqlx::query(sql)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::read)
            .collect()
    }

    async fn search_projects(&self, query: &str) -> Result<Vec<ProjectMatch>> {
        let q = query.trim();
        let rows: Vec<(String, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT id, name, remote_origin, trunk_path, updated_at FROM projects WHERE active = 1",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        // (match, updated_at): an empty query lists every active project, most recently
        // updated first; else the relevant ones, best first (search_projects on PostgreSQL)
        let mut matches = Vec::new();
        for (id, name, remote_origin, trunk_path, updated_at) in rows {
            let relevance = if q.is_empty() {
                0.0
            } else {
                search::relevance(&name, remote_origin.as_deref(), q)
            };
            if q.is_empty() || relevance >= search::MIN_RELEVANCE {
                let m = ProjectMatch {
                    id: rows::parse_uuid(&id)?,
                    name,
                    remote_origin,
                    trunk_path,
                    relevance,
                };
                matches.push((m, rows::parse_ts(&updated_at)?));
            }
        }
        matches.sort_by(|(a, a_updated), (b, b_updated)| {
            b.relevance
                .total_cmp(&a.relevance)
                .then_with(|| {
                    if q.is_empty() {
                        b_updated.cmp(a_updated)
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        });
        matches.truncate(search::MAX_RESULTS);
        Ok(matches.into_iter().map(|(m, _)| m).collect())
    }

    async fn deactivate_project(&self, id: Uuid) -> Result<()> {
        let id_s = id_text(id);
        let now = now_text();
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE projects SET active = 0, updated_at = ?2 WHERE id = ?1 AND active = 1",
        )
        .bind(&id_s)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        // Already inactive rows are left alone (their updated_at does not move).
        if n == 0
            && !row_exists(
                &mut tx,
                "SELECT EXISTS (SELECT 1 FROM projects WHERE id = ?1)",
                &id_s,
            )
            .await?
        {
            return Err(project_not_found(id));
        }
        sqlx::query(
            "UPDATE worktrees SET active = 0, updated_at = ?2 WHERE project_id = ?1 AND active = 1",
        )
        .bind(&id_s)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    // --- worktrees ----------------------------------------------------------------

    async fn register_worktree(&self, w: &NewWorktree) -> Result<Worktree> {
        let host = w.host.as_deref().unwrap_or(&self.host);
        w.validate(host)?;
        let project_id = id_text(w.project_id);
        let meta = rows::meta_text(&w.metadata);
        let now = now_text();

        let mut tx = self.begin().await?;
        // What the rules decide on (WorktreePlace), in one statement: the type, the
        // project, this host's row of the name, another active worktree at the path.
        let found = sqlx::query(
            "SELECT t.id AS type_id, p.active AS project_active, w.id AS wt_id, \
             w.active AS wt_active, w.path AS wt_path, o.name AS owner, op.name AS owner_project \
             FROM (SELECT 1) AS one \
             LEFT JOIN worktree_types t ON t.name = ?1 \
             LEFT JOIN projects p ON p.id = ?2 \
             LEFT JOIN worktrees w ON w.id = (SELECT w2.id FROM worktrees w2 \
               WHERE w2.project_id = ?2 AND w2.name = ?3 AND w2.host = ?4 \
               ORDER BY w2.active DESC, w2.updated_at DESC, w2.id DESC LIMIT 1) \
             LEFT JOIN worktrees o ON o.id = (SELECT o2.id FROM worktrees o2 \
               WHERE o2.host = ?4 AND o2.path = ?5 AND o2.active = 1 AND o2.id IS NOT w.id \
               LIMIT 1) \
             LEFT JOIN projects op ON op.id = o.project_id",
        )
        .bind(&w.type_name)
        .bind(&project_id)
        .bind(&w.name)
        .bind(host)
        .bind(&w.path)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let get = |c: &str| -> Result<Option<String>> { found.try_get(c).map_err(db_err) };
        let type_id: Option<i64> = found.try_get("type_id").map_err(db_err)?;
        let wt_active: Option<bool> = found.try_get("wt_active").map_err(db_err)?;
        let existing_id = get("wt_id")?;
        let place = WorktreePlace {
            type_known: type_id.is_some(),
            project_active: found.try_get("project_active").map_err(db_err)?,
            same_name: wt_active.zip(get("wt_path")?),
            place_owner: get("owner")?.zip(get("owner_project")?),
        };
        let result =
            match w.admit(host, &place)? {
                Admission::Existing => {
                    sqlx::query(concat!(
                        "SELECT ",
                        worktree_cols!(),
                        " FROM worktrees WHERE id = ?1"
                    ))
                    .bind(existing_id)
                    .fetch_one(&mut *tx)
                    .await
                }
                Admission::Reactivate => sqlx::query(concat!(
                    "UPDATE worktrees SET type_id = ?1, branch_name = ?2, path = ?3, host = ?4, ",
                    "agent_id = ?5, metadata = ?6, merged_at = NULL, merged_by = NULL, ",
                    "merge_commit_hash = NULL, has_uncommitted_changes = 0, ",
                    "uncommitted_files_count = 0, ahead_of_trunk = 0, behind_trunk = 0, ",
                    "last_commit_hash = NULL, last_commit_message = NULL, last_sync_at = NULL, ",
                    "active = 1, updated_at = ?8 WHERE id = ?7 RETURNING ",
                    worktree_cols!()
                ))
                .bind(type_id)
                .bind(&w.branch_name)
                .bind(&w.path)
                .bind(host)
                .bind(w.agent_id.as_deref())
                .bind(&meta)
                .bind(existing_id)
                .bind(&now)
                .fetch_one(&mut *tx)
                .await,
                Admission::Insert => {
                    sqlx::query(concat!(
                        "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, ",
                        "host, agent_id, metadata, created_at, updated_at) ",
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) RETURNING ",
                        worktree_cols!()
                    ))
                    .bind(id_text(Uuid::new_v4()))
                    .bind(&project_id)
                    .bind(type_id)
                    .bind(&w.name)
                    .bind(&w.branch_name)
                    .bind(&w.path)
                    .bind(host)
                    .bind(w.agent_id.as_deref())
                    .bind(&meta)
                    .bind(&now)
                    .fetch_one(&mut *tx)
                    .await
                }
            };
        let row = match result {
            Ok(row) => row,
            // the write lock is held since the look above: only a writer outside imi's
            // protocol can have taken the path meanwhile
            Err(e) if is_unique_violation(&e) => {
                return Err(messages::worktree_place_taken(&w.path, host, None));
            }
            Err(e) => return Err(db_err(e)),
        };
        let wt = rows::read(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(wt)
    }

    async fn get_worktree(&self, id: Uuid) -> Result<Worktree> {
        self.fetch_worktree(id)
            .await?
            .ok_or_else(|| worktree_not_found(id))
    }

    async fn get_worktree_by_path(&self, path: &str) -> Result<Worktree> {
        let bare = strip_trailing_slashes(path);
        let slashed = format!("{bare}/");
        let row = sqlx::query(concat!(
            "SELECT ",
            worktree_cols!(),
            " FROM worktrees WHERE host = ?1 AND path IN (?2, ?3) AND active = 1 LIMIT 1"
        ))
        .bind(&self.host)
        .bind(bare)
        .bind(&slashed)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| messages::no_worktree_at(path, &self.host))?;
        rows::read(&row)
    }

    async fn get_worktree_by_name(&self, project_id: Uuid, name: &str) -> Result<Worktree> {
        let row = sqlx::query(concat!(
            "SELECT ",
            worktree_cols!(),
            " FROM worktrees WHERE project_id = ?1 AND name = ?2 AND host = ?3 ",
            "ORDER BY active DESC, updated_at DESC, id DESC LIMIT 1"
        ))
        .bind(id_text(project_id))
        .bind(name)
        .bind(&self.host)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| messages::no_worktree_named(project_id, name, &self.host))?;
        rows::read(&row)
    }

    async fn list_worktrees(&self, filter: &WorktreeFilter) -> Result<Vec<Worktree>> {
        // Built from fixed fragments only; every value is a bound parameter.
        let mut sql = String::from(concat!(
            "SELECT ",
            worktree_cols!(),
            " FROM worktrees WHERE 1 = 1"
        ));
        if !filter.include_inactive {
            sql.push_str(" AND active = 1");
        }
        if filter.project_id.is_some() {
            sql.push_str(" AND project_id = ?");
        }
        if filter.type_name.is_some() {
            sql.push_str(" AND type_id = (SELECT t2.id FROM worktree_types t2 WHERE t2.name = ?)");
        }
        if filter.agent_id.is_some() {
            sql.push_str(" AND agent_id = ?");
        }
        if filter.host.is_some() {
            sql.push_str(" AND host = ?");
        }
        sql.push_str(" ORDER BY name, id");
        let mut q = sqlx::query(&sql);
        if let Some(p) = filter.project_id {
            q = q.bind(id_text(p));
        }
        if let Some(t) = &filter.type_name {
            q = q.bind(t);
        }
        if let Some(a) = &filter.agent_id {
            q = q.bind(a);
        }
        if let Some(h) = &filter.host {
            q = q.bind(h);
        }
        q.fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::read)
            .collect()
    }

    async fn update_git_state(&self, id: Uuid, state: &GitState) -> Result<Worktree> {
        state.validate()?;
        let row = git_state_query(concat!(" RETURNING ", worktree_cols!()), id, state)
            .fetch_optional(&self.writer)
            .await
            .map_err(db_err)?
            .ok_or_else(|| worktree_not_found(id))?;
        rows::read(&row)
    }

    async fn update_git_states(&self, updates: &[(Uuid, GitState)]) -> Result<()> {
        for (_, s) in updates {
            s.validate()?;
        }
        if updates.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (id, s) in updates {
            let n = git_state_query("", *id, s)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            if n == 0 {
                // Dropping the transaction rolls back what this batch wrote.
                return Err(worktree_not_found(*id));
            }
        }
        tx.commit().await.map_err(db_err)
    }

    async fn mark_merged(
        &self,
        id: Uuid,
        merged_by: &str,
        merge_commit_hash: Option<&str>,
    ) -> Result<Worktree> {
        imi_core::validate_merged_by(merged_by)?;
        let row = sqlx::query(concat!(
            "UPDATE worktrees SET merged_at = ?4, merged_by = ?1, merge_commit_hash = ?2, ",
            "active = 0, updated_at = ?4 WHERE id = ?3 RETURNING ",
            worktree_cols!()
        ))
        .bind(merged_by)
        .bind(merge_commit_hash)
        .bind(id_text(id))
        .bind(now_text())
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?
        .ok_or_else(|| worktree_not_found(id))?;
        rows::read(&row)
    }

    async fn deactivate_worktree(&self, id: Uuid) -> Result<()> {
        let n = sqlx::query(
            "UPDATE worktrees SET active = 0, updated_at = ?2 WHERE id = ?1 AND active = 1",
        )
        .bind(id_text(id))
        .bind(now_text())
        .execute(&self.writer)
        .await
        .map_err(db_err)?
        .rows_affected();
        if n == 0 {
            // Idempotent: an inactive worktree stays as it is; only a missing one fails.
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM worktrees WHERE id = ?1)")
                    .bind(id_text(id))
                    .fetch_one(&self.reader)
                    .await
                    .map_err(db_err)?;
            if !exists {
                return Err(worktree_not_found(id));
            }
        }
        Ok(())
    }

    // --- types --------------------------------------------------------------------

    async fn list_types(&self) -> Result<Vec<WorktreeType>> {
        sqlx::query(concat!(
            "SELECT ",
            type_cols!(),
            " FROM worktree_types ORDER BY id"
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(rows::read)
        .collect()
    }

    async fn add_type(&self, t: &NewWorktreeType) -> Result<WorktreeType> {
        let (branch_prefix, worktree_prefix) = t.prefixes()?;
        let row = sqlx::query(concat!(
            "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description, ",
            "color, icon, is_builtin, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7) ",
            "RETURNING ",
            type_cols!()
        ))
        .bind(&t.name)
        .bind(&branch_prefix)
        .bind(&worktree_prefix)
        .bind(t.description.as_deref())
        .bind(t.color.as_deref())
        .bind(t.icon.as_deref())
        .bind(now_text())
        .fetch_one(&self.writer)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                messages::worktree_type_exists(&t.name)
            } else {
                db_err(e)
            }
        })?;
        rows::read(&row)
    }

    async fn remove_type(&self, name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let found: Option<(i64, bool, i64, i64)> = sqlx::query_as(
            "SELECT t.id, t.is_builtin, \
             (SELECT count(*) FROM worktrees w WHERE w.type_id = t.id AND w.active = 1), \
             (SELECT count(*) FROM worktrees w WHERE w.type_id = t.id AND w.active = 0) \
             FROM worktree_types t WHERE t.name = ?1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let usage = found.map(|(_, is_builtin, active, inactive)| imi_core::TypeUse {
            is_builtin,
            active,
            inactive,
        });
        imi_core::check_type_removal(name, usage)?;
        let type_id = found.map(|f| f.0);
        sqlx::query("DELETE FROM worktree_types WHERE id = ?1")
            .bind(type_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    // --- metadata -----------------------------------------------------------------

    async fn read_metadata(&self, target: MetadataTarget) -> Result<String> {
        let text: Option<String> = sqlx::query_scalar(metadata_sql(target).0)
            .bind(target_id(target))
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        text.ok_or_else(|| messages::target_not_found(target))
    }

    async fn edit_metadata<T, F>(&self, target: MetadataTarget, edit: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(&str) -> Result<(Option<String>, T)> + Send,
    {
        let (read, write) = metadata_sql(target);
        let id = target_id(target);
        // BEGIN IMMEDIATE: the write lock is held from the read on
        let mut tx = self.begin().await?;
        let text: Option<String> = sqlx::query_scalar(read)
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let text = text.ok_or_else(|| messages::target_not_found(target))?;
        let (new_text, out) = edit(&text)?;
        if let Some(t) = new_text {
            sqlx::query(write)
                .bind(t)
                .bind(&id)
                .bind(now_text())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        }
        Ok(out)
    }

    // --- activities ---------------------------------------------------------------

    async fn log_activity(&self, a: &NewActivity) -> Result<Activity> {
        a.validate()?;
        let id = id_text(Uuid::new_v4());
        let meta = rows::meta_text(&a.metadata);
        let now = now_text();
        let row = match a.worktree_id {
            None => sqlx::query(concat!(
                "INSERT INTO agent_activities (id, agent_id, activity_type, file_path, ",
                "description, metadata, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ",
                "RETURNING ",
                activity_cols!()
            ))
            .bind(&id)
            .bind(&a.agent_id)
            .bind(&a.activity_type)
            .bind(a.file_path.as_deref())
            .bind(a.description.as_deref())
            .bind(&meta)
            .bind(&now)
            .fetch_one(&self.writer)
            .await
            .map_err(db_err)?,
            Some(wid) => {
                let wid_s = id_text(wid);
                let mut tx = self.begin().await?;
                let touched = sqlx::query("UPDATE worktrees SET updated_at = ?2 WHERE id = ?1")
                    .bind(&wid_s)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                if touched == 0 {
                    return Err(worktree_not_found(wid));
                }
                let row = sqlx::query(concat!(
                    "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, ",
                    "project_name, worktree_name, activity_type, file_path, description, ",
                    "metadata, created_at) ",
                    "SELECT ?1, ?2, w.id, w.project_id, p.name, w.name, ?3, ?4, ?5, ?6, ?8 ",
                    "FROM worktrees w JOIN projects p ON p.id = w.project_id WHERE w.id = ?7 ",
                    "RETURNING ",
                    activity_cols!()
                ))
                .bind(&id)
                .bind(&a.agent_id)
                .bind(&a.activity_type)
                .bind(a.file_path.as_deref())
                .bind(a.description.as_deref())
                .bind(&meta)
                .bind(&wid_s)
                .bind(&now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .ok_or_else(|| worktree_not_found(wid))?;
                tx.commit().await.map_err(db_err)?;
                row
            }
        };
        rows::read(&row)
    }

    async fn recent_activities_by_agent(
        &self,
        agent_id: &str,
        limit: i64,
    ) -> Result<Vec<Activity>> {
        let limit = Limit::new(limit)?;
        // Ties on the timestamp go to the greater id, as on PostgreSQL (lowercase
        // hyphenated text sorts bytewise like the uuid type); the index
        // agent_activities_agent_created (agent_id, created_at, id) gives this order.
        sqlx::query(concat!(
            "SELECT ",
            activity_cols!(),
            " FROM agent_activities WHERE agent_id = ?1 ",
            "ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))
        .bind(agent_id)
        .bind(limit.get())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(rows::read)
        .collect()
    }

    async fn recent_activities(&self, limit: i64) -> Result<Vec<Activity>> {
        let limit = Limit::new(limit)?;
        sqlx::query(concat!(
            "SELECT ",
            activity_cols!(),
            " FROM agent_activities ORDER BY created_at DESC, id DESC LIMIT ?1"
        ))
        .bind(limit.get())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(rows::read)
        .collect()
    }

    // --- claims -----------------------------------------------------------------------

    async fn try_claim(&self, c: &NewClaim) -> Result<Option<ClaimGrant>> {
        // One transaction, one round trip: the upsert decides (a new tenure, a renewal
        // by the holder, or no row: another agent holds the item, or no such active
        // worktree); a new tenure (it changed the row, and not as a renewal) is then
        // logged as claimed, or stolen when it took over an expired lease. The
        // activity's words and metadata are those of the PostgreSQL function.
        let rows = self
            .write_batch(
                sqlx::query(concat!(
                    "BEGIN IMMEDIATE; ",
                    "INSERT INTO claims AS c (project_id, worktree_name, worktree_id, agent_id, host, ",
                    "epoch, purpose, ttl_seconds, acquired_at, renewed_at, expires_at, released_at, ",
                    "stolen_from) ",
                    "SELECT w.project_id, w.name, w.id, ?2, w.host, 1, ?4, ?3, ",
                    db_now!(),
                    ", NULL, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+' || ?3 || ' seconds'), ",
                    "NULL, NULL FROM worktrees w WHERE w.id = ?1 AND w.active = 1 ",
                    "ON CONFLICT (project_id, worktree_name) DO UPDATE SET ",
                    "epoch = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN c.epoch ELSE c.epoch + 1 END, ",
                    "worktree_id = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN c.worktree_id ELSE excluded.worktree_id END, ",
                    "host = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN c.host ELSE excluded.host END, ",
                    "purpose = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN coalesce(excluded.purpose, c.purpose) ELSE excluded.purpose END, ",
                    "acquired_at = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN c.acquired_at ELSE excluded.acquired_at END, ",
                    "renewed_at = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN excluded.acquired_at ELSE NULL END, ",
                    "stolen_from = CASE WHEN c.released_at IS NULL AND c.agent_id = excluded.agent_id ",
                    "  THEN c.stolen_from WHEN c.released_at IS NULL THEN c.agent_id ELSE NULL END, ",
                    "agent_id = excluded.agent_id, ttl_seconds = excluded.ttl_seconds, ",
                    "expires_at = excluded.expires_at, released_at = NULL ",
                    "WHERE (c.released_at IS NULL AND c.agent_id = excluded.agent_id) ",
                    "OR c.released_at IS NOT NULL OR c.expires_at <= ",
                    db_now!(),
                    " RETURNING ",
                    claim_cols!(),
                    "; ",
                    // changes(): rows the upsert itself wrote (1, or 0 when it was refused;
                    // its event triggers' rows do not count), so this statement must come
                    // right after it
                    "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, ",
                    "project_name, worktree_name, activity_type, description, metadata, created_at) ",
                    "SELECT ?5, c.agent_id, w.id, w.project_id, p.name, w.name, 'claimed', ",
                    "CASE WHEN c.stolen_from IS NULL THEN 'claimed (epoch ' || c.epoch || ')' ",
                    "ELSE 'stolen from ' || c.stolen_from || ' (lease expired; epoch ' || c.epoch || ')' END, ",
                    "json_patch('{}', json_object('claim', CASE WHEN c.stolen_from IS NULL ",
                    "THEN 'claimed' ELSE 'stolen' END, 'epoch', c.epoch, 'purpose', c.purpose, ",
                    "'stolen_from', c.stolen_from, 'ttl_seconds', c.ttl_seconds)), ?6 ",
                    "FROM worktrees w JOIN projects p ON p.id = w.project_id ",
                    "JOIN claims c ON c.project_id = w.project_id AND c.worktree_name = w.name ",
                    "WHERE w.id = ?1 AND changes() = 1 AND c.renewed_at IS NULL; ",
                    "COMMIT"
                ))
                .bind(id_text(c.worktree_id))
                .bind(&c.agent_id)
                .bind(c.ttl_seconds)
                .bind(c.purpose.as_deref())
                .bind(id_text(Uuid::new_v4()))
                .bind(now_text()),
            )
            .await?;
        match rows.first() {
            Some(r) => {
                let claim: Claim = rows::read(r)?;
                let renewed = claim.renewed_at.is_some();
                Ok(Some(ClaimGrant { claim, renewed }))
            }
            None => Ok(None),
        }
    }

    async fn try_renew(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: i64,
        ttl_seconds: Option<i64>,
    ) -> Result<Option<Claim>> {
        let row = sqlx::query(concat!(
            "UPDATE claims SET renewed_at = ",
            db_now!(),
            ", ttl_seconds = coalesce(?4, ttl_seconds), ",
            "expires_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', ",
            "'+' || coalesce(?4, ttl_seconds) || ' seconds') ",
            "WHERE (project_id, worktree_name) = ",
            "(SELECT w.project_id, w.name FROM worktrees w WHERE w.id = ?1) ",
            "AND agent_id = ?2 AND epoch = ?3 AND released_at IS NULL RETURNING ",
            claim_cols!()
        ))
        .bind(id_text(worktree_id))
        .bind(agent_id)
        .bind(epoch)
        .bind(ttl_seconds)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn try_release(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: Option<i64>,
        force: bool,
    ) -> Result<Option<Claim>> {
        // One transaction, one round trip (as try_claim): the release, then its line in
        // the log, naming the holder when another agent forced it.
        let rows = self
            .write_batch(
                sqlx::query(concat!(
                    "BEGIN IMMEDIATE; ",
                    "UPDATE claims SET released_at = ",
                    db_now!(),
                    " WHERE (project_id, worktree_name) = ",
                    "(SELECT w.project_id, w.name FROM worktrees w WHERE w.id = ?1) ",
                    "AND released_at IS NULL AND (?4 OR (agent_id = ?2 AND epoch = ?3)) RETURNING ",
                    claim_cols!(),
                    "; ",
                    "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, ",
                    "project_name, worktree_name, activity_type, description, metadata, created_at) ",
                    "SELECT ?5, ?2, w.id, w.project_id, p.name, w.name, 'released', ",
                    "CASE WHEN ?4 AND c.agent_id <> ?2 THEN 'released the claim of ' || c.agent_id ",
                    "|| ' (forced; epoch ' || c.epoch || ')' ",
                    "ELSE 'released (epoch ' || c.epoch || ')' END, ",
                    "json_object('epoch', c.epoch, 'forced', json(CASE WHEN ?4 AND c.agent_id <> ?2 ",
                    "THEN 'true' ELSE 'false' END), 'holder', c.agent_id), ?6 ",
                    "FROM worktrees w JOIN projects p ON p.id = w.project_id ",
                    "JOIN claims c ON c.project_id = w.project_id AND c.worktree_name = w.name ",
                    "WHERE w.id = ?1 AND changes() = 1; ",
                    "COMMIT"
                ))
                .bind(id_text(worktree_id))
                .bind(agent_id)
                .bind(epoch)
                .bind(force)
                .bind(id_text(Uuid::new_v4()))
                .bind(now_text()),
            )
            .await?;
        rows.first().map(rows::read).transpose()
    }

    async fn get_claim(&self, worktree_id: Uuid) -> Result<Option<Claim>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            claim_cols!(),
            " FROM claims WHERE (project_id, worktree_name) = ",
            "(SELECT w.project_id, w.name FROM worktrees w WHERE w.id = ?1)"
        ))
        .bind(id_text(worktree_id))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn claim_target(&self, worktree_id: Uuid) -> Result<Option<ClaimTarget>> {
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT name, active FROM worktrees WHERE id = ?1")
                .bind(id_text(worktree_id))
                .fetch_optional(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(row.map(|(name, active)| ClaimTarget { name, active }))
    }

    async fn list_claims(&self, filter: &ClaimFilter) -> Result<Vec<Claim>> {
        let found = sqlx::query(concat!(
            "SELECT * FROM (SELECT ",
            claim_cols!(),
            " FROM claims WHERE (?1 IS NULL OR project_id = ?1)) ",
            "WHERE held OR ?2 ORDER BY project_name, worktree_name"
        ))
        .bind(filter.project_id.map(id_text))
        .bind(filter.include_ended)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::read).collect()
    }

    // --- events -------------------------------------------------------------------

    async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        filter.validate()?;
        // the type filter as a JSON array of LIKE patterns (one bind for any number)
        let types = serde_json::to_string(&filter.like_patterns()).map_err(|e| {
            imi_core::Error::internal(format!("encoding the event type filter: {e}"))
        })?;
        // after an id: ascending from it; else the latest, read backwards and turned
        // around (each an index range on the primary key)
        let sql = if filter.after.is_some() {
            concat!(event_select!(), " AND id > ?1 ORDER BY id LIMIT ?4")
        } else {
            concat!(event_select!(), " AND ?1 IS NULL ORDER BY id DESC LIMIT ?4")
        };
        let mut found = sqlx::query(sql)
            .bind(filter.after)
            .bind(filter.project_id.map(id_text))
            .bind(types)
            .bind(filter.limit)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        if filter.after.is_none() {
            found.reverse();
        }
        found.iter().map(rows::read).collect()
    }

    async fn last_event_id(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn event_waiter(&self) -> Result<PollWaiter> {
        Ok(PollWaiter(EVENT_POLL))
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
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        found.as_ref().map(rows::read).transpose()
    }

    async fn approve_hook(&self, a: &NewHookApproval) -> Result<HookApproval> {
        a.validate()?;
        let hash = a.hash();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO hook_approvals (project_key, command_hash, command, approved_by, approved_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (project_key, command_hash) DO NOTHING",
        )
        .bind(&a.project_key)
        .bind(&hash)
        .bind(&a.command)
        .bind(&a.approved_by)
        .bind(now_text())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let row = sqlx::query(approval_by_key!())
            .bind(&a.project_key)
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows::read(&row)
    }

    async fn revoke_hook(&self, project_key: &str, command_hash: &str) -> Result<bool> {
        let n =
            sqlx::query("DELETE FROM hook_approvals WHERE project_key = ?1 AND command_hash = ?2")
                .bind(project_key)
                .bind(command_hash)
                .execute(&self.writer)
                .await
                .map_err(db_err)?
                .rows_affected();
        Ok(n > 0)
    }

    async fn list_hook_approvals(&self, project_key: Option<&str>) -> Result<Vec<HookApproval>> {
        sqlx::query(
            "SELECT project_key, command_hash, command, approved_by, approved_at FROM hook_approvals \
             WHERE ?1 IS NULL OR project_key = ?1 ORDER BY project_key, command",
        )
        .bind(project_key)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(rows::read)
        .collect()
    }

    // --- API tokens --------------------------------------------------------------------

    async fn insert_api_token(&self, t: &NewApiToken) -> Result<Option<ApiToken>> {
        let row = sqlx::query(concat!(
            "INSERT INTO api_tokens (id, name, scope, token_hash, created_by, created_at, ",
            "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ",
            db_now!(),
            ", CASE WHEN ?6 IS NULL THEN NULL ",
            "ELSE strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+' || ?6 || ' seconds') END) ",
            "ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING RETURNING ",
            token_cols!()
        ))
        .values(t)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        row.as_ref().map(rows::read).transpose()
    }

    async fn api_token_for_check(&self, id: &str) -> Result<Option<(ApiToken, String)>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            ", token_hash FROM api_tokens WHERE id = ?1 AND ",
            token_usable!()
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        found.as_ref().map(rows::read).transpose()
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            " FROM api_tokens WHERE revoked_at IS NULL ORDER BY name"
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(rows::read)
        .collect()
    }

    async fn revoke_api_token(&self, name: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(concat!(
            "UPDATE api_tokens SET revoked_at = ",
            db_now!(),
            " WHERE name = ?1 AND revoked_at IS NULL RETURNING ",
            token_cols!()
        ))
        .bind(name)
        .fetch_optional(&self.writer)
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
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)
    }

    // --- derived ------------------------------------------------------------------

    async fn inflight(&self, project_id: Option<Uuid>) -> Result<Vec<InflightWork>> {
        // The rows come back as one JSON array built by SQLite: one round trip to the
        // connection's worker thread instead of one hand-off per row. Ordered (by
        // updated_at desc, id) in Rust: cheaper than an ordered aggregate.
        macro_rules! head {
            () => {
                "SELECT json_group_array(json_array(w.id, w.project_id, p.name, w.name, \
                 w.branch_name, w.path, w.host, w.uncommitted_files_count, w.ahead_of_trunk, \
                 w.behind_trunk, w.agent_id, w.last_sync_at, w.updated_at)) \
                 FROM worktrees w JOIN projects p ON p.id = w.project_id WHERE "
            };
        }
        let text: String = match project_id {
            None => {
                sqlx::query_scalar(concat!(head!(), inflight_pred!("w.")))
                    .fetch_one(&self.reader)
                    .await
            }
            Some(p) => {
                sqlx::query_scalar(concat!(
                    head!(),
                    "w.project_id = ?1 AND ",
                    inflight_pred!("w.")
                ))
                .bind(id_text(p))
                .fetch_one(&self.reader)
                .await
            }
        }
        .map_err(db_err)?;
        rows::inflight_json(&text)
    }

    async fn project_trunk(&self, project_id: Uuid) -> Result<Option<(String, bool)>> {
        sqlx::query_as("SELECT trunk_path, active FROM projects WHERE id = ?1")
            .bind(id_text(project_id))
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn stats(&self) -> Result<RegistryStats> {
        let row = sqlx::query(concat!(
            "SELECT (SELECT count(*) FROM projects) AS total_projects, ",
            "(SELECT count(*) FROM projects WHERE active = 1) AS active_projects, ",
            "(SELECT count(*) FROM worktrees) AS total_worktrees, ",
            "(SELECT count(*) FROM worktrees WHERE active = 1) AS active_worktrees, ",
            "(SELECT count(*) FROM worktrees WHERE ",
            inflight_pred!(""),
            ") AS in_flight_worktrees, ",
            "(SELECT count(*) FROM agent_activities) AS total_activities, ",
            "(SELECT count(*) FROM agent_activities WHERE created_at > ?1) ",
            "AS activities_last_24h"
        ))
        .bind(days_ago_text(Days::new("days", 1)?))
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        rows::read(&row)
    }

    // --- retention ----------------------------------------------------------------

    async fn cleanup_old_activities(&self, retention_days: i32) -> Result<i64> {
        let days = Days::new("retention days", retention_days)?;
        let cutoff = days_ago_text(days);
        // the event log is kept as long as the activities (SPEC §7.2), in one transaction
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM agent_activities WHERE created_at < ?1")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        sqlx::query("DELETE FROM events WHERE created_at < ?1")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n as i64)
    }

    async fn prune_inactive_worktrees(&self, inactive_days: i32) -> Result<i64> {
        let days = Days::new("inactive days", inactive_days)?;
        let n = sqlx::query("DELETE FROM worktrees WHERE active = 0 AND updated_at < ?1")
            .bind(days_ago_text(days))
            .execute(&self.writer)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(n as i64)
    }

    // --- moving data ----------------------------------------------------------------

    async fn export_snapshot(&self) -> Result<imi_core::RegistrySnapshot> {
        // one read transaction: a consistent view of all four tables
        let reader = async { Ok(snapshot::SnapTx(self.reader.begin().await.map_err(db_err)?)) };
        imi_core::snapshot::export(reader).await
    }

    async fn import_snapshot(
        &self,
        input: &imi_core::RegistrySnapshot,
        opts: imi_core::ImportOptions,
    ) -> Result<imi_core::ImportReport> {
        let writer = async { Ok(snapshot::SnapTx(self.begin().await?)) };
        imi_core::snapshot::import(input, opts, writer).await
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn git_state_query<'q>(returning: &'static str, id: Uuid, s: &'q GitState) -> SqliteQuery<'q> {
    // Two fixed statements (with and without RETURNING); chosen, never formatted.
    const BASE: &str = concat!(
        "UPDATE worktrees SET ",
        "uncommitted_files_count = coalesce(?1, uncommitted_files_count), ",
        "has_uncommitted_changes = (coalesce(?1, uncommitted_files_count) > 0), ",
        "ahead_of_trunk = coalesce(?2, ahead_of_trunk), ",
        "behind_trunk = coalesce(?3, behind_trunk), ",
        "last_commit_hash = coalesce(?4, last_commit_hash), ",
        "last_commit_message = coalesce(?5, last_commit_message), ",
        "last_sync_at = ?7, updated_at = ?7 WHERE id = ?6"
    );
    const WITH_RETURNING: &str = concat!(
        "UPDATE worktrees SET ",
        "uncommitted_files_count = coalesce(?1, uncommitted_files_count), ",
        "has_uncommitted_changes = (coalesce(?1, uncommitted_files_count) > 0), ",
        "ahead_of_trunk = coalesce(?2, ahead_of_trunk), ",
        "behind_trunk = coalesce(?3, behind_trunk), ",
        "last_commit_hash = coalesce(?4, last_commit_hash), ",
        "last_commit_message = coalesce(?5, last_commit_message), ",
        "last_sync_at = ?7, updated_at = ?7 WHERE id = ?6 RETURNING ",
        worktree_cols!()
    );
    let sql = if returning.is_empty() {
        BASE
    } else {
        WITH_RETURNING
    };
    sqlx::query(sql)
        .bind(s.uncommitted_count)
        .bind(s.ahead)
        .bind(s.behind)
        .bind(s.last_commit_hash.as_deref())
        .bind(s.last_commit_message.as_deref())
        .bind(id_text(id))
        .bind(now_text())
}

async fn row_exists(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &'static str,
    id: &str,
) -> Result<bool> {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)
}

fn target_id(target: MetadataTarget) -> String {
    match target {
        MetadataTarget::Project(id) | MetadataTarget::Worktree(id) => id_text(id),
    }
}

/// The statements that read and write `target`'s metadata (chosen, never formatted).
fn metadata_sql(target: MetadataTarget) -> (&'static str, &'static str) {
    match target {
        MetadataTarget::Project(_) => (
            "SELECT metadata FROM projects WHERE id = ?1",
            "UPDATE projects SET metadata = ?1, updated_at = ?3 WHERE id = ?2",
        ),
        MetadataTarget::Worktree(_) => (
            "SELECT metadata FROM worktrees WHERE id = ?1",
            "UPDATE worktrees SET metadata = ?1, updated_at = ?3 WHERE id = ?2",
        ),
    }
}
