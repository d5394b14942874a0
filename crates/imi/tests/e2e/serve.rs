//! `imi serve` through a real HTTP client (reqwest) against the real binary, on
//! every backend: a whole journey with status codes and envelopes, tokens and
//! scopes, the host and origin checks, the event stream (live within 1 s of a claim
//! by another process; after a reconnect exactly the missed events), and a
//! graceful stop.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use crate::harness::World;
use crate::server::{Server, client};

/// Sends, and returns the status and the JSON body (the envelope).
#[track_caller]
fn send(rb: RequestBuilder) -> (u16, Value) {
    let r = rb.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text}"));
    (status, body)
}

#[track_caller]
fn expect_error(got: (u16, Value), status: u16, code: &str) -> Value {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(
        body["error"]["hint"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    body
}

#[track_caller]
fn expect_ok(got: (u16, Value), status: u16) -> Value {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["success"], true, "{body}");
    body["data"].clone()
}

fn as_agent(rb: RequestBuilder, agent: &str) -> RequestBuilder {
    rb.header("X-Imi-Agent", agent)
}

/// The documented (method, path) pairs of the committed OpenAPI document.
fn documented() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for (p, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            out.push((m.to_uppercase(), p.clone()));
        }
    }
    out
}

fn journey(w: &World) {
    w.clone_trunk();
    let mut server = Server::start(w, &[]);
    let c = client();

    let health = expect_ok(send(c.get(format!("{}/health", server.url))), 200);
    assert_eq!(health["registry_reachable"], true);
    assert_eq!(health["schema_version"], health["schema_latest"]);
    assert!(health["uptime_seconds"].is_u64());

    // register the project from its repository on disk
    let trunk = w.trunk().display().to_string();
    let p = expect_ok(
        send(
            c.post(server.api("/projects"))
                .json(&json!({ "path": trunk })),
        ),
        201,
    );
    assert_eq!(p["project"]["name"], "app");
    expect_error(
        send(
            c.post(server.api("/projects"))
                .json(&json!({ "path": "relative/dir" })),
        ),
        400,
        "VALIDATION_ERROR",
    );

    // a worktree, created by agent-a; again: found (200), not made twice
    let made = expect_ok(
        send(
            as_agent(c.post(server.api("/projects/app/worktrees")), "agent-a")
                .json(&json!({ "type": "feat", "name": "login" })),
        ),
        201,
    );
    assert_eq!(made["created"], true);
    assert_eq!(made["worktree"]["branch_name"], "feat/login");
    assert!(w.wt("feat-login").join(".git").exists());
    let again = expect_ok(
        send(
            c.post(server.api("/projects/app/worktrees"))
                .json(&json!({ "type": "feat", "name": "login" })),
        ),
        200,
    );
    assert_eq!(again["created"], false);
    expect_error(
        send(
            c.post(server.api("/projects/app/worktrees"))
                .json(&json!({ "type": "feat", "name": "../x" })),
        ),
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        send(
            c.post(server.api("/projects/app/worktrees"))
                .header("content-type", "application/json")
                .body("{not json"),
        ),
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        send(c.get(server.api("/projects/nope/worktrees"))),
        404,
        "NOT_FOUND",
    );
    expect_error(send(c.get(server.api("/no/such/route"))), 404, "NOT_FOUND");

    // claims: agent-a holds it, agent-b is refused with the holder named
    let claim = expect_ok(
        send(
            as_agent(
                c.post(server.api("/projects/app/worktrees/feat-login/claim")),
                "agent-a",
            )
            .json(&json!({ "ttl_seconds": 600, "purpose": "login form" })),
        ),
        200,
    );
    assert_eq!(claim["epoch"], 1);
    assert_eq!(claim["agent_id"], "agent-a");
    let refused = expect_error(
        send(
            as_agent(
                c.post(server.api("/projects/app/worktrees/feat-login/claim")),
                "agent-b",
            )
            .json(&json!({})),
        ),
        409,
        "CONFLICT",
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agent-a"),
        "{refused}"
    );
    // bodies the document rules out are refused, and change nothing: an array for
    // an object (serde would read one into a struct), an epoch below 1, a forced
    // release that names an epoch
    let release = server.api("/projects/app/worktrees/feat-login/release");
    for body in [
        json!([]),
        json!({ "epoch": 0 }),
        json!({ "force": true, "epoch": 1 }),
    ] {
        expect_error(
            send(as_agent(c.post(&release), "agent-a").json(&body)),
            400,
            "VALIDATION_ERROR",
        );
    }
    expect_error(
        send(
            as_agent(
                c.post(server.api("/projects/app/worktrees/feat-login/renew")),
                "agent-a",
            )
            .json(&json!([])),
        ),
        400,
        "VALIDATION_ERROR",
    );
    let claims = expect_ok(send(c.get(server.api("/claims"))), 200);
    assert_eq!(claims["claims"].as_array().unwrap().len(), 1);

    // git state: a commit and an uncommitted file on disk, then sync
    let wt = w.wt("feat-login");
    w.write(&wt.join("login.txt"), "form\n");
    w.git(&wt, &["add", "login.txt"]);
    w.git(&wt, &["commit", "-q", "-m", "login form"]);
    w.write(&wt.join("scratch.txt"), "wip\n");
    expect_ok(
        send(as_agent(c.post(server.api("/sync")), "agent-a").json(&json!({ "project": "app" }))),
        200,
    );
    let one = expect_ok(
        send(c.get(server.api("/projects/app/worktrees/feat-login"))),
        200,
    );
    assert_eq!(one["worktree"]["uncommitted_files_count"], 1, "{one}");
    assert_eq!(one["worktree"]["ahead_of_trunk"], 1, "{one}");
    assert_eq!(one["worktree"]["last_commit_message"], "login form");
    assert_eq!(one["worktree"]["claimed_by"], "agent-a");
    let inflight = expect_ok(send(c.get(server.api("/inflight?project=app"))), 200);
    let entry = inflight["inflight"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["worktree_name"] == "feat-login")
        .cloned()
        .unwrap_or_else(|| panic!("{inflight}"));
    assert_eq!(entry["status"], "uncommitted");

    // metadata
    let set = expect_ok(
        send(
            as_agent(
                c.put(server.api("/projects/app/worktrees/feat-login/metadata/plane.ticket")),
                "agent-a",
            )
            .json(&json!({ "value": { "id": 42 } })),
        ),
        200,
    );
    assert_eq!(set["metadata"]["plane"]["ticket"]["id"], 42);
    let got = expect_ok(
        send(c.get(server.api("/projects/app/worktrees/feat-login/metadata/plane.ticket.id"))),
        200,
    );
    assert_eq!(got["value"], 42);
    // another agent may not change a claimed worktree
    expect_error(
        send(
            as_agent(
                c.put(server.api("/projects/app/worktrees/feat-login/metadata/x")),
                "agent-b",
            )
            .json(&json!({ "value": 1 })),
        ),
        409,
        "CONFLICT",
    );

    // merge: refused while dirty (nothing changes), then done by the holder
    let trunk_head = w.git(&w.trunk(), &["rev-parse", "HEAD"]);
    expect_error(
        send(
            as_agent(
                c.post(server.api("/projects/app/worktrees/feat-login/merge")),
                "agent-a",
            )
            .json(&json!({})),
        ),
        422,
        "UNSAFE",
    );
    assert_eq!(w.git(&w.trunk(), &["rev-parse", "HEAD"]), trunk_head);
    assert!(wt.join("scratch.txt").exists());
    std::fs::remove_file(wt.join("scratch.txt")).unwrap();
    let merged = expect_ok(
        send(
            as_agent(
                c.post(server.api("/projects/app/worktrees/feat-login/merge")),
                "agent-a",
            )
            .json(&json!({})),
        ),
        200,
    );
    assert!(
        merged["merge_commit"]
            .as_str()
            .is_some_and(|h| h.len() >= 40)
    );
    assert!(!wt.exists());
    assert!(w.trunk().join("login.txt").exists());
    expect_error(
        send(c.get(server.api("/projects/app/worktrees/feat-login"))),
        404,
        "NOT_FOUND",
    );

    // the event log tells the whole story, in order
    let ev = expect_ok(send(c.get(server.api("/events?since=0&limit=1000"))), 200);
    let events = ev["events"].as_array().unwrap();
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "{ids:?}");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let pos = |t: &str| {
        types
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("no {t} in {types:?}"))
    };
    assert!(pos("imi.project.registered") < pos("imi.worktree.created"));
    assert!(pos("imi.worktree.created") < pos("imi.claim.claimed"));
    assert!(pos("imi.claim.claimed") < pos("imi.worktree.merged"));
    let filtered = expect_ok(
        send(c.get(server.api("/events?since=0&type=imi.claim."))),
        200,
    );
    assert!(
        filtered["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"].as_str().unwrap().starts_with("imi.claim.")),
        "{filtered}"
    );
    expect_error(
        send(c.get(server.api("/events?type=imi.nope"))),
        400,
        "VALIDATION_ERROR",
    );
    expect_error(
        send(c.get(server.api("/events?limit=abc"))),
        400,
        "VALIDATION_ERROR",
    );

    // every route the journey used is in the committed OpenAPI document
    let documented = documented();
    let mut seen = 0;
    for r in server.requests() {
        let Some(route) = r["route"].as_str() else {
            continue;
        };
        let method = r["method"].as_str().unwrap().to_string();
        assert!(
            documented.contains(&(method.clone(), route.to_string())),
            "{method} {route} is served but not in docs/openapi.json"
        );
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} routed requests were logged");

    let status = server.stop();
    assert!(status.success(), "imi serve exited with {status}");
}

