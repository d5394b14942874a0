//! imi's repository lock: one `flock` on `<common dir>/imi.lock`, shared by every
//! imi process working on the repository (every worktree of it maps to the same
//! file). Every step that changes the repository's shared state (merge, commit
//! into trunk, worktree add/remove, branch delete, fetch, push) runs under it,
//! together with the checks that decide it: git's own lock files make concurrent
//! steps fail rather than wait, and a merge must never see another process's
//! half-done one. The kernel drops an `flock` when its process dies, so a killed
//! imi never leaves it held.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{GitError, Repo, Result};

/// The exclusive lock on a repository. Released on drop.
#[derive(Debug)]
pub struct RepoLock {
    file: File,
    path: PathBuf,
}

impl RepoLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The longest pause between two attempts of [`Repo::lock`]: short next to the
/// steps the lock guards (a git process or more each).
const MAX_PAUSE: Duration = Duration::from_millis(20);

impl Repo {
    fn lock_file(&self) -> Result<(File, PathBuf)> {
        let path = self.common_dir()?.join("imi.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| GitError::LockFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok((file, path))
    }

    /// Waits for and takes the repository's lock without blocking the thread
    /// (an async runtime may have only this one): it tries, and sleeps between
    /// tries. Dropping the future while it waits takes nothing.
    pub async fn lock(&self) -> Result<RepoLock> {
        let (file, path) = self.lock_file()?;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RepoLock { file, path }),
                Err(TryLockError::WouldBlock) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(TryLockError::Error(e)) => {
                    return Err(GitError::LockFile {
                        path,
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// Waits for and takes the repository's lock, blocking the calling thread:
    /// for code that is not async (never call it from async code).
    pub fn blocking_lock(&self) -> Result<RepoLock> {
        let (file, path) = self.lock_file()?;
        match file.lock() {
            Ok(()) => Ok(RepoLock { file, path }),
            Err(e) => Err(GitError::LockFile {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// The lock when nobody holds it, `None` when another process does.
    pub fn try_lock(&self) -> Result<Option<RepoLock>> {
        let (file, path) = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RepoLock { file, path })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(GitError::LockFile {
                path,
                reason: e.to_string(),
            }),
        }
    }
}
