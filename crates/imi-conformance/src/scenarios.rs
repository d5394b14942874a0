//! The scenarios. Each is one user-visible promise of docs/store-semantics.md.

use futures::future::join_all;
use imi_core::{
    Error, ErrorKind, GitState, MetadataTarget, NewActivity, NewProject, NewWorktree,
    NewWorktreeType, Project, ProjectMatch, Store, WorkStatus, Worktree, WorktreeFilter,
};
use serde_json::json;
use uuid::Uuid;

use crate::{Harness, TEST_HOST};

pub use crate::claims::{
    claims_acquire_renew_release, claims_cover_the_name_on_every_host,
    claims_expire_and_are_taken_over, claims_release_by_non_holder_needs_force,
    claims_stale_epoch_is_refused,
};
pub use crate::events::{
    events_are_kept_as_long_as_activities, events_are_read_by_id_type_and_project,
    events_of_a_rolled_back_change_do_not_exist, events_of_an_import_are_one,
    events_record_every_change_in_commit_order, hook_approvals_are_keyed_by_identity_and_command,
};
pub use crate::failing::{failing_calls_are_worded_once, odd_trunk_paths_give_one_worktree_path};
pub use crate::methods::{
    concurrent_registration_of_four_forms_yields_one_project,
    every_activity_and_retention_method_works, every_metadata_method_works,
    every_project_method_works, every_type_method_works, every_worktree_method_works,
};
pub use crate::tokens::{
    api_token_names_are_unique_under_concurrency, api_tokens_are_hashed_named_and_revocable,
    api_tokens_expire,
};

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(r: Result<T, Error>, kind: ErrorKind) -> Error {
    match r {
        Ok(v) => panic!("expected {kind:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind, kind, "wrong kind for error: {e:?}");
            assert!(!e.message.is_empty());
            e
        }
    }
}

pub fn project(name: &str, remote: Option<&str>) -> NewProject {
    NewProject {
        name: name.into(),
        remote_origin: remote.map(Into::into),
        default_branch: None,
        trunk_path: format!("/code/{name}/trunk-main"),
        ..Default::default()
    }
}

pub fn worktree(p: &Project, type_name: &str, name: &str) -> NewWorktree {
    let prefix = match type_name {
        "review" => "pr-review/".to_string(),
        "trunk" => String::new(),
        t => format!("{t}/"),
    };
    let dir = match type_name {
        "review" => format!("pr-{name}"),
        t => format!("{t}-{name}"),
    };
    NewWorktree {
        project_id: p.id,
        type_name: type_name.into(),
        name: dir.clone(),
        branch_name: format!("{prefix}{name}"),
        path: format!("/code/{}/{dir}", p.name),
        ..Default::default()
    }
}

async fn setup<S: Store>(s: &S) -> (Project, Worktree) {
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    let w = s
        .register_worktree(&worktree(&p, "feat", "login"))
        .await
        .unwrap();
    (p, w)
}

fn state(u: i32, a: i32, b: i32) -> GitState {
    GitState {
        uncommitted_count: Some(u),
        ahead: Some(a),
        behind: Some(b),
        ..Default::default()
    }
}