fn tokens_and_scopes(w: &World) {
    w.init_project();
    let token = |name: &str, scope: &str| -> String {
        let (code, v) = w.imi_json(
            w.path(),
            &["token", "create", "--name", name, "--scope", scope],
        );
        assert_eq!(code, 0, "{v}");
        v["data"]["secret"].as_str().unwrap().to_string()
    };
    let read = token("reader", "read");
    let write = token("writer", "write");
    let admin = token("admin", "admin");
    w.imi(&w.trunk(), &["add", "feat", "x"]).ok();
    let server = Server::start(w, &["--require-token"]);
    let c = client();
    let claim_url = server.api("/projects/app/worktrees/feat-x/claim");

    // no token, a wrong one, a malformed header: 401 in the envelope
    let r = c.get(server.api("/projects")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    expect_error(send(c.get(server.api("/projects"))), 401, "UNAUTHORIZED");
    // the same token with its last hex digit changed
    let flip = if read.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{flip}", &read[..read.len() - 1]);
    expect_error(
        send(c.get(server.api("/projects")).bearer_auth(&forged)),
        401,
        "UNAUTHORIZED",
    );
    expect_error(
        send(c.get(server.api("/projects")).bearer_auth("imi_nothing")),
        401,
        "UNAUTHORIZED",
    );
    // health stays open (for load balancers)
    expect_ok(send(c.get(format!("{}/health", server.url))), 200);

    // read scope reads, cannot write
    let projects = expect_ok(send(c.get(server.api("/projects")).bearer_auth(&read)), 200);
    assert_eq!(projects["projects"][0]["name"], "app");
    expect_error(
        send(c.post(&claim_url).bearer_auth(&read).json(&json!({}))),
        403,
        "FORBIDDEN",
    );
    let (code, claims) = w.imi_json(w.path(), &["claims"]);
    assert_eq!(code, 0);
    assert_eq!(
        claims["data"]["claims"].as_array().unwrap().len(),
        0,
        "a read token changed something"
    );
    // write scope writes, cannot add types; admin can
    expect_ok(
        send(as_agent(c.post(&claim_url).bearer_auth(&write), "bot").json(&json!({}))),
        200,
    );
    expect_error(
        send(
            c.post(server.api("/types"))
                .bearer_auth(&write)
                .json(&json!({ "name": "spike" })),
        ),
        403,
        "FORBIDDEN",
    );
    expect_ok(
        send(
            c.post(server.api("/types"))
                .bearer_auth(&admin)
                .json(&json!({ "name": "spike" })),
        ),
        201,
    );

    // a revoked token stops working at once
    w.imi(w.path(), &["token", "revoke", "reader"]).ok();
    expect_error(
        send(c.get(server.api("/projects")).bearer_auth(&read)),
        401,
        "UNAUTHORIZED",
    );

    // no secret ever reaches the server's log
    let log = server.log.lock().unwrap().join("\n");
    for secret in [&read, &write, &admin] {
        assert!(!log.contains(secret.as_str()), "a token is in the log");
    }
    assert!(
        log.contains("\"token\":\"writer\""),
        "the token's name is logged: {log}"
    );
}

fn host_and_origin(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["add", "feat", "x"]).ok();
    let server = Server::start(w, &[]);
    let c = client();
    let before = expect_ok(send(c.get(server.api("/events"))), 200)["last_id"]
        .as_i64()
        .unwrap();

    // DNS rebinding: a page of attacker.example re-pointed at 127.0.0.1
    expect_error(
        send(
            c.get(server.api("/projects"))
                .header("Host", "attacker.example"),
        ),
        403,
        "FORBIDDEN",
    );
    expect_error(
        send(
            c.post(server.api("/projects/app/worktrees/feat-x/claim"))
                .header("Host", "attacker.example:80")
                .json(&json!({})),
        ),
        403,
        "FORBIDDEN",
    );
    // CSRF: a form or fetch from another site
    expect_error(
        send(
            c.post(server.api("/projects/app/worktrees/feat-x/claim"))
                .header("Origin", "http://attacker.example")
                .json(&json!({})),
        ),
        403,
        "FORBIDDEN",
    );
    expect_error(
        send(
            c.post(server.api("/projects/app/worktrees/feat-x/claim"))
                .header("Origin", "null")
                .json(&json!({})),
        ),
        403,
        "FORBIDDEN",
    );
    let after = expect_ok(send(c.get(server.api("/events"))), 200)["last_id"]
        .as_i64()
        .unwrap();
    assert_eq!(before, after, "a refused request changed the registry");
    // the board's own page may post; no CORS header is ever sent
    let own = server.url.clone();
    let r = c
        .post(server.api("/projects/app/worktrees/feat-x/claim"))
        .header("Origin", &own)
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .get(server.api("/projects"))
        .header("Origin", "http://attacker.example")
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // bodies are limited
    let big = "x".repeat(300 * 1024);
    let (s, _) = send(c.post(server.api("/activities")).json(&json!({
        "project": "app", "activity_type": "other", "description": big
    })));
    assert_eq!(s, 413);
}

