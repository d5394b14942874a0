//! `cargo run --release -p imi-bench --bin import-bench [-- REPOS WORKTREES ACTIVITIES]`
//!
//! Generates a legacy iMi database (default 1,000 repositories, 5,000 worktrees,
//! 100,000 activities) and imports it into a fresh registry of each backend with
//! `imi_import::legacy::import` (read the file, map, write in one transaction, verify
//! counts). Beside it, the floor: the same rows, already in memory, written by a
//! plain bulk load into another fresh registry: `COPY ... FROM STDIN` on
//! PostgreSQL, multi-row `INSERT`s in one transaction on SQLite. Target: the import
//! within 3x of the floor.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

use std::time::{Duration, Instant};

use imi_core::{RegistrySnapshot, Store};
use imi_import::legacy;
use imi_store_postgres::PgStore;
use imi_store_sqlite::SqliteStore;
use sqlx::{QueryBuilder, Sqlite};

const HOST: &str = "bench-host";

fn csv(v: Option<String>) -> String {
    match v {
        None => String::new(),
        Some(s) => format!("\"{}\"", s.replace('"', "\"\"")),
    }
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339()
}

/// The rows the import writes (new types, projects, worktrees, activities).
async fn rows_of(file: &std::path::Path) -> RegistrySnapshot {
    let (s, _d) = sqlite_store().await;
    let data = legacy::read(file).await.unwrap();
    let existing = legacy::Existing::load(&s).await.unwrap();
    legacy::plan(&data, &existing, HOST, &|_| {}).snapshot
}

async fn sqlite_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("registry.db"), HOST)
        .await
        .unwrap();
    imi_core::store::ensure_schema(&s).await.unwrap();
    (s, dir)
}

async fn pg_store() -> Option<(PgStore, imi_testkit::PgTestDb)> {
    let db = imi_testkit::PgTestDb::create().await?;
    let s = PgStore::connect(&db.url, HOST).await.unwrap();
    imi_core::store::ensure_schema(&s).await.unwrap();
    Some((s, db))
}

async fn sqlite_floor(s: &SqliteStore, rows: &RegistrySnapshot) {
    let mut tx = s.pool().begin().await.unwrap();
    for t in &rows.worktree_types {
        sqlx::query("INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(&t.name).bind(&t.branch_prefix).bind(&t.worktree_prefix).bind(&t.description).bind(ts(t.created_at))
            .execute(&mut *tx).await.unwrap();
    }
    for chunk in rows.projects.chunks(2000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO projects (id, name, remote_origin, origin_key, default_branch, trunk_path, created_at, updated_at, active) ",
        );
        qb.push_values(chunk, |mut b, p| {
            b.push_bind(p.id.to_string())
                .push_bind(&p.name)
                .push_bind(&p.remote_origin)
                .push_bind(&p.origin_key)
                .push_bind(&p.default_branch)
                .push_bind(&p.trunk_path)
                .push_bind(ts(p.created_at))
                .push_bind(ts(p.updated_at))
                .push_bind(p.active);
        });
        qb.build().execute(&mut *tx).await.unwrap();
    }
    for chunk in rows.worktrees.chunks(1000) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host, agent_id, created_at, updated_at, active) ",
        );
        qb.push_values(chunk, |mut b, w| {
            b.push_bind(w.id.to_string())
                .push_bind(w.project_id.to_string())
                .push(format_args!("(SELECT id FROM worktree_types WHERE name = "))
                .push_bind_unseparated(&w.type_name)
                .push_unseparated(")")
                .push_bind(&w.name)
                .push_bind(&w.branch_name)
                .push_bind(&w.path)
                .push_bind(&w.host)
                .push_bind(&w.agent_id)
                .push_bind(ts(w.created_at))
                .push_bind(ts(w.updated_at))
                .push_bind(w.active);
        });
        qb.build().execute(&mut *tx).await.unwrap();
    }
    for chunk in rows.activities.chunks(2500) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, project_name, worktree_name, activity_type, file_path, description, metadata, created_at) ",
        );
        qb.push_values(chunk, |mut b, a| {
            b.push_bind(a.id.to_string())
                .push_bind(&a.agent_id)
                .push_bind(a.worktree_id.map(|x| x.to_string()))
                .push_bind(a.project_id.map(|x| x.to_string()))
                .push_bind(&a.project_name)
                .push_bind(&a.worktree_name)
                .push_bind(&a.activity_type)
                .push_bind(&a.file_path)
                .push_bind(&a.description)
                .push_bind(serde_json::to_string(&a.metadata).unwrap())
                .push_bind(ts(a.created_at));
        });
        qb.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn pg_copy(s: &PgStore, stmt: &str, text: String) {
    let mut conn = s.pool().acquire().await.unwrap();
    let mut copy = conn.copy_in_raw(stmt).await.unwrap();
    copy.send(text.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
}

async fn pg_floor(s: &PgStore, rows: &RegistrySnapshot) {
    let mut text = String::new();
    for t in &rows.worktree_types {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            csv(Some(t.name.clone())),
            csv(Some(t.branch_prefix.clone())),
            csv(Some(t.worktree_prefix.clone())),
            csv(t.description.clone()),
            ts(t.created_at)
        ));
    }
    pg_copy(s, "COPY worktree_types (name, branch_prefix, worktree_prefix, description, created_at) FROM STDIN (FORMAT csv)", text).await;
    let types: std::collections::HashMap<String, i32> =
        sqlx::query_as::<_, (String, i32)>("SELECT name, id FROM worktree_types")
            .fetch_all(s.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let mut text = String::new();
    for p in &rows.projects {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            p.id,
            csv(Some(p.name.clone())),
            csv(p.remote_origin.clone()),
            csv(Some(p.origin_key.clone())),
            csv(Some(p.default_branch.clone())),
            csv(Some(p.trunk_path.clone())),
            ts(p.created_at),
            ts(p.updated_at),
            p.active
        ));
    }
    pg_copy(s, "COPY projects (id, name, remote_origin, origin_key, default_branch, trunk_path, created_at, updated_at, active) FROM STDIN (FORMAT csv)", text).await;
    let mut text = String::new();
    for w in &rows.worktrees {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            w.id,
            w.project_id,
            types[&w.type_name],
            csv(Some(w.name.clone())),
            csv(Some(w.branch_name.clone())),
            csv(Some(w.path.clone())),
            csv(Some(w.host.clone())),
            csv(w.agent_id.clone()),
            ts(w.created_at),
            ts(w.updated_at),
            w.active
        ));
    }
    pg_copy(s, "COPY worktrees (id, project_id, type_id, name, branch_name, path, host, agent_id, created_at, updated_at, active) FROM STDIN (FORMAT csv)", text).await;
    let mut text = String::new();
    for a in &rows.activities {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            a.id,
            csv(Some(a.agent_id.clone())),
            a.worktree_id.map(|x| x.to_string()).unwrap_or_default(),
            a.project_id.map(|x| x.to_string()).unwrap_or_default(),
            csv(a.project_name.clone()),
            csv(a.worktree_name.clone()),
            csv(Some(a.activity_type.clone())),
            csv(a.file_path.clone()),
            csv(a.description.clone()),
            csv(Some(serde_json::to_string(&a.metadata).unwrap())),
            ts(a.created_at)
        ));
    }
    pg_copy(s, "COPY agent_activities (id, agent_id, worktree_id, project_id, project_name, worktree_name, activity_type, file_path, description, metadata, created_at) FROM STDIN (FORMAT csv)", text).await;
}

