//! `imi db ...`: registry administration.

use imi_core::{Error, Result, SchemaStatus, Store};
use serde_json::json;

use crate::cli::{DbCommand, MaintainArgs};
use crate::config::Settings;
use crate::dburl::DatabaseTarget;
use crate::registry::{AnyStore, with_store};
use crate::ui::Output;
use imi_core::redact;

pub async fn cmd_db(settings: &Settings, cmd: &DbCommand, json: bool) -> Result<Output> {
    match cmd {
        DbCommand::Migrate => migrate(settings).await,
        DbCommand::Status => status(settings).await,
        DbCommand::Shell => shell(settings),
        DbCommand::Maintain(args) => maintain(settings, args).await,
        DbCommand::Roles => roles(settings).await,
        DbCommand::Reset(args) => {
            if !args.yes {
                return Err(Error::new(
                    imi_core::ErrorKind::Unsafe,
                    format!("refusing to drop the registry at {} without --yes", settings.database.display()),
                )
                .with_hint("run `imi db reset --yes` if you really want to delete every project, worktree and activity"));
            }
            reset(settings).await
        }
        DbCommand::Copy(args) => super::dataio::copy(settings, args, json).await,
        DbCommand::Export(args) => super::dataio::export(settings, args).await,
        DbCommand::Import(args) => super::dataio::import(settings, args, json).await,
    }
}

fn schema_json(s: &SchemaStatus) -> serde_json::Value {
    json!({"applied": s.applied, "latest": s.latest, "pending": s.pending})
}

async fn migrate(settings: &Settings) -> Result<Output> {
    let store = AnyStore::connect(settings).await?;
    let (before, after) = with_store!(&store, s => {
        let before = s.schema_status().await?;
        let after = imi_core::store::ensure_schema(s).await?;
        (before, after)
    });
    let applied: Vec<i64> = before.pending.clone();
    let data = json!({
        "database": settings.database.display(),
        "backend": settings.database.backend(),
        "schema": schema_json(&after),
        "newly_applied": applied,
    });
    let human = if applied.is_empty() {
        format!(
            "Registry {} is up to date (schema {}).",
            settings.database.display(),
            after.applied
        )
    } else {
        format!(
            "Applied {} migration(s) to {}; schema is now {}.",
            applied.len(),
            settings.database.display(),
            after.applied
        )
    };
    Ok(Output::new(data, human))
}

async fn status(settings: &Settings) -> Result<Output> {
    let store = AnyStore::connect(settings).await?;
    let (schema, stats) = with_store!(&store, s => {
        let schema = s.schema_status().await?;
        let stats = if schema.pending.is_empty() && schema.applied == schema.latest {
            Some(s.stats().await?)
        } else {
            None
        };
        (schema, stats)
    });
    let state = if schema.applied > schema.latest {
        "newer than this imi: upgrade imi"
    } else if schema.applied == 0 {
        "empty: migrated on first use, or run `imi db migrate`"
    } else if !schema.pending.is_empty() {
        "migrations pending: run `imi db migrate`"
    } else {
        "up to date"
    };
    let mut human = format!(
        "database   {}\nbackend    {}\nschema     {} of {} ({state})\n",
        settings.database.display(),
        settings.database.backend(),
        schema.applied,
        schema.latest,
    );
    if let Some(st) = &stats {
        human.push_str(&format!(
            "projects   {} active of {}\nworktrees  {} active of {}, {} in flight\nactivities {} ({} in the last 24 h)\n",
            st.active_projects,
            st.total_projects,
            st.active_worktrees,
            st.total_worktrees,
            st.in_flight_worktrees,
            st.total_activities,
            st.activities_last_24h
        ));
    }
    let data = json!({
        "database": settings.database.display(),
        "backend": settings.database.backend(),
        "schema": schema_json(&schema),
        "state": state,
        "stats": stats,
    });
    Ok(Output::new(data, human))
}

async fn maintain(settings: &Settings, args: &MaintainArgs) -> Result<Output> {
    let store = AnyStore::open(settings).await?;
    let (deleted, pruned) = with_store!(&store, s => {
        let deleted = s.cleanup_old_activities(args.retention_days).await?;
        let pruned = s.prune_inactive_worktrees(args.inactive_days).await?;
        s.maintain().await?;
        (deleted, pruned)
    });
    let data = json!({
        "activities_deleted": deleted,
        "worktrees_pruned": pruned,
        "vacuumed": true,
    });
    let human = format!(
        "Deleted {deleted} activities older than {} days, pruned {pruned} worktrees inactive for {} days, vacuumed and analyzed.",
        args.retention_days, args.inactive_days
    );
    Ok(Output::new(data, human))
}

