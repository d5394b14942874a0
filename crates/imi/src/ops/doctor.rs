//! Doctor: is everything consistent? The registry is reachable; its schema
//! is this binary's; every project's trunk and every worktree of this host is on
//! disk; the registry and `git worktree list` agree; `.iMi/project.json` says what
//! the registry says. Each problem comes with the command that fixes it; any
//! problem makes the exit code 1. Nothing is changed (no migration either).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use imi_core::{Error, ErrorKind, Result, Store, WorktreeFilter};
use imi_git::Repo;
use serde::{Deserialize, Serialize};

use super::common::{self, on_this_host_all};
use super::{Env, Report, recover};
use crate::context::{self, ProjectFile};
use crate::registry::with_store;

/// Every check made; any problem is the report's failure.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Doctor {
    pub ok: bool,
    /// How many checks found a problem.
    pub problems: usize,
    pub checks: Vec<Check>,
    /// `imi doctor found N problem(s)`, with the first fix as its hint.
    #[serde(skip)]
    pub failure: Option<Error>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// registry, schema, interrupted, trunk_state, project_path, project_file,
    /// git_worktrees, worktree_path, paths
    pub check: String,
    pub ok: bool,
    pub message: String,
    /// The command (or step) that fixes a problem.
    pub fix: Option<String>,
}

impl Report for Doctor {
    fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }
}

fn ok(check: &str, message: impl Into<String>) -> Check {
    Check {
        check: check.to_string(),
        ok: true,
        message: message.into(),
        fix: None,
    }
}

fn problem(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check: check.to_string(),
        ok: false,
        message: message.into(),
        fix: Some(fix.into()),
    }
}

/// Checks the registry, its schema, and this host's projects and worktrees against
/// the disk and git. Changes nothing (no migration either).
pub async fn doctor(env: &Env) -> Result<Doctor> {
    let mut checks = vec![];
    let target = env.settings.database.display();
    let store = match env.connected().await {
        Ok(s) => s,
        Err(e) => {
            checks.push(problem(
                "registry",
                format!("registry {target} is unreachable: {}", e.message),
                e.hint.unwrap_or_else(|| {
                    "start the database, or point --database / IMI_DATABASE_URL at it".into()
                }),
            ));
            return Ok(report(checks, ErrorKind::Unavailable));
        }
    };
    let ping = with_store!(store, s => s.ping().await);
    if let Err(e) = ping {
        checks.push(problem(
            "registry",
            format!("registry {target} does not answer: {}", e.message),
            "start the database, or point --database / IMI_DATABASE_URL at it",
        ));
        return Ok(report(checks, ErrorKind::Unavailable));
    }
    checks.push(ok("registry", format!("registry {target} is reachable")));
    with_store!(store, s => doctor_in(s, checks).await)
}

