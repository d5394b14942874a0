//! `imi sync [-p P] [--register [--type T]] [--watch]`: reads every active worktree
//! of this host from git (in parallel) and writes its in-flight state to the
//! registry in batched transactions. A directory that is gone is reported and left
//! registered (`imi prune` forgets it); a worktree git reading fails on is reported
//! and not written. git worktrees the registry does not know are listed, and
//! registered with `--register`.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::Path;

use imi_core::{
    Error, GitState, NewActivity, NewWorktree, Project, Result, Store, Worktree, WorktreeFilter,
    naming,
};
use imi_git::{Repo, WorktreeEntry};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Ctx;
use crate::cli::SyncArgs;
use crate::context::{self, WorktreeFile};
use crate::gitstate::{self, Job, Read};
use crate::ops::common;
use crate::registry::with_store;
use crate::table;
use crate::ui::Output;

pub async fn cmd_sync(ctx: &Ctx<'_>, args: &SyncArgs) -> Result<Output> {
    let store = ctx.store().await?;
    if args.watch {
        return with_store!(&store, s => super::watch::watch(s, ctx, args).await);
    }
    with_store!(&store, s => sync(s, ctx, args).await)
}

/// The active worktrees of this host in the given projects, each with its job.
pub async fn targets<S: Store>(s: &S, projects: &[Project]) -> Result<Vec<(Worktree, Job)>> {
    let filter = WorktreeFilter {
        host: Some(s.host().to_string()),
        ..Default::default()
    };
    let all = s.list_worktrees(&filter).await?;
    let refs: Vec<String> = tokio::task::block_in_place(|| {
        gitstate::par_map(projects, gitstate::project_trunk_ref, || {})
    });
    let by_project: HashMap<Uuid, &str> = projects
        .iter()
        .zip(&refs)
        .map(|(p, r)| (p.id, r.as_str()))
        .collect();
    Ok(all
        .into_iter()
        .filter_map(|w| {
            let r = by_project.get(&w.project_id)?;
            let job = Job::of(&w, r);
            Some((w, job))
        })
        .collect())
}

fn norm(p: &str) -> String {
    let t = p.trim_end_matches('/');
    std::fs::canonicalize(t)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| t.to_string())
}

/// git worktrees (of the projects' trunks) that no active registry row of this
/// host points at: `(project, entry)`.
pub fn unknown_worktrees<'a>(
    projects: &'a [Project],
    known: &[Worktree],
) -> Vec<(&'a Project, WorktreeEntry)> {
    let known: HashSet<String> = known.iter().map(|w| norm(&w.path)).collect();
    let present: Vec<&Project> = projects
        .iter()
        .filter(|p| Path::new(&p.trunk_path).is_dir())
        .collect();
    let lists = tokio::task::block_in_place(|| {
        gitstate::par_map(
            &present,
            |p| Repo::at(&p.trunk_path).worktree_list().unwrap_or_default(),
            || {},
        )
    });
    let mut out = vec![];
    for (p, list) in present.into_iter().zip(lists) {
        for e in list {
            if e.bare || e.prunable || known.contains(&norm(&e.path.to_string_lossy())) {
                continue;
            }
            out.push((p, e));
        }
    }
    out
}

/// The type whose worktree prefix starts `name` (the longest such prefix).
pub fn type_from_name(types: &[imi_core::WorktreeType], name: &str) -> Option<String> {
    types
        .iter()
        .filter(|t| t.name != "trunk")
        .filter(|t| name.len() > t.worktree_prefix.len() && name.starts_with(&t.worktree_prefix))
        .max_by_key(|t| t.worktree_prefix.len())
        .map(|t| t.name.clone())
}

fn ask_type(types: &[imi_core::WorktreeType], path: &Path) -> Option<String> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return None;
    }
    let names: Vec<&str> = types
        .iter()
        .filter(|t| t.name != "trunk")
        .map(|t| t.name.as_str())
        .collect();
    dialoguer::Select::new()
        .with_prompt(format!("Type of {}", path.display()))
        .items(&names)
        .default(0)
        .interact_on_opt(&dialoguer::console::Term::stderr())
        .ok()
        .flatten()
        .and_then(|i| names.get(i).map(|n| n.to_string()))
}

struct Registration {
    registered: Vec<Worktree>,
    unregistered: Vec<Value>,
    failed: Vec<Value>,
}

