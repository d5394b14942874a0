//! `imi status`: the live git state of this host's worktrees (of this project, or
//! of all projects outside one), read from git and written back to the registry.
//! On a terminal the table is coloured and fitted to its width; into a pipe it is
//! plain text of any width (`NO_COLOR` turns colour off, `COLUMNS` sets a width).

use chrono::{DateTime, Utc};
use imi_core::Result;

use super::Ctx;
use crate::cli::StatusArgs;
use crate::ops::status::{self, Args, Live, Status};
use crate::table::{self, BOLD, CYAN, Cell, DIM, GREEN, MAGENTA, RED, Term, YELLOW};
use crate::ui::Output;

pub async fn cmd_status(ctx: &Ctx<'_>, _args: &StatusArgs) -> Result<Output> {
    let r = status::status(
        &ctx.env,
        &Args {
            project: ctx.project(),
        },
    )
    .await?;
    let human = render(&r, Term::stdout(), Utc::now());
    Ok(Output::report(&r, human)?.styled())
}

/// A commit's age in one short word ([`imi_core::display::age`]).
fn age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    imi_core::display::age((now - t).num_seconds())
}

/// `+2 !1 ?3 =1`: staged, modified, untracked, conflicted (the symbols of git
/// prompts); `-` when nothing is uncommitted.
fn changes(l: &Live) -> Cell {
    let Some(c) = &l.changes else {
        return Cell::new("-", DIM);
    };
    let mut cell = Cell::default();
    for (n, sym, style) in [
        (c.conflicted, "=", RED),
        (c.staged, "+", GREEN),
        (c.modified, "!", YELLOW),
        (c.untracked, "?", CYAN),
    ] {
        if n > 0 {
            cell.push(format!("{sym}{n}"), style);
        }
    }
    if cell.0.is_empty() {
        Cell::new("-", DIM)
    } else {
        cell
    }
}

/// `↑2 ↓5` (commits ahead, behind); `=` when level.
fn ahead_behind(ahead: u32, behind: u32, up: &'static str, down: &'static str) -> Cell {
    let mut cell = Cell::default();
    if ahead > 0 {
        cell.push(format!("{up}{ahead}"), GREEN);
    }
    if behind > 0 {
        cell.push(format!("{down}{behind}"), YELLOW);
    }
    if cell.0.is_empty() {
        Cell::new("=", DIM)
    } else {
        cell
    }
}

fn trunk(l: &Live) -> Cell {
    if l.missing {
        return Cell::new("-", DIM);
    }
    let w = &l.worktree;
    let n = |v: i32| u32::try_from(v).unwrap_or(0);
    ahead_behind(n(w.ahead_of_trunk), n(w.behind_trunk), "↑", "↓")
}

fn upstream(l: &Live) -> Cell {
    match &l.upstream {
        None => Cell::new("-", DIM),
        Some(u) => match (u.ahead, u.behind) {
            (Some(a), Some(b)) => ahead_behind(a, b, "⇡", "⇣"),
            _ => Cell::new("gone", RED),
        },
    }
}

fn state(l: &Live) -> Cell {
    if l.integrated {
        return Cell::new("integrated", GREEN);
    }
    Cell::new(l.status.clone(), table::status_style(&l.status))
}

fn last_commit(l: &Live, now: DateTime<Utc>) -> Cell {
    let Some(c) = &l.last_commit else {
        return Cell::new("-", DIM);
    };
    let mut cell = Cell::new(c.hash.get(..7).unwrap_or(&c.hash), YELLOW);
    cell.push(format!("{:>4}", age(c.committed_at, now)), DIM);
    cell.push(c.subject.clone(), table::NONE);
    cell
}

/// The table `imi status` prints (fitted to `term`), its footer, or what to do
/// when there is nothing to show. Ages are counted to `now`.
pub fn render(r: &Status, term: Term, now: DateTime<Utc>) -> String {
    if r.worktrees.is_empty() {
        return if r.projects == 0 {
            imi_core::messages::NO_PROJECTS_YET.to_string()
        } else {
            "No worktrees on this host.".to_string()
        };
    }
    // the owner and claim columns appear once some worktree has one
    let owned = r.worktrees.iter().any(|l| l.worktree.agent_id.is_some());
    let claimed = r.worktrees.iter().any(|l| l.claim.is_some());
    let mut headers = vec![];
    if r.all_projects {
        headers.push("PROJECT");
    }
    headers.extend(["WORKTREE", "BRANCH"]);
    if owned {
        headers.push("OWNER");
    }
    if claimed {
        headers.push("CLAIMED BY");
    }
    headers.extend(["CHANGES", "TRUNK", "REMOTE", "STATUS", "LAST COMMIT"]);
    let rows: Vec<Vec<Cell>> = r
        .worktrees
        .iter()
        .map(|l| {
            let w = &l.worktree;
            let mut row = vec![];
            if r.all_projects {
                row.push(Cell::plain(l.project.clone()));
            }
            let name_style = if w.type_name == "trunk" {
                BOLD
            } else {
                table::NONE
            };
            row.push(Cell::new(w.name.clone(), name_style));
            row.push(Cell::new(w.branch_name.clone(), table::BLUE));
            if owned {
                row.push(w.agent_id.clone().map_or(Cell::new("-", DIM), Cell::plain));
            }
            if claimed {
                row.push(l.claim.as_ref().map_or(Cell::new("-", DIM), |c| {
                    Cell::new(c.agent_id.clone(), MAGENTA)
                }));
            }
            row.extend([
                changes(l),
                trunk(l),
                upstream(l),
                state(l),
                last_commit(l, now),
            ]);
            row
        })
        .collect();
    // cut first the commit subject (keeping hash, age and a few words), then the
    // branch and the worktree's name, then the subject down to hash and age
    let last = headers.len() - 1;
    let name = usize::from(r.all_projects);
    let shrink = [(last, 28), (name + 1, 12), (name, 12), (last, 13)];
    let mut out = table::render_styled(&headers, rows, &shrink, term);
    for line in footer(r, term.width) {
        out.push('\n');
        out.push_str(&table::paint(&line, DIM, term));
    }
    out
}

