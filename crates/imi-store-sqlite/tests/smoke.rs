//! One pass over every `Store` method on a temporary registry file.

#![allow(clippy::unwrap_used)] // tests: a failure should stop the test loudly

mod common;

use std::time::Duration;

use common::*;
use imi_core::{
    ErrorKind, GitState, MetadataTarget, NewActivity, NewProject, NewWorktreeType, Store,
    WorkStatus, WorktreeFilter,
};
use serde_json::json;
use uuid::Uuid;

fn obj(v: serde_json::Value) -> imi_core::Metadata {
    imi_core::metadata::require_object(v).unwrap()
}

#[tokio::test]
async fn backend_host_ping() {
    let s = fresh().await;
    assert_eq!(s.backend(), "sqlite");
    assert_eq!(s.host(), HOST);
    s.ping().await.unwrap();
    assert!(s.path().ends_with("registry.db"));
}

#[tokio::test]
async fn projects_register_get_list_search_deactivate() {
    let s = fresh().await;
    let mut np = new_project("imi", "https://user:token@github.com/Acme/IMI.git/");
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
    let mut again = new_project("imi2", "git@github.com:acme/imi");
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
        s.get_project(Uuid::new_v4()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_project_by_origin("ssh://git@github.com:22/ACME/imi.git")
            .await
            .unwrap()
            .id,
        p.id
    );
    assert_eq!(
        s.get_project_by_origin("/srv/local/trunk-main")
            .await
            .unwrap()
            .id,
        local.id
    );
    assert_eq!(
        s.get_project_by_origin("https://github.com/acme/other")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(s.get_project_by_name("imi2").await.unwrap().id, p.id);
    assert_eq!(
        s.get_project_by_name("nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    s.register_project(&new_project("imi2", "https://gitlab.com/x/y"))
        .await
        .unwrap();
    assert_eq!(
        s.get_project_by_name("imi2").await.unwrap_err().kind,
        ErrorKind::Conflict
    );

    let all = s.list_projects(false).await.unwrap();
    let names: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["imi2", "imi2", "local"]);

    let found = s.search_projects("imi").await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|m| m.relevance >= 0.5));
    let typo = s.search_projects("locl").await.unwrap();
    assert_eq!(typo.first().map(|m| m.id), Some(local.id));
    assert!(s.search_projects("zzzzqqq").await.unwrap().is_empty());
    // an empty query lists the active projects
    assert_eq!(s.search_projects("  ").await.unwrap().len(), 3);

    // deactivate: project and its worktrees; idempotent; reactivation keeps the id
    let w = worktree(&s, &p2, "feat-x").await;
    s.deactivate_project(p.id).await.unwrap();
    s.deactivate_project(p.id).await.unwrap();
    assert!(!s.get_project(p.id).await.unwrap().active);
    assert!(!s.get_worktree(w.id).await.unwrap().active);
    assert_eq!(s.list_projects(false).await.unwrap().len(), 2);
    assert_eq!(s.list_projects(true).await.unwrap().len(), 3);
    // lookup by remote finds active projects only
    assert_eq!(
        s.get_project_by_origin("github.com/acme/imi")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.deactivate_project(Uuid::new_v4()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let back = s
        .register_project(&new_project("imi", "https://github.com/acme/imi"))
        .await
        .unwrap();
    assert_eq!(back.id, p.id);
    assert!(back.active);
    assert_eq!(back.default_branch, "develop");

    // bad input writes nothing
    for bad in [
        new_project("", "https://github.com/a/b"),
        new_project("x", "svn://a/b"),
        NewProject {
            name: "x".into(),
            trunk_path: " ".into(),
            ..Default::default()
        },
    ] {
        assert_eq!(
            s.register_project(&bad).await.unwrap_err().kind,
            ErrorKind::Validation
        );
    }
    assert_eq!(s.list_projects(true).await.unwrap().len(), 3);
}

#[tokio::test]
async fn worktrees_register_lookup_list_state_merge() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let mut nw = new_worktree(&p, "feat", "feat-login");
    nw.agent_id = Some("agent-1".into());
    nw.metadata = obj(json!({"ticket": 7}));
    let w = s.register_worktree(&nw).await.unwrap();
    assert_eq!(w.type_name, "feat");
    assert_eq!(w.host, HOST);
    assert!(w.active && !w.has_uncommitted_changes);
    assert_eq!(w.metadata, obj(json!({"ticket": 7})));

    // idempotent; same name elsewhere is a conflict; same place elsewhere too
    assert_eq!(s.register_worktree(&nw).await.unwrap(), w);
    let mut moved = nw.clone();
    moved.path = "/elsewhere".into();
    assert_eq!(
        s.register_worktree(&moved).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    let mut same_place = new_worktree(&p, "fix", "fix-other");
    same_place.path = w.path.clone();
    let e = s.register_worktree(&same_place).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e:?}");
    assert!(e.message.contains("feat-login"), "{}", e.message);

    // validation
    let mut bad = new_worktree(&p, "nope", "feat-a");
    assert_eq!(
        s.register_worktree(&bad).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    bad.type_name = "feat".into();
    bad.name = "a b".into();
    assert_eq!(
        s.register_worktree(&bad).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    let mut orphan = new_worktree(&p, "feat", "feat-orphan");
    orphan.project_id = Uuid::new_v4();
    assert_eq!(
        s.register_worktree(&orphan).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // lookups
    assert_eq!(s.get_worktree(w.id).await.unwrap().id, w.id);
    assert_eq!(
        s.get_worktree(Uuid::new_v4()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(s.get_worktree_by_path(&w.path).await.unwrap().id, w.id);
    assert_eq!(
        s.get_worktree_by_path(&format!("{}/", w.path))
            .await
            .unwrap()
            .id,
        w.id
    );
    assert_eq!(
        s.get_worktree_by_path("/nowhere").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_worktree_by_name(p.id, "feat-login").await.unwrap().id,
        w.id
    );
    assert_eq!(
        s.get_worktree_by_name(p.id, "x").await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // list with filters
    let mut other = new_worktree(&p, "fix", "fix-crash");
    other.host = Some("other-host".into());
    let w2 = s.register_worktree(&other).await.unwrap();
    let all = s.list_worktrees(&WorktreeFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["feat-login", "fix-crash"]
    );
    let f = WorktreeFilter {
        type_name: Some("fix".into()),
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&f).await.unwrap()[0].id, w2.id);
    let f = WorktreeFilter {
        agent_id: Some("agent-1".into()),
        project_id: Some(p.id),
        host: Some(HOST.into()),
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&f).await.unwrap().len(), 1);

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
    assert_eq!(
        (
            st.uncommitted_files_count,
            st.ahead_of_trunk,
            st.behind_trunk
        ),
        (3, 2, 0)
    );
    assert!(st.last_sync_at.is_some());
    assert_eq!(st.status(), WorkStatus::Uncommitted);
    let st = s
        .update_git_state(
            w.id,
            &GitState {
                uncommitted_count: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!st.has_uncommitted_changes);
    assert_eq!(st.ahead_of_trunk, 2);
    assert_eq!(st.last_commit_hash.as_deref(), Some("abc"));
    assert_eq!(
        s.update_git_state(
            w.id,
            &GitState {
                behind: Some(-1),
                ..Default::default()
            }
        )
        .await
        .unwrap_err()
        .kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.update_git_state(Uuid::new_v4(), &GitState::default())
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );

    // batch: all or nothing
    let batch = vec![
        (
            w.id,
            GitState {
                behind: Some(5),
                ..Default::default()
            },
        ),
        (Uuid::new_v4(), GitState::default()),
    ];
    assert_eq!(
        s.update_git_states(&batch).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
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

    // merge, then re-register: reactivated and cleared
    assert_eq!(
        s.mark_merged(w.id, "", None).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    let m = s
        .mark_merged(w.id, "alice", Some("deadbeef"))
        .await
        .unwrap();
    assert!(!m.active && m.merged_at.is_some());
    assert_eq!(m.merged_by.as_deref(), Some("alice"));
    assert!(s.inflight(None).await.unwrap().is_empty());
    assert_eq!(
        s.mark_merged(Uuid::new_v4(), "a", None)
            .await
            .unwrap_err()
            .kind,
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
        s.deactivate_worktree(Uuid::new_v4())
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    let f = WorktreeFilter {
        include_inactive: true,
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&f).await.unwrap().len(), 2);
    assert_eq!(
        s.list_worktrees(&WorktreeFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn types_add_list_remove() {
    let s = fresh().await;
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
    assert_eq!(
        s.add_type(&NewWorktreeType {
            name: "spike".into(),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .kind,
        ErrorKind::Conflict
    );
    for bad in [
        NewWorktreeType {
            name: "Bad".into(),
            ..Default::default()
        },
        NewWorktreeType {
            name: "ok".into(),
            worktree_prefix: Some("a/b".into()),
            ..Default::default()
        },
        NewWorktreeType {
            name: "ok".into(),
            worktree_prefix: Some(String::new()),
            ..Default::default()
        },
    ] {
        assert_eq!(
            s.add_type(&bad).await.unwrap_err().kind,
            ErrorKind::Validation
        );
    }

    let p = project(&s, "app").await;
    let w = s
        .register_worktree(&new_worktree(&p, "spike", "spike-x"))
        .await
        .unwrap();
    let e = s.remove_type("spike").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("1 active"), "{}", e.message);
    s.deactivate_worktree(w.id).await.unwrap();
    let e = s.remove_type("spike").await.unwrap_err();
    assert!(e.message.contains("1 inactive"), "{}", e.message);
    // "older than 0 days" excludes a row updated in this very millisecond
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 1);
    s.remove_type("spike").await.unwrap();
    assert_eq!(
        s.remove_type("spike").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.remove_type("feat").await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert_eq!(s.list_types().await.unwrap().len(), 6);
}

#[tokio::test]
async fn metadata_dotted_keys() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat-a").await;
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
            s.metadata_set(target, "plane.ticket_id.x", json!(1))
                .await
                .unwrap_err()
                .kind,
            ErrorKind::Conflict
        );
        assert_eq!(
            s.metadata_set(target, "a..b", json!(1))
                .await
                .unwrap_err()
                .kind,
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
            s.metadata_set(target, "a", json!(1))
                .await
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            s.metadata_get(target, None).await.unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            s.metadata_unset(target, "a").await.unwrap_err().kind,
            ErrorKind::NotFound
        );
    }
}

#[tokio::test]
async fn activities_log_recent_and_survive_pruning() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    let w = worktree(&s, &p, "feat-a").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let a1 = s
        .log_activity(&NewActivity {
            agent_id: "agent-1".into(),
            worktree_id: Some(w.id),
            activity_type: "created".into(),
            description: Some("made it".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a1.project_id, Some(p.id));
    assert_eq!(a1.project_name.as_deref(), Some("app"));
    assert_eq!(a1.worktree_name.as_deref(), Some("feat-a"));
    assert!(s.get_worktree(w.id).await.unwrap().updated_at > w.updated_at);
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

    for (bad, kind) in [
        (
            NewActivity {
                agent_id: "".into(),
                activity_type: "other".into(),
                ..Default::default()
            },
            ErrorKind::Validation,
        ),
        (
            NewActivity {
                agent_id: "a".into(),
                activity_type: "danced".into(),
                ..Default::default()
            },
            ErrorKind::Validation,
        ),
        (
            NewActivity {
                agent_id: "a".into(),
                activity_type: "other".into(),
                worktree_id: Some(Uuid::new_v4()),
                ..Default::default()
            },
            ErrorKind::NotFound,
        ),
    ] {
        assert_eq!(s.log_activity(&bad).await.unwrap_err().kind, kind);
    }

    let recent = s.recent_activities(10).await.unwrap();
    let ids: Vec<_> = recent.iter().map(|a| a.id).collect();
    assert_eq!(ids, [a3.id, a2.id, a1.id]);
    let mine = s.recent_activities_by_agent("agent-1", 10).await.unwrap();
    assert_eq!(
        mine.iter().map(|a| a.id).collect::<Vec<_>>(),
        [a3.id, a1.id]
    );
    assert_eq!(
        s.recent_activities_by_agent("agent-1", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.recent_activities(0).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.recent_activities_by_agent("agent-1", -1)
            .await
            .unwrap_err()
            .kind,
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

    // pruning keeps the activities, readable
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 0);
    s.deactivate_worktree(w.id).await.unwrap();
    assert_eq!(s.prune_inactive_worktrees(30).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 1);
    assert_eq!(
        s.get_worktree(w.id).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let kept = s.recent_activities_by_agent("agent-1", 10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|a| a.worktree_id.is_none()
        && a.worktree_name.as_deref() == Some("feat-a")
        && a.project_name.as_deref() == Some("app")));

    // retention
    assert_eq!(
        s.cleanup_old_activities(-1).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.prune_inactive_worktrees(-1).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(s.cleanup_old_activities(90).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.cleanup_old_activities(0).await.unwrap(), 3);
    assert!(s.recent_activities(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn working_paths() {
    let s = fresh().await;
    let p = project(&s, "app").await;
    assert_eq!(
        s.working_path(p.id, None).await.unwrap(),
        "/code/app/trunk-main"
    );
    assert_eq!(
        s.working_path(p.id, Some("feat-x")).await.unwrap(),
        "/code/app/feat-x"
    );
    assert_eq!(
        s.working_path(p.id, Some("../etc")).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.working_path(Uuid::new_v4(), None).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    s.deactivate_project(p.id).await.unwrap();
    let e = s.working_path(p.id, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("inactive"), "{}", e.message);
}

#[tokio::test]
async fn reset_and_maintain() {
    let s = fresh().await;
    project(&s, "app").await;
    s.maintain().await.unwrap();
    s.reset().await.unwrap();
    let st = s.schema_status().await.unwrap();
    assert_eq!(st.applied, 0);
    assert_eq!(st.pending, vec![1, 2, 3, 4]);
    imi_core::store::ensure_schema(&s.store).await.unwrap();
    assert!(s.list_projects(true).await.unwrap().is_empty());
    assert_eq!(s.list_types().await.unwrap().len(), 6);
    assert_eq!(s.list_types().await.unwrap()[0].id, 1);
}

#[tokio::test]
async fn open_url_forms() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("nested/dir/r.db");
    let s = imi_store_sqlite::SqliteStore::open_url(&format!("sqlite://{}", abs.display()), "h")
        .await
        .unwrap();
    assert_eq!(s.path(), abs);
    assert!(abs.exists());
    let s2 = imi_store_sqlite::SqliteStore::open_url(&format!("sqlite:{}", abs.display()), "h")
        .await
        .unwrap();
    assert_eq!(s2.path(), abs);
    assert_eq!(
        imi_store_sqlite::SqliteStore::open_url("postgres://x/y", "h")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Validation
    );
    let ro = imi_store_sqlite::SqliteStore::open(std::path::Path::new("/proc/imi/r.db"), "h")
        .await
        .unwrap_err();
    assert_eq!(ro.kind, ErrorKind::Unavailable, "{ro:?}");
}