async fn register_unknown<S: Store>(
    s: &S,
    ctx: &Ctx<'_>,
    args: &SyncArgs,
    projects: &[Project],
    known: &[Worktree],
) -> Result<Registration> {
    let mut r = Registration {
        registered: vec![],
        unregistered: vec![],
        failed: vec![],
    };
    let unknown = unknown_worktrees(projects, known);
    if unknown.is_empty() {
        return Ok(r);
    }
    let types = s.list_types().await?;
    if let Some(t) = &args.type_name
        && !types.iter().any(|x| &x.name == t)
    {
        return Err(Error::validation(format!("unknown worktree type {t:?}"))
            .with_hint("see `imi types list`"));
    }
    for (p, e) in unknown {
        let path = e.path.to_string_lossy().into_owned();
        let name = e
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let branch = e.branch.clone().or_else(|| {
            e.head
                .as_ref()
                .map(|h| h.get(..12).unwrap_or(h).to_string())
        });
        let entry = json!({"project": p.name, "name": name, "path": path, "branch": branch});
        if !args.register {
            r.unregistered.push(entry);
            continue;
        }
        let type_name = type_from_name(&types, &name)
            .or_else(|| args.type_name.clone())
            .or_else(|| {
                if ctx.global.json {
                    None
                } else {
                    ask_type(&types, &e.path)
                }
            });
        let Some(type_name) = type_name else {
            let mut entry = entry;
            entry["reason"] = json!("no type's prefix matches the name: pass --type TYPE");
            r.unregistered.push(entry);
            continue;
        };
        let result = async {
            naming::validate_worktree_name(&name)?;
            let branch = branch
                .clone()
                .ok_or_else(|| Error::validation(format!("{path} has no HEAD")))?;
            let w = s
                .register_worktree(&NewWorktree {
                    project_id: p.id,
                    type_name: type_name.clone(),
                    name: name.clone(),
                    branch_name: branch.clone(),
                    path: path.clone(),
                    agent_id: common::explicit_agent(&ctx.env),
                    ..Default::default()
                })
                .await?;
            let container = common::container(p);
            if Path::new(&path).parent() == Some(container.as_path()) {
                context::write_json(
                    &context::worktree_file_path(&container, &name),
                    &WorktreeFile {
                        worktree_id: w.id,
                        name: name.clone(),
                        type_name: type_name.clone(),
                        branch,
                        agent_id: w.agent_id.clone(),
                    },
                )?;
            }
            s.log_activity(&NewActivity {
                agent_id: ctx.env.settings.agent_id.clone(),
                worktree_id: Some(w.id),
                activity_type: "created".into(),
                description: Some(format!(
                    "registered existing worktree {name} (imi sync --register)"
                )),
                ..Default::default()
            })
            .await?;
            Ok::<_, Error>(w)
        }
        .await;
        match result {
            Ok(w) => r.registered.push(w),
            Err(e) if e.kind == imi_core::ErrorKind::Unavailable => return Err(e),
            Err(e) => {
                let mut entry = entry;
                entry["error"] = json!(e.message);
                r.failed.push(entry);
            }
        }
    }
    Ok(r)
}

fn row_json(w: &Worktree, project: &str, state: &str, changed: bool) -> Value {
    json!({
        "id": w.id,
        "project": project,
        "name": w.name,
        "path": w.path,
        "status": state,
        "uncommitted_files_count": w.uncommitted_files_count,
        "ahead_of_trunk": w.ahead_of_trunk,
        "behind_trunk": w.behind_trunk,
        "last_commit_hash": w.last_commit_hash,
        "changed": changed,
    })
}

