//! Every failing store call the suite can provoke, run on each backend: the same
//! code, message and hint everywhere (issue 10). The wording itself lives once, in
//! `imi_core::messages`; this checks that no backend words a refusal its own way.

use imi_core::{
    Error, GitState, MetadataTarget, NewActivity, NewProject, NewWorktree, NewWorktreeType,
    Project, Store,
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
        s.get_project_by_origin("https://github.com/acme/nope").await,
    );
    c.refused(
        "get_project_by_origin(unknown remote, other form)",
        s.get_project_by_origin("git@github.com:Acme/Nope.git").await,
    );
    c.refused(
        "get_project_by_origin(unknown trunk path)",
        s.get_project_by_origin("/srv/none/trunk-main").await,
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
    c.refused(
        "get_worktree(unknown id)",
        s.get_worktree(UNKNOWN_ID).await,
    );
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
    c.out
}
