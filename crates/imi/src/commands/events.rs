//! `imi events [--since ID] [--follow] [--type T]... [-p P] [--limit N]`: the event
//! log, one event per line, oldest first (see `ops::events`). With `--follow` it
//! keeps printing events as they commit; with `--json` it then prints one JSON
//! object per line (JSON Lines) instead of one document.

use std::io::Write;

use imi_core::{Event, Result};
use serde_json::Value;

use super::Ctx;
use crate::cli;
use crate::ops::events::{self, EventsArgs, Flow};
use crate::ui::{Output, human_text};

pub async fn cmd_events(ctx: &Ctx<'_>, a: &cli::EventsArgs) -> Result<Output> {
    let args = EventsArgs {
        project: ctx.project(),
        since: a.since,
        types: a.types.clone(),
        limit: a.limit,
    };
    if !a.follow {
        let r = events::list(&ctx.env, &args).await?;
        let human = if r.events.is_empty() {
            match a.since {
                Some(id) => format!("No events after {id}."),
                None => "No events yet.".to_string(),
            }
        } else {
            r.events.iter().map(line).collect::<Vec<_>>().join("\n")
        };
        return Output::report(&r, human);
    }
    let json = ctx.global.json;
    events::follow(&ctx.env, &args, |e| {
        let text = if json {
            serde_json::to_string(e).map_err(|err| {
                imi_core::Error::internal(format!("cannot encode an event as JSON: {err}"))
            })?
        } else {
            human_text(&line(e))
        };
        let mut out = std::io::stdout().lock();
        // a closed pipe (`imi events -f | head`) ends the follow: the reader is done
        match writeln!(out, "{text}").and_then(|()| out.flush()) {
            Ok(()) => Ok(Flow::Continue),
            Err(_) => Ok(Flow::Stop),
        }
    })
    .await?;
    Ok(Output::new(Value::Null, ""))
}

/// `#42  2026-11-30 02:40:01  imi.claim.claimed  demo/feat-x  agent-1@host-a  epoch=3`
fn line(e: &Event) -> String {
    let when = e
        .created_at
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S");
    let place = match (&e.project_name, &e.worktree_name) {
        (Some(p), Some(w)) => format!("{p}/{w}"),
        (Some(p), None) => p.clone(),
        (None, Some(w)) => w.clone(),
        (None, None) => "-".to_string(),
    };
    let who = match (&e.agent_id, &e.host) {
        (Some(a), Some(h)) => format!("{a}@{h}"),
        (Some(a), None) => a.clone(),
        (None, Some(h)) => format!("@{h}"),
        (None, None) => "-".to_string(),
    };
    let facts: Vec<String> = e
        .payload
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!(
        "#{}  {when}  {}  {place}  {who}  {}",
        e.id,
        e.event_type,
        facts.join(" ")
    )
    .trim_end()
    .to_string()
}
