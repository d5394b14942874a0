//! The rules of a snapshot import, once for every backend, without I/O: which rows
//! to insert, replace, keep or refuse and why ([`ImportPlan`]), the errors for
//! conflicts and dangling references, and the count check after the write
//! ([`verify`]). [`super::backend`] runs them against a backend's transaction.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::diff::{activity_diff, project_diff, type_diff, worktree_diff};
use super::{ImportMode, ImportReport, RegistrySnapshot, RowConflict, TableCounts};
use crate::columns::{Params, ToParams};
use crate::error::{Error, Result};
use crate::model::{Activity, Project, Worktree, WorktreeType};

/// Rows per table: held by a registry, or written by an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCounts {
    pub projects: u64,
    pub worktree_types: u64,
    pub worktrees: u64,
    pub activities: u64,
}

impl RowCounts {
    /// From the four `count(*)` values, in this order (never negative).
    pub fn of_counts([projects, worktree_types, worktrees, activities]: [i64; 4]) -> RowCounts {
        let n = |x: i64| x.unsigned_abs();
        RowCounts {
            projects: n(projects),
            worktree_types: n(worktree_types),
            worktrees: n(worktrees),
            activities: n(activities),
        }
    }

    fn by_table(self) -> [(&'static str, u64); 4] {
        [
            ("projects", self.projects),
            ("worktree_types", self.worktree_types),
            ("worktrees", self.worktrees),
            ("agent_activities", self.activities),
        ]
    }
}

impl ToParams for RowCounts {
    /// The four counts in this order (the payload of `imi.registry.imported`).
    fn to_params<'a, P: Params<'a>>(&'a self, p: P) -> P {
        p.count(self.projects as i64)
            .count(self.worktree_types as i64)
            .count(self.worktrees as i64)
            .count(self.activities as i64)
    }
}

/// What the target holds of the rows an import touches: the rows whose ids the
/// snapshot defines or refers to, and every worktree type (types match by name).
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub projects: Vec<Project>,
    pub worktree_types: Vec<WorktreeType>,
    pub worktrees: Vec<Worktree>,
    pub activities: Vec<Activity>,
}

/// A snapshot row (`id`) and the target's active row (`other`) that would break a
/// uniqueness rule together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clash {
    pub id: Uuid,
    pub other: Uuid,
}

/// What the target found for [`ClashCandidates`]; rows that are not candidates are
/// ignored.
#[derive(Debug, Clone, Default)]
pub struct Clashes {
    /// Another active project with the row's origin key.
    pub origin_key: Vec<Clash>,
    /// Another active worktree with the row's project, host and name.
    pub worktree_name: Vec<Clash>,
    /// Another active worktree at the row's host and path.
    pub worktree_path: Vec<Clash>,
}

/// The rows whose uniqueness the target must check: active rows the plan writes.
#[derive(Debug, Clone, Default)]
pub struct ClashCandidates<'a> {
    pub projects: Vec<&'a Project>,
    pub worktrees: Vec<&'a Worktree>,
}

/// What to do with one snapshot row, compared with the target's row of that id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// The target does not hold it.
    Insert,
    /// The target holds it with the same values.
    Same,
    /// Held with other values, replaced ([`ImportMode::Overwrite`]).
    Replace,
    /// Held with other values, left alone ([`ImportMode::KeepExisting`]).
    Keep,
    /// Held with other values (these fields), refused ([`ImportMode::Strict`]).
    Refuse(Vec<&'static str>),
}

impl RowAction {
    fn writes(&self) -> bool {
        matches!(self, RowAction::Insert | RowAction::Replace)
    }
}

/// One table's snapshot rows, in the snapshot's order, with what to do with each.
#[derive(Debug, Clone)]
pub struct TablePlan<'a, T> {
    pub rows: Vec<(&'a T, RowAction)>,
}

impl<'a, T> TablePlan<'a, T> {
    fn with(&self, action: &RowAction) -> Vec<&'a T> {
        self.rows
            .iter()
            .filter(|(_, a)| a == action)
            .map(|(r, _)| *r)
            .collect()
    }

    /// Rows to insert, with their own ids and timestamps.
    pub fn inserts(&self) -> Vec<&'a T> {
        self.with(&RowAction::Insert)
    }

    /// Rows whose values replace the target's row of the same id, timestamps
    /// included.
    pub fn replaces(&self) -> Vec<&'a T> {
        self.with(&RowAction::Replace)
    }
}

/// A write to `worktree_types`. A type's id is local to each registry: a new type
/// keeps the snapshot's id when the target has it free.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeWrite<'a> {
    /// A new type. `id`: the snapshot's, free in the target; `None`: the target
    /// numbers it. Inserts with an id come before those without, so that the
    /// target's numbering (moved past the ids written) never meets one.
    Insert {
        row: &'a WorktreeType,
        id: Option<i32>,
    },
    /// The target's type `id` takes the row's definition; its creation time becomes
    /// the earlier of the two.
    Replace { row: &'a WorktreeType, id: i32 },
    /// The same definition, older in the snapshot: the target's type `id` has
    /// existed since `created_at`.
    Backdate { id: i32, created_at: DateTime<Utc> },
}

