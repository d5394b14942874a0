//! imi through Debian's PgBouncer in transaction pooling mode (started by the test on
//! a loopback port, two server connections per database): `?pgbouncer=true` makes
//! every statement safe there, a URL without it gets a clear next step, and what
//! cannot work through a pooler (migrations) says where to go instead.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use imi_core::{ErrorKind, NewProject, NewWorktree, Store, WorktreeFilter};
use imi_store_postgres::{PgStore, Pooling};

async fn migrated_db() -> Option<imi_testkit::PgTestDb> {
    let db = imi_testkit::PgTestDb::create().await?;
    let direct = PgStore::connect(&db.url, "setup").await.unwrap();
    imi_core::store::ensure_schema(&direct).await.unwrap();
    direct.pool().close().await;
    Some(db)
}

fn project(i: usize) -> NewProject {
    NewProject {
        id: None,
        name: format!("p{i}"),
        remote_origin: Some(format!("https://example.com/o/p{i}.git")),
        default_branch: Some("main".into()),
        trunk_path: format!("/src/p{i}/trunk-main"),
        metadata: Default::default(),
        description: None,
    }
}

/// Four stores (32 client connections) on two server connections, each on its own
/// host, registering and reading at once: every call succeeds and every row keeps its
/// own store's host (a session setting would leak from one client to the next).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_clients_share_two_server_connections() {
    let Some(db) = migrated_db().await else {
        return;
    };
    let Some(bouncer) = imi_testkit::PgBouncer::start() else {
        return;
    };
    let mut stores = Vec::new();
    for h in 0..4 {
        let s = PgStore::connect(&bouncer.url(&db.name), format!("host-{h}"))
            .await
            .unwrap();
        assert_eq!(s.pooling(), Pooling::Transaction);
        stores.push(s);
    }
    let p = stores[0].register_project(&project(0)).await.unwrap();
    let mut tasks = Vec::new();
    for (h, s) in stores.iter().enumerate() {
        for i in 0..25 {
            let s = s.clone();
            let pid = p.id;
            tasks.push(tokio::spawn(async move {
                let name = format!("feat-{h}-{i}");
                let w = s
                    .register_worktree(&NewWorktree {
                        project_id: pid,
                        type_name: "feat".into(),
                        name: name.clone(),
                        branch_name: format!("feat/{h}-{i}"),
                        path: format!("/src/p0/{name}"),
                        agent_id: None,
                        metadata: Default::default(),
                        host: None,
                    })
                    .await
                    .unwrap();
                assert_eq!(w.host, format!("host-{h}"));
                let again = s.get_worktree_by_name(pid, &name).await.unwrap();
                assert_eq!(again.id, w.id);
                s.get_project_by_origin("https://example.com/o/p0.git")
                    .await
                    .unwrap();
                s.list_projects(false).await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = stores[1]
        .list_worktrees(&WorktreeFilter {
            project_id: Some(p.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 100);
    for w in &all {
        let h = w.name.split('-').nth(1).unwrap();
        assert_eq!(w.host, format!("host-{h}"), "{}", w.name);
    }
}

/// Without `?pgbouncer=true`, named prepared statements meet on a shared server
/// connection. Three clients run their first statement one after another on two
/// server connections: two share one, and the second of them is told what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmarked_url_gets_a_clear_next_step() {
    let Some(db) = migrated_db().await else {
        return;
    };
    let Some(bouncer) = imi_testkit::PgBouncer::start() else {
        return;
    };
    let mut errors = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..3 {
        let s = PgStore::connect(&bouncer.unmarked_url(&db.name), "h")
            .await
            .unwrap();
        assert_eq!(s.pooling(), Pooling::Direct);
        if let Err(e) = s.list_projects(false).await {
            errors.push(e);
        }
        stores.push(s); // keep the client connection open
    }
    assert!(
        !errors.is_empty(),
        "three clients on two server connections"
    );
    for e in errors {
        assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
        assert!(
            e.hint.as_deref().unwrap_or("").contains("?pgbouncer=true"),
            "{e:?}"
        );
    }
}

/// Migrations hold a session-level lock: through a pooler they are refused, with the
/// way out, and nothing is half-applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_through_the_pooler_are_refused_with_the_way_out() {
    let Some(db) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let Some(bouncer) = imi_testkit::PgBouncer::start() else {
        return;
    };
    let s = PgStore::connect(&bouncer.url(&db.name), "h").await.unwrap();
    let e = imi_core::store::ensure_schema(&s).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(e.message.contains("PgBouncer"), "{e:?}");
    assert!(
        e.hint.as_deref().unwrap().contains("imi db migrate"),
        "{e:?}"
    );
    let status = s.schema_status().await.unwrap();
    assert_eq!(status.applied, 0);
    // migrated directly, the same pooled store works
    drop(s);
    let direct = PgStore::connect(&db.url, "h").await.unwrap();
    imi_core::store::ensure_schema(&direct).await.unwrap();
    let s = PgStore::connect(&bouncer.url(&db.name), "h").await.unwrap();
    imi_core::store::ensure_schema(&s).await.unwrap();
    s.register_project(&project(1)).await.unwrap();
}

#[test]
fn the_url_says_how_to_connect() {
    let of = |u: &str| Pooling::of_url(u);
    assert_eq!(of("postgres://u@h/db").unwrap(), Pooling::Direct);
    assert_eq!(
        of("postgres://u@h/db?pgbouncer=true").unwrap(),
        Pooling::Transaction
    );
    assert_eq!(
        of("postgres://u@h/db?sslmode=disable&pgbouncer=1").unwrap(),
        Pooling::Transaction
    );
    assert_eq!(
        of("postgres://u@h/db?pgbouncer=false").unwrap(),
        Pooling::Direct
    );
    let e = of("postgres://u@h/db?pgbouncer=maybe").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
}
