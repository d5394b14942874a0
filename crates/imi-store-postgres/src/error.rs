//! Driver errors to `imi_core::Error` (docs/store-semantics.md, last section).
//! Messages never contain a password: connection URLs are redacted and
//! configuration errors (which may echo the URL) are not passed through.

use imi_core::store::{RegistryFault, registry_fault};
use imi_core::{Error, ErrorKind};
use sqlx::migrate::MigrateError;
use sqlx::postgres::PgDatabaseError;

/// Translates a sqlx error.
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = db.message().to_string();
            if let Some(fault) = fault_of(&code) {
                // imi's next step, not the server's hint (written for its admin)
                return registry_fault(fault, &message);
            }
            let constraint = db.constraint().map(str::to_string);
            let db_hint = db
                .try_downcast_ref::<PgDatabaseError>()
                .and_then(|p| p.hint())
                .map(str::to_string);
            let (kind, message, hint) = classify(&code, message, constraint.as_deref());
            let mut err = Error::new(kind, message);
            if let Some(h) = db_hint.or(hint) {
                err = err.with_hint(h);
            }
            err
        }
        sqlx::Error::Io(io) => connection_lost(&format!("I/O error talking to PostgreSQL: {io}")),
        sqlx::Error::Tls(t) => connection_lost(&format!("TLS error talking to PostgreSQL: {t}")),
        sqlx::Error::PoolTimedOut => connection_lost(
            "timed out waiting for a PostgreSQL connection (server down or overloaded?)",
        ),
        sqlx::Error::PoolClosed => connection_lost("the PostgreSQL connection pool is closed"),
        sqlx::Error::WorkerCrashed => {
            connection_lost("the PostgreSQL connection worker stopped unexpectedly")
        }
        sqlx::Error::Protocol(p) => {
            connection_lost(&format!("unexpected reply from PostgreSQL: {p}"))
        }
        sqlx::Error::Configuration(_) => Error::validation(
            "invalid PostgreSQL connection settings",
        )
        .with_hint("check the database URL (postgres://user@host:5432/dbname) and PG* variables"),
        sqlx::Error::RowNotFound => Error::not_found("no such row"),
        sqlx::Error::Migrate(m) => migrate_err(*m),
        other => Error::internal(format!("PostgreSQL: {other}")),
    }
}

fn connection_lost(detail: &str) -> Error {
    registry_fault(RegistryFault::ConnectionLost, detail)
}

/// The registry's own faults by SQLSTATE (the storage or the server failed, not the
/// command): `REGISTRY_UNAVAILABLE`, never `INTERNAL_ERROR`.
fn fault_of(code: &str) -> Option<RegistryFault> {
    Some(match code {
        // disk_full
        "53100" => RegistryFault::DiskFull,
        // out_of_memory, too_many_connections, configuration_limit_exceeded, ...
        c if c.starts_with("53") => RegistryFault::ServerExhausted,
        // connection_exception (08xxx); admin_shutdown, crash_shutdown,
        // cannot_connect_now, database_dropped, idle_session_timeout (57P0x)
        c if c.starts_with("08") || c.starts_with("57P") => RegistryFault::ConnectionLost,
        // read_only_sql_transaction (a standby, or default_transaction_read_only)
        "25006" => RegistryFault::ReadOnly,
        // system_error, io_error, undefined_file, duplicate_file (class 58)
        c if c.starts_with("58") => RegistryFault::Io,
        _ => return None,
    })
}

