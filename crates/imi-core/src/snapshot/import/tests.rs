//! Properties of the import planner over generated registries: a target holds each
//! snapshot row not at all, the same, or with other values; the plan, its counts,
//! its conflicts and the type ids follow from that and the mode alone.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::sample::{Index, subsequence};

use super::*;
use crate::error::ErrorKind;

fn at(secs: u128) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs as i64, 123_456_000).unwrap()
}

fn project(n: u128, active: bool) -> Project {
    Project {
        id: Uuid::from_u128(n),
        name: format!("p{n}"),
        remote_origin: Some(format!("https://github.com/acme/p{n}.git")),
        origin_key: format!("github.com/acme/p{n}"),
        default_branch: "main".into(),
        trunk_path: format!("/src/p{n}"),
        description: None,
        metadata: Default::default(),
        created_at: at(n),
        updated_at: at(n + 1),
        active,
    }
}

fn wtype(name: &str, id: i32) -> WorktreeType {
    WorktreeType {
        id,
        name: name.into(),
        branch_prefix: format!("{name}/"),
        worktree_prefix: format!("{name}-"),
        description: None,
        is_builtin: false,
        color: None,
        icon: None,
        metadata: Default::default(),
        created_at: at(0),
    }
}

fn worktree(n: u128, project: Uuid, type_name: &str, active: bool) -> Worktree {
    Worktree {
        id: Uuid::from_u128(n),
        project_id: project,
        type_name: type_name.into(),
        name: format!("w{n}"),
        branch_name: format!("b{n}"),
        path: format!("/src/w{n}"),
        host: "h".into(),
        agent_id: None,
        has_uncommitted_changes: false,
        uncommitted_files_count: 0,
        ahead_of_trunk: 0,
        behind_trunk: 0,
        last_commit_hash: None,
        last_commit_message: None,
        last_sync_at: None,
        merged_at: None,
        merged_by: None,
        merge_commit_hash: None,
        metadata: Default::default(),
        created_at: at(n),
        updated_at: at(n),
        active,
    }
}

fn activity(n: u128, worktree_id: Option<Uuid>, project_id: Option<Uuid>) -> Activity {
    Activity {
        id: Uuid::from_u128(n),
        agent_id: "agent".into(),
        worktree_id,
        project_id,
        project_name: None,
        worktree_name: None,
        activity_type: "other".into(),
        file_path: None,
        description: None,
        metadata: Default::default(),
        created_at: at(n),
    }
}

const TYPE_NAMES: [&str; 5] = ["feat", "fix", "spike", "review", "chore"];

/// A registry whose references all point inside it.
fn registry() -> impl Strategy<Value = RegistrySnapshot> {
    (
        subsequence((1u128..=8).collect::<Vec<_>>(), 0..=8),
        prop::collection::vec(any::<bool>(), 8),
        subsequence(TYPE_NAMES.to_vec(), 1..=5),
        prop::collection::vec(1i32..8, 5),
        prop::collection::vec((any::<Index>(), any::<Index>(), any::<bool>()), 0..8),
        prop::collection::vec(
            (
                prop::option::of(any::<Index>()),
                prop::option::of(any::<Index>()),
            ),
            0..8,
        ),
    )
        .prop_map(|(pids, active, names, type_ids, wts, acts)| {
            let projects: Vec<Project> = pids
                .iter()
                .map(|&n| project(n, active[n as usize - 1]))
                .collect();
            let worktree_types: Vec<WorktreeType> = (names.iter().zip(type_ids))
                .map(|(n, id)| wtype(n, id))
                .collect();
            let worktrees: Vec<Worktree> = if projects.is_empty() {
                vec![]
            } else {
                (wts.iter().enumerate())
                    .map(|(i, (p, t, active))| {
                        let p = p.get(&projects).id;
                        worktree(100 + i as u128, p, &t.get(&worktree_types).name, *active)
                    })
                    .collect()
            };
            let activities = (acts.iter().enumerate())
                .map(|(i, (w, p))| {
                    let w = w.and_then(|w| (!worktrees.is_empty()).then(|| w.get(&worktrees).id));
                    let p = p.and_then(|p| (!projects.is_empty()).then(|| p.get(&projects).id));
                    activity(200 + i as u128, w, p)
                })
                .collect();
            RegistrySnapshot {
                projects,
                worktree_types,
                worktrees,
                activities,
                ..Default::default()
            }
        })
}

/// What the target holds of one snapshot row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    No,
    Same,
    Other,
}

fn held() -> impl Strategy<Value = Held> {
    prop_oneof![Just(Held::No), Just(Held::Same), Just(Held::Other)]
}

