//! Issue 8, rule 4 on the SQLite file (migration 0002): a program writing the file
//! with SQL (sqlite3) cannot store a name that leaves its directory; imi reports the
//! refusal as VALIDATION_ERROR. (Metadata limits are the Rust store's: see the
//! conformance suite.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod common;

use common::fresh;
use imi_core::{NewProject, NewWorktree, Store};

#[tokio::test]
async fn names_that_become_paths_are_refused_by_the_schema() {
    let s = fresh().await;
    let p = s
        .register_project(&NewProject {
            name: "app".into(),
            remote_origin: Some("https://github.com/acme/app".into()),
            trunk_path: "/code/app/trunk-main".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let w = s
        .register_worktree(&NewWorktree {
            project_id: p.id,
            type_name: "feat".into(),
            name: "feat-x".into(),
            branch_name: "feat/x".into(),
            path: "/code/app/feat-x".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pool = s.pool();
    let refused = |sql: String| async move {
        let e = sqlx::query(&sql).execute(pool).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("invalid") || msg.contains("too long"),
            "{sql}: {msg}"
        );
    };
    for name in ["..", ".", "a/b", "a\\b", "rtl\u{202E}x", "esc\u{1b}x"] {
        refused(format!(
            "INSERT INTO projects (id, name, origin_key, trunk_path) \
             VALUES ('00000000-0000-4000-8000-000000000001', '{name}', 'k', '/t/trunk-main')"
        ))
        .await;
    }
    refused(format!(
        "UPDATE projects SET name = '..' WHERE id = '{}'",
        p.id
    ))
    .await;
    for name in ["../../../../x", "..", "-rf", "a\u{2066}b"] {
        refused(format!(
            "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, active) \
             SELECT '00000000-0000-4000-8000-000000000002', project_id, type_id, '{name}', 'b', '/x', 0 \
             FROM worktrees WHERE id = '{}'",
            w.id
        ))
        .await;
    }
    refused(format!(
        "UPDATE worktrees SET name = '../x' WHERE id = '{}'",
        w.id
    ))
    .await;
    refused(format!(
        "UPDATE worktrees SET branch_name = '{}' WHERE id = '{}'",
        "b".repeat(300),
        w.id
    ))
    .await;
    for prefix in ["trunk-", "TRUNK-x", "tr", "../", "a/b-"] {
        refused(format!(
            "INSERT INTO worktree_types (name, worktree_prefix) VALUES ('evil', '{prefix}')"
        ))
        .await;
    }
    // the built-in trunk keeps trunk-; an ordinary custom type is fine
    sqlx::query("UPDATE worktree_types SET description = 'x' WHERE name = 'trunk'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO worktree_types (name, worktree_prefix) VALUES ('spike', 'spike-')")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(s.list_projects(true).await.unwrap().len(), 1);
    assert_eq!(s.get_worktree(w.id).await.unwrap(), w);
}
