//! The live git state of worktrees, shared by `imi status`, `imi sync` and
//! `imi sync --watch` so that they compute exactly the same thing: uncommitted
//! files (as `git status --porcelain` counts them, untracked included),
//! ahead/behind against the trunk ref, last commit hash and subject. Worktrees are
//! read in parallel by a bounded pool of threads (each runs git processes), off
//! the async runtime's threads, and results are written through
//! `Store::update_git_states` in batches, each one transaction, retried when the
//! registry is briefly unreachable.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use imi_core::{Error, ErrorKind, GitState, Project, Result, Store, Worktree};
use imi_git::{CommitInfo, Repo, StatusSummary};
use uuid::Uuid;

/// One worktree to read.
#[derive(Debug, Clone)]
pub struct Job {
    pub path: String,
    /// The trunk is compared with its remote-tracking branch (ahead = not pushed,
    /// behind = not pulled); without one, ahead/behind are 0.
    pub is_trunk: bool,
    /// What ahead/behind are counted against (`origin/<default>` or `<default>`).
    pub trunk_ref: String,
}

impl Job {
    pub fn of(w: &Worktree, trunk_ref: &str) -> Job {
        Job {
            path: w.path.clone(),
            is_trunk: w.type_name == "trunk",
            trunk_ref: trunk_ref.to_string(),
        }
    }
}

/// What reading one worktree gave.
#[derive(Debug, Clone)]
pub enum Read {
    /// The state the registry keeps, and what only the live view shows.
    State(GitState, Box<Extra>),
    /// The directory is gone.
    Missing,
    Failed(Error),
}

/// What a read gives beyond the registry's [`GitState`]: uncommitted files by
/// kind, the upstream, and HEAD's commit (time and tree).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub summary: StatusSummary,
    pub head: Option<CommitInfo>,
}

/// Reads one worktree's state from git (three git processes); `None` when its
/// directory is gone.
pub fn read_state(
    path: &str,
    is_trunk: bool,
    trunk_ref: &str,
) -> Result<Option<(GitState, Extra)>> {
    if !Path::new(path).is_dir() {
        return Ok(None);
    }
    let repo = Repo::at(path);
    let summary = repo.status_summary()?;
    let (ahead, behind) = match (is_trunk, remote_tracking(trunk_ref)) {
        (false, _) => repo.ahead_behind("HEAD", trunk_ref)?,
        (true, Some(upstream)) => repo.ahead_behind("HEAD", upstream)?,
        (true, None) => (0, 0),
    };
    let head = repo.head_commit()?;
    let state = GitState {
        uncommitted_count: Some(i32::try_from(summary.total()).unwrap_or(i32::MAX)),
        ahead: Some(i32::try_from(ahead).unwrap_or(i32::MAX)),
        behind: Some(i32::try_from(behind).unwrap_or(i32::MAX)),
        last_commit_hash: head.as_ref().map(|c| c.hash.clone()),
        last_commit_message: head.as_ref().map(|c| c.subject.clone()),
    };
    Ok(Some((state, Extra { summary, head })))
}

pub fn read_job(j: &Job) -> Read {
    match read_state(&j.path, j.is_trunk, &j.trunk_ref) {
        Ok(Some((s, extra))) => Read::State(s, Box::new(extra)),
        Ok(None) => Read::Missing,
        Err(e) => Read::Failed(e),
    }
}

/// How many git processes run at once: max(4, 2 x cores). git spends much of its
/// time waiting on the file system, so a little more than one per core pays.
pub fn parallelism() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    (2 * cores).max(4)
}

/// `f` over `items` on a bounded pool of threads, results in input order;
/// `on_done` runs after each item (progress).
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
    on_done: impl Fn() + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let workers = parallelism().min(items.len()).max(1);
    let mut slots: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = vec![];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                        on_done();
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    slots.sort_by_key(|(i, _)| *i);
    slots.into_iter().map(|(_, r)| r).collect()
}

/// [`par_map`] for async code: the threads run on tokio's blocking pool, so the
/// runtime's own threads (a current-thread runtime has one) keep serving other
/// tasks while git runs; `on_done` runs here, as each item finishes.
pub async fn par_map_async<T, R>(
    items: Vec<T>,
    f: impl Fn(&T) -> R + Send + Sync + 'static,
    mut on_done: impl FnMut(),
) -> Result<Vec<R>>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let work = tokio::task::spawn_blocking(move || {
        par_map(&items, f, move || {
            let _ = tx.send(());
        })
    });
    // the channel closes when the work is done (its sender is dropped with it)
    while rx.recv().await.is_some() {
        on_done();
    }
    work.await
        .map_err(|e| Error::internal(format!("reading git state failed: {e}")))
}

