//! End-to-end tests of `imi import legacy`, `imi db export|import|copy` through the
//! real binary (temporary HOME, clean environment, --json).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::{Path, PathBuf};

use serde_json::Value;

struct Env {
    home: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn json(&self, args: &[&str]) -> (i32, Value) {
        let h = self.home.path();
        let out = imi_testkit::cli::command(env!("CARGO_BIN_EXE_imi"), h, h)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let doc: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout:?}"));
        (out.status.code().unwrap(), doc)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (code, doc) = self.json(args);
        assert_eq!(code, 0, "{args:?}: {doc}");
        doc["data"].clone()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }
}

fn sqlite_url(p: &Path) -> String {
    format!("sqlite://{}", p.display())
}

async fn legacy_file(path: &Path) {
    let db = imi_import::fixture::create(path).await.unwrap();
    let ts = "2025-12-30T14:15:09.470006187+00:00";
    imi_import::fixture::repo(
        &db,
        &imi_import::fixture::Repo {
            id: "0b5f3c4e-1111-4a5b-8c6d-000000000001",
            name: "alpha",
            path: "/home/me/code/alpha/",
            remote_url: "https://github.com/acme/alpha",
            default_branch: "main",
            created_at: ts,
            active: true,
        },
    )
    .await
    .unwrap();
    imi_import::fixture::worktree(
        &db,
        &imi_import::fixture::Wt {
            id: "1c5f3c4e-2222-4a5b-8c6d-000000000001",
            repo_name: "alpha",
            worktree_name: "pr-7",
            branch_name: "refs/heads/pr-review/7",
            worktree_type: "pr",
            path: "/home/me/code/alpha/pr-7",
            created_at: ts,
            active: true,
            agent_id: None,
        },
    )
    .await
    .unwrap();
    imi_import::fixture::activity(
        &db,
        &imi_import::fixture::Act {
            id: "2d5f3c4e-3333-4a5b-8c6d-000000000001",
            agent_id: "claude",
            worktree_id: "1c5f3c4e-2222-4a5b-8c6d-0000000000ff",
            activity_type: "created",
            file_path: None,
            description: "made it",
            created_at: ts,
        },
    )
    .await
    .unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_legacy_dry_run_then_twice() {
    let env = Env::new();
    let file = env.path("iMi.db");
    legacy_file(&file).await;
    let f = file.to_str().unwrap();

    let dry = env.ok(&["import", "legacy", f, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["repositories"]["imported"], 1);
    let status = env.ok(&["db", "status"]);
    assert_eq!(
        status["stats"]["total_projects"], 0,
        "dry run wrote nothing"
    );

    let r = env.ok(&["import", "legacy", f]);
    assert_eq!(r["repositories"]["read"], 1);
    assert_eq!(r["repositories"]["imported"], 1);
    assert_eq!(r["worktrees"]["imported"], 1);
    assert_eq!(r["activities"]["imported"], 1);
    assert_eq!(r["worktree_types"]["read"], 5);
    assert!(
        r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["table"] == "agent_activities"
                && n["reason"].as_str().unwrap().contains("no longer exists")),
        "{r}"
    );
    let exported = env.ok(&["db", "export"]);
    assert_eq!(exported["worktrees"][0]["type_name"], "review");
    assert_eq!(exported["worktrees"][0]["branch_name"], "pr-review/7");
    assert_eq!(
        exported["projects"][0]["trunk_path"],
        "/home/me/code/alpha/trunk-main"
    );

    let again = env.ok(&["import", "legacy", f]);
    for t in ["repositories", "worktree_types", "worktrees", "activities"] {
        assert_eq!(again[t]["imported"], 0, "{t}: {again}");
    }
    assert_eq!(env.ok(&["db", "export"]), exported);
}

#[test]
fn import_legacy_refuses_files_that_are_not_legacy() {
    let env = Env::new();
    let junk = env.path("junk.db");
    std::fs::write(&junk, "definitely not sqlite, definitely not").unwrap();
    let (code, doc) = env.json(&["import", "legacy", junk.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "VALIDATION_ERROR");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an SQLite database")
    );
    assert!(
        !env.path(".local/share/imi/registry.db").exists(),
        "registry untouched"
    );
    let (code, doc) = env.json(&["import", "legacy"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "NOT_FOUND");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains(".config/iMi/iMi.db")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_copy_round_trips_on_both_backends() {
    let env = Env::new();
    let file = env.path("iMi.db");
    legacy_file(&file).await;
    env.ok(&["import", "legacy", file.to_str().unwrap()]);
    let backup = env.path("backup.json");
    let b = backup.to_str().unwrap();
    let e = env.ok(&["db", "export", b]);
    assert_eq!(e["counts"]["projects"], 1);
    let original = env.ok(&["db", "export"]);

    // into an empty SQLite registry: identical export
    let other = sqlite_url(&env.path("other.db"));
    let r = env.ok(&["--database", &other, "db", "import", b]);
    assert_eq!(r["verified"], true);
    assert_eq!(r["activities"]["inserted"], 1);
    assert_eq!(env.ok(&["--database", &other, "db", "export"]), original);
    // twice: nothing added
    let r = env.ok(&["--database", &other, "db", "import", b]);
    assert_eq!(r["projects"]["inserted"], 0);
    assert_eq!(r["projects"]["identical"], 1);

    // SQLite -> PostgreSQL -> SQLite
    let Some(pg) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let r = env.ok(&["db", "copy", "--to", &pg.url]);
    assert_eq!(r["verified"], true);
    assert_eq!(r["projects"]["inserted"], 1);
    let r = env.ok(&["db", "copy", "--to", &pg.url]);
    assert_eq!(r["projects"]["inserted"], 0, "copying twice adds nothing");
    assert_eq!(env.ok(&["--database", &pg.url, "db", "export"]), original);
    let back = sqlite_url(&env.path("back.db"));
    env.ok(&["db", "copy", "--from", &pg.url, "--to", &back]);
    assert_eq!(env.ok(&["--database", &back, "db", "export"]), original);

    // export -> import into an empty PostgreSQL registry -> export: identical
    let Some(pg2) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let pg_doc = env.path("pg.json");
    env.ok(&[
        "--database",
        &pg.url,
        "db",
        "export",
        pg_doc.to_str().unwrap(),
    ]);
    env.ok(&[
        "--database",
        &pg2.url,
        "db",
        "import",
        pg_doc.to_str().unwrap(),
    ]);
    assert_eq!(
        env.ok(&["--database", &pg2.url, "db", "export"]),
        env.ok(&["--database", &pg.url, "db", "export"])
    );

    // a target holding other values for the same ids: refused, listed, then --overwrite
    let conn = sqlx::PgPool::connect(&pg.url).await.unwrap();
    sqlx::query("UPDATE projects SET description = 'changed by hand'")
        .execute(&conn)
        .await
        .unwrap();
    conn.close().await;
    let (code, doc) = env.json(&["db", "copy", "--to", &pg.url]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["error"]["code"], "CONFLICT");
    let msg = doc["error"]["message"].as_str().unwrap();
    let pid = original["projects"][0]["id"].as_str().unwrap();
    assert!(msg.contains(pid) && msg.contains("description"), "{msg}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--overwrite")
    );
    let r = env.ok(&["db", "copy", "--to", &pg.url, "--overwrite"]);
    assert_eq!(r["projects"]["overwritten"], 1);
    assert_eq!(env.ok(&["--database", &pg.url, "db", "export"]), original);
}

/// Issue 9, item 7: timestamps with microseconds (written with SQL on PostgreSQL)
/// survive `db copy` PostgreSQL → SQLite → a fresh PostgreSQL, and `db export` →
/// `db import` → `db export` on each backend: every export is the same bytes (so
/// also the same after `jq -S`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_and_round_trips_keep_microseconds_byte_for_byte() {
    let Some(pg) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let env = Env::new();
    let legacy = env.path("iMi.db");
    legacy_file(&legacy).await;
    env.ok(&[
        "--database",
        &pg.url,
        "import",
        "legacy",
        legacy.to_str().unwrap(),
    ]);
    let conn = sqlx::PgPool::connect(&pg.url).await.unwrap();
    for stmt in [
        "UPDATE projects SET created_at = '2026-01-02 03:04:05.123456+00', \
         updated_at = '2026-01-02 03:04:05.654321+00'",
        "UPDATE worktrees SET updated_at = '2026-01-02 03:04:06.000001+00', \
         last_sync_at = '2026-01-02 03:04:06.999999+00', uncommitted_files_count = 2",
        "UPDATE agent_activities SET created_at = '2026-01-02 03:04:07.100001+00'",
        // a second activity at the same instant: the tie is broken by id on both sides
        "INSERT INTO agent_activities (id, agent_id, activity_type, description, created_at) \
         VALUES ('ffffffff-3333-4a5b-8c6d-000000000002', 'claude', 'other', 'same instant', \
         '2026-01-02 03:04:07.100001+00')",
    ] {
        sqlx::query(stmt).execute(&conn).await.unwrap();
    }
    conn.close().await;
    let read = |name: &str| std::fs::read_to_string(env.path(name)).unwrap();
    let export = |db: &str, name: &str| {
        env.ok(&[
            "--database",
            db,
            "db",
            "export",
            env.path(name).to_str().unwrap(),
        ])
    };

    export(&pg.url, "pg.json");
    let original = read("pg.json");
    for t in [
        "2026-01-02T03:04:05.123456Z",
        "2026-01-02T03:04:05.654321Z",
        "2026-01-02T03:04:06.000001Z",
        "2026-01-02T03:04:06.999999Z",
        "2026-01-02T03:04:07.100001Z",
        // the legacy file's nanoseconds, kept to the microsecond
        "2025-12-30T14:15:09.470006Z",
    ] {
        assert!(original.contains(t), "{t} in {original}");
    }

    // PostgreSQL -> SQLite -> a fresh PostgreSQL
    let lite = sqlite_url(&env.path("copy.db"));
    let r = env.ok(&["db", "copy", "--from", &pg.url, "--to", &lite]);
    assert_eq!(r["verified"], true);
    assert_eq!(r["timestamps_truncated"], false, "{r}");
    assert_eq!(r["activities"]["inserted"], 2);
    export(&lite, "sqlite.json");
    assert_eq!(read("sqlite.json"), original);
    let Some(pg2) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let r = env.ok(&["db", "copy", "--from", &lite, "--to", &pg2.url]);
    assert_eq!(r["timestamps_truncated"], false, "{r}");
    export(&pg2.url, "pg2.json");
    assert_eq!(read("pg2.json"), original);
    // copying again finds every row identical (compared to the microsecond)
    let r = env.ok(&["db", "copy", "--from", &pg.url, "--to", &lite]);
    assert_eq!(r["projects"]["identical"], 1, "{r}");
    assert_eq!(r["activities"]["identical"], 2, "{r}");

    // export -> import -> export, on SQLite and on PostgreSQL
    let lite2 = sqlite_url(&env.path("imported.db"));
    let doc = env.path("sqlite.json");
    let r = env.ok(&["--database", &lite2, "db", "import", doc.to_str().unwrap()]);
    assert_eq!(r["timestamps_truncated"], false, "{r}");
    export(&lite2, "sqlite2.json");
    assert_eq!(read("sqlite2.json"), original);
    let Some(pg3) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let doc = env.path("pg.json");
    env.ok(&[
        "--database",
        &pg3.url,
        "db",
        "import",
        doc.to_str().unwrap(),
    ]);
    export(&pg3.url, "pg3.json");
    assert_eq!(read("pg3.json"), original);

    // `imi log` orders the tie the same way on both backends: the greater id first
    let log = |db: &str| env.ok(&["--database", db, "log"])["activities"].clone();
    let on_pg = log(&pg.url);
    assert_eq!(
        on_pg[0]["id"], "ffffffff-3333-4a5b-8c6d-000000000002",
        "{on_pg}"
    );
    assert_eq!(
        on_pg[1]["id"], "2d5f3c4e-3333-4a5b-8c6d-000000000001",
        "{on_pg}"
    );
    assert_eq!(log(&lite), on_pg);
}
