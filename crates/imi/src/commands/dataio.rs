//! Moving data in and out (SPEC §6): `imi import legacy`, `imi db copy`,
//! `imi db export`, `imi db import`. Every write goes through
//! `Store::import_snapshot`: one transaction on the target, ids and timestamps kept,
//! counts verified, conflicts refused unless `--overwrite`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imi_core::snapshot::{ImportMode, ImportOptions, ImportReport, RegistrySnapshot, TableCounts};
use imi_core::{Error, Result, Store};
use imi_import::legacy::{self, LegacyReport, TableReport};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::{CopyArgs, DbImportArgs, ExportArgs, ImportCommand, LegacyArgs};
use crate::config::{Settings, home_dir};
use crate::dburl::DatabaseTarget;
use crate::registry::{AnyStore, with_store};
use crate::ui::Output;

/// A bar on stderr when a person watches (a terminal, not --json); hidden otherwise.
fn progress(json: bool, len: Option<u64>, msg: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => {
            let pb = ProgressBar::new(n);
            if let Ok(style) =
                ProgressStyle::with_template("{msg:12} [{bar:40}] {pos}/{len} rows ({elapsed})")
            {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        }
        None => {
            let pb = ProgressBar::new_spinner();
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        }
    };
    pb.set_message(msg.to_string());
    pb
}

