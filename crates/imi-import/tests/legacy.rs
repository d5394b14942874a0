//! The legacy importer on both backends, against legacy files built with the exact
//! legacy schema (`imi_import::fixture`). Every case of the issue has an assertion.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::Path;

use imi_core::{ErrorKind, NewProject, Store, WorktreeFilter};
use imi_import::fixture::{self, Act, Repo, Wt};
use imi_import::legacy::{self, LegacyReport};
use imi_store_postgres::PgStore;
use imi_store_sqlite::SqliteStore;

const A: &str = "0b5f3c4e-1111-4a5b-8c6d-000000000001";
const B: &str = "0b5f3c4e-1111-4a5b-8c6d-000000000002";
const C: &str = "0b5f3c4e-1111-4a5b-8c6d-000000000003";
const D: &str = "0b5f3c4e-1111-4a5b-8c6d-000000000004";
const W_LOGIN: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000001";
const W_PR: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000002";
const W_UNKNOWN: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000003";
const W_CUSTOM: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000004";
const W_TRUNK: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000005";
const W_GHOST: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000006";
const W_DELTA: &str = "1c5f3c4e-2222-4a5b-8c6d-000000000007";
const W_GONE: &str = "1c5f3c4e-2222-4a5b-8c6d-0000000000ff";
const ACT_OK: &str = "2d5f3c4e-3333-4a5b-8c6d-000000000001";
const ACT_EDIT: &str = "2d5f3c4e-3333-4a5b-8c6d-000000000002";
const ACT_ORPHAN: &str = "2d5f3c4e-3333-4a5b-8c6d-000000000003";
const ACT_GHOST: &str = "2d5f3c4e-3333-4a5b-8c6d-000000000004";
const TS: &str = "2025-12-30T14:15:09.470006187+00:00";

async fn build_fixture(path: &Path) {
    let db = fixture::create(path).await.unwrap();
    let repo = |id, name, path, remote_url, default_branch| Repo {
        id,
        name,
        path,
        remote_url,
        default_branch,
        created_at: TS,
        active: true,
    };
    // the container as path, https remote, non-main default branch
    fixture::repo(
        &db,
        &repo(
            A,
            "alpha",
            "/home/me/code/alpha",
            "https://github.com/acme/alpha",
            "develop",
        ),
    )
    .await
    .unwrap();
    // trailing slash, ssh remote
    fixture::repo(
        &db,
        &repo(
            B,
            "beta",
            "/home/me/code/beta/trunk-main/",
            "git@github.com:acme/beta.git",
            "main",
        ),
    )
    .await
    .unwrap();
    // no remote
    fixture::repo(
        &db,
        &repo(C, "gamma", "/home/me/code/gamma/trunk-main", "", "main"),
    )
    .await
    .unwrap();
    // already registered under another form of its remote
    fixture::repo(
        &db,
        &repo(
            D,
            "delta",
            "/home/me/code/delta/trunk-main",
            "https://user:tok@github.com/Acme/Delta.git",
            "main",
        ),
    )
    .await
    .unwrap();
    sqlx::query("INSERT INTO worktree_types (name, branch_prefix, worktree_prefix, description, is_builtin, created_at) VALUES ('hotfix', 'hotfix/', 'hotfix-', 'Urgent fixes', 0, ?1)")
        .bind(TS).execute(&db).await.unwrap();
    let wt = |id, repo_name, worktree_name, branch_name, worktree_type, path| Wt {
        id,
        repo_name,
        worktree_name,
        branch_name,
        worktree_type,
        path,
        created_at: TS,
        active: true,
        agent_id: Some("claude"),
    };
    for w in [
        wt(
            W_LOGIN,
            "alpha",
            "feat-login",
            "refs/heads/feat/login",
            "feat",
            "/home/me/code/alpha/feat-login",
        ),
        wt(
            W_PR,
            "alpha",
            "pr-42",
            "refs/heads/pr-review/42",
            "pr",
            "/home/me/code/alpha/pr-42/",
        ),
        wt(
            W_UNKNOWN,
            "beta",
            "misc-thing",
            "misc/thing",
            "unknown",
            "/home/me/code/beta/misc-thing",
        ),
        wt(
            W_CUSTOM,
            "beta",
            "exp-idea",
            "exp/idea",
            "Experiment",
            "/home/me/code/beta/exp-idea",
        ),
        wt(
            W_TRUNK,
            "gamma",
            "trunk-main",
            "main",
            "trunk",
            "/home/me/code/gamma/trunk-main",
        ),
        wt(
            W_GHOST,
            "ghost",
            "feat-boo",
            "feat/boo",
            "feat",
            "/home/me/code/ghost/feat-boo",
        ),
        wt(
            W_DELTA,
            "delta",
            "fix-bug",
            "fix/bug",
            "fix",
            "/home/me/code/delta/fix-bug",
        ),
    ] {
        fixture::worktree(&db, &w).await.unwrap();
    }
    let act = |id, worktree_id, activity_type| Act {
        id,
        agent_id: "claude",
        worktree_id,
        activity_type,
        file_path: Some("src/lib.rs"),
        description: "did it",
        created_at: TS,
    };
    for a in [
        act(ACT_OK, W_LOGIN, "created"),
        act(ACT_EDIT, W_PR, "file_edit"),
        act(ACT_ORPHAN, W_GONE, "modified"),
        act(ACT_GHOST, W_GHOST, "committed"),
    ] {
        fixture::activity(&db, &a).await.unwrap();
    }
    db.close().await;
}

