//! `cargo run --release -p imi-bench [-- --iterations N] [--backend sqlite|postgres|pgbouncer]`
//!
//! Fills each backend with the SPEC §8 reference workload (1,000 projects, 5,000
//! worktrees, 100,000 activities), then times, through the `Store` API on loopback,
//! project registration, worktree registration, the in-flight query, path
//! resolution, claim and release, each beside two floors measured in the same run through the store's
//! own pool: a bare `SELECT 1` round trip, and a one-row `INSERT` commit into a
//! scratch table `bench_floor` (what any durable write costs on this disk: the WAL
//! flush). It prints p50 / p99 and each operation's ratio to both floors. PostgreSQL
//! runs in a fresh database on `IMI_TEST_DATABASE_URL` (default: local trust auth),
//! dropped afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

use std::future::Future;
use std::time::{Duration, Instant};

use imi_core::{GitState, NewClaim, NewProject, NewWorktree, Project, ReleaseScope, Store};
use imi_store_postgres::PgStore;
use imi_store_sqlite::SqliteStore;

const PROJECTS: usize = 1_000;
const WORKTREES_PER_PROJECT: usize = 5;
const ACTIVITIES: usize = 100_000;
const TYPES: [&str; 4] = ["feat", "fix", "aiops", "devops"];

/// Seed's published PostgreSQL latencies (p50, p99) in ms; the target is a tenth.
const SEED: [(&str, f64, f64); 4] = [
    ("project registration", 5.0, 15.0),
    ("worktree registration", 8.0, 25.0),
    ("in-flight query", 3.0, 10.0),
    ("path resolution", 1.0, 3.0),
];

struct Sample(Vec<Duration>);

impl Sample {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i].as_secs_f64() * 1000.0
    }
}

fn new_project(i: usize, tag: &str) -> NewProject {
    NewProject {
        name: format!("{tag}proj-{i}"),
        remote_origin: Some(format!("git@github.com:org{}/{tag}proj-{i}.git", i % 37)),
        trunk_path: format!("/code/{tag}proj-{i}/trunk-main"),
        ..Default::default()
    }
}

fn new_worktree(p: &Project, t: &str, name: &str) -> NewWorktree {
    NewWorktree {
        project_id: p.id,
        type_name: t.into(),
        name: format!("{t}-{name}"),
        branch_name: format!("{t}/{name}"),
        path: format!("/code/{}/{t}-{name}", p.name),
        agent_id: Some(format!("agent-{}", name.len() % 7)),
        ..Default::default()
    }
}

async fn fill<S: Store>(s: &S) -> Vec<Project> {
    let mut projects = Vec::with_capacity(PROJECTS);
    for i in 0..PROJECTS {
        let p = s.register_project(&new_project(i, "")).await.unwrap();
        s.register_worktree(&NewWorktree {
            project_id: p.id,
            type_name: "trunk".into(),
            name: "trunk-main".into(),
            branch_name: "main".into(),
            path: p.trunk_path.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
        let mut batch = vec![];
        for j in 0..WORKTREES_PER_PROJECT - 1 {
            let w = s
                .register_worktree(&new_worktree(&p, TYPES[j % 4], &format!("task-{j}")))
                .await
                .unwrap();
            // about a third of the work is in flight, in every status
            if (i + j) % 3 == 0 {
                batch.push((
                    w.id,
                    GitState {
                        uncommitted_count: Some(((i + j) % 4) as i32),
                        ahead: Some((j % 3) as i32),
                        behind: Some((i % 2) as i32),
                        last_commit_hash: Some(format!("{:040x}", i * 10 + j)),
                        last_commit_message: Some("wip".into()),
                    },
                ));
            }
        }
        s.update_git_states(&batch).await.unwrap();
        projects.push(p);
    }
    projects
}

const PG_ACTIVITIES: &str = "
INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, project_name, worktree_name, activity_type, description, created_at)
SELECT gen_random_uuid(), 'agent-' || (g % 50), w.id, w.project_id, p.name, w.name,
       (ARRAY['created','modified','committed','pushed','synced'])[1 + g % 5], 'bench', now() - (g || ' seconds')::interval
FROM generate_series(1, $1) g
JOIN (SELECT id, project_id, name, row_number() OVER (ORDER BY id) - 1 AS rn FROM worktrees) w
  ON w.rn = g % (SELECT count(*) FROM worktrees)
JOIN projects p ON p.id = w.project_id";

const SQLITE_ACTIVITIES: &str = "
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?1),
     w AS (SELECT id, project_id, name, row_number() OVER (ORDER BY id) - 1 AS rn FROM worktrees),
     c AS (SELECT count(*) AS k FROM worktrees)
