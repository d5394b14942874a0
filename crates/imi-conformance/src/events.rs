//! The event log (SPEC §7.2), the same on every backend: one event per change, in
//! commit order, with gap-free ids; none for a change that rolled back; read by id,
//! type and project; kept as long as the activities.

use imi_core::{
    Event, EventFilter, GitState, MetadataTarget, NewActivity, NewClaim, NewWorktree,
    NewWorktreeType, ReleaseScope, Store,
};
use serde_json::json;

use crate::Harness;
use crate::scenarios::{project, worktree};

fn all_after(after: i64) -> EventFilter {
    EventFilter {
        after: Some(after),
        limit: 10_000,
        ..Default::default()
    }
}

async fn events_after<S: Store>(s: &S, after: i64) -> Vec<Event> {
    s.events(&all_after(after)).await.unwrap()
}

fn types(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[track_caller]
fn assert_gap_free(events: &[Event], first: i64) {
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let want: Vec<i64> = (first..first + ids.len() as i64).collect();
    assert_eq!(ids, want, "event ids are not gap-free from {first}");
}

/// A scripted sequence of every kind of change yields exactly the expected events,
/// in commit order, with ids 1, 2, 3, ... and the names, agent and host of each.
pub async fn events_record_every_change_in_commit_order<S: Store>(s: &S) {
    assert_eq!(s.last_event_id().await.unwrap(), 0);
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    let w = s
        .register_worktree(&NewWorktree {
            agent_id: Some("agent-a".into()),
            ..worktree(&p, "feat", "login")
        })
        .await
        .unwrap();
    let state = GitState {
        uncommitted_count: Some(2),
        ahead: Some(1),
        behind: Some(0),
        last_commit_hash: Some("abc123".into()),
        last_commit_message: Some("wip".into()),
    };
    s.update_git_state(w.id, &state).await.unwrap();
    // the same state again is no change: no event
    s.update_git_state(w.id, &state).await.unwrap();
    s.metadata_set(MetadataTarget::Worktree(w.id), "ticket", json!(42))
        .await
        .unwrap();
    s.log_activity(&NewActivity {
        agent_id: "agent-a".into(),
        worktree_id: Some(w.id),
        activity_type: "committed".into(),
        description: Some("first commit".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    s.log_activity(&NewActivity {
        agent_id: "agent-a".into(),
        worktree_id: Some(w.id),
        activity_type: "claimed".into(),
        description: Some("said so in the log".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let claim = |agent: &str, ttl| NewClaim {
        worktree_id: w.id,
        agent_id: agent.into(),
        ttl_seconds: ttl,
        purpose: Some("login form".into()),
    };
    s.claim(&claim("agent-a", Some(1))).await.unwrap();
    s.renew_claim(w.id, "agent-a", 1, Some(1)).await.unwrap();
    // agent-b takes over once the one-second lease has ended
    let stolen = loop {
        match s.claim(&claim("agent-b", None)).await {
            Ok(g) => break g,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    };
    assert_eq!(stolen.claim.epoch, 2);
    s.release_claim(w.id, "agent-b", ReleaseScope::Epoch(2))
        .await
        .unwrap();
    s.add_type(&NewWorktreeType {
        name: "spike".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    s.remove_type("spike").await.unwrap();
    s.mark_merged(w.id, "agent-a", Some("def456"))
        .await
        .unwrap();
    s.deactivate_worktree(w.id).await.unwrap();
    s.deactivate_project(p.id).await.unwrap();

    let events = events_after(s, 0).await;
    assert_eq!(
        types(&events),
        [
            "imi.project.registered",
            "imi.worktree.created",
            "imi.worktree.git_state",
            "imi.worktree.metadata",
            "imi.activity.logged",
            // a line logged by hand, of a claim's type but with no epoch
            "imi.activity.logged",
            // a claim change is one event: its activity line logs none of its own
            "imi.claim.claimed",
            "imi.claim.renewed",
            "imi.claim.stolen",
            "imi.claim.released",
            "imi.type.added",
            "imi.type.removed",
            "imi.worktree.merged",
            "imi.worktree.removed",
            "imi.project.deactivated",
        ],
        "{events:#?}"
    );
    assert_gap_free(&events, 1);
    assert_eq!(s.last_event_id().await.unwrap(), events.last().unwrap().id);
    // what each names
    let by_type = |t: &str| events.iter().find(|e| e.event_type == t).unwrap();
    let created = by_type("imi.worktree.created");
    assert_eq!(created.project_id, Some(p.id));
    assert_eq!(created.project_name.as_deref(), Some("app"));
    assert_eq!(created.worktree_id, Some(w.id));
    assert_eq!(created.worktree_name.as_deref(), Some("feat-login"));
    assert_eq!(created.agent_id.as_deref(), Some("agent-a"));
    assert_eq!(created.host.as_deref(), Some(w.host.as_str()));
    assert_eq!(created.payload["branch"], json!("feat/login"));
    let git = by_type("imi.worktree.git_state");
    assert_eq!(git.payload["uncommitted_files_count"], json!(2));
    assert_eq!(git.payload["ahead_of_trunk"], json!(1));
    assert_eq!(git.payload["last_commit_hash"], json!("abc123"));
    let stolen = by_type("imi.claim.stolen");
    assert_eq!(stolen.agent_id.as_deref(), Some("agent-b"));
    assert_eq!(stolen.payload["stolen_from"], json!("agent-a"));
    assert_eq!(stolen.payload["epoch"], json!(2));
    assert_eq!(stolen.payload["purpose"], json!("login form"));
    let logged = &events[4];
    assert_eq!(logged.payload["activity_type"], json!("committed"));
    assert_eq!(logged.payload["description"], json!("first commit"));
    assert_eq!(events[5].payload["activity_type"], json!("claimed"));
    assert_eq!(
        events[5].payload["description"],
        json!("said so in the log")
    );
    let merged = by_type("imi.worktree.merged");
    assert_eq!(merged.payload["merge_commit_hash"], json!("def456"));
    assert_eq!(by_type("imi.type.added").payload["name"], json!("spike"));
    // keys without a value are left out, on every backend
    assert!(
        !by_type("imi.claim.claimed")
            .payload
            .contains_key("stolen_from")
    );
    assert!(
        events
            .windows(2)
            .all(|p| p[0].created_at <= p[1].created_at)
    );

    // a worktree registered again on its host is created again
    let again = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    s.register_worktree(&worktree(&again, "feat", "login"))
        .await
        .unwrap();
    let more = events_after(s, events.last().unwrap().id).await;
    assert_eq!(
        types(&more),
        ["imi.project.reactivated", "imi.worktree.created"],
        "{more:#?}"
    );
    assert_eq!(more[1].payload["reactivated"], json!(true));
    assert_gap_free(&more, events.last().unwrap().id + 1);
}

/// A change that rolls back leaves no event and takes no id: the next committed
/// change gets the next id.
pub async fn events_of_a_rolled_back_change_do_not_exist<S: Store>(s: &S) {
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    let w = s
        .register_worktree(&worktree(&p, "feat", "login"))
        .await
        .unwrap();
    let before = s.last_event_id().await.unwrap();
    let changed = GitState {
        uncommitted_count: Some(3),
        ..Default::default()
    };
    // one batch: the first update is written, the second fails, all roll back
    let batch = [
        (w.id, changed.clone()),
        (uuid::Uuid::new_v4(), changed.clone()),
    ];
    assert!(s.update_git_states(&batch).await.is_err());
    assert_eq!(
        s.get_worktree(w.id).await.unwrap().uncommitted_files_count,
        0
    );
    // refused calls: nothing written, nothing logged
    assert!(
        s.register_worktree(&worktree(&p, "nosuchtype", "x"))
            .await
            .is_err()
    );
    assert!(
        s.claim(&NewClaim {
            worktree_id: w.id,
            agent_id: " ".into(),
            ..Default::default()
        })
        .await
        .is_err()
    );
    assert_eq!(s.last_event_id().await.unwrap(), before);
    s.update_git_state(w.id, &changed).await.unwrap();
    let after = events_after(s, before).await;
    assert_eq!(types(&after), ["imi.worktree.git_state"]);
    assert_eq!(after[0].id, before + 1, "a rolled-back change took an id");
}

/// Reading: after an id (oldest first, `limit` at most), the latest `limit`, by
/// type (exact or prefix) and by project; bad filters are refused.
pub async fn events_are_read_by_id_type_and_project<S: Store>(s: &S) {
    let a = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    let b = s
        .register_project(&project("lib", Some("https://github.com/acme/lib")))
        .await
        .unwrap();
    let wa = s
        .register_worktree(&worktree(&a, "feat", "one"))
        .await
        .unwrap();
    s.register_worktree(&worktree(&b, "fix", "two"))
        .await
        .unwrap();
    s.claim(&NewClaim {
        worktree_id: wa.id,
        agent_id: "agent-a".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    s.log_activity(&NewActivity {
        agent_id: "agent-a".into(),
        worktree_id: Some(wa.id),
        activity_type: "committed".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // two projects, two worktrees, the claim (one event: its activity line logs
    // none) and the activity
    let all = events_after(s, 0).await;
    assert_eq!(all.len(), 6, "{all:#?}");

    let page = s
        .events(&EventFilter {
            after: Some(1),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
    let latest = s
        .events(&EventFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(latest.iter().map(|e| e.id).collect::<Vec<_>>(), [5, 6]);
    let claims = s
        .events(&EventFilter {
            after: Some(0),
            types: vec!["imi.claim.".into()],
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(types(&claims), ["imi.claim.claimed"]);
    let of_b = s
        .events(&EventFilter {
            after: Some(0),
            project_id: Some(b.id),
            types: vec![
                "imi.project.registered".into(),
                "imi.worktree.created".into(),
            ],
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        types(&of_b),
        ["imi.project.registered", "imi.worktree.created"]
    );
    assert!(of_b.iter().all(|e| e.project_id == Some(b.id)));
    assert!(events_after(s, 6).await.is_empty());

    for bad in [
        EventFilter {
            types: vec!["imi.claim.taken".into()],
            limit: 10,
            ..Default::default()
        },
        EventFilter {
            limit: 0,
            ..Default::default()
        },
        EventFilter {
            after: Some(-3),
            limit: 10,
            ..Default::default()
        },
    ] {
        let e = s.events(&bad).await.unwrap_err();
        assert_eq!(e.kind, imi_core::ErrorKind::Validation, "{e:?}");
    }
}

/// Retention: `cleanup_old_activities` deletes the events of the same age; ids are
/// never reused.
pub async fn events_are_kept_as_long_as_activities<S: Harness>(s: &S) {
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    s.register_worktree(&worktree(&p, "feat", "one"))
        .await
        .unwrap();
    s.backdate_event(1, 100).await;
    s.cleanup_old_activities(90).await.unwrap();
    let left = events_after(s, 0).await;
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), [2]);
    s.register_worktree(&worktree(&p, "feat", "two"))
        .await
        .unwrap();
    assert_eq!(s.last_event_id().await.unwrap(), 3);
}

/// An import writes one event for the whole import, not one per row.
pub async fn events_of_an_import_are_one<S: Store>(s: &S) {
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    s.register_worktree(&worktree(&p, "feat", "one"))
        .await
        .unwrap();
    let mut snap = s.export_snapshot().await.unwrap();
    // a second registry's rows: the same snapshot with new ids and names
    for pr in &mut snap.projects {
        pr.id = uuid::Uuid::new_v4();
        pr.name = "copy".into();
        pr.remote_origin = Some("https://github.com/acme/copy".into());
        pr.origin_key = "github.com/acme/copy".into();
        pr.trunk_path = "/code/copy/trunk-main".into();
    }
    let pid = snap.projects[0].id;
    for w in &mut snap.worktrees {
        w.id = uuid::Uuid::new_v4();
        w.project_id = pid;
        w.path = format!("/code/copy/{}", w.name);
    }
    snap.activities.clear();
    let before = s.last_event_id().await.unwrap();
    s.import_snapshot(&snap, Default::default()).await.unwrap();
    let after = events_after(s, before).await;
    assert_eq!(types(&after), ["imi.registry.imported"], "{after:#?}");
    assert_eq!(after[0].payload["projects"], json!(1));
    assert_eq!(after[0].payload["worktrees"], json!(1));
}

/// Many connections write at once while a follower reads `id > last` in a loop: the
/// follower sees every event exactly once, ids strictly increasing and gap-free
/// (ids are in commit order, so a smaller id never commits after a larger one was
/// read). `stores` are connections to one registry; the first one reads.
pub async fn events_stay_in_commit_order_under_concurrent_writers<S: Store>(stores: &[S]) {
    const EACH: usize = 40;
    let s = &stores[0];
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    // a worktree per writer: no row lock of their own orders the writers
    let mut ws = Vec::new();
    for i in 1..stores.len() {
        ws.push(
            s.register_worktree(&worktree(&p, "feat", &format!("w{i}")))
                .await
                .unwrap(),
        );
    }
    let start = s.last_event_id().await.unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = futures::future::join_all(stores[1..].iter().enumerate().map(|(i, st)| {
        let w = &ws[i];
        async move {
            for n in 0..EACH {
                st.log_activity(&NewActivity {
                    agent_id: format!("writer-{i}"),
                    worktree_id: Some(w.id),
                    activity_type: "other".into(),
                    description: Some(format!("{n}")),
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        }
    }));
    let reader = async {
        let mut seen = Vec::new();
        let mut last = start;
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            for e in events_after(s, last).await {
                seen.push(e.id);
                last = e.id;
            }
            if finished {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let writers = async {
        writers.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let ((), seen) = tokio::join!(writers, reader);
    let total = (stores.len() - 1) * EACH;
    let want: Vec<i64> = (start + 1..=start + total as i64).collect();
    assert_eq!(
        seen, want,
        "the follower missed, repeated or reordered events"
    );
}

/// Hook approvals (SPEC §10): keyed by project identity and the hash of the exact
/// command; approving twice keeps the first; revoking ends it; each is an event.
pub async fn hook_approvals_are_keyed_by_identity_and_command<S: Store>(s: &S) {
    use imi_core::NewHookApproval;
    use imi_core::hooks::command_hash;
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    let key = p.origin_key.clone();
    let approve = |by: &str, command: &str| NewHookApproval {
        project_key: key.clone(),
        command: command.into(),
        approved_by: by.into(),
    };
    assert!(
        s.hook_approval(&key, &command_hash("npm ci"))
            .await
            .unwrap()
            .is_none()
    );
    let first = s.approve_hook(&approve("agent-a", "npm ci")).await.unwrap();
    assert_eq!(first.command_hash, command_hash("npm ci"));
    assert_eq!(first.approved_by, "agent-a");
    let again = s.approve_hook(&approve("agent-b", "npm ci")).await.unwrap();
    assert_eq!(again, first, "approving again keeps the first approval");
    assert!(
        s.hook_approval(&key, &command_hash("npm ci"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.hook_approval(&key, &command_hash("npm ci "))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.hook_approval("github.com/acme/other", &command_hash("npm ci"))
            .await
            .unwrap()
            .is_none()
    );
    s.approve_hook(&approve("agent-a", "make")).await.unwrap();
    let all = s.list_hook_approvals(Some(&key)).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.command.as_str()).collect::<Vec<_>>(),
        ["make", "npm ci"]
    );
    assert!(s.revoke_hook(&key, &command_hash("npm ci")).await.unwrap());
    assert!(!s.revoke_hook(&key, &command_hash("npm ci")).await.unwrap());
    assert!(
        s.hook_approval(&key, &command_hash("npm ci"))
            .await
            .unwrap()
            .is_none()
    );
    for bad in [
        approve(" ", "x"),
        approve("a", ""),
        approve("a", &"x".repeat(20_000)),
    ] {
        let e = s.approve_hook(&bad).await.unwrap_err();
        assert_eq!(e.kind, imi_core::ErrorKind::Validation, "{e:?}");
    }
    let events = s
        .events(&EventFilter {
            after: Some(0),
            types: vec!["imi.hook.".into()],
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        types(&events),
        ["imi.hook.approved", "imi.hook.approved", "imi.hook.revoked"]
    );
    assert_eq!(events[0].project_id, Some(p.id));
    assert_eq!(events[0].agent_id.as_deref(), Some("agent-a"));
    assert_eq!(events[0].payload["command"], json!("npm ci"));
}
