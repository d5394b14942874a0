//! The boundaries of imi_reader, imi_auditor and imi_writer (SPEC §3.4).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure should stop the test loudly

mod common;

use common::{sqlstate, store};
use imi_core::Store;
use imi_store_postgres::PgStore;
use sqlx::PgConnection;
use uuid::Uuid;

async fn ok(c: &mut PgConnection, sql: &str, w: Uuid) {
    if let Err(e) = sqlx::query(sql).bind(w).execute(&mut *c).await {
        panic!("{sql}: {e}");
    }
}

async fn denied(c: &mut PgConnection, sql: &str, w: Uuid) {
    match sqlx::query(sql).bind(w).execute(&mut *c).await {
        Ok(_) => panic!("{sql}: allowed, expected permission denied"),
        Err(e) => assert_eq!(sqlstate(&e), "42501", "{sql}: {e}"),
    }
}

async fn seeded() -> Option<(imi_testkit::PgTestDb, PgStore, Uuid, Uuid)> {
    let (db, store) = store().await?;
    store.create_roles().await.unwrap();
    let p = common::project(&store, "guarded").await;
    let w = common::worktree(&store, &p, "feat", "feat-g").await;
    Some((db, store, p.id, w.id))
}

// $1 is a worktree id in every statement (bound even when unused).
const READS: &[&str] = &[
    "SELECT count(*) FROM projects WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM worktrees WHERE id = $1",
    "SELECT count(*) FROM worktree_types WHERE $1::uuid IS NOT NULL",
    "SELECT count(*) FROM agent_activities WHERE worktree_id = $1",
    "SELECT * FROM v_projects_summary WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM v_worktrees_detail WHERE id = $1",
    "SELECT * FROM v_inflight_work WHERE worktree_id = $1",
    "SELECT * FROM v_recent_agent_activity WHERE worktree_id = $1",
    "SELECT * FROM claims WHERE worktree_id = $1",
    "SELECT * FROM v_claims WHERE worktree_id = $1",
    "SELECT * FROM events WHERE worktree_id = $1",
    "SELECT * FROM hook_approvals WHERE $1::uuid IS NOT NULL",
];

/// The event log is written by its triggers (and imi_emit_event, which imi_writer may
/// call for the import): no role inserts, edits or renumbers events directly.
const EVENT_FORGERY: &[&str] = &[
    "INSERT INTO events (id, type) SELECT 1000000, 'imi.claim.claimed' WHERE $1::uuid IS NOT NULL",
    "UPDATE events SET type = 'imi.claim.released' WHERE worktree_id = $1",
    "UPDATE event_counter SET last_id = 0 WHERE $1::uuid IS NOT NULL",
];

const READ_FUNCTIONS: &[&str] = &[
    "SELECT * FROM get_inflight_work() WHERE worktree_id = $1",
    "SELECT * FROM get_project_by_origin(p_remote_origin := 'https://github.com/owner/guarded') WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM get_worktree_by_path(p_path := '/code/guarded/feat-g') WHERE id = $1",
    "SELECT * FROM get_agent_recent_work(p_agent_id := 'x') WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM search_projects(p_query := 'guard') WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM get_registry_stats() WHERE $1::uuid IS NOT NULL",
    "SELECT get_project_working_path(p_project_id := (SELECT project_id FROM worktrees WHERE id = $1))",
    "SELECT imi_origin_key('git@h:o/r'), imi_work_status(1, 0, 0) WHERE $1::uuid IS NOT NULL",
];

const TABLE_WRITES: &[&str] = &[
    "INSERT INTO projects (name, origin_key, trunk_path) SELECT 'x', 'x/y', '/x' WHERE $1::uuid IS NOT NULL",
    "UPDATE worktrees SET agent_id = 'me' WHERE id = $1",
    "INSERT INTO agent_activities (agent_id, activity_type, worktree_id) VALUES ('a', 'other', $1)",
    "INSERT INTO worktree_types (name, worktree_prefix) SELECT 'zz', 'zz-' WHERE $1::uuid IS NOT NULL",
    "DELETE FROM agent_activities WHERE worktree_id = $1",
    "DELETE FROM worktrees WHERE id = $1",
    "DELETE FROM claims WHERE worktree_id = $1",
    "INSERT INTO hook_approvals (project_key, command_hash, command, approved_by) \
     SELECT 'k/' || $1::text, repeat('a', 64), 'make', 'x'",
];

/// API tokens (migration 9): imi_writer reads, creates and revokes them; the hashes
/// are nobody else's business.
const API_TOKENS: &[&str] = &[
    "SELECT * FROM api_tokens WHERE $1::uuid IS NOT NULL",
    "INSERT INTO api_tokens (id, name, scope, token_hash, created_by) \
     SELECT substr(md5($1::text), 1, 12), 'n' || substr(md5($1::text), 1, 12), 'read', repeat('a', 64), 'x'",
    "UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND $1::uuid IS NOT NULL",
];