fn mode() -> impl Strategy<Value = ImportMode> {
    prop_oneof![
        Just(ImportMode::Strict),
        Just(ImportMode::Overwrite),
        Just(ImportMode::KeepExisting),
    ]
}

/// A target holding each snapshot row as `held` says (cycled over all rows); its
/// types have their own ids and creation times, which never count as a difference.
fn target(s: &RegistrySnapshot, held: &[Held], type_age: &[i64]) -> Existing {
    let mut h = held.iter().copied().cycle();
    fn keep<T: Clone>(rows: &[T], h: &mut impl Iterator<Item = Held>, f: fn(&mut T)) -> Vec<T> {
        let mut out = vec![];
        for r in rows {
            match h.next().unwrap() {
                Held::No => {}
                Held::Same => out.push(r.clone()),
                Held::Other => {
                    let mut r = r.clone();
                    f(&mut r);
                    out.push(r);
                }
            }
        }
        out
    }
    let mut worktree_types = keep(&s.worktree_types, &mut h, |t| {
        t.description = Some("theirs".into())
    });
    for (t, age) in worktree_types.iter_mut().zip(type_age.iter().cycle()) {
        t.id += 10;
        t.created_at += chrono::TimeDelta::seconds(*age);
    }
    Existing {
        worktree_types,
        projects: keep(&s.projects, &mut h, |p| {
            p.description = Some("theirs".into())
        }),
        worktrees: keep(&s.worktrees, &mut h, |w| w.ahead_of_trunk += 1),
        activities: keep(&s.activities, &mut h, |a| {
            a.description = Some("theirs".into())
        }),
    }
}

fn expected(held: Held, mode: ImportMode) -> RowAction {
    match (held, mode) {
        (Held::No, _) => RowAction::Insert,
        (Held::Same, _) => RowAction::Same,
        (Held::Other, ImportMode::Strict) => RowAction::Refuse(vec![]),
        (Held::Other, ImportMode::Overwrite) => RowAction::Replace,
        (Held::Other, ImportMode::KeepExisting) => RowAction::Keep,
    }
}

fn same_kind(a: &RowAction, b: &RowAction) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Every table's counts equal its plan.
fn counts_match<T>(t: &TablePlan<'_, T>, c: &TableCounts) {
    let n = |k: RowAction| t.rows.iter().filter(|(_, a)| same_kind(a, &k)).count() as u64;
    assert_eq!(c.read, t.rows.len() as u64);
    assert_eq!(c.inserted, t.inserts().len() as u64);
    assert_eq!(c.inserted, n(RowAction::Insert));
    assert_eq!(c.identical, n(RowAction::Same));
    assert_eq!(c.overwritten, t.replaces().len() as u64);
    assert_eq!(c.overwritten, n(RowAction::Replace));
    assert_eq!(c.kept, n(RowAction::Keep));
    assert_eq!(c.conflicting, n(RowAction::Refuse(vec![])));
    assert_eq!(
        c.inserted + c.identical + c.overwritten + c.kept + c.conflicting,
        c.read
    );
}

fn all_counts_match(p: &ImportPlan<'_>) {
    counts_match(&p.worktree_types, &p.report.worktree_types);
    counts_match(&p.projects, &p.report.projects);
    counts_match(&p.worktrees, &p.report.worktrees);
    counts_match(&p.activities, &p.report.activities);
    let r = &p.report;
    assert_eq!(
        p.inserted(),
        RowCounts {
            projects: r.projects.inserted,
            worktree_types: r.worktree_types.inserted,
            worktrees: r.worktrees.inserted,
            activities: r.activities.inserted,
        }
    );
}

/// Actions of every row of the plan, tables in order.
fn actions<'p>(p: &'p ImportPlan<'_>) -> Vec<&'p RowAction> {
    (p.worktree_types.rows.iter().map(|(_, a)| a))
        .chain(p.projects.rows.iter().map(|(_, a)| a))
        .chain(p.worktrees.rows.iter().map(|(_, a)| a))
        .chain(p.activities.rows.iter().map(|(_, a)| a))
        .collect()
}

