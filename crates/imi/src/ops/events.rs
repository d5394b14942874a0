//! The event log (SPEC §7.2): read it from an id on ([`list`]), or follow it
//! ([`follow`]): every event committed by any process, on any host, in id order,
//! each once. The registry writes the events itself, in the transaction of each
//! change; this only reads them.

use std::time::Duration;

use imi_core::{Event, EventFilter, EventWaiter, Result, Store};
use serde::{Deserialize, Serialize};

use super::{Env, Report, common};
use crate::registry::with_store;

/// The events `imi events` shows without `--limit`.
pub const DEFAULT_LIMIT: i64 = 50;
/// Events read per query while following (a backlog comes in pages of this).
const PAGE: i64 = 1000;
/// The longest wait between attempts while the registry cannot be read.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Deserialize)]
pub struct EventsArgs {
    /// One project (a name, remote or id); `None`: every project.
    pub project: Option<String>,
    /// Events after this id, oldest first; `None`: the latest `limit`.
    pub since: Option<i64>,
    /// Types to keep: exact (`imi.claim.stolen`) or a prefix ending in `.`
    /// (`imi.claim.`); empty: all.
    #[serde(default)]
    pub types: Vec<String>,
    /// At most this many events (when listing; a follower gets every one).
    pub limit: i64,
}

impl Default for EventsArgs {
    fn default() -> Self {
        EventsArgs {
            project: None,
            since: None,
            types: Vec::new(),
            limit: DEFAULT_LIMIT,
        }
    }
}

/// Events read from the log, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventsReport {
    pub events: Vec<Event>,
    /// The id to continue from (`--since`): the last event shown, else the one given
    /// (or the log's last id, when nothing matched).
    pub last_id: i64,
}

impl Report for EventsReport {}

async fn filter_of<S: Store>(s: &S, args: &EventsArgs, after: Option<i64>) -> Result<EventFilter> {
    let project_id = match &args.project {
        Some(spec) => Some(common::project_by_spec(s, spec).await?.id),
        None => None,
    };
    let filter = EventFilter {
        after,
        types: args.types.clone(),
        project_id,
        limit: args.limit,
    };
    filter.validate()?;
    Ok(filter)
}

/// The filter `args` make, checked: an unknown type, a bad limit or an unknown
/// project is an error here, before anyone waits on it.
pub async fn filter(env: &Env, args: &EventsArgs) -> Result<EventFilter> {
    with_store!(env.store().await?, s => filter_of(s, args, args.since).await)
}

/// The events of `args`, oldest first.
pub async fn list(env: &Env, args: &EventsArgs) -> Result<EventsReport> {
    with_store!(env.store().await?, s => list_in(s, args).await)
}

async fn list_in<S: Store>(s: &S, args: &EventsArgs) -> Result<EventsReport> {
    let filter = filter_of(s, args, args.since).await?;
    read(s, &filter).await
}

/// The events of `filter`, and the id to continue from.
async fn read<S: Store>(s: &S, filter: &EventFilter) -> Result<EventsReport> {
    let events = s.events(filter).await?;
    let last_id = match (events.last(), filter.after) {
        (Some(e), _) => e.id,
        (None, Some(since)) => since,
        (None, None) => s.last_event_id().await?,
    };
    Ok(EventsReport { events, last_id })
}

/// What a follower's sink says after each event.
pub enum Flow {
    Continue,
    Stop,
}

/// Follows the log: first the events of `args` (after `since`, else the latest
/// `limit`), then every new one as it commits, each passed to `sink` once, in id
/// order, until `sink` says [`Flow::Stop`] or returns an error. Runs until then.
///
/// The waiter listens before the first read, so nothing committed after that read
/// is missed; a wake-up only triggers a read of `id > last`. While the registry
/// cannot be read, the error goes to the observer and the read is retried (backoff
/// up to 5 s): a follower outlives a database restart.
pub async fn follow(
    env: &Env,
    args: &EventsArgs,
    sink: impl FnMut(&Event) -> Result<Flow> + Send,
) -> Result<()> {
    with_store!(env.store().await?, s => follow_in(s, env, args, sink).await)
}

async fn follow_in<S: Store>(
    s: &S,
    env: &Env,
    args: &EventsArgs,
    mut sink: impl FnMut(&Event) -> Result<Flow> + Send,
) -> Result<()> {
    let mut filter = filter_of(s, args, args.since).await?;
    let mut waiter = s.event_waiter().await?;
    let first = read(s, &filter).await?;
    for e in &first.events {
        if let Flow::Stop = sink(e)? {
            return Ok(());
        }
    }
    filter.after = Some(first.last_id);
    filter.limit = PAGE;
    let mut backoff = Duration::ZERO;
    loop {
        if backoff.is_zero() {
            waiter.wait().await;
        } else {
            tokio::time::sleep(backoff).await;
        }
        // read until caught up (a backlog larger than a page takes several reads)
        loop {
            match s.events(&filter).await {
                Ok(page) => {
                    backoff = Duration::ZERO;
                    let full = page.len() as i64 == filter.limit;
                    for e in &page {
                        filter.after = Some(e.id);
                        if let Flow::Stop = sink(e)? {
                            return Ok(());
                        }
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    env.observer().note(&format!(
                        "cannot read the event log ({}); trying again",
                        imi_core::redact(&e.message)
                    ));
                    backoff = (backoff * 2).clamp(Duration::from_millis(250), MAX_BACKOFF);
                    break;
                }
            }
        }
    }
}
