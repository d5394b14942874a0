//! API tokens of `imi serve` (SPEC §7.3): `create` (the secret is returned once;
//! only its hash is stored), `list`, `revoke`, and the check a server runs on a
//! presented bearer token ([`authenticate`]). The rules (format, hash, constant-time
//! comparison, names, scopes) are `imi_core::tokens`'.

use imi_core::tokens::{self, ApiToken, NewApiToken, Scope};
use imi_core::{Result, Store, messages};
use serde::{Deserialize, Serialize};

use super::{Env, Report};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateArgs {
    /// 1 to 64 characters of `A-Z a-z 0-9 . _ -`, unique among unrevoked tokens.
    pub name: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// A lifetime (`90d`, `12h`, `1h30m`); `None`: until revoked.
    pub expires: Option<String>,
}

/// A token just created, with its secret: the only time the secret is seen.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    #[serde(flatten)]
    pub token: ApiToken,
    /// The whole token (`imi_<id>_<secret>`), for `Authorization: Bearer ...`.
    pub secret: String,
}

/// The unrevoked tokens (expired ones too), by name; never a secret or a hash.
#[derive(Debug, Clone, Serialize)]
pub struct TokenList {
    pub tokens: Vec<ApiToken>,
}

/// A token after `revoke`.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    #[serde(flatten)]
    pub token: ApiToken,
}

impl Report for Created {}
impl Report for TokenList {}
impl Report for Revoked {}

/// Makes a token of `args.scope` named `args.name`, created by this environment's
/// agent; the report carries the secret, which is not stored.
pub async fn create(env: &Env, args: &CreateArgs) -> Result<Created> {
    tokens::validate_name(&args.name)?;
    let scope = Scope::parse(&args.scope)?;
    let expires_in_seconds = args
        .expires
        .as_deref()
        .map(tokens::parse_lifetime)
        .transpose()?;
    let made = tokens::generate()?;
    let new = NewApiToken {
        id: made.id.clone(),
        name: args.name.clone(),
        scope,
        token_hash: made.hash.clone(),
        created_by: env.agent_id().to_string(),
        expires_in_seconds,
    };
    // A clash of ids (48 random bits) would be a CONFLICT on the primary key, not
    // the name's: too unlikely to retry for.
    let token = with_store!(env.store().await?, s => s.create_api_token(&new).await)?;
    Ok(Created {
        token,
        secret: made.token,
    })
}

/// The unrevoked tokens, by name.
pub async fn list(env: &Env) -> Result<TokenList> {
    let tokens = with_store!(env.store().await?, s => s.list_api_tokens().await)?;
    Ok(TokenList { tokens })
}

/// Revokes the token named `name` (requests with it fail from then on); `NOT_FOUND`
/// when no unrevoked token has that name.
pub async fn revoke(env: &Env, name: &str) -> Result<Revoked> {
    let found = with_store!(env.store().await?, s => s.revoke_api_token(name).await)?;
    match found {
        Some(token) => Ok(Revoked { token }),
        None => Err(messages::token_not_found(name)),
    }
}

/// The token `presented` is, when it is usable: `None` when it is malformed,
/// unknown, revoked, expired (by the database's clock) or its secret is wrong. The
/// secret is checked against the stored hash in constant time.
pub async fn authenticate(env: &Env, presented: &str) -> Result<Option<ApiToken>> {
    let Some(id) = tokens::token_id(presented) else {
        return Ok(None);
    };
    let found = with_store!(env.store().await?, s => s.api_token_for_check(id).await)?;
    Ok(found.and_then(|(token, hash)| tokens::verify(presented, &hash).then_some(token)))
}

/// Whether any token is usable (a server on a non-loopback address needs one).
pub async fn any_usable(env: &Env) -> Result<bool> {
    with_store!(env.store().await?, s => s.has_usable_api_token().await)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests

    use super::*;
    use crate::config::{Settings, Source};
    use crate::dburl::DatabaseTarget;

    /// An environment over a new SQLite registry in a temporary directory.
    fn env_with_registry() -> (Env, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let env = Env::new(
            Settings {
                config_file: home.join("config.toml"),
                database: DatabaseTarget::Sqlite(home.join("registry.db")),
                database_source: Source::Flag,
                root: home.join("code"),
                root_source: Source::Default,
                agent_id: "agent-7".into(),
                agent_source: Source::Flag,
                host: "ops-test-host".into(),
                setup: Default::default(),
            },
            home.to_path_buf(),
        );
        (env, dir)
    }

    #[tokio::test]
    async fn a_created_token_authenticates_until_revoked() {
        let (env, _dir) = env_with_registry();
        assert!(!any_usable(&env).await.unwrap());
        let made = create(
            &env,
            &CreateArgs {
                name: "ci".into(),
                scope: "write".into(),
                expires: Some("90d".into()),
            },
        )
        .await
        .unwrap();
        assert_eq!(made.token.scope, Scope::Write);
        assert_eq!(made.token.created_by, env.agent_id());
        assert!(made.token.expires_at.is_some());
        let json = serde_json::to_value(&made).unwrap();
        assert_eq!(json["secret"], made.secret.as_str());
        assert_eq!(json["name"], "ci");
        assert!(json.get("token_hash").is_none());
        assert!(any_usable(&env).await.unwrap());

        let who = authenticate(&env, &made.secret).await.unwrap().unwrap();
        assert_eq!(who, made.token);
        // a wrong secret with the right id, a malformed token, an unknown id
        let mut wrong = made.secret.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'a' { 'b' } else { 'a' });
        for bad in [
            wrong.as_str(),
            "",
            "imi_",
            &made.secret[..made.secret.len() - 1],
            &format!("Bearer {}", made.secret),
            &tokens::generate().unwrap().token,
        ] {
            assert!(authenticate(&env, bad).await.unwrap().is_none(), "{bad:?}");
        }

        let listed = list(&env).await.unwrap();
        assert_eq!(listed.tokens, vec![made.token.clone()]);
        let text = serde_json::to_string(&listed).unwrap();
        assert!(!text.contains(&made.secret));
        assert!(!text.contains(&tokens::token_hash(&made.secret)));

        let r = revoke(&env, "ci").await.unwrap();
        assert!(r.token.revoked_at.is_some());
        assert!(authenticate(&env, &made.secret).await.unwrap().is_none());
        assert!(!any_usable(&env).await.unwrap());
        let e = revoke(&env, "ci").await.unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND");
        assert!(e.hint.unwrap().contains("imi token list"));
    }

    #[tokio::test]
    async fn bad_input_is_refused_before_the_registry() {
        let (env, _dir) = env_with_registry();
        for (name, scope, expires) in [
            ("a b", "read", None),
            ("ci", "root", None),
            ("ci", "read", Some("soon")),
            ("ci", "read", Some("0s")),
        ] {
            let e = create(
                &env,
                &CreateArgs {
                    name: name.into(),
                    scope: scope.into(),
                    expires: expires.map(Into::into),
                },
            )
            .await
            .unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{name} {scope} {expires:?}");
            assert!(e.hint.is_some());
        }
        assert!(list(&env).await.unwrap().tokens.is_empty());
    }
}
