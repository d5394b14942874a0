//! One round trip behind a transaction pooler.
//!
//! Behind a transaction-pooling PgBouncer a parameterised statement costs four round
//! trips (see [`crate::session`]: BEGIN, Parse + Describe, Bind + Execute, COMMIT),
//! where a simple-protocol statement costs one. The statements a busy registry runs
//! most (registering a project or a worktree) therefore go there as one simple
//! `Query` with their arguments written into the text as literals. A simple query is
//! its own transaction and names nothing, so nothing can outlive it on the pooled
//! server connection. Directly connected, the same call binds the arguments as usual
//! (a cached prepared statement, one round trip).
//!
//! Literals are quoted as libpq's `PQescapeLiteral` does: the string between single
//! quotes with every `'` doubled; when it holds a backslash, every `\` doubled too
//! and the literal written `E'...'`, which reads the same whether the server has
//! `standard_conforming_strings` on or off. The connection's `client_encoding` is
//! UTF8 (sqlx sets it), so no multi-byte character can hide a quote. A NUL character
//! cannot travel in a simple query (it would end the text early) nor be stored by
//! PostgreSQL: it is refused before anything is sent.

use imi_core::{Error, Metadata, Result};
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::db_err;
use crate::session::{Db, Pooling};

/// One argument of a statement, typed as the extended protocol would bind it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(Option<&'a str>),
    Uuid(Uuid),
    Jsonb(&'a Metadata),
    Int(Option<i64>),
    Bool(bool),
    MaybeUuid(Option<Uuid>),
}

impl<'a> Arg<'a> {
    fn bind(self, q: Query<'a, Postgres, PgArguments>) -> Query<'a, Postgres, PgArguments> {
        match self {
            Arg::Text(t) => q.bind(t),
            Arg::Uuid(u) => q.bind(u),
            Arg::Jsonb(m) => q.bind(Json(m)),
            Arg::Int(n) => q.bind(n),
            Arg::Bool(b) => q.bind(b),
            Arg::MaybeUuid(u) => q.bind(u),
        }
    }

    /// The argument as an SQL literal of the same type.
    fn literal(self) -> Result<String> {
        Ok(match self {
            Arg::Text(None) => "NULL::text".to_string(),
            Arg::Text(Some(t)) => format!("{}::text", quote(t)?),
            Arg::Uuid(u) => format!("'{u}'::uuid"),
            Arg::Jsonb(m) => {
                let text = serde_json::to_string(m)
                    .map_err(|e| Error::internal(format!("metadata as JSON: {e}")))?;
                format!("{}::jsonb", quote(&text)?)
            }
            Arg::Int(None) => "NULL::bigint".to_string(),
            Arg::Int(Some(n)) => format!("'{n}'::bigint"),
            Arg::Bool(b) => b.to_string(),
            Arg::MaybeUuid(None) => "NULL::uuid".to_string(),
            Arg::MaybeUuid(Some(u)) => format!("'{u}'::uuid"),
        })
    }
}

/// `s` as an SQL string literal (see the module documentation).
pub(crate) fn quote(s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(Error::validation(
            "a value contains a NUL character, which PostgreSQL cannot store",
        )
        .with_hint("remove the NUL character (\\0) from the value"));
    }
    let mut out = String::with_capacity(s.len() + 3);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    Ok(out)
}

