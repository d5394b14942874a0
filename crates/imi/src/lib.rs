//! The `imi` command line: argument parsing, configuration, output, and one module
//! per command (`commands/`) over the operations layer (`ops/`), which does the work
//! for every front end. `main.rs` only calls [`run`].

mod atomic;
mod cli;
mod commands;
mod complete;
mod config;
mod context;
mod dburl;
mod gitstate;
mod journal;
mod mcp;
mod mcp_remote;
mod ops;
mod registry;
mod serve;
mod setup;
mod table;
mod ui;

use std::process::ExitCode;

use clap::Parser;

pub use dburl::DatabaseTarget;

/// Parses arguments, runs the command, prints its result or error, and maps the
/// outcome to an exit code: 0 success, 1 error, 2 usage error.
pub fn run() -> ExitCode {
    complete::run_if_asked();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are successes; everything else is a usage error,
            // reported as JSON too when --json was asked for.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if std::env::args_os().any(|a| a == "--json") {
                let text = e.kind().to_string();
                let detail = e.to_string();
                let first = detail
                    .lines()
                    .next()
                    .unwrap_or(&text)
                    .trim_start_matches("error: ");
                ui::Ui::new(true).error(
                    &imi_core::Error::validation(first.to_string())
                        .with_hint("run `imi --help` (or `imi <command> --help`) for usage"),
                );
            } else {
                let _ = e.print();
            }
            return ExitCode::from(2);
        }
    };
    let ui = ui::Ui::new(cli.global.json);
    if let Some(result) = commands::dispatch_without_runtime(&cli) {
        return finish(&ui, result);
    }
    // One thread: a command runs one operation at a time, and its parallel work
    // (git in many worktrees) runs on threads of its own (`gitstate::par_map`).
    // Worker threads would only add start-up time and a hand-off per statement.
    // `imi serve` answers many requests at once: a worker thread per core.
    let mut runtime = if matches!(cli.command, cli::Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(&imi_core::Error::internal(format!(
                "cannot start the async runtime: {e}"
            )));
            return ExitCode::from(1);
        }
    };
    let code = finish(&ui, runtime.block_on(commands::dispatch(&cli, &ui)));
    // Exits here rather than by returning: dropping the runtime would close what
    // [`registry::AnyStore::finish`] leaves to the process exit. Everything the
    // command wrote is committed and its output flushed (`Ui` flushes).
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}

/// Prints a command's result or error; exit code 0 or 1.
fn finish(ui: &ui::Ui, result: imi_core::Result<ui::Output>) -> ExitCode {
    match result {
        Ok(out) => {
            let failed = out.failure.is_some();
            ui.output(out);
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            ui.error(&e);
            ExitCode::from(1)
        }
    }
}
