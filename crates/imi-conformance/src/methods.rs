//! Every `Store` method works, one area at a time: the tests each backend crate
//! had for its own store (`imi-store-sqlite/tests/smoke.rs`,
//! `imi-store-postgres/tests/store.rs`), merged into one copy that runs on both.

use std::time::Duration;

use futures::future::join_all;
use imi_core::{
    ErrorKind, GitState, Metadata, MetadataTarget, NewActivity, NewProject, NewWorktree,
    NewWorktreeType, Project, Store, WorkStatus, Worktree, WorktreeFilter,
};
use serde_json::json;
use uuid::Uuid;

use crate::TEST_HOST;

fn obj(v: serde_json::Value) -> Metadata {
    imi_core::metadata::require_object(v).unwrap()
}

fn new_project(name: &str, remote: Option<&str>) -> NewProject {
    crate::scenarios::project(name, remote)
}

/// A worktree named `name` (`feat-login`: branch `feat/login`) at `/code/<project>/<name>`.
fn new_worktree(p: &Project, type_name: &str, name: &str) -> NewWorktree {
    NewWorktree {
        project_id: p.id,
        type_name: type_name.into(),
        name: name.into(),
        branch_name: name.replacen('-', "/", 1),
        path: format!("/code/{}/{name}", p.name),
        ..Default::default()
    }
}

async fn project<S: Store>(s: &S, name: &str) -> Project {
    let remote = format!("https://github.com/acme/{name}.git");
    s.register_project(&new_project(name, Some(&remote)))
        .await
        .unwrap()
}

async fn worktree<S: Store>(s: &S, p: &Project, type_name: &str, name: &str) -> Worktree {
    s.register_worktree(&new_worktree(p, type_name, name))
        .await
        .unwrap()
}

#[track_caller]
fn kind<T: std::fmt::Debug>(r: imi_core::Result<T>) -> ErrorKind {
    r.unwrap_err().kind
}

