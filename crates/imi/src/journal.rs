//! Intent records: before an operation changes both the disk and the registry in
//! several steps (add, remove, close, merge), it writes what it is about to do to
//! `<git common dir>/imi/ops/<id>.json`, and deletes the record once every step is
//! done (or undone). A record left behind by a process that is gone (killed,
//! crashed, power loss) is an interrupted operation: `imi doctor` names it and
//! `imi recover` completes or undoes it (see `ops/recover.rs`).
//!
//! An operation holds the repository lock ([`imi_git::Repo::lock`]) from before it
//! writes its record until after it deletes it, so a record found while the lock
//! is free belongs to a dead process.

use std::path::{Path, PathBuf};

use imi_core::{Error, Result};
use imi_git::Repo;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context;

/// The operation a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Add,
    Remove,
    Close,
    Merge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
            Op::Close => "close",
            Op::Merge => "merge",
        }
    }
}

/// What an interrupted operation had set out to do, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Intent {
    pub id: Uuid,
    pub op: Op,
    pub pid: u32,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub agent_id: String,
    pub project_id: Uuid,
    pub project_name: String,
    pub trunk_path: String,
    /// The worktree's directory name (`feat-login`) and type.
    pub worktree: String,
    pub type_name: String,
    pub worktree_id: Option<Uuid>,
    pub path: String,
    pub branch: String,
    /// add: this operation created `branch`.
    #[serde(default)]
    pub created_branch: bool,
    /// remove / close: `--force` was given; delete the merged branch afterwards.
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub delete_branch: bool,
    /// merge: trunk's commit before, the commit trunk moves to, the mode, `--push`.
    #[serde(default)]
    pub trunk_before: Option<String>,
    #[serde(default)]
    pub merge_commit: Option<String>,
    #[serde(default)]
    pub squash: bool,
    #[serde(default)]
    pub push: bool,
    /// A rescue ref made for commits that were on no branch.
    #[serde(default)]
    pub rescued: Option<String>,
}

impl Intent {
    /// A record for `op` on the worktree at `path`, by this process.
    #[allow(clippy::too_many_arguments)] // a record of plain fields
    pub fn new(
        op: Op,
        agent_id: &str,
        project: &imi_core::Project,
        worktree: &str,
        type_name: &str,
        worktree_id: Option<Uuid>,
        path: &str,
        branch: &str,
    ) -> Intent {
        Intent {
            id: Uuid::new_v4(),
            op,
            pid: std::process::id(),
            started_at: chrono::Utc::now(),
            agent_id: agent_id.to_string(),
            project_id: project.id,
            project_name: project.name.clone(),
            trunk_path: project.trunk_path.clone(),
            worktree: worktree.to_string(),
            type_name: type_name.to_string(),
            worktree_id,
            path: path.to_string(),
            branch: branch.to_string(),
            created_branch: false,
            force: false,
            delete_branch: false,
            trunk_before: None,
            merge_commit: None,
            squash: false,
            push: false,
            rescued: None,
        }
    }

    /// A record for `op` on a registered worktree.
    pub fn for_worktree(
        op: Op,
        agent_id: &str,
        project: &imi_core::Project,
        w: &imi_core::Worktree,
    ) -> Intent {
        Intent::new(
            op,
            agent_id,
            project,
            &w.name,
            &w.type_name,
            Some(w.id),
            &w.path,
            &w.branch_name,
        )
    }

    /// One line for people: `merge of feat-login in app (pid 4242, 2026-11-29 ...)`.
    pub fn describe(&self) -> String {
        format!(
            "{} of {} in {} (pid {}, started {})",
            self.op.as_str(),
            self.worktree,
            self.project_name,
            self.pid,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// The directory of a repository's records.
pub fn ops_dir(repo: &Repo) -> Result<PathBuf> {
    Ok(repo.common_dir()?.join("imi").join("ops"))
}

/// A record on disk; dropping it leaves the file (an operation that returns early
/// on purpose calls [`Journal::done`]).
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    pub intent: Intent,
}

impl Journal {
    /// Writes the record (durably: the file and its directory are synced).
    pub fn begin(repo: &Repo, intent: Intent) -> Result<Journal> {
        let path = ops_dir(repo)?.join(format!("{}.json", intent.id));
        let j = Journal { path, intent };
        j.save()?;
        Ok(j)
    }

    /// A record read back from disk, to be finished by `imi recover`.
    pub fn resume(path: PathBuf, intent: Intent) -> Journal {
        Journal { path, intent }
    }

    /// Rewrites the record after a step that later steps depend on.
    pub fn save(&self) -> Result<()> {
        context::write_json(&self.path, &self.intent)?;
        sync_dir(&self.path);
        Ok(())
    }

    /// Every step is done (or was undone): the record goes.
    pub fn done(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::internal(format!(
                "cannot remove the intent record {}: {e}",
                self.path.display()
            ))
            .with_hint("delete it yourself; the operation itself is complete")),
        }
    }
}

/// The file itself was synced by `atomic::write`; its new name lives in the directory.
fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// Deletes half-written temporary files of records (a process killed while
/// writing one). Only for a caller holding the repository lock: records are
/// written under it, so no temporary file there is anyone's.
pub fn clear_temporaries(repo: &Repo) -> Result<()> {
    let dir = ops_dir(repo)?;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// The records of a repository, oldest first; unreadable files are returned as
/// errors beside them so that nothing is silently skipped.
pub fn list(repo: &Repo) -> Result<Vec<(PathBuf, std::result::Result<Intent, String>)>> {
    let dir = ops_dir(repo)?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(Error::internal(format!(
                "cannot read {}: {e}",
                dir.display()
            )));
        }
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Intent>(&b).map_err(|e| e.to_string()));
        out.push((path, parsed));
    }
    out.sort_by_key(|(p, i)| {
        (
            i.as_ref().map(|i| i.started_at).ok(),
            p.clone(), // stable order for unreadable ones
        )
    });
    Ok(out)
}