/// Reads every job in parallel, off the runtime's threads.
pub async fn read_all(jobs: &[Job], on_done: impl FnMut()) -> Result<Vec<Read>> {
    par_map_async(jobs.to_vec(), read_job, on_done).await
}

/// `trunk_ref` when it is a remote-tracking branch (what a trunk is compared with).
pub fn remote_tracking(trunk_ref: &str) -> Option<&str> {
    trunk_ref.starts_with("origin/").then_some(trunk_ref)
}

/// The trunk ref of a project (from its trunk repository), or its default branch
/// when the trunk cannot be read.
pub fn project_trunk_ref(p: &Project) -> String {
    let remote = format!("refs/remotes/origin/{}", p.default_branch);
    match Repo::at(&p.trunk_path).ref_exists(&remote) {
        Ok(true) => format!("origin/{}", p.default_branch),
        _ => p.default_branch.clone(),
    }
}

/// Does the new state differ from what the registry holds?
pub fn changed(w: &Worktree, s: &GitState) -> bool {
    s.uncommitted_count != Some(w.uncommitted_files_count)
        || s.ahead != Some(w.ahead_of_trunk)
        || s.behind != Some(w.behind_trunk)
        || s.last_commit_hash != w.last_commit_hash
        || s.last_commit_message != w.last_commit_message
}

/// Applies a state to a row as the store will (for output without a re-read).
pub fn apply(w: &mut Worktree, s: &GitState) {
    if let Some(n) = s.uncommitted_count {
        w.uncommitted_files_count = n;
        w.has_uncommitted_changes = n > 0;
    }
    if let Some(n) = s.ahead {
        w.ahead_of_trunk = n;
    }
    if let Some(n) = s.behind {
        w.behind_trunk = n;
    }
    if s.last_commit_hash.is_some() {
        w.last_commit_hash = s.last_commit_hash.clone();
    }
    if s.last_commit_message.is_some() {
        w.last_commit_message = s.last_commit_message.clone();
    }
}

/// Rows per transaction (`IMI_SYNC_BATCH_SIZE`, hidden, for tests).
pub fn batch_size() -> usize {
    std::env::var("IMI_SYNC_BATCH_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(200)
}

/// Writes one batch (one transaction: all rows or none), retrying with backoff
/// while the registry is unreachable: about 3 s in all, then `REGISTRY_UNAVAILABLE`.
pub async fn write_batch<S: Store>(s: &S, batch: &[(Uuid, GitState)]) -> Result<()> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match s.update_git_states(batch).await {
            Ok(()) => return Ok(()),
            Err(e) if e.kind == ErrorKind::Unavailable && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes `updates` in batches. Returns how many rows were written before an
/// error.
pub async fn write_batches<S: Store>(
    s: &S,
    updates: &[(Uuid, GitState)],
) -> std::result::Result<(), (usize, Error)> {
    let mut written = 0;
    for (n, batch) in updates.chunks(batch_size()).enumerate() {
        write_batch(s, batch).await.map_err(|e| (written, e))?;
        written += batch.len();
        #[cfg(feature = "test-hooks")]
        test_hooks::after_batch(n + 1).await;
        #[cfg(not(feature = "test-hooks"))]
        let _ = n;
    }
    Ok(())
}

/// Compiled only into the binary the integration tests run (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
mod test_hooks {
    use std::time::Duration;

    /// `IMI_TEST_SYNC_PAUSE_DIR` (if set): creates `written-<n>` there and waits
    /// (up to a minute) for `resume-<n>`, so a test can break the registry between
    /// two batches.
    pub async fn after_batch(n: usize) {
        let Some(dir) = std::env::var_os("IMI_TEST_SYNC_PAUSE_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let _ = std::fs::write(dir.join(format!("written-{n}")), b"");
        let resume = dir.join(format!("resume-{n}"));
        for _ in 0..3000 {
            if resume.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order_and_counts() {
        let items: Vec<u32> = (0..100).collect();
        let done = AtomicUsize::new(0);
        let out = par_map(
            &items,
            |x| x * 2,
            || {
                done.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(done.load(Ordering::Relaxed), 100);
        assert!(par_map(&[] as &[u32], |x| *x, || {}).is_empty());
    }
}