/// The report of `checks`; problems make a failure of `kind`.
fn report(checks: Vec<Check>, kind: ErrorKind) -> Doctor {
    let problems: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let n = problems.len();
    let first_fix = problems.iter().find_map(|c| c.fix.clone());
    let failure = (n > 0).then(|| {
        let e = Error::new(kind, format!("imi doctor found {n} problem(s)"));
        match first_fix {
            Some(f) => e.with_hint(if n > 1 {
                format!("{f} (and see the fix under each problem)")
            } else {
                f
            }),
            None => e,
        }
    });
    Doctor {
        ok: n == 0,
        problems: n,
        checks,
        failure,
    }
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

async fn doctor_in<S: Store>(s: &S, mut checks: Vec<Check>) -> Result<Doctor> {
    match s.schema_status().await {
        Ok(st) if st.applied == st.latest && st.pending.is_empty() => {
            checks.push(ok(
                "schema",
                format!("schema version {} is current", st.applied),
            ));
        }
        Ok(st) if st.applied > st.latest => {
            checks.push(problem(
                "schema",
                format!(
                    "registry schema {} is newer than this imi (which knows up to {})",
                    st.applied, st.latest
                ),
                "upgrade imi",
            ));
            return Ok(report(checks, ErrorKind::Unavailable));
        }
        Ok(st) => {
            checks.push(problem(
                "schema",
                format!(
                    "registry schema is at {}, this imi's is {} (pending: {:?})",
                    st.applied, st.latest, st.pending
                ),
                "imi db migrate",
            ));
            return Ok(report(checks, ErrorKind::Unavailable));
        }
        Err(e) => {
            checks.push(problem(
                "schema",
                format!("cannot read the schema version: {}", e.message),
                "imi db migrate",
            ));
            return Ok(report(checks, ErrorKind::Unavailable));
        }
    }
    let projects = on_this_host_all(s, s.list_projects(false).await?).await?;
    let filter = WorktreeFilter {
        host: Some(s.host().to_string()),
        ..Default::default()
    };
    let worktrees = s.list_worktrees(&filter).await?;
    let before = checks.len();

    // interrupted operations first: their fix (`imi recover`) explains the rest
    for p in &projects {
        if !Path::new(&p.trunk_path).is_dir() {
            continue;
        }
        let trunk = Repo::at(&p.trunk_path);
        match recover::interrupted(&trunk) {
            Ok(list) => {
                for r in list {
                    checks.push(match r {
                        Ok(i) => problem(
                            "interrupted",
                            format!("project {}: an interrupted {}", p.name, i.describe()),
                            format!("imi recover -p {}", p.id),
                        ),
                        Err(e) => problem(
                            "interrupted",
                            format!("project {}: an unreadable intent record: {e}", p.name),
                            format!("imi recover -p {}", p.id),
                        ),
                    });
                }
            }
            Err(e) => checks.push(problem(
                "interrupted",
                format!(
                    "project {}: cannot read its intent records: {}",
                    p.name, e.message
                ),
                format!("check the permissions of {}/.git", p.trunk_path),
            )),
        }
        if trunk.merge_in_progress().unwrap_or(false) {
            checks.push(problem(
                "trunk_state",
                format!(
                    "project {}: trunk {} is in the middle of a merge (MERGE_HEAD)",
                    p.name, p.trunk_path
                ),
                format!(
                    "finish it with `git -C {0} commit`, or undo it with `git -C {0} merge --abort`",
                    p.trunk_path
                ),
            ));
        }
    }

    for p in &projects {
        if !Path::new(&p.trunk_path).is_dir() {
            checks.push(problem(
                "project_path",
                format!("project {}: trunk {} is missing", p.name, p.trunk_path),
                match &p.remote_origin {
                    Some(r) => format!("git clone {r} {} && cd {0} && imi init", p.trunk_path),
                    None => format!("restore {} and run `imi init` there", p.trunk_path),
                },
            ));
            continue;
        }
        // .iMi/project.json says what the registry says
        let container = common::container(p);
        let file = context::project_file_path(&container);
        let fix = format!("cd {} && imi init", p.trunk_path);
        let expected = ProjectFile {
            project_id: p.id,
            name: p.name.clone(),
            remote_origin: p.remote_origin.clone(),
            default_branch: p.default_branch.clone(),
            trunk_path: p.trunk_path.clone(),
        };
        match std::fs::read(&file) {
            Err(_) => checks.push(problem(
                "project_file",
                format!("project {}: {} is missing", p.name, file.display()),
                fix,
            )),
            Ok(bytes) => match serde_json::from_slice::<ProjectFile>(&bytes) {
                Err(e) => checks.push(problem(
                    "project_file",
                    format!("project {}: {} is not valid: {e}", p.name, file.display()),
                    fix,
                )),
                Ok(found) if found != expected => {
                    let mut diff = vec![];
                    if found.project_id != expected.project_id {
                        diff.push("project_id");
                    }
                    if found.name != expected.name {
                        diff.push("name");
                    }
                    if found.remote_origin != expected.remote_origin {
                        diff.push("remote_origin");
                    }
                    if found.default_branch != expected.default_branch {
                        diff.push("default_branch");
                    }
                    if found.trunk_path != expected.trunk_path {
                        diff.push("trunk_path");
                    }
                    checks.push(problem(
                        "project_file",
                        format!(
                            "project {}: {} does not match the registry ({})",
                            p.name,
                            file.display(),
                            diff.join(", ")
                        ),
                        fix,
                    ));
                }
                Ok(_) => {}
            },
        }
        // the registry and git agree on the worktrees
        let listed = match Repo::at(&p.trunk_path).worktree_list() {
            Ok(l) => l,
            Err(e) => {
                checks.push(problem(
                    "git_worktrees",
                    format!(
                        "project {}: `git worktree list` failed: {}",
                        p.name,
                        Error::from(e).message
                    ),
                    format!("git -C {} worktree list", p.trunk_path),
                ));
                continue;
            }
        };
        let registered: Vec<_> = worktrees.iter().filter(|w| w.project_id == p.id).collect();
        let reg_paths: HashSet<PathBuf> = registered
            .iter()
            .map(|w| canon(Path::new(&w.path)))
            .collect();
        let git_paths: HashSet<PathBuf> = listed.iter().map(|e| canon(&e.path)).collect();
        for e in &listed {
            if e.bare || reg_paths.contains(&canon(&e.path)) {
                continue;
            }
            if e.prunable {
                checks.push(problem(
                    "git_worktrees",
                    format!(
                        "project {}: git lists {} but its directory is gone",
                        p.name,
                        e.path.display()
                    ),
                    format!("imi prune -p {}", p.id),
                ));
            } else {
                checks.push(problem(
                    "git_worktrees",
                    format!(
                        "project {}: git worktree {} is not in the registry",
                        p.name,
                        e.path.display()
                    ),
                    format!("imi sync --register -p {}", p.id),
                ));
            }
        }
        for w in &registered {
            if Path::new(&w.path).is_dir() && !git_paths.contains(&canon(Path::new(&w.path))) {
                checks.push(problem(
                    "git_worktrees",
                    format!(
                        "project {}: worktree {} ({}) is registered but git does not list it",
                        p.name, w.name, w.path
                    ),
                    format!(
                        "git -C {} worktree repair {}, or move the directory away and run `imi prune`",
                        p.trunk_path, w.path
                    ),
                ));
            }
        }
    }
    for w in &worktrees {
        if !Path::new(&w.path).is_dir() {
            checks.push(problem(
                "worktree_path",
                format!(
                    "worktree {} is registered at {}, which is gone",
                    w.name, w.path
                ),
                format!("imi prune -p {}", w.project_id),
            ));
        }
    }
    if checks.len() == before {
        checks.push(ok(
            "paths",
            format!(
                "{} project(s) and {} worktree(s) of this host: paths, git worktrees and project files agree",
                projects.len(),
                worktrees.len()
            ),
        ));
    }
    Ok(report(checks, ErrorKind::Conflict))
}
