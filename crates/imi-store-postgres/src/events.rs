//! Following the event log on PostgreSQL: `LISTEN imi_events` on a connection of its
//! own (every committed event sends `NOTIFY imi_events, '<id>'`, see
//! `migrations/0007_events.sql`). A notification only wakes the follower, which
//! then reads `id > last`; so nothing is lost when notifications are dropped:
//!
//! - the listening connection drops (a restart, `pg_terminate_backend`): the waiter
//!   returns at once and, on its next wait, connects and listens again, then returns
//!   once more, so the follower reads whatever committed while nobody listened;
//! - it cannot connect: it polls (returns every [`POLL`]) and tries again each time;
//! - even while listening it returns every [`SAFETY_POLL`] (a dropped connection the
//!   client has not noticed yet);
//! - behind a transaction-pooling PgBouncer, which cannot LISTEN, it polls.

use std::time::Duration;

use imi_core::{EventWaiter, Result};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use crate::error::db_err;
use crate::session::Pooling;

/// The channel of `NOTIFY imi_events, '<id>'`.
pub const CHANNEL: &str = "imi_events";
/// How often a follower without a listening connection reads the log.
pub const POLL: Duration = Duration::from_millis(250);
/// How often a listening follower reads the log anyway.
pub const SAFETY_POLL: Duration = Duration::from_secs(2);

/// The PostgreSQL [`EventWaiter`].
pub struct PgEventWaiter {
    /// A pool of one connection for the listener (`None`: poll only); separate from
    /// the store's, which a command may have sized to one connection.
    pool: Option<PgPool>,
    listener: Option<PgListener>,
}

impl PgEventWaiter {
    /// Listens already when this returns, so a follower that reads the log after
    /// this call misses nothing committed after its read.
    pub(crate) async fn new(store_pool: &PgPool, pooling: Pooling) -> Result<PgEventWaiter> {
        if pooling == Pooling::Transaction {
            return Ok(PgEventWaiter {
                pool: None,
                listener: None,
            });
        }
        let options = (*store_pool.connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        let listener = listen(&pool).await?;
        Ok(PgEventWaiter {
            pool: Some(pool),
            listener: Some(listener),
        })
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener> {
    let mut l = PgListener::connect_with(pool).await.map_err(db_err)?;
    l.listen(CHANNEL).await.map_err(db_err)?;
    Ok(l)
}

impl EventWaiter for PgEventWaiter {
    async fn wait(&mut self) {
        let Some(pool) = &self.pool else {
            tokio::time::sleep(POLL).await;
            return;
        };
        let Some(listener) = self.listener.as_mut() else {
            // listen again; once listening, return: the follower reads what
            // committed while nobody listened
            match listen(pool).await {
                Ok(l) => self.listener = Some(l),
                Err(_) => tokio::time::sleep(POLL).await,
            }
            return;
        };
        tokio::select! {
            got = listener.try_recv() => match got {
                Ok(Some(_)) => {
                    // one read covers every notification that arrived meanwhile
                    while listener.next_buffered().is_some() {}
                }
                // the connection was lost: drop it, listen again on the next wait
                Ok(None) | Err(_) => self.listener = None,
            },
            () = tokio::time::sleep(SAFETY_POLL) => {}
        }
    }
}
