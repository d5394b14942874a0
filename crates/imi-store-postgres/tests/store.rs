//! Every `Store` method of `PgStore` works (the cross-backend scenarios live in the
//! conformance suite).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure should stop the test loudly

mod common;

use std::sync::Arc;

use common::{HOST, store};
use imi_core::{
    ErrorKind, GitState, MetadataTarget, NewActivity, NewProject, NewWorktree, NewWorktreeType,
    Store, WorkStatus, WorktreeFilter,
};
use serde_json::json;
use uuid::Uuid;

fn new_project(name: &str, remote: Option<&str>) -> NewProject {
    NewProject {
        name: name.to_string(),
        remote_origin: remote.map(str::to_string),
        default_branch: None,
        trunk_path: format!("/code/{name}/trunk-main"),
        description: None,
        metadata: Default::default(),
    }
}

#[tokio::test]
async fn projects() {
    let Some((_db, s)) = store().await else {
        return;
    };
    assert_eq!(s.backend(), "postgres");
    assert_eq!(s.host(), HOST);
    s.ping().await.unwrap();

    let mut np = new_project("alpha", Some("https://user:tok@github.com/Owner/Alpha.git"));
    np.metadata = json!({"a": 1}).as_object().unwrap().clone();
    let p = s.register_project(&np).await.unwrap();
    assert_eq!(p.origin_key, "github.com/owner/alpha");
    assert_eq!(
        p.remote_origin.as_deref(),
        Some("https://github.com/Owner/Alpha.git")
    );
    assert_eq!(p.default_branch, "main");
    assert!(p.active);

    // same project, other form; values applied, metadata merged
    let mut again = new_project("alpha2", Some("git@github.com:owner/alpha"));
    again.default_branch = Some("dev".into());
    again.description = Some("desc".into());
    again.metadata = json!({"b": 2}).as_object().unwrap().clone();
    let p2 = s.register_project(&again).await.unwrap();
    assert_eq!(p2.id, p.id);
    assert_eq!(p2.name, "alpha2");
    assert_eq!(p2.default_branch, "dev");
    assert_eq!(p2.description.as_deref(), Some("desc"));
    assert_eq!(
        serde_json::Value::Object(p2.metadata.clone()),
        json!({"a": 1, "b": 2})
    );
    assert!(p2.updated_at >= p.updated_at);

    assert_eq!(s.get_project(p.id).await.unwrap().id, p.id);
    assert_eq!(
        s.get_project(Uuid::new_v4()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_project_by_origin("ssh://git@github.com:22/OWNER/alpha.git")
            .await
            .unwrap()
            .id,
        p.id
    );
    assert_eq!(
        s.get_project_by_origin("github.com:nobody/none")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_project_by_origin("svn://x/y").await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(s.get_project_by_name("alpha2").await.unwrap().id, p.id);
    assert_eq!(
        s.get_project_by_name("nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // no remote: keyed by trunk path
    let local = s
        .register_project(&new_project("alpha2", None))
        .await
        .unwrap();
    assert_eq!(local.origin_key, "/code/alpha2/trunk-main");
    assert!(local.remote_origin.is_none());
    assert_eq!(
        s.get_project_by_origin("/code/alpha2/trunk-main/")
            .await
            .unwrap()
            .id,
        local.id
    );
    assert_eq!(
        s.get_project_by_name("alpha2").await.unwrap_err().kind,
        ErrorKind::Conflict
    );

    let names: Vec<String> = s
        .list_projects(false)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["alpha2", "alpha2"]);

    let found = s.search_projects("alpha").await.unwrap();
    assert!(found.iter().any(|m| m.id == p.id && m.relevance >= 0.5));
    // an empty query lists the active projects
    assert_eq!(s.search_projects("  ").await.unwrap().len(), 2);

    // deactivate / reactivate keeps the id and applies given values
    s.deactivate_project(p.id).await.unwrap();
    s.deactivate_project(p.id).await.unwrap();
    assert_eq!(
        s.deactivate_project(Uuid::new_v4()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(s.list_projects(false).await.unwrap().len(), 1);
    assert_eq!(s.list_projects(true).await.unwrap().len(), 2);
    // lookup by remote finds active projects only
    assert_eq!(
        s.get_project_by_origin("github.com:owner/alpha")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    let mut back = new_project("alpha", Some("github.com:owner/alpha"));
    back.trunk_path = "/elsewhere/trunk-dev".into();
    let p3 = s.register_project(&back).await.unwrap();
    assert_eq!(p3.id, p.id);
    assert!(p3.active);
    assert_eq!(p3.trunk_path, "/elsewhere/trunk-dev");
    assert_eq!(p3.default_branch, "dev", "None keeps the branch");

    // validation writes nothing
    for bad in [
        new_project("", Some("git@h:o/r")),
        new_project("x", Some("https://")),
        NewProject {
            trunk_path: " ".into(),
            ..new_project("x", None)
        },
        NewProject {
            default_branch: Some(String::new()),
            ..new_project("x", None)
        },
    ] {
        assert_eq!(
            s.register_project(&bad).await.unwrap_err().kind,
            ErrorKind::Validation
        );
    }
    assert_eq!(s.list_projects(true).await.unwrap().len(), 2);
}

#[tokio::test]
async fn concurrent_registration_yields_one_project() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let s = Arc::new(s);
    let forms = [
        "git@github.com:Owner/Race.git",
        "https://github.com/owner/race",
        "ssh://git@github.com:22/Owner/Race.git",
        "https://user:token@github.com/owner/race.git/",
    ];
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        let remote = forms[i % forms.len()].to_string();
        tasks.push(tokio::spawn(async move {
            s.register_project(&new_project("race", Some(&remote)))
                .await
                .unwrap()
                .id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(s.list_projects(true).await.unwrap().len(), 1);
}

#[tokio::test]
async fn worktrees() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let p = common::project(&s, "beta").await;
    let nw = NewWorktree {
        project_id: p.id,
        type_name: "feat".into(),
        name: "feat-auth".into(),
        branch_name: "feat/auth".into(),
        path: "/code/beta/feat-auth".into(),
        host: None,
        agent_id: Some("agent-1".into()),
        metadata: json!({"t": 1}).as_object().unwrap().clone(),
    };
    let w = s.register_worktree(&nw).await.unwrap();
    assert_eq!(w.host, HOST);
    assert_eq!(w.type_name, "feat");
    assert_eq!(w.status(), WorkStatus::Clean);
    assert_eq!(
        s.register_worktree(&nw).await.unwrap().id,
        w.id,
        "idempotent"
    );
    // same name elsewhere, other name same path: conflicts
    let elsewhere = NewWorktree {
        path: "/other".into(),
        ..nw.clone()
    };
    assert_eq!(
        s.register_worktree(&elsewhere).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    let same_path = NewWorktree {
        name: "feat-other".into(),
        ..nw.clone()
    };
    assert_eq!(
        s.register_worktree(&same_path).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    // bad input
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
        assert_eq!(
            s.register_worktree(&bad).await.unwrap_err().kind,
            ErrorKind::Validation
        );
    }
    let e = s
        .register_worktree(&NewWorktree {
            project_id: Uuid::new_v4(),
            ..nw.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);

    // another host: explicit host, same path allowed
    let remote_host = NewWorktree {
        name: "fix-remote".into(),
        type_name: "fix".into(),
        host: Some("box2".into()),
        ..nw.clone()
    };
    let w2 = s.register_worktree(&remote_host).await.unwrap();
    assert_eq!(w2.host, "box2");

    // lookups
    assert_eq!(s.get_worktree(w.id).await.unwrap().name, "feat-auth");
    assert_eq!(
        s.get_worktree(Uuid::new_v4()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_worktree_by_path("/code/beta/feat-auth/")
            .await
            .unwrap()
            .id,
        w.id
    );
    assert_eq!(
        s.get_worktree_by_path("/code/beta/nothing")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    // lookups by name are this store's host's: box2's checkout is not found here
    assert_eq!(
        s.get_worktree_by_name(p.id, "fix-remote")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.list_worktrees(&WorktreeFilter::default()).await.unwrap()[1].id,
        w2.id
    );
    assert_eq!(
        s.get_worktree_by_name(p.id, "zzz").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let all = s.list_worktrees(&WorktreeFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["feat-auth", "fix-remote"]
    );
    let f = WorktreeFilter {
        host: Some("box2".into()),
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&f).await.unwrap().len(), 1);
    let f = WorktreeFilter {
        type_name: Some("feat".into()),
        agent_id: Some("agent-1".into()),
        project_id: Some(p.id),
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&f).await.unwrap().len(), 1);

    // git state
    let st = GitState {
        uncommitted_count: Some(2),
        ahead: Some(1),
        last_commit_hash: Some("abc".into()),
        ..Default::default()
    };
    let u = s.update_git_state(w.id, &st).await.unwrap();
    assert!(u.has_uncommitted_changes && u.last_sync_at.is_some());
    assert_eq!(u.last_commit_hash.as_deref(), Some("abc"));
    let u = s
        .update_git_state(
            w.id,
            &GitState {
                uncommitted_count: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!u.has_uncommitted_changes);
    assert_eq!(u.ahead_of_trunk, 1, "None leaves a field unchanged");
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
                behind: Some(3),
                ..Default::default()
            },
        ),
        (
            w2.id,
            GitState {
                uncommitted_count: Some(5),
                ..Default::default()
            },
        ),
        (
            w.id,
            GitState {
                ahead: Some(7),
                ..Default::default()
            },
        ),
    ];
    s.update_git_states(&batch).await.unwrap();
    let a = s.get_worktree(w.id).await.unwrap();
    assert_eq!((a.ahead_of_trunk, a.behind_trunk), (7, 3));
    assert_eq!(
        s.get_worktree(w2.id).await.unwrap().uncommitted_files_count,
        5
    );
    let failing = vec![
        (
            w.id,
            GitState {
                behind: Some(0),
                ..Default::default()
            },
        ),
        (
            Uuid::new_v4(),
            GitState {
                ahead: Some(1),
                ..Default::default()
            },
        ),
    ];
    assert_eq!(
        s.update_git_states(&failing).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_worktree(w.id).await.unwrap().behind_trunk,
        3,
        "nothing written"
    );
    s.update_git_states(&[]).await.unwrap();

    // inflight, working path, stats
    let inflight = s.inflight(None).await.unwrap();
    assert_eq!(inflight.len(), 2);
    let mine = inflight.iter().find(|i| i.worktree_id == w.id).unwrap();
    assert_eq!(mine.status, WorkStatus::Diverged);
    assert_eq!(mine.project_name, "beta");
    assert_eq!((mine.ahead, mine.behind), (7, 3));
    assert_eq!(s.inflight(Some(p.id)).await.unwrap().len(), 2);
    assert_eq!(s.inflight(Some(Uuid::new_v4())).await.unwrap().len(), 0);
    assert_eq!(
        s.working_path(p.id, None).await.unwrap(),
        "/code/beta/trunk-main"
    );
    assert_eq!(
        s.working_path(p.id, Some("feat-x")).await.unwrap(),
        "/code/beta/feat-x"
    );
    assert_eq!(
        s.working_path(p.id, Some("../x")).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.working_path(Uuid::new_v4(), None).await.unwrap_err().kind,
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

    // merge, deactivate, reactivate
    let m = s.mark_merged(w.id, "agent-1", Some("fff")).await.unwrap();
    assert!(!m.active && m.merged_at.is_some());
    assert_eq!(m.merge_commit_hash.as_deref(), Some("fff"));
    assert_eq!(
        s.mark_merged(w.id, " ", None).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.mark_merged(Uuid::new_v4(), "x", None)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    let r = s
        .register_worktree(&NewWorktree {
            agent_id: None,
            ..nw.clone()
        })
        .await
        .unwrap();
    assert_eq!(r.id, w.id);
    assert!(r.active && r.merged_at.is_none() && r.agent_id.is_none());
    assert_eq!(
        (r.uncommitted_files_count, r.ahead_of_trunk, r.behind_trunk),
        (0, 0, 0)
    );
    assert!(r.last_commit_hash.is_none() && r.last_sync_at.is_none());
    s.deactivate_worktree(w2.id).await.unwrap();
    s.deactivate_worktree(w2.id).await.unwrap();
    assert_eq!(
        s.deactivate_worktree(Uuid::new_v4())
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.list_worktrees(&WorktreeFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let f = WorktreeFilter {
        include_inactive: true,
        ..Default::default()
    };
    assert_eq!(s.list_worktrees(&f).await.unwrap().len(), 2);
}

#[tokio::test]
async fn types() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let t = s.list_types().await.unwrap();
    assert_eq!(
        t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["feat", "fix", "aiops", "devops", "review", "trunk"]
    );
    let spike = s
        .add_type(&NewWorktreeType {
            name: "spike".into(),
            description: Some("try".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (spike.branch_prefix.as_str(), spike.worktree_prefix.as_str()),
        ("spike/", "spike-")
    );
    assert!(!spike.is_builtin);
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
            worktree_prefix: Some("".into()),
            ..Default::default()
        },
        NewWorktreeType {
            name: "ok".into(),
            branch_prefix: Some("a b".into()),
            ..Default::default()
        },
    ] {
        assert_eq!(
            s.add_type(&bad).await.unwrap_err().kind,
            ErrorKind::Validation,
            "{bad:?}"
        );
    }
    let empty_branch = s
        .add_type(&NewWorktreeType {
            name: "flat".into(),
            branch_prefix: Some("".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(empty_branch.branch_prefix, "");

    let p = common::project(&s, "gamma").await;
    let w = common::worktree(&s, &p, "spike", "spike-1").await;
    let e = s.remove_type("spike").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("1 active"), "{}", e.message);
    s.deactivate_worktree(w.id).await.unwrap();
    let e = s.remove_type("spike").await.unwrap_err();
    assert!(e.message.contains("1 inactive"), "{}", e.message);
    assert_eq!(
        s.remove_type("feat").await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert_eq!(
        s.remove_type("nosuch").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    s.remove_type("flat").await.unwrap();
    assert_eq!(s.list_types().await.unwrap().len(), 7);
}

#[tokio::test]
async fn metadata() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let p = common::project(&s, "delta").await;
    let w = common::worktree(&s, &p, "feat", "feat-m").await;
    for target in [
        MetadataTarget::Project(p.id),
        MetadataTarget::Worktree(w.id),
    ] {
        let doc = s
            .metadata_set(target, "plane.ticket_id", json!(42))
            .await
            .unwrap();
        assert_eq!(
            serde_json::Value::Object(doc),
            json!({"plane": {"ticket_id": 42}})
        );
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
async fn activities_and_retention() {
    let Some((_db, s)) = store().await else {
        return;
    };
    let p = common::project(&s, "eps").await;
    let w = common::worktree(&s, &p, "feat", "feat-a").await;
    let a = s
        .log_activity(&NewActivity {
            agent_id: "agent-7".into(),
            worktree_id: Some(w.id),
            activity_type: "committed".into(),
            description: Some("c1".into()),
            file_path: Some("src/x.rs".into()),
            metadata: json!({"sha": "abc"}).as_object().unwrap().clone(),
        })
        .await
        .unwrap();
    assert_eq!(a.project_id, Some(p.id));
    assert_eq!(a.project_name.as_deref(), Some("eps"));
    assert_eq!(a.worktree_name.as_deref(), Some("feat-a"));
    assert!(s.get_worktree(w.id).await.unwrap().updated_at >= a.created_at);
    let b = s
        .log_activity(&NewActivity {
            agent_id: "agent-8".into(),
            activity_type: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(b.worktree_id.is_none());
    for bad in [
        NewActivity {
            agent_id: "".into(),
            activity_type: "other".into(),
            ..Default::default()
        },
        NewActivity {
            agent_id: "x".into(),
            activity_type: "danced".into(),
            ..Default::default()
        },
    ] {
        assert_eq!(
            s.log_activity(&bad).await.unwrap_err().kind,
            ErrorKind::Validation
        );
    }
    assert_eq!(
        s.log_activity(&NewActivity {
            agent_id: "x".into(),
            activity_type: "other".into(),
            worktree_id: Some(Uuid::new_v4()),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .kind,
        ErrorKind::NotFound
    );
    let mine = s.recent_activities_by_agent("agent-7", 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0], a);
    let all = s.recent_activities(10).await.unwrap();
    assert_eq!(all.iter().map(|x| x.id).collect::<Vec<_>>(), [b.id, a.id]);
    assert_eq!(s.recent_activities(1).await.unwrap().len(), 1);
    assert_eq!(
        s.recent_activities(0).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.recent_activities_by_agent("a", -1)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Validation
    );
    assert_eq!(s.stats().await.unwrap().activities_last_24h, 2);

    // prune keeps the activity, readable by name
    assert_eq!(
        s.prune_inactive_worktrees(-1).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    assert_eq!(
        s.cleanup_old_activities(-1).await.unwrap_err().kind,
        ErrorKind::Validation
    );
    s.deactivate_worktree(w.id).await.unwrap();
    assert_eq!(s.prune_inactive_worktrees(30).await.unwrap(), 0);
    assert_eq!(s.prune_inactive_worktrees(0).await.unwrap(), 1);
    let kept = s.recent_activities_by_agent("agent-7", 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].worktree_id.is_none());
    assert_eq!(kept[0].worktree_name.as_deref(), Some("feat-a"));
    assert_eq!(s.cleanup_old_activities(1).await.unwrap(), 0);
    assert_eq!(s.cleanup_old_activities(0).await.unwrap(), 2);
    assert!(s.recent_activities(10).await.unwrap().is_empty());
}
