//! All output goes through [`Ui`]: human text for people, exactly one JSON document
//! for programs (SPEC §4). Write errors (a closed pipe: `imi ... | head`) are
//! ignored: the reader has what it wanted.
//!
//! This is the one place human output reaches a terminal, so it is where text from
//! the registry, `.iMi` files and git has its control characters escaped
//! ([`imi_core::display`]) and where credentials are hidden ([`imi_core::redact`]).
//! `--json` output is exact data: JSON escapes control characters itself.

use std::io::{IsTerminal, Write};

use imi_core::Error;
use serde_json::{Value, json};

/// What a command produced: the JSON `data` and the same thing for people.
pub struct Output {
    pub data: Value,
    pub human: String,
    /// A report that found problems (`imi doctor`): printed like a result, then
    /// the error; the exit code is 1 and the JSON document is
    /// `{"success": false, "error": ..., "data": ...}`.
    pub failure: Option<Error>,
}

impl Output {
    pub fn new(data: Value, human: impl Into<String>) -> Self {
        Output {
            data,
            human: human.into(),
            failure: None,
        }
    }

    pub fn failing(mut self, e: Error) -> Self {
        self.failure = Some(e);
        self
    }
}

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
                let text = human_text(&out.human);
                let _ = writeln!(stdout, "{text}");
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
            let text = human_text(&out.human);
            let _ = writeln!(stdout, "{text}");
        }
        let _ = stdout.flush();
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

/// Human output as it may reach a terminal: no trailing new lines, credentials
/// hidden, control characters escaped.
fn human_text(s: &str) -> String {
    let s = imi_core::redact(s.trim_end_matches('\n'));
    imi_core::display::escape_text(&s).into_owned()
}
