//! Secrets never leave (issue 8, rule 5): the one redaction every message, log line
//! and printed URL goes through.
//!
//! [`redact`] takes any text (an error message, git's stderr, a database URL, a
//! libpq conninfo string) and hides:
//! - the password of every `scheme://user:password@host` URL, and the whole user
//!   part of http(s)/ftp(s) URLs (tokens are often given as the user name);
//! - the value of every `password=` / `sslpassword=` parameter, in a URL query
//!   (`?password=...&`) or a libpq conninfo string (`password=... ` or
//!   `password='quoted \' value'`).
//!
//! URLs are parsed by the `url` crate. A password typed with a raw `/`, `?` or `#`
//! makes a URL that parses as something else (the host becomes the user name, the
//! password spills into the path): whenever an `@` appears after the point where
//! the parser ends the authority, or the URL does not parse at all, everything
//! between `://` and the last `@` is hidden. That over-hides a URL that merely has
//! an `@` in its path (`https://host/o/r@v2` shows as `https://***@v2`): safe, and
//! rare.

const HIDDEN: &str = "***";

/// `text` with every credential hidden (see the module documentation).
pub fn redact(text: &str) -> String {
    redact_urls(&redact_params(text))
}

/// Schemes whose user name is itself often the secret (`https://TOKEN@host/...`).
fn user_is_secret(scheme: &str) -> bool {
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "http" | "https" | "ftp" | "ftps"
    )
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Where a URL token ends in running text.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>')
}

fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // the scheme: the run of scheme characters just before `://`
        let scheme_start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_scheme_char(*c))
            .last()
            .map_or(i, |(j, _)| j);
        let end = rest[i + 3..]
            .find(ends_token)
            .map_or(rest.len(), |e| i + 3 + e);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url_token(
            &rest[scheme_start..i],
            &rest[scheme_start..end],
        ));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One `scheme://...` token (no whitespace in it).
fn redact_url_token(scheme: &str, token: &str) -> String {
    let after = &token[scheme.len() + 3..];
    let Some(last_at) = after.rfind('@') else {
        return token.to_string(); // no user part: nothing to hide
    };
    let auth_end = after.find(['/', '?', '#', '\\']).unwrap_or(after.len());
    let fallback = || format!("{scheme}://{HIDDEN}@{}", &after[last_at + 1..]);
    if scheme.is_empty() || last_at > auth_end {
        return fallback();
    }
    let Ok(mut url) = url::Url::parse(token) else {
        return fallback();
    };
    let hide_user = user_is_secret(scheme) && !url.username().is_empty();
    if url.password().is_none() && !hide_user {
        return token.to_string();
    }
    let ok = if hide_user {
        url.set_username(HIDDEN).is_ok() && url.set_password(None).is_ok()
    } else {
        url.set_password(Some(HIDDEN)).is_ok()
    };
    if !ok {
        return fallback();
    }
    // The parser re-encodes `***`; show it as typed.
    url.as_str().replace("%2A%2A%2A", HIDDEN)
}

/// Hides the value of `password=` and `sslpassword=` wherever it starts a
/// parameter: at the start, after white space (conninfo), or after `?`, `&` or `;`.
fn redact_params(text: &str) -> String {
    const KEYS: [&str; 2] = ["sslpassword", "password"];
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut i = 0;
    while i < text.len() {
        let boundary = i == 0
            || text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_whitespace() || matches!(c, '?' | '&' | ';'));
        let key = if boundary {
            KEYS.iter().find(|k| lower[i..].starts_with(*k))
        } else {
            None
        };
        let Some(key) = key else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // `password = value` (libpq allows spaces around `=`)
        let after_key = i + key.len();
        let eq = after_key + (text[after_key..].len() - text[after_key..].trim_start().len());
        if !text[eq..].starts_with('=') {
            i = after_key;
            continue;
        }
        let vstart = eq + 1 + (text[eq + 1..].len() - text[eq + 1..].trim_start().len());
        let in_query = i > 0 && matches!(text.as_bytes()[i - 1], b'?' | b'&' | b';');
        let vend = value_end(&text[vstart..], in_query) + vstart;
        out.push_str(&text[pos..vstart]);
        out.push_str(HIDDEN);
        pos = vend;
        i = vend.max(i + 1);
    }
    out.push_str(&text[pos.min(text.len())..]);
    out
}

