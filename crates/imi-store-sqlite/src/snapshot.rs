//! `export_snapshot` / `import_snapshot` on the SQLite file, as `imi_core::snapshot`
//! runs them over [`SnapTx`]: an export reads in one transaction of the reader
//! pool; an import is one `BEGIN IMMEDIATE` transaction,
//! rows loaded by id in one statement each (`json_each` of the ids), multi-row
//! inserts of prepared shape. Timestamps are kept to the microsecond
//! (`rows::ts_text`), as on PostgreSQL; finer ones are truncated and the report
//! says so.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use imi_core::snapshot::{Clash, ClashCandidates, Clashes, RowCounts, SnapshotTx};
use imi_core::{Activity, Project, Result, Worktree, WorktreeType};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use crate::error::db_err;
use crate::id_text;
use crate::rows::{
    self, BindValues, activity_cols, meta_text, project_cols, ts_text, type_cols, worktree_cols,
};

/// SQLite's bound-parameter limit is 32766; stay well below it.
const MAX_PARAMS: usize = 30_000;

fn opt_ts_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts_text)
}

/// An export's or an import's transaction.
pub(crate) struct SnapTx(pub(crate) Transaction<'static, Sqlite>);

/// The rows of `sql` (a `SELECT ... FROM` one table), or of those with these ids
/// (one statement, over `json_each` of the ids).
async fn rows_of<T>(
    c: &mut SqliteConnection,
    sql: &str,
    ids: Option<&[Uuid]>,
    row: fn(&SqliteRow) -> Result<T>,
) -> Result<Vec<T>> {
    let (sql, ids) = match ids {
        None => (sql.to_string(), None),
        Some([]) => return Ok(vec![]),
        Some(ids) => {
            let ids: Vec<String> = ids.iter().map(|i| id_text(*i)).collect();
            let sql = format!("{sql} WHERE id IN (SELECT value FROM json_each(?1))");
            (sql, Some(serde_json::Value::from(ids).to_string()))
        }
    };
    let mut q = sqlx::query(&sql);
    if let Some(ids) = ids {
        q = q.bind(ids);
    }
    q.fetch_all(&mut *c)
        .await
        .map_err(db_err)?
        .iter()
        .map(row)
        .collect()
}

/// The id of the row `sql` finds (bound to `args`), as a clash of `id`.
async fn clash(
    c: &mut SqliteConnection,
    id: Uuid,
    sql: &'static str,
    args: &[&str],
) -> Result<Option<Clash>> {
    let mut q = sqlx::query_scalar::<_, Hyphenated>(sql);
    for a in args {
        q = q.bind(*a);
    }
    let other = q.fetch_optional(&mut *c).await.map_err(db_err)?;
    Ok(other.map(|o| Clash {
        id,
        other: o.into_uuid(),
    }))
}

async fn bump_updated_at(c: &mut SqliteConnection, sql: &'static str, id: &str) -> Result<()> {
    sqlx::query(sql)
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

impl SnapshotTx for SnapTx {
    async fn counts(&mut self) -> Result<RowCounts> {
        let (p, t, w, a): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM worktree_types), \
             (SELECT count(*) FROM worktrees), (SELECT count(*) FROM agent_activities)",
        )
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(RowCounts::of_counts([p, t, w, a]))
    }

    async fn projects(&mut self, ids: Option<&[Uuid]>) -> Result<Vec<Project>> {
        let sql = concat!("SELECT ", project_cols!(), " FROM projects");
        rows_of(&mut self.0, sql, ids, rows::project).await
    }

    async fn worktree_types(&mut self) -> Result<Vec<WorktreeType>> {
        let sql = concat!("SELECT ", type_cols!(), " FROM worktree_types");
        rows_of(&mut self.0, sql, None, rows::worktree_type).await
    }

    async fn worktrees(&mut self, ids: Option<&[Uuid]>) -> Result<Vec<Worktree>> {
        let sql = concat!("SELECT ", worktree_cols!(), " FROM worktrees");
        rows_of(&mut self.0, sql, ids, rows::worktree).await
    }

    async fn activities(&mut self, ids: Option<&[Uuid]>) -> Result<Vec<Activity>> {
        let sql = concat!("SELECT ", activity_cols!(), " FROM agent_activities");
        rows_of(&mut self.0, sql, ids, rows::activity).await
    }

    async fn clashes(&mut self, candidates: &ClashCandidates<'_>) -> Result<Clashes> {
        let c: &mut SqliteConnection = &mut self.0;
        let mut out = Clashes::default();
        for p in &candidates.projects {
            let sql = "SELECT id FROM projects WHERE origin_key = ?1 AND active = 1 AND id <> ?2";
            let id = id_text(p.id);
            let args = [p.origin_key.as_str(), &id];
            out.origin_key.extend(clash(c, p.id, sql, &args).await?);
        }
        for w in &candidates.worktrees {
            let id = id_text(w.id);
            let sql = "SELECT id FROM worktrees WHERE project_id = ?1 AND host = ?2 \
                       AND name = ?3 AND active = 1 AND id <> ?4";
            let project = id_text(w.project_id);
            let args = [project.as_str(), &w.host, &w.name, &id];
            let named = clash(c, w.id, sql, &args).await?;
            if named.is_some() {
                // the planner reports the name; the path is not looked at
                out.worktree_name.extend(named);
                continue;
            }
            let sql = "SELECT id FROM worktrees WHERE host = ?1 AND path = ?2 AND active = 1 \
                       AND id <> ?3";
            let args = [w.host.as_str(), &w.path, &id];
            out.worktree_path.extend(clash(c, w.id, sql, &args).await?);
        }
        Ok(out)
    }

    async fn mute_events(&mut self) -> Result<()> {
        // one event for the whole import instead of one per row (0006_events.sql)
        sqlx::query("INSERT INTO events_muted (muted) VALUES (1)")
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_type(&mut self, id: Option<i32>, row: &WorktreeType) -> Result<u64> {
        let n = sqlx::query(
            "INSERT INTO worktree_types (id, name, branch_prefix, worktree_prefix, \
             description, is_builtin, color, icon, metadata, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(id)
        .values(row)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(n.rows_affected())
    }

    async fn replace_type(&mut self, id: i32, row: &WorktreeType) -> Result<()> {
        // a replaced type keeps its name (the plan matched it by name), its id and
        // the earlier creation time
        sqlx::query(
            "UPDATE worktree_types SET branch_prefix = ?3, worktree_prefix = ?4, \
             description = ?5, is_builtin = ?6, color = ?7, icon = ?8, metadata = ?9, \
             created_at = min(created_at, ?10) WHERE id = ?1 AND name = ?2",
        )
        .bind(id)
        .values(row)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn backdate_type(&mut self, id: i32, created_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE worktree_types SET created_at = ?1 WHERE id = ?2")
            .bind(ts_text(created_at))
            .bind(id)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn type_ids(&mut self) -> Result<HashMap<String, i32>> {
        Ok(
            sqlx::query_as::<_, (String, i32)>("SELECT name, id FROM worktree_types")
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect(),
        )
    }

    async fn insert_projects(&mut self, rows: &[&Project]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(MAX_PARAMS / 11) {
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
            let n = qb.build().execute(&mut *self.0).await.map_err(db_err)?;
            inserted += n.rows_affected();
        }
        Ok(inserted)
    }

    async fn replace_project(&mut self, p: &Project) -> Result<()> {
        let c: &mut SqliteConnection = &mut self.0;
        let id = id_text(p.id);
        // Two steps, so that the updated_at trigger (which stamps now() when an
        // update leaves updated_at as it was) keeps the given value.
        bump_updated_at(c, "UPDATE projects SET updated_at = '' WHERE id = ?1", &id).await?;
        sqlx::query(
            "UPDATE projects SET name = ?1, remote_origin = ?2, origin_key = ?3, \
             default_branch = ?4, trunk_path = ?5, description = ?6, metadata = ?7, \
             created_at = ?8, updated_at = ?9, active = ?10 WHERE id = ?11",
        )
        .values(p)
        .bind(&id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_worktrees(&mut self, rows: &[(&Worktree, i32)]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(MAX_PARAMS / 22) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host, \
                 agent_id, has_uncommitted_changes, uncommitted_files_count, ahead_of_trunk, \
                 behind_trunk, last_commit_hash, last_commit_message, last_sync_at, merged_at, \
                 merged_by, merge_commit_hash, metadata, created_at, updated_at, active) ",
            );
            qb.push_values(chunk, |mut b, (w, tid)| {
                b.push_bind(id_text(w.id))
                    .push_bind(id_text(w.project_id))
                    .push_bind(*tid)
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
            let n = qb.build().execute(&mut *self.0).await.map_err(db_err)?;
            inserted += n.rows_affected();
        }
        Ok(inserted)
    }

    async fn replace_worktree(&mut self, w: &Worktree, type_id: i32) -> Result<()> {
        let c: &mut SqliteConnection = &mut self.0;
        let id = id_text(w.id);
        bump_updated_at(c, "UPDATE worktrees SET updated_at = '' WHERE id = ?1", &id).await?;
        sqlx::query(
            "UPDATE worktrees SET project_id = ?1, name = ?2, branch_name = ?3, path = ?4, \
             host = ?5, agent_id = ?6, has_uncommitted_changes = ?7 > 0, \
             uncommitted_files_count = ?7, ahead_of_trunk = ?8, behind_trunk = ?9, \
             last_commit_hash = ?10, last_commit_message = ?11, last_sync_at = ?12, \
             merged_at = ?13, merged_by = ?14, merge_commit_hash = ?15, metadata = ?16, \
             created_at = ?17, updated_at = ?18, active = ?19, type_id = ?20 WHERE id = ?21",
        )
        .values(w)
        .bind(type_id)
        .bind(&id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_activities(&mut self, rows: &[&Activity]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in rows.chunks(MAX_PARAMS / 11) {
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
            let n = qb.build().execute(&mut *self.0).await.map_err(db_err)?;
            inserted += n.rows_affected();
        }
        Ok(inserted)
    }

    async fn replace_activity(&mut self, a: &Activity) -> Result<()> {
        sqlx::query(
            "UPDATE agent_activities SET agent_id = ?1, worktree_id = ?2, project_id = ?3, \
             project_name = ?4, worktree_name = ?5, activity_type = ?6, file_path = ?7, \
             description = ?8, metadata = ?9, created_at = ?10 WHERE id = ?11",
        )
        .values(a)
        .bind(id_text(a.id))
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn imported(&mut self, inserted: &RowCounts) -> Result<()> {
        let c: &mut SqliteConnection = &mut self.0;
        sqlx::query("DELETE FROM events_muted")
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO events (type, payload) VALUES ('imi.registry.imported', \
             json_object('projects', ?1, 'worktree_types', ?2, 'worktrees', ?3, 'activities', ?4))",
        )
        .values(inserted)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn finish(self, commit: bool) -> Result<()> {
        if commit {
            self.0.commit().await
        } else {
            self.0.rollback().await
        }
        .map_err(db_err)
    }
}