/// Tokens are revoked, never deleted: the row says who made it and when it ended.
const API_TOKEN_DELETE: &str = "DELETE FROM api_tokens WHERE $1::uuid IS NOT NULL";

const WRITE_FUNCTIONS: &[&str] = &[
    "SELECT register_project(p_name := 'x', p_remote_origin := 'git@h:o/x') WHERE $1::uuid IS NOT NULL",
    "SELECT register_worktree(p_project_id := (SELECT project_id FROM worktrees WHERE id = $1), \
     p_type_name := 'fix', p_name := 'fix-x', p_branch_name := 'fix/x', p_path := '/x')",
    "SELECT update_worktree_git_state(p_worktree_id := $1, p_ahead := 1)",
    "SELECT mark_worktree_merged(p_worktree_id := $1, p_merged_by := 'x', p_merge_commit_hash := NULL)",
    "SELECT deactivate_project(p_project_id := (SELECT project_id FROM worktrees WHERE id = $1))",
    "SELECT cleanup_old_activities(p_retention_days := 0) WHERE $1::uuid IS NOT NULL",
    "SELECT prune_inactive_worktrees(p_inactive_days := 0) WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM imi_register_project(p_name := 'x', p_remote_origin := 'git@h:o/x') WHERE $1::uuid IS NOT NULL",
    "SELECT * FROM imi_update_git_state(p_worktree_id := $1, p_ahead := 1)",
    "SELECT * FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'x', p_ttl_seconds := 60)",
    "SELECT r.* FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'x') c, \
     LATERAL renew_claim(p_worktree_id := $1, p_agent_id := 'x', p_epoch := c.epoch, p_ttl_seconds := 60) r",
    "SELECT release_claim(p_worktree_id := $1, p_agent_id := 'x', p_epoch := c.epoch) \
     FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'x') c",
    "SELECT * FROM imi_claim_worktree(p_worktree_id := $1, p_agent_id := 'x')",
];

const LOG: &str = "SELECT log_activity(p_agent_id := 'auditor', p_worktree_id := $1, \
                   p_activity_type := 'other', p_description := 'audited')";

#[tokio::test]
async fn reader_reads_and_nothing_else() {
    let Some((_db, store, _p, w)) = seeded().await else {
        return;
    };
    let mut c = store.pool().acquire().await.unwrap();
    let c = &mut *c;
    sqlx::query("SET ROLE imi_reader")
        .execute(&mut *c)
        .await
        .unwrap();
    for sql in READS.iter().chain(READ_FUNCTIONS) {
        ok(c, sql, w).await;
    }
    for sql in TABLE_WRITES
        .iter()
        .chain(WRITE_FUNCTIONS)
        .chain([&LOG])
        .chain(EVENT_FORGERY)
        .chain(API_TOKENS)
        .chain([&API_TOKEN_DELETE])
    {
        denied(c, sql, w).await;
    }
    sqlx::query("RESET ROLE").execute(&mut *c).await.unwrap();
}

#[tokio::test]
async fn auditor_only_appends_to_the_log() {
    let Some((_db, store, _p, w)) = seeded().await else {
        return;
    };
    let mut c = store.pool().acquire().await.unwrap();
    let c = &mut *c;
    sqlx::query("SET ROLE imi_auditor")
        .execute(&mut *c)
        .await
        .unwrap();
    ok(c, LOG, w).await;
    for sql in READS
        .iter()
        .chain(READ_FUNCTIONS)
        .chain(TABLE_WRITES)
        .chain(WRITE_FUNCTIONS)
        .chain(EVENT_FORGERY)
        .chain(API_TOKENS)
        .chain([&API_TOKEN_DELETE])
    {
        denied(c, sql, w).await;
    }
    sqlx::query("RESET ROLE").execute(&mut *c).await.unwrap();
    // the auditor's activity is in the event log, written for it by the trigger
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE worktree_id = $1 AND type = 'imi.activity.logged' \
         AND agent_id = 'auditor'",
    )
    .bind(w)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(logged, 1);
    // the activity landed, with the names copied
    let (agent, name): (String, String) = sqlx::query_as(
        "SELECT agent_id, worktree_name FROM agent_activities WHERE worktree_id = $1",
    )
    .bind(w)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!((agent.as_str(), name.as_str()), ("auditor", "feat-g"));
}

