//! Every failing store call the suite can provoke, run on each backend: the same
//! code, message and hint everywhere (issue 10). The wording itself lives once, in
//! `imi_core::messages`; this checks that no backend words a refusal its own way.

use imi_core::{
    Error, GitState, MetadataTarget, NewActivity, NewClaim, NewProject, NewWorktree,
    NewWorktreeType, Project, ReleaseScope, Store,
};
use serde_json::json;
use uuid::Uuid;

use crate::scenarios::{project, worktree};

/// An id no registry holds (a project's, a worktree's).
pub const UNKNOWN_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0bad);

/// One refused call: what was called, and the error's code, message and hint with
/// the ids of the rows the scenario made replaced by their names (`<app>`), so that
/// two backends' lists compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub call: &'static str,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

struct Collector {
    ids: Vec<(Uuid, String)>,
    out: Vec<Refusal>,
}

impl Collector {
    fn name(&mut self, id: Uuid, name: &str) {
        self.ids.push((id, format!("<{name}>")));
    }

    fn placeholders(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (id, name) in &self.ids {
            s = s.replace(&id.to_string(), name);
        }
        s
    }

    #[track_caller]
    fn refused<T: std::fmt::Debug>(&mut self, call: &'static str, r: Result<T, Error>) {
        let e = match r {
            Ok(v) => panic!("{call}: expected an error, got Ok({v:?})"),
            Err(e) => e,
        };
        self.out.push(Refusal {
            call,
            code: e.code(),
            message: self.placeholders(&e.message),
            hint: e.hint.as_deref().map(|h| self.placeholders(h)),
        });
    }
}

fn local_project(name: &str) -> NewProject {
    NewProject {
        name: name.into(),
        trunk_path: format!("/srv/{name}/trunk-main"),
        ..Default::default()
    }
}

async fn registered<S: Store>(s: &S, p: &NewProject) -> Project {
    s.register_project(p).await.unwrap()
}

