//! Issue 8, rules 4 and 6 through the CLI: names that become paths are checked at
//! every door (init's remote, `db import`, `import legacy`, `.iMi` files), paths built
//! from names read back from a registry never leave their directory (`prune`), and
//! stored input is bounded so that nothing stored makes a read fail. Also the minor
//! items: trunk-like type prefixes, and `db maintain` with huge day counts.

use std::path::Path;

use serde_json::{Value, json};
use sqlx::Connection;

use crate::both_backends;
use crate::harness::World;

/// The whole registry (`imi db export`), without the export's own timestamp.
fn registry(w: &World) -> Value {
    let (code, doc) = w.imi_json(w.path(), &["db", "export"]);
    assert_eq!(code, 0, "{doc}");
    let mut doc = doc["data"].clone();
    assert!(doc["projects"].is_array(), "{doc}");
    if let Some(o) = doc.as_object_mut() {
        o.remove("exported_at");
    }
    doc
}

#[track_caller]
fn refused(w: &World, dir: &Path, args: &[&str], code: &str) -> Value {
    let (exit, doc) = w.imi_json(dir, args);
    assert_eq!(exit, 1, "{args:?}: {doc}");
    assert_eq!(doc["error"]["code"], code, "{args:?}: {doc}");
    assert!(doc["error"]["hint"].is_string(), "{args:?}: {doc}");
    doc
}

