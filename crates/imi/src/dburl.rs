//! Which registry a database URL names, checked before anything connects, and the
//! redaction that keeps passwords out of every message.

use std::path::PathBuf;
use std::str::FromStr;

use imi_core::{Error, Result};

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    /// The URL as given (it may carry a password: never print it, use `imi_core::redact`).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseTarget::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            DatabaseTarget::Postgres(u) => write!(f, "Postgres({})", imi_core::redact(u)),
        }
    }
}

impl DatabaseTarget {
    pub fn parse(url: &str) -> Result<Self> {
        let u = url.trim();
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            // The parser's own message is not shown: it can quote a piece of a
            // password typed with a raw `/`, `?` or `#` (say, as the "port").
            sqlx::postgres::PgConnectOptions::from_str(u).map_err(|_| {
                Error::validation(format!("malformed database URL {}", imi_core::redact(u)))
                    .with_hint(
                        "use postgres://user@host:5432/dbname with the password in PGPASSWORD or \
                         ~/.pgpass (in a URL, percent-encode / # ? @ % in it: / is %2F)",
                    )
            })?;
            return Ok(DatabaseTarget::Postgres(u.to_string()));
        }
        let path = if let Some(rest) = lower.strip_prefix("sqlite:") {
            let rest = &u[u.len() - rest.len()..];
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            rest.split('?').next().unwrap_or_default().to_string()
        } else if u.starts_with('/') || u.starts_with("./") || u.starts_with("~/") {
            u.to_string()
        } else {
            return Err(Error::validation(format!(
                "unsupported database URL {}",
                imi_core::redact(u)
            ))
            .with_hint("use postgres://user@host/dbname, or sqlite:///absolute/path/registry.db"));
        };
        if path.is_empty() {
            return Err(
                Error::validation(format!("database URL {u:?} names no file"))
                    .with_hint("use sqlite:///absolute/path/registry.db"),
            );
        }
        let path = match path.strip_prefix("~/") {
            Some(rest) => crate::config::home_dir()?.join(rest),
            None => PathBuf::from(path),
        };
        Ok(DatabaseTarget::Sqlite(path))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseTarget::Sqlite(_) => "sqlite",
            DatabaseTarget::Postgres(_) => "postgres",
        }
    }

    /// Safe to print: no password.
    pub fn display(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseTarget::Postgres(u) => imi_core::redact(u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(
            imi_core::redact("postgres://imi:s3cret@db.local:5432/imi"),
            "postgres://imi:***@db.local:5432/imi"
        );
        assert_eq!(
            imi_core::redact("error connecting to postgres://u:p@h/d?sslmode=require&password=x"),
            "error connecting to postgres://u:***@h/d?sslmode=require&password=***"
        );
        assert_eq!(imi_core::redact("postgres://u@h/d"), "postgres://u@h/d");
        let t = DatabaseTarget::parse("postgres://u:hunter2@127.0.0.1/x").unwrap();
        assert!(!format!("{t:?}").contains("hunter2"));
        assert!(!t.display().contains("hunter2"));
    }

    #[test]
    fn parses_backends() {
        assert_eq!(
            DatabaseTarget::parse("sqlite:///tmp/r.db").unwrap(),
            DatabaseTarget::Sqlite("/tmp/r.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:rel.db").unwrap(),
            DatabaseTarget::Sqlite("rel.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("/var/imi.db").unwrap(),
            DatabaseTarget::Sqlite("/var/imi.db".into())
        );
        assert_eq!(
            DatabaseTarget::parse("postgresql://h/d").unwrap().backend(),
            "postgres"
        );
        for bad in [
            "mysql://h/d",
            "nonsense",
            "sqlite://",
            "postgres://u:pw@h:notaport/d",
        ] {
            let e = DatabaseTarget::parse(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad}");
            assert!(!e.message.contains("pw@"), "{}", e.message);
        }
    }
}
