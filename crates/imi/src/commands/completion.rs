//! `imi completion bash|zsh|fish`: the completion script clap generates from the
//! same definitions that parse the command line, so it never falls out of date.

use clap::CommandFactory;
use imi_core::{Error, Result};
use serde_json::json;

use crate::cli::{Cli, Shell};
use crate::ui::Output;

pub fn cmd_completion(shell: Shell) -> Result<Output> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "imi", &mut buf);
    let script = String::from_utf8(buf).map_err(|e| {
        Error::internal(format!(
            "the {} completion script is not UTF-8: {e}",
            shell.name()
        ))
        .with_hint("report this as a bug in imi")
    })?;
    Ok(Output::new(
        json!({ "shell": shell.name(), "script": script }),
        script,
    ))
}
