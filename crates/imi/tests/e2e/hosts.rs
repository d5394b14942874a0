//! Several hosts on one PostgreSQL registry (SPEC §3.1, §3.4 "Hosts"). Two "hosts"
//! are two HOMEs with the same layout (`<HOME>/code/app/...`) against one database,
//! run two ways:
//! - isolated: each imi runs in new UTS and network namespaces made by the test
//!   (`unshare --uts --net`, its own host name from `hostname`, no network but its own
//!   loopback, so it reaches PostgreSQL through the server's Unix socket), without
//!   `IMI_HOST`: the host recorded is the machine name imi finds itself;
//! - named: each with its own `IMI_HOST` (what a container whose name changes sets).
//!
//! PostgreSQL only: a SQLite registry is one machine's file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{Backend, Run, World, from_output, git_env};

/// A second machine: its own HOME and checkout of the same origin, the same registry.
struct Host<'a> {
    world: &'a World,
    home: PathBuf,
    name: &'static str,
    /// In namespaces of its own (see the module documentation), else `IMI_HOST`.
    isolated: bool,
}

/// The tests' server's Unix socket directory (Debian's, or the private cluster's),
/// reachable from a network namespace of its own, and its port.
fn pg_socket() -> (String, u16) {
    let s = imi_testkit::server();
    (s.socket_dir.display().to_string(), s.port)
}

/// Whether this machine lets the test make UTS and network namespaces (root, or
/// user namespaces); required in CI.
fn namespaces_available() -> bool {
    let ok = Command::new("unshare")
        .args(["--uts", "--net", "--", "hostname", "probe"])
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new(&pg_socket().0)
            .join(format!(".s.PGSQL.{}", pg_socket().1))
            .exists();
    if !ok && imi_testkit::postgres_required() {
        panic!(
            "CI needs `unshare --uts --net` (root) and PostgreSQL's socket in {}",
            pg_socket().0
        );
    }
    ok
}

