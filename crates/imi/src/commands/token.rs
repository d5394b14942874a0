//! `imi token create|list|revoke`: bearer tokens of `imi serve` (see `ops::tokens`
//! and SPEC §7.3). The secret is printed once, by `create`; nothing prints it or its
//! hash afterwards.

use chrono::{DateTime, Utc};
use imi_core::Result;
use imi_core::tokens::ApiToken;

use super::Ctx;
use crate::cli::TokenCommand;
use crate::ops::tokens::{self, CreateArgs};
use crate::table;
use crate::ui::Output;

pub async fn cmd_token(ctx: &Ctx<'_>, cmd: &TokenCommand) -> Result<Output> {
    match cmd {
        TokenCommand::Create(a) => {
            let args = CreateArgs {
                name: a.name.clone(),
                scope: a.scope.clone(),
                expires: a.expires.clone(),
            };
            let r = tokens::create(&ctx.env, &args).await?;
            let t = &r.token;
            let human = format!(
                "Created token {} (scope {}, expires {}):\n\n{}\n\n\
                 This secret will not be shown again: store it now. Send it as \
                 `Authorization: Bearer <token>`; revoke it with `imi token revoke {}`.",
                t.name,
                t.scope,
                expires(t),
                r.secret,
                t.name
            );
            Output::report(&r, human)
        }
        TokenCommand::List => {
            let r = tokens::list(&ctx.env).await?;
            if r.tokens.is_empty() {
                return Output::report(
                    &r,
                    "No tokens. Create one with `imi token create --name NAME --scope read|write|admin`.",
                );
            }
            let rows: Vec<Vec<String>> = r
                .tokens
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.scope.to_string(),
                        when(t.created_at),
                        expires(t),
                        t.created_by.clone(),
                    ]
                })
                .collect();
            let human = table::render(
                &["NAME", "SCOPE", "CREATED", "EXPIRES", "CREATED BY"],
                &rows,
            );
            Output::report(&r, human.trim_end().to_string())
        }
        TokenCommand::Revoke(a) => {
            let r = tokens::revoke(&ctx.env, &a.name).await?;
            let human = format!(
                "Revoked token {} (scope {}): requests with it are refused from now on.",
                r.token.name, r.token.scope
            );
            Output::report(&r, human)
        }
    }
}

/// Local time to the minute.
fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// "never", the end, or the end and "(expired)".
fn expires(t: &ApiToken) -> String {
    match t.expires_at {
        None => "never".into(),
        Some(e) if t.expired_at(Utc::now()) => format!("{} (expired)", when(e)),
        Some(e) => when(e),
    }
}
