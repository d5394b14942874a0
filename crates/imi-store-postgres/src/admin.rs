//! Registry administration: schema version and migrations, roles, reset, maintenance.

use imi_core::{Error, Result, SchemaStatus};
use sqlx::migrate::Migrator;

use crate::PgStore;
use crate::error::{db_err, migrate_err};

/// The migrations of this binary (`migrations/`), embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Every function the migrations create (reset drops them; roles revoke PUBLIC access).
pub(crate) const IMI_FUNCTIONS: &[&str] = &[
    "imi_trim",
    "imi_ascii_lower",
    "imi_local_key",
    "imi_redact_remote",
    "imi_parse_remote",
    "imi_origin_key",
    "imi_sanitize_remote",
    "imi_check_worktree_name",
    "imi_work_status",
    "imi_touch_updated_at",
    "imi_sync_has_uncommitted",
    "imi_register_project",
    "register_project",
    "imi_project_by_origin",
    "get_project_by_origin",
    "deactivate_project",
    "search_projects",
    "imi_register_worktree",
    "register_worktree",
    "imi_update_git_state",
    "update_worktree_git_state",
    "imi_mark_worktree_merged",
    "mark_worktree_merged",
    "imi_worktree_by_path",
    "get_worktree_by_path",
    "get_project_working_path",
    "get_inflight_work",
    "imi_log_activity",
    "log_activity",
    "get_agent_recent_work",
    "get_registry_stats",
    "cleanup_old_activities",
    "prune_inactive_worktrees",
    "imi_path_component_problem",
    "imi_metadata_problem",
    "imi_check_metadata",
    "imi_check_len",
    "imi_projects_input_rules",
    "imi_worktrees_input_rules",
    "imi_worktree_types_input_rules",
    "imi_activities_input_rules",
    "imi_caller_host",
    "update_updated_at_column",
    "sync_uncommitted_changes",
    "maintenance_vacuum",
    "imi_projects_identity",
    "imi_activities_names",
    "imi_default_trunk_path",
    "imi_claim_worktree",
    "imi_renew_claim",
    "imi_release_claim",
    "claim_worktree",
    "renew_claim",
    "release_claim",
    "imi_emit_event",
    "imi_events_of_projects",
    "imi_events_of_worktrees",
    "imi_events_of_claims",
    "imi_events_of_activities",
    "imi_events_of_types",
    "imi_events_of_hook_approvals",
];

/// Functions that only read: `imi_reader` may call these and no others.
pub(crate) const READ_ONLY_FUNCTIONS: &[&str] = &[
    "imi_trim",
    "imi_ascii_lower",
    "imi_local_key",
    "imi_redact_remote",
    "imi_parse_remote",
    "imi_origin_key",
    "imi_sanitize_remote",
    "imi_check_worktree_name",
    "imi_path_component_problem",
    "imi_metadata_problem",
    "imi_work_status",
    "imi_project_by_origin",
    "get_project_by_origin",
    "search_projects",
    "imi_worktree_by_path",
    "get_worktree_by_path",
    "get_project_working_path",
    "get_inflight_work",
    "get_agent_recent_work",
    "get_registry_stats",
    "imi_caller_host",
    "imi_default_trunk_path",
];