/// What an import writes, and its report. Built from the snapshot, the mode and
/// the target's rows alone (no I/O), so it is the same on every backend.
#[derive(Debug, Clone)]
pub struct ImportPlan<'a> {
    pub worktree_types: TablePlan<'a, WorktreeType>,
    /// The writes to `worktree_types`, in the order to make them.
    pub type_writes: Vec<TypeWrite<'a>>,
    pub projects: TablePlan<'a, Project>,
    pub worktrees: TablePlan<'a, Worktree>,
    pub activities: TablePlan<'a, Activity>,
    /// Counts (`inserted`: what the plan inserts) and conflicts. `verified`,
    /// `dry_run` and `timestamps_truncated` are the caller's to set.
    pub report: ImportReport,
}

impl<'a> ImportPlan<'a> {
    /// Plans `snap` (at registry precision, validated) onto a target holding
    /// `existing`. Fails when the snapshot refers to rows neither it nor the target
    /// holds. Conflicts are listed in `report.conflicts`, not returned: see
    /// [`ImportPlan::with_clashes`] and [`ImportPlan::refuse_conflicts`].
    pub fn new(
        snap: &'a RegistrySnapshot,
        mode: ImportMode,
        existing: &Existing,
    ) -> Result<ImportPlan<'a>> {
        check_refs(snap, existing)?;
        let mut report = ImportReport::default();
        let types = plan_rows(
            &snap.worktree_types,
            &existing.worktree_types,
            |t| t.name.clone(),
            type_diff,
            mode,
            &mut report.worktree_types,
        );
        let type_writes = type_writes(&types, &existing.worktree_types);
        let plan = ImportPlan {
            worktree_types: strip(types),
            type_writes,
            projects: table(
                &snap.projects,
                &existing.projects,
                |p| p.id,
                project_diff,
                mode,
                &mut report.projects,
            ),
            worktrees: table(
                &snap.worktrees,
                &existing.worktrees,
                |w| w.id,
                worktree_diff,
                mode,
                &mut report.worktrees,
            ),
            activities: table(
                &snap.activities,
                &existing.activities,
                |a| a.id,
                activity_diff,
                mode,
                &mut report.activities,
            ),
            report,
        };
        Ok(plan.with_clashes(&Clashes::default()))
    }

    /// The rows the target must check for [`Clashes`].
    pub fn clash_candidates(&self) -> ClashCandidates<'a> {
        ClashCandidates {
            projects: (self.projects.rows.iter())
                .filter(|(p, a)| p.active && a.writes())
                .map(|(p, _)| *p)
                .collect(),
            worktrees: (self.worktrees.rows.iter())
                .filter(|(w, a)| w.active && a.writes())
                .map(|(w, _)| *w)
                .collect(),
        }
    }

    /// The plan with `report.conflicts` listing the rows held differently and the
    /// candidates that clash, table by table in the snapshot's order. A worktree
    /// that clashes by name is not reported again for its path.
    pub fn with_clashes(mut self, clashes: &Clashes) -> ImportPlan<'a> {
        let by_row =
            |v: &[Clash]| -> HashMap<Uuid, Uuid> { v.iter().map(|c| (c.id, c.other)).collect() };
        let (origin, name, path) = (
            by_row(&clashes.origin_key),
            by_row(&clashes.worktree_name),
            by_row(&clashes.worktree_path),
        );
        let mut out = vec![];
        for (t, a) in &self.worktree_types.rows {
            refused(&mut out, "worktree_types", &t.name, a);
        }
        for (p, a) in &self.projects.rows {
            refused(&mut out, "projects", p.id, a);
            if let Some(o) = origin.get(&p.id).filter(|_| p.active && a.writes()) {
                let why = format!(
                    "{} is already registered as active project {o}",
                    p.origin_key
                );
                out.push(conflict("projects", p.id, why));
            }
        }
        for (w, a) in &self.worktrees.rows {
            refused(&mut out, "worktrees", w.id, a);
            if !(w.active && a.writes()) {
                continue;
            }
            let why = if let Some(o) = name.get(&w.id) {
                format!(
                    "project {} already has active worktree {o} named {:?} on {}",
                    w.project_id, w.name, w.host
                )
            } else if let Some(o) = path.get(&w.id) {
                format!(
                    "active worktree {o} is already registered at {}:{}",
                    w.host, w.path
                )
            } else {
                continue;
            };
            out.push(conflict("worktrees", w.id, why));
        }
        for (x, a) in &self.activities.rows {
            refused(&mut out, "agent_activities", x.id, a);
        }
        self.report.conflicts = out;
        self
    }

    /// The error that refuses the import when it has conflicts.
    pub fn refuse_conflicts(&self) -> Result<()> {
        if self.report.conflicts.is_empty() {
            Ok(())
        } else {
            Err(conflicts_error(&self.report.conflicts))
        }
    }

    /// Rows the plan inserts, per table.
    pub fn inserted(&self) -> RowCounts {
        let r = &self.report;
        RowCounts {
            projects: r.projects.inserted,
            worktree_types: r.worktree_types.inserted,
            worktrees: r.worktrees.inserted,
            activities: r.activities.inserted,
        }
    }
}

