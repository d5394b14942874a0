//! Setting up a worktree (SPEC §10): ignored files copied from the trunk, then the
//! hooks of the user's config (trusted) and of the project's `.imi.toml` (run only
//! when approved: [`imi_core::hooks`]). Without approval a project command is
//! skipped and reported, never run and never waited for; the CLI asks on a terminal
//! before it calls the operation (an operation never prompts).
//!
//! A hook command runs with `sh -c` in the worktree, with `IMI_PROJECT`,
//! `IMI_WORKTREE`, `IMI_WORKTREE_PATH`, `IMI_BRANCH`, `IMI_TRUNK_PATH`, `IMI_TYPE`,
//! `IMI_PORT` (stable per worktree) and `IMI_HOOK`; its output goes to a log file of
//! its own (`$XDG_STATE_HOME/imi/hooks/...`), it is killed (its whole process
//! group) at the time limit, and each run is an activity and an `imi.hook.ran` event.

use std::fs::{File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imi_core::hooks::command_hash;
use imi_core::{Error, NewActivity, NewHookApproval, Project, Result, Store, Worktree};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Env, Report, common};
use crate::registry::with_store;
use crate::setup::{self, Hook, SetupTables};

/// Where a command comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The user's config file: trusted.
    User,
    /// The project's committed `.imi.toml`: needs approval.
    Project,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    TimedOut,
    /// A project command nobody approved: not run.
    Unapproved,
}

/// One command of a hook, run or skipped.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookRun {
    pub hook: String,
    pub command: String,
    pub origin: Origin,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    /// The log file of the run (`None` when it did not run).
    pub log: Option<String>,
    pub seconds: f64,
}

/// What setting up a new worktree did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Setup {
    /// Ignored files copied from the trunk (relative paths).
    pub copied: Vec<String>,
    /// Files not copied: already there, or a symlink leading out of the trunk.
    pub not_copied: Vec<String>,
    pub hooks: Vec<HookRun>,
}

impl RunStatus {
    /// Failed or timed out: what stops a hook's later commands (and `pre-remove`'s
    /// removal).
    pub fn failed(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::TimedOut)
    }
}

impl HookRun {
    /// The outcome in words: `ok`, `failed (exit 3)`, `timed out`, `skipped: not
    /// approved`.
    pub fn outcome(&self) -> String {
        match self.status {
            RunStatus::Succeeded => "ok".to_string(),
            RunStatus::Failed => format!("failed (exit {})", self.exit_code.unwrap_or(-1)),
            RunStatus::TimedOut => "timed out".to_string(),
            RunStatus::Unapproved => "skipped: not approved (`imi hooks approve`)".to_string(),
        }
    }
}

/// The first command of `runs` that failed or timed out.
pub fn first_failure(runs: &[HookRun]) -> Option<&HookRun> {
    runs.iter().find(|h| h.status.failed())
}

impl Setup {
    /// The first command that failed or timed out.
    pub fn failed(&self) -> Option<&HookRun> {
        first_failure(&self.hooks)
    }
}

/// The configured commands of a project's hook with their origin.
pub fn commands(env: &Env, tables: &SetupTables, hook: Hook) -> Vec<(String, Origin)> {
    let mut out: Vec<(String, Origin)> = hook
        .commands(&tables.hooks)
        .into_iter()
        .map(|c| (c, Origin::Project))
        .collect();
    out.extend(
        hook.commands(&env.settings.setup.hooks)
            .into_iter()
            .map(|c| (c, Origin::User)),
    );
    out
}

/// A port in 20000..30000, the same for a project's worktree name on every run.
pub fn port_of(project: &Project, worktree: &str) -> u16 {
    // FNV-1a: stable across builds and platforms (std's hasher is not)
    let mut h: u32 = 0x811c_9dc5;
    for b in project
        .origin_key
        .bytes()
        .chain([0])
        .chain(worktree.bytes())
    {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // the remainder is below 10000: it fits
    20000 + (h % 10000) as u16
}

/// A new log's path: the hook, the time, the command's place in the list and this
/// process (two commands, or two processes, never share one).
fn log_path(project: &Project, w: &Worktree, hook: Hook, n: usize) -> Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    Ok(crate::config::state_dir()?
        .join("hooks")
        .join(&project.name)
        .join(&w.name)
        .join(format!(
            "{}-{stamp}-{n}-{}.log",
            hook.name(),
            std::process::id()
        )))
}