/// `sql` with each `$n` replaced by the literal of `args[n - 1]`. The statements
/// given here are imi's own constants: they hold no quoted text or comments in
/// which a `$` could mean something else (a test checks each).
pub(crate) fn inline(sql: &str, args: &[Arg<'_>]) -> Result<String> {
    let mut out = String::with_capacity(sql.len() + 64 * args.len());
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let digits = rest[i + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - i - 1, |n| n);
        let n: usize = rest[i + 1..i + 1 + digits]
            .parse()
            .map_err(|_| Error::internal(format!("a `$` that is no parameter in {sql}")))?;
        let arg = n
            .checked_sub(1)
            .and_then(|k| args.get(k))
            .ok_or_else(|| Error::internal(format!("no argument ${n} for {sql}")))?;
        out.push_str(&arg.literal()?);
        rest = &rest[i + 1 + digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The one row `sql` returns with `args`: bound and prepared directly, inlined into
/// one simple query behind a transaction pooler.
pub(crate) async fn fetch_one(db: Db<'_>, sql: &str, args: &[Arg<'_>]) -> Result<PgRow> {
    fetch_optional(db, sql, args)
        .await?
        .ok_or_else(|| Error::internal(format!("no row from {sql}")))
}

/// The row `sql` returns with `args`, if any (see [`fetch_one`]).
pub(crate) async fn fetch_optional(
    db: Db<'_>,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Option<PgRow>> {
    match db.pooling {
        Pooling::Direct => {
            let mut q = sqlx::query(sql);
            for a in args {
                q = a.bind(q);
            }
            q.fetch_optional(db).await.map_err(db_err)
        }
        Pooling::Transaction => {
            let text = inline(sql, args)?;
            // (sqlx 0.8's RawSql::fetch_optional answers a row, not an Option)
            let rows = sqlx::raw_sql(&text)
                .fetch_all(db.pool)
                .await
                .map_err(db_err)?;
            Ok(rows.into_iter().next())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_libpq_does() {
        assert_eq!(quote("plain").unwrap(), "'plain'");
        assert_eq!(quote("it's").unwrap(), "'it''s'");
        assert_eq!(quote(r"a\b").unwrap(), r"E'a\\b'");
        assert_eq!(quote(r"\'; DROP").unwrap(), r"E'\\''; DROP'");
        assert!(quote("a\0b").is_err());
    }

    #[test]
    fn inlines_every_parameter_once() {
        let m = Metadata::new();
        let sql = inline(
            "SELECT f(a := $1, b := $2, c := $10, d := $3)",
            &[
                Arg::Text(Some("x")),
                Arg::Text(None),
                Arg::Jsonb(&m),
                Arg::Uuid(Uuid::nil()),
                Arg::Uuid(Uuid::nil()),
                Arg::Uuid(Uuid::nil()),
                Arg::Uuid(Uuid::nil()),
                Arg::Uuid(Uuid::nil()),
                Arg::Uuid(Uuid::nil()),
                Arg::Text(Some("ten")),
            ],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT f(a := 'x'::text, b := NULL::text, c := 'ten'::text, d := '{}'::jsonb)"
        );
        assert_eq!(
            inline(
                "SELECT g($1, $2, $3, $4)",
                &[
                    Arg::Int(Some(-7)),
                    Arg::Int(None),
                    Arg::Bool(true),
                    Arg::Bool(false)
                ],
            )
            .unwrap(),
            "SELECT g('-7'::bigint, NULL::bigint, true, false)"
        );
        assert!(inline("SELECT $2", &[Arg::Text(None)]).is_err());
        assert!(inline("SELECT $x", &[]).is_err());
    }

    /// Every string comes back unchanged through the server as a literal, with
    /// `standard_conforming_strings` on and off: no text can end the literal early.
    #[test]
    fn every_string_survives_the_server() {
        use proptest::prelude::*;
        use sqlx::{Connection, Row};

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let Some(db) = rt.block_on(imi_testkit::PgTestDb::create()) else {
            return;
        };
        let conn =
            std::cell::RefCell::new(rt.block_on(sqlx::PgConnection::connect(&db.url)).unwrap());
        let check = |s: &str| -> std::result::Result<(), TestCaseError> {
            for setting in ["on", "off"] {
                let sql = format!(
                    "SET standard_conforming_strings = {setting}; SELECT {} AS v",
                    Arg::Text(Some(s)).literal().unwrap()
                );
                let row = rt
                    .block_on(sqlx::raw_sql(&sql).fetch_one(&mut *conn.borrow_mut()))
                    .unwrap();
                let back: String = row.get("v");
                prop_assert_eq!(&back, s, "standard_conforming_strings = {}", setting);
            }
            Ok(())
        };
        for s in [
            "",
            "'",
            "\\",
            "\\'",
            "'; DROP TABLE projects; --",
            "$1",
            "e'\\x41'",
            "\u{1F600}",
        ] {
            check(s).unwrap();
        }
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
        runner
            .run(&"[^\\x00]{0,40}", |s: String| check(&s))
            .unwrap();
    }
}
