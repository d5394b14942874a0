//! The SQL interface of SPEC §3.4, called the way other programs call it: named
//! notation (`p_name := ...`), views by name. Also triggers, constraints, and the
//! agreement of the SQL canonicalisation with the Rust one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure should stop the test loudly

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use common::{HOST, sqlstate, store};
use imi_core::{WorkStatus, naming, remote};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

async fn columns(c: &mut PgConnection, relation: &str) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .bind(relation)
    .fetch_all(c)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

fn assert_has(cols: &BTreeSet<String>, expected: &[&str], what: &str) {
    for e in expected {
        assert!(cols.contains(*e), "{what} lacks column {e}: {cols:?}");
    }
}

#[tokio::test]
async fn every_function_with_named_notation() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let mut c = store.pool().acquire().await.unwrap();
    // a SQL client on a direct connection names its host for the session
    sqlx::query("SELECT set_config('imi.host', $1, false)")
        .bind(HOST)
        .execute(&mut *c)
        .await
        .unwrap();
    let c = &mut *c;

    // register_project: idempotent across forms of the remote
    let id: Uuid = sqlx::query_scalar(
        "SELECT register_project(p_name := 'app', p_remote_origin := 'git@github.com:Owner/App.git')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    let again: Uuid = sqlx::query_scalar(
        "SELECT register_project(p_name := 'app', p_remote_origin := 'https://tok:secret@github.com/owner/app/', \
         p_default_branch := 'develop', p_trunk_path := '/src/app/trunk-develop', p_metadata := '{\"k\": 1}')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(id, again);
    let row = sqlx::query(
        "SELECT id, name, remote_origin, default_branch, trunk_path, active, created_at, updated_at \
         FROM get_project_by_origin(p_remote_origin := 'ssh://git@github.com:22/OWNER/app.git')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(row.get::<Uuid, _>("id"), id);
    assert_eq!(
        row.get::<String, _>("remote_origin"),
        "https://github.com/owner/app/"
    );
    assert_eq!(row.get::<String, _>("default_branch"), "develop");
    assert_eq!(row.get::<String, _>("trunk_path"), "/src/app/trunk-develop");
    assert!(row.get::<bool, _>("active"));
    let none =
        sqlx::query("SELECT * FROM get_project_by_origin(p_remote_origin := 'github.com:x/none')")
            .fetch_all(&mut *c)
            .await
            .unwrap();
    assert!(none.is_empty());
    // explicit NULL default branch keeps the existing one
    sqlx::query("SELECT register_project(p_name := 'app', p_remote_origin := 'github.com:owner/app', p_default_branch := NULL)")
        .execute(&mut *c)
        .await
        .unwrap();
    let branch: String = sqlx::query_scalar("SELECT default_branch FROM projects WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(branch, "develop");

    // default trunk path from imi.home; a project without a remote is keyed by it
    sqlx::query("SET imi.home = '/home/u'")
        .execute(&mut *c)
        .await
        .unwrap();
    let local: Uuid = sqlx::query_scalar(
        "SELECT register_project(p_name := 'loc', p_remote_origin := NULL, p_default_branch := 'trunk')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    let (trunk, key): (String, String) =
        sqlx::query_as("SELECT trunk_path, origin_key FROM projects WHERE id = $1")
            .bind(local)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!(trunk, "/home/u/code/loc/trunk-trunk");
    assert_eq!(key, "/home/u/code/loc/trunk-trunk");
    let same: Uuid = sqlx::query_scalar(
        "SELECT id FROM get_project_by_origin(p_remote_origin := '/home/u/code/loc/trunk-trunk/')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(same, local);
    let e = sqlx::query("SELECT register_project(p_name := 'x', p_remote_origin := 'svn://h/x')")
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");

    // register_worktree
    let w: Uuid = sqlx::query_scalar(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'feat', p_name := 'feat-login', \
         p_branch_name := 'feat/login', p_path := '/src/app/feat-login')",
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    let w_again: Uuid = sqlx::query_scalar(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'feat', p_name := 'feat-login', \
         p_branch_name := 'feat/login', p_path := '/src/app/feat-login', p_agent_id := NULL, p_metadata := '{}')",
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(w, w_again);
    let host: String = sqlx::query_scalar("SELECT host FROM worktrees WHERE id = $1")
        .bind(w)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(host, HOST);
    let e = sqlx::query(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'nosuch', p_name := 'x', \
         p_branch_name := 'x', p_path := '/x')",
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    assert!(e.to_string().contains("nosuch"), "{e}");
    let e = sqlx::query(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'feat', p_name := 'x', \
         p_branch_name := 'x', p_path := '/x')",
    )
    .bind(Uuid::new_v4())
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002");
    let e = sqlx::query(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'feat', p_name := 'other', \
         p_branch_name := 'feat/other', p_path := '/src/app/feat-login')",
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
    let e = sqlx::query(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'feat', p_name := '../etc', \
         p_branch_name := 'x', p_path := '/y')",
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");

    // update_worktree_git_state
    sqlx::query(
        "SELECT update_worktree_git_state(p_worktree_id := $1, p_uncommitted_count := 3, p_ahead := 2, \
         p_last_commit_hash := 'abc123', p_last_commit_message := 'wip')",
    )
    .bind(w)
    .execute(&mut *c)
    .await
    .unwrap();
    let r = sqlx::query("SELECT * FROM worktrees WHERE id = $1")
        .bind(w)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(r.get::<bool, _>("has_uncommitted_changes"));
    assert_eq!(r.get::<i32, _>("uncommitted_files_count"), 3);
    assert_eq!(r.get::<i32, _>("ahead_of_trunk"), 2);
    assert_eq!(r.get::<i32, _>("behind_trunk"), 0);
    assert_eq!(r.get::<String, _>("last_commit_hash"), "abc123");
    assert!(r.get::<Option<DateTime<Utc>>, _>("last_sync_at").is_some());
    // NULL leaves fields unchanged
    sqlx::query("SELECT update_worktree_git_state(p_worktree_id := $1, p_behind := 1)")
        .bind(w)
        .execute(&mut *c)
        .await
        .unwrap();
    let (u, a, b): (i32, i32, i32) = sqlx::query_as(
        "SELECT uncommitted_files_count, ahead_of_trunk, behind_trunk FROM worktrees WHERE id = $1",
    )
    .bind(w)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!((u, a, b), (3, 2, 1));
    let e = sqlx::query("SELECT update_worktree_git_state(p_worktree_id := $1, p_ahead := -1)")
        .bind(w)
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    let e = sqlx::query("SELECT update_worktree_git_state(p_worktree_id := $1, p_ahead := 1)")
        .bind(Uuid::new_v4())
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002");

    // get_inflight_work
    let rows = sqlx::query(
        "SELECT worktree_id, worktree_name, branch_name, status, uncommitted_count, ahead, behind, \
         agent_id, last_activity FROM get_inflight_work()",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<Uuid, _>("worktree_id"), w);
    assert_eq!(rows[0].get::<String, _>("status"), "uncommitted");
    assert_eq!(rows[0].get::<i32, _>("uncommitted_count"), 3);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM get_inflight_work(p_project_id := $1)")
        .bind(local)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(n, 0);

    // get_worktree_by_path (this host, trailing slash ignored)
    let r = sqlx::query(
        "SELECT id, project_id, project_name, worktree_name, branch_name, type_name, agent_id, active, host \
         FROM get_worktree_by_path(p_path := '/src/app/feat-login/')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(r.get::<Uuid, _>("id"), w);
    assert_eq!(r.get::<String, _>("project_name"), "app");
    assert_eq!(r.get::<String, _>("type_name"), "feat");
    assert_eq!(r.get::<String, _>("host"), HOST);
    // without p_host: found from any host, the row says which; with p_host: that host only
    sqlx::query("SELECT set_config('imi.host', 'elsewhere', false)")
        .execute(&mut *c)
        .await
        .unwrap();
    let any = sqlx::query("SELECT * FROM get_worktree_by_path(p_path := '/src/app/feat-login')")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    assert_eq!(any.len(), 1);
    assert_eq!(any[0].get::<String, _>("host"), HOST);
    let none = sqlx::query(
        "SELECT * FROM get_worktree_by_path(p_path := '/src/app/feat-login', p_host := 'elsewhere')",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    assert!(none.is_empty());
    let positional: i64 =
        sqlx::query_scalar("SELECT count(*) FROM get_worktree_by_path('/src/app/feat-login', $1)")
            .bind(HOST)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!(positional, 1);
    sqlx::query("SELECT set_config('imi.host', $1, false)")
        .bind(HOST)
        .execute(&mut *c)
        .await
        .unwrap();

    // log_activity touches the worktree and copies names
    let before: DateTime<Utc> =
        sqlx::query_scalar("SELECT updated_at FROM worktrees WHERE id = $1")
            .bind(w)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    let act: Uuid = sqlx::query_scalar(
        "SELECT log_activity(p_agent_id := 'agent-1', p_worktree_id := $1, p_activity_type := 'created', \
         p_description := 'made it')",
    )
    .bind(w)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    let after: DateTime<Utc> = sqlx::query_scalar("SELECT updated_at FROM worktrees WHERE id = $1")
        .bind(w)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(after > before);
    let (pn, wn, pid): (String, String, Uuid) = sqlx::query_as(
        "SELECT project_name, worktree_name, project_id FROM agent_activities WHERE id = $1",
    )
    .bind(act)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!((pn.as_str(), wn.as_str(), pid), ("app", "feat-login", id));
    sqlx::query(
        "SELECT log_activity(p_agent_id := 'agent-1', p_worktree_id := NULL, p_activity_type := 'other', \
         p_description := 'note', p_file_path := 'a.rs', p_metadata := '{\"x\": true}')",
    )
    .execute(&mut *c)
    .await
    .unwrap();
    let e = sqlx::query(
        "SELECT log_activity(p_agent_id := 'agent-1', p_worktree_id := $1, p_activity_type := 'created', p_description := NULL)",
    )
    .bind(Uuid::new_v4())
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002");
    let e = sqlx::query(
        "SELECT log_activity(p_agent_id := 'agent-1', p_worktree_id := NULL, p_activity_type := 'danced', p_description := NULL)",
    )
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");

    // get_agent_recent_work
    let rows = sqlx::query(
        "SELECT activity_id, activity_type, description, file_path, created_at, worktree_name, \
         project_name, worktree_type FROM get_agent_recent_work(p_agent_id := 'agent-1')",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<String, _>("activity_type"), "other");
    assert_eq!(rows[1].get::<Uuid, _>("activity_id"), act);
    assert_eq!(rows[1].get::<String, _>("worktree_type"), "feat");
    let one =
        sqlx::query("SELECT * FROM get_agent_recent_work(p_agent_id := 'agent-1', p_limit := 1)")
            .fetch_all(&mut *c)
            .await
            .unwrap();
    assert_eq!(one.len(), 1);
    let e =
        sqlx::query("SELECT * FROM get_agent_recent_work(p_agent_id := 'agent-1', p_limit := 0)")
            .fetch_all(&mut *c)
            .await
            .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");

    // get_project_working_path
    let p: String = sqlx::query_scalar("SELECT get_project_working_path(p_project_id := $1)")
        .bind(id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(p, "/src/app/trunk-develop");
    let p: String = sqlx::query_scalar(
        "SELECT get_project_working_path(p_project_id := $1, p_worktree_name := 'feat-login')",
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(p, "/src/app/feat-login");
    let e = sqlx::query("SELECT get_project_working_path(p_project_id := $1)")
        .bind(Uuid::new_v4())
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002");
    let e = sqlx::query(
        "SELECT get_project_working_path(p_project_id := $1, p_worktree_name := '../x')",
    )
    .bind(id)
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");

    // search_projects: substring, typo, empty
    sqlx::query("SELECT register_project(p_name := 'application-server', p_remote_origin := 'https://gitlab.com/g/application-server')")
        .execute(&mut *c)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT id, name, remote_origin, trunk_path, relevance FROM search_projects(p_query := 'app')")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    assert!(rows.len() >= 2);
    let rel: Vec<f32> = rows.iter().map(|r| r.get::<f32, _>("relevance")).collect();
    assert!(rel.windows(2).all(|w| w[0] >= w[1]), "{rel:?}");
    let typo = sqlx::query("SELECT name FROM search_projects(p_query := 'aplication-server')")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    assert_eq!(typo[0].get::<String, _>("name"), "application-server");
    // an empty query lists the active projects (migration 0004; seed_clients.rs)
    let listed = sqlx::query("SELECT * FROM search_projects(p_query := '  ')")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    assert!(!listed.is_empty());

    // get_registry_stats
    let s = sqlx::query(
        "SELECT total_projects, active_projects, total_worktrees, active_worktrees, \
         in_flight_worktrees, total_activities, activities_last_24h FROM get_registry_stats()",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(s.get::<i64, _>("total_projects"), 3);
    assert_eq!(s.get::<i64, _>("active_worktrees"), 1);
    assert_eq!(s.get::<i64, _>("in_flight_worktrees"), 1);
    assert_eq!(s.get::<i64, _>("total_activities"), 2);
    assert_eq!(s.get::<i64, _>("activities_last_24h"), 2);

    // mark_worktree_merged
    sqlx::query(
        "SELECT mark_worktree_merged(p_worktree_id := $1, p_merged_by := 'agent-1', p_merge_commit_hash := 'fff')",
    )
    .bind(w)
    .execute(&mut *c)
    .await
    .unwrap();
    let (active, by, at): (bool, String, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT active, merged_by, merged_at FROM worktrees WHERE id = $1")
            .bind(w)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert!(!active && by == "agent-1" && at.is_some());

    // re-registering reactivates and clears the merge record and state
    let w3: Uuid = sqlx::query_scalar(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'fix', p_name := 'feat-login', \
         p_branch_name := 'fix/login', p_path := '/src/app/feat-login', p_agent_id := 'agent-2')",
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(w3, w);
    let r = sqlx::query("SELECT * FROM v_worktrees_detail WHERE id = $1")
        .bind(w)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(r.get::<bool, _>("active"));
    assert!(r.get::<Option<DateTime<Utc>>, _>("merged_at").is_none());
    assert_eq!(r.get::<i32, _>("uncommitted_files_count"), 0);
    assert!(!r.get::<bool, _>("has_uncommitted_changes"));
    assert_eq!(r.get::<String, _>("type_name"), "fix");
    assert_eq!(r.get::<String, _>("agent_id"), "agent-2");

    // deactivate_project deactivates its worktrees
    sqlx::query("SELECT deactivate_project(p_project_id := $1)")
        .bind(id)
        .execute(&mut *c)
        .await
        .unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM worktrees WHERE project_id = $1 AND active")
            .bind(id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!(n, 0);
    let e = sqlx::query("SELECT deactivate_project(p_project_id := $1)")
        .bind(Uuid::new_v4())
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002");
    let e = sqlx::query("SELECT get_project_working_path(p_project_id := $1)")
        .bind(id)
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002");
    assert!(e.to_string().contains("inactive"), "{e}");
    // re-registration reactivates with the same id
    let back: Uuid = sqlx::query_scalar(
        "SELECT register_project(p_name := 'app', p_remote_origin := 'git@github.com:owner/app')",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(back, id);

    // retention: prune keeps activities, cleanup deletes them
    for bad in [
        "SELECT cleanup_old_activities(p_retention_days := -1)",
        "SELECT prune_inactive_worktrees(p_inactive_days := -1)",
    ] {
        let e = sqlx::query(bad).execute(&mut *c).await.unwrap_err();
        assert_eq!(sqlstate(&e), "22023");
    }
    let kept: i32 = sqlx::query_scalar("SELECT prune_inactive_worktrees()")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(kept, 0, "the default keeps recent inactive worktrees");
    let pruned: i32 = sqlx::query_scalar("SELECT prune_inactive_worktrees(p_inactive_days := 0)")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let (wid, wname, pname): (Option<Uuid>, String, String) = sqlx::query_as(
        "SELECT worktree_id, worktree_name, project_name FROM agent_activities WHERE id = $1",
    )
    .bind(act)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(
        (wid, wname.as_str(), pname.as_str()),
        (None, "feat-login", "app")
    );
    let r = sqlx::query("SELECT worktree_name, project_name, worktree_type FROM v_recent_agent_activity WHERE id = $1")
        .bind(act)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>("worktree_name"), "feat-login");
    assert!(r.get::<Option<String>, _>("worktree_type").is_none());
    let kept: i32 = sqlx::query_scalar("SELECT cleanup_old_activities()")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(kept, 0);
    sqlx::query(
        "UPDATE agent_activities SET created_at = now() - interval '10 days' WHERE id = $1",
    )
    .bind(act)
    .execute(&mut *c)
    .await
    .unwrap();
    let deleted: i32 = sqlx::query_scalar("SELECT cleanup_old_activities(p_retention_days := 5)")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
}

#[tokio::test]
async fn views_have_the_contract_columns() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let p = common::project(&store, "viewed").await;
    let w = common::worktree(&store, &p, "feat", "feat-v").await;
    let w2 = common::worktree(&store, &p, "fix", "fix-v").await;
    let mut c = store.pool().acquire().await.unwrap();
    // a SQL client on a direct connection names its host for the session
    sqlx::query("SELECT set_config('imi.host', $1, false)")
        .bind(HOST)
        .execute(&mut *c)
        .await
        .unwrap();
    let c = &mut *c;
    sqlx::query(
        "SELECT update_worktree_git_state(p_worktree_id := $1, p_ahead := 2, p_behind := 3)",
    )
    .bind(w.id)
    .execute(&mut *c)
    .await
    .unwrap();
    sqlx::query("SELECT log_activity(p_agent_id := 'a', p_worktree_id := $1, p_activity_type := 'modified', p_description := 'd')")
        .bind(w2.id)
        .execute(&mut *c)
        .await
        .unwrap();

    let cols = columns(c, "v_projects_summary").await;
    assert_has(
        &cols,
        &[
            "id",
            "name",
            "remote_origin",
            "active_worktrees_count",
            "uncommitted_worktrees_count",
            "unmerged_worktrees_count",
            "last_worktree_activity",
        ],
        "v_projects_summary",
    );
    let r = sqlx::query("SELECT * FROM v_projects_summary WHERE id = $1")
        .bind(p.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(r.get::<i64, _>("active_worktrees_count"), 2);
    assert_eq!(r.get::<i64, _>("uncommitted_worktrees_count"), 0);
    assert_eq!(r.get::<i64, _>("unmerged_worktrees_count"), 2);
    assert!(
        r.get::<Option<DateTime<Utc>>, _>("last_worktree_activity")
            .is_some()
    );

    let cols = columns(c, "v_worktrees_detail").await;
    assert_has(
        &cols,
        &[
            "id",
            "project_id",
            "project_name",
            "remote_origin",
            "worktree_name",
            "type_name",
            "branch_prefix",
            "worktree_prefix",
            "type_color",
            "type_icon",
            "branch_name",
            "path",
            "host",
            "agent_id",
            "has_uncommitted_changes",
            "uncommitted_files_count",
            "ahead_of_trunk",
            "behind_trunk",
            "last_commit_hash",
            "last_sync_at",
            "merged_at",
            "metadata",
            "created_at",
            "updated_at",
            "active",
        ],
        "v_worktrees_detail",
    );
    let r = sqlx::query("SELECT * FROM v_worktrees_detail WHERE id = $1")
        .bind(w2.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>("type_color"), "#EF4444");
    assert_eq!(r.get::<String, _>("type_icon"), "\u{1F41B}");
    assert_eq!(r.get::<String, _>("worktree_prefix"), "fix-");

    let cols = columns(c, "v_inflight_work").await;
    assert_has(
        &cols,
        &[
            "worktree_id",
            "project_id",
            "project_name",
            "worktree_name",
            "branch_name",
            "status",
            "uncommitted_files_count",
            "ahead_of_trunk",
            "behind_trunk",
            "agent_id",
            "updated_at",
        ],
        "v_inflight_work",
    );
    let rows = sqlx::query("SELECT * FROM v_inflight_work")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>("status"), "diverged");
    assert_eq!(rows[0].get::<String, _>("project_name"), "viewed");

    let cols = columns(c, "v_recent_agent_activity").await;
    assert_has(
        &cols,
        &[
            "id",
            "agent_id",
            "activity_type",
            "created_at",
            "worktree_name",
            "project_name",
            "worktree_type",
        ],
        "v_recent_agent_activity",
    );
    let rows = sqlx::query("SELECT * FROM v_recent_agent_activity")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>("worktree_type"), "fix");
    assert_eq!(rows[0].get::<String, _>("project_name"), "viewed");

    // built-in types are seeded exactly
    let types: Vec<(String, String, String, String, String, bool)> = sqlx::query_as(
        "SELECT name, branch_prefix, worktree_prefix, color, icon, is_builtin FROM worktree_types ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    let names: Vec<&str> = types.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names, ["feat", "fix", "aiops", "devops", "review", "trunk"]);
    assert_eq!(types[4].1, "pr-review/");
    assert_eq!(types[4].2, "pr-");
    assert_eq!(types[5].1, "");
    assert_eq!(types[3].4, "\u{2699}\u{FE0F}");
    assert!(types.iter().all(|t| t.5));
}

#[tokio::test]
async fn triggers_and_constraints() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let p = common::project(&store, "trig").await;
    let w = common::worktree(&store, &p, "feat", "feat-t").await;
    let mut c = store.pool().acquire().await.unwrap();
    // a SQL client on a direct connection names its host for the session
    sqlx::query("SELECT set_config('imi.host', $1, false)")
        .bind(HOST)
        .execute(&mut *c)
        .await
        .unwrap();
    let c = &mut *c;

    // has_uncommitted_changes follows the count, whatever the statement says
    sqlx::query("UPDATE worktrees SET uncommitted_files_count = 4, has_uncommitted_changes = false WHERE id = $1")
        .bind(w.id)
        .execute(&mut *c)
        .await
        .unwrap();
    let h: bool = sqlx::query_scalar("SELECT has_uncommitted_changes FROM worktrees WHERE id = $1")
        .bind(w.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(h);
    sqlx::query("UPDATE worktrees SET uncommitted_files_count = 0, has_uncommitted_changes = true WHERE id = $1")
        .bind(w.id)
        .execute(&mut *c)
        .await
        .unwrap();
    let h: bool = sqlx::query_scalar("SELECT has_uncommitted_changes FROM worktrees WHERE id = $1")
        .bind(w.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(!h);
    let h: bool = sqlx::query_scalar(
        "INSERT INTO worktrees (project_id, type_id, name, branch_name, path, uncommitted_files_count, has_uncommitted_changes) \
         VALUES ($1, 1, 'ins', 'feat/ins', '/ins', 2, false) RETURNING has_uncommitted_changes",
    )
    .bind(p.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert!(h);

    // updated_at moves on update (projects and worktrees)
    for (table, id) in [("projects", p.id), ("worktrees", w.id)] {
        let sel = if table == "projects" {
            "SELECT updated_at FROM projects WHERE id = $1"
        } else {
            "SELECT updated_at FROM worktrees WHERE id = $1"
        };
        let upd = if table == "projects" {
            "UPDATE projects SET description = 'd' WHERE id = $1"
        } else {
            "UPDATE worktrees SET branch_name = 'feat/moved' WHERE id = $1"
        };
        let before: DateTime<Utc> = sqlx::query_scalar(sel)
            .bind(id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        sqlx::query(upd).bind(id).execute(&mut *c).await.unwrap();
        let after: DateTime<Utc> = sqlx::query_scalar(sel)
            .bind(id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert!(after > before, "{table}");
    }

    // constraints
    for (sql, state) in [
        (
            "UPDATE worktrees SET uncommitted_files_count = -1 WHERE name = 'feat-t'",
            "23514",
        ),
        (
            "UPDATE worktrees SET ahead_of_trunk = -1 WHERE name = 'feat-t'",
            "23514",
        ),
        (
            "UPDATE worktrees SET behind_trunk = -1 WHERE name = 'feat-t'",
            "23514",
        ),
        (
            "UPDATE worktrees SET name = '  ' WHERE name = 'feat-t'",
            "23514",
        ),
        ("UPDATE projects SET name = '' WHERE name = 'trig'", "23514"),
        (
            "UPDATE projects SET metadata = '[1]' WHERE name = 'trig'",
            "23514",
        ),
        (
            "UPDATE worktrees SET metadata = '\"s\"' WHERE name = 'feat-t'",
            "23514",
        ),
        (
            "INSERT INTO worktree_types (name, worktree_prefix) VALUES ('x', '')",
            "23514",
        ),
        (
            "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix) VALUES ('x', NULL, 'x-')",
            "23502",
        ),
        (
            "INSERT INTO agent_activities (agent_id, activity_type) VALUES ('', 'other')",
            "23514",
        ),
        (
            "INSERT INTO agent_activities (agent_id, activity_type) VALUES ('a', 'danced')",
            "23514",
        ),
        (
            "INSERT INTO projects (name, origin_key, trunk_path) VALUES ('dup', 'github.com/owner/trig', '/t')",
            "23505",
        ),
        ("DELETE FROM worktree_types WHERE name = 'feat'", "23503"),
        ("DELETE FROM projects WHERE name = 'trig'", "23503"),
    ] {
        let e = sqlx::query(sql).execute(&mut *c).await.unwrap_err();
        assert_eq!(sqlstate(&e), state, "{sql}");
    }
    // a second active worktree at the same (host, path) is refused; inactive ones may share
    let e = sqlx::query(
        "INSERT INTO worktrees (project_id, type_id, name, branch_name, path, host) \
         SELECT project_id, type_id, 'dup', 'b', path, host FROM worktrees WHERE id = $1",
    )
    .bind(w.id)
    .execute(&mut *c)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
    sqlx::query(
        "INSERT INTO worktrees (project_id, type_id, name, branch_name, path, host, active) \
         SELECT project_id, type_id, 'dup', 'b', path, host, false FROM worktrees WHERE id = $1",
    )
    .bind(w.id)
    .execute(&mut *c)
    .await
    .unwrap();
}

#[tokio::test]
async fn work_status_matches_rust() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let rows: Vec<(i32, i32, i32, String)> = sqlx::query_as(
        "SELECT u, a, b, imi_work_status(u, a, b) FROM generate_series(0, 2) u, generate_series(0, 2) a, generate_series(0, 2) b",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 27);
    for (u, a, b, s) in rows {
        assert_eq!(s, WorkStatus::of(u, a, b).as_str(), "{u} {a} {b}");
    }
}

/// Tricky remotes: the forms of SPEC §3.2, credentials, ports, IPv6, subgroups, scp
/// syntax edge cases, local paths, Unicode whitespace and invalid input.
const FIXED_REMOTES: &[&str] = &[
    "git@github.com:Owner/Repo.git",
    "https://github.com/owner/repo",
    "ssh://git@github.com:22/Owner/Repo.git",
    "https://user:token@github.com/owner/repo.git/",
    "https://ghp_secret@github.com/o/r",
    "ssh://git:pw@host:22/o/r",
    "git@gitlab.com:group/sub/Proj.git",
    "https://gitea.example.org:3000/team/app",
    "ssh://host/~alice/repo",
    "git+ssh://u@h/o/r",
    "ssh+git://u:p@h:1/o/r.git",
    "SSH://Git@Host.COM/O/R.GIT",
    "HTTPS://u:p@H/o/r",
    "ftp://a:b@h/x",
    "ftps://h/x/",
    "git://h/x.git",
    "ssh://[::1]:22/o/r",
    "ssh://u@[fe80::1]/o/r.git",
    "https://a@b@host/o/r",
    "https://host",
    "https://host/",
    "https://host/.git",
    "https://host//o//r//",
    "https://host/o/r.git.git",
    "https://host/~/o",
    "https://",
    "https:///o/r",
    "https://u@:22/o",
    "svn://x/y",
    "://x/y",
    "git@github.com:",
    "@host:path",
    "a@:x",
    ":x",
    "x:y",
    "ab:cd",
    "C:/repos/x",
    "C:\\repos\\x",
    "é:x",
    "/srv/Git/repo.git/",
    "/srv//Git///repo",
    "/",
    "//",
    "file:///srv/Git//repo.git",
    "file://",
    "file://   x",
    "FILE:///a/",
    "../rel/repo",
    "repo",
    "  https://github.com/o/r  ",
    "\u{a0}https://github.com/o/r\u{3000}",
    "\u{2003}/x/\u{85}",
    "\t",
    "",
    "   ",
    "a\nb",
    "a\u{7f}b",
    "a\u{9f}b",
    "https://h/o/r\u{200b}",
    "git@h:o/r with space",
    "user@host:~/repo.git",
    "host:/abs/path.git",
    "host.xz:path/to/repo.git/",
    "https://h/o/r?x=1#frag",
    "https://h:notaport/o/r",
    "ssh://u@h:22:33/o",
    "ssh://h/o/r.GIT",
];

fn generated_remotes() -> Vec<String> {
    let piece = "[a-zA-Z0-9:/@~.\\[\\]_ \\t\u{a0}\u{2003}é-]{0,12}";
    let strategy = (
        proptest::sample::select(vec![
            "",
            "https://",
            "http://",
            "ssh://",
            "git://",
            "file://",
            "git+ssh://",
            "HTTPS://",
            "svn://",
            "://",
            "/",
            "git@",
            "~",
        ]),
        piece,
        proptest::sample::select(vec!["", "@", ":", "/", ":22/", "@h:", "//"]),
        piece,
        proptest::sample::select(vec!["", ".git", ".git/", "/", "//", ".GIT", " "]),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}{d}{e}"));
    let anything = "\\PC{0,30}";
    let mut runner = TestRunner::deterministic();
    let mut out = Vec::new();
    for i in 0..3000 {
        let s = if i % 3 == 0 {
            anything.new_tree(&mut runner).unwrap().current()
        } else {
            strategy.new_tree(&mut runner).unwrap().current()
        };
        if !s.contains('\0') {
            out.push(s);
        }
    }
    out
}

#[tokio::test]
async fn canonicalisation_agrees_with_rust() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let mut c = store.pool().acquire().await.unwrap();
    // a SQL client on a direct connection names its host for the session
    sqlx::query("SELECT set_config('imi.host', $1, false)")
        .bind(HOST)
        .execute(&mut *c)
        .await
        .unwrap();
    let c = &mut *c;
    for f in [
        "CREATE FUNCTION pg_temp.try_key(t text) RETURNS text LANGUAGE plpgsql AS $$ \
         BEGIN RETURN imi_origin_key(t); EXCEPTION WHEN invalid_parameter_value THEN RETURN NULL; END $$",
        "CREATE FUNCTION pg_temp.try_sanitize(t text) RETURNS text LANGUAGE plpgsql AS $$ \
         BEGIN RETURN imi_sanitize_remote(t); EXCEPTION WHEN invalid_parameter_value THEN RETURN NULL; END $$",
        "CREATE FUNCTION pg_temp.try_name(t text) RETURNS boolean LANGUAGE plpgsql AS $$ \
         BEGIN PERFORM imi_check_worktree_name(t); RETURN true; EXCEPTION WHEN invalid_parameter_value THEN RETURN false; END $$",
    ] {
        sqlx::query(f).execute(&mut *c).await.unwrap();
    }

    let mut inputs: Vec<String> = FIXED_REMOTES.iter().map(|s| s.to_string()).collect();
    inputs.extend(generated_remotes());
    type Canon = (String, Option<String>, Option<String>, String, bool);
    let rows: Vec<Canon> = sqlx::query_as(
        "SELECT t, pg_temp.try_key(t), pg_temp.try_sanitize(t), imi_local_key(t), pg_temp.try_name(t) \
         FROM unnest($1::text[]) WITH ORDINALITY AS u(t, ord) ORDER BY ord",
    )
    .bind(&inputs)
    .fetch_all(&mut *c)
    .await
    .unwrap();
    assert_eq!(rows.len(), inputs.len());
    let mut valid = 0;
    for (input, key, clean, local, name_ok) in rows {
        assert_eq!(
            key,
            remote::origin_key(&input).ok(),
            "origin_key({input:?})"
        );
        assert_eq!(clean, remote::sanitize(&input).ok(), "sanitize({input:?})");
        assert_eq!(local, remote::local_key(&input), "local_key({input:?})");
        assert_eq!(
            name_ok,
            naming::validate_worktree_name(&input).is_ok(),
            "worktree name {input:?}"
        );
        if key.is_some() {
            valid += 1;
        }
    }
    assert!(
        valid > 500,
        "too few valid inputs ({valid}) to mean anything"
    );
}

/// The store computes working paths in Rust and registers projects with the key and
/// sanitized remote it computed itself; both must match what the SQL functions do.
#[tokio::test]
async fn store_shortcuts_agree_with_sql() {
    use imi_core::{NewProject, Store};
    let Some((_db, store)) = store().await else {
        return;
    };
    let mut c = store.pool().acquire().await.unwrap();
    // a SQL client on a direct connection names its host for the session
    sqlx::query("SELECT set_config('imi.host', $1, false)")
        .bind(HOST)
        .execute(&mut *c)
        .await
        .unwrap();
    let c = &mut *c;
    for (i, trunk) in [
        "/code/p/trunk-main",
        "/code/p/trunk-main/",
        "/code/p//trunk-main///",
        "/trunk",
        "/",
        "//",
        "trunk",
        "a/b",
        "a/b/",
        "//x//",
        "/a//b",
        "/ä/ß/trunk",
    ]
    .into_iter()
    .enumerate()
    {
        let p = store
            .register_project(&NewProject {
                name: format!("p{i}"),
                trunk_path: trunk.to_string(),
                ..Default::default()
            })
            .await
            .unwrap();
        for name in [None, Some("feat-x")] {
            let sql: String = sqlx::query_scalar(
                "SELECT get_project_working_path(p_project_id := $1, p_worktree_name := $2)",
            )
            .bind(p.id)
            .bind(name)
            .fetch_one(&mut *c)
            .await
            .unwrap();
            assert_eq!(
                store.working_path(p.id, name).await.unwrap(),
                sql,
                "trunk {trunk:?}, name {name:?}"
            );
        }
    }
    for (i, r) in FIXED_REMOTES.iter().enumerate() {
        let Ok(key) = remote::origin_key(r) else {
            continue;
        };
        if key.is_empty() {
            continue; // e.g. "file://": refused by the table's check, both ways
        }
        let p = store
            .register_project(&NewProject {
                name: format!("r{i}"),
                remote_origin: Some(r.to_string()),
                trunk_path: format!("/code/r{i}/trunk-main"),
                ..Default::default()
            })
            .await
            .unwrap();
        let (sql_key, sql_remote): (String, String) =
            sqlx::query_as("SELECT imi_origin_key($1), imi_sanitize_remote($1)")
                .bind(*r)
                .fetch_one(&mut *c)
                .await
                .unwrap();
        assert_eq!(p.origin_key, sql_key, "key of {r:?}");
        assert_eq!(p.origin_key, key);
        assert_eq!(
            p.remote_origin.as_deref(),
            Some(sql_remote.as_str()),
            "{r:?}"
        );
    }
}

/// SPEC §7.1: claim_worktree / renew_claim / release_claim with named notation,
/// v_claims; refusals raise 55P03 naming the holder.
#[tokio::test]
async fn claim_functions_with_named_notation() {
    let Some((_db, store)) = store().await else {
        return;
    };
    let p = common::project(&store, "claimed").await;
    let w = common::worktree(&store, &p, "feat", "feat-c").await;
    let mut c = store.pool().acquire().await.unwrap();
    let c = &mut *c;

    let (epoch, expires): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT * FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'agent-a', \
         p_ttl_seconds := 600, p_purpose := 'sql')",
    )
    .bind(w.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(epoch, 1);
    assert!(expires.is_some());
    // the holder again: a renewal, same epoch
    let (again, _): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT * FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'agent-a')",
    )
    .bind(w.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(again, 1);

    // another agent: 55P03 naming the holder and its host
    let e =
        sqlx::query("SELECT * FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'agent-b')")
            .bind(w.id)
            .execute(&mut *c)
            .await
            .unwrap_err();
    assert_eq!(sqlstate(&e), "55P03", "{e}");
    let msg = e.to_string();
    assert!(msg.contains("agent-a") && msg.contains(HOST), "{msg}");

    let (held, holder, purpose): (bool, String, Option<String>) =
        sqlx::query_as("SELECT held, agent_id, purpose FROM v_claims WHERE worktree_id = $1")
            .bind(w.id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    // the renewal without a purpose kept it
    assert_eq!(
        (held, holder.as_str(), purpose.as_deref()),
        (true, "agent-a", Some("sql"))
    );

    // renew: holder and epoch
    let (e1, _): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT * FROM renew_claim(p_worktree_id := $1, p_agent_id := 'agent-a', p_epoch := 1, \
         p_ttl_seconds := 60)",
    )
    .bind(w.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(e1, 1);
    for sql in [
        "SELECT * FROM renew_claim(p_worktree_id := $1, p_agent_id := 'agent-a', p_epoch := 2, p_ttl_seconds := 60)",
        "SELECT * FROM renew_claim(p_worktree_id := $1, p_agent_id := 'agent-b', p_epoch := 1, p_ttl_seconds := 60)",
        "SELECT release_claim(p_worktree_id := $1, p_agent_id := 'agent-b', p_epoch := 1)",
    ] {
        let e = sqlx::query(sql)
            .bind(w.id)
            .execute(&mut *c)
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&e), "55P03", "{sql}: {e}");
    }
    // force: released, logged with the holder
    let done: bool = sqlx::query_scalar(
        "SELECT release_claim(p_worktree_id := $1, p_agent_id := 'agent-b', p_epoch := NULL, p_force := true)",
    )
    .bind(w.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert!(done);
    let desc: String = sqlx::query_scalar(
        "SELECT description FROM agent_activities WHERE worktree_id = $1 AND activity_type = 'released'",
    )
    .bind(w.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert!(
        desc.contains("agent-a") && desc.contains("forced"),
        "{desc}"
    );
    // a new tenure: epoch 2; its own release, then again: false
    let (e2, _): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT * FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'agent-b')",
    )
    .bind(w.id)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(e2, 2);
    let (by, epoch_in_view): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT claimed_by, claim_epoch FROM v_worktrees_detail WHERE id = $1")
            .bind(w.id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!((by.as_deref(), epoch_in_view), (Some("agent-b"), Some(2)));
    // and in v_inflight_work once the worktree is in flight
    sqlx::query("SELECT update_worktree_git_state(p_worktree_id := $1, p_ahead := 1)")
        .bind(w.id)
        .execute(&mut *c)
        .await
        .unwrap();
    let by: Option<String> =
        sqlx::query_scalar("SELECT claimed_by FROM v_inflight_work WHERE worktree_id = $1")
            .bind(w.id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!(by.as_deref(), Some("agent-b"));
    for expected in [true, false] {
        let done: bool = sqlx::query_scalar(
            "SELECT release_claim(p_worktree_id := $1, p_agent_id := 'agent-b', p_epoch := 2)",
        )
        .bind(w.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
        assert_eq!(done, expected);
    }
    // the held claim in v_worktrees_detail
    let (by, epoch_in_view): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT claimed_by, claim_epoch FROM v_worktrees_detail WHERE id = $1")
            .bind(w.id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!((by, epoch_in_view), (None, None));
    let held: bool = sqlx::query_scalar("SELECT held FROM v_claims WHERE worktree_id = $1")
        .bind(w.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(!held);
    // unknown worktree: P0002
    let e = sqlx::query("SELECT * FROM claim_worktree(p_worktree_id := $1, p_agent_id := 'x')")
        .bind(Uuid::new_v4())
        .execute(&mut *c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "P0002", "{e}");
}
