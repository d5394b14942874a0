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

/// How a table reaches its reader: with colour or not, and how many display
/// columns it may take (`None`: as wide as it needs, as into a pipe or a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub color: bool,
    pub width: Option<usize>,
}

impl Term {
    /// Plain text of any width (JSON, pipes, tests).
    #[cfg(test)]
    pub const PLAIN: Term = Term {
        color: false,
        width: None,
    };

    /// Standard output as it is: colour only on a terminal and never with
    /// `NO_COLOR` set (<https://no-color.org>), forced with `CLICOLOR_FORCE` (not
    /// `0`); the width of the terminal, or `COLUMNS` when set, else unbounded.
    pub fn stdout() -> Term {
        use std::io::IsTerminal as _;
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty() && v != "0");
        let tty = std::io::stdout().is_terminal();
        let color = !set("NO_COLOR") && (tty || set("CLICOLOR_FORCE"));
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        let width = columns.or_else(|| {
            tty.then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
                .flatten()
        });
        Term { color, width }
    }
}

/// A colour or weight for a cell: SGR parameters (`"32"` green, `"2"` dim).
pub type Style = &'static str;
pub const NONE: Style = "";
pub const BOLD: Style = "1";
pub const DIM: Style = "2";
pub const RED: Style = "31";
pub const GREEN: Style = "32";
pub const YELLOW: Style = "33";
pub const BLUE: Style = "34";
pub const MAGENTA: Style = "35";
pub const CYAN: Style = "36";

/// The colour of a work status word (`clean`, `uncommitted`, ...).
pub fn status_style(status: &str) -> Style {
    match status {
        "clean" => GREEN,
        "uncommitted" | "behind" => YELLOW,
        "ahead" => CYAN,
        "diverged" => MAGENTA,
        "missing" => RED,
        _ => NONE,
    }
}

/// One cell: pieces of text, each with its style (`+1 ~2` in two colours).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell(pub Vec<(String, Style)>);

impl Cell {
    pub fn new(text: impl Into<String>, style: Style) -> Cell {
        Cell(vec![(text.into(), style)])
    }

    pub fn plain(text: impl Into<String>) -> Cell {
        Cell::new(text, NONE)
    }

    /// Appends a piece, a space before it when the cell is not empty.
    pub fn push(&mut self, text: impl Into<String>, style: Style) {
        if !self.0.is_empty() {
            self.0.push((" ".into(), NONE));
        }
        self.0.push((text.into(), style));
    }

    fn width(&self) -> usize {
        self.0.iter().map(|(t, _)| t.width()).sum()
    }

