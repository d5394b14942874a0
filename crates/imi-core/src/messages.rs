//! Every `NOT_FOUND` and `CONFLICT` a store answers, worded once: what was not
//! there or what is in the way, and what to do next. Backends find out *which*
//! refusal applies (their SQL), never how it reads; the conformance scenario
//! `failing_calls_are_worded_once` runs every one on each backend.

use uuid::Uuid;

use crate::claims::Claim;
use crate::error::{Error, Result};
use crate::model::{MetadataTarget, Project};

const LIST_PROJECTS: &str = "list projects with `imi list --projects`";
const LIST_TYPES: &str = "see the known types with `imi types list`";

// --- projects ---------------------------------------------------------------------

/// `NOT_FOUND` for a project id.
pub fn project_not_found(id: Uuid) -> Error {
    Error::not_found(format!("no project with id {id}")).with_hint(LIST_PROJECTS)
}

/// `NOT_FOUND` for a deactivated project that an operation needs active (a worktree
/// to register in it, a path to compute).
pub fn project_inactive(id: Uuid) -> Error {
    Error::not_found(format!("project {id} is inactive"))
        .with_hint("register the project again (imi init) to reactivate it")
}

/// The one active project named `name` among `found` (a store fetches at most two):
/// none is `NOT_FOUND`, several a `CONFLICT`.
pub fn single_named(name: &str, found: Vec<Project>) -> Result<Project> {
    let mut it = found.into_iter();
    match (it.next(), it.next()) {
        (Some(p), None) => Ok(p),
        (None, _) => Err(
            Error::not_found(format!("no active project named {name:?}")).with_hint(LIST_PROJECTS),
        ),
        (Some(_), Some(_)) => Err(Error::conflict(format!(
            "several active projects are named {name:?}"
        ))
        .with_hint("use the project's UUID or its remote instead of its name")),
    }
}

/// The answer of `get_project_by_origin` from the project a store found for the key of
/// `remote` (the active one, else the most recently updated inactive one): only an
/// active project is returned, like the SQL function `get_project_by_origin`; an
/// inactive one is `NOT_FOUND` saying it is deactivated and how to reactivate it.
pub fn active_by_origin(remote: &str, found: Option<Project>) -> Result<Project> {
    let shown = crate::remote::sanitize(remote).unwrap_or_else(|_| remote.trim().to_string());
    match found {
        Some(p) if p.active => Ok(p),
        Some(p) => Err(Error::not_found(format!(
            "project {:?} ({}) registered for {shown} is deactivated",
            p.name, p.id
        ))
        .with_hint("run `imi init` in its trunk to reactivate it")),
        None => Err(
            Error::not_found(format!("no project registered for {shown}"))
                .with_hint("register it with `imi init` in its repository"),
        ),
    }
}

/// `s` as one word a POSIX shell reads back unchanged (single-quoted when needed),
/// for hints that are commands to paste.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What an empty registry tells a newcomer to run first.
pub const NO_PROJECTS_YET: &str = "No projects registered yet: run `imi init` in a git checkout, \
     or `imi init URL` to clone one.";

// --- worktrees --------------------------------------------------------------------

/// `NOT_FOUND` for a worktree id.
pub fn worktree_not_found(id: Uuid) -> Error {
    Error::not_found(format!("no worktree with id {id}"))
        .with_hint("list worktrees with `imi list --all`")
}

/// `NOT_FOUND` for `get_worktree_by_path`.
pub fn no_worktree_at(path: &str, host: &str) -> Error {
    Error::not_found(format!("no active worktree registered at {path} on {host}"))
        .with_hint("list registered worktrees with `imi list`")
}

/// `NOT_FOUND` for `get_worktree_by_name`.
pub fn no_worktree_named(project_id: Uuid, name: &str, host: &str) -> Error {
    Error::not_found(format!(
        "no worktree named {name:?} in project {project_id} on {host}"
    ))
    .with_hint("list the project's worktrees with `imi list`")
}

/// `NOT_FOUND` for a worktree a command names by its short name (`login` for
/// `feat-login`) in a project.
pub fn no_active_worktree_named(name: &str, project: &str, host: &str) -> Error {
    Error::not_found(format!(
        "no active worktree {name:?} in project {project} on {host}"
    ))
    .with_hint("list them with `imi list`")
}

/// `CONFLICT`: a short name that matches several worktrees.
pub fn ambiguous_worktree_name<'a>(name: &str, matches: impl Iterator<Item = &'a str>) -> Error {
    Error::conflict(format!(
        "{name:?} matches several worktrees: {}",
        matches.collect::<Vec<_>>().join(", ")
    ))
    .with_hint("give the full directory name")
}

/// `CONFLICT`: the name is registered in the project on `host`, at another path.
pub fn worktree_name_taken(name: &str, host: &str, path: &str) -> Error {
    Error::conflict(format!(
        "worktree {name:?} is already registered in this project on {host} at {path}"
    ))
    .with_hint("remove it first (imi remove), or choose another name")
}

/// `CONFLICT`: another active worktree is registered at `path` on `host`
/// (`by`: its name and its project's, when the store could tell).
pub fn worktree_place_taken(path: &str, host: &str, by: Option<(&str, &str)>) -> Error {
    let who = match by {
        Some((w, p)) => format!("worktree {w:?} of project {p:?}"),
        None => "another active worktree".to_string(),
    };
    Error::conflict(format!(
        "path {path} on host {host} is already registered to {who}"
    ))
    .with_hint("remove that worktree first (imi remove), or choose another path")
}

