//! The board at `GET /` (SPEC §7.5): server-rendered HTML (maud), readable without
//! JavaScript; a small embedded script follows the event stream and swaps in the
//! columns (`GET /board/cards`) when something changes, and counts leases down.

use axum::Router;
use axum::extract::{Extension, Form, Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::guard::{Caller, TOKEN_COOKIE};
use super::{ApiError, State};
use crate::ops::board::{Board, BoardArgs, Card, Column};
use crate::ops::{self};

pub fn router() -> Router<State> {
    Router::new()
        .route("/", get(page))
        .route("/board/cards", get(cards))
        .route("/board/sign-in", post(sign_in))
}

#[derive(Debug, Default, Deserialize)]
struct Filters {
    project: Option<String>,
    host: Option<String>,
    agent: Option<String>,
}

impl Filters {
    fn args(&self) -> BoardArgs {
        let keep = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        BoardArgs {
            project: keep(&self.project),
            host: keep(&self.host),
            agent: keep(&self.agent),
        }
    }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

async fn page(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Query(filters): Query<Filters>,
) -> Result<Response, ApiError> {
    if caller.scope.is_none() {
        return Ok(html_response(StatusCode::UNAUTHORIZED, sign_in_page(None)));
    }
    let env = state.env.for_request(None, "/".into()).await?;
    let board = ops::board::board(&env, &filters.args()).await?;
    Ok(html_response(StatusCode::OK, whole(&board, &filters)))
}

async fn cards(
    AxState(state): AxState<State>,
    Query(filters): Query<Filters>,
) -> Result<Response, ApiError> {
    let env = state.env.for_request(None, "/".into()).await?;
    let board = ops::board::board(&env, &filters.args()).await?;
    Ok(html_response(StatusCode::OK, columns(&board)))
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// Checks the token and keeps it in an HTTP-only, same-site cookie for the board.
async fn sign_in(
    AxState(state): AxState<State>,
    Form(form): Form<SignIn>,
) -> Result<Response, ApiError> {
    let token = form.token.trim();
    match ops::tokens::authenticate(&state.env, token).await? {
        Some(_) => Ok((
            [(
                header::SET_COOKIE,
                format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
            )],
            Redirect::to("/"),
        )
            .into_response()),
        None => Ok(html_response(
            StatusCode::UNAUTHORIZED,
            sign_in_page(Some(
                "That token is not valid (unknown, revoked or expired).",
            )),
        )),
    }
}

const STYLE: &str = r#"
:root { color-scheme: light dark;
  --bg:#f3f4f7; --column:#e8ebf0; --panel:#ffffff; --text:#1b1f24; --muted:#5b6470; --line:#d8dce3; --chip:#eef1f5;
  --accent:#2563eb; --warn:#b45309; --bad:#b91c1c; --good:#15803d; --ready:#7c3aed; --done:#64748b;
  --shadow:0 1px 2px rgba(16,24,40,.06), 0 1px 3px rgba(16,24,40,.06); }
@media (prefers-color-scheme: dark) { :root {
  --bg:#0d1014; --column:#151a21; --panel:#1d232c; --text:#e6e9ee; --muted:#9aa4b1; --line:#2b323c; --chip:#28303a;
  --accent:#60a5fa; --warn:#fbbf24; --bad:#f87171; --good:#4ade80; --ready:#a78bfa; --done:#94a3b8;
  --shadow:0 1px 2px rgba(0,0,0,.5); } }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--text); }
header.top { display:flex; flex-wrap:wrap; gap:10px 24px; align-items:center; padding:12px 20px; border-bottom:1px solid var(--line); background:var(--panel); }
header.top h1 { font-size:18px; margin:0; letter-spacing:.2px; }
.live { font-size:12px; color:var(--muted); display:flex; align-items:center; gap:6px; }
.dot { width:8px; height:8px; border-radius:50%; background:var(--muted); display:inline-block; }
.live.on .dot { background:var(--good); box-shadow:0 0 0 3px color-mix(in srgb, var(--good) 25%, transparent); }
form.filters { display:flex; gap:8px; flex-wrap:wrap; align-items:center; margin-left:auto; }
form.filters select, form.filters button { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:6px; background:var(--panel); color:var(--text); }
main.board { display:grid; grid-template-columns:repeat(5, minmax(230px, 1fr)); gap:14px; padding:16px 20px 24px; align-items:stretch; overflow-x:auto; min-height:calc(100vh - 60px); }
section.column { --col:var(--accent); background:var(--column); border-top:3px solid var(--col); border-radius:10px; padding:10px 10px 2px; min-width:0; }
section.column[data-column=available] { --col:var(--good); }
section.column[data-column=attention] { --col:var(--warn); }
section.column[data-column=ready] { --col:var(--ready); }
section.column[data-column=done] { --col:var(--done); }
section.column > h2 { font-size:12px; text-transform:uppercase; letter-spacing:.6px; margin:0 2px 10px; display:flex; gap:8px; align-items:center; }
section.column > h2 .label { flex:1; min-width:0; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
section.column > h2 .count { min-width:24px; text-align:center; background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:0 7px; font-variant-numeric:tabular-nums; color:var(--muted); }
.card { background:var(--panel); border:1px solid var(--line); border-left:4px solid var(--col); border-radius:8px; padding:10px 12px; margin-bottom:10px; box-shadow:var(--shadow); }
section.column[data-column=done] .card { opacity:.78; }
.card .title { display:flex; gap:8px; align-items:flex-start; justify-content:space-between; }
.card .name { font-weight:600; font-size:15px; line-height:1.3; overflow-wrap:anywhere; }
.card .type { font-size:11px; padding:1px 6px; border-radius:4px; background:var(--chip); color:var(--muted); white-space:nowrap; margin-top:1px; }
.card .meta { color:var(--muted); font-size:12px; margin-top:2px; overflow-wrap:anywhere; }
.card .holder { margin-top:8px; display:flex; flex-wrap:wrap; gap:4px 8px; align-items:center; justify-content:space-between; font-size:13px; }
.card .who { overflow-wrap:anywhere; }
.card .lease { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; white-space:nowrap; font-variant-numeric:tabular-nums;
  color:var(--accent); background:color-mix(in srgb, var(--accent) 14%, transparent); }
.card .lease.soon { color:var(--warn); background:color-mix(in srgb, var(--warn) 16%, transparent); }
.card .lease.ended { color:var(--bad); background:color-mix(in srgb, var(--bad) 14%, transparent); }
.card .lease.open { color:var(--muted); background:var(--chip); font-weight:500; }
.card .leasebar { height:4px; border-radius:2px; background:var(--chip); margin-top:6px; overflow:hidden; }
.card .leasebar > i { display:block; height:100%; background:var(--accent); transition:width 1s linear; }
.card .leasebar.soon > i { background:var(--warn); }
.card .purpose { margin-top:4px; font-size:12px; color:var(--muted); font-style:italic; overflow-wrap:anywhere; }
.card .reasons { display:flex; flex-wrap:wrap; gap:4px; margin-top:8px; }
.card .reason { font-size:11px; font-weight:600; padding:1px 7px; border-radius:4px; color:var(--warn); background:color-mix(in srgb, var(--warn) 14%, transparent); }
.card .facts { display:flex; flex-wrap:wrap; gap:4px 12px; margin-top:8px; font-size:12px; font-variant-numeric:tabular-nums; color:var(--muted); }
.card .facts .dirty { color:var(--warn); font-weight:600; }
.card .facts .ahead { color:var(--good); font-weight:600; }
.card .facts .behind { color:var(--bad); font-weight:600; }
.card .commit { margin-top:6px; font-size:12px; overflow:hidden; display:-webkit-box; -webkit-line-clamp:2; -webkit-box-orient:vertical; overflow-wrap:anywhere; }
.card .sync { margin-top:6px; padding-top:6px; border-top:1px dashed var(--line); font-size:11px; color:var(--muted); }
.empty { color:var(--muted); font-size:12px; padding:14px 8px; margin-bottom:10px; text-align:center; border:1px dashed var(--line); border-radius:8px; }
.signin { max-width:420px; margin:12vh auto; background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:24px; }
.signin input { width:100%; font:inherit; padding:6px 8px; margin:8px 0; border:1px solid var(--line); border-radius:6px; background:var(--bg); color:var(--text); }
noscript p { margin:0; padding:6px 20px; font-size:12px; color:var(--muted); }
@media (max-width: 900px) { main.board { grid-template-columns:1fr; min-height:0; } }
"#;

const SCRIPT: &str = r#"
(function () {
  var board = document.getElementById('board');
  var live = document.getElementById('live');
  var label = document.getElementById('live-label');
  var skew = Date.parse(document.body.dataset.now) - Date.now();
  function pad(n) { return n < 10 ? '0' + n : '' + n; }
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll('[data-expires]').forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.expires) - now) / 1000);
      var ttl = Number(el.dataset.ttl) || 0;
      var card = el.closest('.card');
      var bar = card && card.querySelector('.leasebar');
      var soon = left < 300 || (ttl > 0 && left * 5 < ttl);
      el.classList.toggle('soon', soon && left > 0);
      el.classList.toggle('ended', left <= 0);
      if (bar) {
        bar.classList.toggle('soon', soon);
        if (ttl > 0) bar.firstElementChild.style.width = Math.max(0, Math.min(100, left * 100 / ttl)).toFixed(1) + '%';
      }
      if (left <= 0) { el.textContent = 'lease ended'; return; }
      var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = (h ? h + 'h ' + pad(m) + 'm' : m + 'm ' + pad(s) + 's') + ' left';
    });
  }
  var pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch('/board/cards' + location.search, { credentials: 'same-origin' })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) { board.innerHTML = html; tick(); label.textContent = 'live, updated ' + new Date().toLocaleTimeString(); })
        .catch(function () { label.textContent = 'update failed; retrying on the next event'; });
    }, 80);
  }
  document.querySelectorAll('form.filters select').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });
  var go = document.querySelector('form.filters button');
  if (go) go.hidden = true;
  tick();
  setInterval(tick, 1000);
  if (!window.EventSource) return;
  var types = JSON.parse(document.getElementById('event-types').textContent);
  var es = new EventSource('/api/v1/events');
  es.onopen = function () { live.classList.add('on'); label.textContent = 'live'; refresh(); };
  es.onerror = function () { live.classList.remove('on'); label.textContent = 'reconnecting…'; };
  types.forEach(function (t) { es.addEventListener(t, refresh); });
  es.onmessage = refresh;
})();
"#;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) }
            style { (PreEscaped(STYLE)) }
        }
    }
}

