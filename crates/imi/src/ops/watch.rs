//! Watch (`imi sync --watch`, after a full sync): the registry is kept current as
//! files change. File-system events (inotify and friends, through `notify`) are
//! debounced (250 ms of quiet, at most 2 s), mapped to the worktrees they concern,
//! and only those are read again. Churn inside `.git` is ignored except what
//! changes the answer: `HEAD` and `index` (of the trunk, or of a linked worktree
//! under `.git/worktrees/<n>/`) move that worktree, `refs/` and `packed-refs`
//! every worktree of the project (a fetch moves the trunk ref). When a write fails
//! (the registry unreachable, its disk full, any fault) the computed states are
//! kept (newest per worktree) and written when writing works again, with a backoff
//! of 250 ms doubling to 5 s: no crash, no lost update. Only a state the registry
//! refuses (VALIDATION_ERROR, a worktree gone) is dropped, alone, and said so. Nothing runs while nothing changes (it waits on the event channel; the
//! worktree list is refreshed every 30 s to pick up new worktrees).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use imi_core::{Error, ErrorKind, GitState, Result, Store};
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sync::targets;
use super::{Env, Report, common};
use crate::gitstate::{self, Job, Read};
use crate::registry::with_store;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WatchArgs {
    /// One project (`-p`); every active project when `None`.
    pub project: Option<String>,
}

/// The watch ended (its event source closed).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Watched {
    pub watching: bool,
}

impl Report for Watched {}

const DEBOUNCE: Duration = Duration::from_millis(250);
const MAX_DEBOUNCE: Duration = Duration::from_secs(2);
const REFRESH: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

struct Target {
    id: Uuid,
    name: String,
    project_id: Uuid,
    job: Job,
    /// The worktree's directory, canonical (events carry this prefix).
    root: PathBuf,
    /// `<n>` of `<common>/worktrees/<n>`, for a linked worktree.
    admin: Option<String>,
}

async fn load<S: Store>(s: &S, project: Option<&str>) -> Result<Vec<Target>> {
    let projects = common::scope(s, project).await?;
    let list = targets(s, &projects).await?;
    Ok(list
        .into_iter()
        .filter_map(|(w, job)| {
            let root = std::fs::canonicalize(&w.path).ok()?;
            let admin = std::fs::read_to_string(root.join(".git"))
                .ok()
                .and_then(|t| {
                    let dir = t.trim().strip_prefix("gitdir:")?.trim().to_string();
                    Path::new(&dir)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                });
            Some(Target {
                id: w.id,
                name: w.name,
                project_id: w.project_id,
                job,
                root,
                admin,
            })
        })
        .collect())
}

fn add_watches(
    watcher: &mut notify::RecommendedWatcher,
    targets: &[Target],
    watched: &mut HashSet<PathBuf>,
) {
    for t in targets {
        if watched.contains(&t.root) {
            continue;
        }
        if watcher.watch(&t.root, RecursiveMode::Recursive).is_ok() {
            watched.insert(t.root.clone());
        }
    }
}

enum GitFile {
    /// This worktree's own HEAD or index (the trunk's `.git/HEAD`).
    Own,
    /// `worktrees/<n>/HEAD|index`: the linked worktree `<n>`.
    Admin(String),
    /// A ref moved: every worktree of the project.
    Refs,
    /// Objects, logs, lock files, hooks...: nothing the answer depends on.
    Noise,
}

fn classify_git(rel: &Path) -> GitFile {
    let s = rel.to_string_lossy();
    if s == "HEAD" || s == "index" {
        return GitFile::Own;
    }
    if s == "packed-refs" || s.starts_with("refs/") {
        return GitFile::Refs;
    }
    if let Some((n, f)) = s.strip_prefix("worktrees/").and_then(|r| r.split_once('/'))
        && (f == "HEAD" || f == "index")
    {
        return GitFile::Admin(n.to_string());
    }
    GitFile::Noise
}

