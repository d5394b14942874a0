//! `imi completion bash|zsh|fish`: the script that registers `imi` as its own
//! completer (see [`crate::complete`]): subcommands and options from the same
//! definitions that parse the command line, project and worktree names from the
//! registry.

use imi_core::{Error, Result};
use serde_json::json;

use crate::cli::Shell;
use crate::ui::Output;

pub fn cmd_completion(shell: Shell) -> Result<Output> {
    let script = crate::complete::registration(shell).map_err(|e| {
        Error::internal(format!(
            "cannot write the {} completion script: {e}",
            shell.name()
        ))
        .with_hint("report this as a bug in imi")
    })?;
    Ok(Output::new(
        json!({ "shell": shell.name(), "script": script }),
        script,
    ))
}
