//! `imi prompt`: one short line for shell prompts, e.g. `app:feat-login (feat,
//! agent-1)`, from the file system only. A prompt runs it before every command
//! line, so it opens no registry, starts no git process and no async runtime: it
//! reads `.iMi/project.json` and the worktree's `.iMi/worktrees/<name>.json`.

use std::path::Path;

use imi_core::Result;
use serde_json::{Value, json};

use crate::context;
use crate::ui::Output;

/// Directory-name prefixes of the built-in types (SPEC §2), for worktrees whose
/// `.iMi/worktrees/<name>.json` is missing.
const PREFIXES: &[(&str, &str)] = &[
    ("trunk-", "trunk"),
    ("feat-", "feat"),
    ("fix-", "fix"),
    ("aiops-", "aiops"),
    ("devops-", "devops"),
    ("pr-", "review"),
];

fn type_from_prefix(dir_name: &str) -> Option<&'static str> {
    PREFIXES
        .iter()
        .find(|(prefix, _)| dir_name.starts_with(prefix) && dir_name.len() > prefix.len())
        .map(|(_, t)| *t)
}

pub fn cmd_prompt(cwd: &Path, json_wanted: bool) -> Result<Output> {
    let loc = match context::locate(cwd) {
        Ok(Some(loc)) => loc,
        Ok(None) => return Ok(Output::new(Value::Null, "")),
        // A broken project file must not break every prompt line; --json says why.
        Err(e) if json_wanted => return Err(e),
        Err(_) => return Ok(Output::new(Value::Null, "")),
    };
    let project = loc.project.name.as_str();
    // `.iMi` itself is no worktree.
    let worktree = loc.worktree_name().filter(|n| !n.starts_with('.'));
    let Some(name) = worktree else {
        return Ok(Output::new(
            json!({
                "project": project,
                "project_id": loc.project.project_id,
                "worktree": null,
                "type": null,
                "agent_id": null,
                "line": project,
            }),
            imi_core::display::escape_line(project).into_owned(),
        ));
    };
    let file = loc.worktree_file();
    let type_name = match &file {
        Some(f) => Some(f.type_name.clone()),
        None => type_from_prefix(name).map(str::to_string),
    };
    let agent = file.and_then(|f| f.agent_id).filter(|a| !a.is_empty());
    let details: Vec<&str> = type_name
        .iter()
        .chain(agent.iter())
        .map(String::as_str)
        .collect();
    let line = if details.is_empty() {
        format!("{project}:{name}")
    } else {
        format!("{project}:{name} ({})", details.join(", "))
    };
    // One line for a shell prompt: a new line or escape sequence from a `.iMi`
    // file must not reach the terminal (JSON keeps the exact text).
    let human = imi_core::display::escape_line(&line).into_owned();
    Ok(Output::new(
        json!({
            "project": project,
            "project_id": loc.project.project_id,
            "worktree": name,
            "type": type_name,
            "agent_id": agent,
            "line": line,
        }),
        human,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_directory_prefixes() {
        assert_eq!(type_from_prefix("trunk-main"), Some("trunk"));
        assert_eq!(type_from_prefix("pr-42"), Some("review"));
        assert_eq!(type_from_prefix("feat-"), None);
        assert_eq!(type_from_prefix("docs-x"), None);
    }
}