fn uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap()
}

fn has(list: &[legacy::RowNote], table: &str, id: &str, words: &[&str]) -> bool {
    list.iter()
        .any(|n| n.table == table && n.id == id && words.iter().all(|w| n.reason.contains(w)))
}

async fn import_scenario<S: Store>(s: &S) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iMi.db");
    build_fixture(&file).await;
    // delta is already registered (ssh form, other UUID)
    let delta = s
        .register_project(&NewProject {
            name: "delta".into(),
            remote_origin: Some("git@github.com:acme/delta.git".into()),
            trunk_path: "/home/me/code/delta/trunk-main".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let before = s.export_snapshot().await.unwrap();

    // a dry run reports what a real run does and writes nothing
    let dry = legacy::import(s, &file, true, &|_| {}).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(s.export_snapshot().await.unwrap(), before);

    let r: LegacyReport = legacy::import(s, &file, false, &|_| {}).await.unwrap();
    assert!(!r.dry_run);
    assert_eq!(
        (r.repositories, r.worktrees, r.activities),
        (dry.repositories, dry.worktrees, dry.activities)
    );

    // repositories: 4 read, 3 imported, delta matched
    assert_eq!(r.repositories.read, 4);
    assert_eq!(r.repositories.imported, 3);
    assert_eq!(r.repositories.already_present, 1);
    assert_eq!(r.repositories.skipped, 0);
    assert!(has(
        &r.notes,
        "repositories",
        D,
        &["github.com/acme/delta", "matched"]
    ));
    let projects = s.list_projects(true).await.unwrap();
    assert_eq!(projects.len(), 4, "delta not duplicated: {projects:?}");
    let ts = chrono::DateTime::parse_from_rfc3339(TS)
        .unwrap()
        .with_timezone(&chrono::Utc);

    let a = s.get_project(uuid(A)).await.unwrap();
    assert_eq!(
        a.trunk_path, "/home/me/code/alpha/trunk-develop",
        "container path"
    );
    assert_eq!(a.default_branch, "develop");
    assert_eq!(a.origin_key, "github.com/acme/alpha");
    assert_eq!(
        a.remote_origin.as_deref(),
        Some("https://github.com/acme/alpha")
    );
    assert_eq!(
        a.created_at.timestamp_millis(),
        ts.timestamp_millis(),
        "original timestamp"
    );
    assert!(has(&r.notes, "repositories", A, &["container"]));
    let b = s.get_project(uuid(B)).await.unwrap();
    assert_eq!(
        b.trunk_path, "/home/me/code/beta/trunk-main",
        "trailing slash dropped"
    );
    assert_eq!(b.origin_key, "github.com/acme/beta");
    let c = s.get_project(uuid(C)).await.unwrap();
    assert_eq!(c.remote_origin, None);
    assert_eq!(c.origin_key, "/home/me/code/gamma/trunk-main");
    assert_eq!(
        s.get_project_by_origin("/home/me/code/gamma/trunk-main")
            .await
            .unwrap()
            .id,
        c.id
    );
    assert_eq!(
        s.get_project(uuid(D)).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // worktrees: 7 read, ghost skipped (repository row missing)
    assert_eq!(r.worktrees.read, 7);
    assert_eq!(r.worktrees.imported, 6);
    assert_eq!(r.worktrees.skipped, 1);
    assert!(has(&r.skipped, "worktrees", W_GHOST, &["ghost", "missing"]));
    let login = s.get_worktree(uuid(W_LOGIN)).await.unwrap();
    assert_eq!(login.project_id, a.id);
    assert_eq!(login.branch_name, "feat/login", "refs/heads/ stripped");
    assert_eq!(login.type_name, "feat");
    assert_eq!(login.agent_id.as_deref(), Some("claude"));
    assert_eq!(login.host, s.host());
    let pr = s.get_worktree(uuid(W_PR)).await.unwrap();
    assert_eq!(pr.type_name, "review", "pr becomes review");
    assert_eq!(pr.branch_name, "pr-review/42");
    assert_eq!(pr.path, "/home/me/code/alpha/pr-42");
    let unknown = s.get_worktree(uuid(W_UNKNOWN)).await.unwrap();
    assert_eq!(unknown.type_name, "unknown");
    let custom = s.get_worktree(uuid(W_CUSTOM)).await.unwrap();
    assert_eq!(custom.type_name, "experiment");
    assert_eq!(
        s.get_worktree(uuid(W_TRUNK)).await.unwrap().type_name,
        "trunk"
    );
    let dw = s.get_worktree(uuid(W_DELTA)).await.unwrap();
    assert_eq!(dw.project_id, delta.id, "worktree of the matched project");
    assert_eq!(
        s.get_worktree(uuid(W_GHOST)).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // types: legacy hotfix imported; unknown free text became custom types
    let types = s.list_types().await.unwrap();
    for name in ["hotfix", "unknown", "experiment"] {
        let t = types
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}: {types:?}"));
        assert!(!t.is_builtin);
    }
    let hotfix = types.iter().find(|t| t.name == "hotfix").unwrap();
    assert_eq!(
        (
            hotfix.branch_prefix.as_str(),
            hotfix.worktree_prefix.as_str()
        ),
        ("hotfix/", "hotfix-")
    );
    assert_eq!(r.worktree_types.read, 6);
    assert_eq!(r.worktree_types.already_present, 5);
    assert_eq!(r.worktree_types.imported, 1);
    let mut created = r.custom_types_created.clone();
    created.sort();
    assert_eq!(created, ["experiment", "hotfix", "unknown"]);

    // activities: all 4 kept with their timestamps; the orphans are listed
    assert_eq!(r.activities.read, 4);
    assert_eq!(r.activities.imported, 4);
    let acts = s.recent_activities(100).await.unwrap();
    assert_eq!(acts.len(), 4);
    assert!(
        acts.iter()
            .all(|x| x.created_at.timestamp_millis() == ts.timestamp_millis())
    );
    let ok = acts.iter().find(|x| x.id == uuid(ACT_OK)).unwrap();
    assert_eq!(ok.worktree_id, Some(login.id));
    assert_eq!(ok.project_name.as_deref(), Some("alpha"));
    let edit = acts.iter().find(|x| x.id == uuid(ACT_EDIT)).unwrap();
    assert_eq!(edit.activity_type, "other");
    assert_eq!(edit.metadata["legacy_activity_type"], "file_edit");
    let orphan = acts.iter().find(|x| x.id == uuid(ACT_ORPHAN)).unwrap();
    assert_eq!(orphan.worktree_id, None);
    assert_eq!(orphan.metadata["legacy_worktree_id"], W_GONE);
    assert!(has(
        &r.notes,
        "agent_activities",
        ACT_ORPHAN,
        &["no longer exists"]
    ));
    let ghost = acts.iter().find(|x| x.id == uuid(ACT_GHOST)).unwrap();
    assert_eq!(ghost.worktree_id, None);
    assert_eq!(ghost.worktree_name.as_deref(), Some("feat-boo"));
    assert!(has(&r.notes, "agent_activities", ACT_GHOST, &["skipped"]));

    // importing the same file again changes nothing
    let after_first = s.export_snapshot().await.unwrap();
    let again = legacy::import(s, &file, false, &|_| {}).await.unwrap();
    assert_eq!(s.export_snapshot().await.unwrap(), after_first);
    for t in [
        again.repositories,
        again.worktree_types,
        again.worktrees,
        again.activities,
    ] {
        assert_eq!(t.imported, 0, "{again:?}");
    }
    assert_eq!(again.repositories.already_present, 4);
    assert_eq!(again.worktrees.already_present, 6);
    assert_eq!(again.activities.already_present, 4);
    assert_eq!(
        s.list_worktrees(&WorktreeFilter {
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        6
    );
}

/// Not SQLite, or SQLite without the legacy tables: a clear VALIDATION_ERROR and
/// nothing written.
async fn bad_files_scenario<S: Store>(s: &S) {
    let dir = tempfile::tempdir().unwrap();
    s.register_project(&NewProject {
        name: "keep".into(),
        remote_origin: Some("https://github.com/acme/keep".into()),
        trunk_path: "/code/keep/trunk-main".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let before = s.export_snapshot().await.unwrap();

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "this is not a database, just some text of some length",
    )
    .unwrap();
    let e = legacy::import(s, &text, false, &|_| {}).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert!(
        e.message.contains("not an SQLite database"),
        "{}",
        e.message
    );
    assert!(e.message.contains("notes.txt"));
    assert!(e.hint.is_some());

    let other = dir.path().join("other.db");
    let db = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&other)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE repositories (id TEXT)")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let e = legacy::import(s, &other, false, &|_| {}).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert!(e.message.contains("worktrees"), "{}", e.message);
    assert!(e.message.contains("agent_activities"), "{}", e.message);

    let e = legacy::import(s, &dir.path().join("missing.db"), false, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(s.export_snapshot().await.unwrap(), before);
}

async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("r.db"), "test-host")
        .await
        .unwrap();
    imi_core::store::ensure_schema(&s).await.unwrap();
    (s, dir)
}

async fn postgres() -> Option<(PgStore, imi_testkit::PgTestDb)> {
    let db = imi_testkit::PgTestDb::create().await?;
    let s = PgStore::connect(&db.url, "test-host").await.unwrap();
    imi_core::store::ensure_schema(&s).await.unwrap();
    Some((s, db))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_import() {
    let (s, _d) = sqlite().await;
    import_scenario(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_import() {
    let Some((s, _d)) = postgres().await else {
        return;
    };
    import_scenario(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_bad_files() {
    let (s, _d) = sqlite().await;
    bad_files_scenario(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bad_files() {
    let Some((s, _d)) = postgres().await else {
        return;
    };
    bad_files_scenario(&s).await;
}

#[test]
fn normalisation_rules() {
    assert_eq!(legacy::trunk_of("/c/app/", "main"), "/c/app/trunk-main");
    assert_eq!(
        legacy::trunk_of("/c/app/trunk-dev//", "main"),
        "/c/app/trunk-dev"
    );
    assert_eq!(legacy::type_name_for("My Type!"), "my-type");
    assert_eq!(legacy::type_name_for("42x"), "t-42x");
    assert_eq!(legacy::type_name_for("???"), "legacy");
}