/// Runs one command to its end or its time limit (blocking).
fn run_command(
    command: &str,
    dir: &Path,
    vars: &[(&str, String)],
    log: &Path,
    limit: Duration,
) -> Result<(RunStatus, Option<i32>)> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    // a hook's output may hold secrets (it runs next to .env): the user's eyes only
    if let Some(parent) = log.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| {
                Error::internal(format!("cannot create {}: {e}", parent.display()))
                    .with_hint("check that the state directory ($XDG_STATE_HOME) is writable")
            })?;
    }
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(log)
        .map_err(|e| {
            Error::internal(format!("cannot create the hook log {}: {e}", log.display()))
        })?;
    let err = out
        .try_clone()
        .map_err(|e| Error::internal(format!("cannot share the hook log: {e}")))?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::internal(format!("cannot start sh for a hook: {e}")))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let code = status.code();
                let ok = status.success();
                return Ok((
                    if ok {
                        RunStatus::Succeeded
                    } else {
                        RunStatus::Failed
                    },
                    code,
                ));
            }
            Ok(None) if Instant::now() >= deadline => {
                // the whole group: a shell's children too
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                return Ok((RunStatus::TimedOut, None));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Error::internal(format!("waiting for a hook: {e}"))),
        }
    }
}

/// Runs `hook` for worktree `w` in directory `dir` (the worktree's; `post-merge`
/// runs in the trunk, the worktree being gone): every configured command in order
/// (the project's, then the user's), each approved project command and every user
/// command; stops at the first failure. Each run is logged as an activity.
pub async fn run_hook<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    w: &Worktree,
    hook: Hook,
    dir: &Path,
) -> Result<Vec<HookRun>> {
    let tables = setup::project_tables(Path::new(&project.trunk_path))?;
    run_hook_in(s, env, project, &tables, w, hook, dir).await
}

/// [`run_hook`] with the project's `.imi.toml` tables already read.
pub async fn run_hook_in<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    project_tables: &SetupTables,
    w: &Worktree,
    hook: Hook,
    dir: &Path,
) -> Result<Vec<HookRun>> {
    let list = commands(env, project_tables, hook);
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let dir = dir.to_path_buf();
    let vars = vec![
        ("IMI_PROJECT", project.name.clone()),
        ("IMI_WORKTREE", w.name.clone()),
        ("IMI_WORKTREE_PATH", w.path.clone()),
        ("IMI_BRANCH", w.branch_name.clone()),
        ("IMI_TRUNK_PATH", project.trunk_path.clone()),
        ("IMI_TYPE", w.type_name.clone()),
        ("IMI_PORT", port_of(project, &w.name).to_string()),
        ("IMI_HOOK", hook.name().to_string()),
    ];
    let mut runs = Vec::new();
    for (n, (command, origin)) in list.into_iter().enumerate() {
        let tables = match origin {
            Origin::Project => &project_tables.hooks,
            Origin::User => &env.settings.setup.hooks,
        };
        let limit = Duration::from_secs(tables.timeout_seconds()?.unsigned_abs());
        let approved = match origin {
            Origin::User => true,
            Origin::Project => s
                .hook_approval(&project.origin_key, &command_hash(&command))
                .await?
                .is_some(),
        };
        let run = if approved {
            let log = log_path(project, w, hook, n + 1)?;
            let started = Instant::now();
            let (c, d, v, l) = (command.clone(), dir.clone(), vars.clone(), log.clone());
            let (status, exit_code) =
                tokio::task::spawn_blocking(move || run_command(&c, &d, &v, &l, limit))
                    .await
                    .map_err(|e| Error::internal(format!("a hook's runner failed: {e}")))??;
            HookRun {
                hook: hook.name().into(),
                command,
                origin,
                status,
                exit_code,
                log: Some(log.to_string_lossy().into_owned()),
                seconds: started.elapsed().as_secs_f64(),
            }
        } else {
            HookRun {
                hook: hook.name().into(),
                command,
                origin,
                status: RunStatus::Unapproved,
                exit_code: None,
                log: None,
                seconds: 0.0,
            }
        };
        record(s, env, w, &run).await?;
        if let Some(log) = &run.log {
            env.observer().note(&format!(
                "{} `{}`: {} (log: {log})",
                run.hook,
                run.command,
                run.outcome()
            ));
        }
        let stop = run.status.failed();
        runs.push(run);
        if stop {
            break;
        }
    }
    Ok(runs)
}

