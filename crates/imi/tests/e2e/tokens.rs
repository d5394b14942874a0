//! API tokens from the command line (SPEC §7.3): `imi token create` shows the secret
//! once, `list` never shows it or its hash, the registry holds only the hash,
//! `revoke` frees the name; bad input and a second token of one name are refused.

use serde_json::Value;

use crate::harness::World;

/// Every `api_tokens` row of the world's registry as `(name, token_hash, the whole
/// row as text)`, read by a plain SQL client.
fn stored_tokens(w: &World) -> Vec<(String, String, String)> {
    const SQL: &str = "SELECT name, token_hash, id || '|' || name || '|' || scope || '|' || \
                       token_hash || '|' || created_by || '|' || created_at || '|' || \
                       coalesce(expires_at || '', '-') || '|' || coalesce(revoked_at || '', '-') \
                       FROM api_tokens ORDER BY created_at, name";
    tokio::runtime::Handle::current().block_on(async {
        match &w.pg {
            Some(db) => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
            None => {
                let file = w.path().join(".local/share/imi/registry.db");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
                    .await
                    .unwrap();
                let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
        }
    })
}

#[track_caller]
fn refused(r: (i32, Value), code: &str, needles: &[&str]) -> Value {
    let (exit, v) = r;
    assert_eq!(exit, 1, "{v}");
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    let (message, hint) = (v["error"]["message"].as_str(), v["error"]["hint"].as_str());
    let said = format!("{} {}", message.unwrap(), hint.expect("a hint"));
    for n in needles {
        assert!(said.contains(n), "{n:?} not in {said}");
    }
    v
}

fn is_secret(s: &str) -> bool {
    imi_core::tokens::token_id(s).is_some()
}

fn tokens_from_the_command_line(w: &World) {
    let here = w.path();
    let r = w.imi(here, &["token", "list"]).ok();
    assert!(r.stdout.contains("No tokens"), "{}", r.stdout);

    // --json: the secret is in the answer, once
    let (code, v) = w.imi_json(
        here,
        &[
            "--agent",
            "ci-admin",
            "token",
            "create",
            "--name",
            "ci",
            "--scope",
            "write",
            "--expires",
            "90d",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let d = &v["data"];
    let ci_secret = d["secret"].as_str().unwrap().to_string();
    assert!(is_secret(&ci_secret), "{ci_secret}");
    assert_eq!(d["name"], "ci");
    assert_eq!(d["scope"], "write");
    assert_eq!(d["created_by"], "ci-admin");
    assert!(d["expires_at"].is_string(), "{v}");
    assert!(d["revoked_at"].is_null(), "{v}");
    assert!(d.get("token_hash").is_none(), "{v}");
    assert!(ci_secret.contains(d["id"].as_str().unwrap()));

    // for people: the secret on a line of its own, and that it is the only time
    let r = w.imi(here, &["token", "create", "--name", "board"]).ok();
    let board_secret = r
        .stdout
        .lines()
        .find(|l| is_secret(l.trim()))
        .unwrap_or_else(|| panic!("no secret in {}", r.stdout))
        .trim()
        .to_string();
    assert!(r.stdout.contains("will not be shown again"), "{}", r.stdout);
    assert!(r.stdout.contains("scope read"), "{}", r.stdout);
    assert!(r.stdout.contains("expires never"), "{}", r.stdout);

    // list: names, scopes, expiry, creator; never a secret or a hash
    let hashes = [
        imi_core::tokens::token_hash(&ci_secret),
        imi_core::tokens::token_hash(&board_secret),
    ];
    let human = w.imi(here, &["token", "list"]).ok().stdout;
    let (_, json) = w.imi_json(here, &["token", "list"]);
    for shown in [&human, &json.to_string()] {
        for hidden in [&ci_secret, &board_secret, &hashes[0], &hashes[1]] {
            assert!(!shown.contains(hidden.as_str()), "{hidden} shown: {shown}");
        }
    }
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 3, "{human}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("SCOPE") && lines[0].contains("EXPIRES"),
        "{human}"
    );
    assert!(
        lines[1].starts_with("board") && lines[1].contains("never"),
        "{human}"
    );
    assert!(
        lines[2].starts_with("ci") && lines[2].contains("write"),
        "{human}"
    );
    assert!(lines[2].ends_with("ci-admin"), "{human}");
    // aligned: the columns start at the same place on every line
    let col = lines[0].find("SCOPE").unwrap();
    assert_eq!(&lines[1][col..col + 4], "read", "{human}");
    assert_eq!(&lines[2][col..col + 5], "write", "{human}");
    let names: Vec<&str> = json["data"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["board", "ci"]);

    // the registry holds the hashes, never a secret
    let stored = stored_tokens(w);
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[0].0.as_str(), &stored[0].1), ("ci", &hashes[0]));
    assert_eq!((stored[1].0.as_str(), &stored[1].1), ("board", &hashes[1]));
    for (_, _, row) in &stored {
        for secret in [&ci_secret, &board_secret] {
            assert!(!row.contains(secret.as_str()), "{row}");
            // nor its secret part alone
            assert!(!row.contains(&secret[17..]), "{row}");
        }
    }
    if w.pg.is_none() {
        // not even in the file's free pages or the write-ahead log
        let dir = w.path().join(".local/share/imi");
        for f in ["registry.db", "registry.db-wal"] {
            let Ok(bytes) = std::fs::read(dir.join(f)) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&board_secret[17..]), "secret in {f}");
            assert!(!text.contains(&ci_secret[17..]), "secret in {f}");
        }
    }

    // refusals: a bad scope, name or lifetime, a name in use
    refused(
        w.imi_json(here, &["token", "create", "--name", "x", "--scope", "root"]),
        "VALIDATION_ERROR",
        &["root", "read, write or admin"],
    );
    refused(
        w.imi_json(here, &["token", "create", "--name", "a/b"]),
        "VALIDATION_ERROR",
        &["token name"],
    );
    refused(
        w.imi_json(
            here,
            &["token", "create", "--name", "x", "--expires", "soon"],
        ),
        "VALIDATION_ERROR",
        &["soon", "--expires"],
    );
    refused(
        w.imi_json(
            here,
            &["token", "create", "--name", "ci", "--scope", "admin"],
        ),
        "CONFLICT",
        &["\"ci\"", "imi token revoke ci"],
    );
    let r = w.imi(here, &["token", "create", "--name", "ci"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.trim().is_empty(), "{}", r.stdout);
    assert_eq!(stored_tokens(w).len(), 2, "a refusal wrote a row");

    // revoke: gone from the list, the row kept (revoked), the name free again
    let (code, v) = w.imi_json(here, &["token", "revoke", "ci"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["name"], "ci");
    assert!(v["data"]["revoked_at"].is_string(), "{v}");
    assert!(v["data"].get("secret").is_none(), "{v}");
    let r = w.imi(here, &["token", "revoke", "board"]).ok();
    assert!(r.stdout.contains("Revoked token board"), "{}", r.stdout);
    refused(
        w.imi_json(here, &["token", "revoke", "ci"]),
        "NOT_FOUND",
        &["ci", "imi token list"],
    );
    let r = w.imi(here, &["token", "list"]).ok();
    assert!(r.stdout.contains("No tokens"), "{}", r.stdout);
    let (code, v) = w.imi_json(here, &["token", "create", "--name", "ci"]);
    assert_eq!(code, 0, "{v}");
    assert_ne!(v["data"]["secret"].as_str().unwrap(), ci_secret);
    let stored = stored_tokens(w);
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored.iter().filter(|r| r.2.ends_with("|-")).count(),
        1,
        "one unrevoked row: {stored:?}"
    );
}

crate::all_backends! {
    tokens_cli => tokens_from_the_command_line;
}
