//! What the store crates' fault tests (a full disk, a read-only registry, a lost
//! server) check on either backend: the refusal is `REGISTRY_UNAVAILABLE` with a
//! next step, and once the cause is gone the same store writes again.

use imi_core::{Error, ErrorKind, GitState, Store};
use uuid::Uuid;

/// A git-state write that a test can repeat and read back: the uncommitted count `n`.
pub fn uncommitted(n: i32) -> GitState {
    GitState {
        uncommitted_count: Some(n),
        ..Default::default()
    }
}

/// `e` is `REGISTRY_UNAVAILABLE`, its message says `says` and its hint `hint_says`.
#[track_caller]
pub fn assert_unavailable(e: &Error, says: &str, hint_says: &str) {
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert_eq!(e.code(), "REGISTRY_UNAVAILABLE");
    assert!(e.message.contains(says), "{e:?}");
    let hint = e.hint.as_deref().unwrap_or_default();
    assert!(hint.contains(hint_says), "{e:?}");
}

/// The store takes writes again: `n` written to worktree `id` (in a batch, one
/// transaction) and read back.
pub async fn assert_writes_again<S: Store>(s: &S, id: Uuid, n: i32) {
    s.update_git_states(&[(id, uncommitted(n))])
        .await
        .expect("the registry takes writes again");
    let w = s.get_worktree(id).await.expect("the worktree reads back");
    assert_eq!(w.uncommitted_files_count, n);
}
