//! Snapshots through a backend's transaction ([`SnapshotTx`]): the one sequence of
//! steps of an export and of an import, so that a backend supplies only SQL: count
//! the tables, load rows (all, or by id), find the rows a snapshot row would clash
//! with under the uniqueness rules, write a plan, and end the transaction.

use std::future::Future;

use uuid::Uuid;

use super::import::{
    ClashCandidates, Clashes, Existing, ImportPlan, RowCounts, external_refs, verify,
};
use super::{ImportMode, ImportOptions, ImportReport, RegistrySnapshot};
use crate::error::Result;
use crate::model::{Activity, Project, Worktree, WorktreeType};

/// `export_snapshot` for every backend: the four tables read in one transaction
/// (`begin`, a consistent view), rows in a stable order.
pub async fn export<T: SnapshotTx>(
    begin: impl Future<Output = Result<T>> + Send,
) -> Result<RegistrySnapshot> {
    let mut tx = begin.await?;
    let mut s = RegistrySnapshot {
        projects: tx.projects(None).await?,
        worktree_types: tx.worktree_types().await?,
        worktrees: tx.worktrees(None).await?,
        activities: tx.activities(None).await?,
        ..Default::default()
    };
    tx.finish(false).await?;
    s.sort();
    Ok(s)
}

/// A backend's transaction on a registry. For an import it is opened before
/// [`import`] calls anything and holds the registry's writers off until
/// [`SnapshotTx::finish`]; for an export it is a consistent read.
pub trait SnapshotTx: Send {
    /// The four `count(*)`s.
    fn counts(&mut self) -> impl Future<Output = Result<RowCounts>> + Send;
    /// The registry's projects with these ids (`None`: all of them).
    fn projects(
        &mut self,
        ids: Option<&[Uuid]>,
    ) -> impl Future<Output = Result<Vec<Project>>> + Send;
    /// Every worktree type.
    fn worktree_types(&mut self) -> impl Future<Output = Result<Vec<WorktreeType>>> + Send;
    /// The registry's worktrees with these ids (`None`: all of them).
    fn worktrees(
        &mut self,
        ids: Option<&[Uuid]>,
    ) -> impl Future<Output = Result<Vec<Worktree>>> + Send;
    /// The registry's activities with these ids (`None`: all of them).
    fn activities(
        &mut self,
        ids: Option<&[Uuid]>,
    ) -> impl Future<Output = Result<Vec<Activity>>> + Send;
    /// The target's active rows, other than the candidate itself, that each
    /// candidate would share a unique key with (see [`Clashes`]).
    fn clashes(
        &mut self,
        candidates: &ClashCandidates<'_>,
    ) -> impl Future<Output = Result<Clashes>> + Send;
    /// Writes the plan: [`ImportPlan::type_writes`] in order, then the inserts and
    /// replacements of projects, worktrees and activities (worktrees name their
    /// type; the target maps the name to its id). Returns the rows inserted.
    fn apply(&mut self, plan: &ImportPlan<'_>) -> impl Future<Output = Result<RowCounts>> + Send;
    /// Commits (`true`) or rolls back the transaction.
    fn finish(self, commit: bool) -> impl Future<Output = Result<()>> + Send;
}

/// `import_snapshot` for every backend: validates the document, opens the target's
/// transaction (`begin`), plans, refuses conflicts, writes, checks the counts, and
/// commits, or rolls back for a dry run or any failure.
pub async fn import<T: SnapshotTx>(
    input: &RegistrySnapshot,
    opts: ImportOptions,
    begin: impl Future<Output = Result<T>> + Send,
) -> Result<ImportReport> {
    input.validate()?;
    let (snap, truncated) = input.at_registry_precision();
    let mut target = begin.await?;
    match plan_and_write(&mut target, &snap, opts.mode).await {
        Ok(mut report) => {
            target.finish(!opts.dry_run).await?;
            report.dry_run = opts.dry_run;
            report.timestamps_truncated = truncated;
            Ok(report)
        }
        Err(e) => {
            // The import's error is the one to report; nothing was committed.
            let _ = target.finish(false).await;
            Err(e)
        }
    }
}

async fn plan_and_write<T: SnapshotTx>(
    target: &mut T,
    snap: &RegistrySnapshot,
    mode: ImportMode,
) -> Result<ImportReport> {
    let before = target.counts().await?;
    let ext = external_refs(snap);
    // An empty table holds none of the rows and clashes with none.
    let wanted = |held: u64, own: Vec<Uuid>, refs: &[Uuid]| -> Vec<Uuid> {
        if held == 0 {
            return vec![];
        }
        own.into_iter().chain(refs.iter().copied()).collect()
    };
    let ids = wanted(
        before.projects,
        snap.projects.iter().map(|p| p.id).collect(),
        &ext.projects,
    );
    let projects = target.projects(Some(&ids)).await?;
    let ids = wanted(
        before.worktrees,
        snap.worktrees.iter().map(|w| w.id).collect(),
        &ext.worktrees,
    );
    let worktrees = target.worktrees(Some(&ids)).await?;
    let ids = wanted(
        before.activities,
        snap.activities.iter().map(|a| a.id).collect(),
        &[],
    );
    let activities = target.activities(Some(&ids)).await?;
    let existing = Existing {
        worktree_types: target.worktree_types().await?,
        projects,
        worktrees,
        activities,
    };
    let plan = ImportPlan::new(snap, mode, &existing)?;
    let mut candidates = plan.clash_candidates();
    if before.projects == 0 {
        candidates.projects.clear();
    }
    if before.worktrees == 0 {
        candidates.worktrees.clear();
    }
    let clashes = target.clashes(&candidates).await?;
    let plan = plan.with_clashes(&clashes);
    plan.refuse_conflicts()?;
    let applied = target.apply(&plan).await?;
    let after = target.counts().await?;
    verify(plan.inserted(), before, applied, after)?;
    let mut report = plan.report;
    report.verified = true;
    Ok(report)
}
