//! Claims with leases from the command line (SPEC §7.1): `imi claim`, `renew`,
//! `release`, `claims`, the refusal of remove / close / merge / metadata by another
//! agent without `--force`, and 100 `imi claim` processes racing for one worktree.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{World, from_output};

fn as_agent(w: &World, agent: &str, dir: &std::path::Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--agent", agent];
    all.extend_from_slice(args);
    w.imi_json(dir, &all)
}

#[track_caller]
fn conflict(r: (i32, Value), needles: &[&str]) {
    let (code, v) = r;
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "CONFLICT", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    for n in needles {
        assert!(msg.contains(n), "{n:?} not in {msg:?}");
    }
}

fn claims_from_the_command_line(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "login"]).ok();
    let wt = w.wt("feat-login");

    let (code, v) = as_agent(
        w,
        "agent-a",
        &t,
        &[
            "claim",
            "feat-login",
            "--ttl",
            "30m",
            "--purpose",
            "login form",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let d = &v["data"];
    assert_eq!(d["agent_id"], "agent-a");
    assert_eq!(d["epoch"], 1);
    assert_eq!(d["host"], "test-host");
    assert_eq!(d["purpose"], "login form");
    assert_eq!(d["ttl_seconds"], 1800);
    assert_eq!(d["renewed"], false);
    assert_eq!(d["held"], true);
    let left = d["expires_in_seconds"].as_i64().unwrap();
    assert!((1790..=1800).contains(&left), "{left}");

    // the claim shows in list, status and inflight (human and JSON)
    let (_, v) = w.imi_json(&t, &["list"]);
    assert_eq!(v["data"]["claims"][0]["agent_id"], "agent-a", "{v}");
    let r = w.imi(&t, &["list"]).ok();
    assert!(
        r.stdout.contains("CLAIMED BY") && r.stdout.contains("agent-a"),
        "{}",
        r.stdout
    );
    let (_, v) = w.imi_json(&t, &["status"]);
    let row = v["data"]["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "feat-login")
        .unwrap()
        .clone();
    assert_eq!(row["claim"]["agent_id"], "agent-a", "{v}");
    assert_eq!(row["claim"]["epoch"], 1, "{v}");
    w.write(&wt.join("draft.txt"), "wip\n");
    w.imi(&t, &["sync"]).ok();
    let (_, v) = w.imi_json(&t, &["inflight"]);
    assert_eq!(
        v["data"]["inflight"][0]["claim"]["agent_id"], "agent-a",
        "{v}"
    );
    let r = w.imi(&t, &["inflight"]).ok();
    assert!(r.stdout.contains("CLAIMED BY"), "{}", r.stdout);
    std::fs::remove_file(wt.join("draft.txt")).unwrap();
    w.imi(&t, &["sync"]).ok();

    // another agent: refused, naming the holder, its host and the lease end
    conflict(
        as_agent(w, "agent-b", &t, &["claim", "feat-login"]),
        &["agent-a", "test-host", "lease ends", "epoch 1"],
    );
    // the agent from IMI_AGENT_ID, inside the worktree (no name)
    let r = from_output(
        w.cmd(&wt, &["--json", "claim"])
            .env("IMI_AGENT_ID", "agent-env")
            .output()
            .unwrap(),
    );
    conflict((r.code, r.json()), &["agent-a"]);

    // commands that change the worktree are refused for another agent
    conflict(
        as_agent(w, "agent-b", &t, &["remove", "feat-login"]),
        &["cannot remove feat-login", "agent-a"],
    );
    conflict(
        as_agent(w, "agent-b", &t, &["close", "feat-login"]),
        &["cannot close feat-login", "agent-a"],
    );
    conflict(
        as_agent(w, "agent-b", &t, &["merge", "feat-login"]),
        &["cannot merge feat-login", "agent-a"],
    );
    conflict(
        as_agent(
            w,
            "agent-b",
            &t,
            &["metadata", "set", "feat-login", "k", "v"],
        ),
        &["metadata", "agent-a"],
    );
    conflict(
        as_agent(w, "agent-b", &t, &["metadata", "unset", "feat-login", "k"]),
        &["metadata", "agent-a"],
    );
    assert!(wt.is_dir(), "nothing was removed");
    // the holder may; --force may, and is logged
    let (code, v) = as_agent(
        w,
        "agent-a",
        &t,
        &["metadata", "set", "feat-login", "k", "1"],
    );
    assert_eq!(code, 0, "{v}");
    let (code, v) = as_agent(
        w,
        "agent-b",
        &t,
        &["metadata", "set", "feat-login", "k", "2", "--force"],
    );
    assert_eq!(code, 0, "{v}");
    let (_, log) = w.imi_json(&t, &["log", "--agent", "agent-b"]);
    let text = log.to_string();
    assert!(
        text.contains("despite the claim of agent-a"),
        "forced change not logged: {text}"
    );

    // renew: holder only, epoch kept
    let (code, v) = as_agent(w, "agent-a", &t, &["renew", "feat-login", "--ttl", "1h"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["epoch"], 1);
    assert_eq!(v["data"]["ttl_seconds"], 3600);
    conflict(
        as_agent(w, "agent-b", &t, &["renew", "feat-login"]),
        &["agent-b does not hold", "agent-a"],
    );
    conflict(
        as_agent(w, "agent-a", &t, &["renew", "feat-login", "--epoch", "7"]),
        &["epoch 7", "stale"],
    );

    // claims lists the holder, host, epoch, purpose, lease
    let r = w.imi(&t, &["claims"]).ok();
    for col in ["HOLDER", "agent-a", "test-host", "login form", "59m"] {
        assert!(r.stdout.contains(col), "{col:?} not in {}", r.stdout);
    }

    // release: a non-holder is refused, --force works and names the holder
    conflict(
        as_agent(w, "agent-b", &t, &["release", "feat-login"]),
        &["agent-b does not hold", "agent-a"],
    );
    let r = w
        .imi(
            &t,
            &["--agent", "agent-b", "release", "feat-login", "--force"],
        )
        .ok();
    assert!(
        r.stdout.contains("Released agent-a's claim"),
        "{}",
        r.stdout
    );
    let (_, v) = w.imi_json(&t, &["claims"]);
    assert_eq!(v["data"]["claims"], serde_json::json!([]));
    let (_, v) = w.imi_json(&t, &["claims", "--all"]);
    assert!(v["data"]["claims"][0]["released_at"].is_string());

    // a new tenure: epoch 2, from inside the worktree
    let (code, v) = as_agent(w, "agent-b", &wt, &["claim"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["epoch"], 2);
    assert_eq!(v["data"]["expires_in_seconds"], Value::Null);
    let r = w.imi(&wt, &["--agent", "agent-b", "claim"]).ok();
    assert!(r.stdout.contains("Renewed"), "{}", r.stdout);
    // the holder removes its worktree
    let (code, v) = as_agent(w, "agent-b", &t, &["remove", "feat-login"]);
    assert_eq!(code, 0, "{v}");
    assert!(!wt.exists());
    // its last checkout gone, the work item's claim ended with it (logged)
    let (code, v) = w.imi_json(&t, &["claims"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["claims"], serde_json::json!([]), "{v}");
    let (_, v) = w.imi_json(&t, &["claims", "--all"]);
    let ended = &v["data"]["claims"][0];
    assert_eq!(ended["agent_id"], "agent-b", "{v}");
    assert!(ended["released_at"].is_string(), "{v}");
    // a merge by the holder ends its claim too
    w.imi(&t, &["feat", "done"]).ok();
    as_agent(w, "agent-c", &t, &["claim", "feat-done"]);
    let (code, v) = as_agent(w, "agent-c", &t, &["merge", "feat-done"]);
    assert_eq!(code, 0, "{v}");
    let (_, v) = w.imi_json(&t, &["claims"]);
    assert_eq!(v["data"]["claims"], serde_json::json!([]), "{v}");
}

/// 100 `imi claim` processes of 100 agents, started together: each waits on one
/// pipe that the test closes once all are started. Exactly one exits 0; the 99
/// others exit 1 with CONFLICT naming the winner. `rounds` rounds, the winner
/// releasing between them; prints the winners-per-round histogram.
fn hundred_processes_race(w: &World, rounds: usize) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "race"]).ok();
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for round in 0..rounds {
        let (reader, writer) = std::io::pipe().unwrap();
        let children: Vec<_> = (0..100)
            .map(|i| {
                let mut c = Command::new("sh");
                w.imi_env(&mut c);
                let agent = format!("agent-{i:02}");
                c.current_dir(&t)
                    .args(["-c", "read _go; exec \"$@\"", "sh"])
                    .arg(env!("CARGO_BIN_EXE_imi"))
                    .args([
                        "--json",
                        "--agent",
                        &agent,
                        "claim",
                        "feat-race",
                        "--ttl",
                        "10m",
                    ])
                    .stdin(reader.try_clone().unwrap())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        // every process is started and waits on the pipe: closing it lets all go
        drop(reader);
        drop(writer);
        let results: Vec<(i32, Value)> = children
            .into_iter()
            .map(|c| {
                let r = from_output(c.wait_with_output().unwrap());
                (r.code, r.json())
            })
            .collect();
        let winners: Vec<&Value> = results
            .iter()
            .filter(|(code, _)| *code == 0)
            .map(|(_, v)| v)
            .collect();
        *histogram.entry(winners.len()).or_default() += 1;
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let winner = winners[0]["data"]["agent_id"].as_str().unwrap().to_string();
        assert_eq!(winners[0]["data"]["epoch"], round as i64 + 1);
        for (code, v) in &results {
            if *code != 0 {
                assert_eq!(*code, 1, "{v}");
                assert_eq!(v["error"]["code"], "CONFLICT", "{v}");
                let msg = v["error"]["message"].as_str().unwrap();
                assert!(msg.contains(&winner), "{msg:?} does not name {winner}");
            }
        }
        w.imi(&t, &["--agent", &winner, "release", "feat-race"])
            .ok();
    }
    println!("100 processes x {rounds} rounds: winners per round -> rounds {histogram:?}");
    assert_eq!(histogram, BTreeMap::from([(1, rounds)]));
}

fn hundred_processes_race_20_rounds(w: &World) {
    hundred_processes_race(w, 20);
}

crate::all_backends! {
    claims_cli => claims_from_the_command_line;
}

mod race {
    crate::both_backends! {
        hundred_imi_claim_processes => hundred_processes_race_20_rounds;
    }
    use super::hundred_processes_race_20_rounds;
}
