//! Issue 8, rules 4 and 6 at the SQL door (migration 0003): programs that write with
//! SQL (the SPEC §3.4 functions or plain INSERT / UPDATE) meet the same rules as imi.
//! Every refusal is 22023 (VALIDATION_ERROR) and writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod common;

use common::{project, sqlstate, store, worktree};
use imi_core::Store;
use sqlx::PgConnection;

async fn refused(c: &mut PgConnection, sql: &str) -> String {
    let e = sqlx::query(sql).execute(&mut *c).await.unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{sql}: {e}");
    e.to_string()
}

async fn count(c: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&mut *c).await.unwrap()
}

#[tokio::test]
async fn names_that_become_paths_are_refused_through_sql() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat", "feat-x").await;
    let mut c = s.pool().acquire().await.unwrap();
    let c = &mut *c;
    let before = (
        count(c, "SELECT count(*) FROM projects").await,
        count(c, "SELECT count(*) FROM worktrees").await,
        count(c, "SELECT count(*) FROM worktree_types").await,
    );

    // register_project: a project named `..` would default its trunk to <home>/code/../trunk-main
    for name in ["..", ".", "a/b", "x\\y", "rtl\u{202E}gpj"] {
        let msg = refused(
            c,
            &format!(
                "SELECT register_project(p_name := '{name}', p_remote_origin := 'https://host/owner/r{}')",
                name.len()
            ),
        )
        .await;
        assert!(msg.contains("invalid project name"), "{msg}");
    }
    refused(
        c,
        "INSERT INTO projects (name, origin_key, trunk_path) VALUES ('..', 'k1', '/t/trunk-main')",
    )
    .await;
    refused(c, "UPDATE projects SET name = '../x' WHERE name = 'app'").await;

    // worktrees: register_worktree and plain INSERT / UPDATE
    refused(
        c,
        &format!(
            "SELECT register_worktree(p_project_id := '{}', p_type_name := 'feat', \
             p_name := '../../../../x', p_branch_name := 'feat/x', p_path := '/code/app/x')",
            p.id
        ),
    )
    .await;
    for name in ["../../../../x", "..", "a\u{2067}b"] {
        refused(
            c,
            &format!(
                "INSERT INTO worktrees (project_id, type_id, name, branch_name, path, active) \
                 SELECT project_id, type_id, '{name}', 'b', '/elsewhere', false FROM worktrees WHERE id = '{}'",
                w.id
            ),
        )
        .await;
    }
    refused(
        c,
        &format!("UPDATE worktrees SET name = '../x' WHERE id = '{}'", w.id),
    )
    .await;
    refused(
        c,
        &format!(
            "UPDATE worktrees SET branch_name = repeat('b', 300) WHERE id = '{}'",
            w.id
        ),
    )
    .await;

    // custom types: no trunk-like or path-like directory prefixes
    for prefix in ["trunk-", "TRUNK-x", "tr", "../", "a/b-"] {
        refused(
            c,
            &format!(
                "INSERT INTO worktree_types (name, worktree_prefix) VALUES ('evil', '{prefix}')"
            ),
        )
        .await;
    }
    refused(
        c,
        "UPDATE worktree_types SET worktree_prefix = 'trunk-' WHERE name = 'feat'",
    )
    .await;
    // the built-in trunk keeps its prefix; an ordinary custom type is fine
    sqlx::query("UPDATE worktree_types SET description = 'the trunk' WHERE name = 'trunk'")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query("INSERT INTO worktree_types (name, worktree_prefix) VALUES ('spike', 'spike-')")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query("DELETE FROM worktree_types WHERE name = 'spike'")
        .execute(&mut *c)
        .await
        .unwrap();

    let after = (
        count(c, "SELECT count(*) FROM projects").await,
        count(c, "SELECT count(*) FROM worktrees").await,
        count(c, "SELECT count(*) FROM worktree_types").await,
    );
    assert_eq!(before, after);
    assert_eq!(s.get_worktree(w.id).await.unwrap(), w);
}

