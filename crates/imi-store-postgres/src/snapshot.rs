//! `export_snapshot` / `import_snapshot` on PostgreSQL: one transaction, existing
//! rows fetched with `= ANY($ids)`, new rows written with `UNNEST` batches (one
//! round trip per few thousand rows). Timestamps keep microseconds.

use std::collections::{HashMap, HashSet};

use imi_core::snapshot::{
    ImportMode, ImportOptions, ImportReport, RegistrySnapshot, RowConflict, TableCounts,
    activity_diff, conflicts_error, differs_reason, external_refs, missing_refs_error,
    project_diff, type_diff, worktree_diff,
};
use imi_core::{Activity, Error, Metadata, Project, Result, Worktree, WorktreeType};
use uuid::Uuid;

use crate::error::db_err;
use crate::session::Tx;
use crate::{PgStore, rows};

const BATCH: usize = 5_000;

const WORKTREE_SELECT: &str = "SELECT w.*, (SELECT t.name FROM worktree_types t WHERE t.id = w.type_id) AS type_name \
     FROM worktrees w";

fn meta_text(m: &Metadata) -> String {
    // Serialising a map of `Value`s cannot fail (string keys, no custom Serialize).
    serde_json::to_string(m).unwrap_or_else(|_| "{}".to_string())
}

fn conflict(table: &str, id: impl ToString, reason: String) -> RowConflict {
    RowConflict {
        table: table.to_string(),
        id: id.to_string(),
        reason,
    }
}

enum Plan {
    Insert,
    Same,
    Replace,
    Keep,
    Refuse(Vec<&'static str>),
}

impl Plan {
    fn is_insert(&self) -> bool {
        matches!(self, Plan::Insert)
    }
    fn is_replace(&self) -> bool {
        matches!(self, Plan::Replace)
    }
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

fn pick<'a, T>(rows: &'a [T], plans: &[Plan], f: fn(&Plan) -> bool) -> Vec<&'a T> {
    rows.iter()
        .zip(plans)
        .filter(|(_, p)| f(p))
        .map(|(r, _)| r)
        .collect()
}

async fn counts(c: &mut Tx) -> Result<[i64; 4]> {
    let (p, t, w, a): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM worktree_types), \
         (SELECT count(*) FROM worktrees), (SELECT count(*) FROM agent_activities)",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    Ok([p, t, w, a])
}

