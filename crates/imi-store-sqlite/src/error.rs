//! Translation of driver errors into `imi_core::Error` (docs/store-semantics.md,
//! last section): unique violation `CONFLICT`; check / not-null / bad value
//! `VALIDATION_ERROR`; busy, I/O, cannot-open and friends `REGISTRY_UNAVAILABLE`;
//! anything else `INTERNAL_ERROR`.

use imi_core::Error;
use imi_core::store::{RegistryFault, registry_fault};
use sqlx::migrate::MigrateError;

// Extended result codes (https://www.sqlite.org/rescode.html).
const SQLITE_CONSTRAINT_CHECK: i32 = 275;
const SQLITE_CONSTRAINT_NOTNULL: i32 = 1299;
const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
const SQLITE_CONSTRAINT_FOREIGNKEY: i32 = 787;
/// `RAISE(ABORT, ...)` in a trigger: the schema's input rules (migration 0002).
const SQLITE_CONSTRAINT_TRIGGER: i32 = 1811;
// Primary result codes.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_PROTOCOL: i32 = 15;
const SQLITE_TOOBIG: i32 = 18;
const SQLITE_MISMATCH: i32 = 20;
const SQLITE_RANGE: i32 = 25;
const SQLITE_NOTADB: i32 = 26;

/// The SQLite extended result code of a database error, if it is one.
pub(crate) fn sqlite_code(e: &sqlx::Error) -> Option<i32> {
    match e {
        sqlx::Error::Database(d) => d.code().and_then(|c| c.parse::<i32>().ok()),
        _ => None,
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(
        sqlite_code(e),
        Some(SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

pub(crate) fn db_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) => {
            let msg = d.message();
            let code = sqlite_code(&e).unwrap_or(0);
            match code {
                SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY => {
                    Error::conflict(format!("already registered ({msg})"))
                        .with_hint("look the existing record up instead of adding it again")
                }
                SQLITE_CONSTRAINT_CHECK | SQLITE_CONSTRAINT_NOTNULL => {
                    Error::validation(format!("invalid value ({msg})"))
                }
                SQLITE_CONSTRAINT_TRIGGER => Error::validation(msg.to_string())
                    .with_hint("fix the value; nothing was written"),
                SQLITE_CONSTRAINT_FOREIGNKEY => {
                    Error::internal(format!("registry reference broken ({msg})"))
                }
                _ => match code & 0xff {
                    SQLITE_TOOBIG | SQLITE_MISMATCH | SQLITE_RANGE => {
                        Error::validation(format!("invalid value ({msg})"))
                    }
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_PROTOCOL => {
                        registry_fault(RegistryFault::Busy, msg)
                    }
                    SQLITE_FULL => registry_fault(RegistryFault::DiskFull, msg),
                    SQLITE_IOERR => registry_fault(RegistryFault::Io, msg),
                    SQLITE_READONLY => registry_fault(RegistryFault::ReadOnly, msg),
                    SQLITE_CANTOPEN => registry_fault(RegistryFault::CannotOpen, msg),
                    SQLITE_CORRUPT | SQLITE_NOTADB => registry_fault(RegistryFault::Corrupt, msg),
                    _ => Error::internal(format!("registry error ({msg})")),
                },
            }
        }
        sqlx::Error::Io(io) => registry_fault(RegistryFault::Io, &io.to_string()),
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("timed out waiting for a registry connection")
                .with_hint("the registry is busy; retry")
        }
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Error::unavailable(format!("registry connection lost: {e}"))
        }
        sqlx::Error::Configuration(c) => {
            Error::unavailable(format!("registry configuration is invalid: {c}"))
        }
        _ => Error::internal(format!("registry error: {e}")),
    }
}

pub(crate) fn migrate_err(e: MigrateError) -> Error {
    match e {
        MigrateError::Execute(e) => db_err(e),
        MigrateError::ExecuteMigration(e, v) => imi_core::migration_failed(v, db_err(e)),
        other => Error::unavailable(format!("registry schema cannot be migrated: {other}"))
            .with_hint("the registry was changed by another imi version; see imi db status"),
    }
}