const ROLES_SQL: &str = r#"
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['imi_reader', 'imi_auditor', 'imi_writer'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created meanwhile by another session (roles are cluster-wide)
      END;
    END IF;
  END LOOP;
END
$roles$;
"#;

const GRANTS_SQL: &str = r#"
SELECT pg_temp.imi_grant_roles_tmp($1, $2)
"#;

/// Created in `pg_temp` for the duration of one `create_roles` call, so that the
/// grant logic runs server-side in one round trip without leaving anything behind.
const GRANTS_FN: &str = r#"
CREATE OR REPLACE FUNCTION pg_temp.imi_grant_roles_tmp(p_all text[], p_read text[]) RETURNS void
LANGUAGE plpgsql AS $grants$
DECLARE
  s text := current_schema();
  f regprocedure;
  is_read boolean;
BEGIN
  IF s IS NULL THEN
    RAISE EXCEPTION 'no current schema' USING ERRCODE = '3F000';
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO imi_reader, imi_auditor, imi_writer', s);

  -- tables and views
  EXECUTE format('REVOKE ALL ON %I.projects, %I.worktree_types, %I.worktrees, %I.agent_activities, '
                 '%I.v_projects_summary, %I.v_worktrees_detail, %I.v_inflight_work, %I.v_recent_agent_activity '
                 'FROM PUBLIC, imi_reader, imi_auditor', s, s, s, s, s, s, s, s);
  EXECUTE format('GRANT SELECT ON %I.projects, %I.worktree_types, %I.worktrees, %I.agent_activities, '
                 '%I.v_projects_summary, %I.v_worktrees_detail, %I.v_inflight_work, %I.v_recent_agent_activity '
                 'TO imi_reader, imi_writer', s, s, s, s, s, s, s, s);
  EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I.projects, %I.worktree_types, %I.worktrees, %I.agent_activities '
                 'TO imi_writer', s, s, s, s);
  -- claims (migration 6; a registry may be older when roles are created)
  IF to_regclass(format('%I.claims', s)) IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON %I.claims, %I.v_claims FROM PUBLIC, imi_reader, imi_auditor', s, s);
    EXECUTE format('GRANT SELECT ON %I.claims, %I.v_claims TO imi_reader, imi_writer', s, s);
    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I.claims TO imi_writer', s);
  END IF;
  -- the event log (migration 7): read by all, written by its triggers only
  IF to_regclass(format('%I.events', s)) IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON %I.events, %I.event_counter FROM PUBLIC, imi_reader, imi_auditor, imi_writer', s, s);
    EXECUTE format('GRANT SELECT ON %I.events TO imi_reader, imi_writer', s);
    EXECUTE format('GRANT DELETE ON %I.events TO imi_writer', s);
  END IF;
  -- hook approvals (migration 8)
  IF to_regclass(format('%I.hook_approvals', s)) IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON %I.hook_approvals FROM PUBLIC, imi_reader, imi_auditor', s);
    EXECUTE format('GRANT SELECT ON %I.hook_approvals TO imi_reader, imi_writer', s);
    EXECUTE format('GRANT INSERT, DELETE ON %I.hook_approvals TO imi_writer', s);
  END IF;
  -- API tokens (migration 9): the server's business only; hashes are not for readers
  IF to_regclass(format('%I.api_tokens', s)) IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON %I.api_tokens FROM PUBLIC, imi_reader, imi_auditor', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.api_tokens TO imi_writer', s);
  END IF;
  EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO imi_writer',
                 pg_get_serial_sequence(format('%I.worktree_types', s), 'id'));
  IF to_regclass(format('%I._sqlx_migrations', s)) IS NOT NULL THEN
    EXECUTE format('GRANT SELECT ON %I._sqlx_migrations TO imi_writer', s);
  END IF;

  -- functions: nobody but the owner by default, then per role
  FOR f, is_read IN
    SELECT p.oid::regprocedure, p.proname = ANY (p_read)
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = s AND p.proname = ANY (p_all)
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, imi_reader, imi_auditor', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO imi_writer', f);
    IF is_read THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO imi_reader', f);
    END IF;
  END LOOP;
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.log_activity(text, uuid, text, text, text, jsonb) TO imi_auditor', s);
END
$grants$;
"#;

const RESET_SQL: &str = r#"
DROP VIEW IF EXISTS v_claims, v_recent_agent_activity, v_inflight_work, v_worktrees_detail, v_projects_summary;
DROP TABLE IF EXISTS api_tokens, hook_approvals, events, event_counter, claims, agent_activities, worktrees, worktree_types, projects, _sqlx_migrations CASCADE;
"#;

const DROP_FUNCTIONS_SQL: &str = r#"
SELECT p.oid::regprocedure::text
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema()
   AND p.proname = ANY ($1)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
"#;

impl PgStore {
    /// Applied versions compared with the embedded migrator. A database without the
    /// migrations table is at version 0.
    pub(crate) async fn schema_status_impl(&self) -> Result<SchemaStatus> {
        let applied: Vec<i64> = match sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(self.db())
        .await
        {
            Ok(v) => v,
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => return Err(db_err(e)),
        };
        let up = |m: &sqlx::migrate::Migration| m.migration_type.is_up_migration();
        let known = MIGRATOR.iter().filter(|m| up(m)).map(|m| m.version);
        Ok(SchemaStatus::compare("postgres", &applied, known))
    }

