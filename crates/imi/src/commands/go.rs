//! `imi go [QUERY]`: fuzzy jump to any project or worktree of this host. Prints
//! the path; the shell function of `imi shell-init` changes directory to it. That
//! function captures stdout, so the picker (for an ambiguous query on a terminal)
//! draws on stderr.

use std::collections::HashMap;
use std::io::IsTerminal;

use imi_core::{Error, Result, Store, WorktreeFilter, search::similarity};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Ctx;
use crate::context;
use crate::registry::with_store;
use crate::ui::Output;

/// Below this a trigram match is noise (pg_trgm's default threshold).
const MIN_SIMILARITY: f32 = 0.3;
/// Added to matches in the current directory's project.
const HERE_BONUS: f32 = 0.1;
/// The best candidate is a clear winner when it leads the next by this much.
const CLEAR_LEAD: f32 = 0.1;

/// A place `imi go` can jump to.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// `project` or `project/worktree`.
    pub label: String,
    pub project: String,
    pub worktree: Option<String>,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub path: String,
    pub score: f32,
    #[serde(skip)]
    project_id: Uuid,
}

/// How well `query` (lowercase) names `target`: exact 1.0, prefix 0.85,
/// substring 0.7, one typo away (two letters swapped, one letter missing, extra or
/// wrong: `drity` for `dirty`) 0.65, else the trigram similarity scaled into 0..0.6.
fn match_score(query: &str, target: &str) -> f32 {
    let t = target.to_lowercase();
    if t == query {
        1.0
    } else if t.starts_with(query) {
        0.85
    } else if t.contains(query) {
        0.7
    } else if query.chars().count() >= 4 && strsim::osa_distance(query, &t) == 1 {
        0.65
    } else {
        let sim = similarity(query, &t);
        if sim >= MIN_SIMILARITY {
            sim * 0.6
        } else {
            0.0
        }
    }
}

/// The worktree name without its type's directory prefix (`feat-login` → `login`).
fn short_name(name: &str, prefix: Option<&str>) -> Option<String> {
    let rest = name.strip_prefix(prefix?)?;
    (!rest.is_empty()).then(|| rest.to_string())
}

fn score(query: &str, c: &Candidate, short: Option<&str>) -> f32 {
    let mut targets = vec![c.project.clone()];
    if let Some(w) = &c.worktree {
        // A worktree is named by its own name; the project name alone points at
        // the project's own candidate (its trunk), so it is scored only together.
        targets = vec![w.clone(), format!("{}/{w}", c.project)];
        if let Some(s) = short {
            targets.push(s.to_string());
            targets.push(format!("{}/{s}", c.project));
        }
    }
    targets
        .iter()
        .map(|t| match_score(query, t))
        .fold(0.0, f32::max)
}

/// Every project and every active worktree of this host, scored against `query`
/// (all with score 0 for `None`), best first; one candidate per path.
async fn candidates<S: Store>(
    s: &S,
    host: &str,
    query: Option<&str>,
    here: Option<Uuid>,
) -> Result<Vec<Candidate>> {
    let query = query.map(|q| q.trim().to_lowercase());
    let projects = s.list_projects(false).await?;
    let types: HashMap<String, String> = s
        .list_types()
        .await?
        .into_iter()
        .map(|t| (t.name, t.worktree_prefix))
        .collect();
    let worktrees = s
        .list_worktrees(&WorktreeFilter {
            host: Some(host.to_string()),
            ..WorktreeFilter::default()
        })
        .await?;
    let by_id: HashMap<Uuid, &imi_core::Project> = projects.iter().map(|p| (p.id, p)).collect();

    let mut all: Vec<(Candidate, Option<String>)> = projects
        .iter()
        .map(|p| {
            let c = Candidate {
                label: p.name.clone(),
                project: p.name.clone(),
                worktree: None,
                type_name: None,
                path: p.trunk_path.clone(),
                score: 0.0,
                project_id: p.id,
            };
            (c, None)
        })
        .collect();
    for w in &worktrees {
        let Some(p) = by_id.get(&w.project_id) else {
            continue;
        };
        let path = if w.type_name == "trunk" {
            p.trunk_path.clone()
        } else {
            imi_core::sibling_path(&p.trunk_path, &w.name)
        };
        let short = short_name(&w.name, types.get(&w.type_name).map(String::as_str));
        let c = Candidate {
            label: format!("{}/{}", p.name, w.name),
            project: p.name.clone(),
            worktree: Some(w.name.clone()),
            type_name: Some(w.type_name.clone()),
            path,
            score: 0.0,
            project_id: p.id,
        };
        all.push((c, short));
    }
    let mut scored: Vec<Candidate> = all
        .into_iter()
        .map(|(mut c, short)| {
            if let Some(q) = &query {
                c.score = score(q, &c, short.as_deref());
                // The project we are in wins a tie against the same name elsewhere.
                if c.score > 0.0 && Some(c.project_id) == here {
                    c.score += HERE_BONUS;
                }
            }
            c
        })
        .filter(|c| query.is_none() || c.score > 0.0)
        .collect();
    // Deterministic order: score, then the current project, then projects before
    // their worktrees, then the label.
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| (Some(b.project_id) == here).cmp(&(Some(a.project_id) == here)))
            .then_with(|| a.worktree.is_some().cmp(&b.worktree.is_some()))
            .then_with(|| a.label.cmp(&b.label))
    });
    // One candidate per path (a project and its trunk worktree are one place).
    let mut seen = std::collections::HashSet::new();
    scored.retain(|c| seen.insert(c.path.clone()));
    Ok(scored)
}