    /// The cell cut to `max` display columns, its last one an ellipsis.
    fn truncate(&mut self, max: usize) {
        if self.width() <= max {
            return;
        }
        let mut left = max.saturating_sub(1);
        let mut out = vec![];
        for (text, style) in self.0.drain(..) {
            let mut kept = String::new();
            for ch in text.chars() {
                let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
                if w > left {
                    left = 0;
                    break;
                }
                left -= w;
                kept.push(ch);
            }
            let done = left == 0;
            out.push((kept, style));
            if done {
                break;
            }
        }
        if max > 0 {
            out.push(("…".into(), NONE));
        }
        self.0 = out;
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::plain(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::plain(s)
    }
}

/// Text with the style's escape sequence around it, when colour is on.
pub fn paint(text: &str, style: Style, term: Term) -> String {
    if term.color && !style.is_empty() && !text.is_empty() {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A table of styled cells, as [`render`] lays it out (two spaces between
/// columns, no trailing blanks, control characters escaped), fitted to
/// `term.width`: when wider, the columns in `shrink` (`(column, least width)`,
/// most willing first; a column may come again with a smaller least width) are
/// cut with an ellipsis until it fits. The output holds escape sequences only for
/// colour and only when `term.color`.
pub fn render_styled(
    headers: &[&str],
    rows: Vec<Vec<Cell>>,
    shrink: &[(usize, usize)],
    term: Term,
) -> String {
    let n = headers.len();
    let mut rows: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| {
                    Cell(
                        c.0.into_iter()
                            .map(|(t, st)| {
                                // credentials hidden before a cut could split them
                                let t = imi_core::redact(&t);
                                (imi_core::display::escape_line(&t).into_owned(), st)
                            })
                            .collect(),
                    )
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.width());
        }
    }
    if let Some(max) = term.width {
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        for &(col, least) in shrink {
            let over = total(&widths).saturating_sub(max);
            if over == 0 {
                break;
            }
            if col >= n {
                continue;
            }
            let floor = least.max(headers[col].width()).min(widths[col]);
            widths[col] = widths[col].saturating_sub(over).max(floor);
            for r in &mut rows {
                if let Some(c) = r.get_mut(col) {
                    c.truncate(widths[col]);
                }
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<(usize, String)>| {
        let mut s = String::new();
        let last = cells.len();
        for (i, (w, text)) in cells.into_iter().enumerate() {
            s.push_str(&text);
            if i + 1 < last {
                s.push_str(&" ".repeat(widths[i].saturating_sub(w) + 2));
            }
        }
        let trimmed = s.trim_end_matches(' ').len();
        s.truncate(trimmed);
        out.push_str(&s);
        out.push('\n');
    };
    line(
        headers
            .iter()
            .map(|h| (h.width(), paint(h, BOLD, term)))
            .collect(),
    );
    for r in rows {
        line(
            r.iter()
                .take(n)
                .map(|c| {
                    let text: String = c.0.iter().map(|(t, st)| paint(t, st, term)).collect();
                    (c.width(), text)
                })
                .collect(),
        );
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

    use super::{Cell, GREEN, RED, Term, render_styled};

    fn rows() -> Vec<Vec<Cell>> {
        let mut ab = Cell::new("+1", GREEN);
        ab.push("-2", RED);
        vec![
            vec![
                "feat-x".into(),
                ab,
                "a long subject that will not fit".into(),
            ],
            vec!["日本語".into(), "-".into(), "short".into()],
        ]
    }

    #[test]
    fn styled_tables_align_like_plain_ones_without_colour() {
        let t = render_styled(&["NAME", "AB", "SUBJECT"], rows(), &[(2, 8)], Term::PLAIN);
        assert_eq!(
            t,
            "NAME    AB     SUBJECT\nfeat-x  +1 -2  a long subject that will not fit\n日本語  -      short\n"
        );
    }

    #[test]
    fn colour_wraps_each_piece_and_widths_ignore_the_escapes() {
        let term = Term {
            color: true,
            width: None,
        };
        let t = render_styled(&["NAME", "AB", "SUBJECT"], rows(), &[(2, 8)], term);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "\x1b[1mNAME\x1b[0m    \x1b[1mAB\x1b[0m     \x1b[1mSUBJECT\x1b[0m"
        );
        assert_eq!(
            lines[1],
            "feat-x  \x1b[32m+1\x1b[0m \x1b[31m-2\x1b[0m  a long subject that will not fit"
        );
    }

    #[test]
    fn a_narrow_terminal_cuts_the_shrinkable_column_with_an_ellipsis() {
        let term = Term {
            color: false,
            width: Some(30),
        };
        let t = render_styled(&["NAME", "AB", "SUBJECT"], rows(), &[(2, 8)], term);
        for l in t.lines() {
            assert!(unicode_width::UnicodeWidthStr::width(l) <= 30, "{l:?}");
        }
        assert_eq!(t.lines().nth(1), Some("feat-x  +1 -2  a long subject…"));
        // never below the least width: a very narrow terminal gets a wider table
        let tiny = Term {
            color: false,
            width: Some(5),
        };
        let t = render_styled(&["NAME", "AB", "SUBJECT"], rows(), &[(2, 8)], tiny);
        assert_eq!(t.lines().nth(1), Some("feat-x  +1 -2  a long …"));
    }
}