fn verify(before: [i64; 4], after: [i64; 4], inserted: [u64; 4]) -> Result<()> {
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

/// Ids of `ids` that exist in `table` (a constant name).
async fn existing_ids(c: &mut Tx, sql: &'static str, ids: Vec<Uuid>) -> Result<HashSet<Uuid>> {
    let found: Vec<Uuid> = sqlx::query_scalar(sql)
        .bind(ids)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(found.into_iter().collect())
}

impl PgStore {
    pub(crate) async fn export_snapshot_impl(&self) -> Result<RegistrySnapshot> {
        let mut tx = self.db().begin().await?;
        // One consistent view of all four tables.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        let projects = sqlx::query("SELECT * FROM projects")
            .fetch_all(&mut tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::project)
            .collect::<Result<Vec<_>>>()?;
        let worktree_types = sqlx::query("SELECT * FROM worktree_types")
            .fetch_all(&mut tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::worktree_type)
            .collect::<Result<Vec<_>>>()?;
        let worktrees = sqlx::query(WORKTREE_SELECT)
            .fetch_all(&mut tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::worktree)
            .collect::<Result<Vec<_>>>()?;
        let activities = sqlx::query("SELECT * FROM agent_activities")
            .fetch_all(&mut tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::activity)
            .collect::<Result<Vec<_>>>()?;
        tx.rollback().await?;
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
        let mut tx = self.db().begin().await?;
        let c: &mut Tx = &mut tx;
        // Writers of the same registry wait for this import (reads go on).
        sqlx::query(
            "LOCK TABLE projects, worktree_types, worktrees, agent_activities IN SHARE ROW EXCLUSIVE MODE",
        )
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
        let before = counts(c).await?;

        let ext = external_refs(&snap);
        let found = existing_ids(
            c,
            "SELECT id FROM projects WHERE id = ANY($1)",
            ext.projects.clone(),
        )
        .await?;
        let missing: Vec<String> = ext
            .projects
            .iter()
            .filter(|i| !found.contains(i))
            .map(Uuid::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(missing_refs_error("projects", &missing));
        }
        let found = existing_ids(
            c,
            "SELECT id FROM worktrees WHERE id = ANY($1)",
            ext.worktrees.clone(),
        )
        .await?;
        let missing: Vec<String> = ext
            .worktrees
            .iter()
            .filter(|i| !found.contains(i))
            .map(Uuid::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(missing_refs_error("worktrees", &missing));
        }

        // --- types
        let existing_types: Vec<WorktreeType> = sqlx::query("SELECT * FROM worktree_types")
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
        let missing: Vec<String> = ext
            .types
            .iter()
            .filter(|n| !by_name.contains_key(n.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(missing_refs_error("worktree types", &missing));
        }
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
        let existing: HashMap<Uuid, Project> =
            sqlx::query("SELECT * FROM projects WHERE id = ANY($1)")
                .bind(snap.projects.iter().map(|p| p.id).collect::<Vec<_>>())
                .fetch_all(&mut *c)
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| rows::project(r).map(|p| (p.id, p)))
                .collect::<Result<_>>()?;
        let mut project_plans = Vec::with_capacity(snap.projects.len());
        for p in &snap.projects {
            let e = existing.get(&p.id);
            let d = e.map(|e| project_diff(p, e)).unwrap_or_default();
            let pl = plan(mode, e.is_some(), d, &mut report.projects);
            if let Plan::Refuse(d) = &pl {
                report
                    .conflicts
                    .push(conflict("projects", p.id, differs_reason(d)));
            }
            project_plans.push(pl);
        }
        if before[0] > 0 {
            let (ids, keys): (Vec<Uuid>, Vec<String>) = snap
                .projects
                .iter()
                .zip(&project_plans)
                .filter(|(p, pl)| p.active && (pl.is_insert() || pl.is_replace()))
                .map(|(p, _)| (p.id, p.origin_key.clone()))
                .unzip();
            let clashes: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
                "SELECT s.id, p.id, p.origin_key FROM UNNEST($1::uuid[], $2::text[]) AS s(id, key) \
                 JOIN projects p ON p.origin_key = s.key AND p.active AND p.id <> s.id",
            )
            .bind(ids)
            .bind(keys)
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?;
            for (id, other, key) in clashes {
                report.conflicts.push(conflict(
                    "projects",
                    id,
                    format!("{key} is already registered as active project {other}"),
                ));
            }
        }

        // --- worktrees
        let existing: HashMap<Uuid, Worktree> =
            sqlx::query(&format!("{WORKTREE_SELECT} WHERE w.id = ANY($1)"))
                .bind(snap.worktrees.iter().map(|w| w.id).collect::<Vec<_>>())
                .fetch_all(&mut *c)
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| rows::worktree(r).map(|w| (w.id, w)))
                .collect::<Result<_>>()?;
        let mut worktree_plans = Vec::with_capacity(snap.worktrees.len());
        for w in &snap.worktrees {
            let e = existing.get(&w.id);
            let d = e.map(|e| worktree_diff(w, e)).unwrap_or_default();
            let pl = plan(mode, e.is_some(), d, &mut report.worktrees);
            if let Plan::Refuse(d) = &pl {
                report
                    .conflicts
                    .push(conflict("worktrees", w.id, differs_reason(d)));
            }
            worktree_plans.push(pl);
        }
        if before[2] > 0 {
            let cands: Vec<&Worktree> = snap
                .worktrees
                .iter()
                .zip(&worktree_plans)
                .filter(|(_, pl)| pl.is_insert() || pl.is_replace())
                .map(|(w, _)| w)
                .collect();
            // at most one active worktree per (project, host, name)
            let named: Vec<&&Worktree> = cands.iter().filter(|w| w.active).collect();
            let clashes: Vec<(Uuid, Uuid, Uuid, String, String)> = sqlx::query_as(
                "SELECT s.id, w.id, w.project_id, w.host, w.name \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS s(id, project_id, host, name) \
                 JOIN worktrees w ON w.project_id = s.project_id AND w.host = s.host \
                  AND w.name = s.name AND w.active AND w.id <> s.id",
            )
            .bind(named.iter().map(|w| w.id).collect::<Vec<_>>())
            .bind(named.iter().map(|w| w.project_id).collect::<Vec<_>>())
            .bind(named.iter().map(|w| w.host.clone()).collect::<Vec<_>>())
            .bind(named.iter().map(|w| w.name.clone()).collect::<Vec<_>>())
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?;
            let mut clashing: HashSet<Uuid> = HashSet::new();
            for (id, other, project, host, name) in clashes {
                clashing.insert(id);
                report.conflicts.push(conflict(
                    "worktrees",
                    id,
                    format!(
                        "project {project} already has active worktree {other} named {name:?} on {host}"
                    ),
                ));
            }
            let active: Vec<&&Worktree> = cands
                .iter()
                .filter(|w| w.active && !clashing.contains(&w.id))
                .collect();
            let clashes: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(
                "SELECT s.id, w.id, w.host, w.path \
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS s(id, host, path) \
                 JOIN worktrees w ON w.host = s.host AND w.path = s.path AND w.active AND w.id <> s.id",
            )
            .bind(active.iter().map(|w| w.id).collect::<Vec<_>>())
            .bind(active.iter().map(|w| w.host.clone()).collect::<Vec<_>>())
            .bind(active.iter().map(|w| w.path.clone()).collect::<Vec<_>>())
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?;
            for (id, other, host, path) in clashes {
                report.conflicts.push(conflict(
                    "worktrees",
                    id,
                    format!("active worktree {other} is already registered at {host}:{path}"),
                ));
            }
        }

        // --- activities
        let existing: HashMap<Uuid, Activity> = if before[3] > 0 {
            sqlx::query("SELECT * FROM agent_activities WHERE id = ANY($1)")
                .bind(snap.activities.iter().map(|a| a.id).collect::<Vec<_>>())
                .fetch_all(&mut *c)
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| rows::activity(r).map(|a| (a.id, a)))
                .collect::<Result<_>>()?
        } else {
            HashMap::new()
        };
        let mut activity_plans = Vec::with_capacity(snap.activities.len());
        for a in &snap.activities {
            let e = existing.get(&a.id);
            let d = e.map(|e| activity_diff(a, e)).unwrap_or_default();
            let pl = plan(mode, e.is_some(), d, &mut report.activities);
            if let Plan::Refuse(d) = &pl {
                report
                    .conflicts
                    .push(conflict("agent_activities", a.id, differs_reason(d)));
            }
            activity_plans.push(pl);
        }

        if !report.conflicts.is_empty() {
            tx.rollback().await?;
            return Err(conflicts_error(&report.conflicts));
        }
        let c: &mut Tx = &mut tx;

        // --- writes: types
        let mut max_explicit = None;
        for (t, p, e) in &type_writes {
            match (p, e) {
                (Plan::Insert, _) => {
                    let id = (!used_ids.contains(&t.id)).then_some(t.id);
                    if id.is_some() {
                        max_explicit = max_explicit.max(id);
                    }
                    sqlx::query(
                        "INSERT INTO worktree_types (id, name, branch_prefix, worktree_prefix, \
                         description, is_builtin, color, icon, metadata, created_at) \
                         VALUES (coalesce($1, nextval(pg_get_serial_sequence('worktree_types', 'id'))::int), \
                         $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)",
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
                    .bind(t.created_at)
                    .execute(&mut *c)
                    .await
                    .map_err(db_err)?;
                    report.worktree_types.inserted += 1;
                }
                (Plan::Replace, Some(e)) => {
                    sqlx::query(
                        "UPDATE worktree_types SET branch_prefix = $1, worktree_prefix = $2, \
                         description = $3, is_builtin = $4, color = $5, icon = $6, metadata = $7::jsonb, \
                         created_at = least(created_at, $8) WHERE id = $9",
                    )
                    .bind(&t.branch_prefix)
                    .bind(&t.worktree_prefix)
                    .bind(&t.description)
                    .bind(t.is_builtin)
                    .bind(&t.color)
                    .bind(&t.icon)
                    .bind(meta_text(&t.metadata))
                    .bind(t.created_at)
                    .bind(e.id)
                    .execute(&mut *c)
                    .await
                    .map_err(db_err)?;
                }
                (Plan::Same, Some(e)) if t.created_at < e.created_at => {
                    sqlx::query("UPDATE worktree_types SET created_at = $1 WHERE id = $2")
                        .bind(t.created_at)
                        .bind(e.id)
                        .execute(&mut *c)
                        .await
                        .map_err(db_err)?;
                }
                _ => {}
            }
        }
        if max_explicit.is_some() {
            // Explicit ids do not advance the serial: move it past them.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('worktree_types', 'id'), \
                 (SELECT max(id) FROM worktree_types))",
            )
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }
        let type_ids: HashMap<String, i32> =
            sqlx::query_as::<_, (String, i32)>("SELECT name, id FROM worktree_types")
                .fetch_all(&mut *c)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect();

        // --- projects
        for chunk in pick(&snap.projects, &project_plans, Plan::is_insert).chunks(BATCH) {
            let n = sqlx::query(
                "INSERT INTO projects (id, name, remote_origin, origin_key, default_branch, \
                 trunk_path, description, metadata, created_at, updated_at, active) \
                 SELECT id, name, remote_origin, origin_key, default_branch, trunk_path, \
                 description, metadata::jsonb, created_at, updated_at, active \
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::bool[]) \
                 AS s(id, name, remote_origin, origin_key, default_branch, trunk_path, description, \
                 metadata, created_at, updated_at, active)",
            )
            .bind(chunk.iter().map(|p| p.id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.remote_origin.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.origin_key.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.default_branch.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.trunk_path.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.description.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| meta_text(&p.metadata)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.updated_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.active).collect::<Vec<_>>())
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
            report.projects.inserted += n.rows_affected();
        }
        for p in pick(&snap.projects, &project_plans, Plan::is_replace) {
            // Two steps, so that the updated_at trigger (which stamps now() when an
            // update leaves updated_at as it was) keeps the given value.
            sqlx::query("UPDATE projects SET updated_at = '-infinity' WHERE id = $1")
                .bind(p.id)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "UPDATE projects SET name = $1, remote_origin = $2, origin_key = $3, \
                 default_branch = $4, trunk_path = $5, description = $6, metadata = $7::jsonb, \
                 created_at = $8, updated_at = $9, active = $10 WHERE id = $11",
            )
            .bind(&p.name)
            .bind(&p.remote_origin)
            .bind(&p.origin_key)
            .bind(&p.default_branch)
            .bind(&p.trunk_path)
            .bind(&p.description)
            .bind(meta_text(&p.metadata))
            .bind(p.created_at)
            .bind(p.updated_at)
            .bind(p.active)
            .bind(p.id)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }

        // --- worktrees
        let type_id = |name: &str| -> Result<i32> {
            type_ids.get(name).copied().ok_or_else(|| {
                Error::validation(format!("unknown worktree type {name:?}"))
                    .with_hint("the document's types must include every type its worktrees use")
            })
        };
        for chunk in pick(&snap.worktrees, &worktree_plans, Plan::is_insert).chunks(BATCH) {
            let tids = chunk
                .iter()
                .map(|w| type_id(&w.type_name))
                .collect::<Result<Vec<_>>>()?;
            let n = sqlx::query(
                "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host, \
                 agent_id, uncommitted_files_count, ahead_of_trunk, behind_trunk, last_commit_hash, \
                 last_commit_message, last_sync_at, merged_at, merged_by, merge_commit_hash, \
                 metadata, created_at, updated_at, active) \
                 SELECT id, project_id, type_id, name, branch_name, path, host, agent_id, \
                 uncommitted_files_count, ahead_of_trunk, behind_trunk, last_commit_hash, \
                 last_commit_message, last_sync_at, merged_at, merged_by, merge_commit_hash, \
                 metadata::jsonb, created_at, updated_at, active \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::int[], $10::int[], $11::int[], $12::text[], $13::text[], \
                 $14::timestamptz[], $15::timestamptz[], $16::text[], $17::text[], $18::text[], \
                 $19::timestamptz[], $20::timestamptz[], $21::bool[]) \
                 AS s(id, project_id, type_id, name, branch_name, path, host, agent_id, \
                 uncommitted_files_count, ahead_of_trunk, behind_trunk, last_commit_hash, \
                 last_commit_message, last_sync_at, merged_at, merged_by, merge_commit_hash, \
                 metadata, created_at, updated_at, active)",
            )
            .bind(chunk.iter().map(|w| w.id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.project_id).collect::<Vec<_>>())
            .bind(tids)
            .bind(chunk.iter().map(|w| w.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.branch_name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.path.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.host.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.agent_id.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.uncommitted_files_count).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.ahead_of_trunk).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.behind_trunk).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.last_commit_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.last_commit_message.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.last_sync_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.merged_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.merged_by.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.merge_commit_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| meta_text(&w.metadata)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.updated_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|w| w.active).collect::<Vec<_>>())
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
            report.worktrees.inserted += n.rows_affected();
        }
        for w in pick(&snap.worktrees, &worktree_plans, Plan::is_replace) {
            sqlx::query("UPDATE worktrees SET updated_at = '-infinity' WHERE id = $1")
                .bind(w.id)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "UPDATE worktrees SET project_id = $1, type_id = $2, name = $3, branch_name = $4, \
                 path = $5, host = $6, agent_id = $7, uncommitted_files_count = $8, \
                 ahead_of_trunk = $9, behind_trunk = $10, last_commit_hash = $11, \
                 last_commit_message = $12, last_sync_at = $13, merged_at = $14, merged_by = $15, \
                 merge_commit_hash = $16, metadata = $17::jsonb, created_at = $18, updated_at = $19, \
                 active = $20 WHERE id = $21",
            )
            .bind(w.project_id)
            .bind(type_id(&w.type_name)?)
            .bind(&w.name)
            .bind(&w.branch_name)
            .bind(&w.path)
            .bind(&w.host)
            .bind(&w.agent_id)
            .bind(w.uncommitted_files_count)
            .bind(w.ahead_of_trunk)
            .bind(w.behind_trunk)
            .bind(&w.last_commit_hash)
            .bind(&w.last_commit_message)
            .bind(w.last_sync_at)
            .bind(w.merged_at)
            .bind(&w.merged_by)
            .bind(&w.merge_commit_hash)
            .bind(meta_text(&w.metadata))
            .bind(w.created_at)
            .bind(w.updated_at)
            .bind(w.active)
            .bind(w.id)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }

        // --- activities
        for chunk in pick(&snap.activities, &activity_plans, Plan::is_insert).chunks(BATCH) {
            let n = sqlx::query(
                "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, project_name, \
                 worktree_name, activity_type, file_path, description, metadata, created_at) \
                 SELECT id, agent_id, worktree_id, project_id, project_name, worktree_name, \
                 activity_type, file_path, description, metadata::jsonb, created_at \
                 FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[]) \
                 AS s(id, agent_id, worktree_id, project_id, project_name, worktree_name, \
                 activity_type, file_path, description, metadata, created_at)",
            )
            .bind(chunk.iter().map(|a| a.id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.agent_id.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.worktree_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.project_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.project_name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.worktree_name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.activity_type.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.file_path.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.description.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| meta_text(&a.metadata)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|a| a.created_at).collect::<Vec<_>>())
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
            report.activities.inserted += n.rows_affected();
        }
        for a in pick(&snap.activities, &activity_plans, Plan::is_replace) {
            sqlx::query(
                "UPDATE agent_activities SET agent_id = $1, worktree_id = $2, project_id = $3, \
                 project_name = $4, worktree_name = $5, activity_type = $6, file_path = $7, \
                 description = $8, metadata = $9::jsonb, created_at = $10 WHERE id = $11",
            )
            .bind(&a.agent_id)
            .bind(a.worktree_id)
            .bind(a.project_id)
            .bind(&a.project_name)
            .bind(&a.worktree_name)
            .bind(&a.activity_type)
            .bind(&a.file_path)
            .bind(&a.description)
            .bind(meta_text(&a.metadata))
            .bind(a.created_at)
            .bind(a.id)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        }

        let after = counts(c).await?;
        verify(
            before,
            after,
            [
                report.projects.inserted,
                report.worktree_types.inserted,
                report.worktrees.inserted,
                report.activities.inserted,
            ],
        )?;
        report.verified = true;
        if opts.dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(report)
    }
}