/// Makes the registry the calls below run against and runs every failing call on
/// it; returns the refusals in call order.
pub async fn failing_calls<S: Store>(s: &S) -> Vec<Refusal> {
    let mut c = Collector {
        ids: vec![(UNKNOWN_ID, "<unknown>".into())],
        out: Vec::new(),
    };
    let app = registered(s, &project("app", Some("https://github.com/acme/app"))).await;
    c.name(app.id, "app");
    let w = s
        .register_worktree(&worktree(&app, "feat", "login"))
        .await
        .unwrap();
    c.name(w.id, "feat-login");
    let gone = registered(s, &project("gone", Some("https://github.com/acme/gone"))).await;
    c.name(gone.id, "gone");
    s.deactivate_project(gone.id).await.unwrap();
    let twin_a = registered(s, &project("twin", Some("https://github.com/a/twin"))).await;
    let twin_b = registered(s, &project("twin", Some("https://gitlab.com/b/twin"))).await;
    c.name(twin_a.id, "twin-a");
    c.name(twin_b.id, "twin-b");
    let local = registered(s, &local_project("local")).await;
    c.name(local.id, "local");
    s.add_type(&NewWorktreeType {
        name: "spike".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let spike = s
        .register_worktree(&worktree(&app, "spike", "x"))
        .await
        .unwrap();
    c.name(spike.id, "spike-x");
    let old = s
        .register_worktree(&worktree(&app, "spike", "old"))
        .await
        .unwrap();
    s.deactivate_worktree(old.id).await.unwrap();

    // --- projects -------------------------------------------------------------------
    c.refused("get_project(unknown id)", s.get_project(UNKNOWN_ID).await);
    c.refused(
        "get_project_by_origin(unknown remote)",
        s.get_project_by_origin("https://github.com/acme/nope")
            .await,
    );
    c.refused(
        "get_project_by_origin(unknown remote, other form)",
        s.get_project_by_origin("git@github.com:Acme/Nope.git")
            .await,
    );
    c.refused(
        "get_project_by_origin(unknown trunk path)",
        s.get_project_by_origin("/srv/none/trunk-main").await,
    );
    c.refused(
        "get_project_by_origin(unknown remote with credentials)",
        s.get_project_by_origin("https://user:secret@github.com/acme/nope")
            .await,
    );
    c.refused(
        "get_project_by_origin(unknown scp-like remote)",
        s.get_project_by_origin("github.com:nobody/none").await,
    );
    c.refused(
        "get_project_by_origin(unknown file remote)",
        s.get_project_by_origin("file:///srv/nope.git").await,
    );
    c.refused(
        "get_project_by_origin(relative path)",
        s.get_project_by_origin("relative/dir").await,
    );
    c.refused(
        "get_project_by_origin(deactivated project)",
        s.get_project_by_origin("git@github.com:acme/gone").await,
    );
    c.refused(
        "get_project_by_origin(unsupported remote)",
        s.get_project_by_origin("svn://x/y").await,
    );
    c.refused(
        "get_project_by_origin(empty)",
        s.get_project_by_origin("  ").await,
    );
    c.refused(
        "get_project_by_name(unknown name)",
        s.get_project_by_name("nope").await,
    );
    c.refused(
        "get_project_by_name(deactivated project)",
        s.get_project_by_name("gone").await,
    );
    c.refused(
        "get_project_by_name(shared name)",
        s.get_project_by_name("twin").await,
    );
    c.refused(
        "deactivate_project(unknown id)",
        s.deactivate_project(UNKNOWN_ID).await,
    );
    c.refused(
        "register_project(empty name)",
        s.register_project(&project("", Some("https://github.com/a/b")))
            .await,
    );
    c.refused(
        "register_project(unsupported remote)",
        s.register_project(&project("x", Some("svn://a/b"))).await,
    );

    // --- worktrees ------------------------------------------------------------------
    let nw = worktree(&app, "feat", "login");
    c.refused(
        "register_worktree(unknown type)",
        s.register_worktree(&NewWorktree {
            type_name: "nosuch".into(),
            ..nw.clone()
        })
        .await,
    );
    c.refused(
        "register_worktree(unknown project)",
        s.register_worktree(&NewWorktree {
            project_id: UNKNOWN_ID,
            ..nw.clone()
        })
        .await,
    );
    c.refused(
        "register_worktree(inactive project)",
        s.register_worktree(&worktree(&gone, "feat", "login")).await,
    );
    c.refused(
        "register_worktree(name taken at another path)",
        s.register_worktree(&NewWorktree {
            path: "/elsewhere/feat-login".into(),
            ..nw.clone()
        })
        .await,
    );
    c.refused(
        "register_worktree(path taken by another worktree)",
        s.register_worktree(&NewWorktree {
            name: "feat-other".into(),
            branch_name: "feat/other".into(),
            ..nw.clone()
        })
        .await,
    );
    c.refused(
        "register_worktree(bad name)",
        s.register_worktree(&NewWorktree {
            name: "a b".into(),
            ..nw.clone()
        })
        .await,
    );
    c.refused(
        "register_worktree(empty branch)",
        s.register_worktree(&NewWorktree {
            branch_name: String::new(),
            ..nw.clone()
        })
        .await,
    );
    c.refused("get_worktree(unknown id)", s.get_worktree(UNKNOWN_ID).await);
    c.refused(
        "get_worktree_by_path(unknown path)",
        s.get_worktree_by_path("/nowhere/x").await,
    );
    c.refused(
        "get_worktree_by_name(unknown name)",
        s.get_worktree_by_name(app.id, "nope").await,
    );
    c.refused(
        "get_worktree_by_name(unknown project)",
        s.get_worktree_by_name(UNKNOWN_ID, "feat-login").await,
    );
    c.refused(
        "update_git_state(unknown id)",
        s.update_git_state(UNKNOWN_ID, &GitState::default()).await,
    );
    c.refused(
        "update_git_state(negative count)",
        s.update_git_state(
            w.id,
            &GitState {
                behind: Some(-1),
                ..Default::default()
            },
        )
        .await,
    );
    c.refused(
        "update_git_states(one unknown id)",
        s.update_git_states(&[
            (w.id, GitState::default()),
            (UNKNOWN_ID, GitState::default()),
        ])
        .await,
    );
    c.refused(
        "mark_merged(unknown id)",
        s.mark_merged(UNKNOWN_ID, "alice", None).await,
    );
    c.refused(
        "mark_merged(empty merged_by)",
        s.mark_merged(w.id, " ", None).await,
    );
    c.refused(
        "deactivate_worktree(unknown id)",
        s.deactivate_worktree(UNKNOWN_ID).await,
    );

    // --- types ----------------------------------------------------------------------
    c.refused(
        "add_type(existing name)",
        s.add_type(&NewWorktreeType {
            name: "spike".into(),
            ..Default::default()
        })
        .await,
    );
    c.refused(
        "add_type(built-in name)",
        s.add_type(&NewWorktreeType {
            name: "feat".into(),
            ..Default::default()
        })
        .await,
    );
    c.refused(
        "add_type(bad name)",
        s.add_type(&NewWorktreeType {
            name: "Bad".into(),
            ..Default::default()
        })
        .await,
    );
    c.refused("remove_type(unknown)", s.remove_type("nosuch").await);
    c.refused("remove_type(built-in)", s.remove_type("feat").await);
    c.refused("remove_type(in use)", s.remove_type("spike").await);

    // --- metadata -------------------------------------------------------------------
    for (what, target) in [
        ("project", MetadataTarget::Project(UNKNOWN_ID)),
        ("worktree", MetadataTarget::Worktree(UNKNOWN_ID)),
    ] {
        let call: &'static str = match what {
            "project" => "metadata_set(unknown project)",
            _ => "metadata_set(unknown worktree)",
        };
        c.refused(call, s.metadata_set(target, "a", json!(1)).await);
        let call: &'static str = match what {
            "project" => "metadata_get(unknown project)",
            _ => "metadata_get(unknown worktree)",
        };
        c.refused(call, s.metadata_get(target, None).await);
        let call: &'static str = match what {
            "project" => "metadata_unset(unknown project)",
            _ => "metadata_unset(unknown worktree)",
        };
        c.refused(call, s.metadata_unset(target, "a").await);
    }
    let target = MetadataTarget::Worktree(w.id);
    s.metadata_set(target, "k", json!(1)).await.unwrap();
    c.refused(
        "metadata_set(key through a scalar)",
        s.metadata_set(target, "k.x", json!(1)).await,
    );
    c.refused(
        "metadata_set(bad key)",
        s.metadata_set(target, "a..b", json!(1)).await,
    );
    c.refused(
        "metadata_get(bad key)",
        s.metadata_get(target, Some("")).await,
    );

    // --- activities -----------------------------------------------------------------
    c.refused(
        "log_activity(unknown worktree)",
        s.log_activity(&NewActivity {
            agent_id: "agent".into(),
            worktree_id: Some(UNKNOWN_ID),
            activity_type: "other".into(),
            ..Default::default()
        })
        .await,
    );
    c.refused(
        "log_activity(unknown type)",
        s.log_activity(&NewActivity {
            agent_id: "agent".into(),
            activity_type: "danced".into(),
            ..Default::default()
        })
        .await,
    );
    c.refused(
        "log_activity(empty agent)",
        s.log_activity(&NewActivity {
            activity_type: "other".into(),
            ..Default::default()
        })
        .await,
    );
    c.refused("recent_activities(0)", s.recent_activities(0).await);
    c.refused(
        "recent_activities_by_agent(-1)",
        s.recent_activities_by_agent("agent", -1).await,
    );

    // --- derived and retention ------------------------------------------------------
    c.refused(
        "working_path(unknown project)",
        s.working_path(UNKNOWN_ID, None).await,
    );
    c.refused(
        "working_path(inactive project)",
        s.working_path(gone.id, Some("feat-x")).await,
    );
    c.refused(
        "working_path(bad name)",
        s.working_path(app.id, Some("../x")).await,
    );
    c.refused(
        "cleanup_old_activities(-1)",
        s.cleanup_old_activities(-1).await,
    );
    c.refused(
        "prune_inactive_worktrees(36501)",
        s.prune_inactive_worktrees(36_501).await,
    );
    // --- claims ---------------------------------------------------------------------
    c.name(old.id, "spike-old");
    let claim = |id: Uuid, agent: &str, ttl: Option<i64>| NewClaim {
        worktree_id: id,
        agent_id: agent.into(),
        ttl_seconds: ttl,
        purpose: None,
    };
    c.refused(
        "claim(unknown worktree)",
        s.claim(&claim(UNKNOWN_ID, "agent-a", None)).await,
    );
    c.refused(
        "claim(removed worktree)",
        s.claim(&claim(old.id, "agent-a", None)).await,
    );
    c.refused("claim(empty agent)", s.claim(&claim(w.id, " ", None)).await);
    c.refused(
        "claim(zero lease)",
        s.claim(&claim(w.id, "agent-a", Some(0))).await,
    );
    s.claim(&claim(w.id, "agent-a", None)).await.unwrap();
    c.refused(
        "claim(held by another)",
        s.claim(&claim(w.id, "agent-b", None)).await,
    );
    c.refused(
        "renew_claim(not the holder)",
        s.renew_claim(w.id, "agent-b", 1, None).await,
    );
    c.refused(
        "renew_claim(stale epoch)",
        s.renew_claim(w.id, "agent-a", 9, None).await,
    );
    c.refused(
        "release_claim(not the holder)",
        s.release_claim(w.id, "agent-b", ReleaseScope::Epoch(1))
            .await,
    );
    c.refused(
        "renew_claim(never claimed)",
        s.renew_claim(spike.id, "agent-a", 1, None).await,
    );
    c.refused(
        "release_claim(force, never claimed)",
        s.release_claim(spike.id, "agent-a", ReleaseScope::Force)
            .await,
    );
    c.refused(
        "renew_claim(unknown worktree)",
        s.renew_claim(UNKNOWN_ID, "agent-a", 1, None).await,
    );
    c.out
}

