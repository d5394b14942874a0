//! `imi shell-init bash|zsh|fish`: prints the shell function that makes `imi go`
//! change directory (a program cannot change its parent shell's directory). The
//! scripts are real files under `src/shell/`, so they can be read, linted and run
//! as they are; printing one never opens the registry.

use imi_core::Result;
use serde_json::json;

use crate::cli::Shell;
use crate::ui::Output;

const BASH: &str = include_str!("../shell/imi.bash");
const ZSH: &str = include_str!("../shell/imi.zsh");
const FISH: &str = include_str!("../shell/imi.fish");

pub fn cmd_shell_init(shell: Shell) -> Result<Output> {
    let script = match shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
    };
    Ok(Output::new(
        json!({ "shell": shell.name(), "script": script }),
        script,
    ))
}