/// Reads server-sent events from a stream into (id, type) pairs on a channel.
fn subscribe(c: &Client, url: &str, last_event_id: Option<i64>) -> mpsc::Receiver<(i64, String)> {
    let mut rb = c.get(url).header("Accept", "text/event-stream");
    if let Some(id) = last_event_id {
        rb = rb.header("Last-Event-ID", id.to_string());
    }
    let r = rb.send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        r.headers()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut id = None;
        let mut kind = String::new();
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if let Some(v) = line
                .strip_prefix("id: ")
                .or_else(|| line.strip_prefix("id:"))
            {
                id = v.trim().parse::<i64>().ok();
            } else if let Some(v) = line
                .strip_prefix("event: ")
                .or_else(|| line.strip_prefix("event:"))
            {
                kind = v.trim().to_string();
            } else if line.is_empty()
                && let Some(i) = id.take()
                && tx.send((i, std::mem::take(&mut kind))).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Waits for the first event of `kind`, collecting everything received before it.
fn until(
    rx: &mpsc::Receiver<(i64, String)>,
    kind: &str,
    within: Duration,
) -> Option<(Vec<(i64, String)>, Duration)> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while let Some(left) = within.checked_sub(start.elapsed()) {
        match rx.recv_timeout(left) {
            Ok(e) => {
                let hit = e.1 == kind;
                seen.push(e);
                if hit {
                    return Some((seen, start.elapsed()));
                }
            }
            Err(_) => return None,
        }
    }
    None
}