#[tokio::test]
async fn metadata_limits_hold_through_sql_and_repairs_pass() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat", "feat-x").await;
    let mut c = s.pool().acquire().await.unwrap();
    let c = &mut *c;
    let deep = |n: usize| format!("{}1{}", "{\"a\": ".repeat(n), "}".repeat(n));
    // 33 levels (the finding's dotted key made 129)
    refused(
        c,
        &format!(
            "UPDATE worktrees SET metadata = '{}' WHERE id = '{}'",
            deep(33),
            w.id
        ),
    )
    .await;
    refused(
        c,
        &format!(
            "SELECT register_worktree(p_project_id := '{}', p_type_name := 'fix', p_name := 'fix-y', \
             p_branch_name := 'fix/y', p_path := '/code/app/fix-y', p_metadata := '{}')",
            p.id,
            deep(129)
        ),
    )
    .await;
    refused(
        c,
        &format!(
            "SELECT log_activity(p_agent_id := 'a', p_worktree_id := NULL, p_activity_type := 'other', \
             p_description := 'd', p_metadata := '{}')",
            deep(40)
        ),
    )
    .await;
    refused(
        c,
        &format!(
            "UPDATE projects SET metadata = jsonb_build_object('big', repeat('x', 200000)) WHERE id = '{}'",
            p.id
        ),
    )
    .await;
    refused(
        c,
        &format!(
            "UPDATE projects SET metadata = (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 1001) i) \
             WHERE id = '{}'",
            p.id
        ),
    )
    .await;
    refused(
        c,
        &format!(
            "UPDATE projects SET metadata = jsonb_build_object(repeat('k', 300), 1) WHERE id = '{}'",
            p.id
        ),
    )
    .await;
    // 32 levels is allowed
    sqlx::query(&format!(
        "UPDATE worktrees SET metadata = '{}' WHERE id = '{}'",
        deep(32),
        w.id
    ))
    .execute(&mut *c)
    .await
    .unwrap();
    // a document stored before the rules (here: with triggers off) may only shrink
    let mut tx = s.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(&format!(
        "UPDATE worktrees SET metadata = '{}' WHERE id = '{}'",
        deep(150),
        w.id
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    refused(
        c,
        &format!(
            "UPDATE worktrees SET metadata = metadata || '{{\"more\": 1}}' WHERE id = '{}'",
            w.id
        ),
    )
    .await;
    // removing the value 120 levels down leaves a smaller, still too deep document
    sqlx::query(&format!(
        "UPDATE worktrees SET metadata = metadata #- '{{{}}}' WHERE id = '{}'",
        vec!["a"; 120].join(","),
        w.id
    ))
    .execute(&mut *c)
    .await
    .unwrap();
    // and imi reads it meanwhile, and repairs it
    let listed = s
        .list_worktrees(&imi_core::WorktreeFilter::default())
        .await
        .unwrap();
    assert!(listed[0].metadata["a"][imi_core::metadata::UNREADABLE].is_string());
    assert!(
        s.metadata_unset(imi_core::MetadataTarget::Worktree(w.id), "a")
            .await
            .unwrap()
    );
    assert!(s.get_worktree(w.id).await.unwrap().metadata.is_empty());
}

#[tokio::test]
async fn retention_functions_refuse_day_counts_beyond_100_years() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let mut c = s.pool().acquire().await.unwrap();
    let c = &mut *c;
    for f in [
        "cleanup_old_activities(p_retention_days",
        "prune_inactive_worktrees(p_inactive_days",
    ] {
        for days in ["100000000", "36501", "2147483647"] {
            let msg = refused(c, &format!("SELECT {f} := {days})")).await;
            assert!(msg.contains("too large"), "{msg}");
        }
        let n: i32 = sqlx::query_scalar(&format!("SELECT {f} := 36500)"))
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}

/// Migration 0010 lets a plain name, short columns and empty metadata skip the
/// detailed checks. The rules at the edges of those shortcuts still hold, with the
/// same messages, on plain INSERT (no imi function checks first).
#[tokio::test]
async fn the_shortcuts_of_0010_keep_every_rule() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat", "feat-x").await;
    let mut c = s.pool().acquire().await.unwrap();
    let c = &mut *c;
    let before = count(c, "SELECT count(*) FROM worktrees").await;
    let insert_worktree = |name: &str| {
        format!(
            "INSERT INTO worktrees (project_id, type_id, name, branch_name, path) \
             SELECT '{}', id, '{name}', 'b/{name}', '/code/app/x' FROM worktree_types WHERE name = 'feat'",
            p.id
        )
    };
    // names just outside the shortcut's pattern: dots, length 201, a leading `-`
    let long = "a".repeat(201);
    for (name, why) in [
        ("a..b", "contains `..`"),
        ("x.lock", "ends with `.lock`"),
        ("end.", "ends with `.`"),
        ("-x", "starts with `-` or `.`"),
        (long.as_str(), "is longer than 200 bytes"),
    ] {
        let msg = refused(c, &insert_worktree(name)).await;
        assert!(msg.contains(why), "{name}: {msg}");
    }
    // a name the shortcut does not cover but every rule allows
    sqlx::query(&insert_worktree("v1.2-fix"))
        .execute(&mut *c)
        .await
        .unwrap();
    let msg = refused(
        c,
        &format!(
            "INSERT INTO projects (name, origin_key, trunk_path) VALUES ('{long}', 'k-long', '/t/trunk-main')"
        ),
    )
    .await;
    assert!(msg.contains("is longer than 200 bytes"), "{msg}");
    // one column over its bound among short ones: named in the message
    let msg = refused(
        c,
        &format!(
            "UPDATE worktrees SET host = repeat('h', 256) WHERE id = '{}'",
            w.id
        ),
    )
    .await;
    assert!(msg.contains("host is too long"), "{msg}");
    let activity = |agent: &str, description: &str, metadata: &str| {
        format!(
            "INSERT INTO agent_activities (agent_id, worktree_id, activity_type, description, metadata) \
             VALUES ({agent}, '{}', 'other', {description}, {metadata})",
            w.id
        )
    };
    let msg = refused(c, &activity("repeat('a', 256)", "'x'", "'{}'")).await;
    assert!(msg.contains("agent id is too long"), "{msg}");
    let msg = refused(c, &activity("'a'", "repeat('d', 8193)", "'{}'")).await;
    assert!(msg.contains("description is too long"), "{msg}");
    let deep = format!("'{}1{}'", "{\"k\":".repeat(34), "}".repeat(34));
    let msg = refused(c, &activity("'a'", "'x'", &deep)).await;
    assert!(msg.contains("nested more than 32 levels deep"), "{msg}");
    let msg = refused(
        c,
        &activity(
            "'a'",
            "'x'",
            "(SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 1001) i)",
        ),
    )
    .await;
    assert!(msg.contains("has more than 1000 keys"), "{msg}");
    let msg = refused(
        c,
        &activity("'a'", "'x'", "jsonb_build_object(repeat('k', 257), 1)"),
    )
    .await;
    assert!(msg.contains("has a key longer than 256 bytes"), "{msg}");
    // nothing refused was written; the one valid name was
    assert_eq!(count(c, "SELECT count(*) FROM worktrees").await, before + 1);
    assert_eq!(
        count(
            c,
            "SELECT count(*) FROM agent_activities WHERE activity_type = 'other'"
        )
        .await,
        0
    );
}
