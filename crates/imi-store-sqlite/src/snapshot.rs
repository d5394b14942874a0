//! `export_snapshot` / `import_snapshot` on the SQLite file: one `BEGIN IMMEDIATE`
//! transaction, multi-row inserts of prepared shape. Timestamps are kept to the
//! microsecond (`rows::ts_text`), as on PostgreSQL; finer ones are truncated and the
//! report says so.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use imi_core::snapshot::{
    ImportMode, ImportOptions, ImportReport, RegistrySnapshot, RowConflict, TableCounts,
    activity_diff, conflicts_error, differs_reason, external_refs, missing_refs_error,
    project_diff, type_diff, worktree_diff,
};
use imi_core::{Activity, Error, Project, Result, Worktree, WorktreeType};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::error::db_err;
use crate::rows::{
    self, activity_cols, meta_text, project_cols, ts_text, type_cols, worktree_cols,
};
use crate::{SqliteStore, id_text};

/// SQLite's bound-parameter limit is 32766; stay well below it.
const MAX_PARAMS: usize = 30_000;

fn opt_ts_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts_text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts([i64; 4]);

async fn counts(c: &mut SqliteConnection) -> Result<Counts> {
    let (p, t, w, a): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM worktree_types), \
         (SELECT count(*) FROM worktrees), (SELECT count(*) FROM agent_activities)",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(Counts([p, t, w, a]))
}

async fn ids(c: &mut SqliteConnection, sql: &'static str) -> Result<HashSet<String>> {
    let v: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(v.into_iter().collect())
}

fn conflict(table: &str, id: impl ToString, reason: String) -> RowConflict {
    RowConflict {
        table: table.to_string(),
        id: id.to_string(),
        reason,
    }
}