/// `NOT_FOUND` for the project or worktree a metadata operation addresses.
pub fn target_not_found(target: MetadataTarget) -> Error {
    match target {
        MetadataTarget::Project(id) => project_not_found(id),
        MetadataTarget::Worktree(id) => worktree_not_found(id),
    }
}

// --- worktree types -----------------------------------------------------------------

/// `VALIDATION_ERROR`: a worktree names a type the registry does not know.
pub fn unknown_worktree_type(name: &str) -> Error {
    Error::validation(format!("unknown worktree type {name:?}")).with_hint(LIST_TYPES)
}

/// `NOT_FOUND`: the type to remove does not exist.
pub fn worktree_type_not_found(name: &str) -> Error {
    Error::not_found(format!("no worktree type named {name:?}")).with_hint(LIST_TYPES)
}

/// `CONFLICT`: a type of that name exists (built in or added).
pub fn worktree_type_exists(name: &str) -> Error {
    Error::conflict(format!("worktree type {name:?} already exists")).with_hint(LIST_TYPES)
}

// --- claims (SPEC §7.1) -------------------------------------------------------------

fn claim_words(c: &Claim) -> String {
    format!(
        "worktree {:?} of project {:?} is claimed by {} on host {} (epoch {}, {})",
        c.worktree_name,
        c.project_name,
        c.agent_id,
        c.host,
        c.epoch,
        c.lease_words()
    )
}

/// `CONFLICT`: another agent holds the item `c` (a claim refused).
pub fn claim_held(c: &Claim) -> Error {
    Error::conflict(claim_words(c)).with_hint(format!(
        "wait until the lease ends, ask {} to run `imi release`, or take it over with \
         `imi release --force` (logged)",
        c.agent_id
    ))
}

/// `CONFLICT`: `action` (remove, close, merge, ...) on a worktree whose item another
/// agent holds.
pub fn worktree_claimed(c: &Claim, action: &str) -> Error {
    Error::conflict(format!("cannot {action}: {}", claim_words(c))).with_hint(format!(
        "ask {} to release it (`imi release`), wait until the lease ends, or pass --force \
         (logged in the activity log)",
        c.agent_id
    ))
}

/// `NOT_FOUND`: the worktree a claim names is removed (claims are for active work).
pub fn worktree_removed(name: &str, id: Uuid) -> Error {
    Error::not_found(format!("worktree {name:?} ({id}) is removed"))
        .with_hint("register it again (imi add) before claiming it")
}

/// Why a renewal or release scoped to `agent` and `epoch` matched nothing, from the
/// claim found afterwards (`None`: the item was never claimed).
pub fn claim_not_yours(
    worktree: &str,
    agent: &str,
    epoch: Option<i64>,
    found: Option<&Claim>,
) -> Error {
    let Some(c) = found else {
        return Error::not_found(format!("worktree {worktree:?} is not claimed"))
            .with_hint("claim it with `imi claim`");
    };
    if c.agent_id != agent {
        if c.held {
            return Error::conflict(format!(
                "{agent} does not hold the claim: {}",
                claim_words(c)
            ))
            .with_hint(format!(
                "only the holder renews or releases it; `imi release --force` releases \
                     {}'s claim (logged)",
                c.agent_id
            ));
        }
        return Error::conflict(format!(
            "{agent} does not hold the claim on worktree {:?}: its last holder was {} (epoch {}), \
             and it is free now",
            c.worktree_name, c.agent_id, c.epoch
        ))
        .with_hint("claim it with `imi claim`");
    }
    match epoch {
        Some(e) if e != c.epoch => Error::conflict(format!(
            "epoch {e} of the claim on worktree {:?} is stale: the claim is at epoch {} now \
             (it changed hands)",
            c.worktree_name, c.epoch
        ))
        .with_hint("claim it again with `imi claim`, and use the new epoch"),
        _ => Error::conflict(format!(
            "{agent}'s claim on worktree {:?} (epoch {}) is released",
            c.worktree_name, c.epoch
        ))
        .with_hint("claim it again with `imi claim`"),
    }
}

// --- API tokens (SPEC §7.3) ---------------------------------------------------------

/// `CONFLICT`: a token of that name is not revoked (expired or not).
pub fn token_name_taken(name: &str) -> Error {
    Error::conflict(format!("a token named {name:?} exists already")).with_hint(format!(
        "choose another name, or revoke the old token first with `imi token revoke {}`",
        shell_word(name)
    ))
}

/// `NOT_FOUND`: no token of that name to revoke (never made, or revoked already).
pub fn token_not_found(name: &str) -> Error {
    Error::not_found(format!("no active token named {name:?}"))
        .with_hint("see the active tokens with `imi token list`")
}

#[cfg(test)]
mod shell_tests {
    use super::shell_word;

    #[test]
    fn words_paste_back_unchanged() {
        assert_eq!(shell_word("/code/app/trunk-main"), "/code/app/trunk-main");
        assert_eq!(shell_word("my repo"), "'my repo'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
    }
}
