//! The seed's SQL clients against imi's schema (issue 9, items 1 to 4; item 3 also
//! through a transaction-pooling PgBouncer).
//!
//! A script in the style of the programs written for the seed registry (its examples
//! file, README snippets, registration script, file monitor and CSV import): one plain
//! session (no `imi.host`, no settings imi would make), named (`p_name := ...`) and
//! positional calls, plain INSERTs, `SELECT *` from every view, a user table whose
//! triggers reuse the seed's function names. Every result is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure should stop the test loudly

mod common;

use serde_json::{Value, json};
use sqlx::postgres::PgDatabaseError;
use sqlx::{Column, Connection, PgConnection, Row};
use uuid::Uuid;

/// The seed's columns of each view, in its order (its 001_create_schema.sql).
const SEED_VIEWS: &[(&str, &[&str])] = &[
    (
        "v_projects_summary",
        &[
            "id",
            "name",
            "remote_origin",
            "trunk_path",
            "created_at",
            "updated_at",
            "active_worktrees_count",
            "uncommitted_worktrees_count",
            "unmerged_worktrees_count",
            "last_worktree_activity",
        ],
    ),
    (
        "v_worktrees_detail",
        &[
            "id",
            "project_id",
            "project_name",
            "remote_origin",
            "worktree_name",
            "branch_name",
            "path",
            "type_name",
            "branch_prefix",
            "worktree_prefix",
            "type_color",
            "type_icon",
            "agent_id",
            "has_uncommitted_changes",
            "uncommitted_files_count",
            "ahead_of_trunk",
            "behind_trunk",
            "last_sync_at",
            "merged_at",
            "created_at",
            "updated_at",
            "active",
        ],
    ),
    (
        "v_inflight_work",
        &[
            "id",
            "project_id",
            "project_name",
            "worktree_name",
            "branch_name",
            "agent_id",
            "has_uncommitted_changes",
            "uncommitted_files_count",
            "ahead_of_trunk",
            "behind_trunk",
            "last_sync_at",
            "status",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "v_recent_agent_activity",
        &[
            "id",
            "agent_id",
            "activity_type",
            "description",
            "file_path",
            "created_at",
            "worktree_name",
            "project_name",
            "worktree_type",
        ],
    ),
];

/// A plain session on a freshly migrated database, as a seed client opens one.
async fn client() -> Option<(imi_testkit::PgTestDb, PgConnection)> {
    let (db, store) = common::store().await?;
    drop(store);
    let c = PgConnection::connect(&db.url).await.unwrap();
    Some((db, c))
}

async fn exec(c: &mut PgConnection, sql: &str) {
    if let Err(e) = sqlx::raw_sql(sql).execute(&mut *c).await {
        panic!("{sql}: {e}");
    }
}

async fn uuid(c: &mut PgConnection, sql: &str) -> Uuid {
    one(c, sql).await.try_get::<Uuid, _>(0).unwrap()
}

async fn text(c: &mut PgConnection, sql: &str) -> String {
    one(c, sql).await.try_get::<String, _>(0).unwrap()
}

/// The one row of `sql`, sent as psql sends it: the simple protocol, no prepared
/// statement (so the same script also runs through a transaction pooler).
async fn one(c: &mut PgConnection, sql: &str) -> sqlx::postgres::PgRow {
    match sqlx::raw_sql(sql).fetch_one(&mut *c).await {
        Ok(r) => r,
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// The rows of a query (a SELECT, or a WITH around a write) as JSON objects.
async fn rows(c: &mut PgConnection, sql: &str) -> Vec<Value> {
    let wrapped = format!("SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM ({sql}) t");
    match one(c, &wrapped).await.try_get::<Value, _>(0) {
        Ok(Value::Array(v)) => v,
        Ok(other) => panic!("{sql}: not an array: {other}"),
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// The rows of `sql` with only the `keep` columns.
async fn pick(c: &mut PgConnection, sql: &str, keep: &[&str]) -> Value {
    let all = rows(c, sql).await;
    Value::Array(
        all.into_iter()
            .map(|r| {
                let mut o = serde_json::Map::new();
                for k in keep {
                    let v = r
                        .get(*k)
                        .unwrap_or_else(|| panic!("{sql}: no column {k} in {r}"));
                    o.insert((*k).to_string(), v.clone());
                }
                Value::Object(o)
            })
            .collect(),
    )
}

/// (SQLSTATE, message, hint) of a statement that must fail.
async fn fails(c: &mut PgConnection, sql: &str) -> (String, String, String) {
    match sqlx::raw_sql(sql).execute(&mut *c).await {
        Ok(_) => panic!("{sql}: succeeded, expected an error"),
        Err(e) => {
            let db = e
                .as_database_error()
                .unwrap_or_else(|| panic!("{sql}: {e}"));
            let pg = db.downcast_ref::<PgDatabaseError>();
            (
                pg.code().to_string(),
                pg.message().to_string(),
                pg.hint().unwrap_or_default().to_string(),
            )
        }
    }
}

#[tokio::test]
async fn the_seeds_clients_run_against_imi() {
    let Some((_db, mut conn)) = client().await else {
        return;
    };
    let c = &mut conn;
    let session_user = text(c, "SELECT session_user::text").await;

    // ---- item 1: every view starts with the seed's columns, in its order -----------
    for (view, seed) in SEED_VIEWS {
        let cols: Vec<String> = sqlx::query_scalar(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 \
             AND NOT attisdropped ORDER BY attnum",
        )
        .bind(*view)
        .fetch_all(&mut *c)
        .await
        .unwrap();
        assert!(cols.len() > seed.len(), "{view}: {cols:?}");
        assert_eq!(
            &cols[..seed.len()],
            *seed,
            "{view} starts with the seed's columns"
        );
    }

    // ---- the registration script: positional, then named calls ----------------------
    let imi = uuid(
        c,
        "SELECT register_project('iMi', 'git@github.com:delorenj/iMi.git')",
    )
    .await;
    // no home setting: the seed's rule /home/<session user>, never `~`
    assert_eq!(
        pick(
            c,
            "SELECT * FROM get_project_by_origin('git@github.com:delorenj/iMi.git')",
            &[
                "id",
                "name",
                "remote_origin",
                "default_branch",
                "trunk_path",
                "active"
            ]
        )
        .await,
        json!([{"id": imi, "name": "iMi", "remote_origin": "git@github.com:delorenj/iMi.git",
                "default_branch": "main",
                "trunk_path": format!("/home/{session_user}/code/iMi/trunk-main"), "active": true}])
    );
    // named notation, another form of the same remote: the same project
    assert_eq!(
        uuid(
            c,
            "SELECT register_project(p_name := 'iMi', p_remote_origin := 'https://github.com/delorenj/imi', \
             p_default_branch := 'main', p_trunk_path := '/home/delorenj/code/iMi/trunk-main', \
             p_metadata := '{\"owner\": \"delorenj\"}'::jsonb)",
        )
        .await,
        imi
    );
    // the home settings, for a project registered without a trunk path
    exec(c, "SET imi.home_dir = '/srv/seed'").await;
    let flume = uuid(c, "SELECT register_project(p_name := 'Flume', p_remote_origin := 'git@github.com:33GOD/Flume.git')").await;
    exec(c, "SET imi.home = '/home/me/'").await;
    let yi = uuid(c, "SELECT register_project(p_name := 'Yi', p_remote_origin := 'git@gitlab.com:33GOD/agents/Yi.git', p_default_branch := 'develop')").await;
    exec(c, "RESET imi.home; RESET imi.home_dir").await;
    assert_eq!(
        pick(
            c,
            &format!("SELECT name, trunk_path FROM projects WHERE id IN ('{flume}', '{yi}') ORDER BY name COLLATE \"C\""),
            &["name", "trunk_path"]
        )
        .await,
        json!([{"name": "Flume", "trunk_path": "/srv/seed/code/Flume/trunk-main"},
               {"name": "Yi", "trunk_path": "/home/me/code/Yi/trunk-develop"}])
    );

    let wt = uuid(
        c,
        &format!(
            "SELECT register_worktree('{imi}', 'feat', 'feat-project-registry', 'feat/project-registry', \
             '/home/delorenj/code/iMi/feat-project-registry')"
        ),
    )
    .await;
    exec(
        c,
        &format!(
            "SELECT update_worktree_git_state(p_worktree_id := '{wt}', p_has_uncommitted := TRUE, \
             p_uncommitted_count := 12, p_ahead := 5, p_last_commit_hash := 'abc1234')"
        ),
    )
    .await;
    assert_eq!(
        pick(
            c,
            "SELECT * FROM get_worktree_by_path('/home/delorenj/code/iMi/feat-project-registry')",
            &[
                "id",
                "project_id",
                "project_name",
                "worktree_name",
                "branch_name",
                "type_name",
                "agent_id",
                "active"
            ]
        )
        .await,
        json!([{"id": wt, "project_id": imi, "project_name": "iMi", "worktree_name": "feat-project-registry",
                "branch_name": "feat/project-registry", "type_name": "feat", "agent_id": null, "active": true}])
    );

    // ---- SELECT * from every view ---------------------------------------------------
    let inflight = rows(c, "SELECT * FROM v_inflight_work").await;
    assert_eq!(inflight.len(), 1);
    let seed_inflight = pick(
        c,
        "SELECT * FROM v_inflight_work",
        &[
            "id",
            "worktree_id",
            "project_id",
            "project_name",
            "worktree_name",
            "branch_name",
            "agent_id",
            "has_uncommitted_changes",
            "uncommitted_files_count",
            "ahead_of_trunk",
            "behind_trunk",
            "status",
        ],
    )
    .await;
    assert_eq!(
        seed_inflight,
        json!([{"id": wt, "worktree_id": wt, "project_id": imi, "project_name": "iMi",
                "worktree_name": "feat-project-registry", "branch_name": "feat/project-registry",
                "agent_id": null, "has_uncommitted_changes": true, "uncommitted_files_count": 12,
                "ahead_of_trunk": 5, "behind_trunk": 0, "status": "uncommitted"}])
    );
    assert!(inflight[0]["last_sync_at"].is_string());
    assert_eq!(
        pick(
            c,
            "SELECT * FROM v_projects_summary ORDER BY name COLLATE \"C\"",
            &[
                "id",
                "name",
                "active_worktrees_count",
                "uncommitted_worktrees_count",
                "unmerged_worktrees_count"
            ]
        )
        .await,
        json!([
            {"id": flume, "name": "Flume", "active_worktrees_count": 0, "uncommitted_worktrees_count": 0, "unmerged_worktrees_count": 0},
            {"id": yi, "name": "Yi", "active_worktrees_count": 0, "uncommitted_worktrees_count": 0, "unmerged_worktrees_count": 0},
            {"id": imi, "name": "iMi", "active_worktrees_count": 1, "uncommitted_worktrees_count": 1, "unmerged_worktrees_count": 1},
        ])
    );
    assert_eq!(
        pick(
            c,
            "SELECT * FROM v_worktrees_detail",
            &[
                "id",
                "project_name",
                "remote_origin",
                "worktree_name",
                "path",
                "type_name",
                "branch_prefix",
                "worktree_prefix",
                "type_color",
                "type_icon",
                "uncommitted_files_count",
                "merged_at",
                "active"
            ]
        )
        .await,
        json!([{"id": wt, "project_name": "iMi", "remote_origin": "https://github.com/delorenj/imi",
                "worktree_name": "feat-project-registry",
                "path": "/home/delorenj/code/iMi/feat-project-registry", "type_name": "feat",
                "branch_prefix": "feat/", "worktree_prefix": "feat-", "type_color": "#10B981",
                "type_icon": "\u{1F680}", "uncommitted_files_count": 12, "merged_at": null, "active": true}])
    );

    // ---- item 2: plain INSERTs --------------------------------------------------------
    // the file monitor: a plain INSERT into agent_activities gets the names
    let act = uuid(
        c,
        &format!(
            "INSERT INTO agent_activities (agent_id, worktree_id, activity_type, description, file_path, metadata) \
             VALUES ('file-monitor', '{wt}', 'modified', 'File modified: src/db.rs', 'src/db.rs', '{{}}') RETURNING id"
        ),
    )
    .await;
    let logged = uuid(
        c,
        &format!(
            "SELECT log_activity('claude', '{wt}', 'committed', 'Add registry', NULL, '{{\"sha\": \"abc1234\"}}')"
        ),
    )
    .await;
    assert_eq!(
        pick(
            c,
            "SELECT * FROM agent_activities ORDER BY agent_id",
            &[
                "id",
                "agent_id",
                "worktree_id",
                "project_id",
                "project_name",
                "worktree_name"
            ]
        )
        .await,
        json!([
            {"id": logged, "agent_id": "claude", "worktree_id": wt, "project_id": imi, "project_name": "iMi", "worktree_name": "feat-project-registry"},
            {"id": act, "agent_id": "file-monitor", "worktree_id": wt, "project_id": imi, "project_name": "iMi", "worktree_name": "feat-project-registry"},
        ])
    );
    // a plain INSERT naming an unknown worktree is refused by the foreign key
    assert_eq!(
        fails(
            c,
            &format!(
                "INSERT INTO agent_activities (agent_id, worktree_id, activity_type, description) \
             VALUES ('m', '{}', 'other', 'x')",
                Uuid::new_v4()
            )
        )
        .await
        .0,
        "23503"
    );

    // the CSV import: plain INSERTs into projects compute the identity
    exec(
        c,
        "INSERT INTO projects (name, remote_origin, default_branch, trunk_path, metadata) VALUES \
           ('bloodbank', 'https://deploy:s3cret@github.com/33GOD/BloodBank.git/', 'main', '/home/me/code/bloodbank/trunk-main', '{\"source\": \"csv\"}'), \
           ('scratch', NULL, 'main', '/home/me/code/scratch/trunk-main/', '{}')",
    )
    .await;
    let csv = rows(
        c,
        "SELECT name, remote_origin, origin_key, metadata FROM projects \
         WHERE name IN ('bloodbank', 'scratch') ORDER BY name",
    )
    .await;
    assert_eq!(
        Value::Array(csv),
        json!([
            {"name": "bloodbank", "remote_origin": "https://github.com/33GOD/BloodBank.git/",
             "origin_key": "github.com/33god/bloodbank", "metadata": {"source": "csv"}},
            {"name": "scratch", "remote_origin": null,
             "origin_key": "/home/me/code/scratch/trunk-main", "metadata": {}},
        ])
    );
    let bloodbank = uuid(c, "SELECT id FROM projects WHERE name = 'bloodbank'").await;
    // the same identity again, in another form: refused, and register_project finds it
    let (state, msg, _) = fails(
        c,
        "INSERT INTO projects (name, remote_origin, default_branch, trunk_path, metadata) \
         VALUES ('bb', 'git@github.com:33god/bloodbank', 'main', '/x/bb/trunk-main', '{}')",
    )
    .await;
    assert_eq!(state, "23505", "{msg}");
    assert!(msg.contains("projects_origin_key_active_key"), "{msg}");
    assert_eq!(
        uuid(c, "SELECT register_project(p_name := 'bloodbank', p_remote_origin := 'git@github.com:33god/BloodBank.git')").await,
        bloodbank
    );
    // a plain UPDATE of the remote moves the identity with it
    exec(c, "UPDATE projects SET remote_origin = 'git@github.com:33GOD/scratch.git' WHERE name = 'scratch'").await;
    assert_eq!(
        text(c, "SELECT origin_key FROM projects WHERE name = 'scratch'").await,
        "github.com/33god/scratch"
    );

    // pruning keeps the activities readable
    exec(
        c,
        &format!("SELECT mark_worktree_merged('{wt}', 'claude', 'abc1234')"),
    )
    .await;
    assert!(rows(c, "SELECT * FROM v_inflight_work").await.is_empty());
    exec(
        c,
        "UPDATE worktrees SET updated_at = now() - interval '40 days' WHERE NOT active",
    )
    .await;
    assert_eq!(
        sqlx::query_scalar::<_, i32>("SELECT prune_inactive_worktrees()")
            .fetch_one(&mut *c)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        pick(
            c,
            "SELECT * FROM v_recent_agent_activity",
            &[
                "id",
                "agent_id",
                "activity_type",
                "description",
                "file_path",
                "worktree_name",
                "project_name",
                "worktree_type",
                "worktree_id"
            ]
        )
        .await,
        json!([
            {"id": logged, "agent_id": "claude", "activity_type": "committed", "description": "Add registry",
             "file_path": null, "worktree_name": "feat-project-registry", "project_name": "iMi",
             "worktree_type": null, "worktree_id": null},
            {"id": act, "agent_id": "file-monitor", "activity_type": "modified", "description": "File modified: src/db.rs",
             "file_path": "src/db.rs", "worktree_name": "feat-project-registry", "project_name": "iMi",
             "worktree_type": null, "worktree_id": null},
        ]),
        "newest first: log_activity ran after the plain INSERT"
    );

    // ---- item 1: the seed's trigger functions on a user table --------------------------
    exec(
        c,
        "CREATE TABLE agent_sessions ( \
           id serial PRIMARY KEY, note text, \
           uncommitted_files_count integer NOT NULL DEFAULT 0, \
           has_uncommitted_changes boolean NOT NULL DEFAULT false, \
           updated_at timestamptz NOT NULL DEFAULT now()); \
         CREATE TRIGGER agent_sessions_updated_at BEFORE UPDATE ON agent_sessions \
           FOR EACH ROW EXECUTE FUNCTION update_updated_at_column(); \
         CREATE TRIGGER agent_sessions_sync BEFORE INSERT OR UPDATE ON agent_sessions \
           FOR EACH ROW EXECUTE FUNCTION sync_uncommitted_changes(); \
         INSERT INTO agent_sessions (note, uncommitted_files_count, updated_at) \
           VALUES ('a', 3, '2020-01-01T00:00:00Z');",
    )
    .await;
    assert_eq!(
        pick(c, "SELECT note, has_uncommitted_changes, updated_at = '2020-01-01T00:00:00Z' AS kept FROM agent_sessions",
             &["note", "has_uncommitted_changes", "kept"]).await,
        json!([{"note": "a", "has_uncommitted_changes": true, "kept": true}])
    );
    exec(
        c,
        "UPDATE agent_sessions SET note = 'b', uncommitted_files_count = 0",
    )
    .await;
    assert_eq!(
        pick(c, "SELECT note, has_uncommitted_changes, updated_at > now() - interval '1 hour' AS touched FROM agent_sessions",
             &["note", "has_uncommitted_changes", "touched"]).await,
        json!([{"note": "b", "has_uncommitted_changes": false, "touched": true}])
    );

    // ---- item 1: the type colour default and maintenance_vacuum ------------------------
    assert_eq!(
        text(
            c,
            "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description) \
                 VALUES ('spike', 'spike/', 'spike-', 'Experiments') RETURNING color"
        )
        .await,
        "#6B7280"
    );
    let (state, msg, hint) = fails(c, "SELECT maintenance_vacuum()").await;
    assert_eq!(state, "0A000", "{msg}");
    assert!(msg.contains("VACUUM cannot run inside a function"), "{msg}");
    assert!(hint.contains("imi db maintain"), "{hint}");

    // ---- item 4: lookups -----------------------------------------------------------------
    // get_project_by_origin: active projects only
    exec(c, &format!("SELECT deactivate_project('{flume}')")).await;
    assert!(
        rows(
            c,
            "SELECT * FROM get_project_by_origin('git@github.com:33GOD/Flume.git')"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        uuid(
            c,
            "SELECT register_project('Flume', 'git@github.com:33GOD/Flume.git')"
        )
        .await,
        flume,
        "re-registering reactivates"
    );
    assert_eq!(
        pick(c, "SELECT * FROM get_project_by_origin(p_remote_origin := 'https://github.com/33god/flume')",
             &["id", "active"]).await,
        json!([{"id": flume, "active": true}])
    );
    exec(
        c,
        &format!("SELECT deactivate_project(p_project_id := '{flume}')"),
    )
    .await;

    // search_projects: parts of the remote (owner, group, host), typos, an empty query
    let names = |v: Vec<Value>| -> Vec<String> {
        v.into_iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(rows(c, "SELECT * FROM search_projects('33god')").await),
        ["Yi", "bloodbank", "scratch"]
    );
    assert_eq!(
        names(rows(c, "SELECT * FROM search_projects(p_query := 'agents')").await),
        ["Yi"]
    );
    assert_eq!(
        names(rows(c, "SELECT * FROM search_projects('GitLab')").await),
        ["Yi"]
    );
    assert_eq!(
        names(rows(c, "SELECT * FROM search_projects('delorenj')").await),
        ["iMi"]
    );
    assert_eq!(
        names(rows(c, "SELECT * FROM search_projects('bloodbnak')").await),
        ["bloodbank"]
    );
    let relevance: Vec<Value> = rows(
        c,
        "SELECT name, relevance FROM search_projects('33god') WHERE name = 'Yi'",
    )
    .await;
    assert_eq!(relevance, [json!({"name": "Yi", "relevance": 0.4})]);
    // empty: the active projects (Flume is deactivated), most recently updated first
    exec(
        c,
        "UPDATE projects SET description = 'touched' WHERE name = 'scratch'",
    )
    .await;
    assert_eq!(
        names(rows(c, "SELECT * FROM search_projects('')").await),
        ["scratch", "bloodbank", "Yi", "iMi"]
    );
    assert!(
        rows(c, "SELECT * FROM search_projects('') WHERE relevance <> 0")
            .await
            .is_empty()
    );
    // bounded at 20
    exec(c, "SELECT register_project('bulk-' || i, 'git@example.org:bulk/p' || i, 'main', '/b/' || i || '/trunk-main') \
             FROM generate_series(1, 25) i").await;
    let all = rows(c, "SELECT * FROM search_projects('')").await;
    assert_eq!(all.len(), 20);
    assert!(
        all.iter()
            .all(|r| r["name"].as_str().unwrap().starts_with("bulk-")),
        "newest first"
    );
    assert_eq!(
        rows(c, "SELECT * FROM search_projects('example.org')")
            .await
            .len(),
        20
    );

    // read functions see the writes of the same statement (VOLATILE)
    assert_eq!(
        text(c, "SELECT get_project_working_path(register_project('Holocene', 'git@github.com:33GOD/holocene.git', \
                 'main', '/home/me/code/Holocene/trunk-main'), 'feat-ui')").await,
        "/home/me/code/Holocene/feat-ui"
    );
    assert_eq!(
        pick(c, "SELECT * FROM get_project_by_origin((SELECT 'git@github.com:33GOD/Candybar.git' \
                 FROM (SELECT register_project('Candybar', 'git@github.com:33GOD/Candybar.git', 'main', '/c/trunk-main')) r))",
             &["name", "trunk_path"]).await,
        json!([{"name": "Candybar", "trunk_path": "/c/trunk-main"}])
    );
    let holocene = uuid(c, "SELECT id FROM projects WHERE name = 'Holocene'").await;
    assert_eq!(
        pick(c, &format!(
            "SELECT * FROM get_worktree_by_path((SELECT '/home/me/code/Holocene/fix-crash' FROM (SELECT register_worktree( \
               p_project_id := '{holocene}', p_type_name := 'fix', p_name := 'fix-crash', p_branch_name := 'fix/crash', \
               p_path := '/home/me/code/Holocene/fix-crash')) r))"),
             &["project_name", "worktree_name", "type_name"]).await,
        json!([{"project_name": "Holocene", "worktree_name": "fix-crash", "type_name": "fix"}])
    );
    let fix = uuid(c, "SELECT id FROM worktrees WHERE name = 'fix-crash'").await;
    assert_eq!(
        pick(c, &format!(
            "SELECT * FROM get_agent_recent_work((SELECT 'tester' FROM (SELECT log_activity('tester', '{fix}', 'created', 'made')) l))"),
             &["activity_type", "description", "worktree_name", "project_name", "worktree_type"]).await,
        json!([{"activity_type": "created", "description": "made", "worktree_name": "fix-crash",
                "project_name": "Holocene", "worktree_type": "fix"}])
    );
    assert_eq!(
        pick(c, &format!(
            "SELECT * FROM get_inflight_work((SELECT '{holocene}'::uuid FROM (SELECT update_worktree_git_state('{fix}', \
               p_behind := 2)) u))"),
             &["worktree_id", "status", "behind"]).await,
        json!([{"worktree_id": fix, "status": "behind", "behind": 2}])
    );
    assert_eq!(
        pick(c, &format!(
            "SELECT * FROM get_registry_stats() WHERE (SELECT true FROM (SELECT log_activity('tester', '{fix}', 'other', 'x')) l)"),
             &["total_activities"]).await,
        json!([{"total_activities": 4}])
    );
}

#[tokio::test]
async fn seed_columns_come_back_from_select_star() {
    let Some((_db, mut conn)) = client().await else {
        return;
    };
    let c = &mut conn;
    // the column names a seed client reads by position from SELECT *
    for (view, seed) in SEED_VIEWS {
        let described = sqlx::query(&format!("SELECT * FROM {view}"))
            .fetch_all(&mut *c)
            .await
            .unwrap();
        assert!(described.is_empty(), "{view}: a fresh registry has no rows");
        let stmt = sqlx::Executor::describe(&mut *c, &format!("SELECT * FROM {view}"))
            .await
            .unwrap();
        let names: Vec<&str> = stmt.columns().iter().map(|col| col.name()).collect();
        assert_eq!(&names[..seed.len()], *seed, "{view}");
    }
}

/// Item 3 in SQL: two hosts register the same worktree name through plain SQL, each
/// naming itself per transaction (`SET LOCAL imi.host`), once straight to PostgreSQL
/// and once through a transaction-pooling PgBouncer (where a per-transaction setting
/// is the only kind that survives). Path lookup without a host finds the checkout on
/// any host and says which; the views show both; an unnamed caller is its address.
async fn two_hosts_in_sql(c: &mut PgConnection, via: &str) {
    let pid = uuid(
        c,
        "SELECT register_project(p_name := 'shared', \
         p_remote_origin := 'git@github.com:acme/shared.git', p_trunk_path := '/srv/a/shared/trunk-main')",
    )
    .await;
    for (host, root) in [("host-a", "/srv/a"), ("host-b", "/srv/b")] {
        // one simple-protocol message: BEGIN .. COMMIT reach one server connection
        exec(
            c,
            &format!(
                "BEGIN; SET LOCAL imi.host = '{host}'; \
                 SELECT register_worktree('{pid}', 'feat', 'feat-x', 'feat/x', '{root}/shared/feat-x'); \
                 COMMIT;"
            ),
        )
        .await;
    }
    assert_eq!(
        pick(
            c,
            "SELECT * FROM v_worktrees_detail WHERE worktree_name = 'feat-x' ORDER BY host",
            &["worktree_name", "host", "path"],
        )
        .await,
        json!([
            {"worktree_name": "feat-x", "host": "host-a", "path": "/srv/a/shared/feat-x"},
            {"worktree_name": "feat-x", "host": "host-b", "path": "/srv/b/shared/feat-x"},
        ]),
        "{via}"
    );
    assert_eq!(
        pick(
            c,
            "SELECT * FROM get_worktree_by_path(p_path := '/srv/b/shared/feat-x')",
            &["worktree_name", "host"],
        )
        .await,
        json!([{"worktree_name": "feat-x", "host": "host-b"}]),
        "{via}"
    );
    assert_eq!(
        rows(
            c,
            "SELECT * FROM get_worktree_by_path('/srv/b/shared/feat-x', 'host-a')"
        )
        .await
        .len(),
        0,
        "{via}: another host's path is not this host's"
    );
    // the same name twice on one host is still refused
    let (code, ..) = fails(
        c,
        &format!(
            "BEGIN; SET LOCAL imi.host = 'host-a'; \
             SELECT register_worktree('{pid}', 'feat', 'feat-x', 'feat/x', '/srv/a/shared/other'); COMMIT;"
        ),
    )
    .await;
    exec(c, "ROLLBACK").await;
    assert_eq!(code, "23505", "{via}");
    // no imi.host: the caller's address (TCP on loopback here), never 'localhost'
    exec(
        c,
        &format!(
            "SELECT register_worktree('{pid}', 'fix', 'fix-y', 'fix/y', '/srv/c/shared/fix-y')"
        ),
    )
    .await;
    assert_eq!(
        text(c, "SELECT host FROM worktrees WHERE name = 'fix-y'").await,
        "127.0.0.1",
        "{via}"
    );
}

#[tokio::test]
async fn two_hosts_name_themselves_per_transaction() {
    let Some((_db, mut conn)) = client().await else {
        return;
    };
    two_hosts_in_sql(&mut conn, "direct").await;
}

#[tokio::test]
async fn two_hosts_name_themselves_per_transaction_through_pgbouncer() {
    let Some((db, direct)) = client().await else {
        return;
    };
    drop(direct);
    let Some(bouncer) = imi_testkit::PgBouncer::start() else {
        return;
    };
    // a plain client through the pooler, in the simple protocol as psql speaks it
    let mut c = PgConnection::connect_with(
        &bouncer
            .unmarked_url(&db.name)
            .parse::<sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .extra_float_digits(None),
    )
    .await
    .unwrap();
    two_hosts_in_sql(&mut c, "pgbouncer").await;
}
