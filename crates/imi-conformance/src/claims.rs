//! Claims with leases (SPEC §7.1), the same on every backend: acquire, renew and
//! release scoped to holder and epoch, takeover after expiry by the database's
//! clock, one claim per work item across hosts, exactly one winner in a race.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use imi_core::{
    Claim, ClaimFilter, ErrorKind, NewClaim, NewWorktree, ReleaseScope, Store, Worktree,
};
use uuid::Uuid;

use crate::TEST_HOST;
use crate::scenarios::{project, worktree};

async fn setup<S: Store>(s: &S) -> Worktree {
    let p = s
        .register_project(&project("app", Some("https://github.com/acme/app")))
        .await
        .unwrap();
    s.register_worktree(&worktree(&p, "feat", "login"))
        .await
        .unwrap()
}

fn claim_of(w: &Worktree, agent: &str, ttl: Option<i64>) -> NewClaim {
    NewClaim {
        worktree_id: w.id,
        agent_id: agent.into(),
        ttl_seconds: ttl,
        purpose: None,
    }
}

#[track_caller]
fn conflict<T: std::fmt::Debug>(r: imi_core::Result<T>, needles: &[&str]) -> imi_core::Error {
    let e = r.expect_err("expected a CONFLICT");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e:?}");
    for n in needles {
        assert!(e.message.contains(n), "{n:?} not in {:?}", e.message);
    }
    e
}

async fn claim_activities<S: Store>(s: &S, w: &Worktree) -> Vec<imi_core::Activity> {
    let mut found: Vec<_> = s
        .recent_activities(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.worktree_id == Some(w.id)
                && (a.activity_type == "claimed" || a.activity_type == "released")
        })
        .collect();
    found.reverse(); // oldest first
    found
}

