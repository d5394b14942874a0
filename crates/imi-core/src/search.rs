//! Fuzzy matching for project search: a port of PostgreSQL `pg_trgm`'s
//! `similarity()`, so that the SQLite backend ranks exactly like `search_projects`
//! on PostgreSQL.
//!
//! pg_trgm splits a string into words (runs of alphanumeric characters), lowercases
//! them, pads each with two spaces in front and one behind, and takes every run of
//! three characters as a trigram. The similarity of two strings is the number of
//! distinct trigrams they share divided by the number of distinct trigrams in either
//! (`|A ∩ B| / |A ∪ B|`), 0 when either has none.

type Trigram = [char; 3];

/// The sorted, deduplicated trigrams of `s`, as pg_trgm's `show_trgm` gives them.
fn trigrams(s: &str) -> Vec<Trigram> {
    let mut out: Vec<Trigram> = Vec::new();
    let mut word: Vec<char> = Vec::new();
    let flush = |word: &mut Vec<char>, out: &mut Vec<Trigram>| {
        if word.is_empty() {
            return;
        }
        let mut padded = Vec::with_capacity(word.len() + 3);
        padded.push(' ');
        padded.push(' ');
        padded.append(word);
        padded.push(' ');
        for w in padded.windows(3) {
            out.push([w[0], w[1], w[2]]);
        }
    };
    for c in s.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// pg_trgm's `similarity(a, b)`: a value in `0.0..=1.0`, computed in `f32` as
/// PostgreSQL does (`real`).
pub fn similarity(a: &str, b: &str) -> f32 {
    let ta = trigrams(a);
    let tb = trigrams(b);
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    // Both are sorted: count the common elements by merging.
    let (mut i, mut j, mut common) = (0usize, 0usize, 0usize);
    while i < ta.len() && j < tb.len() {
        match ta[i].cmp(&tb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = ta.len() + tb.len() - common;
    common as f32 / union as f32
}

/// The relevance of a project to a non-empty, trimmed search `query`, as
/// `search_projects` computes it on PostgreSQL: the best of the trigram similarity of
/// the name and of the remote to the query, 0.5 when the name contains the query and
/// 0.4 when the remote does (owner, group, host), case-insensitively. Projects with a
/// relevance of at least [`MIN_RELEVANCE`] match.
pub fn relevance(name: &str, remote: Option<&str>, query: &str) -> f32 {
    let remote = remote.unwrap_or("");
    let q = query.to_lowercase();
    let mut r = similarity(name, query).max(similarity(remote, query));
    if name.to_lowercase().contains(&q) {
        r = r.max(0.5);
    }
    if remote.to_lowercase().contains(&q) {
        r = r.max(0.4);
    }
    r
}

/// The least relevance that matches a search.
pub const MIN_RELEVANCE: f32 = 0.2;

/// At most this many projects are returned by a search.
pub const MAX_RESULTS: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    /// Values returned by PostgreSQL 15 with pg_trgm (`select similarity(a, b)`).
    #[test]
    fn matches_pg_trgm() {
        let cases: &[(&str, &str, f32)] = &[
            ("imi", "imu", 0.333_333_34),
            ("Hello World", "hello", 0.5),
            ("foo_bar", "foo bar", 1.0),
            ("a", "a", 1.0),
            ("", "abc", 0.0),
            ("github.com/owner/repo", "repo", 0.227_272_73),
            ("imi-core", "imi", 0.444_444_45),
            ("Ünïcode Straße", "ünïcode strasse", 0.631_578_9),
            ("word", "two words", 0.363_636_37),
            ("abc", "cba", 0.0),
            ("x", "y", 0.0),
            ("!!!", "!!!", 0.0),
            ("my-project", "my project", 1.0),
            ("https://github.com/owner/imi.git", "imi", 0.142_857_15),
            ("12345", "1234", 0.571_428_6),
        ];
        for (a, b, want) in cases {
            let got = similarity(a, b);
            assert_eq!(got, *want, "similarity({a:?}, {b:?})");
            assert_eq!(similarity(b, a), got, "symmetric for {a:?}, {b:?}");
        }
    }

    #[test]
    fn remote_parts_match() {
        let r = relevance("app", Some("git@gitlab.com:Acme/Tools/app.git"), "acme");
        assert_eq!(r, 0.4);
        assert_eq!(
            relevance("app", Some("https://gitlab.com/x/y"), "GITLAB"),
            0.4
        );
        assert_eq!(relevance("billing", None, "bill"), 0.5);
        assert!(relevance("app", None, "zzz") < MIN_RELEVANCE);
    }

    #[test]
    fn trigram_sets() {
        let t: Vec<String> = trigrams("cat").iter().map(|t| t.iter().collect()).collect();
        assert_eq!(t, ["  c", " ca", "at ", "cat"]);
        let t: Vec<String> = trigrams("a, A")
            .iter()
            .map(|t| t.iter().collect())
            .collect();
        assert_eq!(t, ["  a", " a "]);
        assert!(trigrams(" -- ").is_empty());
    }
}
