//! API tokens of `imi serve` (SPEC §7.3): what a token looks like, how it is made,
//! stored and checked. A token is `imi_<id>_<secret>`: `id` (12 lowercase hex
//! characters) names the row to look up, `secret` (32 bytes from the operating
//! system's CSPRNG, 64 lowercase hex characters) is what proves it. The registry
//! keeps only the SHA-256 of the whole token; the token itself is shown once, when it
//! is made, and a presented token is compared with the stored hash in constant time.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::columns::{Columns, FromColumns, Params, ToParams};
use crate::error::{Error, Result};

/// What every token starts with (so a leaked one is recognisable, e.g. by scanners).
pub const TOKEN_PREFIX: &str = "imi_";
/// Length of a token's id, in lowercase hex characters.
pub const ID_LEN: usize = 12;
/// Bytes of randomness in a token's secret (written as twice as many hex characters).
pub const SECRET_BYTES: usize = 32;
/// The longest token name, in characters (ASCII only).
pub const MAX_NAME_LEN: usize = 64;
/// The longest lifetime a token can be given: the longest lease (ten years).
pub const MAX_LIFETIME_SECONDS: i64 = crate::claims::MAX_TTL_SECONDS;

/// What a token may do. Ordered: `Admin` includes `Write`, which includes `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Look only.
    Read,
    /// Also change worktrees, claims and logs.
    Write,
    /// Also types and projects.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    /// `read`, `write` or `admin` (the stored form).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// One of `read`, `write`, `admin` (exactly; surrounding blanks are ignored).
    pub fn parse(text: &str) -> Result<Scope> {
        let t = text.trim();
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == t)
            .ok_or_else(|| {
                Error::validation(format!("unknown token scope {t:?}")).with_hint(
                    "give --scope read, write or admin (admin includes write, write includes read)",
                )
            })
    }

    /// Whether a token of this scope may do what needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `api_tokens`, without its hash (never shown, never serialised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// The public part of the token (`imi_<id>_...`).
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// `None`: valid until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token's lifetime is over at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

impl FromColumns for ApiToken {
    /// An `api_tokens` row: `id, name, scope, created_by, created_at, expires_at,
    /// revoked_at` (never `token_hash`).
    fn from_columns(r: &impl Columns) -> Result<ApiToken> {
        let scope = r.text("scope")?;
        Ok(ApiToken {
            id: r.text("id")?,
            name: r.text("name")?,
            scope: Scope::parse(&scope).map_err(|_| {
                Error::internal(format!(
                    "the registry holds an unknown token scope {scope:?}"
                ))
                .with_hint("revoke that token (`imi token revoke NAME`) and create it again")
            })?,
            created_by: r.text("created_by")?,
            created_at: r.time("created_at")?,
            expires_at: r.opt_time("expires_at")?,
            revoked_at: r.opt_time("revoked_at")?,
        })
    }
}

/// Input of [`crate::Store::create_api_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// From [`generate`].
    pub id: String,
    pub name: String,
    pub scope: Scope,
    /// [`token_hash`] of the whole token.
    pub token_hash: String,
    pub created_by: String,
    /// Lifetime in seconds from creation, by the database's clock (like claims'
    /// leases, so that every host agrees when a token ends); `None`: until revoked.
    pub expires_in_seconds: Option<i64>,
}

impl FromColumns for (ApiToken, String) {
    /// A token's row with its `token_hash` column: what
    /// [`crate::Store::api_token_for_check`] gives.
    fn from_columns(r: &impl Columns) -> Result<(ApiToken, String)> {
        let hash = r.text("token_hash")?;
        Ok((ApiToken::from_columns(r)?, hash))
    }
}

impl ToParams for NewApiToken {
    /// `id, name, scope, token_hash, created_by` and the lifetime in seconds (the
    /// statement computes `created_at` and `expires_at` by the database's clock).
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P {
        p.text(&self.id)
            .text(&self.name)
            .text(self.scope.as_str())
            .text(&self.token_hash)
            .text(&self.created_by)
            .opt_count(self.expires_in_seconds)
    }
}

impl NewApiToken {
    /// The rules every store applies before writing.
    pub fn validate(&self) -> Result<()> {
        if !is_token_id(&self.id) {
            return Err(Error::validation(format!(
                "token id {:?} is not {ID_LEN} lowercase hex characters",
                self.id
            ))
            .with_hint("make tokens with imi_core::tokens::generate"));
        }
        validate_name(&self.name)?;
        if !is_lower_hex(&self.token_hash, 64) {
            return Err(
                Error::validation("the token hash is not a SHA-256 in lowercase hex")
                    .with_hint("store imi_core::tokens::token_hash of the whole token"),
            );
        }
        crate::model::check_id("token creator", &self.created_by)?;
        if let Some(s) = self.expires_in_seconds {
            check_lifetime(s)?;
        }
        Ok(())
    }
}

