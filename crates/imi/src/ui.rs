//! All output goes through [`Ui`]: human text for people, exactly one JSON document
//! for programs (SPEC §4). Write errors (a closed pipe: `imi ... | head`) are
//! ignored: the reader has what it wanted.
//!
//! This is the one place human output reaches a terminal, so it is where text from
//! the registry, `.iMi` files and git has its control characters escaped
//! ([`imi_core::display`]) and where credentials are hidden ([`imi_core::redact`]).
//! `--json` output is exact data: JSON escapes control characters itself.

use std::io::{IsTerminal, Write};

use std::sync::Mutex;

use imi_core::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::ops::{Observer, Report};

/// What a command produced: the JSON `data` and the same thing for people.
pub struct Output {
    pub data: Value,
    pub human: String,
    /// A report that found problems (`imi doctor`): printed like a result, then
    /// the error; the exit code is 1 and the JSON document is
    /// `{"success": false, "error": ..., "data": ...}`.
    pub failure: Option<Error>,
    /// `human` was laid out by [`crate::table::render_styled`]: its text is already
    /// escaped and redacted, and its only escape sequences are the colours chosen
    /// for a terminal, which stay.
    pub styled: bool,
}

impl Output {
    pub fn new(data: Value, human: impl Into<String>) -> Self {
        Output {
            data,
            human: human.into(),
            failure: None,
            styled: false,
        }
    }

    /// Marks `human` as laid out by [`crate::table::render_styled`].
    pub fn styled(mut self) -> Self {
        self.styled = true;
        self
    }

    /// An operation's report: the JSON `data` is the report itself, `human` the
    /// text rendered from it; a report that carries a failure fails the command.
    pub fn report<R: Report>(report: &R, human: impl Into<String>) -> Result<Self> {
        let data = serde_json::to_value(report)
            .map_err(|e| Error::internal(format!("cannot encode the result as JSON: {e}")))?;
        Ok(Output {
            data,
            human: human.into(),
            failure: report.failure().cloned(),
            styled: false,
        })
    }
}

#[derive(Clone, Copy)]
pub struct Ui {
    json: bool,
    color_stderr: bool,
}

impl Ui {
    pub fn new(json: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            json,
            color_stderr: !no_color && std::io::stderr().is_terminal(),
        }
    }

    pub fn output(&self, out: Output) {
        let mut stdout = std::io::stdout().lock();
        if let Some(e) = &out.failure {
            if self.json {
                let doc = json!({
                    "success": false,
                    "error": {
                        "code": e.code(),
                        "message": imi_core::redact(&e.message),
                        "hint": e.hint.as_deref().map(imi_core::redact),
                    },
                    "data": out.data,
                });
                let _ = writeln!(stdout, "{doc}");
                let _ = stdout.flush();
            } else {
                let _ = writeln!(stdout, "{}", out.text());
                let _ = stdout.flush();
                drop(stdout);
                self.error(e);
            }
            return;
        }
        if self.json {
            let doc = json!({"success": true, "data": out.data});
            let _ = writeln!(stdout, "{doc}");
        } else if !out.human.is_empty() {
            let _ = writeln!(stdout, "{}", out.text());
        }
        let _ = stdout.flush();
    }

    /// Where operations send their remarks and progress: notes on stderr, a
    /// progress bar when stderr is a terminal (neither under `--json`).
    pub fn observer(&self) -> UiObserver {
        UiObserver {
            ui: *self,
            bar: Mutex::new(None),
        }
    }

    /// A remark for people, on stderr (never under `--json`): stdout stays the result.
    pub fn note(&self, message: &str) {
        if self.json {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "note: {}", human_text(message));
    }

    pub fn error(&self, e: &Error) {
        let message = imi_core::redact(&e.message);
        let hint = e.hint.as_deref().map(imi_core::redact);
        if self.json {
            let doc = json!({
                "success": false,
                "error": {"code": e.code(), "message": message, "hint": hint},
            });
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{doc}");
            let _ = stdout.flush();
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let (red, yellow, reset) = if self.color_stderr {
            ("\x1b[31m", "\x1b[33m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let _ = writeln!(
            stderr,
            "{red}error:{reset} {}",
            imi_core::display::escape_text(&message)
        );
        if let Some(h) = &hint {
            let _ = writeln!(
                stderr,
                "{yellow}hint:{reset} {}",
                imi_core::display::escape_text(h)
            );
        }
    }
}

/// The CLI's [`Observer`]: what [`Ui::note`] prints, and a progress bar.
pub struct UiObserver {
    ui: Ui,
    bar: Mutex<Option<ProgressBar>>,
}

impl Observer for UiObserver {
    fn note(&self, message: &str) {
        self.ui.note(message);
    }

    fn begin(&self, what: &str, total: usize) {
        if self.ui.json || !std::io::stderr().is_terminal() {
            return;
        }
        let pb = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{what} [{{bar:40}}] {{pos}}/{{len}} ({{elapsed}})"
        )) {
            pb.set_style(style.progress_chars("=> "));
        }
        if let Ok(mut bar) = self.bar.lock() {
            *bar = Some(pb);
        }
    }

    fn step(&self) {
        if let Ok(bar) = self.bar.lock()
            && let Some(pb) = bar.as_ref()
        {
            pb.inc(1);
        }
    }

    fn end(&self) {
        if let Ok(mut bar) = self.bar.lock()
            && let Some(pb) = bar.take()
        {
            pb.finish_and_clear();
        }
    }
}

impl Output {
    /// `human` as it may reach a terminal (see [`human_text`]).
    fn text(&self) -> String {
        if self.styled {
            // escaped and redacted cell by cell; the footer is imi's own text
            self.human.trim_end_matches('\n').to_string()
        } else {
            human_text(&self.human)
        }
    }
}

/// Human output as it may reach a terminal: no trailing new lines, credentials
/// hidden, control characters escaped.
pub(crate) fn human_text(s: &str) -> String {
    let s = imi_core::redact(s.trim_end_matches('\n'));
    imi_core::display::escape_text(&s).into_owned()
}