async fn open(target: &DatabaseTarget, host: &str) -> Result<AnyStore> {
    let store = AnyStore::connect_to(target, host).await?;
    with_store!(&store, s => imi_core::store::ensure_schema(s).await)?;
    Ok(store)
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                s.push_str(&format!("{c:<w$}", w = widths[0]));
            } else {
                s.push_str(&format!("  {c:>w$}", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

// --- imi import legacy ------------------------------------------------------------------

pub async fn cmd_import(settings: &Settings, cmd: &ImportCommand, json: bool) -> Result<Output> {
    match cmd {
        ImportCommand::Legacy(args) => import_legacy(settings, args, json).await,
    }
}

fn legacy_file(args: &LegacyArgs) -> Result<PathBuf> {
    if let Some(f) = &args.file {
        return Ok(f.clone());
    }
    let candidates = legacy::default_paths(&home_dir()?);
    Ok(candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or(&candidates[0])
        .clone())
}

async fn import_legacy(settings: &Settings, args: &LegacyArgs, json: bool) -> Result<Output> {
    let file = legacy_file(args)?;
    // Read (and validate) the legacy file before touching the registry.
    let data = legacy::read(&file).await?;
    let store = AnyStore::open(settings).await?;
    let pb = progress(json, Some(data.rows()), "mapping");
    let report = with_store!(&store, s => {
        let existing = legacy::Existing::load(s).await?;
        let plan = legacy::plan(&data, &existing, s.host(), &|n| pb.inc(n));
        pb.set_message("writing");
        legacy::write(s, plan, args.dry_run).await
    });
    pb.finish_and_clear();
    let report = report?;
    Ok(legacy_output(settings, &report))
}

fn legacy_output(settings: &Settings, r: &LegacyReport) -> Output {
    let row = |name: &str, t: &TableReport| {
        vec![
            name.to_string(),
            t.read.to_string(),
            t.imported.to_string(),
            t.already_present.to_string(),
            t.skipped.to_string(),
        ]
    };
    let mut human = format!(
        "{} {} into {}\n\n",
        if r.dry_run {
            "Dry run (nothing written): would import"
        } else {
            "Imported"
        },
        r.file,
        settings.database.display()
    );
    human.push_str(&table(
        &["table", "read", "imported", "already present", "skipped"],
        &[
            row("repositories", &r.repositories),
            row("worktree_types", &r.worktree_types),
            row("worktrees", &r.worktrees),
            row("agent_activities", &r.activities),
        ],
    ));
    if !r.custom_types_created.is_empty() {
        human.push_str(&format!(
            "\ncustom types created: {}\n",
            r.custom_types_created.join(", ")
        ));
    }
    if !r.skipped.is_empty() {
        human.push_str("\nskipped:\n");
        for s in &r.skipped {
            human.push_str(&format!("  {} {}: {}\n", s.table, s.id, s.reason));
        }
    }
    if !r.notes.is_empty() {
        human.push_str("\nnotes:\n");
        for n in r.notes.iter().take(200) {
            human.push_str(&format!("  {} {}: {}\n", n.table, n.id, n.reason));
        }
        if r.notes.len() > 200 {
            human.push_str(&format!(
                "  ... and {} more (see --json)\n",
                r.notes.len() - 200
            ));
        }
    }
    let mut data = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
    data["database"] = json!(settings.database.display());
    Output::new(data, human)
}

// --- imi db copy / export / import ------------------------------------------------------

fn report_output(headline: String, r: &ImportReport, extra: serde_json::Value) -> Output {
    let row = |name: &str, t: &TableCounts| {
        vec![
            name.to_string(),
            t.read.to_string(),
            t.inserted.to_string(),
            t.identical.to_string(),
            (t.overwritten + t.kept).to_string(),
        ]
    };
    let mut human = headline + "\n\n";
    human.push_str(&table(
        &[
            "table",
            "source",
            "inserted",
            "identical",
            "overwritten/kept",
        ],
        &[
            row("projects", &r.projects),
            row("worktree_types", &r.worktree_types),
            row("worktrees", &r.worktrees),
            row("agent_activities", &r.activities),
        ],
    ));
    human.push_str(if r.verified {
        "\ncounts verified: target rows = rows before + rows inserted\n"
    } else {
        "\ncounts not verified\n"
    });
    if r.timestamps_truncated {
        human.push_str("note: registries keep microseconds; finer timestamps were truncated\n");
    }
    let mut data = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
    if let (Some(obj), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    Output::new(data, human)
}

fn mode(overwrite: bool) -> ImportMode {
    if overwrite {
        ImportMode::Overwrite
    } else {
        ImportMode::Strict
    }
}

pub async fn copy(settings: &Settings, args: &CopyArgs, json: bool) -> Result<Output> {
    let from = match &args.from {
        Some(u) => DatabaseTarget::parse(u)?,
        None => settings.database.clone(),
    };
    let to = DatabaseTarget::parse(&args.to)?;
    if from == to {
        return Err(Error::validation(format!(
            "source and target are the same registry ({})",
            to.display()
        ))
        .with_hint("give another registry with --to (and --from for a source other than the configured one)"));
    }
    let pb = progress(json, None, "reading");
    let source = open(&from, &settings.host).await?;
    let snap = with_store!(&source, s => s.export_snapshot().await)?;
    pb.set_message(format!(
        "writing {} rows",
        snap.projects.len() + snap.worktrees.len() + snap.activities.len()
    ));
    let target = open(&to, &settings.host).await?;
    let opts = ImportOptions {
        mode: mode(args.overwrite),
        dry_run: args.dry_run,
    };
    let report = with_store!(&target, s => s.import_snapshot(&snap, opts).await);
    pb.finish_and_clear();
    let report = report?;
    let stats = with_store!(&target, s => s.stats().await)?;
    Ok(report_output(
        format!(
            "{} {} to {}",
            if args.dry_run {
                "Dry run (nothing written): would copy"
            } else {
                "Copied"
            },
            from.display(),
            to.display()
        ),
        &report,
        json!({"from": from.display(), "to": to.display(), "target_stats": stats}),
    ))
}

pub async fn export(settings: &Settings, args: &ExportArgs) -> Result<Output> {
    let store = AnyStore::open(settings).await?;
    let snap = with_store!(&store, s => s.export_snapshot().await)?;
    let text = serde_json::to_string_pretty(&snap)
        .map_err(|e| Error::internal(format!("cannot serialise the registry: {e}")))?;
    let Some(file) = &args.file else {
        // The document itself is the output.
        let data = serde_json::to_value(&snap)
            .map_err(|e| Error::internal(format!("cannot serialise the registry: {e}")))?;
        return Ok(Output::new(data, text));
    };
    write_atomically(file, text.as_bytes())?;
    let counts = json!({
        "projects": snap.projects.len(),
        "worktree_types": snap.worktree_types.len(),
        "worktrees": snap.worktrees.len(),
        "agent_activities": snap.activities.len(),
    });
    Ok(Output::new(
        json!({"file": file.display().to_string(), "format": snap.format, "version": snap.version, "counts": counts}),
        format!(
            "Exported {} to {}: {} projects, {} worktree types, {} worktrees, {} activities.",
            settings.database.display(),
            file.display(),
            snap.projects.len(),
            snap.worktree_types.len(),
            snap.worktrees.len(),
            snap.activities.len()
        ),
    ))
}

/// A new temporary file next to `file`, renamed over it: a reader never sees half a
/// backup and a symlink planted at a predictable name is not followed. Private to
/// the user (0600): a backup holds the whole registry.
fn write_atomically(file: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write(file, bytes, 0o600).map_err(|e| {
        Error::validation(e.message).with_hint("check that the directory exists and is writable")
    })
}

pub async fn import(settings: &Settings, args: &DbImportArgs, json: bool) -> Result<Output> {
    let text = std::fs::read(&args.file).map_err(|e| {
        Error::validation(format!("cannot read {}: {e}", args.file.display()))
            .with_hint("give the path of a file written by `imi db export`")
    })?;
    let snap: RegistrySnapshot = serde_json::from_slice(&text).map_err(|e| {
        Error::validation(format!(
            "{} is not an imi registry document: {e}",
            args.file.display()
        ))
        .with_hint("give a file written by `imi db export`; nothing was imported")
    })?;
    snap.validate()?;
    let pb = progress(json, None, "writing");
    let store = AnyStore::open(settings).await?;
    let opts = ImportOptions {
        mode: mode(args.overwrite),
        dry_run: args.dry_run,
    };
    let report = with_store!(&store, s => s.import_snapshot(&snap, opts).await);
    pb.finish_and_clear();
    let report = report?;
    Ok(report_output(
        format!(
            "{} {} into {}",
            if args.dry_run {
                "Dry run (nothing written): would import"
            } else {
                "Imported"
            },
            args.file.display(),
            settings.database.display()
        ),
        &report,
        json!({"file": args.file.display().to_string(), "database": settings.database.display()}),
    ))
}