fn classify(
    code: &str,
    message: String,
    constraint: Option<&str>,
) -> (ErrorKind, String, Option<String>) {
    match code {
        "23505" => {
            let (m, h) = match constraint {
                Some("projects_origin_key_active_key") => (
                    "another active project already has this remote".to_string(),
                    Some(
                        "register it again to update it, or deactivate the other project"
                            .to_string(),
                    ),
                ),
                Some("worktrees_project_id_name_key") => (
                    "a worktree of this name is already registered in this project".to_string(),
                    Some("choose another name, or remove the existing worktree".to_string()),
                ),
                Some("worktrees_host_path_active_key") => (
                    "another active worktree is registered at this path on this host".to_string(),
                    Some("remove that worktree first, or choose another path".to_string()),
                ),
                Some("worktree_types_name_key") => (
                    "a worktree type of this name already exists".to_string(),
                    Some("see the known types with `imi types list`".to_string()),
                ),
                _ => (message, None),
            };
            (ErrorKind::Conflict, m, h)
        }
        // A row still referenced (e.g. a type used by a worktree that appeared meanwhile).
        "23503" => (
            ErrorKind::Conflict,
            message,
            Some("something still refers to this record; remove that first".to_string()),
        ),
        "23502" | "23514" => {
            let m = match constraint {
                Some(c) if c.ends_with("_non_negative") => {
                    format!("{} must not be negative", column_of(c, "_non_negative"))
                }
                Some(c) if c.ends_with("_not_empty") => {
                    format!("{} is empty", column_of(c, "_not_empty"))
                }
                Some(c) if c.ends_with("_metadata_object") => {
                    "metadata must be a JSON object".to_string()
                }
                Some("agent_activities_activity_type_known") => "unknown activity type".to_string(),
                _ => message,
            };
            (ErrorKind::Validation, m, None)
        }
        c if c.starts_with("22") => (ErrorKind::Validation, message, None),
        "P0002" => (ErrorKind::NotFound, message, None),
        // duplicate_prepared_statement, invalid_sql_statement_name: another client's
        // statement of the same name, or ours gone: a transaction pooler in between
        "42P05" | "26000" => (
            ErrorKind::Unavailable,
            format!("the connection lost its prepared statements ({message})"),
            Some(
                "this looks like a transaction-pooling PgBouncer: add ?pgbouncer=true to the \
                 database URL (or connect to PostgreSQL directly)"
                    .to_string(),
            ),
        ),
        "42P01" | "42883" | "3F000" => (
            ErrorKind::Unavailable,
            format!("the registry schema is missing or incomplete: {message}"),
            Some("run `imi db migrate`".to_string()),
        ),
        "42501" => (
            ErrorKind::Internal,
            format!("PostgreSQL refused: {message}"),
            Some("the database user needs the imi_writer role (see `imi db roles`)".to_string()),
        ),
        _ => (
            ErrorKind::Internal,
            format!("PostgreSQL error {code}: {message}"),
            None,
        ),
    }
}

/// `worktrees_uncommitted_files_count_non_negative` -> `uncommitted_files_count`.
fn column_of(constraint: &str, suffix: &str) -> String {
    let body = constraint.strip_suffix(suffix).unwrap_or(constraint);
    for table in [
        "agent_activities_",
        "worktree_types_",
        "worktrees_",
        "projects_",
    ] {
        if let Some(col) = body.strip_prefix(table) {
            return col.replace('_', " ");
        }
    }
    body.replace('_', " ")
}

pub(crate) fn migrate_err(e: MigrateError) -> Error {
    match e {
        MigrateError::Execute(e) => db_err(e),
        MigrateError::ExecuteMigration(e, v) => imi_core::migration_failed(v, db_err(e)),
        MigrateError::VersionMissing(v) => Error::unavailable(format!(
            "the registry has migration {v}, which this imi does not know"
        ))
        .with_hint("upgrade imi to a version that knows this schema"),
        MigrateError::VersionMismatch(v) => Error::unavailable(format!(
            "migration {v} in the registry differs from the one in this imi"
        ))
        .with_hint("the registry was migrated by a different build of imi; use that build"),
        MigrateError::Dirty(v) => {
            Error::unavailable(format!("migration {v} was left partially applied")).with_hint(
                "restore the registry from a backup, or `imi db reset --yes` for a test registry",
            )
        }
        other => Error::internal(format!("migration failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_faults_by_sqlstate() {
        use RegistryFault::*;
        for (code, fault) in [
            ("53100", Some(DiskFull)),
            ("53200", Some(ServerExhausted)),
            ("53300", Some(ServerExhausted)),
            ("08006", Some(ConnectionLost)),
            ("08001", Some(ConnectionLost)),
            ("57P01", Some(ConnectionLost)),
            ("57P03", Some(ConnectionLost)),
            ("25006", Some(ReadOnly)),
            ("58030", Some(Io)),
            ("23505", None),
            ("42501", None),
            ("57014", None),
        ] {
            assert_eq!(fault_of(code), fault, "{code}");
        }
    }

    #[test]
    fn column_names() {
        assert_eq!(
            column_of(
                "worktrees_uncommitted_files_count_non_negative",
                "_non_negative"
            ),
            "uncommitted files count"
        );
        assert_eq!(column_of("projects_name_not_empty", "_not_empty"), "name");
    }
}