pub async fn every_project_method_works<S: Store>(s: &S) {
    assert_eq!(s.host(), TEST_HOST);
    s.ping().await.unwrap();

    let mut np = new_project("imi", Some("https://user:token@github.com/Acme/IMI.git/"));
    np.metadata = obj(json!({"a": 1, "b": {"x": 1}}));
    np.description = Some("worktree manager".into());
    let p = s.register_project(&np).await.unwrap();
    assert_eq!(p.origin_key, "github.com/acme/imi");
    assert_eq!(
        p.remote_origin.as_deref(),
        Some("https://github.com/Acme/IMI.git/")
    );
    assert_eq!(p.default_branch, "main");
    assert!(p.active);

    // same remote, other form: same project, values applied, metadata merged
    let mut again = new_project("imi2", Some("git@github.com:acme/imi"));
    again.metadata = obj(json!({"b": 2, "c": 3}));
    again.default_branch = Some("develop".into());
    let p2 = s.register_project(&again).await.unwrap();
    assert_eq!(p2.id, p.id);
    assert_eq!(p2.name, "imi2");
    assert_eq!(p2.default_branch, "develop");
    assert_eq!(p2.description.as_deref(), Some("worktree manager"));
    assert_eq!(p2.metadata, obj(json!({"a": 1, "b": 2, "c": 3})));
    assert_eq!(p2.remote_origin.as_deref(), Some("git@github.com:acme/imi"));
    assert_eq!(p2.created_at, p.created_at);
    assert!(p2.updated_at >= p.updated_at);
    // a given description is applied; no branch keeps the branch
    let mut third = new_project("imi2", Some("git@github.com:acme/imi"));
    third.description = Some("desc".into());
    let p3 = s.register_project(&third).await.unwrap();
    assert_eq!(p3.description.as_deref(), Some("desc"));
    assert_eq!(p3.default_branch, "develop");

    // no remote: keyed by trunk path
    let local = s
        .register_project(&NewProject {
            name: "local".into(),
            trunk_path: "/srv//local/trunk-main/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(local.origin_key, "/srv/local/trunk-main");
    assert_eq!(local.remote_origin, None);

    assert_eq!(s.get_project(p.id).await.unwrap().id, p.id);
    assert_eq!(
        kind(s.get_project(Uuid::new_v4()).await),
        ErrorKind::NotFound
    );
    let by_origin = |remote: &'static str| s.get_project_by_origin(remote);
    assert_eq!(
        by_origin("ssh://git@github.com:22/ACME/imi.git")
            .await
            .unwrap()
            .id,
        p.id
    );
    for path in ["/srv/local/trunk-main", "/srv/local/trunk-main/"] {
        assert_eq!(by_origin(path).await.unwrap().id, local.id);
    }
    for unknown in ["https://github.com/acme/other", "github.com:nobody/none"] {
        assert_eq!(kind(by_origin(unknown).await), ErrorKind::NotFound);
    }
    assert_eq!(kind(by_origin("svn://x/y").await), ErrorKind::Validation);
    assert_eq!(s.get_project_by_name("imi2").await.unwrap().id, p.id);
    assert_eq!(
        kind(s.get_project_by_name("nope").await),
        ErrorKind::NotFound
    );
    s.register_project(&new_project("imi2", Some("https://gitlab.com/x/y")))
        .await
        .unwrap();
    assert_eq!(
        kind(s.get_project_by_name("imi2").await),
        ErrorKind::Conflict
    );

    let all = s.list_projects(false).await.unwrap();
    let names: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["imi2", "imi2", "local"]);

    let found = s.search_projects("imi").await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|m| m.relevance >= 0.5));
    assert!(found.iter().any(|m| m.id == p.id));
    let typo = s.search_projects("locl").await.unwrap();
    assert_eq!(typo.first().map(|m| m.id), Some(local.id));
    assert!(s.search_projects("zzzzqqq").await.unwrap().is_empty());
    // an empty query lists the active projects
    assert_eq!(s.search_projects("  ").await.unwrap().len(), 3);

    // deactivate: project and its worktrees; idempotent; reactivation keeps the id
    let w = worktree(s, &p2, "feat", "feat-x").await;
    s.deactivate_project(p.id).await.unwrap();
    s.deactivate_project(p.id).await.unwrap();
    assert!(!s.get_project(p.id).await.unwrap().active);
    assert!(!s.get_worktree(w.id).await.unwrap().active);
    assert_eq!(s.list_projects(false).await.unwrap().len(), 2);
    assert_eq!(s.list_projects(true).await.unwrap().len(), 3);
    // lookup by remote finds active projects only
    assert_eq!(
        kind(by_origin("github.com/acme/imi").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(s.deactivate_project(Uuid::new_v4()).await),
        ErrorKind::NotFound
    );
    let mut back = new_project("imi", Some("https://github.com/acme/imi"));
    back.trunk_path = "/elsewhere/trunk-dev".into();
    let back = s.register_project(&back).await.unwrap();
    assert_eq!(back.id, p.id);
    assert!(back.active);
    assert_eq!(back.trunk_path, "/elsewhere/trunk-dev");
    assert_eq!(back.default_branch, "develop", "None keeps the branch");

    // bad input writes nothing
    for bad in [
        new_project("", Some("https://github.com/a/b")),
        new_project("x", Some("https://")),
        new_project("x", Some("svn://a/b")),
        NewProject {
            name: "x".into(),
            trunk_path: " ".into(),
            ..Default::default()
        },
        NewProject {
            default_branch: Some(String::new()),
            ..new_project("x", None)
        },
    ] {
        assert_eq!(kind(s.register_project(&bad).await), ErrorKind::Validation);
    }
    assert_eq!(s.list_projects(true).await.unwrap().len(), 3);
}

/// 24 concurrent registrations of four forms of one remote (one with credentials):
/// one project.
pub async fn concurrent_registration_of_four_forms_yields_one_project<S: Store>(s: &S) {
    let forms = [
        "git@github.com:Owner/Race.git",
        "https://github.com/owner/race",
        "ssh://git@github.com:22/Owner/Race.git",
        "https://user:token@github.com/owner/race.git/",
    ];
    let calls = (0..24).map(|i| async move {
        s.register_project(&new_project("race", Some(forms[i % forms.len()])))
            .await
            .unwrap()
            .id
    });
    let mut ids = join_all(calls).await;
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(s.list_projects(true).await.unwrap().len(), 1);
}

