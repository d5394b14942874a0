//! API tokens of `imi serve` (SPEC §7.3): stored as a hash, one unrevoked token per
//! name, usable while neither revoked nor expired by the database's clock, and no
//! events.

use std::time::Duration;

use futures::future::join_all;
use imi_core::tokens::{Generated, generate, verify};
use imi_core::{ErrorKind, NewApiToken, Scope, Store, messages};

fn new_token(g: &Generated, name: &str, scope: Scope, expires: Option<i64>) -> NewApiToken {
    NewApiToken {
        id: g.id.clone(),
        name: name.into(),
        scope,
        token_hash: g.hash.clone(),
        created_by: "agent-a".into(),
        expires_in_seconds: expires,
    }
}

/// Create, look up by id (with the hash), list, refuse a second token of the same
/// name, revoke (then the id is unusable and the name free), `has_usable` flips.
pub async fn api_tokens_are_hashed_named_and_revocable<S: Store>(s: &S) {
    let events_before = s.last_event_id().await.unwrap();
    assert!(!s.has_usable_api_token().await.unwrap());
    assert!(s.list_api_tokens().await.unwrap().is_empty());

    let g = generate().unwrap();
    let ci = s
        .create_api_token(&new_token(&g, "ci", Scope::Write, None))
        .await
        .unwrap();
    assert_eq!(ci.id, g.id);
    assert_eq!(ci.name, "ci");
    assert_eq!(ci.scope, Scope::Write);
    assert_eq!(ci.created_by, "agent-a");
    assert_eq!((ci.expires_at, ci.revoked_at), (None, None));
    assert!(s.has_usable_api_token().await.unwrap());

    // the lookup gives the token and its stored hash, which verifies the token
    let (found, hash) = s.api_token_for_check(&g.id).await.unwrap().unwrap();
    assert_eq!(found, ci);
    assert_eq!(hash, g.hash);
    assert!(verify(&g.token, &hash));
    assert!(!verify(&generate().unwrap().token, &hash));
    assert!(
        s.api_token_for_check("0123456789ab")
            .await
            .unwrap()
            .is_none()
    );

    // one unrevoked token per name
    let other = generate().unwrap();
    let e = s
        .create_api_token(&new_token(&other, "ci", Scope::Read, None))
        .await
        .unwrap_err();
    assert_eq!(e, messages::token_name_taken("ci"));
    assert!(s.api_token_for_check(&other.id).await.unwrap().is_none());

    // bad input writes nothing
    for bad in [
        new_token(&other, "a b", Scope::Read, None),
        new_token(&other, "", Scope::Read, None),
        new_token(&other, "ok", Scope::Read, Some(0)),
        NewApiToken {
            token_hash: "x".into(),
            ..new_token(&other, "ok", Scope::Read, None)
        },
        NewApiToken {
            id: "XYZ".into(),
            ..new_token(&other, "ok", Scope::Read, None)
        },
    ] {
        let e = s.create_api_token(&bad).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{bad:?}: {e:?}");
    }
    assert_eq!(s.list_api_tokens().await.unwrap(), vec![ci.clone()]);

    let board = generate().unwrap();
    let b = s
        .create_api_token(&new_token(&board, "board", Scope::Read, Some(90 * 86400)))
        .await
        .unwrap();
    let lifetime = b.expires_at.unwrap() - b.created_at;
    assert_eq!(lifetime.num_seconds(), 90 * 86400, "{b:?}");
    let names: Vec<String> = s
        .list_api_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["board", "ci"]);

    // revoke: unusable at once, gone from the list, the name free again
    let revoked = s.revoke_api_token("ci").await.unwrap().unwrap();
    assert_eq!(revoked.id, g.id);
    assert!(revoked.revoked_at.is_some());
    assert!(s.api_token_for_check(&g.id).await.unwrap().is_none());
    assert!(s.revoke_api_token("ci").await.unwrap().is_none());
    assert!(s.revoke_api_token("never-made").await.unwrap().is_none());
    let names: Vec<String> = s
        .list_api_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["board"]);
    let again = generate().unwrap();
    let ci2 = s
        .create_api_token(&new_token(&again, "ci", Scope::Admin, None))
        .await
        .unwrap();
    assert_eq!(ci2.scope, Scope::Admin);
    assert!(s.api_token_for_check(&again.id).await.unwrap().is_some());
    // the old token of that name stays unusable
    assert!(s.api_token_for_check(&g.id).await.unwrap().is_none());

    // has_usable flips when the last usable token goes
    assert!(s.has_usable_api_token().await.unwrap());
    s.revoke_api_token("ci").await.unwrap().unwrap();
    assert!(s.has_usable_api_token().await.unwrap());
    s.revoke_api_token("board").await.unwrap().unwrap();
    assert!(!s.has_usable_api_token().await.unwrap());
    assert!(s.list_api_tokens().await.unwrap().is_empty());

    // tokens are not registry state: no events
    assert_eq!(s.last_event_id().await.unwrap(), events_before);
}

/// An expired token is not usable (the database's clock), is still listed (its
/// `expires_at` says so) and holds its name until revoked.
pub async fn api_tokens_expire<S: Store>(s: &S) {
    let g = generate().unwrap();
    let t = s
        .create_api_token(&new_token(&g, "short", Scope::Read, Some(1)))
        .await
        .unwrap();
    assert_eq!((t.expires_at.unwrap() - t.created_at).num_seconds(), 1);
    let mut waited = Duration::ZERO;
    while s.api_token_for_check(&g.id).await.unwrap().is_some() {
        assert!(waited < Duration::from_secs(10), "the token never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert!(!s.has_usable_api_token().await.unwrap());
    let listed = s.list_api_tokens().await.unwrap();
    assert_eq!(listed, vec![t.clone()]);
    assert!(listed[0].expires_at.unwrap() <= chrono::Utc::now() + chrono::Duration::seconds(5));
    let other = generate().unwrap();
    assert_eq!(
        s.create_api_token(&new_token(&other, "short", Scope::Read, None))
            .await
            .unwrap_err(),
        messages::token_name_taken("short")
    );
    // an expired token can be revoked, which frees its name
    assert!(s.revoke_api_token("short").await.unwrap().is_some());
    s.create_api_token(&new_token(&other, "short", Scope::Read, None))
        .await
        .unwrap();
    assert!(s.has_usable_api_token().await.unwrap());
}

/// Eight creations of one name at once: exactly one wins, the others are the
/// name's `CONFLICT`.
pub async fn api_token_names_are_unique_under_concurrency<S: Store>(s: &S) {
    let tokens: Vec<NewApiToken> = (0..8)
        .map(|_| new_token(&generate().unwrap(), "race", Scope::Read, None))
        .collect();
    let results = join_all(tokens.iter().map(|t| s.create_api_token(t))).await;
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e, &messages::token_name_taken("race"));
        }
    }
    let listed = s.list_api_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0], won[0]);
}