async fn record<S: Store>(s: &S, env: &Env, w: &Worktree, run: &HookRun) -> Result<()> {
    let what = run.outcome();
    s.log_activity(&NewActivity {
        agent_id: env.agent_id().to_string(),
        worktree_id: Some(w.id),
        activity_type: "other".into(),
        description: Some(format!("{} hook {what}: {}", run.hook, run.command)),
        file_path: run.log.clone(),
        metadata: imi_core::metadata::require_object(json!({
            "hook": run.hook,
            "command": run.command,
            "origin": run.origin,
            "status": run.status,
            "exit_code": run.exit_code,
        }))?,
    })
    .await?;
    Ok(())
}

/// Copies the ignored files that `[copy] include` (the user's and the project's) and
/// the trunk's `.worktreeinclude` name from the trunk into `dest`: only files git
/// ignores (never a tracked one), never over an existing file, symlinks as symlinks
/// and only when they stay inside the trunk. Copies use the file system's
/// copy-on-write where it has one (`copy_file_range`).
pub fn copy_ignored(
    trunk: &Path,
    dest: &Path,
    include: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    let include_file = trunk.join(setup::INCLUDE_FILE);
    let has_file = include_file.is_file();
    if include.is_empty() && !has_file {
        return Ok((Vec::new(), Vec::new()));
    }
    // untracked files matching the patterns...
    let mut ls = Command::new("git");
    ls.current_dir(trunk)
        .args(["ls-files", "-z", "--others", "--ignored"]);
    for p in include {
        ls.arg(format!("--exclude={p}"));
    }
    if has_file {
        ls.arg(format!("--exclude-from={}", include_file.display()));
    }
    let candidates = git_paths(ls, None, "listing the files to copy")?;
    if candidates.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    // ...that the repository's own rules ignore
    let mut check = Command::new("git");
    check
        .current_dir(trunk)
        .args(["check-ignore", "-z", "--stdin"]);
    let mut input = candidates.join("\0").into_bytes();
    input.push(0);
    let ignored = git_paths(check, Some(input), "checking which files git ignores")?;
    let (mut copied, mut not_copied) = (Vec::new(), Vec::new());
    for rel in ignored {
        let rel_path = Path::new(&rel);
        if rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            not_copied.push(rel);
            continue;
        }
        let (src, dst) = (trunk.join(rel_path), dest.join(rel_path));
        if dst.symlink_metadata().is_ok() {
            not_copied.push(rel);
            continue;
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| copy_err(&dst, e))?;
        }
        let meta = src.symlink_metadata().map_err(|e| copy_err(&src, e))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&src).map_err(|e| copy_err(&src, e))?;
            if !stays_inside(rel_path, &target) {
                not_copied.push(rel);
                continue;
            }
            std::os::unix::fs::symlink(&target, &dst).map_err(|e| copy_err(&dst, e))?;
        } else if meta.is_file() {
            let mut from = File::open(&src).map_err(|e| copy_err(&src, e))?;
            // create_new: an existing file (made meanwhile) is never overwritten
            let mut to = match OpenOptions::new().write(true).create_new(true).open(&dst) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    not_copied.push(rel);
                    continue;
                }
                Err(e) => return Err(copy_err(&dst, e)),
            };
            std::io::copy(&mut from, &mut to).map_err(|e| copy_err(&dst, e))?;
            let _ = to.set_permissions(meta.permissions());
        } else {
            not_copied.push(rel);
            continue;
        }
        copied.push(rel);
    }
    Ok((copied, not_copied))
}