async fn check<S: Store>(s: &S, rows: &RegistrySnapshot) {
    let st = s.stats().await.unwrap();
    assert_eq!(st.total_projects as usize, rows.projects.len());
    assert_eq!(st.total_worktrees as usize, rows.worktrees.len());
    assert_eq!(st.total_activities as usize, rows.activities.len());
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (r, w, a) = match args.as_slice() {
        [r, w, a] => (*r, *w, *a),
        _ => (1_000, 5_000, 100_000),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iMi.db");
    imi_import::fixture::generate(&file, r, w, a).await.unwrap();
    let rows = rows_of(&file).await;
    println!(
        "legacy file: {r} repositories, {w} worktrees, {a} activities ({} MB)",
        std::fs::metadata(&file).unwrap().len() / 1_000_000
    );
    println!(
        "{:<10} {:>12} {:>12} {:>8}",
        "backend", "import", "floor", "ratio"
    );

    let report = |name: &str, import: Duration, floor: Duration| {
        println!(
            "{name:<10} {:>12} {:>12} {:>7.2}x   (floor: {})",
            secs(import),
            secs(floor),
            import.as_secs_f64() / floor.as_secs_f64(),
            if name == "sqlite" {
                "multi-row INSERT, one transaction"
            } else {
                "COPY FROM STDIN"
            }
        );
    };

    let (s, _d1) = sqlite_store().await;
    let t = Instant::now();
    let rep = legacy::import(&s, &file, false, &|_| {}).await.unwrap();
    let import = t.elapsed();
    assert_eq!(rep.activities.imported as usize, a);
    check(&s, &rows).await;
    let (f, _d2) = sqlite_store().await;
    let t = Instant::now();
    sqlite_floor(&f, &rows).await;
    let floor = t.elapsed();
    check(&f, &rows).await;
    report("sqlite", import, floor);

    let Some((s, _db1)) = pg_store().await else {
        println!("postgres   skipped: unreachable");
        return;
    };
    let t = Instant::now();
    let rep = legacy::import(&s, &file, false, &|_| {}).await.unwrap();
    let import = t.elapsed();
    assert_eq!(rep.activities.imported as usize, a);
    check(&s, &rows).await;
    let (f, _db2) = pg_store().await.unwrap();
    let t = Instant::now();
    pg_floor(&f, &rows).await;
    let floor = t.elapsed();
    check(&f, &rows).await;
    report("postgres", import, floor);
}