fn sign_in_page(problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("imi board: sign in"))
            body {
                form.signin method="post" action="/board/sign-in" {
                    h1 { "imi board" }
                    p { "This server needs a token. Create one with "
                        code { "imi token create --name board --scope read" } "." }
                    @if let Some(p) = problem { p style="color:var(--bad)" { (p) } }
                    label for="token" { "Token" }
                    input #token type="password" name="token" autocomplete="off" required;
                    button type="submit" { "Sign in" }
                }
            }
        }
    }
}

fn whole(board: &Board, filters: &Filters) -> Markup {
    let types = serde_json::to_string(imi_core::events::TYPES).unwrap_or_else(|_| "[]".into());
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("imi board"))
            body data-now=(board.now.to_rfc3339()) {
                header.top {
                    h1 { "imi board" }
                    span #live .live { span.dot {} span #live-label { "static page" } }
                    form.filters method="get" action="/" {
                        (select("project", "all projects", &board.projects, filters.project.as_deref()))
                        (select("host", "all hosts", &board.hosts, filters.host.as_deref()))
                        (select("agent", "all agents", &board.agents, filters.agent.as_deref()))
                        button type="submit" { "Filter" }
                    }
                }
                noscript { p { "Live updates need JavaScript: reload the page to see changes." } }
                main #board .board { (columns(board)) }
                script #event-types type="application/json" { (PreEscaped(types.replace("</", "<\\/"))) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

fn select(name: &str, all: &str, options: &[String], chosen: Option<&str>) -> Markup {
    html! {
        select name=(name) aria-label=(all) {
            option value="" selected[chosen.is_none_or(str::is_empty)] { (all) }
            @for o in options {
                option value=(o) selected[chosen == Some(o.as_str())] { (o) }
            }
        }
    }
}

fn columns(board: &Board) -> Markup {
    html! {
        @for c in Column::ALL {
            @let cards: Vec<&Card> = board.column(c).collect();
            section.column data-column=(c.as_str()) {
                h2 title=(c.hint()) { span.label { (c.title()) } span.count { (cards.len()) } }
                @if cards.is_empty() { div.empty { "nothing here" } }
                @for card in cards { (card_html(card, board.now)) }
            }
        }
    }
}

/// `3m`, `2h`, `5d` ([`imi_core::display::age`]).
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    imi_core::display::age((now - then).num_seconds())
}