async fn roles(settings: &Settings) -> Result<Output> {
    let store = AnyStore::open(settings).await?;
    match &store {
        AnyStore::Postgres(s) => {
            s.create_roles().await?;
            Ok(Output::new(
                json!({"roles": ["imi_reader", "imi_auditor", "imi_writer"]}),
                "Roles imi_reader, imi_auditor and imi_writer are in place (NOLOGIN).\nGrant one to a login user, e.g. GRANT imi_reader TO dashboard;",
            ))
        }
        AnyStore::Sqlite(_) => Err(Error::validation("roles exist only on a PostgreSQL registry")
            .with_hint("the SQLite file is protected by file permissions; use --database postgres://... for roles")),
    }
}

async fn reset(settings: &Settings) -> Result<Output> {
    let store = AnyStore::connect(settings).await?;
    match &store {
        AnyStore::Postgres(s) => s.reset().await?,
        AnyStore::Sqlite(s) => s.reset().await?,
    }
    Ok(Output::new(
        json!({"database": settings.database.display(), "reset": true}),
        format!(
            "Dropped every imi object from {}.",
            settings.database.display()
        ),
    ))
}

/// Replaces this process with psql or sqlite3. The password never goes on the
/// command line (where `ps` shows it), neither from the user part nor from a
/// `password=` parameter: it is passed in PGPASSWORD.
fn shell(settings: &Settings) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    let (program, mut cmd) = match &settings.database {
        DatabaseTarget::Sqlite(path) => {
            let mut c = std::process::Command::new("sqlite3");
            c.arg(path);
            ("sqlite3", c)
        }
        DatabaseTarget::Postgres(url) => {
            let (url, password) = split_password(url)?;
            let mut c = std::process::Command::new("psql");
            if let Some(pw) = password {
                c.env("PGPASSWORD", pw);
            }
            c.arg(url);
            ("psql", c)
        }
    };
    let err = cmd.exec();
    Err(
        Error::unavailable(format!("cannot run {program}: {err}")).with_hint(match program {
            "psql" => "install the PostgreSQL client (apt-get install postgresql-client)",
            _ => "install sqlite3 (apt-get install sqlite3)",
        }),
    )
}

/// The database URL without its password (user part and `password=` parameter), and
/// the password, percent-decoded as libpq decodes it, for PGPASSWORD: what goes on
/// psql's command line is visible to every user of the machine (`ps`).
fn split_password(url: &str) -> Result<(String, Option<String>)> {
    use percent_encoding::percent_decode_str;
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let malformed = || {
        Error::validation(format!("malformed database URL {}", redact(url))).with_hint(
            "use postgres://user@host:5432/dbname with the password in PGPASSWORD or ~/.pgpass",
        )
    };
    let mut parsed = url::Url::parse(url).map_err(|_| malformed())?;
    let mut password = parsed.password().map(decode);
    if password.is_some() && parsed.set_password(None).is_err() {
        return Err(malformed());
    }
    if let Some(q) = parsed.query().map(str::to_string) {
        let mut kept = vec![];
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(k).to_ascii_lowercase().as_str() {
                "password" => password = Some(decode(v)),
                "sslpassword" => {
                    return Err(Error::validation(format!(
                        "{} has an sslpassword, which psql would show on its command line",
                        redact(url)
                    ))
                    .with_hint("give psql its key without a passphrase, or run psql yourself"));
                }
                _ => kept.push(pair),
            }
        }
        parsed.set_query((!kept.is_empty()).then(|| kept.join("&")).as_deref());
    }
    Ok((parsed.to_string(), password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        let (u, p) = split_password("postgres://imi:pa%2Fs+s%40@h:5/d?sslmode=disable").unwrap();
        assert_eq!(u, "postgres://imi@h:5/d?sslmode=disable");
        assert_eq!(p.as_deref(), Some("pa/s+s@"));
        let (u, p) =
            split_password("postgres://imi@h/d?password=a%26b%2Bc&application_name=x").unwrap();
        assert_eq!(u, "postgres://imi@h/d?application_name=x");
        assert_eq!(p.as_deref(), Some("a&b+c"));
        let (u, p) = split_password("postgres://h/d?password=x").unwrap();
        assert_eq!((u.as_str(), p.as_deref()), ("postgres://h/d", Some("x")));
        let (u, p) = split_password("postgres://h/d").unwrap();
        assert_eq!((u.as_str(), p), ("postgres://h/d", None));
    }
}
