//! One project, two registries (issue 11): trying PostgreSQL beside the embedded
//! SQLite registry must not re-key the project. `imi init` passes the UUID that
//! `.iMi/project.json` records, so a registry that does not know the project yet
//! registers it under that UUID, and going back and forth changes nothing.

use crate::harness::{Backend, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_in_a_second_registry_keeps_the_project_uuid() {
    let Some(pg) = imi_testkit::PgTestDb::create().await else {
        return;
    };
    let w = World::new(Backend::Sqlite).await.unwrap();
    let pg_url = pg.url.clone();
    tokio::task::spawn_blocking(move || {
        w.clone_trunk();
        let init = |database: Option<&str>| {
            let mut args = vec!["init"];
            if let Some(url) = database {
                args = vec!["--database", url, "init"];
            }
            let (code, doc) = w.imi_json(&w.trunk(), &args);
            assert_eq!(code, 0, "{doc}");
            doc["data"]["project"]["id"].as_str().unwrap().to_string()
        };
        let recorded = || {
            let file = w.root().join("app/.iMi/project.json");
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            doc["project_id"].as_str().unwrap().to_string()
        };
        let first = init(None);
        assert_eq!(recorded(), first);
        // PostgreSQL has never heard of the project: it takes the recorded UUID
        assert_eq!(
            init(Some(&pg_url)),
            first,
            "PostgreSQL re-keyed the project"
        );
        assert_eq!(recorded(), first);
        // and back: nothing changes on either side
        assert_eq!(init(None), first);
        assert_eq!(init(Some(&pg_url)), first);
        assert_eq!(recorded(), first);
        // both registries answer for the project by that UUID
        for database in [None, Some(pg_url.as_str())] {
            let mut args = vec!["-p", first.as_str(), "path"];
            if let Some(url) = database {
                args.splice(0..0, ["--database", url]);
            }
            let (code, doc) = w.imi_json(&w.trunk(), &args);
            assert_eq!(code, 0, "{database:?}: {doc}");
            assert_eq!(doc["data"]["path"], w.trunk().to_str().unwrap());
        }
    })
    .await
    .unwrap();
}