/// Runs SQL on the world's registry the way a program using SQL (or an imi from
/// before these rules) could: `pg` with triggers off, `sqlite` as given.
fn raw_sql(w: &World, pg: &[String], sqlite: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match &w.pg {
            Some(db) => {
                let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
                let mut tx = c.begin().await.unwrap();
                sqlx::query("SET LOCAL session_replication_role = replica")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                for s in pg {
                    sqlx::query(s).execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            None => {
                let file = w.path().join(".local/share/imi/registry.db");
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                        .await
                        .unwrap();
                for s in sqlite {
                    sqlx::query(s).execute(&mut c).await.unwrap();
                }
            }
        }
    });
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Finding: a remote ending in `/..` made a project named `..` whose clone landed
/// outside the root. Now a VALIDATION_ERROR before anything is cloned or registered.
fn init_refuses_a_remote_whose_name_is_dotdot(w: &World) {
    // a real repository that `<origin>/sub/..` reaches
    std::fs::create_dir_all(w.origin().join("sub")).unwrap();
    let before = registry(w);
    let before_home = entries(w.path());
    for url in [
        format!("file://{}/sub/..", w.origin().display()),
        format!("{}/sub/..", w.origin().display()),
        "https://user:token@example.invalid/owner/..".to_string(),
        "https://example.invalid/owner/.".to_string(),
    ] {
        let doc = refused(w, w.path(), &["init", &url], "VALIDATION_ERROR");
        assert!(!doc.to_string().contains("token"), "{doc}");
    }
    // nothing cloned beside the root (root/.. is HOME) or inside it, nothing registered
    assert_eq!(entries(w.path()), before_home);
    assert!(entries(&w.root()).is_empty(), "{:?}", entries(&w.root()));
    assert_eq!(registry(w), before);
}

fn outside_file(w: &World) -> std::path::PathBuf {
    // <root>/app/.iMi/worktrees/../../../../x.json is <home>/x.json
    let f = w.path().join("x.json");
    w.write(&f, "precious\n");
    f
}

/// Finding: an imported worktree named `../../../../x` made `imi prune` delete a file
/// outside the project. `db import` now refuses it (registry unchanged); and a row
/// like it written around every check still cannot make prune leave `.iMi/worktrees`.
fn dotdot_worktree_is_refused_by_db_import_and_prune_stays_inside(w: &World) {
    w.init_project();
    let outside = outside_file(w);
    let before = registry(w);

    let file = w.path().join("doc.json");
    w.imi(w.path(), &["db", "export", file.to_str().unwrap()])
        .ok();
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut row = doc["worktrees"][0].clone();
    row["id"] = json!(uuid::Uuid::new_v4());
    row["name"] = json!("../../../../x");
    row["path"] = json!(w.wt("gone").display().to_string());
    row["type_name"] = json!("feat");
    row["branch_name"] = json!("feat/x");
    doc["worktrees"].as_array_mut().unwrap().push(row);
    // and a project named `..`
    let mut p = doc["projects"][0].clone();
    p["id"] = json!(uuid::Uuid::new_v4());
    p["name"] = json!("..");
    p["origin_key"] = json!("example.invalid/other/repo");
    doc["projects"].as_array_mut().unwrap().push(p);
    std::fs::write(&file, doc.to_string()).unwrap();
    let err = refused(
        w,
        w.path(),
        &["db", "import", file.to_str().unwrap()],
        "VALIDATION_ERROR",
    );
    assert!(
        err["error"]["message"].as_str().unwrap().contains("name"),
        "{err}"
    );
    assert_eq!(registry(w), before);

    // a registry written before the rules: the row is there, its directory is gone
    let gone = w.wt("gone").display().to_string();
    let id = uuid::Uuid::new_v4();
    raw_sql(
        w,
        &[format!(
            "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host) \
             SELECT '{id}', project_id, (SELECT id FROM worktree_types WHERE name = 'feat'), \
             '../../../../x', 'feat/x', '{gone}', host FROM worktrees LIMIT 1"
        )],
        &[
            "DROP TRIGGER worktrees_name_rules_insert".to_string(),
            format!(
                "INSERT INTO worktrees (id, project_id, type_id, name, branch_name, path, host) \
                 SELECT '{id}', project_id, (SELECT id FROM worktree_types WHERE name = 'feat'), \
                 '../../../../x', 'feat/x', '{gone}', host FROM worktrees LIMIT 1"
            ),
        ],
    );
    let (code, doc) = w.imi_json(&w.trunk(), &["prune"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        doc["data"]["forgotten"][0]["name"], "../../../../x",
        "{doc}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    // the registry agrees with the disk: the row is forgotten, the trunk is intact
    let (_, listed) = w.imi_json(&w.trunk(), &["list"]);
    assert!(!listed.to_string().contains("../../../../x"), "{listed}");
    assert!(w.trunk().join("README.md").is_file());
}

/// The legacy door: a repository named `..` and a worktree named `../../../../x` are
/// skipped with their reasons; the registry gains neither; prune touches nothing outside.
fn legacy_import_skips_names_that_would_leave_their_directory(w: &World) {
    w.init_project();
    let outside = outside_file(w);
    let legacy = w.path().join("iMi.db");
    let home = w.path().display().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use imi_import::fixture::{self, Repo, Wt};
        let db = fixture::create(&legacy).await.unwrap();
        let ts = "2025-12-30T14:15:09+00:00";
        for (id, name, path, remote) in [
            (
                "0b5f3c4e-1111-4a5b-8c6d-000000000001",
                "..",
                format!("{home}/code/.."),
                "https://example.invalid/o/..",
            ),
            (
                "0b5f3c4e-1111-4a5b-8c6d-000000000002",
                "beta",
                format!("{home}/code/beta"),
                "https://example.invalid/o/beta",
            ),
        ] {
            fixture::repo(
                &db,
                &Repo {
                    id,
                    name,
                    path: &path,
                    remote_url: remote,
                    default_branch: "main",
                    created_at: ts,
                    active: true,
                },
            )
            .await
            .unwrap();
        }
        fixture::worktree(
            &db,
            &Wt {
                id: "1c5f3c4e-2222-4a5b-8c6d-000000000001",
                repo_name: "beta",
                worktree_name: "../../../../x",
                branch_name: "feat/x",
                worktree_type: "feat",
                path: &format!("{home}/code/beta/gone"),
                created_at: ts,
                active: true,
                agent_id: None,
            },
        )
        .await
        .unwrap();
        db.close().await;
    });
    let (code, doc) = w.imi_json(w.path(), &["import", "legacy", legacy.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc}");
    let skipped = doc["data"]["skipped"].to_string();
    assert!(
        skipped.contains("0b5f3c4e-1111-4a5b-8c6d-000000000001"),
        "{doc}"
    );
    assert!(
        skipped.contains("1c5f3c4e-2222-4a5b-8c6d-000000000001"),
        "{doc}"
    );
    let reg = registry(w);
    for p in reg["projects"].as_array().unwrap() {
        assert_ne!(p["name"], "..", "{reg}");
    }
    assert!(!reg["worktrees"].to_string().contains("../"), "{reg}");
    w.imi(&w.trunk(), &["prune"]).ok();
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
}

/// Finding: a 128-part dotted key was accepted and then every list / status / sync /
/// export / remove failed with INTERNAL_ERROR. Now it is refused; and a document too
/// deep to read that is already stored (SQL, an older imi) is shown as a marker,
/// refuses writes that would lose it, and `imi metadata unset` repairs it.
fn deep_metadata_is_refused_and_a_stored_one_is_readable_and_repairable(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "m"]).ok();
    let key = vec!["a"; 128].join(".");
    let before = registry(w);
    refused(
        w,
        &t,
        &["metadata", "set", "feat-m", &key, "v"],
        "VALIDATION_ERROR",
    );
    assert_eq!(registry(w), before);

    let deep = format!(
        "{{\"keep\": 1, \"a\": {}\"v\"{}}}",
        "{\"a\": ".repeat(200),
        "}".repeat(200)
    );
    let wt = w.wt("feat-m").display().to_string();
    raw_sql(
        w,
        &[format!(
            "UPDATE worktrees SET metadata = '{deep}'::jsonb WHERE path = '{wt}'"
        )],
        &[format!(
            "UPDATE worktrees SET metadata = '{deep}' WHERE path = '{wt}'"
        )],
    );
    for args in [
        vec!["list"],
        vec!["status"],
        vec!["sync"],
        vec!["inflight"],
        vec!["metadata", "get", "feat-m"],
    ] {
        let (code, doc) = w.imi_json(&t, &args);
        assert_eq!(code, 0, "{args:?}: {doc}");
    }
    let exported = registry(w);
    let row = exported["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "feat-m")
        .unwrap()
        .clone();
    assert_eq!(row["metadata"]["keep"], 1);
    assert!(row["metadata"]["a"]["imi_unreadable"].is_string(), "{row}");
    let err = refused(
        w,
        &t,
        &["metadata", "set", "feat-m", "other", "1"],
        "VALIDATION_ERROR",
    );
    assert!(
        err["error"]["hint"].as_str().unwrap().contains("unset"),
        "{err}"
    );
    w.imi(&t, &["metadata", "unset", "feat-m", "a"]).ok();
    let (_, got) = w.imi_json(&t, &["metadata", "get", "feat-m"]);
    assert_eq!(got["data"]["value"], json!({"keep": 1}), "{got}");
    w.imi(&t, &["metadata", "set", "feat-m", "other", "1"]).ok();
    w.imi(&t, &["remove", "feat-m"]).ok();
    assert!(!w.wt("feat-m").exists());
}

/// Minor item: a custom type whose prefix makes trunk-like directories rewrote the
/// trunk's `.iMi` file. `imi types add` refuses the prefix; `imi add` refuses a
/// trunk directory name even for a type stored around that check.
fn trunk_like_prefixes_and_directory_names_are_refused(w: &World) {
    w.init_project();
    let t = w.trunk();
    let before = registry(w);
    for prefix in ["trunk-", "Trunk-", "tr"] {
        refused(
            w,
            &t,
            &["types", "add", "evil", "--worktree-prefix", prefix],
            "VALIDATION_ERROR",
        );
    }
    assert_eq!(registry(w), before);
    let trunk_file = w.root().join("app/.iMi/worktrees/trunk-main.json");
    let trunk_json = std::fs::read(&trunk_file).unwrap();
    raw_sql(
        w,
        &["INSERT INTO worktree_types (name, branch_prefix, worktree_prefix) VALUES ('evil', 'evil/', 'trunk-')".to_string()],
        &[
            "DROP TRIGGER worktree_types_prefix_rules_insert".to_string(),
            "INSERT INTO worktree_types (name, branch_prefix, worktree_prefix) VALUES ('evil', 'evil/', 'trunk-')".to_string(),
        ],
    );
    let before = registry(w);
    let worktrees = w.git(&t, &["worktree", "list", "--porcelain"]);
    for name in ["main", "other"] {
        refused(w, &t, &["add", "evil", name], "VALIDATION_ERROR");
    }
    assert_eq!(std::fs::read(&trunk_file).unwrap(), trunk_json);
    assert_eq!(w.git(&t, &["worktree", "list", "--porcelain"]), worktrees);
    assert_eq!(registry(w), before);
}

/// Minor item: `db maintain` with huge day counts failed on PostgreSQL only. Both
/// backends now refuse counts over 100 years with VALIDATION_ERROR, and accept 36500.
fn maintain_refuses_day_counts_beyond_100_years(w: &World) {
    w.init_project();
    for flag in ["--retention-days", "--inactive-days"] {
        for days in ["100000000", "36501"] {
            let doc = refused(
                w,
                w.path(),
                &["db", "maintain", flag, days],
                "VALIDATION_ERROR",
            );
            assert!(
                doc["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("too large"),
                "{doc}"
            );
        }
    }
    w.imi(
        w.path(),
        &[
            "db",
            "maintain",
            "--retention-days",
            "36500",
            "--inactive-days",
            "36500",
        ],
    )
    .ok();
}

both_backends! {
    init_refuses_a_remote_whose_name_is_dotdot => init_refuses_a_remote_whose_name_is_dotdot;
    dotdot_worktree_is_refused_by_db_import_and_prune_stays_inside => dotdot_worktree_is_refused_by_db_import_and_prune_stays_inside;
    legacy_import_skips_names_that_would_leave_their_directory => legacy_import_skips_names_that_would_leave_their_directory;
    deep_metadata_is_refused_and_a_stored_one_is_readable_and_repairable => deep_metadata_is_refused_and_a_stored_one_is_readable_and_repairable;
    trunk_like_prefixes_and_directory_names_are_refused => trunk_like_prefixes_and_directory_names_are_refused;
    maintain_refuses_day_counts_beyond_100_years => maintain_refuses_day_counts_beyond_100_years;
}