/// Acquire, renew as the holder (claiming again or `renew_claim`), another agent
/// refused with the holder, host and lease named, release (twice is a no-op), and a
/// new tenure with epoch + 1. Each change of hands is in the activity log.
pub async fn claims_acquire_renew_release<S: Store>(s: &S) {
    let w = setup(s).await;
    assert_eq!(s.get_claim(w.id).await.unwrap(), None);

    let mut new = claim_of(&w, "agent-a", Some(600));
    new.purpose = Some("login form".into());
    let g = s.claim(&new).await.unwrap();
    assert!(!g.renewed);
    let c = g.claim;
    assert_eq!(
        (c.epoch, c.agent_id.as_str(), c.host.as_str()),
        (1, "agent-a", TEST_HOST)
    );
    assert_eq!(c.worktree_name, w.name);
    assert_eq!(c.project_name, "app");
    assert_eq!(c.purpose.as_deref(), Some("login form"));
    assert_eq!(c.ttl_seconds, Some(600));
    assert!(c.held && c.held_by("agent-a"));
    let left = c.expires_in_seconds().unwrap();
    assert!((590..=600).contains(&left), "{left}");

    // the holder claiming again renews: same epoch, purpose kept
    let again = s.claim(&claim_of(&w, "agent-a", Some(900))).await.unwrap();
    assert!(again.renewed);
    assert_eq!(again.claim.epoch, 1);
    assert_eq!(again.claim.acquired_at, c.acquired_at);
    assert_eq!(again.claim.purpose.as_deref(), Some("login form"));
    assert!(again.claim.expires_at > c.expires_at);

    let renewed = s.renew_claim(w.id, "agent-a", 1, Some(1200)).await.unwrap();
    assert_eq!((renewed.epoch, renewed.ttl_seconds), (1, Some(1200)));
    assert!(renewed.expires_at > again.claim.expires_at);
    assert!(renewed.renewed_at.is_some());
    // no lease length given: the claim's own
    let kept = s.renew_claim(w.id, "agent-a", 1, None).await.unwrap();
    assert_eq!(kept.ttl_seconds, Some(1200));

    let e = conflict(
        s.claim(&claim_of(&w, "agent-b", None)).await,
        &["agent-a", TEST_HOST, "epoch 1", "lease ends", &w.name],
    );
    assert!(e.hint.unwrap().contains("imi release"));

    let listed = s.list_claims(&ClaimFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].agent_id, "agent-a");

    let r = s
        .release_claim(w.id, "agent-a", ReleaseScope::Epoch(1))
        .await
        .unwrap();
    assert!(r.released_at.is_some() && !r.held);
    // twice: the claim as it is
    let r2 = s
        .release_claim(w.id, "agent-a", ReleaseScope::Epoch(1))
        .await
        .unwrap();
    assert_eq!(r2.released_at, r.released_at);
    assert!(
        s.list_claims(&ClaimFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    let all = s
        .list_claims(&ClaimFilter {
            include_ended: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert!(!all[0].held);

    // after a release: a new tenure (held until released: no lease)
    let b = s.claim(&claim_of(&w, "agent-b", None)).await.unwrap();
    assert!(!b.renewed);
    assert_eq!((b.claim.epoch, b.claim.expires_at), (2, None));
    assert_eq!(b.claim.stolen_from, None);
    conflict(
        s.claim(&claim_of(&w, "agent-a", None)).await,
        &["agent-b", "held until released"],
    );
    // the same agent after its own release: a new tenure too
    s.release_claim(w.id, "agent-b", ReleaseScope::Epoch(2))
        .await
        .unwrap();
    let b3 = s.claim(&claim_of(&w, "agent-b", None)).await.unwrap();
    assert_eq!(b3.claim.epoch, 3);

    let log: Vec<(String, String)> = claim_activities(s, &w)
        .await
        .into_iter()
        .map(|a| (a.activity_type, a.agent_id))
        .collect();
    let expect: Vec<(String, String)> = [
        ("claimed", "agent-a"),
        ("released", "agent-a"),
        ("claimed", "agent-b"),
        ("released", "agent-b"),
        ("claimed", "agent-b"),
    ]
    .iter()
    .map(|(t, a)| (t.to_string(), a.to_string()))
    .collect();
    assert_eq!(log, expect);
}

/// Renew and release are scoped to holder and epoch: the previous holder's epoch is
/// stale once the item changed hands.
pub async fn claims_stale_epoch_is_refused<S: Store>(s: &S) {
    let w = setup(s).await;
    s.claim(&claim_of(&w, "agent-a", None)).await.unwrap();
    s.release_claim(w.id, "agent-a", ReleaseScope::Epoch(1))
        .await
        .unwrap();
    s.claim(&claim_of(&w, "agent-b", None)).await.unwrap();
    s.release_claim(w.id, "agent-b", ReleaseScope::Epoch(2))
        .await
        .unwrap();
    let a = s.claim(&claim_of(&w, "agent-a", Some(600))).await.unwrap();
    assert_eq!(a.claim.epoch, 3);

    conflict(
        s.renew_claim(w.id, "agent-a", 1, Some(60)).await,
        &["epoch 1", "stale", "epoch 3"],
    );
    conflict(
        s.release_claim(w.id, "agent-a", ReleaseScope::Epoch(2))
            .await,
        &["epoch 2", "stale", "epoch 3"],
    );
    // a renewal by the previous holder (another agent now) names the holder
    conflict(
        s.renew_claim(w.id, "agent-b", 2, Some(60)).await,
        &["agent-b does not hold", "agent-a"],
    );
    let still = s.get_claim(w.id).await.unwrap().unwrap();
    assert!(still.held_by("agent-a"));
    assert_eq!(still.epoch, 3);
    assert_eq!(still.expires_at, a.claim.expires_at, "nothing renewed");
    s.renew_claim(w.id, "agent-a", 3, Some(60)).await.unwrap();

    // never claimed: NOT_FOUND; unknown worktree: NOT_FOUND
    let p = s.get_project(w.project_id).await.unwrap();
    let other = s
        .register_worktree(&worktree(&p, "fix", "crash"))
        .await
        .unwrap();
    let e = s
        .renew_claim(other.id, "agent-a", 1, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    let e = s
        .claim(&claim_of(
            &Worktree {
                id: Uuid::new_v4(),
                ..other.clone()
            },
            "agent-a",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    // a removed worktree is not claimed
    s.deactivate_worktree(other.id).await.unwrap();
    let e = s
        .claim(&claim_of(&other, "agent-a", None))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    assert!(e.message.contains("removed"), "{e:?}");
    // bad input: nothing written
    for bad in [claim_of(&w, " ", None), claim_of(&w, "agent-c", Some(0))] {
        let e = s.claim(&bad).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{e:?}");
    }
}

/// A non-holder's release is refused naming the holder; `Force` releases it and
/// the log names both.
pub async fn claims_release_by_non_holder_needs_force<S: Store>(s: &S) {
    let w = setup(s).await;
    s.claim(&claim_of(&w, "agent-a", Some(600))).await.unwrap();
    conflict(
        s.release_claim(w.id, "agent-b", ReleaseScope::Epoch(1))
            .await,
        &["agent-b does not hold", "agent-a"],
    );
    assert!(s.get_claim(w.id).await.unwrap().unwrap().held);
    let r = s
        .release_claim(w.id, "agent-b", ReleaseScope::Force)
        .await
        .unwrap();
    assert_eq!(r.agent_id, "agent-a");
    assert!(!r.held);
    let last = claim_activities(s, &w).await.pop().unwrap();
    assert_eq!(
        (last.activity_type.as_str(), last.agent_id.as_str()),
        ("released", "agent-b")
    );
    assert!(
        last.description.as_deref().unwrap().contains("agent-a"),
        "{last:?}"
    );
    assert_eq!(last.metadata["forced"], serde_json::json!(true));
    assert_eq!(last.metadata["holder"], serde_json::json!("agent-a"));
    // nothing held: forcing again is NOT_FOUND
    let e = s
        .release_claim(w.id, "agent-b", ReleaseScope::Force)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    let b = s.claim(&claim_of(&w, "agent-b", None)).await.unwrap();
    assert_eq!(b.claim.epoch, 2);
}

/// Takes `w` for `agent` as soon as the database's clock says the lease ended:
/// tries until it succeeds (every refusal before must be a CONFLICT).
async fn claim_when_free<S: Store>(s: &S, w: &Worktree, agent: &str) -> imi_core::ClaimGrant {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match s.claim(&claim_of(w, agent, Some(600))).await {
            Ok(g) => return g,
            Err(e) if e.kind == ErrorKind::Conflict && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// A lease of a few seconds: before it ends another agent is refused; once the
/// database's clock passes it, the next claim takes over with epoch + 1, logged as
/// stolen from the previous holder, whose renew and release are refused.
pub async fn claims_expire_and_are_taken_over<S: Store>(s: &S) {
    let w = setup(s).await;
    let a = s.claim(&claim_of(&w, "agent-a", Some(2))).await.unwrap();
    let ends = a.claim.expires_at.unwrap();
    assert_eq!((ends - a.claim.acquired_at).num_seconds(), 2);
    let e = conflict(
        s.claim(&claim_of(&w, "agent-b", Some(600))).await,
        &["agent-a", "lease ends"],
    );
    drop(e);
    let b = claim_when_free(s, &w, "agent-b").await;
    assert!(!b.renewed);
    assert_eq!(b.claim.epoch, 2);
    assert_eq!(b.claim.stolen_from.as_deref(), Some("agent-a"));
    assert!(
        b.claim.acquired_at >= ends,
        "taken over before the lease ended"
    );
    let last = claim_activities(s, &w).await.pop().unwrap();
    assert_eq!(last.activity_type, "claimed");
    assert_eq!(last.agent_id, "agent-b");
    assert_eq!(last.metadata["claim"], serde_json::json!("stolen"));
    assert_eq!(last.metadata["stolen_from"], serde_json::json!("agent-a"));
    assert!(last.description.unwrap().contains("stolen from agent-a"));

    conflict(
        s.renew_claim(w.id, "agent-a", 1, Some(600)).await,
        &["agent-a does not hold", "agent-b"],
    );
    conflict(
        s.release_claim(w.id, "agent-a", ReleaseScope::Epoch(1))
            .await,
        &["agent-a does not hold", "agent-b"],
    );
    // the holder's own lapsed lease that nobody took is renewed, epoch kept
    let c = s.claim(&claim_of(&w, "agent-b", Some(1))).await.unwrap();
    assert!(c.renewed);
    let lapsed: Claim = loop {
        let c = s.get_claim(w.id).await.unwrap().unwrap();
        if !c.held {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lapsed.epoch, 2);
    let r = s.renew_claim(w.id, "agent-b", 2, Some(600)).await.unwrap();
    assert!(r.held);
    assert_eq!(r.epoch, 2);
}

/// A claim covers the worktree name on every host: holding `feat-login` through one
/// host's checkout blocks a claim through another host's.
pub async fn claims_cover_the_name_on_every_host<S: Store>(s: &S) {
    let w = setup(s).await;
    let p = s.get_project(w.project_id).await.unwrap();
    let there = s
        .register_worktree(&NewWorktree {
            host: Some("box2".into()),
            path: format!("/srv/box2/{}", w.name),
            ..worktree(&p, "feat", "login")
        })
        .await
        .unwrap();
    assert_ne!(there.id, w.id);
    assert_eq!(there.name, w.name);
    s.claim(&claim_of(&w, "agent-a", None)).await.unwrap();
    conflict(
        s.claim(&claim_of(&there, "agent-b", None)).await,
        &["agent-a", TEST_HOST],
    );
    let through_there = s.get_claim(there.id).await.unwrap().unwrap();
    assert!(through_there.held_by("agent-a"));
    // the holder may use its claim through any checkout of the name
    let renewed = s.claim(&claim_of(&there, "agent-a", None)).await.unwrap();
    assert!(renewed.renewed);
    s.release_claim(there.id, "agent-a", ReleaseScope::Epoch(1))
        .await
        .unwrap();
    let b = s.claim(&claim_of(&there, "agent-b", None)).await.unwrap();
    assert_eq!((b.claim.epoch, b.claim.host.as_str()), (2, "box2"));
}

/// `stores.len()` separate connections claim one worktree at the same instant,
/// `rounds` times: exactly one wins each round, every other gets a CONFLICT naming
/// the winner. Returns the histogram winners-per-round → rounds.
pub async fn connections_race_for_one_claim<S: Store>(
    stores: &[S],
    rounds: usize,
) -> BTreeMap<usize, usize> {
    let w = setup(&stores[0]).await;
    let mut histogram = BTreeMap::new();
    for round in 0..rounds {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(stores.len()));
        let calls = stores.iter().enumerate().map(|(i, s)| {
            let barrier = barrier.clone();
            let c = claim_of(&w, &format!("agent-{i}"), Some(600));
            async move {
                barrier.wait().await;
                s.claim(&c).await
            }
        });
        let results = join_all(calls).await;
        let winners: Vec<&imi_core::ClaimGrant> =
            results.iter().filter_map(|r| r.as_ref().ok()).collect();
        *histogram.entry(winners.len()).or_default() += 1;
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let winner = &winners[0].claim;
        assert_eq!(winner.epoch, round as i64 + 1, "round {round}");
        for r in &results {
            if let Err(e) = r {
                assert_eq!(e.kind, ErrorKind::Conflict, "round {round}: {e:?}");
                assert!(e.message.contains(&winner.agent_id), "{e:?}");
            }
        }
        stores[0]
            .release_claim(w.id, &winner.agent_id, ReleaseScope::Epoch(winner.epoch))
            .await
            .unwrap();
    }
    histogram
}