/// A lease as the board shows it before the script counts it down (the script
/// gives it the same text, classes and bar).
struct Lease {
    until: DateTime<Utc>,
    /// `12m 05s left`, `2h 03m left`, `lease ended`.
    text: String,
    /// Under 5 minutes or a fifth of the lease left.
    soon: bool,
    ended: bool,
    /// The share of the lease left, in percent, when its length is known.
    left_percent: Option<f64>,
}

fn lease(now: DateTime<Utc>, until: DateTime<Utc>, length: Option<i64>) -> Lease {
    let left = (until - now).num_seconds();
    let length = length.filter(|l| *l > 0);
    let (h, m, s) = (left / 3600, left % 3600 / 60, left % 60);
    Lease {
        until,
        text: match left {
            ..=0 => "lease ended".into(),
            3600.. => format!("{h}h {m:02}m left"),
            _ => format!("{m}m {s:02}s left"),
        },
        soon: left < 300 || length.is_some_and(|l| left * 5 < l),
        ended: left <= 0,
        left_percent: length.map(|l| (left.max(0) as f64 * 100.0 / l as f64).min(100.0)),
    }
}

fn card_html(card: &Card, now: DateTime<Utc>) -> Markup {
    html! {
        article.card data-project=(card.project) data-worktree=(card.worktree) data-host=(card.host) {
            div.title {
                span.name { (card.worktree) }
                span.type { (card.type_name) }
            }
            div.meta { (card.project) " · " (card.host) }
            div.meta { "⎇ " (card.branch) }
            @if let Some(ended) = &card.ended {
                div.holder {
                    span.who {
                        (ended)
                        @if let Some(holder) = &card.holder { " by " strong { (holder) } }
                    }
                }
            } @else if let Some(holder) = &card.holder {
                @let l = card.lease_expires_at.map(|u| lease(now, u, card.lease_seconds));
                div.holder {
                    span.who title="holds the claim" { strong { (holder) } }
                    @match &l {
                        Some(l) => span.lease.soon[l.soon && !l.ended].ended[l.ended]
                            data-expires=(l.until.to_rfc3339()) data-ttl=[card.lease_seconds]
                            title={ "lease ends " (l.until.format("%Y-%m-%d %H:%M:%S UTC")) } { (l.text) },
                        None => span.lease.open title="no lease: held until released" { "until released" },
                    }
                }
                @if let Some(Lease { left_percent: Some(pct), soon, .. }) = &l {
                    div.leasebar.soon[*soon] title="share of the lease left" {
                        i style={ "width:" (format!("{pct:.1}")) "%" } {}
                    }
                }
                @if let Some(p) = &card.purpose { div.purpose { (p) } }
            }
            @if !card.reasons.is_empty() {
                div.reasons { @for r in &card.reasons { span.reason { "⚠ " (r) } } }
            }
            div.facts title="uncommitted files; commits ahead of and behind the trunk" {
                @if card.dirty > 0 { span.dirty { "● " (card.dirty) " dirty" } }
                @if card.ahead > 0 { span.ahead { "↑" (card.ahead) " ahead" } }
                @if card.behind > 0 { span.behind { "↓" (card.behind) " behind" } }
                @if card.ahead == 0 && card.behind == 0 { span { "↑0 ↓0 even with trunk" } }
            }
            @if let Some(c) = &card.last_commit { div.commit title=(c) { (c.lines().next().unwrap_or("")) } }
            div.sync {
                @match card.last_sync_at {
                    Some(t) => { "synced " (age(now, t)) " ago" },
                    None => { "never synced" },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_countdown() {
        let now = Utc::now();
        let at = |s: i64| now + chrono::Duration::seconds(s);
        let l = lease(now, at(1797), Some(1800));
        assert_eq!(
            (l.text.as_str(), l.soon, l.ended),
            ("29m 57s left", false, false)
        );
        assert!((l.left_percent.unwrap() - 99.83).abs() < 0.01);
        let l = lease(now, at(2 * 3600 + 65), Some(3 * 3600));
        assert_eq!(l.text, "2h 01m left");
        // under a fifth of the lease, or under 5 minutes: soon
        let l = lease(now, at(500), Some(3600));
        assert!(l.soon && !l.ended);
        assert!(lease(now, at(299), None).soon);
        let l = lease(now, at(-3), Some(600));
        assert_eq!(
            (l.text.as_str(), l.ended, l.left_percent),
            ("lease ended", true, Some(0.0))
        );
    }
}
