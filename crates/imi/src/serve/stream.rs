//! The event stream (`GET /api/v1/events` with `Accept: text/event-stream`).
//!
//! One follower per server ([`Bus`]) reads the event log as it grows, woken by
//! PostgreSQL's `NOTIFY` (any client on any host) or by the SQLite file changing
//! (any process), and hands each event to every connected client. A client gets,
//! in id order and each once: the events after its `Last-Event-ID` (or `?since=`)
//! read from the table, then the live ones. A client too slow to keep up is caught
//! up from the table; a client that hangs up costs nothing more.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use imi_core::{Event, EventFilter, Result, Store};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::State;
use crate::ops::{self, Env};
use crate::registry::{AnyStore, with_store};

/// Events a client may fall behind the follower before it is caught up from the
/// table instead.
const BUFFER: usize = 4096;
/// Events read per query while catching up.
const PAGE: i64 = 1000;

/// The server's one follower of the event log.
pub struct Bus {
    sender: broadcast::Sender<Event>,
    follower: JoinHandle<()>,
}

impl Bus {
    /// Starts following the log from its present end.
    pub async fn start(env: &Env) -> Result<Bus> {
        let (sender, _) = broadcast::channel(BUFFER);
        let store = env.store().await?.clone();
        let from = with_store!(&store, s => s.last_event_id().await)?;
        let follower_env = env.for_request(None, env.cwd.clone()).await?;
        let tx = sender.clone();
        let follower = tokio::spawn(async move {
            let args = ops::events::EventsArgs {
                since: Some(from),
                limit: imi_core::events::MAX_LIMIT,
                ..Default::default()
            };
            // runs until the server stops (it outlives registry outages)
            let result = ops::events::follow(&follower_env, &args, |e| {
                // no receiver is not an error: nobody is listening right now
                let _ = tx.send(e.clone());
                Ok(ops::events::Flow::Continue)
            })
            .await;
            if let Err(e) = result {
                eprintln!(
                    "imi serve: the event stream stopped: {}",
                    imi_core::redact(&e.message)
                );
            }
        });
        Ok(Bus { sender, follower })
    }

    pub fn stop(&self) {
        self.follower.abort();
    }
}

/// What a client asked for.
pub struct Subscription {
    /// Replay the events after this id first; `None`: only new events.
    pub after: Option<i64>,
    pub filter: EventFilter,
}

/// The server-sent-event stream of one client.
pub fn sse(
    state: State,
    sub: Subscription,
) -> Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>> {
    let (tx, rx) = mpsc::channel::<SseEvent>(256);
    let live = state.events.sender.subscribe();
    tokio::spawn(async move {
        if let Err(e) = pump(&state, sub, live, &tx).await {
            let text = serde_json::json!({
                "code": e.code(),
                "message": imi_core::redact(&e.message),
                "hint": e.hint.as_deref().map(imi_core::redact),
            });
            let _ = tx
                .send(SseEvent::default().event("error").data(text.to_string()))
                .await;
        }
    });
    let stream =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn frame(e: &Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.event_type.as_str())
        .data(data)
}

/// Sends the backlog, then live events, until the client hangs up or the server
/// stops. Ends quietly in both cases.
async fn pump(
    state: &State,
    sub: Subscription,
    mut live: broadcast::Receiver<Event>,
    tx: &mpsc::Sender<SseEvent>,
) -> Result<()> {
    let store = state.env.store().await?.clone();
    let mut shutdown = state.shutdown.clone();
    let mut last = match sub.after {
        Some(after) => after,
        None => with_store!(&store, s => s.last_event_id().await)?,
    };
    if !catch_up(&store, &sub.filter, &mut last, tx).await? {
        return Ok(());
    }
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(e) => {
                    if e.id <= last {
                        continue;
                    }
                    last = e.id;
                    if keeps(&sub.filter, &e) && tx.send(frame(&e)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !catch_up(&store, &sub.filter, &mut last, tx).await? {
                        return Ok(());
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = shutdown.changed() => return Ok(()),
            _ = tx.closed() => return Ok(()),
        }
    }
}

fn keeps(filter: &EventFilter, e: &Event) -> bool {
    filter.keeps(&e.event_type) && filter.project_id.is_none_or(|p| e.project_id == Some(p))
}

/// Sends every stored event after `last` (of the filter), moving `last` on.
/// `false`: the client is gone.
async fn catch_up(
    store: &AnyStore,
    filter: &EventFilter,
    last: &mut i64,
    tx: &mpsc::Sender<SseEvent>,
) -> Result<bool> {
    loop {
        let page_filter = EventFilter {
            after: Some(*last),
            types: Vec::new(),
            project_id: None,
            limit: PAGE,
        };
        let page = with_store!(store, s => s.events(&page_filter).await)?;
        for e in &page {
            *last = e.id;
            if keeps(filter, e) && tx.send(frame(e)).await.is_err() {
                return Ok(false);
            }
        }
        if (page.len() as i64) < PAGE {
            return Ok(true);
        }
    }
}
