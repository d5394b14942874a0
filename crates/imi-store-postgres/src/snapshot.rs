//! `export_snapshot` / `import_snapshot` on PostgreSQL, as `imi_core::snapshot`
//! runs them over [`SnapTx`], a [`Tx`] (safe behind PgBouncer): an export reads in
//! one repeatable-read transaction; an import is one transaction that holds the
//! registry's writers off, existing rows fetched with `= ANY($ids)`, new rows
//! written with `UNNEST` batches (one round trip per few thousand rows).
//! Timestamps keep microseconds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use imi_core::snapshot::{Clash, ClashCandidates, Clashes, RowCounts, SnapshotTx};
use imi_core::{Activity, Project, Result, Worktree, WorktreeType};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::error::db_err;
use crate::rows::{BindValues, meta_text};
use crate::session::Tx;
use crate::{PgStore, rows};

const BATCH: usize = 5_000;

const WORKTREE_SELECT: &str = "SELECT w.*, (SELECT t.name FROM worktree_types t WHERE t.id = w.type_id) AS type_name \
     FROM worktrees w";

impl PgStore {
    /// The transaction of an export: one consistent, read-only view of all four
    /// tables.
    pub(crate) async fn export_transaction(&self) -> Result<SnapTx> {
        let mut tx = self.db().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        Ok(SnapTx {
            tx,
            serial_behind: false,
        })
    }

    /// The transaction of an import: writers of the same registry wait for it
    /// (reads go on).
    pub(crate) async fn import_transaction(&self) -> Result<SnapTx> {
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "LOCK TABLE projects, worktree_types, worktrees, agent_activities \
             IN SHARE ROW EXCLUSIVE MODE",
        )
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        Ok(SnapTx {
            tx,
            serial_behind: false,
        })
    }
}

/// An export's or an import's transaction.
pub(crate) struct SnapTx {
    tx: Tx,
    /// Types were inserted with their own ids since the serial was last moved
    /// past them ([`advance_type_serial`]).
    serial_behind: bool,
}

/// The rows of `sql` (a `SELECT ... FROM` one table), or of those whose
/// `id_column` is among these ids.
async fn rows_of<T>(
    c: &mut Tx,
    sql: &str,
    id_column: &str,
    ids: Option<&[Uuid]>,
    row: fn(&PgRow) -> Result<T>,
) -> Result<Vec<T>> {
    let rows = match ids {
        None => sqlx::query(sql).fetch_all(&mut *c).await,
        Some([]) => return Ok(vec![]),
        Some(ids) => {
            sqlx::query(&format!("{sql} WHERE {id_column} = ANY($1)"))
                .bind(ids)
                .fetch_all(&mut *c)
                .await
        }
    };
    rows.map_err(db_err)?.iter().map(row).collect()
}

/// Explicit ids do not advance the serial: move it past them.
async fn advance_type_serial(c: &mut Tx) -> Result<()> {
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('worktree_types', 'id'), \
         (SELECT max(id) FROM worktree_types))",
    )
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn clashes(found: Vec<(Uuid, Uuid)>) -> Vec<Clash> {
    found
        .into_iter()
        .map(|(id, other)| Clash { id, other })
        .collect()
}