fn refused(out: &mut Vec<RowConflict>, table: &str, id: impl ToString, a: &RowAction) {
    if let RowAction::Refuse(fields) = a {
        out.push(conflict(table, id, differs_reason(fields)));
    }
}

fn conflict(table: &str, id: impl ToString, reason: String) -> RowConflict {
    RowConflict {
        table: table.to_string(),
        id: id.to_string(),
        reason,
    }
}

/// Each snapshot row with its action and the target's row of the same key,
/// counted into `counts`.
fn plan_rows<'a, 'e, T, K: Hash + Eq>(
    rows: &'a [T],
    existing: &'e [T],
    key: fn(&T) -> K,
    diff: fn(&T, &T) -> Vec<&'static str>,
    mode: ImportMode,
    counts: &mut TableCounts,
) -> Vec<(&'a T, RowAction, Option<&'e T>)> {
    let by_key: HashMap<K, &T> = existing.iter().map(|e| (key(e), e)).collect();
    rows.iter()
        .map(|r| {
            let e = by_key.get(&key(r)).copied();
            (r, decide(mode, e.map(|e| diff(r, e)), counts), e)
        })
        .collect()
}

fn table<'a, T, K: Hash + Eq>(
    rows: &'a [T],
    existing: &[T],
    key: fn(&T) -> K,
    diff: fn(&T, &T) -> Vec<&'static str>,
    mode: ImportMode,
    counts: &mut TableCounts,
) -> TablePlan<'a, T> {
    strip(plan_rows(rows, existing, key, diff, mode, counts))
}

fn strip<'a, T>(rows: Vec<(&'a T, RowAction, Option<&T>)>) -> TablePlan<'a, T> {
    TablePlan {
        rows: rows.into_iter().map(|(r, a, _)| (r, a)).collect(),
    }
}

/// The action for one row (`diff`: `None` when the target does not hold it, else
/// the fields that differ), counted.
fn decide(mode: ImportMode, diff: Option<Vec<&'static str>>, c: &mut TableCounts) -> RowAction {
    let action = match diff {
        None => RowAction::Insert,
        Some(d) if d.is_empty() => RowAction::Same,
        Some(d) => match mode {
            ImportMode::Strict => RowAction::Refuse(d),
            ImportMode::Overwrite => RowAction::Replace,
            ImportMode::KeepExisting => RowAction::Keep,
        },
    };
    c.read += 1;
    *match action {
        RowAction::Insert => &mut c.inserted,
        RowAction::Same => &mut c.identical,
        RowAction::Replace => &mut c.overwritten,
        RowAction::Keep => &mut c.kept,
        RowAction::Refuse(_) => &mut c.conflicting,
    } += 1;
    action
}

fn type_writes<'a>(
    planned: &[(&'a WorktreeType, RowAction, Option<&WorktreeType>)],
    existing: &[WorktreeType],
) -> Vec<TypeWrite<'a>> {
    let mut taken: HashSet<i32> = existing.iter().map(|t| t.id).collect();
    let (mut updates, mut keep_id, mut renumber) = (vec![], vec![], vec![]);
    for (row, action, e) in planned {
        match (action, e) {
            (RowAction::Insert, _) if taken.insert(row.id) => keep_id.push(TypeWrite::Insert {
                row,
                id: Some(row.id),
            }),
            (RowAction::Insert, _) => renumber.push(TypeWrite::Insert { row, id: None }),
            (RowAction::Replace, Some(e)) => updates.push(TypeWrite::Replace { row, id: e.id }),
            (RowAction::Same, Some(e)) if row.created_at < e.created_at => {
                updates.push(TypeWrite::Backdate {
                    id: e.id,
                    created_at: row.created_at,
                })
            }
            _ => {}
        }
    }
    updates.extend(keep_id);
    updates.extend(renumber);
    updates
}

