//! End-to-end tests of the `imi` binary's registry administration, in an isolated
//! environment (temporary HOME and XDG directories, no global git config).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    home: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_imi"));
        let h = self.home.path();
        imi_testkit::cli::hermetic(&mut c, h)
            .args(args)
            .current_dir(h);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let doc: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout:?}"));
        (out.status.code().unwrap(), doc)
    }

    fn db_file(&self) -> std::path::PathBuf {
        self.home.path().join(".local/share/imi/registry.db")
    }
}

fn file_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

#[test]
fn first_use_creates_and_migrates_the_sqlite_default() {
    let env = Env::new();
    let (code, doc) = env.json(&["db", "status"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["backend"], "sqlite");
    assert_eq!(doc["data"]["schema"]["applied"], 0);
    let (code, doc) = env.json(&["db", "migrate"]);
    assert_eq!(code, 0, "{doc}");
    let latest = doc["data"]["schema"]["latest"].as_i64().unwrap();
    assert!(latest >= 1);
    assert_eq!(doc["data"]["schema"]["applied"], latest);
    assert!(env.db_file().exists());

    // a second migrate changes nothing
    let (code, doc) = env.json(&["db", "migrate"]);
    assert_eq!(code, 0);
    assert_eq!(doc["data"]["newly_applied"], serde_json::json!([]));
    let out = env.run(&["db", "status"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("up to date"), "{text}");
    assert!(text.contains("projects   0 active of 0"), "{text}");
}

#[test]
fn maintain_runs_on_the_default_registry() {
    let env = Env::new();
    let (code, doc) = env.json(&["db", "maintain", "--retention-days", "7"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["activities_deleted"], 0);
    let (code, doc) = env.json(&["db", "maintain", "--retention-days", "-1"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "VALIDATION_ERROR");
}

#[test]
fn malformed_database_urls_are_refused_without_writing_or_leaking() {
    let env = Env::new();
    for url in [
        "mysql://root:hunter2@127.0.0.1/x",
        "postgres://u:hunter2@127.0.0.1:notaport/x",
        "sqlite://",
    ] {
        let (code, doc) = env.json(&["--database", url, "db", "migrate"]);
        assert_eq!(code, 1, "{url}");
        assert_eq!(doc["error"]["code"], "VALIDATION_ERROR", "{url}: {doc}");
        assert!(doc["error"]["hint"].is_string());
        assert!(
            !doc.to_string().contains("hunter2"),
            "password leaked: {doc}"
        );
    }
    // human form: on stderr, with a hint, no password
    let out = env.run(&["--database", "mysql://root:hunter2@h/x", "db", "status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: unsupported database URL mysql://root:***@h/x"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    assert!(!env.db_file().exists(), "nothing was created");
}

#[test]
fn unreachable_postgres_is_reported_without_the_password() {
    let env = Env::new();
    // port 1 on loopback: nothing listens there
    let (code, doc) = env.json(&[
        "--database",
        "postgres://imi:hunter2@127.0.0.1:1/imi",
        "db",
        "status",
    ]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "REGISTRY_UNAVAILABLE", "{doc}");
    assert!(!doc.to_string().contains("hunter2"), "{doc}");
}

#[test]
fn config_file_then_env_then_flag() {
    let env = Env::new();
    let cfg = env.home.path().join(".config/imi");
    std::fs::create_dir_all(&cfg).unwrap();
    let file_db = env.home.path().join("from-file.db");
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "database_url = \"sqlite://{}\"\nagent_id = \"file-agent\"\n",
            file_db.display()
        ),
    )
    .unwrap();
    let (_, doc) = env.json(&["config"]);
    assert_eq!(doc["data"]["database"]["source"], "config_file");
    assert_eq!(doc["data"]["agent_id"]["value"], "file-agent");

    let mut c = env.cmd(&["--json", "config"]);
    c.env("IMI_DATABASE_URL", "sqlite:///tmp/from-env.db")
        .env("IMI_AGENT_ID", "env-agent");
    let doc: Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
    assert_eq!(doc["data"]["database"]["url"], "sqlite:///tmp/from-env.db");
    assert_eq!(doc["data"]["agent_id"]["source"], "env");

    let mut c = env.cmd(&[
        "--json",
        "--agent",
        "flag-agent",
        "--database",
        "sqlite:///tmp/flag.db",
        "config",
    ]);
    c.env("IMI_DATABASE_URL", "sqlite:///tmp/from-env.db");
    let doc: Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
    assert_eq!(doc["data"]["database"]["url"], "sqlite:///tmp/flag.db");
    assert_eq!(doc["data"]["agent_id"]["value"], "flag-agent");

    // a typo in the config file is an error, not silently ignored
    std::fs::write(cfg.join("config.toml"), "databse_url = \"x\"\n").unwrap();
    let (code, doc) = env.json(&["config"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "VALIDATION_ERROR");
}

#[test]
fn reset_needs_yes_and_keeps_the_registry_without_it() {
    let env = Env::new();
    env.json(&["db", "migrate"]);
    let before = file_bytes(&env.db_file());
    let (code, doc) = env.json(&["db", "reset"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "UNSAFE");
    assert_eq!(file_bytes(&env.db_file()), before);
    let (code, _) = env.json(&["db", "reset", "--yes"]);
    assert_eq!(code, 0);
    let (_, doc) = env.json(&["db", "status"]);
    assert_eq!(doc["data"]["schema"]["applied"], 0);
}

#[test]
fn roles_are_postgres_only() {
    let env = Env::new();
    let (code, doc) = env.json(&["db", "roles"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "VALIDATION_ERROR");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let env = Env::new();
    assert_eq!(env.run(&["db", "frobnicate"]).status.code(), Some(2));
    assert_eq!(env.run(&["--help"]).status.code(), Some(0));
    assert_eq!(env.run(&["db", "--help"]).status.code(), Some(0));
}

#[test]
fn postgres_registry_via_the_cli() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(imi_testkit::PgTestDb::create()) else {
        return;
    };
    let env = Env::new();
    let (code, doc) = env.json(&["--database", &db.url, "db", "migrate"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["backend"], "postgres");
    assert!(!doc["data"]["newly_applied"].as_array().unwrap().is_empty());
    let (_, doc) = env.json(&["--database", &db.url, "db", "migrate"]);
    assert_eq!(doc["data"]["newly_applied"], serde_json::json!([]));
    let (code, doc) = env.json(&["--database", &db.url, "db", "roles"]);
    assert_eq!(code, 0, "{doc}");
    let (code, doc) = env.json(&["--database", &db.url, "db", "maintain"]);
    assert_eq!(code, 0, "{doc}");
    let (code, _) = env.json(&["--database", &db.url, "db", "reset", "--yes"]);
    assert_eq!(code, 0);
    let (_, doc) = env.json(&["--database", &db.url, "db", "status"]);
    assert_eq!(doc["data"]["schema"]["applied"], 0);
}

#[test]
fn usage_errors_with_json_are_one_json_document() {
    let env = Env::new();
    let (code, doc) = env.json(&["db", "frobnicate"]);
    assert_eq!(code, 2);
    assert_eq!(doc["success"], false);
    assert_eq!(doc["error"]["code"], "VALIDATION_ERROR");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frobnicate"),
        "{doc}"
    );
}

/// An empty registry: the daily views say what to run first, never a command that
/// fails outside a project.
#[test]
fn an_empty_registry_points_at_imi_init() {
    let env = Env::new();
    for args in [vec!["status"], vec!["list"], vec!["list", "--projects"]] {
        let out = env.run(&args);
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        assert!(text.contains("run `imi init`"), "{args:?}: {text}");
        assert!(!text.contains("imi feat"), "{args:?}: {text}");
    }
}
