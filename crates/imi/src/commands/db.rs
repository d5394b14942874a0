//! `imi db ...`: registry administration.

use imi_core::{Error, Result, SchemaStatus, Store};
use serde_json::json;

use crate::cli::{DbCommand, MaintainArgs};
use crate::config::Settings;
use crate::dburl::{DatabaseTarget, redact_url};
use crate::registry::{AnyStore, with_store};
use crate::ui::Output;

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
/// command line (where `ps` shows it): it is passed in PGPASSWORD.
fn shell(settings: &Settings) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    let (program, mut cmd) = match &settings.database {
        DatabaseTarget::Sqlite(path) => {
            let mut c = std::process::Command::new("sqlite3");
            c.arg(path);
            ("sqlite3", c)
        }
        DatabaseTarget::Postgres(url) => {
            let mut parsed = url::Url::parse(url).map_err(|e| {
                Error::validation(format!("malformed database URL {}: {e}", redact_url(url)))
            })?;
            let mut c = std::process::Command::new("psql");
            if let Some(pw) = parsed.password() {
                let pw = url::form_urlencoded::parse(pw.as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .next()
                    .unwrap_or_default();
                c.env("PGPASSWORD", pw);
                // Url::set_password only fails for URLs that cannot have one, and this one has.
                let _ = parsed.set_password(None);
            }
            c.arg(parsed.as_str());
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