fn events_stream(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["add", "feat", "x"]).ok();
    w.imi(&w.trunk(), &["add", "feat", "y"]).ok();
    let server = Server::start(w, &[]);
    let c = client();
    let url = server.api("/events");
    let rx = subscribe(&c, &url, None);
    // the stream is open before the claim: give the server a moment to subscribe
    std::thread::sleep(Duration::from_millis(200));

    // a claim by a separate imi process appears within 1 s of that process ending
    let claim = w
        .cmd(&w.wt("feat-x"), &["claim"])
        .env("IMI_AGENT_ID", "cli-agent")
        .output()
        .unwrap();
    assert!(
        claim.status.success(),
        "{}",
        String::from_utf8_lossy(&claim.stderr)
    );
    let (seen, took) = until(&rx, "imi.claim.claimed", Duration::from_secs(1))
        .expect("the claim did not reach the stream within 1 s");
    println!("claim reached the stream {took:?} after the claiming process ended");
    let last_seen = seen.last().unwrap().0;
    drop(rx);

    // disconnected: changes happen meanwhile
    w.cmd(&w.wt("feat-x"), &["release"])
        .env("IMI_AGENT_ID", "cli-agent")
        .output()
        .unwrap();
    w.imi(
        &w.trunk(),
        &["log", "add", "other", "while nobody listened"],
    )
    .ok();
    w.cmd(&w.wt("feat-y"), &["claim", "--ttl", "5m"])
        .env("IMI_AGENT_ID", "cli-agent")
        .output()
        .unwrap();
    let missed = expect_ok(
        send(c.get(format!("{url}?since={last_seen}&limit=1000"))),
        200,
    );
    let missed: Vec<(i64, String)> = missed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(missed.len() >= 3, "{missed:?}");

    // reconnecting with Last-Event-ID: exactly the missed events, in order, once
    let rx = subscribe(&c, &url, Some(last_seen));
    let mut replayed = Vec::new();
    while replayed.len() < missed.len() {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(e) => replayed.push(e),
            Err(_) => break,
        }
    }
    assert_eq!(replayed, missed);
    // then live again, with nothing repeated
    w.cmd(&w.wt("feat-y"), &["release"])
        .env("IMI_AGENT_ID", "cli-agent")
        .output()
        .unwrap();
    let (more, _) = until(&rx, "imi.claim.released", Duration::from_secs(5))
        .expect("no live event after the replay");
    let last_missed = missed.last().unwrap().0;
    assert!(more.iter().all(|(id, _)| *id > last_missed), "{more:?}");

    // ?since= replays too, and a filter keeps only its types
    let rx = subscribe(
        &c,
        &format!("{url}?since={last_seen}&type=imi.claim."),
        None,
    );
    let mut got = Vec::new();
    while let Ok(e) = rx.recv_timeout(Duration::from_millis(1500)) {
        got.push(e);
    }
    let claims: Vec<(i64, String)> = missed
        .iter()
        .filter(|e| e.1.starts_with("imi.claim."))
        .cloned()
        .collect();
    assert!(got.starts_with(&claims), "{got:?} vs {claims:?}");
    assert!(got.iter().all(|e| e.1.starts_with("imi.claim.")), "{got:?}");
}