/// A token name: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn validate_name(name: &str) -> Result<()> {
    let hint = "name it with 1 to 64 letters, digits, '.', '_' or '-' (ci, board, agent-host-2)";
    if name.is_empty() {
        return Err(Error::validation("the token name is empty").with_hint(hint));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(
            Error::validation(format!("the token name {name:?} contains {c:?}")).with_hint(hint),
        );
    }
    // ASCII only by now: bytes are characters
    if name.len() > MAX_NAME_LEN {
        return Err(Error::validation(format!(
            "the token name is too long ({} characters, at most {MAX_NAME_LEN})",
            name.len()
        ))
        .with_hint(hint));
    }
    Ok(())
}

/// A lifetime in seconds: at least one second, at most [`MAX_LIFETIME_SECONDS`].
pub fn check_lifetime(seconds: i64) -> Result<()> {
    if (1..=MAX_LIFETIME_SECONDS).contains(&seconds) {
        return Ok(());
    }
    Err(
        Error::validation(format!("token lifetime {seconds}s is out of range")).with_hint(format!(
            "give --expires from 1s to {}d, or leave it out for a token valid until revoked",
            MAX_LIFETIME_SECONDS / 86400
        )),
    )
}

/// `--expires` (`90d`, `12h`, `1h30m`, seconds) as seconds, worded for tokens.
pub fn parse_lifetime(text: &str) -> Result<i64> {
    let seconds = crate::claims::parse_duration(text).map_err(|_| {
        Error::validation(format!("invalid token lifetime {text:?}")).with_hint(format!(
            "write --expires like 90d, 12h, 30m or 1h30m (at most {}d), or leave it out for a token valid until revoked",
            MAX_LIFETIME_SECONDS / 86400
        ))
    })?;
    check_lifetime(seconds)?;
    Ok(seconds)
}

/// A token just made: shown once (`token`), stored as `hash`.
#[derive(Clone, PartialEq, Eq)]
pub struct Generated {
    pub id: String,
    /// The whole token, `imi_<id>_<secret>`.
    pub token: String,
    /// [`token_hash`] of `token`.
    pub hash: String,
}

impl fmt::Debug for Generated {
    /// Never prints the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generated")
            .field("id", &self.id)
            .field("token", &"[hidden]")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Makes a token from the operating system's CSPRNG.
pub fn generate() -> Result<Generated> {
    let mut id = [0u8; ID_LEN / 2];
    let mut secret = [0u8; SECRET_BYTES];
    for buf in [&mut id[..], &mut secret[..]] {
        getrandom::fill(buf).map_err(|e| {
            Error::internal(format!(
                "the operating system gave no random bytes for a token ({e})"
            ))
            .with_hint("check that /dev/urandom (or getrandom(2)) works on this machine, then run the command again")
        })?;
    }
    let id = hex::encode(id);
    let token = format!("{TOKEN_PREFIX}{id}_{}", hex::encode(secret));
    let hash = token_hash(&token);
    Ok(Generated { id, token, hash })
}

/// The SHA-256 of the whole token text, in lowercase hex: what the registry keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The id of a presented token when it has the shape of one
/// (`imi_` + 12 lowercase hex + `_` + 64 lowercase hex), else `None`.
pub fn token_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (is_token_id(id) && is_lower_hex(secret, 2 * SECRET_BYTES)).then_some(id)
}

/// Whether `presented` is the token whose hash is `stored_hash`; the hashes are
/// compared in constant time.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    let presented_hash = token_hash(presented);
    bool::from(presented_hash.as_bytes().ct_eq(stored_hash.as_bytes()))
}