impl Host<'_> {
    fn root(&self) -> PathBuf {
        self.home.join("code")
    }

    fn trunk(&self) -> PathBuf {
        self.root().join("app/trunk-main")
    }

    fn wt(&self, name: &str) -> PathBuf {
        self.root().join("app").join(name)
    }

    fn imi(&self, dir: &Path, args: &[&str]) -> Run {
        let bin = env!("CARGO_BIN_EXE_imi");
        let pg = self.world.pg.as_ref().unwrap();
        let mut c = if self.isolated {
            let mut c = Command::new("unshare");
            c.args([
                "--uts",
                "--net",
                "--",
                "sh",
                "-c",
                "hostname \"$0\" && exec \"$@\"",
            ])
            .arg(self.name)
            .arg(bin);
            c
        } else {
            Command::new(bin)
        };
        git_env(&mut c, &self.home);
        if self.isolated {
            c.env_remove("IMI_HOST").env(
                "IMI_DATABASE_URL",
                format!(
                    "postgres://postgres@localhost:{}/{}?host={}",
                    pg_socket().1,
                    pg.name,
                    pg_socket().0
                ),
            );
        } else {
            c.env("IMI_HOST", self.name)
                .env("IMI_DATABASE_URL", &pg.url);
        }
        c.env("IMI_ROOT", self.root()).current_dir(dir).args(args);
        from_output(c.output().unwrap())
    }

    fn json(&self, dir: &Path, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.imi(dir, &all).ok().json()
    }

    /// Clones the shared origin into this host's `<root>/app/trunk-main`.
    fn clone_trunk(&self) {
        std::fs::create_dir_all(self.root().join("app")).unwrap();
        let origin = self.world.origin();
        let mut c = Command::new("git");
        git_env(&mut c, &self.home);
        let out = c
            .current_dir(&self.home)
            .args([
                "clone",
                "--quiet",
                origin.to_str().unwrap(),
                self.trunk().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// `(worktree name, host)` pairs of a JSON list of worktree-like rows.
fn name_hosts(rows: &Value, name_key: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[name_key].as_str().unwrap().to_string(),
                r["host"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn two_hosts_in_their_own_namespaces_share_one_registry() {
    if !namespaces_available() {
        imi_testkit::skip("namespaces", "cannot make UTS and network namespaces here");
        return;
    }
    let Some(world) = World::new(Backend::Postgres).await else {
        return;
    };
    tokio::task::spawn_blocking(move || two_hosts(&world, true))
        .await
        .unwrap();
}

#[tokio::test]
async fn two_hosts_named_by_imi_host_share_one_registry() {
    let Some(world) = World::new(Backend::Postgres).await else {
        return;
    };
    tokio::task::spawn_blocking(move || two_hosts(&world, false))
        .await
        .unwrap();
}

/// Both hosts register their own trunk of one project and the same worktree name,
/// see each other's rows, and never touch each other's rows or disk.
fn two_hosts(world: &World, isolated: bool) {
    let a_home = world.path().join("host-a");
    let b_home = world.path().join("host-b");
    std::fs::create_dir_all(&a_home).unwrap();
    std::fs::create_dir_all(&b_home).unwrap();
    let a = Host {
        world,
        home: a_home,
        name: "host-a",
        isolated,
    };
    let b = Host {
        world,
        home: b_home,
        name: "host-b",
        isolated,
    };

    // each host registers its own trunk of the one project
    a.clone_trunk();
    b.clone_trunk();
    let pa = a.json(&a.trunk(), &["init"]);
    let pb = b.json(&b.trunk(), &["init"]);
    let id = |v: &Value| v["data"]["project"]["id"].as_str().unwrap().to_string();
    assert_eq!(id(&pa), id(&pb), "one project: {pa} / {pb}");

    // the same worktree name on each host
    a.imi(&a.trunk(), &["feat", "x"]).ok();
    b.imi(&b.trunk(), &["feat", "x"]).ok();
    assert!(a.wt("feat-x").is_dir() && b.wt("feat-x").is_dir());

    // both listed, together, with their hosts, from either host
    for h in [&a, &b] {
        let l = h.json(&h.trunk(), &["list"]);
        assert_eq!(
            name_hosts(&l["data"]["worktrees"], "name"),
            [
                ("feat-x".to_string(), "host-a".to_string()),
                ("feat-x".to_string(), "host-b".to_string()),
                ("trunk-main".to_string(), "host-a".to_string()),
                ("trunk-main".to_string(), "host-b".to_string()),
            ],
            "{l}"
        );
        let human = h.imi(&h.trunk(), &["list"]).ok().stdout;
        assert!(human.contains("HOST"), "{human}");
        assert!(
            human.contains("host-a") && human.contains("host-b"),
            "{human}"
        );
    }

    // each host's doctor, and `-p` from outside the project, see its own trunk
    for h in [&a, &b] {
        let d = h.json(&h.trunk(), &["doctor"]);
        assert_eq!(d["data"]["ok"], true, "{d}");
        let p = h.json(&h.home, &["-p", &id(&pa), "path"]);
        assert_eq!(p["data"]["path"], h.trunk().to_str().unwrap(), "{p}");
        let p = h.json(&h.home, &["-p", &id(&pa), "path", "feat-x"]);
        assert_eq!(p["data"]["path"], h.wt("feat-x").to_str().unwrap(), "{p}");
    }

    // both in flight, each synced by its own host; inflight from either shows both
    std::fs::write(a.wt("feat-x").join("a.txt"), "a\n").unwrap();
    std::fs::write(b.wt("feat-x").join("b.txt"), "b\n").unwrap();
    a.imi(&a.trunk(), &["sync"]).ok();
    b.imi(&b.trunk(), &["sync"]).ok();
    for h in [&a, &b] {
        let f = h.json(&h.trunk(), &["inflight"]);
        assert_eq!(
            name_hosts(&f["data"]["inflight"], "worktree_name"),
            [
                ("feat-x".to_string(), "host-a".to_string()),
                ("feat-x".to_string(), "host-b".to_string()),
            ],
            "{f}"
        );
    }

    // removing on host b touches b's row and disk only
    b.imi(&b.trunk(), &["remove", "feat-x", "--force"]).ok();
    assert!(!b.wt("feat-x").exists(), "b's checkout removed");
    assert!(a.wt("feat-x").join("a.txt").is_file(), "a's checkout kept");
    let la = a.json(&a.trunk(), &["list"]);
    assert_eq!(
        name_hosts(&la["data"]["worktrees"], "name"),
        [
            ("feat-x".to_string(), "host-a".to_string()),
            ("trunk-main".to_string(), "host-a".to_string()),
            ("trunk-main".to_string(), "host-b".to_string()),
        ],
        "{la}"
    );
    // a's branch is still there, and a's worktree is still its own
    world.git(&a.trunk(), &["rev-parse", "--verify", "refs/heads/feat/x"]);
    let fa = a.json(&a.trunk(), &["inflight"]);
    assert_eq!(
        name_hosts(&fa["data"]["inflight"], "worktree_name"),
        [("feat-x".to_string(), "host-a".to_string())]
    );

    // a name only the other host has is not found here (and nothing is removed)
    let r = b.imi(&b.trunk(), &["--json", "remove", "feat-x", "--force"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.json()["error"]["code"], "NOT_FOUND", "{}", r.stdout);
    assert!(a.wt("feat-x").join("a.txt").is_file());
    assert_eq!(
        a.json(&a.trunk(), &["list"])["data"]["worktrees"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// SPEC §7.1: a claim is on the work item, the worktree name on every host. With
/// `feat-x` checked out on two hosts, an agent holding it through host-a blocks a
/// claim (and a removal) of it through host-b, until it releases.
#[tokio::test]
async fn a_claim_covers_the_name_on_every_host() {
    let Some(world) = World::new(Backend::Postgres).await else {
        return;
    };
    tokio::task::spawn_blocking(move || claim_on_two_hosts(&world))
        .await
        .unwrap();
}

fn claim_on_two_hosts(world: &World) {
    let host = |name: &'static str| {
        let home = world.path().join(name);
        std::fs::create_dir_all(&home).unwrap();
        Host {
            world,
            home,
            name,
            isolated: false,
        }
    };
    let (a, b) = (host("host-a"), host("host-b"));
    for h in [&a, &b] {
        h.clone_trunk();
        h.imi(&h.trunk(), &["init"]).ok();
        h.imi(&h.trunk(), &["feat", "x"]).ok();
    }
    let c = a.json(
        &a.wt("feat-x"),
        &["--agent", "agent-a", "claim", "--ttl", "1h"],
    );
    assert_eq!(c["data"]["host"], "host-a", "{c}");
    assert_eq!(c["data"]["epoch"], 1, "{c}");

    for args in [
        &["--json", "--agent", "agent-b", "claim", "feat-x"][..],
        &["--json", "--agent", "agent-b", "remove", "feat-x"][..],
    ] {
        let r = b.imi(&b.trunk(), args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["error"]["code"], "CONFLICT", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("agent-a") && msg.contains("host-a"), "{msg}");
    }
    assert!(b.wt("feat-x").is_dir());
    // host-b sees the claim in its listing
    let l = b.json(&b.trunk(), &["claims"]);
    assert_eq!(l["data"]["claims"][0]["agent_id"], "agent-a", "{l}");

    a.imi(&a.trunk(), &["--agent", "agent-a", "release", "feat-x"])
        .ok();
    let c = b.json(&b.trunk(), &["--agent", "agent-b", "claim", "feat-x"]);
    assert_eq!(c["data"]["host"], "host-b", "{c}");
    assert_eq!(c["data"]["epoch"], 2, "{c}");
}