fn is_clear(ranked: &[Candidate]) -> bool {
    match ranked {
        [_] => true,
        [first, second, ..] => first.score - second.score >= CLEAR_LEAD,
        [] => false,
    }
}

fn interactive(json: bool) -> bool {
    !json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The fuzzy picker, drawn on stderr; `None` when the user cancels.
fn pick(ranked: &[Candidate], query: Option<&str>) -> Result<Option<usize>> {
    let width = ranked
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(0);
    let items: Vec<String> = ranked
        .iter()
        .map(|c| format!("{:<width$}  {}", c.label, c.path))
        .collect();
    let prompt = match query {
        Some(q) => format!("{} places match {q:?}; go to", ranked.len()),
        None => "go to".to_string(),
    };
    dialoguer::FuzzySelect::new()
        .with_prompt(prompt)
        .items(&items)
        .default(0)
        .interact_on_opt(&dialoguer::console::Term::stderr())
        .map_err(|e| {
            Error::internal(format!("the picker failed: {e}"))
                .with_hint("give a more precise query: imi go <project>/<worktree>")
        })
}

fn chosen(c: &Candidate, ranked: &[Candidate], ambiguous: bool) -> Output {
    Output::new(
        json!({
            "path": c.path,
            "project": c.project,
            "worktree": c.worktree,
            "ambiguous": ambiguous,
            "candidates": ranked,
        }),
        c.path.clone(),
    )
}

pub async fn cmd_go(ctx: &Ctx<'_>, query: Option<&str>) -> Result<Output> {
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    let here = context::locate(&ctx.env.cwd).ok().flatten();
    let trunk_of = |project: &str, trunk: String| {
        Output::new(
            json!({"path": trunk, "project": project, "worktree": null,
                   "ambiguous": false, "candidates": []}),
            trunk,
        )
    };
    if let (None, None, Some(loc)) = (query, &ctx.global.project, &here) {
        return Ok(trunk_of(&loc.project.name, loc.project.trunk_path.clone()));
    }
    let store = ctx.store().await?;
    if let (None, Some(spec)) = (query, &ctx.global.project) {
        let p = with_store!(&store, s => crate::ops::common::project_by_spec(s, spec).await)?;
        return Ok(trunk_of(&p.name, p.trunk_path.clone()));
    }
    let here_id = here.as_ref().map(|l| l.project.project_id);
    let ranked =
        with_store!(&store, s => candidates(s, &ctx.env.settings.host, query, here_id).await)?;
    let json_wanted = ctx.global.json;
    let Some(best) = ranked.first() else {
        return Err(match query {
            Some(q) => Error::not_found(format!("no project or worktree matches {q:?}")).with_hint(
                "run `imi list` to see what is registered, or `imi init` in a repository to add it",
            ),
            None => Error::not_found("the registry has no projects yet")
                .with_hint("run `imi init` in a git repository to register it"),
        });
    };
    if query.is_some() && is_clear(&ranked) {
        return Ok(chosen(best, &ranked[..1], false));
    }
    if interactive(json_wanted) {
        return match pick(&ranked, query)? {
            Some(i) => Ok(chosen(&ranked[i], &ranked[i..=i], false)),
            None => Err(Error::validation("nothing was chosen")
                .with_hint("run `imi go <query>` again and pick a place, or narrow the query")),
        };
    }
    if query.is_none() {
        return Err(
            Error::validation("no query given and no terminal to pick on").with_hint(
                "give a query: imi go <project>, imi go <worktree> or imi go <project>/<worktree>",
            ),
        );
    }
    if !json_wanted {
        ctx.ui.note(&format!(
            "{} places match; took the best, {} (pick on a terminal, or narrow the query)",
            ranked.len(),
            best.label
        ));
    }
    Ok(chosen(best, &ranked, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_prefix_beats_substring_beats_typo() {
        let exact = match_score("login", "login");
        let prefix = match_score("log", "login");
        let sub = match_score("ogi", "login");
        let typo = match_score("logn", "login");
        assert!(exact > prefix && prefix > sub && sub > typo && typo > 0.0);
        assert_eq!(match_score("zzz", "login"), 0.0);
    }

    #[test]
    fn one_typo_away_beats_a_trigram_match() {
        // two letters swapped: trigrams barely match, the edit distance is one
        let swapped = match_score("drity", "dirty");
        assert!(swapped > 0.6, "{swapped}");
        assert!(match_score("dirty", "dirty") > swapped);
        assert!(match_score("dir", "dirty") > swapped);
        assert!(match_score("lgoin", "login") > 0.6);
        // two edits away stays below
        assert!(match_score("drtiy", "dirty") < 0.65);
        // too short to call a typo
        assert_eq!(match_score("ab", "ba"), 0.0);
    }

    #[test]
    fn short_names_drop_the_type_prefix() {
        assert_eq!(
            short_name("feat-login", Some("feat-")).as_deref(),
            Some("login")
        );
        assert_eq!(short_name("feat-", Some("feat-")), None);
        assert_eq!(short_name("x", None), None);
    }
}
