//! Answers kept until the registry changes: a listing is served again, byte for
//! byte, while the store's change token (see `Store::change_token`) is the one it
//! was built under and no lease it shows has ended. The token is read before the
//! listing is built, so a commit that lands in between makes the next token differ:
//! a kept answer is never older than what a fresh read would show.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use chrono::{DateTime, Utc};

/// At most this many kept answers (one per project and route); past it the cache
/// starts over, so a client naming ever new projects cannot grow it.
const MAX_ENTRIES: usize = 256;

struct Entry {
    token: String,
    until: Option<DateTime<Utc>>,
    body: Bytes,
}

#[derive(Default)]
pub struct Answers {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Answers {
    /// The answer kept for `key` under `token`, if it is still current.
    pub fn get(&self, key: &str, token: &str) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(key)?;
        let current = e.token == token && e.until.is_none_or(|t| Utc::now() < t);
        current.then(|| e.body.clone())
    }

    /// Keeps `body` for `key`, built after `token` was read, current until `until`.
    pub fn put(&self, key: String, token: String, until: Option<DateTime<Utc>>, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, Entry { token, until, body });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_for_its_token_until_its_lease_ends() {
        let a = Answers::default();
        a.put("app".into(), "t1".into(), None, Bytes::from_static(b"one"));
        assert_eq!(a.get("app", "t1").as_deref(), Some(&b"one"[..]));
        assert_eq!(a.get("app", "t2"), None, "another token: a commit came");
        assert_eq!(a.get("web", "t1"), None);
        let ended = Utc::now() - chrono::Duration::seconds(1);
        a.put(
            "app".into(),
            "t1".into(),
            Some(ended),
            Bytes::from_static(b"two"),
        );
        assert_eq!(a.get("app", "t1"), None, "a lease it shows has ended");
        let later = Utc::now() + chrono::Duration::seconds(60);
        a.put(
            "app".into(),
            "t1".into(),
            Some(later),
            Bytes::from_static(b"three"),
        );
        assert_eq!(a.get("app", "t1").as_deref(), Some(&b"three"[..]));
    }

    #[test]
    fn the_cache_is_bounded() {
        let a = Answers::default();
        for i in 0..MAX_ENTRIES + 10 {
            a.put(format!("p{i}"), "t".into(), None, Bytes::from_static(b"x"));
        }
        assert!(a.entries.lock().unwrap().len() <= MAX_ENTRIES);
        assert!(a.get(&format!("p{}", MAX_ENTRIES + 9), "t").is_some());
    }
}
