//! Dynamic shell completion: project and worktree names from the registry.
//!
//! `imi completion bash|zsh|fish` prints a short script that registers `imi` itself as
//! the completer: on <Tab> the shell runs `COMPLETE=<shell> imi -- <words>`, and
//! [`run_if_asked`] (the first thing [`crate::run`] does) answers from the same clap
//! definitions that parse the command line, so options and subcommands never fall
//! out of date, and the values of worktree and project arguments come from the
//! registry: the worktrees of the project named with `-p`, else of the project of
//! the current directory, else of every project. Completion never prints an error
//! (a registry that cannot be read offers no names) and never creates a registry.

use std::ffi::{OsStr, OsString};

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

use crate::cli::{Cli, GlobalArgs, Shell};
use crate::config::Settings;
use crate::ops::{Env, list};

/// The environment variable that asks `imi` to complete instead of run.
const VAR: &str = "COMPLETE";

/// Answers a completion request (the shell set [`VAR`]) and exits; returns at once
/// otherwise.
pub fn run_if_asked() {
    // every command starts here: without the variable, nothing else is looked at
    if std::env::var_os(VAR).is_none() {
        return;
    }
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        .bin("imi")
        .completer("imi")
        .complete();
}

/// The script that registers dynamic completion of `imi` in `shell`.
pub fn registration(shell: Shell) -> std::io::Result<String> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    let mut buf = Vec::new();
    completer.write_registration(VAR, "imi", "imi", "imi", &mut buf)?;
    String::from_utf8(buf).map_err(std::io::Error::other)
}

/// Completes a worktree name.
pub fn worktrees() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| offer(current, |n| n.worktrees))
}

/// Completes a project name.
pub fn projects() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| offer(current, |n| n.projects))
}

/// Completes what `imi go` jumps to: a worktree or a project.
pub fn places() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        offer(current, |n| {
            let mut all = n.worktrees;
            all.extend(n.projects);
            all
        })
    })
}

fn offer(current: &OsStr, pick: impl Fn(list::Names) -> Vec<String>) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let mut names: Vec<String> = pick(names().unwrap_or_default())
        .into_iter()
        .filter(|n| n.starts_with(prefix.as_ref()))
        .collect();
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// The registry's names for the command line being completed (its words follow
/// `--` in this process's arguments), or `None` when they cannot be read.
fn names() -> Option<list::Names> {
    let mut words: Vec<OsString> = std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .collect();
    // the word being completed (bash and zsh give its index; fish sends it last) is
    // not a value yet: `-p a<Tab>` names no project
    let current = std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(words.len().saturating_sub(1));
    words.truncate(current);
    let global = GlobalArgs {
        json: false,
        database: flag_value(&words, None, "--database"),
        agent: None,
        project: flag_value(&words, Some("-p"), "--project"),
    };
    let settings = Settings::load(&global).ok()?;
    let cwd = std::env::current_dir().ok()?;
    let env = Env::new(settings, cwd);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        // a <Tab> must not hang on a registry that does not answer
        let names = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            list::names(&env, global.project.as_deref()),
        )
        .await
        .ok()
        .and_then(Result::ok);
        if let Some(store) = env.into_store() {
            store.finish().await;
        }
        names
    })
}

/// The value given to a flag among `words` (`-p X`, `-pX`, `--project X`,
/// `--project=X`); the last one counts, as when clap parses.
fn flag_value(words: &[OsString], short: Option<&str>, long: &str) -> Option<String> {
    let mut found = None;
    let mut words = words.iter().map(|w| w.to_string_lossy());
    while let Some(w) = words.next() {
        if w == "--" {
            break;
        }
        if w == long || short.is_some_and(|s| w == s) {
            // bash splits `--project=app` into `--project`, `=`, `app`
            found = match words.next() {
                Some(v) if v == "=" => words.next().map(|v| v.into_owned()),
                v => v.map(|v| v.into_owned()),
            };
        } else if let Some(v) = w.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            found = Some(v.to_string());
        } else if let Some(v) = short
            .and_then(|s| w.strip_prefix(s))
            .filter(|v| !v.is_empty())
        {
            found = Some(v.to_string());
        }
    }
    found.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn reads_a_flag_in_every_spelling() {
        for line in [
            "imi -p app go fe",
            "imi -papp go fe",
            "imi --project app go fe",
            "imi go --project=app fe",
            "imi -p other go -p app fe",
            "imi --project = app go fe",
        ] {
            assert_eq!(
                flag_value(&words(line), Some("-p"), "--project").as_deref(),
                Some("app"),
                "{line}"
            );
        }
        assert_eq!(
            flag_value(&words("imi go fe"), Some("-p"), "--project"),
            None
        );
        assert_eq!(
            flag_value(&words("imi go -p"), Some("-p"), "--project"),
            None
        );
        assert_eq!(
            flag_value(&words("imi go -- -p app"), Some("-p"), "--project"),
            None
        );
    }

    #[test]
    fn registers_for_every_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = registration(shell).unwrap();
            assert!(script.contains("COMPLETE"), "{script}");
            assert!(script.contains("imi"), "{script}");
        }
    }
}
