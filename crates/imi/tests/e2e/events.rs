//! The event log from the command line (SPEC §7.2): `imi events` lists what changed;
//! `imi events --follow` in one process prints a change made by another process
//! within a second, on every backend; on PostgreSQL again after its listening
//! connection was killed (`pg_terminate_backend`): it listens again and reads what
//! it missed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::World;

/// `imi events --follow --json` from `since`; every line it prints, parsed.
fn follow(w: &World, since: i64) -> (Child, Receiver<Value>) {
    let mut child = w
        .cmd(
            &w.trunk(),
            &[
                "--json",
                "events",
                "--follow",
                "--since",
                &since.to_string(),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The next event of type `ty` within `limit`, and how long it took.
#[track_caller]
fn next_of_type(rx: &Receiver<Value>, ty: &str, limit: Duration) -> (Value, Duration) {
    let start = Instant::now();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(v) if v["type"] == ty => return (v, start.elapsed()),
            Ok(_) => continue,
            Err(_) => panic!("no {ty} event within {limit:?}"),
        }
    }
}

fn last_id(w: &World) -> i64 {
    let (code, v) = w.imi_json(&w.trunk(), &["events", "--limit", "1"]);
    assert_eq!(code, 0, "{v}");
    v["data"]["last_id"].as_i64().unwrap()
}

/// Terminates the backends listening on imi_events in this world's database; how many.
fn kill_listeners(w: &World) -> usize {
    let pg = w.pg.as_ref().unwrap();
    let out = std::process::Command::new("psql")
        .args([
            &pg.url,
            "-XAtc",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND query LIKE 'LISTEN%'",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn events_list_and_follow(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "login"]).ok();

    // the log so far: the project, its trunk, the worktree and its activity
    let (code, v) = w.imi_json(&t, &["events", "--since", "0"]);
    assert_eq!(code, 0, "{v}");
    let types: Vec<&str> = v["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "imi.project.registered", "{types:?}");
    assert!(types.contains(&"imi.worktree.created"), "{types:?}");
    let human = w.imi(&t, &["events", "--type", "imi.worktree."]).ok();
    assert!(
        human.stdout.contains("imi.worktree.created") && human.stdout.contains("feat-login"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("imi.project."), "{}", human.stdout);
    let bad = w.imi_json(&t, &["events", "--type", "imi.claim.taken"]);
    assert_eq!(bad.0, 1);
    assert_eq!(bad.1["error"]["code"], "VALIDATION_ERROR", "{}", bad.1);

    // a follower from the start prints the backlog, then waits
    let since = last_id(w);
    let (mut child, rx) = follow(w, since - 1);
    next_of_type(
        &rx,
        v["data"]["events"].as_array().unwrap().last().unwrap()["type"]
            .as_str()
            .unwrap(),
        Duration::from_secs(30),
    );

    // a claim by another process appears within a second
    w.imi(&t, &["--agent", "agent-a", "claim", "feat-login"])
        .ok();
    let (e, took) = next_of_type(&rx, "imi.claim.claimed", Duration::from_secs(1));
    assert_eq!(e["agent_id"], "agent-a");
    assert_eq!(e["worktree_name"], "feat-login");
    println!("claim seen by the follower {took:?} after the claiming process ended");

    if w.pg.is_some() && w.bouncer.is_none() {
        // the listening connection dies: the follower listens again and reads
        // what committed meanwhile
        assert_eq!(kill_listeners(w), 1, "the follower was not listening");
        w.imi(&t, &["--agent", "agent-a", "release", "feat-login"])
            .ok();
        let (e, took) = next_of_type(&rx, "imi.claim.released", Duration::from_secs(1));
        assert_eq!(e["agent_id"], "agent-a");
        println!("release after the listener was killed seen {took:?} after it committed");
        w.imi(&t, &["--agent", "agent-b", "claim", "feat-login"])
            .ok();
        let (e, _) = next_of_type(&rx, "imi.claim.claimed", Duration::from_secs(1));
        assert_eq!(e["agent_id"], "agent-b");
        assert_eq!(kill_listeners(w), 1, "the follower did not listen again");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

crate::all_backends! {
    events_cli => events_list_and_follow;
}