/// Prefixes are bounded in characters (64), as the REST API's document says: 64
/// two-byte letters (128 bytes) are a valid prefix, 65 are not, on every door.
pub async fn prefixes_are_bounded_in_characters<S: Store>(s: &S) {
    let wide = "é".repeat(64);
    let t = s
        .add_type(&NewWorktreeType {
            name: "wide".into(),
            branch_prefix: Some(format!("{}/", "é".repeat(63))),
            worktree_prefix: Some(wide.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(t.worktree_prefix, wide);
    for (branch, dir) in [
        (Some("é".repeat(65)), None),
        (None, Some("é".repeat(65))),
        (None, Some("a".repeat(65))),
    ] {
        let e = s
            .add_type(&NewWorktreeType {
                name: "wider".into(),
                branch_prefix: branch,
                worktree_prefix: dir,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{e:?}");
    }
    assert!(
        s.list_types()
            .await
            .unwrap()
            .iter()
            .all(|t| t.name != "wider")
    );
}

/// A registration that creates a project gives it the id asked for (what `imi init`
/// passes from `.iMi/project.json`, so a second registry keeps the UUID); an identity
/// already registered keeps its own id, and an id another project has is not taken.
pub async fn registration_keeps_a_given_id<S: Store>(s: &S) {
    let wanted = Uuid::new_v4();
    let given = |name: &str, remote: Option<&str>, id: Uuid| NewProject {
        id: Some(id),
        ..project(name, remote)
    };
    let p = s
        .register_project(&given("app", Some("https://github.com/acme/app"), wanted))
        .await
        .unwrap();
    assert_eq!(p.id, wanted);
    assert_eq!(s.get_project(wanted).await.unwrap().name, "app");
    // the same identity again, with another id: the registry's id stands
    let again = s
        .register_project(&given(
            "app",
            Some("git@github.com:acme/app.git"),
            Uuid::new_v4(),
        ))
        .await
        .unwrap();
    assert_eq!(again.id, wanted);
    // a deactivated project comes back under its own id too
    s.deactivate_project(wanted).await.unwrap();
    let back = s
        .register_project(&given(
            "app",
            Some("https://github.com/acme/app"),
            Uuid::new_v4(),
        ))
        .await
        .unwrap();
    assert_eq!((back.id, back.active), (wanted, true));
    // another identity asking for a taken id gets a new one; the owner is untouched
    let other = s
        .register_project(&given("api", Some("https://github.com/acme/api"), wanted))
        .await
        .unwrap();
    assert_ne!(other.id, wanted);
    assert_eq!(s.get_project(wanted).await.unwrap().name, "app");
    // without a remote (keyed by the trunk path) the id is kept as well
    let local_id = Uuid::new_v4();
    let local = s
        .register_project(&given("notes", None, local_id))
        .await
        .unwrap();
    assert_eq!(local.id, local_id);
    assert_eq!(s.list_projects(false).await.unwrap().len(), 3);
}

/// 16 concurrent registrations of the https and ssh forms of one remote: one row,
/// one UUID.
pub async fn registration_is_idempotent_under_concurrency<S: Store>(s: &S) {
    let forms = [
        "https://github.com/Acme/Widget",
        "git@github.com:acme/widget.git",
        "ssh://git@github.com:22/Acme/Widget.git",
        "https://user:token@github.com/acme/widget.git/",
    ];
    let calls = (0..16).map(|i| {
        let p = project("widget", Some(forms[i % forms.len()]));
        async move { s.register_project(&p).await }
    });
    let results = join_all(calls).await;
    let ids: Vec<Uuid> = results.into_iter().map(|r| r.unwrap().id).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "ids differ: {ids:?}");
    let all = s.list_projects(true).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].origin_key, "github.com/acme/widget");
    for p in &all {
        let remote = p.remote_origin.as_deref().unwrap();
        assert!(!remote.contains("token"), "credential stored: {remote}");
    }
    // any form finds it
    for f in forms {
        assert_eq!(s.get_project_by_origin(f).await.unwrap().id, ids[0]);
    }
    // and once more, sequentially
    let again = s
        .register_project(&project("widget", Some("https://github.com/acme/widget")))
        .await
        .unwrap();
    assert_eq!(again.id, ids[0]);
}

/// A project without a remote is identified by its trunk path.
pub async fn project_without_remote_is_keyed_by_trunk_path<S: Store>(s: &S) {
    let a = s.register_project(&project("local", None)).await.unwrap();
    assert_eq!(a.remote_origin, None);
    assert_eq!(a.origin_key, "/code/local/trunk-main");
    let mut again = project("local", None);
    again.trunk_path = "/code/local/trunk-main/".into();
    assert_eq!(s.register_project(&again).await.unwrap().id, a.id);
    assert_eq!(
        s.get_project_by_origin("/code/local/trunk-main")
            .await
            .unwrap()
            .id,
        a.id
    );
    let other = s.register_project(&project("other", None)).await.unwrap();
    assert_ne!(other.id, a.id);
}

/// Deactivated projects come back with the same UUID and the newly given values;
/// removed worktrees come back with their merge record, owner and state cleared.
pub async fn reactivation<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    s.update_git_state(w.id, &state(3, 2, 1)).await.unwrap();
    s.deactivate_project(p.id).await.unwrap();
    assert!(!s.get_project(p.id).await.unwrap().active);
    assert!(
        !s.get_worktree(w.id).await.unwrap().active,
        "worktrees deactivate with the project"
    );
    s.deactivate_project(p.id).await.unwrap(); // idempotent

    let mut again = project("app", Some("git@github.com:acme/app.git"));
    again.trunk_path = "/elsewhere/app/trunk-develop".into();
    again.default_branch = Some("develop".into());
    let p2 = s.register_project(&again).await.unwrap();
    assert_eq!(p2.id, p.id);
    assert!(p2.active);
    assert_eq!(p2.trunk_path, "/elsewhere/app/trunk-develop");
    assert_eq!(p2.default_branch, "develop");
    // None keeps the branch
    let p3 = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    assert_eq!(p3.default_branch, "develop");

    // worktree: merged, then registered again
    let mut nw = worktree(&p2, "feat", "login");
    nw.agent_id = Some("agent-a".into());
    let w2 = s.register_worktree(&nw).await.unwrap();
    assert_eq!(w2.id, w.id);
    assert!(w2.active);
    s.update_git_state(w.id, &state(1, 4, 0)).await.unwrap();
    let merged = s
        .mark_merged(w.id, "agent-a", Some("abc123"))
        .await
        .unwrap();
    assert!(!merged.active);
    assert_eq!(merged.merged_by.as_deref(), Some("agent-a"));
    assert_eq!(merged.merge_commit_hash.as_deref(), Some("abc123"));
    assert!(merged.merged_at.is_some());

    let w3 = s
        .register_worktree(&worktree(&p2, "feat", "login"))
        .await
        .unwrap();
    assert_eq!(w3.id, w.id);
    assert!(w3.active);
    assert_eq!(w3.merged_at, None);
    assert_eq!(w3.merged_by, None);
    assert_eq!(w3.merge_commit_hash, None);
    assert_eq!(w3.agent_id, None, "owner cleared");
    assert_eq!(
        (
            w3.uncommitted_files_count,
            w3.ahead_of_trunk,
            w3.behind_trunk
        ),
        (0, 0, 0)
    );
    assert!(!w3.has_uncommitted_changes);
    assert_eq!(w3.last_sync_at, None);
}

pub async fn worktree_registration_is_idempotent_and_conflicts_are_named<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    let again = s
        .register_worktree(&worktree(&p, "feat", "login"))
        .await
        .unwrap();
    assert_eq!(again.id, w.id);
    assert_eq!(again.host, TEST_HOST);
    assert_eq!(again.type_name, "feat");
    assert_eq!(again.branch_name, "feat/login");

    let mut moved = worktree(&p, "feat", "login");
    moved.path = "/somewhere/else".into();
    let e = assert_kind(s.register_worktree(&moved).await, ErrorKind::Conflict);
    assert!(e.message.contains("feat-login"), "{}", e.message);

    let mut same_path = worktree(&p, "fix", "other");
    same_path.path = w.path.clone();
    assert_kind(s.register_worktree(&same_path).await, ErrorKind::Conflict);

    // the same path on another host is another worktree
    let mut elsewhere = worktree(&p, "fix", "other");
    elsewhere.path = w.path.clone();
    elsewhere.host = Some("other-host".into());
    let o = s.register_worktree(&elsewhere).await.unwrap();
    assert_eq!(o.host, "other-host");

    // the same name on another host is another checkout (SPEC §3.1): its own row,
    // idempotent there too, invisible to this host's lookups by name
    let mut twin = worktree(&p, "feat", "login");
    twin.host = Some("other-host".into());
    twin.path = "/other/app/feat-login".into();
    let t = s.register_worktree(&twin).await.unwrap();
    assert_ne!(t.id, w.id);
    assert_eq!(t.host, "other-host");
    assert_eq!(s.register_worktree(&twin).await.unwrap().id, t.id);
    let listed: Vec<(String, String)> = s
        .list_worktrees(&WorktreeFilter {
            project_id: Some(p.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.name == "feat-login")
        .map(|x| (x.host, x.path))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    // removing this host's checkout leaves the other host's row active; registering
    // again on this host reactivates this host's row
    s.deactivate_worktree(w.id).await.unwrap();
    assert!(s.get_worktree(t.id).await.unwrap().active);
    let back = s
        .register_worktree(&worktree(&p, "feat", "login"))
        .await
        .unwrap();
    assert_eq!(back.id, w.id);
    assert!(back.active);

    assert_eq!(s.get_worktree_by_path(&w.path).await.unwrap().id, w.id);
    assert_eq!(
        s.get_worktree_by_path(&format!("{}/", w.path))
            .await
            .unwrap()
            .id,
        w.id
    );
    assert_eq!(
        s.get_worktree_by_name(p.id, "feat-login").await.unwrap().id,
        w.id
    );
    assert_kind(s.get_worktree_by_path("/nope").await, ErrorKind::NotFound);
    assert_kind(s.get_worktree(Uuid::new_v4()).await, ErrorKind::NotFound);
    assert_kind(
        s.get_worktree_by_name(p.id, "feat-nope").await,
        ErrorKind::NotFound,
    );

    // unknown or inactive project
    let mut orphan = worktree(&p, "feat", "x");
    orphan.project_id = Uuid::new_v4();
    assert_kind(s.register_worktree(&orphan).await, ErrorKind::NotFound);
}

pub async fn unknown_worktree_type_is_rejected_by_name<S: Store>(s: &S) {
    let (p, _) = setup(s).await;
    let before = s.stats().await.unwrap();
    let e = assert_kind(
        s.register_worktree(&worktree(&p, "bogus-type", "x")).await,
        ErrorKind::Validation,
    );
    assert!(e.message.contains("bogus-type"), "{}", e.message);
    assert_eq!(s.stats().await.unwrap(), before, "nothing written");
}

pub async fn custom_types_work_like_builtins<S: Store>(s: &S) {
    let types = s.list_types().await.unwrap();
    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["feat", "fix", "aiops", "devops", "review", "trunk"]);
    assert!(types.iter().all(|t| t.is_builtin));
    let review = &types[4];
    assert_eq!(
        (
            review.branch_prefix.as_str(),
            review.worktree_prefix.as_str()
        ),
        ("pr-review/", "pr-")
    );
    assert_eq!(types[5].branch_prefix, "");

    let spike = s
        .add_type(&NewWorktreeType {
            name: "spike".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (spike.branch_prefix.as_str(), spike.worktree_prefix.as_str()),
        ("spike/", "spike-")
    );
    assert!(!spike.is_builtin);
    assert_kind(
        s.add_type(&NewWorktreeType {
            name: "spike".into(),
            ..Default::default()
        })
        .await,
        ErrorKind::Conflict,
    );
    assert_kind(
        s.add_type(&NewWorktreeType {
            name: "Bad Name".into(),
            ..Default::default()
        })
        .await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.add_type(&NewWorktreeType {
            name: "odd".into(),
            worktree_prefix: Some("a/b-".into()),
            ..Default::default()
        })
        .await,
        ErrorKind::Validation,
    );

    let (p, _) = setup(s).await;
    let w = s
        .register_worktree(&worktree(&p, "spike", "idea"))
        .await
        .unwrap();
    assert_eq!(w.type_name, "spike");
    assert_kind(s.remove_type("spike").await, ErrorKind::Conflict);
    assert_kind(s.remove_type("feat").await, ErrorKind::Conflict);
    assert_kind(s.remove_type("nope").await, ErrorKind::NotFound);
    s.add_type(&NewWorktreeType {
        name: "unused".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    s.remove_type("unused").await.unwrap();
    assert!(
        !s.list_types()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "unused")
    );
}

/// All five statuses, and in-flight = not clean, active, unmerged; newest first.
pub async fn inflight_statuses<S: Store>(s: &S) {
    let (p, _) = setup(s).await;
    let cases = [
        ("u", state(2, 1, 1), WorkStatus::Uncommitted),
        ("d", state(0, 2, 3), WorkStatus::Diverged),
        ("a", state(0, 1, 0), WorkStatus::Ahead),
        ("b", state(0, 0, 4), WorkStatus::Behind),
        ("c", state(0, 0, 0), WorkStatus::Clean),
    ];
    let mut ids = vec![];
    for (name, st, expect) in &cases {
        let w = s
            .register_worktree(&worktree(&p, "fix", name))
            .await
            .unwrap();
        let w = s.update_git_state(w.id, st).await.unwrap();
        assert_eq!(w.status(), *expect, "{name}");
        ids.push(w.id);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let merged = s
        .register_worktree(&worktree(&p, "fix", "merged"))
        .await
        .unwrap();
    s.update_git_state(merged.id, &state(0, 5, 0))
        .await
        .unwrap();
    s.mark_merged(merged.id, "me", None).await.unwrap();

    let inflight = s.inflight(Some(p.id)).await.unwrap();
    let got: Vec<(String, WorkStatus)> = inflight
        .iter()
        .map(|i| (i.worktree_name.clone(), i.status))
        .collect();
    assert_eq!(
        got,
        [
            ("fix-b".to_string(), WorkStatus::Behind),
            ("fix-a".to_string(), WorkStatus::Ahead),
            ("fix-d".to_string(), WorkStatus::Diverged),
            ("fix-u".to_string(), WorkStatus::Uncommitted),
        ],
        "most recent first, clean and merged excluded"
    );
    let d = &inflight[2];
    assert_eq!((d.uncommitted_count, d.ahead, d.behind), (0, 2, 3));
    assert_eq!(d.project_name, "app");
    assert_eq!(s.inflight(None).await.unwrap().len(), 4);
    assert!(s.inflight(Some(Uuid::new_v4())).await.unwrap().is_empty());

    // a partial update leaves the other fields alone
    let w = s
        .update_git_state(
            ids[1],
            &GitState {
                behind: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (w.ahead_of_trunk, w.behind_trunk, w.status()),
        (2, 0, WorkStatus::Ahead)
    );
    assert_eq!(s.stats().await.unwrap().in_flight_worktrees, 4);
}

pub async fn has_uncommitted_follows_the_count<S: Store>(s: &S) {
    let (_, w) = setup(s).await;
    assert!(!w.has_uncommitted_changes);
    let w = s.update_git_state(w.id, &state(7, 0, 0)).await.unwrap();
    assert!(w.has_uncommitted_changes);
    assert_eq!(w.uncommitted_files_count, 7);
    assert!(w.last_sync_at.is_some());
    let w = s.update_git_state(w.id, &state(0, 0, 0)).await.unwrap();
    assert!(!w.has_uncommitted_changes);
    let w = s
        .update_git_state(
            w.id,
            &GitState {
                last_commit_hash: Some("deadbeef".into()),
                last_commit_message: Some("fix: it".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(w.last_commit_hash.as_deref(), Some("deadbeef"));
    assert_eq!(w.last_commit_message.as_deref(), Some("fix: it"));
    assert!(!w.has_uncommitted_changes);
}

pub async fn updated_at_moves_on_update<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let w2 = s.update_git_state(w.id, &state(1, 0, 0)).await.unwrap();
    assert!(
        w2.updated_at > w.updated_at,
        "{} !> {}",
        w2.updated_at,
        w.updated_at
    );
    assert_eq!(w2.created_at, w.created_at);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    s.metadata_set(MetadataTarget::Project(p.id), "k", json!(1))
        .await
        .unwrap();
    let p2 = s.get_project(p.id).await.unwrap();
    assert!(p2.updated_at > p.updated_at);
    // logging an activity touches the worktree
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    s.log_activity(&NewActivity {
        agent_id: "a".into(),
        worktree_id: Some(w.id),
        activity_type: "modified".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(s.get_worktree(w.id).await.unwrap().updated_at > w2.updated_at);
}

pub async fn working_path<S: Store>(s: &S) {
    let (p, _) = setup(s).await;
    assert_eq!(
        s.working_path(p.id, None).await.unwrap(),
        "/code/app/trunk-main"
    );
    assert_eq!(
        s.working_path(p.id, Some("feat-login")).await.unwrap(),
        "/code/app/feat-login"
    );
    assert_kind(
        s.working_path(Uuid::new_v4(), None).await,
        ErrorKind::NotFound,
    );
    assert_kind(
        s.working_path(p.id, Some("../etc")).await,
        ErrorKind::Validation,
    );
    s.deactivate_project(p.id).await.unwrap();
    let e = assert_kind(s.working_path(p.id, None).await, ErrorKind::NotFound);
    assert!(e.message.contains("inactive"), "{}", e.message);
}

pub async fn lookups_by_id_origin_and_name<S: Store>(s: &S) {
    let (p, _) = setup(s).await;
    assert_eq!(s.get_project(p.id).await.unwrap(), p);
    assert_eq!(s.get_project_by_name("app").await.unwrap().id, p.id);
    assert_kind(s.get_project_by_name("nope").await, ErrorKind::NotFound);
    assert_kind(s.get_project(Uuid::new_v4()).await, ErrorKind::NotFound);
    assert_kind(
        s.get_project_by_origin("https://github.com/acme/nope")
            .await,
        ErrorKind::NotFound,
    );
    // two projects called "app" from two owners: by name is ambiguous
    s.register_project(&project("app", Some("https://gitlab.com/other/group/app")))
        .await
        .unwrap();
    let e = assert_kind(s.get_project_by_name("app").await, ErrorKind::Conflict);
    assert!(e.hint.is_some());
    let all = s.list_projects(false).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        s.get_project_by_origin("git@gitlab.com:Other/Group/App.git")
            .await
            .unwrap()
            .origin_key,
        "gitlab.com/other/group/app"
    );
}

pub async fn list_worktrees_with_filters<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    let q = s
        .register_project(&project("lib", Some("git@example.org:team/lib")))
        .await
        .unwrap();
    let mut owned = worktree(&p, "fix", "crash");
    owned.agent_id = Some("claude".into());
    let fix = s.register_worktree(&owned).await.unwrap();
    let other = s
        .register_worktree(&worktree(&q, "feat", "api"))
        .await
        .unwrap();
    s.deactivate_worktree(other.id).await.unwrap();
    s.deactivate_worktree(other.id).await.unwrap(); // idempotent
    assert_kind(
        s.deactivate_worktree(Uuid::new_v4()).await,
        ErrorKind::NotFound,
    );

    let names = |v: Vec<Worktree>| v.into_iter().map(|w| w.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_worktrees(&WorktreeFilter::default()).await.unwrap()),
        ["feat-login", "fix-crash"]
    );
    let all = WorktreeFilter {
        include_inactive: true,
        ..Default::default()
    };
    assert_eq!(
        names(s.list_worktrees(&all).await.unwrap()),
        ["feat-api", "feat-login", "fix-crash"]
    );
    let by_project = WorktreeFilter {
        project_id: Some(p.id),
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&by_project).await.unwrap().len(), 2);
    let by_type = WorktreeFilter {
        type_name: Some("fix".into()),
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&by_type).await.unwrap()[0].id, fix.id);
    let by_agent = WorktreeFilter {
        agent_id: Some("claude".into()),
        ..Default::default()
    };
    assert_eq!(
        names(s.list_worktrees(&by_agent).await.unwrap()),
        ["fix-crash"]
    );
    let by_host = WorktreeFilter {
        host: Some("elsewhere".into()),
        ..Default::default()
    };
    assert!(s.list_worktrees(&by_host).await.unwrap().is_empty());
    assert_eq!(s.get_worktree(w.id).await.unwrap().project_id, p.id);
}

/// A one-letter typo still finds the project, first.
pub async fn search_finds_a_project_from_a_typo<S: Store>(s: &S) {
    for (name, remote) in [
        ("registry", "https://github.com/acme/registry"),
        ("frontend", "https://github.com/acme/frontend"),
        ("billing-service", "git@gitlab.com:acme/billing-service.git"),
        ("docs", "https://github.com/acme/docs"),
    ] {
        s.register_project(&project(name, Some(remote)))
            .await
            .unwrap();
    }
    for (query, expect) in [
        ("regsitry", "registry"),
        ("registyr", "registry"),
        ("frontent", "frontend"),
        ("biling-service", "billing-service"),
        ("billing", "billing-service"),
        ("registry", "registry"),
    ] {
        let hits = s.search_projects(query).await.unwrap();
        assert!(!hits.is_empty(), "{query}: no hits");
        assert_eq!(hits[0].name, expect, "{query}: {hits:?}");
        assert!(hits.windows(2).all(|w| w[0].relevance >= w[1].relevance));
    }
    assert!(s.search_projects("zzzzqqq").await.unwrap().is_empty());
}

/// Search also matches parts of the remote (owner, group, host); an empty query
/// lists the active projects, most recently updated first, at most 20.
pub async fn search_matches_remote_parts_and_lists_on_empty<S: Store>(s: &S) {
    for (name, remote) in [
        ("api", "git@gitlab.com:acme/platform/api.git"),
        ("web", "https://github.com/acme/web"),
        ("tool", "https://example.org/solo/tool"),
        ("gone", "https://github.com/acme/gone"),
    ] {
        s.register_project(&project(name, Some(remote)))
            .await
            .unwrap();
    }
    let gone = s
        .get_project_by_origin("https://github.com/acme/gone")
        .await
        .unwrap();
    s.deactivate_project(gone.id).await.unwrap();
    let names = |v: Vec<ProjectMatch>| v.into_iter().map(|m| m.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.search_projects("acme").await.unwrap()),
        ["api", "web"]
    );
    assert_eq!(names(s.search_projects("Platform").await.unwrap()), ["api"]);
    assert_eq!(
        names(s.search_projects("example.org").await.unwrap()),
        ["tool"]
    );
    let hit = &s.search_projects("solo").await.unwrap()[0];
    assert_eq!((hit.name.as_str(), hit.relevance), ("tool", 0.4));
    s.register_project(&project("web", Some("https://github.com/acme/web")))
        .await
        .unwrap();
    for q in ["", "  "] {
        let all = s.search_projects(q).await.unwrap();
        let mut listed = names(all.clone());
        listed.sort();
        assert_eq!(
            listed,
            ["api", "tool", "web"],
            "{q:?}: active projects only"
        );
        assert!(all.iter().all(|m| m.relevance == 0.0));
        assert_newest_first(s, &all).await;
    }
    for i in 0..22 {
        s.register_project(&project(
            &format!("bulk{i}"),
            Some(&format!("https://x.org/b/bulk{i}")),
        ))
        .await
        .unwrap();
    }
    let all = s.search_projects("").await.unwrap();
    assert_eq!(all.len(), 20);
    assert!(all.iter().all(|m| m.name.starts_with("bulk")), "{all:?}");
    assert_newest_first(s, &all).await;
}

/// Most recently updated first, ties by name.
async fn assert_newest_first<S: Store>(s: &S, found: &[ProjectMatch]) {
    let mut keys = Vec::new();
    for m in found {
        keys.push((
            s.get_project(m.id).await.unwrap().updated_at,
            m.name.clone(),
        ));
    }
    assert!(
        keys.windows(2)
            .all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 <= w[1].1)),
        "{keys:?}"
    );
}

/// Lookup by remote finds active projects only (like the SQL get_project_by_origin);
/// a deactivated one is NOT_FOUND saying so, until it is registered again.
pub async fn lookup_by_origin_finds_active_projects_only<S: Store>(s: &S) {
    let (p, _) = setup(s).await;
    s.deactivate_project(p.id).await.unwrap();
    let e = assert_kind(
        s.get_project_by_origin("https://github.com/acme/app").await,
        ErrorKind::NotFound,
    );
    assert!(e.message.contains("deactivated"), "{}", e.message);
    assert!(
        e.hint.as_deref().unwrap_or("").contains("imi init"),
        "{e:?}"
    );
    // by id it is still there, inactive
    assert!(!s.get_project(p.id).await.unwrap().active);
    let again = s
        .register_project(&project("app", Some("git@github.com:acme/app.git")))
        .await
        .unwrap();
    assert_eq!(again.id, p.id);
    let found = s
        .get_project_by_origin("ssh://git@github.com/Acme/App.git")
        .await
        .unwrap();
    assert_eq!((found.id, found.active), (p.id, true));
}

pub async fn stats<S: Store>(s: &S) {
    assert_eq!(
        s.stats().await.unwrap(),
        imi_core::RegistryStats {
            total_projects: 0,
            active_projects: 0,
            total_worktrees: 0,
            active_worktrees: 0,
            in_flight_worktrees: 0,
            total_activities: 0,
            activities_last_24h: 0,
        }
    );
    let (p, w) = setup(s).await;
    let q = s
        .register_project(&project("gone", Some("https://x.org/a/gone")))
        .await
        .unwrap();
    s.deactivate_project(q.id).await.unwrap();
    let w2 = s
        .register_worktree(&worktree(&p, "fix", "b"))
        .await
        .unwrap();
    s.update_git_state(w2.id, &state(1, 0, 0)).await.unwrap();
    let w3 = s
        .register_worktree(&worktree(&p, "fix", "c"))
        .await
        .unwrap();
    s.deactivate_worktree(w3.id).await.unwrap();
    for _ in 0..3 {
        s.log_activity(&NewActivity {
            agent_id: "a".into(),
            worktree_id: Some(w.id),
            activity_type: "committed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    assert_eq!(
        s.stats().await.unwrap(),
        imi_core::RegistryStats {
            total_projects: 2,
            active_projects: 1,
            total_worktrees: 3,
            active_worktrees: 2,
            in_flight_worktrees: 1,
            total_activities: 3,
            activities_last_24h: 3,
        }
    );
}

pub async fn activities_are_logged_and_listed_newest_first<S: Store>(s: &S) {
    let (_, w) = setup(s).await;
    let mut ids = vec![];
    for (agent, t) in [
        ("a", "created"),
        ("b", "modified"),
        ("a", "committed"),
        ("a", "pushed"),
    ] {
        let act = s
            .log_activity(&NewActivity {
                agent_id: agent.into(),
                worktree_id: Some(w.id),
                activity_type: t.into(),
                description: Some(format!("{agent} {t}")),
                file_path: Some("src/lib.rs".into()),
                metadata: imi_core::metadata::require_object(json!({"n": ids.len()})).unwrap(),
            })
            .await
            .unwrap();
        assert_eq!(act.worktree_name.as_deref(), Some("feat-login"));
        assert_eq!(act.project_name.as_deref(), Some("app"));
        ids.push(act.id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let by_a = s.recent_activities_by_agent("a", 2).await.unwrap();
    assert_eq!(
        by_a.iter()
            .map(|a| a.activity_type.as_str())
            .collect::<Vec<_>>(),
        ["pushed", "committed"]
    );
    let all = s.recent_activities(10).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(all[3].metadata.get("n"), Some(&json!(0)));
    // an activity need not name a worktree
    let free = s
        .log_activity(&NewActivity {
            agent_id: "a".into(),
            activity_type: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(free.worktree_id, None);
    assert_kind(s.recent_activities(0).await, ErrorKind::Validation);
    assert_kind(
        s.log_activity(&NewActivity {
            agent_id: "a".into(),
            worktree_id: Some(Uuid::new_v4()),
            activity_type: "other".into(),
            ..Default::default()
        })
        .await,
        ErrorKind::NotFound,
    );
}

/// Activity lists are newest first and break ties on the timestamp by the greater id
/// (`created_at desc, id desc`), whatever order the rows were written in; timestamps
/// are compared to the microsecond, also across a millisecond boundary.
pub async fn activity_ties_are_broken_by_id<S: Store>(s: &S) {
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let act = |id: &str, t: &str| imi_core::Activity {
        id: Uuid::parse_str(id).unwrap(),
        agent_id: "tie".into(),
        worktree_id: None,
        project_id: None,
        project_name: Some("app".into()),
        worktree_name: None,
        activity_type: "other".into(),
        file_path: None,
        description: Some(id[..2].to_string()),
        metadata: Default::default(),
        created_at: at(t),
    };
    let tie = "2026-01-02T03:04:05.123456Z";
    let low = act("10000000-0000-4000-8000-000000000000", tie);
    let mid = act("9fffffff-ffff-4fff-bfff-ffffffffffff", tie);
    let high = act("a0000000-0000-4000-8000-000000000000", tie);
    // one microsecond later, with the smallest id: time first, id second
    let later = act(
        "00000000-0000-4000-8000-000000000001",
        "2026-01-02T03:04:05.123457Z",
    );
    // the next millisecond, and an earlier instant of the same millisecond
    let next_ms = act(
        "01000000-0000-4000-8000-000000000000",
        "2026-01-02T03:04:05.124Z",
    );
    let earlier = act(
        "ff000000-0000-4000-8000-000000000000",
        "2026-01-02T03:04:05.123Z",
    );
    // written in an order that is neither time nor id order (so not the insertion
    // order either: rowid desc would list high, low, mid for the tie)
    for a in [&mid, &earlier, &low, &next_ms, &high, &later] {
        let snap = imi_core::RegistrySnapshot {
            activities: vec![a.clone()],
            ..Default::default()
        };
        let r = s.import_snapshot(&snap, Default::default()).await.unwrap();
        assert_eq!(r.activities.inserted, 1);
        assert!(!r.timestamps_truncated);
    }
    let expected: Vec<Uuid> = [&next_ms, &later, &high, &mid, &low, &earlier]
        .iter()
        .map(|a| a.id)
        .collect();
    let ids = |v: Vec<imi_core::Activity>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(s.recent_activities(10).await.unwrap()), expected);
    assert_eq!(
        ids(s.recent_activities_by_agent("tie", 10).await.unwrap()),
        expected
    );
    assert_eq!(
        ids(s.recent_activities_by_agent("tie", 4).await.unwrap()),
        expected[..4]
    );
    // read back to the microsecond
    let all = s.recent_activities(10).await.unwrap();
    assert_eq!(all[1].created_at, later.created_at);
    assert_eq!(all[2].created_at, at(tie));
}

pub async fn retention_cleanup_deletes_only_old_activities<S: Harness>(s: &S) {
    let (_, w) = setup(s).await;
    let mut ids = vec![];
    for _ in 0..4 {
        let a = s
            .log_activity(&NewActivity {
                agent_id: "a".into(),
                worktree_id: Some(w.id),
                activity_type: "synced".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(a.id);
    }
    s.backdate("agent_activities", ids[0], 100).await;
    s.backdate("agent_activities", ids[1], 91).await;
    s.backdate("agent_activities", ids[2], 89).await;
    assert_eq!(s.cleanup_old_activities(90).await.unwrap(), 2);
    assert_eq!(s.cleanup_old_activities(90).await.unwrap(), 0);
    let left: Vec<Uuid> = s
        .recent_activities(10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&ids[2]) && left.contains(&ids[3]));
    assert_kind(s.cleanup_old_activities(-1).await, ErrorKind::Validation);
    assert_eq!(s.stats().await.unwrap().activities_last_24h, 1);
}

pub async fn pruning_keeps_activities<S: Harness>(s: &S) {
    let (p, w) = setup(s).await;
    let keep = s
        .register_worktree(&worktree(&p, "fix", "recent"))
        .await
        .unwrap();
    s.log_activity(&NewActivity {
        agent_id: "a".into(),
        worktree_id: Some(w.id),
        activity_type: "merged".into(),
        description: Some("merged login".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    s.deactivate_worktree(w.id).await.unwrap();
    s.deactivate_worktree(keep.id).await.unwrap();
    s.backdate("worktrees", w.id, 40).await;
    assert_eq!(s.prune_inactive_worktrees(30).await.unwrap(), 1);
    assert_kind(s.get_worktree(w.id).await, ErrorKind::NotFound);
    assert!(
        s.get_worktree(keep.id).await.is_ok(),
        "recently removed worktree kept"
    );
    let acts = s.recent_activities(10).await.unwrap();
    assert_eq!(acts.len(), 1, "the audit log survives pruning");
    assert_eq!(acts[0].worktree_id, None);
    assert_eq!(acts[0].worktree_name.as_deref(), Some("feat-login"));
    assert_eq!(acts[0].project_name.as_deref(), Some("app"));
    assert_eq!(acts[0].description.as_deref(), Some("merged login"));
    assert_kind(s.prune_inactive_worktrees(-5).await, ErrorKind::Validation);
    // the name is free again: registering it makes a new worktree
    let again = s
        .register_worktree(&worktree(&p, "feat", "login"))
        .await
        .unwrap();
    assert_ne!(again.id, w.id);
}

/// The change token stays while nothing commits and moves with every commit: one
/// through the store, and one around it in plain SQL. (On PostgreSQL the token is
/// the cluster's snapshot, which other tests' commits move too, so only the moves
/// are asserted there.)
pub async fn change_token_moves_with_every_commit<S: Store + Harness>(s: &S) {
    let (_, w) = setup(s).await;
    let quiet = s.backend() == "sqlite";
    let a = s.change_token().await.unwrap();
    s.list_worktrees(&WorktreeFilter::default()).await.unwrap();
    s.metadata_get(MetadataTarget::Worktree(w.id), None)
        .await
        .unwrap();
    let b = s.change_token().await.unwrap();
    if quiet {
        assert_eq!(a, b, "reads moved the token");
    }
    s.metadata_set(MetadataTarget::Worktree(w.id), "k", json!(1))
        .await
        .unwrap();
    let c = s.change_token().await.unwrap();
    assert_ne!(b, c, "a write through the store left the token");
    s.raw_metadata("worktrees", w.id, r#"{"k": 2}"#.into())
        .await;
    let d = s.change_token().await.unwrap();
    assert_ne!(c, d, "a write in plain SQL left the token");
}

/// Numbers at the edges of f64 come back as they went in, and a document holding
/// them can still be changed (PostgreSQL's jsonb prints f64::MAX as 309 digits,
/// which an inexact parser turned into "out of range": the key read back as an
/// unreadable marker and every later write under it was refused).
pub async fn extreme_numbers_in_metadata_round_trip<S: Store>(s: &S) {
    let (_, w) = setup(s).await;
    let t = MetadataTarget::Worktree(w.id);
    let numbers = [
        json!(f64::MAX),
        json!(f64::MIN),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(1e308),
        json!(0.1),
        json!(u64::MAX),
        json!(i64::MIN),
    ];
    for (i, n) in numbers.iter().enumerate() {
        s.metadata_set(t, &format!("plane.n{i}"), n.clone())
            .await
            .unwrap();
        // a write after it: the stored document must read back whole
        s.metadata_set(t, "plane.after", json!(i)).await.unwrap();
        let back = s
            .metadata_get(t, Some(&format!("plane.n{i}")))
            .await
            .unwrap();
        assert_eq!(
            back.and_then(|v| v.as_f64()),
            n.as_f64(),
            "{n} did not come back"
        );
    }
}

pub async fn deep_metadata_set_keeps_siblings<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    let t = MetadataTarget::Worktree(w.id);
    s.metadata_set(t, "plane.board", json!("eng"))
        .await
        .unwrap();
    s.metadata_set(t, "other", json!([1, 2])).await.unwrap();
    let doc = s
        .metadata_set(t, "plane.ticket_id", json!(42))
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(doc),
        json!({"plane": {"board": "eng", "ticket_id": 42}, "other": [1, 2]})
    );
    assert_eq!(
        s.metadata_get(t, Some("plane.ticket_id")).await.unwrap(),
        Some(json!(42))
    );
    assert_eq!(s.metadata_get(t, Some("plane.nope")).await.unwrap(), None);
    assert!(s.metadata_unset(t, "plane.board").await.unwrap());
    assert!(!s.metadata_unset(t, "plane.board").await.unwrap());
    assert_eq!(
        s.metadata_get(t, None).await.unwrap(),
        Some(json!({"plane": {"ticket_id": 42}, "other": [1, 2]}))
    );
    assert_eq!(
        s.get_worktree(w.id).await.unwrap().metadata.get("other"),
        Some(&json!([1, 2]))
    );
    // a scalar in the way is not silently replaced
    assert_kind(
        s.metadata_set(t, "other.x", json!(1)).await,
        ErrorKind::Conflict,
    );
    assert_kind(
        s.metadata_set(t, "a..b", json!(1)).await,
        ErrorKind::Validation,
    );
    // projects have metadata too
    let pt = MetadataTarget::Project(p.id);
    s.metadata_set(pt, "team.lead", json!("ana")).await.unwrap();
    assert_eq!(
        s.get_project(p.id).await.unwrap().metadata.get("team"),
        Some(&json!({"lead": "ana"}))
    );
    assert_kind(
        s.metadata_set(MetadataTarget::Worktree(Uuid::new_v4()), "k", json!(1))
            .await,
        ErrorKind::NotFound,
    );

    // concurrent deep sets of different keys all survive
    let keys: Vec<String> = (0..8).map(|i| format!("many.k{i}")).collect();
    let calls = keys
        .iter()
        .enumerate()
        .map(|(i, k)| s.metadata_set(t, k, json!(i)));
    for r in join_all(calls).await {
        r.unwrap();
    }
    let many = s.metadata_get(t, Some("many")).await.unwrap().unwrap();
    assert_eq!(many.as_object().unwrap().len(), 8, "{many}");
}

/// Bad input is refused with VALIDATION_ERROR and writes nothing.
pub async fn bad_input_writes_nothing<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    let before = s.stats().await.unwrap();
    let before_w = s.get_worktree(w.id).await.unwrap();

    assert_kind(
        s.register_project(&project("", Some("https://github.com/a/b")))
            .await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.register_project(&project("x", Some("https://"))).await,
        ErrorKind::Validation,
    );
    let mut no_trunk = project("x", Some("https://github.com/a/x"));
    no_trunk.trunk_path = String::new();
    assert_kind(s.register_project(&no_trunk).await, ErrorKind::Validation);
    for bad in ["with space", "..", "a/b", "-rf", "x.lock", ""] {
        let mut nw = worktree(&p, "feat", "ok");
        nw.name = bad.into();
        assert_kind(s.register_worktree(&nw).await, ErrorKind::Validation);
    }
    assert_kind(
        s.update_git_state(w.id, &state(-1, 0, 0)).await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.update_git_state(w.id, &state(0, -2, 0)).await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.log_activity(&NewActivity {
            agent_id: "a".into(),
            activity_type: "exploded".into(),
            ..Default::default()
        })
        .await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.log_activity(&NewActivity {
            agent_id: " ".into(),
            activity_type: "other".into(),
            ..Default::default()
        })
        .await,
        ErrorKind::Validation,
    );
    assert_kind(s.mark_merged(w.id, "", None).await, ErrorKind::Validation);
    // a batch with one bad entry writes none of it
    let batch = vec![(w.id, state(5, 0, 0)), (Uuid::new_v4(), state(1, 0, 0))];
    assert!(s.update_git_states(&batch).await.is_err());
    let batch = vec![(w.id, state(5, 0, 0)), (w.id, state(-1, 0, 0))];
    assert_kind(s.update_git_states(&batch).await, ErrorKind::Validation);

    assert_eq!(s.stats().await.unwrap(), before);
    assert_eq!(s.get_worktree(w.id).await.unwrap(), before_w);

    // and a good batch writes all of it
    let w2 = s
        .register_worktree(&worktree(&p, "fix", "two"))
        .await
        .unwrap();
    s.update_git_states(&[(w.id, state(1, 0, 0)), (w2.id, state(0, 3, 0))])
        .await
        .unwrap();
    assert_eq!(
        s.get_worktree(w.id).await.unwrap().uncommitted_files_count,
        1
    );
    assert_eq!(s.get_worktree(w2.id).await.unwrap().ahead_of_trunk, 3);
}

/// Migrating an up-to-date registry changes nothing.
pub async fn migrate_twice_changes_nothing<S: Store>(s: &S) {
    let a = s.schema_status().await.unwrap();
    assert!(a.pending.is_empty());
    assert_eq!(a.applied, a.latest);
    let b = s.migrate().await.unwrap();
    assert_eq!(a, b);
    s.ping().await.unwrap();
}

// --- moving data: snapshots (SPEC §6) -------------------------------------------------

/// A second, empty registry of the same backend as the one under test (the guard
/// keeps it alive).
pub trait Fresh: Store + Sized {
    fn fresh() -> impl std::future::Future<Output = (Self, Box<dyn std::any::Any + Send>)> + Send;
}

impl Fresh for imi_store_sqlite::SqliteStore {
    async fn fresh() -> (Self, Box<dyn std::any::Any + Send>) {
        let (s, dir) = crate::sqlite_store().await;
        (s, Box::new(dir))
    }
}

impl Fresh for imi_store_postgres::PgStore {
    async fn fresh() -> (Self, Box<dyn std::any::Any + Send>) {
        let (s, db) = crate::postgres_store()
            .await
            .expect("PostgreSQL was reachable for the store under test");
        (s, Box::new(db))
    }
}

/// A registry with a bit of everything: projects with and without remote, an
/// inactive one, metadata, a custom type, in-flight / merged / inactive worktrees,
/// activities including one whose worktree was pruned.
pub async fn populate<S: Store + Harness>(s: &S) {
    let (p, w) = setup(s).await;
    let local = s.register_project(&project("local", None)).await.unwrap();
    let gone = s
        .register_project(&project("gone", Some("git@gitlab.com:g/sub/gone.git")))
        .await
        .unwrap();
    s.metadata_set(MetadataTarget::Project(p.id), "plane.ticket", json!(42))
        .await
        .unwrap();
    s.add_type(&NewWorktreeType {
        name: "spike".into(),
        description: Some("experiments".into()),
        color: Some("#123456".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let spike = s
        .register_worktree(&worktree(&local, "spike", "idea"))
        .await
        .unwrap();
    s.update_git_state(
        spike.id,
        &GitState {
            uncommitted_count: Some(3),
            ahead: Some(2),
            behind: Some(1),
            last_commit_hash: Some("abc123".into()),
            last_commit_message: Some("wip: ünïcode ✓".into()),
        },
    )
    .await
    .unwrap();
    let merged = s
        .register_worktree(&worktree(&p, "fix", "crash"))
        .await
        .unwrap();
    s.mark_merged(merged.id, "agent-a", Some("deadbeef"))
        .await
        .unwrap();
    let pruned = s
        .register_worktree(&worktree(&p, "review", "7"))
        .await
        .unwrap();
    s.metadata_set(MetadataTarget::Worktree(w.id), "a.b", json!([1, "x", null]))
        .await
        .unwrap();
    for (wt, t) in [
        (Some(w.id), "created"),
        (Some(spike.id), "committed"),
        (Some(pruned.id), "created"),
        (None, "other"),
    ] {
        s.log_activity(&NewActivity {
            agent_id: "agent-a".into(),
            worktree_id: wt,
            activity_type: t.into(),
            description: Some(format!("{t} it")),
            file_path: wt.map(|_| "src/main.rs".into()),
            metadata: json!({"n": 1}).as_object().unwrap().clone(),
        })
        .await
        .unwrap();
    }
    s.deactivate_worktree(pruned.id).await.unwrap();
    s.backdate("worktrees", pruned.id, 40).await;
    assert_eq!(s.prune_inactive_worktrees(30).await.unwrap(), 1);
    s.deactivate_project(gone.id).await.unwrap();
}

fn doc(s: &imi_core::RegistrySnapshot) -> serde_json::Value {
    serde_json::to_value(s).unwrap()
}

/// export → import into an empty registry → export gives the same document; a second
/// import adds nothing; importing a registry into itself adds nothing.
pub async fn snapshot_round_trip_is_exact<S: Store + Harness + Fresh>(s: &S) {
    populate(s).await;
    let a = s.export_snapshot().await.unwrap();
    assert_eq!(a.projects.len(), 3);
    assert_eq!(a.worktree_types.len(), 7);
    assert_eq!(a.worktrees.len(), 3, "the pruned one is gone");
    assert_eq!(a.activities.len(), 4);
    assert!(
        a.activities
            .iter()
            .any(|x| x.worktree_id.is_none() && x.worktree_name.as_deref() == Some("pr-7"))
    );

    // into itself: everything is already there
    let r = s
        .import_snapshot(&a, imi_core::ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.total_inserted(), 0, "{r:?}");
    assert_eq!(r.projects.identical, 3);
    assert_eq!(r.worktrees.identical, 3);
    assert_eq!(r.activities.identical, 4);
    assert_eq!(r.worktree_types.identical, 7);
    assert_eq!(doc(&s.export_snapshot().await.unwrap()), doc(&a));

    let (t, _guard) = S::fresh().await;
    let r = t
        .import_snapshot(&a, imi_core::ImportOptions::default())
        .await
        .unwrap();
    assert!(r.verified);
    assert_eq!(r.projects.inserted, 3);
    assert_eq!(r.worktree_types.inserted, 1);
    assert_eq!(r.worktree_types.identical, 6);
    assert_eq!(r.worktrees.inserted, 3);
    assert_eq!(r.activities.inserted, 4);
    assert!(r.conflicts.is_empty());
    let b = t.export_snapshot().await.unwrap();
    assert_eq!(doc(&b), doc(&a));
    // the copy works like the original: a later custom type gets a fresh id
    let ty = t
        .add_type(&NewWorktreeType {
            name: "later".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(ty.id > a.worktree_types.iter().map(|x| x.id).max().unwrap());
    assert_eq!(t.stats().await.unwrap(), s.stats().await.unwrap());

    // again: nothing added
    let before = t.stats().await.unwrap();
    let r = t
        .import_snapshot(&a, imi_core::ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(r.total_inserted(), 0);
    assert_eq!(t.stats().await.unwrap(), before);
}

/// Rows held with other values are refused (listed, nothing written) unless told to
/// overwrite or keep them; overwriting keeps the source's timestamps exactly.
pub async fn snapshot_conflicts_are_refused_unless_told<S: Store + Harness + Fresh>(s: &S) {
    populate(s).await;
    let a = s.export_snapshot().await.unwrap();
    let (t, _guard) = S::fresh().await;
    t.import_snapshot(&a, imi_core::ImportOptions::default())
        .await
        .unwrap();
    let p = a.projects.iter().find(|p| p.name == "app").unwrap().clone();
    t.metadata_set(MetadataTarget::Project(p.id), "plane.ticket", json!(7))
        .await
        .unwrap();
    let w = a.worktrees.iter().find(|w| w.name == "feat-login").unwrap();
    t.update_git_state(w.id, &state(9, 0, 0)).await.unwrap();
    let target_before = doc(&t.export_snapshot().await.unwrap());

    let e = assert_kind(
        t.import_snapshot(&a, imi_core::ImportOptions::default())
            .await,
        ErrorKind::Conflict,
    );
    assert!(e.message.contains(&p.id.to_string()), "{}", e.message);
    assert!(e.message.contains("metadata"), "{}", e.message);
    assert!(e.message.contains(&w.id.to_string()), "{}", e.message);
    assert!(e.hint.unwrap().contains("--overwrite"));
    assert_eq!(doc(&t.export_snapshot().await.unwrap()), target_before);

    // dry run of an overwrite: reports, writes nothing
    let opts = |mode, dry_run| imi_core::ImportOptions { mode, dry_run };
    let r = t
        .import_snapshot(&a, opts(imi_core::ImportMode::Overwrite, true))
        .await
        .unwrap();
    assert!(r.dry_run);
    assert_eq!(r.projects.overwritten, 1);
    assert_eq!(r.worktrees.overwritten, 1);
    assert_eq!(doc(&t.export_snapshot().await.unwrap()), target_before);

    let r = t
        .import_snapshot(&a, opts(imi_core::ImportMode::KeepExisting, false))
        .await
        .unwrap();
    assert_eq!((r.projects.kept, r.worktrees.kept), (1, 1));
    assert_eq!(doc(&t.export_snapshot().await.unwrap()), target_before);

    let r = t
        .import_snapshot(&a, opts(imi_core::ImportMode::Overwrite, false))
        .await
        .unwrap();
    assert_eq!((r.projects.overwritten, r.worktrees.overwritten), (1, 1));
    assert_eq!(doc(&t.export_snapshot().await.unwrap()), doc(&a));
    assert_eq!(t.get_project(p.id).await.unwrap().updated_at, p.updated_at);
}

/// A document that refers to rows nobody holds, or is not an imi document, writes
/// nothing.
pub async fn snapshot_with_dangling_references_is_refused<S: Store + Harness + Fresh>(s: &S) {
    populate(s).await;
    let a = s.export_snapshot().await.unwrap();
    let (t, _guard) = S::fresh().await;
    let before = doc(&t.export_snapshot().await.unwrap());

    let mut only_worktrees = a.clone();
    only_worktrees.projects.clear();
    only_worktrees.activities.clear();
    let e = assert_kind(
        t.import_snapshot(&only_worktrees, Default::default()).await,
        ErrorKind::Validation,
    );
    assert!(e.message.contains("projects"), "{}", e.message);

    let mut bad = a.clone();
    bad.version = 999;
    assert_kind(
        t.import_snapshot(&bad, Default::default()).await,
        ErrorKind::Validation,
    );
    let mut bad = a.clone();
    bad.worktree_types.retain(|x| x.name != "spike");
    let e = assert_kind(
        t.import_snapshot(&bad, Default::default()).await,
        ErrorKind::Validation,
    );
    assert!(e.message.contains("spike"), "{}", e.message);
    assert_eq!(doc(&t.export_snapshot().await.unwrap()), before);
}

/// A new type keeps its id when the target has it free; a type whose id the target
/// uses is numbered by the target, past every id the import keeps (so it never takes
/// one a later type of the same import needs), and worktrees follow it by name.
pub async fn snapshot_types_keep_free_ids_and_renumber_taken_ones<S: Store + Harness + Fresh>(
    s: &S,
) {
    let (p, _) = setup(s).await;
    for name in ["alpha", "beta"] {
        s.add_type(&NewWorktreeType {
            name: name.into(),
            ..Default::default()
        })
        .await
        .unwrap();
        s.register_worktree(&worktree(&p, name, "x")).await.unwrap();
    }
    let a = s.export_snapshot().await.unwrap();
    let id = |snap: &imi_core::RegistrySnapshot, name: &str| {
        snap.worktree_types
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .id
    };
    let (alpha, beta) = (id(&a, "alpha"), id(&a, "beta"));
    assert_eq!(beta, alpha + 1);

    let (t, _guard) = S::fresh().await;
    let gamma = t
        .add_type(&NewWorktreeType {
            name: "gamma".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(gamma.id, alpha, "the target's own type holds alpha's id");
    let r = t.import_snapshot(&a, Default::default()).await.unwrap();
    assert_eq!(r.worktree_types.inserted, 2);
    let b = t.export_snapshot().await.unwrap();
    assert_eq!(id(&b, "beta"), beta, "a free id is kept");
    assert_eq!(id(&b, "gamma"), gamma.id);
    let renumbered = id(&b, "alpha");
    assert!(renumbered > beta, "alpha is numbered {renumbered}");
    assert_eq!(
        b.worktrees, a.worktrees,
        "worktrees keep their types by name"
    );
    let later = t
        .add_type(&NewWorktreeType {
            name: "later".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(later.id > renumbered, "later is numbered {}", later.id);
}

/// 16 separate connections (one store each) register the https and ssh forms of
/// one remote at the same instant: exactly one row, one UUID.
pub async fn sixteen_connections_register_one_project<S: Store>(stores: &[S]) {
    assert_eq!(stores.len(), 16);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(stores.len()));
    let calls = stores.iter().enumerate().map(|(i, s)| {
        let barrier = barrier.clone();
        let remote = if i % 2 == 0 {
            "https://github.com/acme/race.git"
        } else {
            "git@github.com:Acme/Race"
        };
        async move {
            let p = project("race", Some(remote));
            barrier.wait().await;
            s.register_project(&p).await
        }
    });
    let ids: Vec<Uuid> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let all = stores[0].list_projects(true).await.unwrap();
    assert_eq!(all.len(), 1, "exactly one row: {all:?}");
}

// --- issue 8, rule 4: every name that becomes a path is checked at every door ------

/// Project names, worktree names and custom worktree prefixes that would leave
/// their directory are `VALIDATION_ERROR` at the store (both backends) and in a
/// snapshot import, and nothing is written.
pub async fn names_that_become_paths_are_checked_at_every_store_door<S: Store + Harness>(s: &S) {
    let (p, w) = setup(s).await;
    let before = s.export_snapshot().await.unwrap();
    for bad in [
        "..",
        ".",
        "a/b",
        "a\\b",
        "esc\u{1b}[31m",
        "rtl\u{202E}gpj.exe",
        &"x".repeat(201),
    ] {
        let e = assert_kind(
            s.register_project(&NewProject {
                name: bad.into(),
                remote_origin: Some(format!("https://github.com/acme/n{}", bad.len())),
                trunk_path: "/code/x/trunk-main".into(),
                ..Default::default()
            })
            .await,
            ErrorKind::Validation,
        );
        assert!(e.hint.is_some(), "{e:?}");
    }
    for bad in ["../../../../x", "..", "a/b", "iso\u{2066}late", "nul\u{0}x"] {
        let mut nw = worktree(&p, "feat", "ok");
        nw.name = bad.into();
        assert_kind(s.register_worktree(&nw).await, ErrorKind::Validation);
    }
    // a branch longer than git or a file system takes
    let mut nw = worktree(&p, "feat", "long");
    nw.branch_name = format!("feat/{}", "b".repeat(300));
    assert_kind(s.register_worktree(&nw).await, ErrorKind::Validation);
    // custom types whose directories would look like the trunk's, or leave the container
    for prefix in ["trunk-", "Trunk-x-", "tr", "../", "a/", ".."] {
        assert_kind(
            s.add_type(&NewWorktreeType {
                name: "evil".into(),
                worktree_prefix: Some(prefix.into()),
                ..Default::default()
            })
            .await,
            ErrorKind::Validation,
        );
    }
    // the snapshot door: a project named `..` and a worktree named `../../../../x`
    let mut doc = before.clone();
    let mut bad_p = doc.projects[0].clone();
    bad_p.id = Uuid::new_v4();
    bad_p.name = "..".into();
    bad_p.origin_key = "github.com/acme/other".into();
    doc.projects.push(bad_p);
    let e = assert_kind(
        s.import_snapshot(&doc, Default::default()).await,
        ErrorKind::Validation,
    );
    assert!(e.message.contains("project name"), "{e:?}");
    let mut doc = before.clone();
    let mut bad_w = w.clone();
    bad_w.id = Uuid::new_v4();
    bad_w.name = "../../../../x".into();
    bad_w.path = "/code/app/gone".into();
    doc.worktrees.push(bad_w);
    let e = assert_kind(
        s.import_snapshot(&doc, Default::default()).await,
        ErrorKind::Validation,
    );
    assert!(e.message.contains("worktree name"), "{e:?}");
    let mut doc = before.clone();
    let mut evil = doc.worktree_types[0].clone();
    evil.name = "evil".into();
    evil.is_builtin = false;
    evil.worktree_prefix = "trunk-".into();
    doc.worktree_types.push(evil);
    assert_kind(
        s.import_snapshot(&doc, Default::default()).await,
        ErrorKind::Validation,
    );
    assert_eq!(s.export_snapshot().await.unwrap(), before);
}

// --- issue 8, rule 6: bounded input ----------------------------------------------

fn nested_arrays(depth: usize) -> serde_json::Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

/// Over-deep, over-wide and over-long metadata is refused on write; a 128-part
/// dotted key (the finding) changes nothing and every read keeps working.
pub async fn metadata_limits_are_enforced_on_write<S: Store>(s: &S) {
    let (p, w) = setup(s).await;
    let target = MetadataTarget::Worktree(w.id);
    s.metadata_set(target, "plane.ticket_id", json!(42))
        .await
        .unwrap();
    let before = s.export_snapshot().await.unwrap();
    let deep = vec!["a"; 128].join(".");
    let e = assert_kind(
        s.metadata_set(target, &deep, json!("v")).await,
        ErrorKind::Validation,
    );
    assert!(e.hint.is_some());
    let nested = nested_arrays(33);
    assert_kind(
        s.metadata_set(target, "x", nested).await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.metadata_set(target, &"k".repeat(300), json!(1)).await,
        ErrorKind::Validation,
    );
    assert_kind(
        s.metadata_set(
            MetadataTarget::Project(p.id),
            "big",
            json!("x".repeat(70_000)),
        )
        .await,
        ErrorKind::Validation,
    );
    let many: serde_json::Map<String, serde_json::Value> =
        (0..1001).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_kind(
        s.metadata_set(target, "many", serde_json::Value::Object(many))
            .await,
        ErrorKind::Validation,
    );
    // through registration and the activity log too
    let mut nw = worktree(&p, "fix", "meta");
    nw.metadata.insert("big".into(), json!("x".repeat(70_000)));
    assert_kind(s.register_worktree(&nw).await, ErrorKind::Validation);
    let mut np = project("meta", Some("https://github.com/acme/meta"));
    np.description = Some("d".repeat(9000));
    assert_kind(s.register_project(&np).await, ErrorKind::Validation);
    let mut act = NewActivity {
        agent_id: "a".into(),
        activity_type: "other".into(),
        ..Default::default()
    };
    act.metadata.insert("deep".into(), nested_arrays(33));
    assert_kind(s.log_activity(&act).await, ErrorKind::Validation);
    assert_eq!(s.export_snapshot().await.unwrap(), before);
    // reads all work, and the limit itself is allowed
    s.metadata_set(target, &vec!["b"; 32].join("."), json!(1))
        .await
        .unwrap();
    s.list_worktrees(&WorktreeFilter::default()).await.unwrap();
}

/// A document nested deeper than imi can read, stored around every check (SQL, an
/// older imi): list, get, inflight and export still work and show a marker under its
/// key; a write that would lose it is refused; `metadata_unset` repairs it.
pub async fn over_deep_stored_metadata_is_readable_and_repairable<S: Store + Harness>(s: &S) {
    let (p, w) = setup(s).await;
    s.update_git_state(w.id, &state(1, 0, 0)).await.unwrap();
    let deep = format!(
        "{{\"keep\": 1, \"a\": {}\"v\"{}}}",
        "{\"a\": ".repeat(200),
        "}".repeat(200)
    );
    s.raw_metadata("worktrees", w.id, deep.clone()).await;
    s.raw_metadata("projects", p.id, deep).await;

    let listed = s.list_worktrees(&WorktreeFilter::default()).await.unwrap();
    let got = listed.iter().find(|x| x.id == w.id).unwrap();
    assert_eq!(got.metadata["keep"], json!(1));
    assert!(got.metadata["a"][imi_core::metadata::UNREADABLE].is_string());
    s.get_worktree(w.id).await.unwrap();
    s.get_project(p.id).await.unwrap();
    s.list_projects(true).await.unwrap();
    assert_eq!(s.inflight(None).await.unwrap().len(), 1);
    let snap = s.export_snapshot().await.unwrap();
    assert_eq!(snap.worktrees.len(), 1);
    let whole = s
        .metadata_get(MetadataTarget::Worktree(w.id), None)
        .await
        .unwrap();
    assert_eq!(whole.unwrap()["keep"], json!(1));
    // a write would replace the unreadable value with its marker: refused
    let e = assert_kind(
        s.metadata_set(MetadataTarget::Worktree(w.id), "other", json!(2))
            .await,
        ErrorKind::Validation,
    );
    assert!(e.hint.as_deref().unwrap_or("").contains("unset"), "{e:?}");
    // the repair: the deepest key (the finding's own key), then the whole value
    let key = vec!["a"; 201].join(".");
    assert!(
        s.metadata_unset(MetadataTarget::Worktree(w.id), &key)
            .await
            .unwrap()
    );
    assert!(
        s.metadata_unset(MetadataTarget::Worktree(w.id), "a")
            .await
            .unwrap()
    );
    assert!(
        s.metadata_unset(MetadataTarget::Project(p.id), "a")
            .await
            .unwrap()
    );
    assert_eq!(
        s.metadata_get(MetadataTarget::Worktree(w.id), None)
            .await
            .unwrap(),
        Some(json!({"keep": 1}))
    );
    s.metadata_set(MetadataTarget::Worktree(w.id), "other", json!(2))
        .await
        .unwrap();
    assert_eq!(
        s.get_project(p.id).await.unwrap().metadata,
        json!({"keep": 1}).as_object().unwrap().clone()
    );
}

/// Day counts beyond 100 years are `VALIDATION_ERROR` on both backends (PostgreSQL
/// used to fail with a timestamp overflow, SQLite silently deleted nothing).
pub async fn retention_day_counts_are_bounded<S: Store>(s: &S) {
    setup(s).await;
    for days in [100_000_000, 36_501, i32::MAX] {
        let e = assert_kind(s.cleanup_old_activities(days).await, ErrorKind::Validation);
        assert!(e.hint.is_some());
        assert_kind(
            s.prune_inactive_worktrees(days).await,
            ErrorKind::Validation,
        );
    }
    assert_eq!(s.cleanup_old_activities(36_500).await.unwrap(), 0);
    assert_eq!(s.prune_inactive_worktrees(36_500).await.unwrap(), 0);
}