/// Whether a symlink at `rel` (inside the trunk) pointing at `target` resolves inside
/// the trunk, by its text alone (nothing outside is looked at).
fn stays_inside(rel: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = rel.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn copy_err(p: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("copying {}: {e}", p.display()))
        .with_hint("check the permissions and free space of the worktree's disk")
}

fn git_paths(mut c: Command, input: Option<Vec<u8>>, what: &str) -> Result<Vec<String>> {
    let spawn_err = |e: std::io::Error| Error::internal(format!("{what}: cannot run git: {e}"));
    let mut child = c
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        // a thread: git may fill its stdout before it has read all of stdin
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&data);
        });
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    // check-ignore exits 1 when no path is ignored
    if !out.status.success() && out.status.code() != Some(1) {
        return Err(Error::internal(format!(
            "{what}: git failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Sets up worktree `w`, just created: copies, then `post-create` (unless
/// `no_hooks`). A failing hook keeps the worktree: the report says which and where
/// its log is.
pub async fn set_up<S: Store>(
    s: &S,
    env: &Env,
    project: &Project,
    w: &Worktree,
    no_hooks: bool,
) -> Result<Setup> {
    let tables: SetupTables = setup::project_tables(Path::new(&project.trunk_path))?;
    let mut include = tables.copy.include.clone();
    include.extend(env.settings.setup.copy.include.iter().cloned());
    let (trunk, dest) = (PathBuf::from(&project.trunk_path), PathBuf::from(&w.path));
    let (copied, not_copied) =
        tokio::task::spawn_blocking(move || copy_ignored(&trunk, &dest, &include))
            .await
            .map_err(|e| Error::internal(format!("copying files failed: {e}")))??;
    let hooks = if no_hooks {
        Vec::new()
    } else {
        let dir = Path::new(&w.path);
        run_hook_in(s, env, project, &tables, w, Hook::PostCreate, dir).await?
    };
    let setup = Setup {
        copied,
        not_copied,
        hooks,
    };
    if let Some(f) = setup.failed() {
        env.observer().note(&format!(
            "the {} hook `{}` failed; the worktree is kept. Log: {}. Run it again with `imi hooks run {} {}`",
            f.hook,
            f.command,
            f.log.as_deref().unwrap_or("-"),
            f.hook,
            w.name
        ));
    }
    for h in setup
        .hooks
        .iter()
        .filter(|h| h.status == RunStatus::Unapproved)
    {
        env.observer().note(&format!(
            "skipped the project's {} command `{}`: not approved (`imi hooks approve`)",
            h.hook, h.command
        ));
    }
    Ok(setup)
}

// --- imi hooks ---------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfiguredCommand {
    pub hook: String,
    pub command: String,
    pub origin: Origin,
    pub command_hash: String,
    /// User commands are trusted; project commands need an approval.
    pub approved: bool,
    pub approved_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookList {
    pub project: String,
    pub commands: Vec<ConfiguredCommand>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Approvals {
    pub project: String,
    pub approved: Vec<imi_core::HookApproval>,
    pub revoked: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rerun {
    pub worktree: String,
    pub hooks: Vec<HookRun>,
    /// A command failed or timed out: the report is shown, then this error.
    #[serde(skip)]
    pub failure: Option<Error>,
}

impl Report for Setup {}
impl Report for HookList {}
impl Report for Approvals {}
impl Report for Rerun {
    fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }
}

const HOOKS: [Hook; 3] = [Hook::PostCreate, Hook::PreRemove, Hook::PostMerge];

/// Every configured command of the project with its approval.
pub async fn list(env: &Env, project: Option<&str>) -> Result<HookList> {
    with_store!(env.store().await?, s => {
        let project = common::resolve_project(s, env, project).await?;
        let tables = setup::project_tables(Path::new(&project.trunk_path))?;
        let mut out = Vec::new();
        for hook in HOOKS {
            for (command, origin) in commands(env, &tables, hook) {
                let hash = command_hash(&command);
                let approval = match origin {
                    Origin::User => None,
                    Origin::Project => s.hook_approval(&project.origin_key, &hash).await?,
                };
                out.push(ConfiguredCommand {
                    hook: hook.name().into(),
                    approved: origin == Origin::User || approval.is_some(),
                    approved_by: approval.map(|a| a.approved_by),
                    command,
                    origin,
                    command_hash: hash,
                });
            }
        }
        Ok(HookList { project: project.name, commands: out })
    })
}

/// Approves the project's configured commands (`only`: just this one), as this
/// environment's agent.
pub async fn approve(env: &Env, project: Option<&str>, only: Option<&str>) -> Result<Approvals> {
    with_store!(env.store().await?, s => {
        let project = common::resolve_project(s, env, project).await?;
        let tables = setup::project_tables(Path::new(&project.trunk_path))?;
        let mut approved = Vec::new();
        let mut found = false;
        for hook in HOOKS {
            for (command, origin) in commands(env, &tables, hook) {
                if origin == Origin::User || only.is_some_and(|o| o != command) {
                    continue;
                }
                found = true;
                approved.push(s.approve_hook(&NewHookApproval {
                    project_key: project.origin_key.clone(),
                    command,
                    approved_by: env.agent_id().to_string(),
                }).await?);
            }
        }
        if let (Some(o), false) = (only, found) {
            return Err(Error::not_found(format!(
                "{o:?} is not a hook command of {}'s {}",
                project.name,
                setup::PROJECT_FILE
            ))
            .with_hint("`imi hooks list` shows the configured commands"));
        }
        Ok(Approvals { project: project.name, approved, revoked: Vec::new() })
    })
}

/// Withdraws the approval of one command (`only`), or of all of the project's.
pub async fn revoke(env: &Env, project: Option<&str>, only: Option<&str>) -> Result<Approvals> {
    with_store!(env.store().await?, s => {
        let project = common::resolve_project(s, env, project).await?;
        let mut revoked = Vec::new();
        for a in s.list_hook_approvals(Some(&project.origin_key)).await? {
            if only.is_some_and(|o| o != a.command) {
                continue;
            }
            if s.revoke_hook(&a.project_key, &a.command_hash).await? {
                revoked.push(a.command);
            }
        }
        Ok(Approvals { project: project.name, approved: Vec::new(), revoked })
    })
}

/// Runs `hook` again for a worktree (named, else the current one); refused with
/// `CONFLICT` when another agent holds its claim, unless `force` (logged).
pub async fn rerun(
    env: &Env,
    project: Option<&str>,
    hook: Hook,
    worktree: Option<&str>,
    force: bool,
) -> Result<Rerun> {
    with_store!(env.store().await?, s => {
        let project = common::resolve_project(s, env, project).await?;
        let w = common::worktree_here_or_named(s, env, &project, worktree).await?;
        let action = format!("run the {} hook in", hook.name());
        super::claims::guard(s, env, &w, force, &action).await?;
        let hooks = run_hook(s, env, &project, &w, hook, Path::new(&w.path)).await?;
        let failure = first_failure(&hooks).map(|f| {
            Error::internal(format!("the {} command `{}` did not succeed", f.hook, f.command))
                .with_hint(format!("see its log: {}", f.log.as_deref().unwrap_or("-")))
        });
        Ok(Rerun { worktree: w.name, hooks, failure })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_judged_by_their_text() {
        assert!(stays_inside(Path::new("a/link"), Path::new("b")));
        assert!(stays_inside(Path::new("a/link"), Path::new("../c")));
        assert!(!stays_inside(
            Path::new("a/link"),
            Path::new("../../etc/passwd")
        ));
        assert!(!stays_inside(Path::new("link"), Path::new("../x")));
        assert!(!stays_inside(Path::new("link"), Path::new("/etc/passwd")));
    }
}