/// New types keep their id when the target and the earlier rows leave it free; those
/// come before the renumbered ones; every new type is written once.
fn type_ids_are_sound(p: &ImportPlan<'_>, existing: &Existing) {
    let taken: HashSet<i32> = existing.worktree_types.iter().map(|t| t.id).collect();
    let inserts: Vec<(&WorktreeType, Option<i32>)> = (p.type_writes.iter())
        .filter_map(|w| match *w {
            TypeWrite::Insert { row, id } => Some((row, id)),
            _ => None,
        })
        .collect();
    assert_eq!(inserts.len(), p.worktree_types.inserts().len());
    let explicit: Vec<i32> = inserts.iter().filter_map(|(_, id)| *id).collect();
    let unique: HashSet<i32> = explicit.iter().copied().collect();
    assert_eq!(unique.len(), explicit.len(), "an id is given twice");
    assert!(
        unique.is_disjoint(&taken),
        "an id the target holds is given"
    );
    let first_renumbered = inserts.iter().position(|(_, id)| id.is_none());
    if let Some(i) = first_renumbered {
        assert!(inserts[i..].iter().all(|(_, id)| id.is_none()));
    }
    for (row, id) in &inserts {
        if let Some(id) = id {
            assert_eq!(*id, row.id, "a kept id is the snapshot's");
        } else {
            assert!(taken.contains(&row.id) || explicit.contains(&row.id));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn into_an_empty_registry_every_row_is_inserted(s in registry(), mode in mode()) {
        let existing = Existing::default();
        let p = ImportPlan::new(&s, mode, &existing).unwrap();
        prop_assert!(actions(&p).iter().all(|a| **a == RowAction::Insert));
        prop_assert!(p.report.conflicts.is_empty());
        prop_assert!(p.refuse_conflicts().is_ok());
        all_counts_match(&p);
        prop_assert_eq!(p.projects.inserts().len(), s.projects.len());
        prop_assert_eq!(p.worktrees.inserts().len(), s.worktrees.len());
        prop_assert_eq!(p.activities.inserts().len(), s.activities.len());
        prop_assert_eq!(p.type_writes.len(), s.worktree_types.len());
        type_ids_are_sound(&p, &existing);
        let c = p.clash_candidates();
        prop_assert_eq!(c.projects.len(), s.projects.iter().filter(|x| x.active).count());
        prop_assert_eq!(c.worktrees.len(), s.worktrees.iter().filter(|x| x.active).count());
    }

    #[test]
    fn a_snapshot_onto_itself_changes_nothing(s in registry(), mode in mode()) {
        let existing = Existing {
            projects: s.projects.clone(),
            worktree_types: s.worktree_types.clone(),
            worktrees: s.worktrees.clone(),
            activities: s.activities.clone(),
        };
        let p = ImportPlan::new(&s, mode, &existing).unwrap();
        prop_assert!(actions(&p).iter().all(|a| **a == RowAction::Same));
        prop_assert!(p.type_writes.is_empty());
        prop_assert!(p.report.conflicts.is_empty());
        prop_assert_eq!(p.inserted(), RowCounts::default());
        let c = p.clash_candidates();
        prop_assert!(c.projects.is_empty() && c.worktrees.is_empty());
        all_counts_match(&p);
    }

    /// Held differently: refused in strict mode (every such row listed), replaced
    /// only when told to overwrite, left alone when told to keep.
    #[test]
    fn actions_follow_the_target_and_the_mode(
        s in registry(),
        held in prop::collection::vec(held(), 1..40),
        type_age in prop::collection::vec(-5i64..5, 1..5),
        mode in mode(),
    ) {
        let existing = target(&s, &held, &type_age);
        let p = ImportPlan::new(&s, mode, &existing).unwrap();
        let acts = actions(&p);
        for (a, h) in acts.iter().zip(held.iter().cycle()) {
            prop_assert!(same_kind(a, &expected(*h, mode)), "{:?} held {:?} in {:?}", a, h, mode);
        }
        all_counts_match(&p);
        type_ids_are_sound(&p, &existing);

        let differing = acts.iter().zip(held.iter().cycle()).filter(|(_, h)| **h == Held::Other).count();
        let refused = p.refuse_conflicts();
        if mode == ImportMode::Strict && differing > 0 {
            prop_assert_eq!(p.report.conflicts.len(), differing);
            let e = refused.unwrap_err();
            prop_assert_eq!(e.kind, ErrorKind::Conflict);
            for c in &p.report.conflicts {
                prop_assert!(c.reason.contains("the target holds other values for"));
                prop_assert!(e.message.contains(&c.id));
            }
        } else {
            prop_assert!(p.report.conflicts.is_empty());
            prop_assert!(refused.is_ok());
        }
        let replaced = p.projects.replaces().len() + p.worktrees.replaces().len()
            + p.activities.replaces().len() + p.worktree_types.replaces().len();
        if mode == ImportMode::Overwrite {
            prop_assert_eq!(replaced, differing);
        } else {
            prop_assert_eq!(replaced, 0);
        }
        // a type held the same but created later in the target is backdated
        let backdated = p.type_writes.iter().filter(|w| matches!(w, TypeWrite::Backdate { .. })).count();
        let older = (p.worktree_types.rows.iter())
            .filter(|(t, a)| *a == RowAction::Same && existing.worktree_types.iter().any(|e| e.name == t.name && e.created_at > t.created_at))
            .count();
        prop_assert_eq!(backdated, older);
    }

    /// A uniqueness clash refuses a row the plan writes (a worktree once, for its
    /// name before its path); clashes of rows left alone are ignored; conflicts come
    /// table by table in the snapshot's order.
    #[test]
    fn clashes_refuse_only_rows_written(
        s in registry(),
        held in prop::collection::vec(held(), 1..40),
        mode in mode(),
        origin in prop::collection::vec(any::<bool>(), 8),
        name in prop::collection::vec(any::<bool>(), 8),
        path in prop::collection::vec(any::<bool>(), 8),
    ) {
        let existing = target(&s, &held, &[0]);
        let p = ImportPlan::new(&s, mode, &existing).unwrap();
        let refused = p.report.conflicts.len();
        let other = Uuid::from_u128(999);
        let pick = |ids: Vec<Uuid>, on: &[bool]| -> Vec<Clash> {
            (ids.into_iter().zip(on)).filter(|(_, on)| **on).map(|(id, _)| Clash { id, other }).collect()
        };
        let clashes = Clashes {
            origin_key: pick(s.projects.iter().map(|x| x.id).collect(), &origin),
            worktree_name: pick(s.worktrees.iter().map(|x| x.id).collect(), &name),
            worktree_path: pick(s.worktrees.iter().map(|x| x.id).collect(), &path),
        };
        let c = p.clash_candidates();
        let clashing = |v: &[Clash], id: Uuid| v.iter().any(|x| x.id == id);
        let expect_p = c.projects.iter().filter(|x| clashing(&clashes.origin_key, x.id)).count();
        let expect_w = (c.worktrees.iter())
            .filter(|x| clashing(&clashes.worktree_name, x.id) || clashing(&clashes.worktree_path, x.id))
            .count();
        let p = p.with_clashes(&clashes);
        let conflicts = &p.report.conflicts;
        prop_assert_eq!(conflicts.len(), refused + expect_p + expect_w);
        prop_assert_eq!(p.refuse_conflicts().is_err(), !conflicts.is_empty());
        for x in conflicts.iter().filter(|x| x.reason.contains("already")) {
            let id: Uuid = x.id.parse().unwrap();
            if x.table == "projects" {
                prop_assert!(c.projects.iter().any(|r| r.id == id));
            } else {
                prop_assert!(c.worktrees.iter().any(|r| r.id == id));
                prop_assert_eq!(x.reason.contains("named"), clashing(&clashes.worktree_name, id));
            }
        }
        // tables in order, rows in the snapshot's order
        let rank = |t: &str| ["worktree_types", "projects", "worktrees", "agent_activities"].iter().position(|x| *x == t).unwrap();
        let order: Vec<String> = (s.worktree_types.iter().map(|t| t.name.clone()))
            .chain(s.projects.iter().map(|x| x.id.to_string()))
            .chain(s.worktrees.iter().map(|x| x.id.to_string()))
            .chain(s.activities.iter().map(|x| x.id.to_string()))
            .collect();
        let pos: Vec<(usize, usize)> = conflicts.iter()
            .map(|x| (rank(&x.table), order.iter().position(|o| *o == x.id).unwrap()))
            .collect();
        prop_assert!(pos.windows(2).all(|w| w[0] <= w[1]), "{:?}", pos);
    }

    /// Rows the snapshot refers to but does not carry must be in the target.
    #[test]
    fn dangling_references_are_refused(
        s in registry(),
        drop_projects in any::<bool>(),
        drop_types in any::<bool>(),
        drop_worktrees in any::<bool>(),
        target_holds in any::<bool>(),
    ) {
        let mut doc = s.clone();
        let mut existing = Existing::default();
        let mut expect = None;
        if drop_worktrees && doc.activities.iter().any(|a| a.worktree_id.is_some()) {
            let w = std::mem::take(&mut doc.worktrees);
            if target_holds { existing.worktrees = w } else { expect = Some("worktrees") }
        }
        if drop_types && !doc.worktrees.is_empty() {
            let t = std::mem::take(&mut doc.worktree_types);
            if target_holds { existing.worktree_types = t } else { expect = Some("worktree types") }
        }
        let refers = !doc.worktrees.is_empty()
            || doc.activities.iter().any(|a| a.project_id.is_some());
        if drop_projects && refers {
            let p = std::mem::take(&mut doc.projects);
            if target_holds { existing.projects = p } else { expect = Some("projects") }
        }
        match (ImportPlan::new(&doc, ImportMode::Strict, &existing), expect) {
            (Ok(p), None) => {
                prop_assert!(p.report.conflicts.is_empty());
                all_counts_match(&p);
            }
            (Err(e), Some(what)) => {
                prop_assert_eq!(e.kind, ErrorKind::Validation);
                let said = format!("{what} that neither it nor the target registry holds");
                prop_assert!(e.message.contains(&said), "{}", e.message);
            }
            (r, expect) => {
                let r = r.map(|p| p.report);
                return Err(TestCaseError::fail(format!("{r:?}, but expected {expect:?}")));
            }
        }
    }

    /// The count check passes exactly when every table grew by what the plan
    /// inserts and the target wrote just that.
    #[test]
    fn verification_rejects_any_mismatch(
        before in prop::array::uniform4(0u64..1000),
        planned in prop::array::uniform4(0u64..1000),
        table in 0usize..4,
        skew in prop_oneof![Just(0i64), -3i64..=3],
        // 0: the target wrote other than planned, and the counts show it; 1: the
        // counts moved by other than what was written; 2: the target wrote other
        // than planned and says so, the counts agreeing
        wrong in 0u8..3,
    ) {
        let counts = |v: [u64; 4]| RowCounts { projects: v[0], worktree_types: v[1], worktrees: v[2], activities: v[3] };
        let mut applied = planned;
        let bump = |x: &mut u64| *x = x.saturating_add_signed(skew);
        if wrong != 1 { bump(&mut applied[table]) }
        let mut after: [u64; 4] = std::array::from_fn(|i| before[i] + applied[i]);
        if wrong == 0 { after[table] = before[table] + planned[table] }
        if wrong == 1 { bump(&mut after[table]) }
        let r = verify(counts(planned), counts(before), counts(applied), counts(after));
        let consistent = applied == planned && (0..4).all(|i| before[i] + applied[i] == after[i]);
        prop_assert_eq!(r.is_ok(), consistent);
        if let Err(e) = r {
            prop_assert_eq!(e.kind, ErrorKind::Internal);
            prop_assert!(e.message.starts_with("count check failed for "));
            prop_assert!(e.hint.is_some());
        }
    }
}

#[test]
fn a_renumbered_type_never_takes_an_id_given_later() {
    // The target holds ids 1 and 2; the snapshot's `a` has 2 (taken), `b` 3 (free).
    let s = RegistrySnapshot {
        worktree_types: vec![wtype("a", 2), wtype("b", 3)],
        ..Default::default()
    };
    let existing = Existing {
        worktree_types: vec![wtype("feat", 1), wtype("fix", 2)],
        ..Default::default()
    };
    let p = ImportPlan::new(&s, ImportMode::Strict, &existing).unwrap();
    let names: Vec<(&str, Option<i32>)> = (p.type_writes.iter())
        .map(|w| match w {
            TypeWrite::Insert { row, id } => (row.name.as_str(), *id),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, [("b", Some(3)), ("a", None)]);
}

#[test]
fn conflict_messages_name_the_row_and_the_rule() {
    let p1 = project(1, true);
    let w = worktree(100, p1.id, "feat", true);
    let s = RegistrySnapshot {
        projects: vec![p1.clone()],
        worktree_types: vec![wtype("feat", 1)],
        worktrees: vec![w.clone()],
        ..Default::default()
    };
    let mut theirs = p1.clone();
    theirs.name = "other".into();
    theirs.active = false;
    let existing = Existing {
        projects: vec![theirs],
        worktree_types: vec![wtype("feat", 1)],
        ..Default::default()
    };
    let other = Uuid::from_u128(7);
    let p = ImportPlan::new(&s, ImportMode::Strict, &existing)
        .unwrap()
        .with_clashes(&Clashes {
            worktree_path: vec![Clash { id: w.id, other }],
            ..Default::default()
        });
    let reasons: Vec<(&str, &str)> = (p.report.conflicts.iter())
        .map(|c| (c.table.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("projects", "the target holds other values for name, active"),
            (
                "worktrees",
                "active worktree 00000000-0000-0000-0000-000000000007 is already registered at h:/src/w100"
            ),
        ]
    );
    let e = p.refuse_conflicts().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.starts_with(
        "the target registry holds different rows for 2 id(s) of the source; nothing was written:"
    ));
    assert!(e.hint.unwrap().contains("--overwrite"));
}
