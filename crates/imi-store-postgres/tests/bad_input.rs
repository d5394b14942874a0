//! Bad input through the SQL interface gets a clear error and writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use imi_core::Store;
use imi_store_postgres::PgStore;
use sqlx::Row;

async fn counts(pool: &sqlx::PgPool) -> (i64, i64, i64) {
    let r = sqlx::query(
        "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM worktrees), (SELECT count(*) FROM agent_activities)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_error_and_writes_nothing() {
    let Some(db) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let store = PgStore::connect(&db.url, "test-host").await.unwrap();
    imi_core::store::ensure_schema(&store).await.unwrap();
    let pool = store.pool();
    let pid: uuid::Uuid = sqlx::query_scalar(
        "SELECT register_project(p_name := 'app', p_remote_origin := 'https://github.com/a/app')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let wid: uuid::Uuid = sqlx::query_scalar(
        "SELECT register_worktree(p_project_id := $1, p_type_name := 'feat', p_name := 'feat-x', p_branch_name := 'feat/x', p_path := '/c/app/feat-x')",
    )
    .bind(pid)
    .fetch_one(pool)
    .await
    .unwrap();
    let before = counts(pool).await;

    let cases: Vec<(&str, String, &str)> = vec![
        ("invalid UUID", "SELECT register_worktree(p_project_id := 'not-a-uuid', p_type_name := 'feat', p_name := 'feat-y', p_branch_name := 'feat/y', p_path := '/y')".into(), "22P02"),
        ("empty project name", "SELECT register_project(p_name := '', p_remote_origin := 'https://github.com/a/b')".into(), "22023"),
        ("negative count", format!("SELECT update_worktree_git_state(p_worktree_id := '{wid}', p_uncommitted_count := -1)"), "22023"),
        ("unknown activity type", format!("SELECT log_activity(p_agent_id := 'a', p_worktree_id := '{wid}', p_activity_type := 'exploded', p_description := 'x')"), "22023"),
        ("metadata not an object", "SELECT register_project(p_name := 'm', p_remote_origin := 'https://github.com/a/m', p_metadata := '[1,2]'::jsonb)".into(), "22023"),
        ("unknown type", format!("SELECT register_worktree(p_project_id := '{pid}', p_type_name := 'bogus', p_name := 'bogus-x', p_branch_name := 'b/x', p_path := '/b')"), "22023"),
    ];
    for (what, sql, code) in cases {
        let err = sqlx::query(&sql).execute(pool).await.expect_err(what);
        let db_err = err.as_database_error().expect(what);
        assert_eq!(
            db_err.code().as_deref(),
            Some(code),
            "{what}: {}",
            db_err.message()
        );
        assert!(!db_err.message().is_empty());
        assert_eq!(counts(pool).await, before, "{what} wrote something");
    }
    let state: i32 =
        sqlx::query_scalar("SELECT uncommitted_files_count FROM worktrees WHERE id = $1")
            .bind(wid)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(state, 0);
    // through the store, the same input is a VALIDATION_ERROR
    let e = store
        .update_git_state(
            wid,
            &imi_core::GitState {
                uncommitted_count: Some(-1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION_ERROR");
}