impl SnapshotTx for SnapTx {
    async fn counts(&mut self) -> Result<RowCounts> {
        let (p, t, w, a): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM worktree_types), \
             (SELECT count(*) FROM worktrees), (SELECT count(*) FROM agent_activities)",
        )
        .fetch_one(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(RowCounts::of_counts([p, t, w, a]))
    }

    async fn projects(&mut self, ids: Option<&[Uuid]>) -> Result<Vec<Project>> {
        let sql = "SELECT * FROM projects";
        rows_of(&mut self.tx, sql, "id", ids, rows::project).await
    }

    async fn worktree_types(&mut self) -> Result<Vec<WorktreeType>> {
        let sql = "SELECT * FROM worktree_types";
        rows_of(&mut self.tx, sql, "id", None, rows::worktree_type).await
    }

    async fn worktrees(&mut self, ids: Option<&[Uuid]>) -> Result<Vec<Worktree>> {
        rows_of(&mut self.tx, WORKTREE_SELECT, "w.id", ids, rows::worktree).await
    }

    async fn activities(&mut self, ids: Option<&[Uuid]>) -> Result<Vec<Activity>> {
        let sql = "SELECT * FROM agent_activities";
        rows_of(&mut self.tx, sql, "id", ids, rows::activity).await
    }

    async fn clashes(&mut self, candidates: &ClashCandidates<'_>) -> Result<Clashes> {
        let c = &mut self.tx;
        let (p, w) = (&candidates.projects, &candidates.worktrees);
        let mut out = Clashes::default();
        if !p.is_empty() {
            let found: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT s.id, p.id FROM UNNEST($1::uuid[], $2::text[]) AS s(id, key) \
                 JOIN projects p ON p.origin_key = s.key AND p.active AND p.id <> s.id",
            )
            .bind(p.iter().map(|p| p.id).collect::<Vec<_>>())
            .bind(p.iter().map(|p| p.origin_key.clone()).collect::<Vec<_>>())
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?;
            out.origin_key = clashes(found);
        }
        if w.is_empty() {
            return Ok(out);
        }
        let found: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT s.id, w.id \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS s(id, project_id, host, name) \
             JOIN worktrees w ON w.project_id = s.project_id AND w.host = s.host \
              AND w.name = s.name AND w.active AND w.id <> s.id",
        )
        .bind(w.iter().map(|w| w.id).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.project_id).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.host.clone()).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.name.clone()).collect::<Vec<_>>())
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
        out.worktree_name = clashes(found);
        let found: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT s.id, w.id FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS s(id, host, path) \
             JOIN worktrees w ON w.host = s.host AND w.path = s.path AND w.active AND w.id <> s.id",
        )
        .bind(w.iter().map(|w| w.id).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.host.clone()).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.path.clone()).collect::<Vec<_>>())
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
        out.worktree_path = clashes(found);
        Ok(out)
    }

    async fn mute_events(&mut self) -> Result<()> {
        // one event for the whole import instead of one per row (0007_events.sql)
        sqlx::query("SELECT set_config('imi.events', 'off', true)")
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_type(&mut self, id: Option<i32>, row: &WorktreeType) -> Result<u64> {
        if id.is_none() && self.serial_behind {
            advance_type_serial(&mut self.tx).await?;
        }
        self.serial_behind = id.is_some();
        let n = sqlx::query(
            "INSERT INTO worktree_types (id, name, branch_prefix, worktree_prefix, \
             description, is_builtin, color, icon, metadata, created_at) \
             VALUES (coalesce($1, nextval(pg_get_serial_sequence('worktree_types', 'id'))::int), \
             $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)",
        )
        .bind(id)
        .values(row)
        .execute(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(n.rows_affected())
    }

    async fn replace_type(&mut self, id: i32, row: &WorktreeType) -> Result<()> {
        // a replaced type keeps its name (the plan matched it by name), its id and
        // the earlier creation time
        sqlx::query(
            "UPDATE worktree_types SET branch_prefix = $3, worktree_prefix = $4, \
             description = $5, is_builtin = $6, color = $7, icon = $8, \
             metadata = $9::jsonb, created_at = least(created_at, $10) \
             WHERE id = $1 AND name = $2",
        )
        .bind(id)
        .values(row)
        .execute(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn backdate_type(&mut self, id: i32, created_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE worktree_types SET created_at = $1 WHERE id = $2")
            .bind(created_at)
            .bind(id)
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn type_ids(&mut self) -> Result<HashMap<String, i32>> {
        if self.serial_behind {
            advance_type_serial(&mut self.tx).await?;
            self.serial_behind = false;
        }
        let found = sqlx::query_as::<_, (String, i32)>("SELECT name, id FROM worktree_types")
            .fetch_all(&mut self.tx)
            .await
            .map_err(db_err)?;
        Ok(found.into_iter().collect())
    }

    async fn insert_projects(&mut self, rows: &[&Project]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(BATCH) {
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
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
            inserted += n.rows_affected();
        }
        Ok(inserted)
    }

    async fn replace_project(&mut self, p: &Project) -> Result<()> {
        // Two steps, so that the updated_at trigger (which stamps now() when an
        // update leaves updated_at as it was) keeps the given value.
        sqlx::query("UPDATE projects SET updated_at = '-infinity' WHERE id = $1")
            .bind(p.id)
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "UPDATE projects SET name = $1, remote_origin = $2, origin_key = $3, \
             default_branch = $4, trunk_path = $5, description = $6, metadata = $7::jsonb, \
             created_at = $8, updated_at = $9, active = $10 WHERE id = $11",
        )
        .values(p)
        .bind(p.id)
        .execute(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_worktrees(&mut self, rows: &[(&Worktree, i32)]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(BATCH) {
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
            .bind(chunk.iter().map(|(w, _)| w.id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.project_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, tid)| *tid).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.branch_name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.path.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.host.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.agent_id.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.uncommitted_files_count).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.ahead_of_trunk).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.behind_trunk).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.last_commit_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.last_commit_message.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.last_sync_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.merged_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.merged_by.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.merge_commit_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| meta_text(&w.metadata)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.updated_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(w, _)| w.active).collect::<Vec<_>>())
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
            inserted += n.rows_affected();
        }
        Ok(inserted)
    }

    async fn replace_worktree(&mut self, w: &Worktree, type_id: i32) -> Result<()> {
        sqlx::query("UPDATE worktrees SET updated_at = '-infinity' WHERE id = $1")
            .bind(w.id)
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "UPDATE worktrees SET project_id = $1, name = $2, branch_name = $3, path = $4, \
             host = $5, agent_id = $6, uncommitted_files_count = $7, ahead_of_trunk = $8, \
             behind_trunk = $9, last_commit_hash = $10, last_commit_message = $11, \
             last_sync_at = $12, merged_at = $13, merged_by = $14, merge_commit_hash = $15, \
             metadata = $16::jsonb, created_at = $17, updated_at = $18, active = $19, \
             type_id = $20 WHERE id = $21",
        )
        .values(w)
        .bind(type_id)
        .bind(w.id)
        .execute(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_activities(&mut self, rows: &[&Activity]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(BATCH) {
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
            .execute(&mut self.tx)
            .await
            .map_err(db_err)?;
            inserted += n.rows_affected();
        }
        Ok(inserted)
    }

    async fn replace_activity(&mut self, a: &Activity) -> Result<()> {
        sqlx::query(
            "UPDATE agent_activities SET agent_id = $1, worktree_id = $2, project_id = $3, \
             project_name = $4, worktree_name = $5, activity_type = $6, file_path = $7, \
             description = $8, metadata = $9::jsonb, created_at = $10 WHERE id = $11",
        )
        .values(a)
        .bind(a.id)
        .execute(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn imported(&mut self, inserted: &RowCounts) -> Result<()> {
        // the events stay off for the rest of the transaction: nothing else writes
        sqlx::query(
            "SELECT imi_emit_event('imi.registry.imported', NULL, NULL, NULL, NULL, NULL, NULL, \
             jsonb_build_object('projects', $1::bigint, 'worktree_types', $2::bigint, \
             'worktrees', $3::bigint, 'activities', $4::bigint))",
        )
        .values(inserted)
        .execute(&mut self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn finish(self, commit: bool) -> Result<()> {
        if commit {
            self.tx.commit().await
        } else {
            self.tx.rollback().await
        }
    }
}