/// Length of a parameter value at the start of `v`: a quoted conninfo value up to
/// its closing quote (`\'` escapes), else up to white space (and, in a URL query,
/// up to `&`).
fn value_end(v: &str, in_query: bool) -> usize {
    if let Some(body) = v.strip_prefix('\'') {
        let mut escaped = false;
        for (j, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => return 1 + j + 1,
                _ => {}
            }
        }
        return v.len();
    }
    v.find(|c: char| c.is_whitespace() || (in_query && c == '&'))
        .unwrap_or(v.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn urls() {
        assert_eq!(
            redact("postgres://imi:s3cret@db.local:5432/imi"),
            "postgres://imi:***@db.local:5432/imi"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("postgres://h/d"), "postgres://h/d");
        assert_eq!(
            redact("fatal: unable to access 'https://user:tok@127.0.0.1:1/o/r.git/': refused"),
            "fatal: unable to access 'https://***@127.0.0.1:1/o/r.git/': refused"
        );
        assert_eq!(
            redact("https://ghp_tok@github.com/o/r"),
            "https://***@github.com/o/r"
        );
        assert_eq!(
            redact("ssh://git:pw@host:22/o/r and git@github.com:o/r.git"),
            "ssh://git:***@host:22/o/r and git@github.com:o/r.git"
        );
        assert_eq!(
            redact("error connecting to postgres://u:p@h/d?sslmode=require&password=x"),
            "error connecting to postgres://u:***@h/d?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgres://u@h/d?password=se%2Fcret&sslmode=disable"),
            "postgres://u@h/d?password=***&sslmode=disable"
        );
        // malformed: a raw `/` in the password; nothing between :// and the last @ shows
        assert_eq!(redact("postgres://u:pa/ss@h/d"), "postgres://***@h/d");
        assert_eq!(redact("https://x:1?y@h/o"), "https://***@h/o");
        assert_eq!(redact("://u:p@h"), "://***@h");
    }

    #[test]
    fn conninfo() {
        assert_eq!(
            redact("host=h user=u password=se/cret dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(
            redact("host=h password = 'a b\\' c' dbname=d"),
            "host=h password = *** dbname=d"
        );
        assert_eq!(redact("PASSWORD=x"), "PASSWORD=***");
        assert_eq!(redact("sslpassword=x port=1"), "sslpassword=*** port=1");
        // not a parameter of its own
        assert_eq!(redact("mypassword=x"), "mypassword=x");
        assert_eq!(redact("no secrets here"), "no secrets here");
    }

    const SPECIAL: &[char] = &['/', '#', '?', '+', '@', '%', ':'];

    fn enc(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%2B")
    }

    #[test]
    fn every_special_character_raw_and_encoded() {
        for &c in SPECIAL {
            let secret = format!("Pa{c}ss{c}W0rd");
            let encoded = enc(&secret);
            for pw in [secret.as_str(), encoded.as_str()] {
                for text in [
                    format!("postgres://imi:{pw}@127.0.0.1:1/db"),
                    format!("cannot connect to postgres://imi:{pw}@127.0.0.1:1/db: refused"),
                    format!("'https://user:{pw}@host/o/r.git/'"),
                    format!("https://{pw}@host/o/r.git"),
                    format!("postgres://imi@h/d?sslmode=disable&password={pw}"),
                    format!("host=h password={pw} dbname=d"),
                    format!("host=h password='{pw}' dbname=d"),
                ] {
                    let r = redact(&text);
                    for needle in [&secret, &encoded] {
                        assert!(!r.contains(needle.as_str()), "{text} -> {r}");
                    }
                    assert!(!r.contains("W0rd"), "{text} -> {r}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn never_shows_the_password(
            user in "[a-z]{1,6}",
            pw in "[A-Za-z0-9/#?+@%:]{0,6}W0rd[A-Za-z0-9/#?+@%:]{0,6}",
            host in "[a-z]{1,8}(:[0-9]{1,5})?",
            path in "(/[a-z]{0,6}){0,3}",
            prefix in "[a-z ]{0,8}",
            encode in any::<bool>(),
        ) {
            let pw = if encode { enc(&pw) } else { pw };
            for scheme in ["postgres", "https", "ssh"] {
                let text = format!("{prefix}{scheme}://{user}:{pw}@{host}{path} tail");
                let r = redact(&text);
                prop_assert!(!r.contains("W0rd"), "{} -> {}", text, r);
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = redact(&s);
        }
    }
}