/// References to rows the snapshot does not carry must be in the target.
fn check_refs(snap: &RegistrySnapshot, existing: &Existing) -> Result<()> {
    let ext = external_refs(snap);
    fn missing<'x, K: Hash + Eq + ToString + 'x>(
        wanted: &'x [K],
        held: impl Iterator<Item = &'x K>,
    ) -> Vec<String> {
        let held: HashSet<&K> = held.collect();
        (wanted.iter())
            .filter(|k| !held.contains(k))
            .map(K::to_string)
            .collect()
    }
    for (what, missing) in [
        (
            "projects",
            missing(&ext.projects, existing.projects.iter().map(|p| &p.id)),
        ),
        (
            "worktrees",
            missing(&ext.worktrees, existing.worktrees.iter().map(|w| &w.id)),
        ),
        (
            "worktree types",
            missing(&ext.types, existing.worktree_types.iter().map(|t| &t.name)),
        ),
    ] {
        if !missing.is_empty() {
            return Err(missing_refs_error(what, &missing));
        }
    }
    Ok(())
}

/// Row counts after the write equal the counts before plus what the plan inserts,
/// and the target wrote exactly that (`applied`), table by table.
pub fn verify(
    planned: RowCounts,
    before: RowCounts,
    applied: RowCounts,
    after: RowCounts,
) -> Result<()> {
    let hint = "another process may be writing the registry; run the import again";
    let tables = (planned.by_table().into_iter())
        .zip(before.by_table())
        .zip(applied.by_table())
        .zip(after.by_table());
    for ((((table, planned), (_, before)), (_, applied)), (_, after)) in tables {
        if applied != planned {
            return Err(Error::internal(format!(
                "count check failed for {table}: {planned} rows to insert, but {applied} inserted; nothing was written"
            ))
            .with_hint(hint));
        }
        if before.checked_add(applied) != Some(after) {
            return Err(Error::internal(format!(
                "count check failed for {table}: {before} before + {applied} inserted, but {after} after; nothing was written"
            ))
            .with_hint(hint));
        }
    }
    Ok(())
}

fn differs_reason(fields: &[&str]) -> String {
    format!("the target holds other values for {}", fields.join(", "))
}

/// Ids referenced by the snapshot's rows but not defined in it: the target must
/// hold them.
pub(super) struct ExternalRefs {
    pub(super) projects: Vec<Uuid>,
    pub(super) worktrees: Vec<Uuid>,
    pub(super) types: Vec<String>,
}

pub(super) fn external_refs(s: &RegistrySnapshot) -> ExternalRefs {
    let projects: HashSet<Uuid> = s.projects.iter().map(|p| p.id).collect();
    let worktrees: HashSet<Uuid> = s.worktrees.iter().map(|w| w.id).collect();
    let types: HashSet<&str> = s.worktree_types.iter().map(|t| t.name.as_str()).collect();
    let mut ext_p: HashSet<Uuid> = HashSet::new();
    let mut ext_w: HashSet<Uuid> = HashSet::new();
    let mut ext_t: HashSet<String> = HashSet::new();
    for w in &s.worktrees {
        if !projects.contains(&w.project_id) {
            ext_p.insert(w.project_id);
        }
        if !types.contains(w.type_name.as_str()) {
            ext_t.insert(w.type_name.clone());
        }
    }
    for a in &s.activities {
        if let Some(p) = a.project_id.filter(|p| !projects.contains(p)) {
            ext_p.insert(p);
        }
        if let Some(w) = a.worktree_id.filter(|w| !worktrees.contains(w)) {
            ext_w.insert(w);
        }
    }
    let mut r = ExternalRefs {
        projects: ext_p.into_iter().collect(),
        worktrees: ext_w.into_iter().collect(),
        types: ext_t.into_iter().collect(),
    };
    r.projects.sort();
    r.worktrees.sort();
    r.types.sort();
    r
}

/// The error for references the target does not hold either.
fn missing_refs_error(what: &str, missing: &[String]) -> Error {
    let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
    Error::validation(format!(
        "the document refers to {} {what} that neither it nor the target registry holds: {}{}",
        missing.len(),
        shown.join(", "),
        if missing.len() > shown.len() {
            ", ..."
        } else {
            ""
        }
    ))
    .with_hint("export the whole registry (imi db export) and import that; nothing was written")
}

/// The error that refuses an import with conflicts, listing them.
fn conflicts_error(conflicts: &[RowConflict]) -> Error {
    const SHOWN: usize = 50;
    let mut msg = format!(
        "the target registry holds different rows for {} id(s) of the source; nothing was written:",
        conflicts.len()
    );
    for c in conflicts.iter().take(SHOWN) {
        msg.push_str(&format!("\n  {} {}: {}", c.table, c.id, c.reason));
    }
    if conflicts.len() > SHOWN {
        msg.push_str(&format!("\n  ... and {} more", conflicts.len() - SHOWN));
    }
    Error::conflict(msg).with_hint(
        "compare the two registries; run again with --overwrite to replace the target's rows with the source's",
    )
}

#[cfg(test)]
mod tests;