pub(super) async fn sync<S: Store>(s: &S, ctx: &Ctx<'_>, args: &SyncArgs) -> Result<Output> {
    let projects = crate::ops::common::scope(s, ctx.global.project.as_deref()).await?;
    let names: HashMap<Uuid, String> = projects.iter().map(|p| (p.id, p.name.clone())).collect();
    let mut targets = targets(s, &projects).await?;
    let known: Vec<Worktree> = targets.iter().map(|(w, _)| w.clone()).collect();
    let reg = register_unknown(s, ctx, args, &projects, &known).await?;
    if !reg.registered.is_empty() {
        let refs: HashMap<Uuid, String> = projects
            .iter()
            .map(|p| (p.id, gitstate::project_trunk_ref(p)))
            .collect();
        for w in &reg.registered {
            if let Some(r) = refs.get(&w.project_id) {
                targets.push((w.clone(), Job::of(w, r)));
            }
        }
    }

    let jobs: Vec<Job> = targets.iter().map(|(_, j)| j.clone()).collect();
    let observer = ctx.env.observer();
    observer.begin("syncing", jobs.len());
    let reads = gitstate::read_all(&jobs, || observer.step());
    observer.end();

    let mut updates: Vec<(Uuid, GitState)> = vec![];
    let mut rows = vec![];
    let mut missing = vec![];
    let mut failed = reg.failed;
    let mut changed = 0usize;
    for ((mut w, _), read) in targets.into_iter().zip(reads) {
        let project = names.get(&w.project_id).cloned().unwrap_or_default();
        match read {
            Read::State(st) => {
                let ch = gitstate::changed(&w, &st);
                changed += usize::from(ch);
                gitstate::apply(&mut w, &st);
                rows.push(row_json(&w, &project, w.status().as_str(), ch));
                updates.push((w.id, st));
            }
            Read::Missing => {
                missing.push(json!({"project": project, "name": w.name, "path": w.path}));
                rows.push(row_json(&w, &project, "missing", false));
            }
            Read::Failed(e) => {
                failed.push(
                    json!({"project": project, "name": w.name, "path": w.path, "error": e.message}),
                );
                rows.push(row_json(&w, &project, "failed", false));
            }
        }
    }
    if let Err((written, e)) = gitstate::write_batches(s, &updates).await {
        let msg = format!(
            "{} (sync wrote {written} of {} worktrees, each batch whole or not at all)",
            e.message,
            updates.len()
        );
        // the store's hint says what is wrong with the registry (a full disk, a
        // server down); sync adds that rerunning it is safe
        let hint = match &e.hint {
            Some(h) => format!("{h}; `imi sync` rewrites every worktree"),
            None => {
                "run `imi sync` again once the registry is back: it rewrites every worktree".into()
            }
        };
        return Err(Error { message: msg, ..e }.with_hint(hint));
    }
    let summary = json!({
        "synced": updates.len(),
        "changed": changed,
        "missing": missing.len(),
        "failed": failed.len(),
        "registered": reg.registered.len(),
        "unregistered": reg.unregistered.len(),
    });
    let mut human = String::new();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r["changed"] == true || r["status"] == "missing" || r["status"] == "failed")
        .map(|r| {
            vec![
                r["project"].as_str().unwrap_or_default().to_string(),
                r["name"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
                r["uncommitted_files_count"].to_string(),
                format!("+{} -{}", r["ahead_of_trunk"], r["behind_trunk"]),
            ]
        })
        .collect();
    if !table_rows.is_empty() {
        human.push_str(&table::render(
            &["PROJECT", "WORKTREE", "STATUS", "DIRTY", "AHEAD/BEHIND"],
            &table_rows,
        ));
        human.push('\n');
    }
    human.push_str(&format!(
        "synced {}, changed {changed}, missing {}, failed {}",
        updates.len(),
        missing.len(),
        failed.len()
    ));
    if !reg.registered.is_empty() {
        human.push_str(&format!(", registered {}", reg.registered.len()));
    }
    human.push('\n');
    for m in &missing {
        human.push_str(&format!(
            "missing: {} ({}): run `imi prune` to forget it\n",
            m["name"].as_str().unwrap_or_default(),
            m["path"].as_str().unwrap_or_default()
        ));
    }
    for f in &failed {
        human.push_str(&format!(
            "failed: {}: {}\n",
            f["path"].as_str().unwrap_or_default(),
            f["error"].as_str().unwrap_or_default()
        ));
    }
    for u in &reg.unregistered {
        human.push_str(&format!(
            "not registered: {}{}\n",
            u["path"].as_str().unwrap_or_default(),
            match u["reason"].as_str() {
                Some(r) => format!(" ({r})"),
                None => " (run `imi sync --register`)".into(),
            }
        ));
    }
    Ok(Output::new(
        json!({
            "summary": summary,
            "worktrees": rows,
            "missing": missing,
            "failed": failed,
            "registered": reg.registered,
            "unregistered": reg.unregistered,
        }),
        human,
    ))
}