INSERT INTO agent_activities (id, agent_id, worktree_id, project_id, project_name, worktree_name, activity_type, description, created_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-8' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       'agent-' || (n % 50), w.id, w.project_id, p.name, w.name,
       CASE n % 5 WHEN 0 THEN 'created' WHEN 1 THEN 'modified' WHEN 2 THEN 'committed' WHEN 3 THEN 'pushed' ELSE 'synced' END,
       'bench', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-' || n || ' seconds')
FROM g, c JOIN w ON w.rn = g.n % c.k JOIN projects p ON p.id = w.project_id";

const SELECT1: &str = "SELECT 1";
const INSERT1: &str = "INSERT commit (1 row)";

async fn measure<S, F, Fut, G, Gut>(
    s: &S,
    projects: &[Project],
    n: usize,
    select_floor: G,
    insert_floor: F,
) -> Vec<(String, Sample)>
where
    S: Store,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
    G: Fn() -> Gut,
    Gut: Future<Output = ()>,
{
    // warm up every statement once
    select_floor().await;
    insert_floor(0).await;
    s.inflight(Some(projects[0].id)).await.unwrap();
    s.working_path(projects[0].id, Some("feat-task-0"))
        .await
        .unwrap();

    // Interleaved: iteration i runs every operation once, so a floor and the
    // operations it is compared with see the same machine load (other processes,
    // the WAL writer, a checkpoint) instead of one phase each.
    let names = [
        SELECT1,
        INSERT1,
        "project registration",
        "worktree registration",
        "in-flight query",
        "path resolution",
        "in-flight query, all projects",
        "claim (new tenure)",
        "release",
    ];
    let mut samples: Vec<Vec<Duration>> = names.iter().map(|_| Vec::with_capacity(n)).collect();
    for i in 0..n {
        let p = &projects[(i * 7919) % projects.len()];
        let t = Instant::now();
        select_floor().await;
        samples[0].push(t.elapsed());
        let t = Instant::now();
        insert_floor(i).await;
        samples[1].push(t.elapsed());
        let t = Instant::now();
        s.register_project(&new_project(i, "new")).await.unwrap();
        samples[2].push(t.elapsed());
        let t = Instant::now();
        let w = s
            .register_worktree(&new_worktree(p, TYPES[i % 4], &format!("bench-{i}")))
            .await
            .unwrap();
        samples[3].push(t.elapsed());
        let t = Instant::now();
        s.inflight(Some(p.id)).await.unwrap();
        samples[4].push(t.elapsed());
        let t = Instant::now();
        s.working_path(p.id, Some("feat-task-0")).await.unwrap();
        samples[5].push(t.elapsed());
        if i % 20 == 0 {
            let t = Instant::now();
            s.inflight(None).await.unwrap();
            samples[6].push(t.elapsed());
        }
        let t = Instant::now();
        let g = s
            .claim(&NewClaim {
                worktree_id: w.id,
                agent_id: "bench-agent".into(),
                ttl_seconds: Some(600),
                purpose: None,
            })
            .await
            .unwrap();
        samples[7].push(t.elapsed());
        let t = Instant::now();
        s.release_claim(w.id, "bench-agent", ReleaseScope::Epoch(g.claim.epoch))
            .await
            .unwrap();
        samples[8].push(t.elapsed());
    }
    names
        .iter()
        .zip(samples)
        .map(|(n, v)| (n.to_string(), Sample(v)))
        .collect()
}

fn report(backend: &str, rows: &[(String, Sample)], inflight_rows: usize) {
    let floor = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.pct(0.5))
            .unwrap()
    };
    let (select1, insert1) = (floor(SELECT1), floor(INSERT1));
    println!(
        "\n{backend}: {PROJECTS} projects, {} worktrees, {ACTIVITIES} activities ({inflight_rows} worktrees in flight)",
        PROJECTS * WORKTREES_PER_PROJECT
    );
    println!(
        "{:<32} {:>9} {:>9} {:>12} {:>12} {:>6}  target p50/p99",
        "operation", "p50 ms", "p99 ms", "p50/SELECT1", "p50/INSERT", "n"
    );
    for (name, s) in rows {
        let target = SEED
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, p50, p99)| {
                let ok = s.pct(0.5) <= p50 / 10.0 && s.pct(0.99) <= p99 / 10.0;
                format!(
                    "{:.2}/{:.2} {}",
                    p50 / 10.0,
                    p99 / 10.0,
                    if ok { "met" } else { "MISSED" }
                )
            })
            .unwrap_or_default();
        println!(
            "{:<32} {:>9.3} {:>9.3} {:>11.2}x {:>11.2}x {:>6}  {target}",
            name,
            s.pct(0.5),
            s.pct(0.99),
            s.pct(0.5) / select1,
            s.pct(0.5) / insert1,
            s.0.len(),
        );
    }
}