pub async fn every_worktree_method_works<S: Store>(s: &S) {
    let p = project(s, "app").await;
    let mut nw = new_worktree(&p, "feat", "feat-login");
    nw.agent_id = Some("agent-1".into());
    nw.metadata = obj(json!({"ticket": 7}));
    let w = s.register_worktree(&nw).await.unwrap();
    assert_eq!(w.type_name, "feat");
    assert_eq!(w.host, TEST_HOST);
    assert!(w.active && !w.has_uncommitted_changes);
    assert_eq!(w.status(), WorkStatus::Clean);
    assert_eq!(w.metadata, obj(json!({"ticket": 7})));

    // idempotent; same name elsewhere is a conflict; same place elsewhere too
    assert_eq!(s.register_worktree(&nw).await.unwrap(), w);
    let mut moved = nw.clone();
    moved.path = "/elsewhere".into();
    assert_eq!(kind(s.register_worktree(&moved).await), ErrorKind::Conflict);
    let mut same_place = new_worktree(&p, "fix", "fix-other");
    same_place.path = w.path.clone();
    let e = s.register_worktree(&same_place).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e:?}");
    assert!(e.message.contains("feat-login"), "{}", e.message);

    // validation
    let e = s
        .register_worktree(&NewWorktree {
            type_name: "nosuch".into(),
            ..nw.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert!(e.message.contains("nosuch"));
    assert_eq!(
        e.hint.as_deref(),
        Some("see the known types with `imi types list`")
    );
    for bad in [
        NewWorktree {
            name: "a b".into(),
            ..nw.clone()
        },
        NewWorktree {
            branch_name: "".into(),
            ..nw.clone()
        },
        NewWorktree {
            path: " ".into(),
            ..nw.clone()
        },
        NewWorktree {
            agent_id: Some("".into()),
            ..nw.clone()
        },
    ] {
        assert_eq!(kind(s.register_worktree(&bad).await), ErrorKind::Validation);
    }
    let mut orphan = new_worktree(&p, "feat", "feat-orphan");
    orphan.project_id = Uuid::new_v4();
    assert_eq!(
        kind(s.register_worktree(&orphan).await),
        ErrorKind::NotFound
    );

    // another host: explicit host, the same path is allowed
    let remote_host = NewWorktree {
        name: "fix-remote".into(),
        type_name: "fix".into(),
        host: Some("box2".into()),
        ..nw.clone()
    };
    let w2 = s.register_worktree(&remote_host).await.unwrap();
    assert_eq!(w2.host, "box2");

    // lookups
    assert_eq!(s.get_worktree(w.id).await.unwrap().id, w.id);
    assert_eq!(
        kind(s.get_worktree(Uuid::new_v4()).await),
        ErrorKind::NotFound
    );
    assert_eq!(s.get_worktree_by_path(&w.path).await.unwrap().id, w.id);
    let slashed = format!("{}/", w.path);
    assert_eq!(s.get_worktree_by_path(&slashed).await.unwrap().id, w.id);
    assert_eq!(
        kind(s.get_worktree_by_path("/nowhere").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_worktree_by_name(p.id, "feat-login").await.unwrap().id,
        w.id
    );
    assert_eq!(
        kind(s.get_worktree_by_name(p.id, "x").await),
        ErrorKind::NotFound
    );
    // lookups by name are this store's host's: box2's checkout is not found here
    assert_eq!(
        kind(s.get_worktree_by_name(p.id, "fix-remote").await),
        ErrorKind::NotFound
    );

    // list with filters
    let all = s.list_worktrees(&WorktreeFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["feat-login", "fix-remote"]
    );
    assert_eq!(all[1].id, w2.id);
    let count = |f: WorktreeFilter| async move { s.list_worktrees(&f).await.unwrap() };
    let fix = count(WorktreeFilter {
        type_name: Some("fix".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(fix[0].id, w2.id);
    let on_box2 = count(WorktreeFilter {
        host: Some("box2".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(on_box2.len(), 1);
    for f in [
        WorktreeFilter {
            agent_id: Some("agent-1".into()),
            project_id: Some(p.id),
            host: Some(TEST_HOST.into()),
            ..Default::default()
        },
        WorktreeFilter {
            type_name: Some("feat".into()),
            agent_id: Some("agent-1".into()),
            project_id: Some(p.id),
            ..Default::default()
        },
    ] {
        assert_eq!(count(f).await.len(), 1);
    }

    // git state
    let st = s
        .update_git_state(
            w.id,
            &GitState {
                uncommitted_count: Some(3),
                ahead: Some(2),
                last_commit_hash: Some("abc".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(st.has_uncommitted_changes);
    let counts = |w: &Worktree| (w.uncommitted_files_count, w.ahead_of_trunk, w.behind_trunk);
    assert_eq!(counts(&st), (3, 2, 0));
    assert!(st.last_sync_at.is_some());
    assert_eq!(st.status(), WorkStatus::Uncommitted);
    let zero = GitState {
        uncommitted_count: Some(0),
        ..Default::default()
    };
    let st = s.update_git_state(w.id, &zero).await.unwrap();
    assert!(!st.has_uncommitted_changes);
    assert_eq!(st.ahead_of_trunk, 2, "None leaves a field unchanged");
    assert_eq!(st.last_commit_hash.as_deref(), Some("abc"));
    let negative = GitState {
        behind: Some(-1),
        ..Default::default()
    };
    assert_eq!(
        kind(s.update_git_state(w.id, &negative).await),
        ErrorKind::Validation
    );
    assert_eq!(
        kind(
            s.update_git_state(Uuid::new_v4(), &GitState::default())
                .await
        ),
        ErrorKind::NotFound
    );

    // batch: all or nothing
    let set = |u: Option<i32>, a: Option<i32>, b: Option<i32>| GitState {
        uncommitted_count: u,
        ahead: a,
        behind: b,
        ..Default::default()
    };
    let batch = vec![
        (w.id, set(None, None, Some(5))),
        (Uuid::new_v4(), GitState::default()),
    ];
    assert_eq!(kind(s.update_git_states(&batch).await), ErrorKind::NotFound);
    assert_eq!(s.get_worktree(w.id).await.unwrap().behind_trunk, 0);
    s.update_git_states(&batch[..1]).await.unwrap();
    assert_eq!(s.get_worktree(w.id).await.unwrap().behind_trunk, 5);
    s.update_git_states(&[]).await.unwrap();

    // in flight
    let inflight = s.inflight(None).await.unwrap();
    assert_eq!(inflight.len(), 1);
    assert_eq!(inflight[0].worktree_id, w.id);
    assert_eq!(inflight[0].status, WorkStatus::Diverged);
    assert_eq!(inflight[0].project_name, "app");
    assert_eq!(s.inflight(Some(p.id)).await.unwrap().len(), 1);
    assert!(s.inflight(Some(Uuid::new_v4())).await.unwrap().is_empty());

    // a batch of several rows, one twice
    let batch = vec![
        (w.id, set(None, None, Some(3))),
        (w2.id, set(Some(5), None, None)),
        (w.id, set(None, Some(7), None)),
    ];
    s.update_git_states(&batch).await.unwrap();
    let a = s.get_worktree(w.id).await.unwrap();
    assert_eq!((a.ahead_of_trunk, a.behind_trunk), (7, 3));
    let b = s.get_worktree(w2.id).await.unwrap();
    assert_eq!(b.uncommitted_files_count, 5);
    let failing = vec![
        (w.id, set(None, None, Some(0))),
        (Uuid::new_v4(), set(None, Some(1), None)),
    ];
    assert_eq!(
        kind(s.update_git_states(&failing).await),
        ErrorKind::NotFound
    );
    let a = s.get_worktree(w.id).await.unwrap();
    assert_eq!(a.behind_trunk, 3, "nothing written");

    // in flight, working path, stats
    let inflight = s.inflight(None).await.unwrap();
    assert_eq!(inflight.len(), 2);
    let mine = inflight.iter().find(|i| i.worktree_id == w.id).unwrap();
    assert_eq!(mine.status, WorkStatus::Diverged);
    assert_eq!(mine.project_name, "app");
    assert_eq!((mine.ahead, mine.behind), (7, 3));
    assert_eq!(s.inflight(Some(p.id)).await.unwrap().len(), 2);
    assert_eq!(s.inflight(Some(Uuid::new_v4())).await.unwrap().len(), 0);
    assert_eq!(
        s.working_path(p.id, None).await.unwrap(),
        "/code/app/trunk-main"
    );
    assert_eq!(
        s.working_path(p.id, Some("feat-x")).await.unwrap(),
        "/code/app/feat-x"
    );
    assert_eq!(
        kind(s.working_path(p.id, Some("../x")).await),
        ErrorKind::Validation
    );
    assert_eq!(
        kind(s.working_path(Uuid::new_v4(), None).await),
        ErrorKind::NotFound
    );
    let st = s.stats().await.unwrap();
    assert_eq!(
        (
            st.total_projects,
            st.active_worktrees,
            st.in_flight_worktrees
        ),
        (1, 2, 2)
    );

    // merge, then re-register: reactivated and cleared
    for nobody in ["", " "] {
        assert_eq!(
            kind(s.mark_merged(w.id, nobody, None).await),
            ErrorKind::Validation
        );
    }
    let m = s
        .mark_merged(w.id, "alice", Some("deadbeef"))
        .await
        .unwrap();
    assert!(!m.active && m.merged_at.is_some());
    assert_eq!(m.merged_by.as_deref(), Some("alice"));
    assert_eq!(m.merge_commit_hash.as_deref(), Some("deadbeef"));
    let left: Vec<Uuid> = s
        .inflight(None)
        .await
        .unwrap()
        .iter()
        .map(|i| i.worktree_id)
        .collect();
    assert_eq!(left, [w2.id], "a merged worktree is no longer in flight");
    assert_eq!(
        kind(s.mark_merged(Uuid::new_v4(), "a", None).await),
        ErrorKind::NotFound
    );
    let mut re = new_worktree(&p, "fix", "feat-login");
    re.path = "/code/app/feat-login-2".into();
    let r = s.register_worktree(&re).await.unwrap();
    assert_eq!(r.id, w.id);
    assert!(r.active);
    assert_eq!(r.type_name, "fix");
    assert_eq!(r.path, "/code/app/feat-login-2");
    assert_eq!(
        (r.merged_at, r.merged_by, r.merge_commit_hash, r.agent_id),
        (None, None, None, None)
    );
    assert_eq!(
        (r.uncommitted_files_count, r.ahead_of_trunk, r.behind_trunk),
        (0, 0, 0)
    );
    assert_eq!((r.last_commit_hash, r.last_sync_at), (None, None));
    assert!(r.metadata.is_empty());

    s.deactivate_worktree(w2.id).await.unwrap();
    s.deactivate_worktree(w2.id).await.unwrap();
    assert!(!s.get_worktree(w2.id).await.unwrap().active);
    assert_eq!(
        kind(s.deactivate_worktree(Uuid::new_v4()).await),
        ErrorKind::NotFound
    );
    let all = WorktreeFilter {
        include_inactive: true,
        ..Default::default()
    };
    assert_eq!(count(all).await.len(), 2);
    assert_eq!(count(WorktreeFilter::default()).await.len(), 1);
}

pub async fn every_type_method_works<S: Store>(s: &S) {
    let types = s.list_types().await.unwrap();
    let names: Vec<_> = types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["feat", "fix", "aiops", "devops", "review", "trunk"]);
    let review = &types[4];
    assert_eq!(
        (
            review.branch_prefix.as_str(),
            review.worktree_prefix.as_str()
        ),
        ("pr-review/", "pr-")
    );
    assert_eq!(review.icon.as_deref(), Some("👀"));
    assert!(types.iter().all(|t| t.is_builtin));
    assert_eq!(types[5].branch_prefix, "");
    assert_eq!(types[5].color.as_deref(), Some("#6B7280"));

    let t = s
        .add_type(&NewWorktreeType {
            name: "spike".into(),
            description: Some("experiments".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (t.branch_prefix.as_str(), t.worktree_prefix.as_str()),
        ("spike/", "spike-")
    );
    assert!(!t.is_builtin);
    let named = |name: &str| NewWorktreeType {
        name: name.into(),
        ..Default::default()
    };
    assert_eq!(kind(s.add_type(&named("spike")).await), ErrorKind::Conflict);
    for bad in [
        named("Bad"),
        NewWorktreeType {
            worktree_prefix: Some("a/b".into()),
            ..named("ok")
        },
        NewWorktreeType {
            worktree_prefix: Some(String::new()),
            ..named("ok")
        },
        NewWorktreeType {
            branch_prefix: Some("a b".into()),
            ..named("ok")
        },
    ] {
        assert_eq!(
            kind(s.add_type(&bad).await),
            ErrorKind::Validation,
            "{bad:?}"
        );
    }
    let flat = NewWorktreeType {
        branch_prefix: Some("".into()),
        ..named("flat")
    };
    assert_eq!(s.add_type(&flat).await.unwrap().branch_prefix, "");

    let p = project(s, "app").await;
    let w = worktree(s, &p, "spike", "spike-x").await;
    let e = s.remove_type("spike").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("1 active"), "{}", e.message);
    s.deactivate_worktree(w.id).await.unwrap();
    let e = s.remove_type("spike").await.unwrap_err();
    assert!(e.message.contains("1 inactive"), "{}", e.message);
    assert_eq!(kind(s.remove_type("feat").await), ErrorKind::Conflict);
    assert_eq!(kind(s.remove_type("nosuch").await), ErrorKind::NotFound);
    s.remove_type("flat").await.unwrap();
    assert_eq!(s.list_types().await.unwrap().len(), 7);
    // "older than 0 days" excludes a row updated in this very instant
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 1);
    s.remove_type("spike").await.unwrap();
    assert_eq!(kind(s.remove_type("spike").await), ErrorKind::NotFound);
    assert_eq!(s.list_types().await.unwrap().len(), 6);
}

pub async fn every_metadata_method_works<S: Store>(s: &S) {
    let p = project(s, "app").await;
    let w = worktree(s, &p, "feat", "feat-a").await;
    for target in [
        MetadataTarget::Project(p.id),
        MetadataTarget::Worktree(w.id),
    ] {
        let doc = s
            .metadata_set(target, "plane.ticket_id", json!(42))
            .await
            .unwrap();
        assert_eq!(doc, obj(json!({"plane": {"ticket_id": 42}})));
        s.metadata_set(target, "plane.board", json!("b"))
            .await
            .unwrap();
        assert_eq!(
            s.metadata_get(target, Some("plane.ticket_id"))
                .await
                .unwrap(),
            Some(json!(42))
        );
        assert_eq!(s.metadata_get(target, Some("nope")).await.unwrap(), None);
        assert_eq!(
            s.metadata_get(target, None).await.unwrap(),
            Some(json!({"plane": {"ticket_id": 42, "board": "b"}}))
        );
        assert!(s.metadata_unset(target, "plane.board").await.unwrap());
        assert!(!s.metadata_unset(target, "plane.board").await.unwrap());
        assert_eq!(
            kind(s.metadata_set(target, "plane.ticket_id.x", json!(1)).await),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind(s.metadata_set(target, "a..b", json!(1)).await),
            ErrorKind::Validation
        );
    }
    assert_eq!(
        s.get_project(p.id).await.unwrap().metadata,
        obj(json!({"plane": {"ticket_id": 42}}))
    );
    for target in [
        MetadataTarget::Project(Uuid::new_v4()),
        MetadataTarget::Worktree(Uuid::new_v4()),
    ] {
        assert_eq!(
            kind(s.metadata_set(target, "a", json!(1)).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(s.metadata_get(target, None).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(s.metadata_unset(target, "a").await),
            ErrorKind::NotFound
        );
    }
}

pub async fn every_activity_and_retention_method_works<S: Store>(s: &S) {
    let p = project(s, "app").await;
    let w = worktree(s, &p, "feat", "feat-a").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let a1 = s
        .log_activity(&NewActivity {
            agent_id: "agent-1".into(),
            worktree_id: Some(w.id),
            activity_type: "created".into(),
            description: Some("made it".into()),
            file_path: Some("src/x.rs".into()),
            metadata: obj(json!({"sha": "abc"})),
        })
        .await
        .unwrap();
    assert_eq!(a1.project_id, Some(p.id));
    assert_eq!(a1.project_name.as_deref(), Some("app"));
    assert_eq!(a1.worktree_name.as_deref(), Some("feat-a"));
    let touched = s.get_worktree(w.id).await.unwrap().updated_at;
    assert!(touched > w.updated_at && touched >= a1.created_at);
    let a2 = s
        .log_activity(&NewActivity {
            agent_id: "agent-2".into(),
            activity_type: "other".into(),
            file_path: Some("src/x.rs".into()),
            metadata: obj(json!({"k": true})),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a2.worktree_id, None);
    assert_eq!(a2.metadata, obj(json!({"k": true})));
    let a3 = s
        .log_activity(&NewActivity {
            agent_id: "agent-1".into(),
            worktree_id: Some(w.id),
            activity_type: "committed".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let activity = |agent: &str, ty: &str, wt: Option<Uuid>| NewActivity {
        agent_id: agent.into(),
        activity_type: ty.into(),
        worktree_id: wt,
        ..Default::default()
    };
    for (bad, want) in [
        (activity("", "other", None), ErrorKind::Validation),
        (activity("a", "danced", None), ErrorKind::Validation),
        (
            activity("a", "other", Some(Uuid::new_v4())),
            ErrorKind::NotFound,
        ),
    ] {
        assert_eq!(kind(s.log_activity(&bad).await), want);
    }

    // read back exactly as written
    let ids = |found: Vec<imi_core::Activity>| found.iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.recent_activities(10).await.unwrap()),
        [a3.id, a2.id, a1.id]
    );
    let mine = s.recent_activities_by_agent("agent-1", 10).await.unwrap();
    assert_eq!(mine, [a3.clone(), a1.clone()]);
    let theirs = s.recent_activities_by_agent("agent-2", 10).await.unwrap();
    assert_eq!(theirs, std::slice::from_ref(&a2));
    assert_eq!(
        s.recent_activities_by_agent("agent-1", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.recent_activities(1).await.unwrap().len(), 1);
    assert_eq!(kind(s.recent_activities(0).await), ErrorKind::Validation);
    assert_eq!(
        kind(s.recent_activities_by_agent("agent-1", -1).await),
        ErrorKind::Validation
    );

    // stats
    let st = s.stats().await.unwrap();
    assert_eq!(
        (
            st.total_projects,
            st.active_projects,
            st.total_worktrees,
            st.active_worktrees,
            st.in_flight_worktrees,
            st.total_activities,
            st.activities_last_24h
        ),
        (1, 1, 1, 1, 0, 3, 3)
    );

    // pruning keeps the activities, readable by name
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 0);
    s.deactivate_worktree(w.id).await.unwrap();
    assert_eq!(s.prune_inactive_worktrees(30).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 1);
    assert_eq!(kind(s.get_worktree(w.id).await), ErrorKind::NotFound);
    let kept = s.recent_activities_by_agent("agent-1", 10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|a| a.worktree_id.is_none()
        && a.worktree_name.as_deref() == Some("feat-a")
        && a.project_name.as_deref() == Some("app")));

    // retention
    assert_eq!(
        kind(s.cleanup_old_activities(-1).await),
        ErrorKind::Validation
    );
    assert_eq!(
        kind(s.prune_inactive_worktrees(-1).await),
        ErrorKind::Validation
    );
    assert_eq!(s.cleanup_old_activities(90).await.unwrap(), 0);
    assert_eq!(s.cleanup_old_activities(1).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.cleanup_old_activities(0).await.unwrap(), 3);
    assert!(s.recent_activities(10).await.unwrap().is_empty());
}
