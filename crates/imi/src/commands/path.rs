//! `imi path [WORKTREE]` and `imi trunk`: the deterministic path of a worktree
//! (SPEC §2): the trunk's is `trunk_path`, any other is `parent(trunk_path)/<name>`.
//!
//! Inside a project, without `-p`, the answer comes from `.iMi/project.json` alone
//! (the same rule on the same `trunk_path` the registry holds), so that scripts and
//! prompts get it in about the time a process takes to start (SPEC §8). With `-p`,
//! or outside a project, the registry answers (`ops::list::path`, this host's trunk).

use std::path::Path;

use imi_core::{Result, naming, sibling_path};
use serde_json::json;

use super::Ctx;
use crate::context;
use crate::ui::Output;

fn output(path: &str) -> Output {
    Output::new(json!({ "path": path }), path)
}

/// Answers from the file system when no `-p` was given and `cwd` is inside a
/// project; `None` means the registry must answer.
pub fn from_files(
    project_flag: Option<&str>,
    cwd: &Path,
    worktree: Option<&str>,
) -> Option<Result<Output>> {
    if project_flag.is_some() {
        return None;
    }
    let loc = match context::locate(cwd) {
        Ok(Some(loc)) => loc,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    let trunk = loc.project.trunk_path;
    Some(match worktree {
        None => Ok(output(&trunk)),
        Some(name) => {
            naming::validate_worktree_name(name).map(|()| output(&sibling_path(&trunk, name)))
        }
    })
}

pub async fn cmd_path(ctx: &Ctx<'_>, worktree: Option<&str>) -> Result<Output> {
    if let Some(out) = from_files(ctx.global.project.as_deref(), &ctx.env.cwd, worktree) {
        return out;
    }
    // this host's trunk, and the same rule as `from_files`
    let r = crate::ops::list::path(&ctx.env, ctx.global.project.as_deref(), worktree).await?;
    Ok(output(&r.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beside_the_trunk() {
        // the rule of the stores and of `get_project_working_path`
        assert_eq!(sibling_path("/c/app/trunk-main", "feat-x"), "/c/app/feat-x");
        assert_eq!(sibling_path("/trunk-main", "feat-x"), "/feat-x");
    }
}
