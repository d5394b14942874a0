//! Aligned plain-text tables for human output.

use unicode_width::UnicodeWidthStr as _;

/// Renders `rows` under `headers`, columns separated by two spaces, the last column
/// not padded (no trailing blanks). Widths are display columns (`unicode-width`): a
/// CJK character or an emoji takes two, a combining mark none. Cells hold text from the registry, `.iMi` files
/// and git: their control characters are escaped (one cell, one line).
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| imi_core::display::escape_line(c).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i + 1 < n {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.width() + 2));
            } else {
                s.push_str(c);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns() {
        let t = super::render(
            &["a", "bb"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "".into()]],
        );
        assert_eq!(t, "a    bb\nxyz  1\nq\n");
    }

    #[test]
    fn wide_and_combining_characters_align_by_display_width() {
        let t = super::render(
            &["name", "n"],
            &[
                vec!["日本".into(), "1".into()],
                vec!["e\u{301}x".into(), "2".into()],
                vec!["🚀".into(), "3".into()],
            ],
        );
        assert_eq!(t, "name  n\n日本  1\ne\u{301}x    2\n🚀    3\n");
    }
}