/// What to do with one snapshot row compared with the target's.
enum Plan {
    Insert,
    Same,
    Replace,
    Keep,
    Refuse(Vec<&'static str>),
}

fn plan(mode: ImportMode, existing: bool, diff: Vec<&'static str>, c: &mut TableCounts) -> Plan {
    c.read += 1;
    if !existing {
        return Plan::Insert;
    }
    if diff.is_empty() {
        c.identical += 1;
        return Plan::Same;
    }
    match mode {
        ImportMode::Strict => {
            c.conflicting += 1;
            Plan::Refuse(diff)
        }
        ImportMode::Overwrite => {
            c.overwritten += 1;
            Plan::Replace
        }
        ImportMode::KeepExisting => {
            c.kept += 1;
            Plan::Keep
        }
    }
}

impl SqliteStore {
    pub(crate) async fn export_snapshot_impl(&self) -> Result<RegistrySnapshot> {
        // One read transaction: a consistent view of all four tables.
        let mut tx = self.reader.begin().await.map_err(db_err)?;
        let projects = sqlx::query(concat!("SELECT ", project_cols!(), " FROM projects"))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::project)
            .collect::<Result<Vec<_>>>()?;
        let worktree_types = sqlx::query(concat!("SELECT ", type_cols!(), " FROM worktree_types"))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::worktree_type)
            .collect::<Result<Vec<_>>>()?;
        let worktrees = sqlx::query(concat!("SELECT ", worktree_cols!(), " FROM worktrees"))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::worktree)
            .collect::<Result<Vec<_>>>()?;
        let activities = sqlx::query(concat!(
            "SELECT ",
            activity_cols!(),
            " FROM agent_activities"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(rows::activity)
        .collect::<Result<Vec<_>>>()?;
        tx.rollback().await.map_err(db_err)?;
        let mut s = RegistrySnapshot {
            projects,
            worktree_types,
            worktrees,
            activities,
            ..Default::default()
        };
        s.sort();
        Ok(s)
    }

    pub(crate) async fn import_snapshot_impl(
        &self,
        input: &RegistrySnapshot,
        opts: ImportOptions,
    ) -> Result<ImportReport> {
        input.validate()?;
        let (snap, truncated) = input.at_registry_precision();
        let mut report = ImportReport {
            dry_run: opts.dry_run,
            timestamps_truncated: truncated,
            ..Default::default()
        };
        let mode = opts.mode;
        let mut tx = self.begin().await?;
        let c: &mut SqliteConnection = &mut tx;
        let before = counts(c).await?;

        // References to rows the snapshot does not carry must be in the target.
        let ext = external_refs(&snap);
        let mut missing = vec![];
        for id in &ext.projects {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM projects WHERE id = ?1")
                .bind(id_text(*id))
                .fetch_one(&mut *c)
                .await
                .map_err(db_err)?;
            if n == 0 {
                missing.push(id.to_string());
            }
        }
        if !missing.is_empty() {
            return Err(missing_refs_error("projects", &missing));
        }
        for id in &ext.worktrees {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM worktrees WHERE id = ?1")
                .bind(id_text(*id))
                .fetch_one(&mut *c)
                .await
                .map_err(db_err)?;
            if n == 0 {
                missing.push(id.to_string());
            }
        }
        if !missing.is_empty() {
            return Err(missing_refs_error("worktrees", &missing));
        }
        for name in &ext.types {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM worktree_types WHERE name = ?1")
                .bind(name)
                .fetch_one(&mut *c)
                .await
                .map_err(db_err)?;
            if n == 0 {
                missing.push(name.clone());
            }
        }
        if !missing.is_empty() {
            return Err(missing_refs_error("worktree types", &missing));
        }

        // --- types: by name; a new one keeps its id when the target has it free.
        let existing_types: Vec<WorktreeType> =
            sqlx::query(concat!("SELECT ", type_cols!(), " FROM worktree_types"))
                .fetch_all(&mut *c)
                .await
                .map_err(db_err)?
                .iter()
                .map(rows::worktree_type)
                .collect::<Result<_>>()?;
        let by_name: HashMap<&str, &WorktreeType> = existing_types
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let used_ids: HashSet<i32> = existing_types.iter().map(|t| t.id).collect();
        let mut type_writes: Vec<(&WorktreeType, Plan, Option<&WorktreeType>)> = vec![];
        for t in &snap.worktree_types {
            let e = by_name.get(t.name.as_str()).copied();
            let d = e.map(|e| type_diff(t, e)).unwrap_or_default();
            let p = plan(mode, e.is_some(), d, &mut report.worktree_types);
            if let Plan::Refuse(d) = &p {
                report
                    .conflicts
                    .push(conflict("worktree_types", &t.name, differs_reason(d)));
            }
            type_writes.push((t, p, e));
        }

        // --- projects
        let project_ids = ids(c, "SELECT id FROM projects").await?;
        let mut project_plans = Vec::with_capacity(snap.projects.len());
        for p in &snap.projects {
            let id = id_text(p.id);
            let existing = if project_ids.contains(&id) {
                Some(fetch_project(c, &id).await?)
            } else {
                None
            };
            let d = existing
                .as_ref()
                .map(|e| project_diff(p, e))
                .unwrap_or_default();
            let pl = plan(mode, existing.is_some(), d, &mut report.projects);
            match &pl {
                Plan::Refuse(d) => {
                    report
                        .conflicts
                        .push(conflict("projects", p.id, differs_reason(d)))
                }
                Plan::Insert | Plan::Replace if p.active && before.0[0] > 0 => {
                    let other: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM projects WHERE origin_key = ?1 AND active = 1 AND id <> ?2",
                    )
                    .bind(&p.origin_key)
                    .bind(&id)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(db_err)?;
                    if let Some(o) = other {
                        report.conflicts.push(conflict(
                            "projects",
                            p.id,
                            format!(
                                "{} is already registered as active project {o}",
                                p.origin_key
                            ),
                        ));
                    }
                }
                _ => {}
            }
            project_plans.push(pl);
        }

        // --- worktrees
        let worktree_ids = ids(c, "SELECT id FROM worktrees").await?;
        let mut worktree_plans = Vec::with_capacity(snap.worktrees.len());
        for w in &snap.worktrees {
            let id = id_text(w.id);
            let existing = if worktree_ids.contains(&id) {
                Some(fetch_worktree(c, &id).await?)
            } else {
                None
            };
            let d = existing
                .as_ref()
                .map(|e| worktree_diff(w, e))
                .unwrap_or_default();
            let pl = plan(mode, existing.is_some(), d, &mut report.worktrees);
            match &pl {
                Plan::Refuse(d) => {
                    report
                        .conflicts
                        .push(conflict("worktrees", w.id, differs_reason(d)))
                }
                Plan::Insert | Plan::Replace if before.0[2] > 0 => {
                    // at most one active worktree per (project, host, name)
                    let other: Option<String> = if w.active {
                        sqlx::query_scalar(
                            "SELECT id FROM worktrees WHERE project_id = ?1 AND host = ?2 \
                             AND name = ?3 AND active = 1 AND id <> ?4",
                        )
                        .bind(id_text(w.project_id))
                        .bind(&w.host)
                        .bind(&w.name)
                        .bind(&id)
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(db_err)?
                    } else {
                        None
                    };
                    if let Some(o) = other {
                        report.conflicts.push(conflict(
                            "worktrees",
                            w.id,
                            format!(
                                "project {} already has active worktree {o} named {:?} on {}",
                                w.project_id, w.name, w.host
                            ),
                        ));
                    } else if w.active {
                        let other: Option<String> = sqlx::query_scalar(
                            "SELECT id FROM worktrees WHERE host = ?1 AND path = ?2 AND active = 1 AND id <> ?3",
                        )
                        .bind(&w.host)
                        .bind(&w.path)
                        .bind(&id)
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(db_err)?;
                        if let Some(o) = other {
                            report.conflicts.push(conflict(
                                "worktrees",
                                w.id,
                                format!(
                                    "active worktree {o} is already registered at {}:{}",
                                    w.host, w.path
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
            worktree_plans.push(pl);
        }

        // --- activities
        let activity_ids = if before.0[3] > 0 {
            ids(c, "SELECT id FROM agent_activities").await?
        } else {
            HashSet::new()
        };
        let mut activity_plans = Vec::with_capacity(snap.activities.len());
        for a in &snap.activities {
            let id = id_text(a.id);
            let existing = if activity_ids.contains(&id) {
                Some(fetch_activity(c, &id).await?)
            } else {
                None
            };
            let d = existing
                .as_ref()
                .map(|e| activity_diff(a, e))
                .unwrap_or_default();
            let pl = plan(mode, existing.is_some(), d, &mut report.activities);
            if let Plan::Refuse(d) = &pl {
                report
                    .conflicts
                    .push(conflict("agent_activities", a.id, differs_reason(d)));
            }
            activity_plans.push(pl);
        }

        if !report.conflicts.is_empty() {
            tx.rollback().await.map_err(db_err)?;
            return Err(conflicts_error(&report.conflicts));
        }
        let c: &mut SqliteConnection = &mut tx;

        // --- writes: types first (worktrees need their ids)
        for (t, p, e) in &type_writes {
            match (p, e) {
                (Plan::Insert, _) => {
                    let id = (!used_ids.contains(&t.id)).then_some(t.id);
                    sqlx::query(
                        "INSERT INTO worktree_types (id, name, branch_prefix, worktree_prefix, \
                         description, is_builtin, color, icon, metadata, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )
                    .bind(id)
                    .bind(&t.name)
                    .bind(&t.branch_prefix)
                    .bind(&t.worktree_prefix)
                    .bind(&t.description)
                    .bind(t.is_builtin)
                    .bind(&t.color)
                    .bind(&t.icon)
                    .bind(meta_text(&t.metadata))
                    .bind(ts_text(t.created_at))
                    .execute(&mut *c)
                    .await
                    .map_err(db_err)?;
                    report.worktree_types.inserted += 1;
                }
                (Plan::Replace, Some(e)) => {
                    sqlx::query(
                        "UPDATE worktree_types SET branch_prefix = ?1, worktree_prefix = ?2, \
                         description = ?3, is_builtin = ?4, color = ?5, icon = ?6, metadata = ?7, \
                         created_at = min(created_at, ?8) WHERE id = ?9",
                    )
                    .bind(&t.branch_prefix)
                    .bind(&t.worktree_prefix)
                    .bind(&t.description)
                    .bind(t.is_builtin)
                    .bind(&t.color)
                    .bind(&t.icon)
                    .bind(meta_text(&t.metadata))
                    .bind(ts_text(t.created_at))
                    .bind(e.id)
                    .execute(&mut *c)
                    .await
                    .map_err(db_err)?;
                }
                // Same definition: the type has existed since the earlier of the two.
                (Plan::Same, Some(e)) if t.created_at < e.created_at => {
                    sqlx::query("UPDATE worktree_types SET created_at = ?1 WHERE id = ?2")
                        .bind(ts_text(t.created_at))
                        .bind(e.id)
                        .execute(&mut *c)
                        .await
                        .map_err(db_err)?;
                }
                _ => {}
            }
        }
        let type_ids: HashMap<String, i64> =
            sqlx::query_as::<_, (String, i64)>("SELECT name, id FROM worktree_types")
                .fetch_all(&mut *c)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect();

        // projects
        let new: Vec<&Project> = pick(&snap.projects, &project_plans, Plan::is_insert);
        for chunk in new.chunks(MAX_PARAMS / 11) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO projects (id, name, remote_origin, origin_key, default_branch, \
                 trunk_path, description, metadata, created_at, updated_at, active) ",
            );
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(id_text(p.id))
                    .push_bind(&p.name)
                    .push_bind(&p.remote_origin)
                    .push_bind(&p.origin_key)
                    .push_bind(&p.default_branch)
                    .push_bind(&p.trunk_path)
                    .push_bind(&p.description)
                    .push_bind(meta_text(&p.metadata))
                    .push_bind(ts_text(p.created_at))
                    .push_bind(ts_text(p.updated_at))
                    .push_bind(p.active);
            });
            let n = qb.build().execute(&mut *c).await.map_err(db_err)?;
            report.projects.inserted += n.rows_affected();
        }
        for p in pick(&snap.projects, &project_plans, Plan::is_replace) {
            let id = id_text(p.id);
            // Two steps, so that the updated_at trigger (which stamps now() when an
            // update leaves updated_at as it was) keeps the given value.
            bump_updated_at(c, "UPDATE projects SET updated_at = '' WHERE id = ?1", &id).await?;
            sqlx::query(
                "UPDATE projects SET name = ?1, remote_origin = ?2, origin_key = ?3, \
                 default_branch = ?4, trunk_path = ?5, description = ?6, metadata = ?7, \
                 created_at = ?8, updated_at = ?9, active = ?10 WHERE id = ?11",
            )
            .bind(&p.name)
            .bind(&p.remote_origin)
            .bind(&p.origin_key)
            .bind(&p.default_branch)
            .bind(&p.trunk_path)
            .bind(&p.description)
            .bind(meta_text(&p.metadata))
            .bind(ts_text(p.created_at))
            .bind(ts_text(p.updated_at))
            .bind(p.active)
            .bind(&id)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }

        // worktrees
        let type_id = |name: &str| -> Result<i64> {
            type_ids.get(name).copied().ok_or_else(|| {
                Error::validation(format!("unknown worktree type {name:?}"))
                    .with_hint("the document's types must include every type its worktrees use")
            })
        };
        let new: Vec<&Worktree> = pick(&snap.worktrees, &worktree_plans, Plan::is_insert);
        for chunk in new.chunks(MAX_PARAMS / 22) {
            let tids = chunk
                .iter()
                .map(|w| type_id(&w.type_name))
                .collect::<Result<Vec<_>>>()?;
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host, \
                 agent_id, has_uncommitted_changes, uncommitted_files_count, ahead_of_trunk, \
                 behind_trunk, last_commit_hash, last_commit_message, last_sync_at, merged_at, \
                 merged_by, merge_commit_hash, metadata, created_at, updated_at, active) ",
            );
            qb.push_values(chunk.iter().zip(tids), |mut b, (w, tid)| {
                b.push_bind(id_text(w.id))
                    .push_bind(id_text(w.project_id))
                    .push_bind(tid)
                    .push_bind(&w.name)
                    .push_bind(&w.branch_name)
                    .push_bind(&w.path)
                    .push_bind(&w.host)
                    .push_bind(&w.agent_id)
                    .push_bind(w.uncommitted_files_count > 0)
                    .push_bind(w.uncommitted_files_count)
                    .push_bind(w.ahead_of_trunk)
                    .push_bind(w.behind_trunk)
                    .push_bind(&w.last_commit_hash)
                    .push_bind(&w.last_commit_message)
                    .push_bind(opt_ts_text(w.last_sync_at))
                    .push_bind(opt_ts_text(w.merged_at))
                    .push_bind(&w.merged_by)
                    .push_bind(&w.merge_commit_hash)
                    .push_bind(meta_text(&w.metadata))
                    .push_bind(ts_text(w.created_at))
                    .push_bind(ts_text(w.updated_at))
                    .push_bind(w.active);
            });
            let n = qb.build().execute(&mut *c).await.map_err(db_err)?;
            report.worktrees.inserted += n.rows_affected();
        }
        for w in pick(&snap.worktrees, &worktree_plans, Plan::is_replace) {
            let id = id_text(w.id);
            bump_updated_at(c, "UPDATE worktrees SET updated_at = '' WHERE id = ?1", &id).await?;
            sqlx::query(
                "UPDATE worktrees SET project_id = ?1, type_id = ?2, name = ?3, branch_name = ?4, \
                 path = ?5, host = ?6, agent_id = ?7, has_uncommitted_changes = ?8, \
                 uncommitted_files_count = ?9, ahead_of_trunk = ?10, behind_trunk = ?11, \
                 last_commit_hash = ?12, last_commit_message = ?13, last_sync_at = ?14, \
                 merged_at = ?15, merged_by = ?16, merge_commit_hash = ?17, metadata = ?18, \
                 created_at = ?19, updated_at = ?20, active = ?21 WHERE id = ?22",
            )
            .bind(id_text(w.project_id))
            .bind(type_id(&w.type_name)?)
            .bind(&w.name)
            .bind(&w.branch_name)
            .bind(&w.path)
            .bind(&w.host)
            .bind(&w.agent_id)
            .bind(w.uncommitted_files_count > 0)
            .bind(w.uncommitted_files_count)
            .bind(w.ahead_of_trunk)
            .bind(w.behind_trunk)
            .bind(&w.last_commit_hash)
            .bind(&w.last_commit_message)
            .bind(opt_ts_text(w.last_sync_at))
            .bind(opt_ts_text(w.merged_at))
            .bind(&w.merged_by)
            .bind(&w.merge_commit_hash)
            .bind(meta_text(&w.metadata))
            .bind(ts_text(w.created_at))
            .bind(ts_text(w.updated_at))
            .bind(w.active)
            .bind(&id)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }

        // activities
        let new: Vec<&Activity> = pick(&snap.activities, &activity_plans, Plan::is_insert);
        for chunk in new.chunks(MAX_PARAMS / 11) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, project_name, \
                 worktree_name, activity_type, file_path, description, metadata, created_at) ",
            );
            qb.push_values(chunk, |mut b, a| {
                b.push_bind(id_text(a.id))
                    .push_bind(&a.agent_id)
                    .push_bind(a.worktree_id.map(id_text))
                    .push_bind(a.project_id.map(id_text))
                    .push_bind(&a.project_name)
                    .push_bind(&a.worktree_name)
                    .push_bind(&a.activity_type)
                    .push_bind(&a.file_path)
                    .push_bind(&a.description)
                    .push_bind(meta_text(&a.metadata))
                    .push_bind(ts_text(a.created_at));
            });
            let n = qb.build().execute(&mut *c).await.map_err(db_err)?;
            report.activities.inserted += n.rows_affected();
        }
        for a in pick(&snap.activities, &activity_plans, Plan::is_replace) {
            sqlx::query(
                "UPDATE agent_activities SET agent_id = ?1, worktree_id = ?2, project_id = ?3, \
                 project_name = ?4, worktree_name = ?5, activity_type = ?6, file_path = ?7, \
                 description = ?8, metadata = ?9, created_at = ?10 WHERE id = ?11",
            )
            .bind(&a.agent_id)
            .bind(a.worktree_id.map(id_text))
            .bind(a.project_id.map(id_text))
            .bind(&a.project_name)
            .bind(&a.worktree_name)
            .bind(&a.activity_type)
            .bind(&a.file_path)
            .bind(&a.description)
            .bind(meta_text(&a.metadata))
            .bind(ts_text(a.created_at))
            .bind(id_text(a.id))
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }

        // --- verify
        let after = counts(c).await?;
        let inserted = [
            report.projects.inserted,
            report.worktree_types.inserted,
            report.worktrees.inserted,
            report.activities.inserted,
        ];
        verify(before.0, after.0, inserted)?;
        report.verified = true;
        if opts.dry_run {
            tx.rollback().await.map_err(db_err)?;
        } else {
            tx.commit().await.map_err(db_err)?;
        }
        Ok(report)
    }
}