/// What each failing call of [`failing_calls`] answers on every backend: call,
/// code, message, hint (the wording of `imi_core::messages` and the input rules).
#[rustfmt::skip]
pub const EXPECTED: &[(&str, &str, &str, &str)] = &[
    ("get_project(unknown id)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("get_project_by_origin(unknown remote)", "NOT_FOUND", "no project registered for https://github.com/acme/nope", "register it with `imi init` in its repository"),
    ("get_project_by_origin(unknown remote, other form)", "NOT_FOUND", "no project registered for git@github.com:Acme/Nope.git", "register it with `imi init` in its repository"),
    ("get_project_by_origin(unknown trunk path)", "NOT_FOUND", "no project registered for /srv/none/trunk-main", "register it with `imi init` in its repository"),
    ("get_project_by_origin(unknown remote with credentials)", "NOT_FOUND", "no project registered for https://github.com/acme/nope", "register it with `imi init` in its repository"),
    ("get_project_by_origin(unknown scp-like remote)", "NOT_FOUND", "no project registered for github.com:nobody/none", "register it with `imi init` in its repository"),
    ("get_project_by_origin(unknown file remote)", "NOT_FOUND", "no project registered for file:///srv/nope.git", "register it with `imi init` in its repository"),
    ("get_project_by_origin(relative path)", "NOT_FOUND", "no project registered for relative/dir", "register it with `imi init` in its repository"),
    ("get_project_by_origin(deactivated project)", "NOT_FOUND", "project \"gone\" (<gone>) registered for git@github.com:acme/gone is deactivated", "run `imi init` in its trunk to reactivate it"),
    ("get_project_by_origin(unsupported remote)", "VALIDATION_ERROR", "unsupported remote scheme \"svn\" in \"svn://x/y\"", "use ssh://, https://, http://, git://, file:// or user@host:path"),
    ("get_project_by_origin(empty)", "VALIDATION_ERROR", "remote is empty", "give a git remote URL such as https://github.com/owner/repo"),
    ("get_project_by_name(unknown name)", "NOT_FOUND", "no active project named \"nope\"", "list projects with `imi list --projects`"),
    ("get_project_by_name(deactivated project)", "NOT_FOUND", "no active project named \"gone\"", "list projects with `imi list --projects`"),
    ("get_project_by_name(shared name)", "CONFLICT", "several active projects are named \"twin\"", "use the project's UUID or its remote instead of its name"),
    ("deactivate_project(unknown id)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("register_project(empty name)", "VALIDATION_ERROR", "invalid project name \"\": it is empty", "a project is named after the last part of its remote or path; give a remote or directory whose last part is a plain name such as `app`"),
    ("register_project(unsupported remote)", "VALIDATION_ERROR", "unsupported remote scheme \"svn\" in \"svn://a/b\"", "use ssh://, https://, http://, git://, file:// or user@host:path"),
    ("register_worktree(unknown type)", "VALIDATION_ERROR", "unknown worktree type \"nosuch\"", "see the known types with `imi types list`"),
    ("register_worktree(unknown project)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("register_worktree(inactive project)", "NOT_FOUND", "project <gone> is inactive", "register the project again (imi init) to reactivate it"),
    ("register_worktree(name taken at another path)", "CONFLICT", "worktree \"feat-login\" is already registered in this project on test-host at /code/app/feat-login", "remove it first (imi remove), or choose another name"),
    ("register_worktree(path taken by another worktree)", "CONFLICT", "path /code/app/feat-login on host test-host is already registered to worktree \"feat-login\" of project \"app\"", "remove that worktree first (imi remove), or choose another path"),
    ("register_worktree(bad name)", "VALIDATION_ERROR", "invalid worktree name \"a b\": it contains whitespace", "try \"a-b\""),
    ("register_worktree(empty branch)", "VALIDATION_ERROR", "branch name is empty", "give a non-empty branch name"),
    ("get_worktree(unknown id)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("get_worktree_by_path(unknown path)", "NOT_FOUND", "no active worktree registered at /nowhere/x on test-host", "list registered worktrees with `imi list`"),
    ("get_worktree_by_name(unknown name)", "NOT_FOUND", "no worktree named \"nope\" in project <app> on test-host", "list the project's worktrees with `imi list`"),
    ("get_worktree_by_name(unknown project)", "NOT_FOUND", "no worktree named \"feat-login\" in project <unknown> on test-host", "list the project's worktrees with `imi list`"),
    ("update_git_state(unknown id)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("update_git_state(negative count)", "VALIDATION_ERROR", "behind count is negative (-1)", "counts are zero or more"),
    ("update_git_states(one unknown id)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("mark_merged(unknown id)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("mark_merged(empty merged_by)", "VALIDATION_ERROR", "merged by is empty", "give a non-empty merged by"),
    ("deactivate_worktree(unknown id)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("add_type(existing name)", "CONFLICT", "worktree type \"spike\" already exists", "see the known types with `imi types list`"),
    ("add_type(built-in name)", "CONFLICT", "worktree type \"feat\" already exists", "see the known types with `imi types list`"),
    ("add_type(bad name)", "VALIDATION_ERROR", "invalid type name \"Bad\"", "type names are lowercase: a letter, then letters, digits or `-` (e.g. spike)"),
    ("remove_type(unknown)", "NOT_FOUND", "no worktree type named \"nosuch\"", "see the known types with `imi types list`"),
    ("remove_type(built-in)", "CONFLICT", "worktree type \"feat\" is built in and cannot be removed", "only types added with `imi types add` can be removed"),
    ("remove_type(in use)", "CONFLICT", "worktree type \"spike\" is used by 1 active and 1 inactive worktrees", "remove those worktrees first (inactive ones are pruned by `imi db maintain`)"),
    ("metadata_set(unknown project)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("metadata_get(unknown project)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("metadata_unset(unknown project)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("metadata_set(unknown worktree)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("metadata_get(unknown worktree)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("metadata_unset(unknown worktree)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("metadata_set(key through a scalar)", "CONFLICT", "metadata key \"k\" holds a number, not an object", "unset it first, or set a different key"),
    ("metadata_set(bad key)", "VALIDATION_ERROR", "invalid metadata key \"a..b\"", "keys are dot-separated names, e.g. plane.ticket_id"),
    ("metadata_get(bad key)", "VALIDATION_ERROR", "invalid metadata key \"\"", "keys are dot-separated names, e.g. plane.ticket_id"),
    ("log_activity(unknown worktree)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("log_activity(unknown type)", "VALIDATION_ERROR", "unknown activity type \"danced\"", "use one of: created, modified, deleted, committed, pushed, merged, synced, claimed, released, removed, other"),
    ("log_activity(empty agent)", "VALIDATION_ERROR", "agent id is empty", "give a non-empty agent id"),
    ("recent_activities(0)", "VALIDATION_ERROR", "limit must be positive (got 0)", "give a limit of 1 or more"),
    ("recent_activities_by_agent(-1)", "VALIDATION_ERROR", "limit must be positive (got -1)", "give a limit of 1 or more"),
    ("working_path(unknown project)", "NOT_FOUND", "no project with id <unknown>", "list projects with `imi list --projects`"),
    ("working_path(inactive project)", "NOT_FOUND", "project <gone> is inactive", "register the project again (imi init) to reactivate it"),
    ("working_path(bad name)", "VALIDATION_ERROR", "invalid worktree name \"../x\": it contains a slash", "try \"x\""),
    ("cleanup_old_activities(-1)", "VALIDATION_ERROR", "retention days is negative (-1)", "give a number of days, 0 or more"),
    ("prune_inactive_worktrees(36501)", "VALIDATION_ERROR", "inactive days is too large (36501, at most 36500: 100 years)", "give a number of days from 0 to 36500"),
    ("claim(unknown worktree)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
    ("claim(removed worktree)", "NOT_FOUND", "worktree \"spike-old\" (<spike-old>) is removed", "register it again (imi add) before claiming it"),
    ("claim(empty agent)", "VALIDATION_ERROR", "agent id is empty", "give a non-empty agent id"),
    ("claim(zero lease)", "VALIDATION_ERROR", "lease length 0s is out of range", "give a lease of 1s to 3660d, or none to hold the claim until it is released"),
    ("claim(held by another)", "CONFLICT", "worktree \"feat-login\" of project \"app\" is claimed by agent-a on host test-host (epoch 1, held until released)", "wait until the lease ends, ask agent-a to run `imi release`, or take it over with `imi release --force` (logged)"),
    ("renew_claim(not the holder)", "CONFLICT", "agent-b does not hold the claim: worktree \"feat-login\" of project \"app\" is claimed by agent-a on host test-host (epoch 1, held until released)", "only the holder renews or releases it; `imi release --force` releases agent-a's claim (logged)"),
    ("renew_claim(stale epoch)", "CONFLICT", "epoch 9 of the claim on worktree \"feat-login\" is stale: the claim is at epoch 1 now (it changed hands)", "claim it again with `imi claim`, and use the new epoch"),
    ("release_claim(not the holder)", "CONFLICT", "agent-b does not hold the claim: worktree \"feat-login\" of project \"app\" is claimed by agent-a on host test-host (epoch 1, held until released)", "only the holder renews or releases it; `imi release --force` releases agent-a's claim (logged)"),
    ("renew_claim(never claimed)", "NOT_FOUND", "worktree \"spike-x\" is not claimed", "claim it with `imi claim`"),
    ("release_claim(force, never claimed)", "NOT_FOUND", "worktree \"spike-x\" is not claimed", "nothing to release"),
    ("renew_claim(unknown worktree)", "NOT_FOUND", "no worktree with id <unknown>", "list worktrees with `imi list --all`"),
];

/// Every failing store call gives the code, message and hint of [`EXPECTED`]
/// (`failing_calls_agree_across_backends` in the test also compares the backends'
/// lists with each other).
pub async fn failing_calls_are_worded_once<S: Store>(s: &S) {
    let got = failing_calls(s).await;
    for (r, (call, code, message, hint)) in got.iter().zip(EXPECTED) {
        assert_eq!(
            (r.call, r.code, r.message.as_str(), r.hint.as_deref()),
            (*call, *code, *message, Some(*hint)),
            "on {}",
            s.backend()
        );
    }
    assert_eq!(got.len(), EXPECTED.len());
}

/// A relative or odd trunk path gives one worktree path on every backend: the rule
/// of `imi_core::sibling_path` and of the SQL function `get_project_working_path`
/// (SQLite used to give `trunk/n` for the trunk `trunk`, PostgreSQL `/n`).
pub async fn odd_trunk_paths_give_one_worktree_path<S: Store>(s: &S) {
    for (i, (trunk, want)) in [
        ("trunk", "/feat-n"),
        ("a/b/", "a/feat-n"),
        ("/", "/feat-n"),
        ("//x//", "//feat-n"),
        ("/code/app/trunk-main///", "/code/app/feat-n"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = registered(
            s,
            &NewProject {
                name: format!("odd{i}"),
                trunk_path: trunk.into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(p.trunk_path, trunk, "stored as given");
        assert_eq!(s.working_path(p.id, None).await.unwrap(), trunk);
        assert_eq!(
            s.working_path(p.id, Some("feat-n")).await.unwrap(),
            want,
            "trunk {trunk:?} on {}",
            s.backend()
        );
        assert_eq!(imi_core::sibling_path(trunk, "feat-n"), want);
    }
}