/// Indexes of the targets the changed paths concern.
fn affected(targets: &[Target], paths: &[PathBuf]) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for p in paths {
        let Some((i, t)) = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| p.starts_with(&t.root))
            .max_by_key(|(_, t)| t.root.as_os_str().len())
        else {
            continue;
        };
        let Ok(rel) = p.strip_prefix(&t.root) else {
            continue;
        };
        let mut comps = rel.components();
        if comps.next().map(|c| c.as_os_str()) != Some(std::ffi::OsStr::new(".git")) {
            out.insert(i);
            continue;
        }
        match classify_git(comps.as_path()) {
            GitFile::Own => {
                out.insert(i);
            }
            GitFile::Admin(n) => out.extend(targets.iter().enumerate().filter_map(|(j, o)| {
                (o.project_id == t.project_id && o.admin.as_deref() == Some(n.as_str()))
                    .then_some(j)
            })),
            GitFile::Refs => out.extend(
                targets
                    .iter()
                    .enumerate()
                    .filter_map(|(j, o)| (o.project_id == t.project_id).then_some(j)),
            ),
            GitFile::Noise => {}
        }
    }
    out
}

/// Events that may change a worktree's answer (opening or reading a file does not:
/// git's own reads would otherwise wake the watcher).
fn relevant(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
    )
}

/// Errors that writing the same states again would meet again: the registry
/// refuses these values or these rows. Every other failure is waited out.
fn refused(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::Validation | ErrorKind::NotFound | ErrorKind::Conflict
    )
}

/// Writes the pending states one at a time: those written or refused leave
/// `pending`, those that failed otherwise stay for the next attempt.
async fn write_each<S: Store>(
    s: &S,
    env: &Env,
    targets: &[Target],
    pending: &mut HashMap<Uuid, GitState>,
) {
    let name = |id: &Uuid| {
        targets
            .iter()
            .find(|t| t.id == *id)
            .map_or_else(|| id.to_string(), |t| t.name.clone())
    };
    let ids: Vec<Uuid> = pending.keys().copied().collect();
    for id in ids {
        let Some(st) = pending.get(&id) else { continue };
        match s.update_git_state(id, st).await {
            Ok(_) => {
                env.observer().note(&format!("synced {}", name(&id)));
                pending.remove(&id);
            }
            Err(e) if refused(&e) => {
                env.observer().note(&format!(
                    "dropping the update of {}: the registry refuses it ({})",
                    name(&id),
                    e.message
                ));
                pending.remove(&id);
            }
            Err(_) => {}
        }
    }
}

/// Watches this host's active worktrees (in the projects asked for) until the
/// event source closes; what it writes, keeps or drops goes to the observer as
/// notes. Run it after a full sync: only changes are read.
pub async fn watch(env: &Env, args: &WatchArgs) -> Result<Watched> {
    with_store!(env.store().await?, s => watch_in(s, env, args.project.as_deref()).await)
}