/// The worktree listing is kept between requests (agents poll it), yet never shows
/// less than a fresh read: a change by another process shows at once, and so does
/// the end of a lease, which no commit marks.
fn listing_follows_every_change(w: &World) {
    w.init_project();
    w.imi(&w.trunk(), &["add", "feat", "x"]).ok();
    let server = Server::start(w, &[]);
    let c = client();
    let url = server.api("/projects/app/worktrees");
    let text = || {
        let r = c.get(&url).send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().unwrap()
    };
    let claimed = |body: &str| -> Option<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v["data"]["worktrees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "feat-x")
            .and_then(|w| w["claimed_by"].as_str().map(str::to_string))
    };
    let first = text();
    assert_eq!(text(), first, "nothing changed, the same answer");
    assert_eq!(claimed(&first), None);

    // a claim with a short lease, by another process
    let out = w
        .cmd(&w.wt("feat-x"), &["claim", "--ttl", "3s"])
        .env("IMI_AGENT_ID", "agent-cli")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let held = text();
    assert_eq!(claimed(&held).as_deref(), Some("agent-cli"), "{held}");
    // another process adds a worktree
    w.imi(&w.trunk(), &["add", "fix", "y"]).ok();
    let more = text();
    let v: Value = serde_json::from_str(&more).unwrap();
    assert_eq!(
        v["data"]["worktrees"].as_array().unwrap().len(),
        3,
        "{more}"
    );
    assert_eq!(claimed(&more).as_deref(), Some("agent-cli"));
    // the lease ends: nothing commits, the listing still shows it
    std::thread::sleep(Duration::from_millis(3300));
    let ended = text();
    assert_eq!(claimed(&ended), None, "{ended}");
}

fn refuses_to_expose_without_tokens(w: &World) {
    w.init_project();
    let r = w.imi(w.path(), &["--json", "serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["code"], "VALIDATION_ERROR");
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("imi token create"),
        "{v}"
    );
    let r = w.imi(
        w.path(),
        &[
            "--json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--require-token",
        ],
    );
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
}

fn stops_gracefully_with_a_stream_open(w: &World) {
    w.init_project();
    let mut server = Server::start(w, &[]);
    let c = client();
    let rx = subscribe(&c, &server.api("/events"), Some(0));
    let _ = rx.recv_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let status = server.stop();
    assert!(status.success(), "imi serve exited with {status}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "stopping took {:?}",
        start.elapsed()
    );
}

crate::both_backends! {
    serve_journey => journey;
    serve_tokens_and_scopes => tokens_and_scopes;
    serve_host_and_origin => host_and_origin;
    serve_refuses_to_expose_without_tokens => refuses_to_expose_without_tokens;
    serve_stops_gracefully => stops_gracefully_with_a_stream_open;
    serve_listing_follows_every_change => listing_follows_every_change;
}

mod stream {
    use super::events_stream;

    crate::all_backends! {
        serve_events_stream => events_stream;
    }
}