/// `3 worktrees: 1 with changes, 1 ahead of trunk, 1 integrated (safe to remove)`,
/// broken after a comma to fit `width`, then what the change symbols mean.
fn footer(r: &Status, width: Option<usize>) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    for (i, part) in counts(r).into_iter().enumerate() {
        match lines.last_mut() {
            Some(line) if i > 1 && fits(line, &part, width) => {
                line.push_str(", ");
                line.push_str(&part);
            }
            Some(line) if i == 1 => {
                line.push_str(": ");
                line.push_str(&part);
            }
            Some(line) => {
                line.push(',');
                lines.push(format!("  {part}"));
            }
            None => lines.push(part),
        }
    }
    if r.worktrees
        .iter()
        .any(|l| l.changes.as_ref().is_some_and(|c| c.total() > 0))
    {
        lines.push("changes: +staged !modified ?untracked =conflicted".into());
    }
    lines
}

fn fits(line: &str, part: &str, width: Option<usize>) -> bool {
    use unicode_width::UnicodeWidthStr as _;
    width.is_none_or(|w| line.width() + 2 + part.width() < w)
}

/// The footer's counts: how many worktrees, then each non-zero count.
fn counts(r: &Status) -> Vec<String> {
    let s = &r.summary;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![];
    for (n, what) in [
        (s.changed, "with changes"),
        (s.ahead, "ahead of trunk"),
        (s.behind, "behind trunk"),
        (s.claimed, "claimed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if s.integrated > 0 {
        parts.push(format!("{} integrated (safe to remove)", s.integrated));
    }
    if s.missing > 0 {
        parts.push(format!("{} missing (`imi prune` cleans up)", s.missing));
    }
    parts.insert(0, plural(s.worktrees, "worktree", "worktrees"));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::status::{Changes, LastCommit, Summary, Upstream};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    fn worktree(
        n: u128,
        name: &str,
        type_name: &str,
        branch: &str,
        ab: (i32, i32),
    ) -> imi_core::Worktree {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        imi_core::Worktree {
            id: Uuid::from_u128(n),
            project_id: Uuid::from_u128(1),
            type_name: type_name.into(),
            name: name.into(),
            branch_name: branch.into(),
            path: format!("/code/app/{name}"),
            host: "devbox".into(),
            agent_id: None,
            has_uncommitted_changes: false,
            uncommitted_files_count: 0,
            ahead_of_trunk: ab.0,
            behind_trunk: ab.1,
            last_commit_hash: None,
            last_commit_message: None,
            last_sync_at: None,
            merged_at: None,
            merged_by: None,
            merge_commit_hash: None,
            metadata: Default::default(),
            created_at: t,
            updated_at: t,
            active: true,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn live(
        mut w: imi_core::Worktree,
        status: &str,
        changes: Option<Changes>,
        upstream: Option<(&str, Option<(u32, u32)>)>,
        commit: Option<(&str, i64, &str)>,
        integrated: bool,
    ) -> Live {
        if let Some(c) = &changes {
            w.uncommitted_files_count = i32::try_from(c.total()).unwrap();
            w.has_uncommitted_changes = c.total() > 0;
        }
        if let Some((hash, _, subject)) = commit {
            w.last_commit_hash = Some(hash.into());
            w.last_commit_message = Some(subject.into());
        }
        Live {
            worktree: w,
            status: status.into(),
            missing: changes.is_none(),
            claim: None,
            changes,
            upstream: upstream.map(|(name, ab)| Upstream {
                name: name.into(),
                ahead: ab.map(|x| x.0),
                behind: ab.map(|x| x.1),
            }),
            last_commit: commit.map(|(hash, secs_ago, subject)| LastCommit {
                hash: hash.into(),
                committed_at: now() - chrono::Duration::seconds(secs_ago),
                subject: subject.into(),
            }),
            integrated,
            project: "app".into(),
        }
    }

    fn clean() -> Option<Changes> {
        Some(Changes::default())
    }

    /// Every kind of row: the trunk level with its remote, work in progress ahead
    /// of trunk and its upstream, an integrated branch, a claimed one with a long
    /// subject, an upstream that is gone, and a missing directory.
    fn report() -> Status {
        let mut claimed = live(
            worktree(5, "aiops-triage", "aiops", "aiops/triage", (1, 0)),
            "ahead",
            clean(),
            None,
            Some((
                "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e",
                3 * 86_400,
                "Teach the triage agent to read flaky-test reports from the nightly run and open issues",
            )),
            false,
        );
        claimed.worktree.agent_id = Some("agent-7".into());
        let t = claimed.last_commit.as_ref().unwrap().committed_at;
        claimed.claim = Some(imi_core::Claim {
            project_id: Uuid::from_u128(1),
            project_name: "app".into(),
            worktree_name: "aiops-triage".into(),
            worktree_id: Some(Uuid::from_u128(5)),
            agent_id: "agent-7".into(),
            host: "devbox".into(),
            epoch: 3,
            purpose: Some("triage".into()),
            ttl_seconds: Some(900),
            acquired_at: t,
            renewed_at: None,
            expires_at: Some(t + chrono::Duration::seconds(900)),
            released_at: None,
            stolen_from: None,
            held: true,
            read_at: t,
        });
        let worktrees = vec![
            live(
                worktree(2, "trunk-main", "trunk", "main", (0, 0)),
                "clean",
                clean(),
                Some(("origin/main", Some((0, 0)))),
                Some((
                    "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a",
                    40 * 86_400,
                    "Release 1.4",
                )),
                false,
            ),
            live(
                worktree(3, "feat-login", "feat", "feat/login", (2, 1)),
                "uncommitted",
                Some(Changes {
                    staged: 1,
                    modified: 2,
                    untracked: 3,
                    conflicted: 0,
                }),
                Some(("origin/feat/login", Some((1, 0)))),
                Some((
                    "3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b",
                    1800,
                    "Add the login form",
                )),
                false,
            ),
            live(
                worktree(4, "fix-crash", "fix", "fix/crash", (0, 3)),
                "behind",
                clean(),
                Some(("origin/fix/crash", None)),
                Some((
                    "4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c",
                    2 * 3600,
                    "Fix the crash on start-up",
                )),
                true,
            ),
            claimed,
            live(
                worktree(6, "review-42", "review", "pr/42", (0, 0)),
                "missing",
                None,
                None,
                None,
                false,
            ),
        ];
        Status {
            summary: Summary::of(&worktrees),
            worktrees,
            all_projects: false,
            projects: 1,
        }
    }

    #[test]
    fn the_status_table_plain_of_any_width() {
        insta::assert_snapshot!(render(&report(), Term::PLAIN, now()));
    }

    #[test]
    fn the_status_table_fits_a_100_column_terminal() {
        let term = Term {
            color: false,
            width: Some(100),
        };
        let out = render(&report(), term, now());
        for l in out.lines() {
            assert!(unicode_width::UnicodeWidthStr::width(l) <= 100, "{l:?}");
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn the_status_table_in_colour() {
        let term = Term {
            color: true,
            width: Some(100),
        };
        let out = render(&report(), term, now());
        // without its escape sequences, the coloured table is the plain one
        let plain = render(
            &report(),
            Term {
                color: false,
                width: Some(100),
            },
            now(),
        );
        let mut stripped = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find('\x1b') {
            stripped.push_str(&rest[..i]);
            let end = rest[i..].find('m').unwrap();
            rest = &rest[i + end + 1..];
        }
        stripped.push_str(rest);
        assert_eq!(stripped, plain);
        insta::assert_snapshot!(out.replace('\x1b', "\\e"));
    }

    #[test]
    fn the_status_json_carries_every_field() {
        let r = report();
        let v = serde_json::to_value(&r).unwrap();
        insta::assert_snapshot!(serde_json::to_string_pretty(&v).unwrap());
    }

    #[test]
    fn ages_are_one_short_word() {
        let ago = |s: i64| age(now() - chrono::Duration::seconds(s), now());
        assert_eq!(
            [
                0,
                59,
                60,
                3599,
                3600,
                86_399,
                86_400,
                13 * 86_400,
                14 * 86_400,
                59 * 86_400,
                60 * 86_400,
                364 * 86_400,
                365 * 86_400,
                800 * 86_400
            ]
            .map(ago),
            [
                "0s", "59s", "1m", "59m", "1h", "23h", "1d", "13d", "2w", "8w", "2mo", "12mo",
                "1y", "2y"
            ]
        );
        // a commit dated in the future (clock skew) is not negative
        assert_eq!(age(now() + chrono::Duration::hours(1), now()), "0s");
    }

    #[test]
    fn nothing_to_show_says_what_to_do() {
        let mut r = report();
        r.worktrees.clear();
        r.summary = Summary::default();
        assert_eq!(render(&r, Term::PLAIN, now()), "No worktrees on this host.");
        r.projects = 0;
        assert_eq!(
            render(&r, Term::PLAIN, now()),
            imi_core::messages::NO_PROJECTS_YET
        );
    }
}