#[tokio::test]
async fn writer_does_everything() {
    let Some((_db, store, _p, _w)) = seeded().await else {
        return;
    };
    let mut c = store.pool().acquire().await.unwrap();
    let c = &mut *c;
    let all: Vec<&str> = READS
        .iter()
        .chain(READ_FUNCTIONS)
        .chain([&LOG])
        .chain(WRITE_FUNCTIONS)
        .chain(TABLE_WRITES)
        .chain(API_TOKENS)
        .copied()
        .collect();
    for (i, sql) in all.into_iter().enumerate() {
        // a fresh project and worktree for each statement: some deactivate or delete
        let p = common::project(&store, &format!("w{i}")).await;
        let w = common::worktree(&store, &p, "feat", "feat-w").await;
        sqlx::query("SET ROLE imi_writer")
            .execute(&mut *c)
            .await
            .unwrap();
        ok(c, sql, w.id).await;
        for forged in EVENT_FORGERY.iter().chain([&API_TOKEN_DELETE]) {
            denied(c, forged, w.id).await;
        }
        sqlx::query("RESET ROLE").execute(&mut *c).await.unwrap();
    }
    sqlx::query("SET ROLE imi_writer")
        .execute(&mut *c)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(n >= 1);
    sqlx::query("RESET ROLE").execute(&mut *c).await.unwrap();
}

#[tokio::test]
async fn create_roles_is_idempotent_and_concurrent_across_databases() {
    let Some((_a_db, a)) = store().await else {
        return;
    };
    let Some((_b_db, b)) = store().await else {
        return;
    };
    a.create_roles().await.unwrap();
    a.create_roles().await.unwrap();
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(a.create_roles(), b.create_roles());
        ra.unwrap();
        rb.unwrap();
    }
    for s in [&a, &b] {
        let roles: Vec<(String, bool)> = sqlx::query_as(
            "SELECT rolname::text, rolcanlogin FROM pg_roles WHERE rolname LIKE 'imi\\_%' ORDER BY 1",
        )
        .fetch_all(s.pool())
        .await
        .unwrap();
        let names: Vec<&str> = roles.iter().map(|r| r.0.as_str()).collect();
        for r in ["imi_auditor", "imi_reader", "imi_writer"] {
            assert!(names.contains(&r), "{names:?}");
        }
        assert!(roles.iter().all(|r| !r.1), "roles must be NOLOGIN");
        let can: bool = sqlx::query_scalar(
            "SELECT has_function_privilege('imi_reader', 'register_project(text, text, text, text, jsonb)', 'EXECUTE')",
        )
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert!(!can);
        s.ping().await.unwrap();
    }
}

/// A registry with roles, upgraded across 0004 (which re-creates the four views and
/// adds functions): the views keep their grants and the new functions are not
/// PUBLIC, without running `imi db roles` again.
#[tokio::test]
async fn upgrading_across_0004_keeps_the_roles_boundaries() {
    let Some(db) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let store = PgStore::connect(&db.url, common::HOST).await.unwrap();
    let before_0004 = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            imi_store_postgres::MIGRATOR
                .iter()
                .filter(|m| m.version < 4)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before_0004.run(store.pool()).await.unwrap();
    store.create_roles().await.unwrap();
    store.migrate().await.unwrap();
    let p = common::project(&store, "upgraded").await;
    let w = common::worktree(&store, &p, "feat", "feat-u").await;

    let mut c = store.pool().acquire().await.unwrap();
    let c = &mut *c;
    sqlx::query("SET ROLE imi_reader")
        .execute(&mut *c)
        .await
        .unwrap();
    for sql in READS.iter().chain(READ_FUNCTIONS) {
        ok(c, sql, w.id).await;
    }
    for sql in [
        "SELECT maintenance_vacuum() WHERE $1::uuid IS NOT NULL",
        "INSERT INTO projects (name, remote_origin, trunk_path) SELECT 'r', 'git@h:o/r', '/r' WHERE $1::uuid IS NOT NULL",
    ] {
        denied(c, sql, w.id).await;
    }
    sqlx::query("SET ROLE imi_writer")
        .execute(&mut *c)
        .await
        .unwrap();
    // the plain-INSERT triggers run for the writer
    ok(
        c,
        "INSERT INTO projects (name, remote_origin, trunk_path) SELECT 'r', 'git@h:o/r', '/r' WHERE $1::uuid IS NOT NULL",
        w.id,
    )
    .await;
    ok(
        c,
        "INSERT INTO agent_activities (agent_id, worktree_id, activity_type) VALUES ('m', $1, 'other')",
        w.id,
    )
    .await;
    ok(c, "SELECT * FROM v_inflight_work WHERE id = $1", w.id).await;
    // migration 9 granted the writer its tokens and nobody else
    for sql in API_TOKENS {
        ok(c, sql, w.id).await;
    }
    for role in ["imi_reader", "imi_auditor"] {
        sqlx::query(&format!("SET ROLE {role}"))
            .execute(&mut *c)
            .await
            .unwrap();
        denied(c, API_TOKENS[0], w.id).await;
    }
    sqlx::query("RESET ROLE").execute(&mut *c).await.unwrap();
    let (key, name): (String, String) = sqlx::query_as(
        "SELECT p.origin_key, a.worktree_name FROM projects p, agent_activities a WHERE p.name = 'r' AND a.agent_id = 'm'",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!((key.as_str(), name.as_str()), ("h/o/r", "feat-u"));
}