/// Whether `id` has the shape of a token id.
pub fn is_token_id(id: &str) -> bool {
    is_lower_hex(id, ID_LEN)
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn a_token_has_its_format_and_its_hash() {
        let g = generate().unwrap();
        assert_eq!(g.token.len(), 4 + ID_LEN + 1 + 64);
        assert!(g.token.starts_with("imi_"));
        assert!(is_token_id(&g.id));
        assert_eq!(&g.token[4..4 + ID_LEN], g.id);
        assert_eq!(g.hash, token_hash(&g.token));
        assert_eq!(g.hash.len(), 64);
        assert!(!format!("{g:?}").contains(&g.token));
        // two tokens are never alike
        let h = generate().unwrap();
        assert_ne!(g.id, h.id);
        assert_ne!(g.token, h.token);
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_presented_token_is_parsed_by_shape() {
        let g = generate().unwrap();
        assert_eq!(token_id(&g.token), Some(g.id.as_str()));
        let secret = "a".repeat(64);
        assert_eq!(
            token_id(&format!("imi_0123456789ab_{secret}")),
            Some("0123456789ab")
        );
        for bad in [
            String::new(),
            "imi_".into(),
            format!("imi_0123456789a_{secret}"),   // id too short
            format!("imi_0123456789abc_{secret}"), // id too long
            format!("imi_0123456789AB_{secret}"),  // upper case
            format!("imi_0123456789ag_{secret}"),  // not hex
            format!("imi_0123456789ab_{}", "a".repeat(63)), // secret too short
            format!("imi_0123456789ab_{}a", secret), // secret too long
            format!("imi_0123456789ab_{}", "A".repeat(64)), // secret upper case
            format!("imi_0123456789ab-{secret}"),  // separator
            format!("xyz_0123456789ab_{secret}"),  // prefix
            format!("Bearer imi_0123456789ab_{secret}"), // a header, not a token
            format!("imi_0123456789ab_{secret} "), // trailing blank
            format!("imi_0123456789ab_{}é", "a".repeat(63)), // not ASCII
        ] {
            assert_eq!(token_id(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn verify_accepts_the_token_and_nothing_else() {
        let g = generate().unwrap();
        assert!(verify(&g.token, &g.hash));
        let mut other = g.token.clone();
        let last = other.pop().unwrap();
        other.push(if last == '0' { '1' } else { '0' });
        assert!(!verify(&other, &g.hash));
        assert!(!verify("", &g.hash));
        assert!(!verify(&g.token, ""));
        assert!(!verify(&g.token, &g.hash.to_uppercase()));
        assert!(!verify(&g.hash, &g.hash));
    }

    #[test]
    fn scopes_are_ordered() {
        assert!(Scope::Read < Scope::Write && Scope::Write < Scope::Admin);
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()).unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
            assert!(s.allows(Scope::Read));
            assert!(s.allows(s));
        }
        assert!(!Scope::Read.allows(Scope::Write));
        assert!(!Scope::Write.allows(Scope::Admin));
        assert!(Scope::Admin.allows(Scope::Write));
        assert_eq!(Scope::parse(" write ").unwrap(), Scope::Write);
        for bad in ["", "Read", "root", "rw", "read,write"] {
            let e = Scope::parse(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR");
            assert!(e.hint.unwrap().contains("read, write or admin"), "{bad}");
        }
    }

    #[test]
    fn names_follow_one_rule() {
        for ok in ["ci", "board", "agent-host-2", "a.b_c", &"x".repeat(64)] {
            validate_name(ok).unwrap();
        }
        for bad in ["", " ci", "ci ", "a/b", "é", "a b", &"x".repeat(65), "ci\n"] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad:?}");
            assert!(e.hint.is_some());
        }
    }

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("90d").unwrap(), 90 * 86400);
        assert_eq!(parse_lifetime("12h").unwrap(), 12 * 3600);
        assert_eq!(parse_lifetime("1h30m").unwrap(), 5400);
        for bad in ["", "0s", "never", "-1d", "99999d"] {
            let e = parse_lifetime(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad:?}");
            assert!(e.hint.unwrap().contains("--expires"), "{bad:?}");
        }
    }

    #[test]
    fn new_tokens_are_checked() {
        let g = generate().unwrap();
        let ok = NewApiToken {
            id: g.id.clone(),
            name: "ci".into(),
            scope: Scope::Write,
            token_hash: g.hash.clone(),
            created_by: "agent".into(),
            expires_in_seconds: Some(60),
        };
        ok.validate().unwrap();
        let bad = [
            NewApiToken {
                id: "XYZ".into(),
                ..ok.clone()
            },
            NewApiToken {
                name: "a b".into(),
                ..ok.clone()
            },
            NewApiToken {
                token_hash: g.token.clone(),
                ..ok.clone()
            },
            NewApiToken {
                created_by: " ".into(),
                ..ok.clone()
            },
            NewApiToken {
                expires_in_seconds: Some(0),
                ..ok.clone()
            },
        ];
        for b in bad {
            assert_eq!(
                b.validate().unwrap_err().code(),
                "VALIDATION_ERROR",
                "{b:?}"
            );
        }
    }
}