/// Row counts after = before + inserted, for each table.
pub(crate) fn verify(before: [i64; 4], after: [i64; 4], inserted: [u64; 4]) -> Result<()> {
    const TABLES: [&str; 4] = [
        "projects",
        "worktree_types",
        "worktrees",
        "agent_activities",
    ];
    for i in 0..4 {
        if after[i] != before[i] + inserted[i] as i64 {
            return Err(Error::internal(format!(
                "count check failed for {}: {} before + {} inserted, but {} after; nothing was written",
                TABLES[i], before[i], inserted[i], after[i]
            ))
            .with_hint("another process may be writing the registry; run the import again"));
        }
    }
    Ok(())
}

impl Plan {
    fn is_insert(&self) -> bool {
        matches!(self, Plan::Insert)
    }
    fn is_replace(&self) -> bool {
        matches!(self, Plan::Replace)
    }
}

fn pick<'a, T>(rows: &'a [T], plans: &[Plan], f: fn(&Plan) -> bool) -> Vec<&'a T> {
    rows.iter()
        .zip(plans)
        .filter(|(_, p)| f(p))
        .map(|(r, _)| r)
        .collect()
}

async fn bump_updated_at(c: &mut SqliteConnection, sql: &'static str, id: &str) -> Result<()> {
    sqlx::query(sql)
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn fetch_project(c: &mut SqliteConnection, id: &str) -> Result<Project> {
    let row = sqlx::query(concat!(
        "SELECT ",
        project_cols!(),
        " FROM projects WHERE id = ?1"
    ))
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    rows::project(&row)
}

async fn fetch_worktree(c: &mut SqliteConnection, id: &str) -> Result<Worktree> {
    let row = sqlx::query(concat!(
        "SELECT ",
        worktree_cols!(),
        " FROM worktrees WHERE id = ?1"
    ))
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    rows::worktree(&row)
}

async fn fetch_activity(c: &mut SqliteConnection, id: &str) -> Result<Activity> {
    let row = sqlx::query(concat!(
        "SELECT ",
        activity_cols!(),
        " FROM agent_activities WHERE id = ?1"
    ))
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    rows::activity(&row)
}
