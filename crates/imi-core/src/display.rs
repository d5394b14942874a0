//! Terminal safety (issue 8, rule 8): text that came from the registry, a `.iMi`
//! file or git (names, descriptions, commit subjects, agent ids, metadata) can hold
//! escape sequences that rewrite the screen, or bidirectional overrides that make
//! it read differently from what it is. Before such text reaches a terminal, every
//! control character (C0, DEL, C1) and every bidirectional control is shown as an
//! escape like `\u{1b}`. JSON output is not escaped: it stays the exact data.

/// Bidirectional formatting characters: the embeddings and overrides
/// U+202A–U+202E, the isolates U+2066–U+2069, and the marks LRM, RLM and ALM.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Does `c` need escaping before it reaches a terminal?
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe_char(c) && !keep(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) && !keep(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One value on one line (a table cell, a prompt): every control character
/// escaped, new lines and tabs included.
pub fn escape_line(s: &str) -> std::borrow::Cow<'_, str> {
    escape_where(s, |_| false)
}

/// A block of human output: every control character escaped except the line
/// breaks and tabs that lay it out.
pub fn escape_text(s: &str) -> std::borrow::Cow<'_, str> {
    escape_where(s, |c| c == '\n' || c == '\t')
}

/// An age in one short word, for tables and pages: `45s`, `12m`, `3h`, `5d`, `7w`,
/// `11mo`, `2y` (`secs` below 0, a clock ahead of ours, reads as `0s`).
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        86_400..1_209_600 => format!("{}d", s / 86_400),
        1_209_600..5_184_000 => format!("{}w", s / 604_800),
        5_184_000..31_536_000 => format!("{}mo", s / 2_592_000),
        _ => format!("{}y", s / 31_536_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(escape_line("plain ünï"), "plain ünï");
        assert_eq!(
            escape_line("a\x1b[2Jb\u{202e}c\u{2066}\u{85}\x7f\n\t"),
            "a\\u{1b}[2Jb\\u{202e}c\\u{2066}\\u{85}\\u{7f}\\u{a}\\u{9}"
        );
        assert_eq!(
            escape_text("row 1\trow\n\x1b]0;t\x07"),
            "row 1\trow\n\\u{1b}]0;t\\u{7}"
        );
        assert_eq!(escape_text("\r"), "\\u{d}");
    }
}