async fn watch_in<S: Store>(s: &S, env: &Env, project: Option<&str>) -> Result<Watched> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && relevant(&ev.kind)
        {
            for p in ev.paths {
                let _ = tx.send(p);
            }
        }
    })
    .map_err(|e| {
        Error::internal(format!("cannot watch the file system: {e}")).with_hint(
            "on Linux, raise fs.inotify.max_user_watches; or run `imi sync` periodically",
        )
    })?;
    let mut targets = load(s, project).await?;
    let mut watched = HashSet::new();
    add_watches(&mut watcher, &targets, &mut watched);
    env.observer().note(&format!(
        "watching {} worktree(s); Ctrl-C to stop",
        watched.len()
    ));

    let mut pending: HashMap<Uuid, GitState> = HashMap::new();
    let mut backoff = DEBOUNCE;
    let mut last_refresh = Instant::now();
    loop {
        let wait = if pending.is_empty() { REFRESH } else { backoff };
        let mut paths = vec![];
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(p)) => paths.push(p),
            Ok(None) => break,
            Err(_) => {}
        }
        if !paths.is_empty() {
            let start = Instant::now();
            while start.elapsed() < MAX_DEBOUNCE {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(p)) => paths.push(p),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        if last_refresh.elapsed() >= REFRESH {
            last_refresh = Instant::now();
            if let Ok(t) = load(s, project).await {
                targets = t;
                add_watches(&mut watcher, &targets, &mut watched);
            }
        }
        let hit: Vec<usize> = affected(&targets, &paths).into_iter().collect();
        if !hit.is_empty() {
            let jobs: Vec<Job> = hit.iter().map(|&i| targets[i].job.clone()).collect();
            let reads = gitstate::read_all(&jobs, || {}).await?;
            for (&i, r) in hit.iter().zip(reads) {
                match r {
                    Read::State(st, _) => {
                        pending.insert(targets[i].id, st);
                    }
                    Read::Missing => {}
                    Read::Failed(e) => env
                        .observer()
                        .note(&format!("{}: {}", targets[i].name, e.message)),
                }
            }
        }
        if pending.is_empty() {
            continue;
        }
        let batch: Vec<(Uuid, GitState)> = pending.iter().map(|(k, v)| (*k, v.clone())).collect();
        match s.update_git_states(&batch).await {
            Ok(()) => {
                let names: Vec<&str> = targets
                    .iter()
                    .filter(|t| pending.contains_key(&t.id))
                    .map(|t| t.name.as_str())
                    .collect();
                env.observer().note(&format!("synced {}", names.join(", ")));
                pending.clear();
                backoff = DEBOUNCE;
            }
            Err(e) if e.kind == ErrorKind::Unavailable => {
                env.observer().note(&format!(
                    "registry unavailable ({}); keeping {} update(s), retrying in {} ms{}",
                    e.message,
                    pending.len(),
                    backoff.as_millis(),
                    e.hint.map(|h| format!("; {h}")).unwrap_or_default()
                ));
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) if refused(&e) => {
                // e.g. a worktree removed meanwhile: reload, keep what is still known
                env.observer().note(&format!(
                    "cannot write: {}; reloading the worktree list",
                    e.message
                ));
                match load(s, project).await {
                    Ok(t) => {
                        targets = t;
                        add_watches(&mut watcher, &targets, &mut watched);
                        let ids: HashSet<Uuid> = targets.iter().map(|t| t.id).collect();
                        let before = pending.len();
                        pending.retain(|id, _| ids.contains(id));
                        if pending.len() == before {
                            // the batch fails as a whole: write the states one by one
                            // and drop only those the registry refuses
                            write_each(s, env, &targets, &mut pending).await;
                        }
                    }
                    Err(_) => backoff = (backoff * 2).min(MAX_BACKOFF),
                }
            }
            Err(e) => {
                // Anything else may pass on (a registry fault worded as another kind):
                // the states are kept and written once writing works again.
                env.observer().note(&format!(
                    "cannot write ({}); keeping {} update(s), retrying in {} ms",
                    e.message,
                    pending.len(),
                    backoff.as_millis()
                ));
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    Ok(Watched { watching: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(project: Uuid, root: &str, admin: Option<&str>) -> Target {
        Target {
            id: Uuid::new_v4(),
            name: root.into(),
            project_id: project,
            job: Job {
                path: root.into(),
                is_trunk: admin.is_none(),
                trunk_ref: "main".into(),
            },
            root: PathBuf::from(root),
            admin: admin.map(str::to_string),
        }
    }

    #[test]
    fn events_map_to_the_worktrees_they_change() {
        let p = Uuid::new_v4();
        let q = Uuid::new_v4();
        let ts = vec![
            t(p, "/c/app/trunk-main", None),
            t(p, "/c/app/feat-a", Some("feat-a")),
            t(p, "/c/app/feat-ab", Some("feat-ab1")),
            t(q, "/c/other/trunk-main", None),
        ];
        let hit = |paths: &[&str]| -> Vec<usize> {
            affected(&ts, &paths.iter().map(PathBuf::from).collect::<Vec<_>>())
                .into_iter()
                .collect()
        };
        assert_eq!(hit(&["/c/app/feat-a/src/x.rs"]), vec![1]);
        assert_eq!(hit(&["/c/app/feat-ab/x"]), vec![2]);
        assert_eq!(
            hit(&["/c/app/trunk-main/.git/objects/ab/cdef"]),
            Vec::<usize>::new()
        );
        assert_eq!(
            hit(&["/c/app/trunk-main/.git/index.lock"]),
            Vec::<usize>::new()
        );
        assert_eq!(hit(&["/c/app/trunk-main/.git/index"]), vec![0]);
        assert_eq!(
            hit(&["/c/app/trunk-main/.git/worktrees/feat-ab1/HEAD"]),
            vec![2]
        );
        assert_eq!(
            hit(&["/c/app/trunk-main/.git/worktrees/feat-a/logs/HEAD"]),
            Vec::<usize>::new()
        );
        assert_eq!(
            hit(&["/c/app/trunk-main/.git/refs/remotes/origin/main"]),
            vec![0, 1, 2]
        );
        assert_eq!(hit(&["/elsewhere/x"]), Vec::<usize>::new());
    }
}