async fn run<S, F, Fut, G, Gut>(
    backend: &str,
    s: &S,
    bulk: impl Future<Output = ()>,
    n: usize,
    select_floor: G,
    insert_floor: F,
) where
    S: Store,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
    G: Fn() -> Gut,
    Gut: Future<Output = ()>,
{
    let t = Instant::now();
    imi_core::store::ensure_schema(s).await.unwrap();
    let projects = fill(s).await;
    bulk.await;
    eprintln!("{backend}: filled in {:.1} s", t.elapsed().as_secs_f64());
    let inflight = s.inflight(None).await.unwrap().len();
    let rows = measure(s, &projects, n, select_floor, insert_floor).await;
    report(backend, &rows, inflight);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: usize = arg("--iterations")
        .map(|v| v.parse().expect("--iterations N"))
        .unwrap_or(2000);
    let only = arg("--backend");

    if only.as_deref().is_none_or(|b| b == "sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("bench.db"), "bench-host")
            .await
            .unwrap();
        let bulk = async {
            imi_core::store::ensure_schema(&s).await.unwrap();
            sqlx::query(SQLITE_ACTIVITIES)
                .bind(ACTIVITIES as i64)
                .execute(s.pool())
                .await
                .unwrap();
            sqlx::query("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
                .execute(s.pool())
                .await
                .unwrap();
            sqlx::query("ANALYZE").execute(s.pool()).await.unwrap();
        };
        let pool = s.pool().clone();
        let insert_floor = |i: usize| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO bench_floor (v) VALUES (?1)")
                    .bind(format!("floor-{i}"))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        };
        run(
            "sqlite",
            &s,
            bulk,
            n,
            || async { s.ping().await.unwrap() },
            insert_floor,
        )
        .await;
    }
    if only.as_deref().is_none_or(|b| b == "postgres") {
        let db = imi_testkit::PgTestDb::create()
            .await
            .expect("PostgreSQL unreachable: set IMI_TEST_DATABASE_URL");
        let s = PgStore::connect(&db.url, "bench-host").await.unwrap();
        let bulk = async {
            sqlx::query(PG_ACTIVITIES)
                .bind(ACTIVITIES as i32)
                .execute(s.pool())
                .await
                .unwrap();
            sqlx::query("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, v text)")
                .execute(s.pool())
                .await
                .unwrap();
            sqlx::query("ANALYZE").execute(s.pool()).await.unwrap();
        };
        let pool = s.pool().clone();
        let insert_floor = |i: usize| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO bench_floor (v) VALUES ($1)")
                    .bind(format!("floor-{i}"))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        };
        run(
            "postgres",
            &s,
            bulk,
            n,
            || async { s.ping().await.unwrap() },
            insert_floor,
        )
        .await;
        drop(s);
        drop(db);
    }
    if only.as_deref().is_none_or(|b| b == "pgbouncer") {
        // the same through Debian's PgBouncer in transaction pooling mode (started
        // here on a loopback port); floors in the simple protocol, one round trip each:
        // the least any client can send through the pooler
        let db = imi_testkit::PgTestDb::create()
            .await
            .expect("PostgreSQL unreachable: set IMI_TEST_DATABASE_URL");
        let direct = PgStore::connect(&db.url, "bench-host").await.unwrap();
        imi_core::store::ensure_schema(&direct).await.unwrap();
        let bouncer = imi_testkit::PgBouncer::start().expect("pgbouncer is not installed");
        let s = PgStore::connect(&bouncer.url(&db.name), "bench-host")
            .await
            .unwrap();
        let bulk = async {
            sqlx::query(PG_ACTIVITIES)
                .bind(ACTIVITIES as i32)
                .execute(direct.pool())
                .await
                .unwrap();
            sqlx::query("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, v text)")
                .execute(direct.pool())
                .await
                .unwrap();
            sqlx::query("ANALYZE").execute(direct.pool()).await.unwrap();
        };
        let pool = s.pool().clone();
        let select_floor = || {
            let pool = pool.clone();
            async move {
                sqlx::raw_sql("SELECT 1").execute(&pool).await.unwrap();
            }
        };
        let insert_floor = |i: usize| {
            let pool = pool.clone();
            async move {
                let sql = format!("INSERT INTO bench_floor (v) VALUES ('floor-{i}')");
                sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
            }
        };
        run("pgbouncer", &s, bulk, n, select_floor, insert_floor).await;
        drop(s);
        drop(direct);
        drop(bouncer);
        drop(db);
    }
}