    /// Applies pending migrations under sqlx's advisory lock (safe when several
    /// processes migrate at once); refuses a registry newer than this binary.
    pub(crate) async fn migrate_impl(&self) -> Result<SchemaStatus> {
        let status = self.schema_status_impl().await?;
        status.check_not_newer()?;
        if status.pending.is_empty() {
            return Ok(status);
        }
        if self.pooling == crate::Pooling::Transaction {
            // sqlx's migrator holds a session-level advisory lock across statements: a
            // transaction pooler would run the unlock on another server connection and
            // leave the lock held
            return Err(Error::unavailable(format!(
                "the registry needs migrations {:?}, which cannot run through a \
                 transaction-pooling PgBouncer",
                status.pending
            ))
            .with_hint(
                "run `imi db migrate` once with a URL that reaches PostgreSQL directly \
                 (without ?pgbouncer=true), then use the PgBouncer URL again",
            ));
        }
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        if let Err(e) = MIGRATOR.run_direct(&mut *conn).await {
            // a failed run may leave the advisory lock held: never reuse this connection
            conn.close_on_drop();
            return Err(migrate_err(e));
        }
        drop(conn);
        self.schema_status_impl().await
    }

    /// Creates `imi_reader`, `imi_auditor` and `imi_writer` (NOLOGIN: an administrator
    /// grants them to login users, e.g. `GRANT imi_writer TO app_user`) and sets their
    /// rights on imi's objects in the current schema:
    ///
    /// - `imi_reader`: USAGE on the schema, SELECT on the four tables and four views,
    ///   EXECUTE on the read-only functions only;
    /// - `imi_auditor`: USAGE and EXECUTE on `log_activity` only (it is SECURITY
    ///   DEFINER, so no table rights are needed);
    /// - `imi_writer`: SELECT/INSERT/UPDATE/DELETE on the tables, the types sequence,
    ///   EXECUTE on every imi function; SELECT/INSERT/UPDATE on `api_tokens`, which
    ///   the other two roles cannot read.
    ///
    /// EXECUTE on imi's functions is revoked from PUBLIC first so these boundaries hold
    /// (extension functions such as pg_trgm's are left alone). Idempotent, and safe when
    /// run at once from several databases of one cluster. Needs a user that may create
    /// roles; run it again after upgrading imi so new functions get their grants.
    pub async fn create_roles(&self) -> Result<()> {
        sqlx::raw_sql(ROLES_SQL)
            .execute(self.db())
            .await
            .map_err(db_err)?;
        let mut tx = self.db().begin().await?;
        sqlx::raw_sql(GRANTS_FN)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        sqlx::query(GRANTS_SQL)
            .bind(IMI_FUNCTIONS)
            .bind(READ_ONLY_FUNCTIONS)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        sqlx::raw_sql("DROP FUNCTION pg_temp.imi_grant_roles_tmp(text[], text[])")
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        tx.commit().await
    }

    /// Drops every imi object of the current schema: views, tables (with their data),
    /// functions and the `_sqlx_migrations` table. Leaves the pg_trgm extension and the
    /// roles. For test set-ups (`imi db reset --yes`); never implicit.
    pub async fn reset(&self) -> Result<()> {
        let mut tx = self.db().begin().await?;
        sqlx::raw_sql(RESET_SQL)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        let functions: Vec<String> = sqlx::query_scalar(DROP_FUNCTIONS_SQL)
            .bind(IMI_FUNCTIONS)
            .fetch_all(&mut tx)
            .await
            .map_err(db_err)?;
        for f in functions {
            // `f` is a regprocedure rendered by PostgreSQL itself (quoted as needed),
            // not user input.
            sqlx::raw_sql(&format!("DROP FUNCTION IF EXISTS {f} CASCADE"))
                .execute(&mut tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await
    }

    /// Routine maintenance that cannot run inside a function: `VACUUM (ANALYZE)` of the
    /// four tables (outside any transaction).
    pub async fn maintain(&self) -> Result<()> {
        sqlx::raw_sql(
            "VACUUM (ANALYZE) projects, worktree_types, worktrees, agent_activities, claims",
        )
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

/// The error when nothing listens where `options` point (connection refused, or no
/// socket file): a server that is down, not one that is starting or slow. `None`
/// when something answers or the probe cannot tell.
pub(crate) async fn nothing_listens(
    options: &sqlx::postgres::PgConnectOptions,
) -> Option<std::io::Error> {
    use std::io::ErrorKind::{ConnectionRefused, NotFound};
    let port = options.get_port();
    let probed = match options.get_socket() {
        Some(dir) => tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
            .await
            .map(drop),
        None => tokio::net::TcpStream::connect((options.get_host(), port))
            .await
            .map(drop),
    };
    match probed {
        Err(e) if matches!(e.kind(), ConnectionRefused | NotFound) => Some(e),
        _ => None,
    }
}
