//! Snapshots through a backend's transaction ([`SnapshotTx`]): the one sequence of
//! steps of an export and of an import, so that a backend supplies only SQL: count
//! the tables, load rows (all, or by id), find the rows a snapshot row would clash
//! with under the uniqueness rules, write a plan, and end the transaction.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::import::{
    ClashCandidates, Clashes, Existing, ImportPlan, RowCounts, TypeWrite, external_refs, verify,
};
use super::{ImportMode, ImportOptions, ImportReport, RegistrySnapshot};
use crate::error::{Error, Result};
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

    // The writes of a plan, in the order [`import`] makes them: events muted, the
    // types, the projects, the worktrees, the activities, and one event.

    /// Stops the registry's own events for the rows written until
    /// [`SnapshotTx::imported`] (one event for the whole import instead of one per
    /// row).
    fn mute_events(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// Inserts type `row` with id `id` (`None`: the target numbers it); the rows
    /// inserted.
    fn insert_type(
        &mut self,
        id: Option<i32>,
        row: &WorktreeType,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Gives the target's type `id`, of the same name, the definition of `row`;
    /// it keeps the earlier of the two creation times.
    fn replace_type(
        &mut self,
        id: i32,
        row: &WorktreeType,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Sets the creation time of the target's type `id`.
    fn backdate_type(
        &mut self,
        id: i32,
        created_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// After the type writes: the target's type ids by name.
    fn type_ids(&mut self) -> impl Future<Output = Result<HashMap<String, i32>>> + Send;
    /// Inserts these projects (as many statements as the backend needs); the rows
    /// inserted.
    fn insert_projects(&mut self, rows: &[&Project]) -> impl Future<Output = Result<u64>> + Send;
    /// Overwrites the project of `row.id`, timestamps included.
    fn replace_project(&mut self, row: &Project) -> impl Future<Output = Result<()>> + Send;
    /// Inserts these worktrees, each with the target's id of its type; the rows
    /// inserted.
    fn insert_worktrees(
        &mut self,
        rows: &[(&Worktree, i32)],
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Overwrites the worktree of `row.id` (`type_id`: the target's id of its type),
    /// timestamps included.
    fn replace_worktree(
        &mut self,
        row: &Worktree,
        type_id: i32,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Inserts these activities; the rows inserted.
    fn insert_activities(&mut self, rows: &[&Activity])
    -> impl Future<Output = Result<u64>> + Send;
    /// Overwrites the activity of `row.id`.
    fn replace_activity(&mut self, row: &Activity) -> impl Future<Output = Result<()>> + Send;
    /// Turns the events back on and writes one `imi.registry.imported` event with
    /// the rows inserted (payload: `projects`, `worktree_types`, `worktrees`,
    /// `activities`; [`RowCounts`]'s params in this order).
    fn imported(&mut self, inserted: &RowCounts) -> impl Future<Output = Result<()>> + Send;
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
    let applied = apply(target, &plan).await?;
    let after = target.counts().await?;
    verify(plan.inserted(), before, applied, after)?;
    let mut report = plan.report;
    report.verified = true;
    Ok(report)
}

/// Writes the plan: [`ImportPlan::type_writes`] in order, then the inserts and
/// replacements of projects, worktrees and activities (worktrees name their type;
/// the target's id for the name is looked up here). Returns the rows inserted.
async fn apply<T: SnapshotTx>(target: &mut T, plan: &ImportPlan<'_>) -> Result<RowCounts> {
    let mut inserted = RowCounts::default();
    target.mute_events().await?;
    // types first: worktrees need their ids
    for write in &plan.type_writes {
        match *write {
            TypeWrite::Insert { row, id } => {
                inserted.worktree_types += target.insert_type(id, row).await?;
            }
            TypeWrite::Replace { row, id } => target.replace_type(id, row).await?,
            TypeWrite::Backdate { id, created_at } => {
                target.backdate_type(id, created_at).await?;
            }
        }
    }
    let type_ids = target.type_ids().await?;

    inserted.projects = target.insert_projects(&plan.projects.inserts()).await?;
    for p in plan.projects.replaces() {
        target.replace_project(p).await?;
    }

    let type_id = |name: &str| -> Result<i32> {
        type_ids.get(name).copied().ok_or_else(|| {
            Error::validation(format!("unknown worktree type {name:?}"))
                .with_hint("the document's types must include every type its worktrees use")
        })
    };
    let rows = plan
        .worktrees
        .inserts()
        .into_iter()
        .map(|w| Ok((w, type_id(&w.type_name)?)))
        .collect::<Result<Vec<_>>>()?;
    inserted.worktrees = target.insert_worktrees(&rows).await?;
    for w in plan.worktrees.replaces() {
        target.replace_worktree(w, type_id(&w.type_name)?).await?;
    }

    inserted.activities = target.insert_activities(&plan.activities.inserts()).await?;
    for a in plan.activities.replaces() {
        target.replace_activity(a).await?;
    }
    target.imported(&inserted).await?;
    Ok(inserted)
}
