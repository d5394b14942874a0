//! `imi serve` (SPEC §7.3): the REST API under `/api/v1` (its OpenAPI 3.1 document,
//! generated from the handlers, at `/api/v1/openapi.json`), the event stream
//! (`GET /api/v1/events` as server-sent events) and the live board (`GET /`).
//!
//! Every route calls the same operation the CLI does ([`crate::ops`]) and answers
//! with the section-4 envelope. Around the routes, in this order: a request log
//! line on stderr (never a header, a query string or a body), the `Host` check
//! against DNS rebinding, the `Origin` check against cross-site requests, the
//! bearer token and its scope, the body size limit and the request timeout.
//! Operations that change something run in a task of their own, so a client that
//! hangs up or a timeout never stops one half-way.

mod api;
mod board;
mod cache;
mod guard;
mod input;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use imi_core::{Error, ErrorKind, Result};
use serde::Serialize;
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::ops::Env;

/// The largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What every request handler shares.
pub struct AppState {
    /// The server's environment: its settings and the registry, opened once.
    pub env: Env,
    pub started: Instant,
    pub guard: guard::Guard,
    pub events: stream::Bus,
    /// Turns true when the server is shutting down (event streams end).
    pub shutdown: watch::Receiver<bool>,
    /// Listings kept until the registry changes.
    pub answers: cache::Answers,
}

pub type State = Arc<AppState>;

/// An error answered in the envelope, with the HTTP status of its kind.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    error: Error,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, error: Error) -> ApiError {
        ApiError {
            status,
            code,
            error,
        }
    }
}

/// The HTTP status of each error kind (documented in the README's API section).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Validation => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        // git refused the change in the repository's present state
        ErrorKind::Git => StatusCode::CONFLICT,
        ErrorKind::Unsafe => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError {
            status: status_of(error.kind),
            code: error.code(),
            error,
        }
    }
}

/// The error object of the envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// VALIDATION_ERROR, NOT_FOUND, CONFLICT, UNSAFE, REGISTRY_UNAVAILABLE, GIT_ERROR,
    /// INTERNAL_ERROR; from the server also UNAUTHORIZED, FORBIDDEN, TIMEOUT,
    /// METHOD_NOT_ALLOWED.
    pub code: String,
    /// What failed.
    pub message: String,
    /// What to do next.
    pub hint: Option<String>,
}

/// `{"success": false, "error": {...}}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Failure {
    /// Always false.
    pub success: bool,
    pub error: ErrorBody,
}

/// `{"success": true, "data": ...}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    /// Always true.
    pub success: bool,
    pub data: T,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Failure {
            success: false,
            error: ErrorBody {
                code: self.code.to_string(),
                message: imi_core::redact(&self.error.message),
                hint: self.error.hint.as_deref().map(imi_core::redact),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"imi\""),
            );
        }
        response
    }
}

/// Runs an operation in a task of its own: it finishes even when the client hangs
/// up or the request times out (an operation half done is what SPEC §9 forbids).
pub async fn detached<T, F>(what: &'static str, work: F) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    joined(what, tokio::spawn(work).await)
}

/// The result of a task an operation ran in; one that panicked is a 500 saying so.
fn joined<T>(
    what: &str,
    r: std::result::Result<Result<T>, tokio::task::JoinError>,
) -> std::result::Result<T, ApiError> {
    match r {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(Error::internal(format!("{what} failed unexpectedly ({e})"))
            .with_hint("see the server's log; the operation can be retried")
            .into()),
    }
}

/// [`detached`] for an operation that runs git (child processes and file I/O that
/// can take seconds, called from async code without yielding): on a thread of the
/// blocking pool, so the runtime's workers keep answering other requests and the
/// event streams meanwhile.
pub async fn detached_git<T, F>(what: &'static str, work: F) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    joined(
        what,
        tokio::task::spawn_blocking(move || runtime.block_on(work)).await,
    )
}

/// The whole application: API, event stream, board, and the layers around them.
pub fn app(state: State, timeout: Duration) -> Router {
    let (api, _doc) = api::router().split_for_parts();
    Router::new()
        .merge(api)
        .merge(board::router())
        .route_layer(axum::middleware::from_fn(guard::mark_route))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(Arc::clone(&state))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            guard::time_limit,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::check,
        ))
        .layer(axum::middleware::from_fn(guard::log_request))
}

/// The OpenAPI document as served at `/api/v1/openapi.json`.
pub fn openapi_json() -> String {
    let (_, doc) = api::router().split_for_parts();
    let mut text = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// Where to listen: `ADDR:PORT`, `[v6]:PORT`, or `localhost:PORT`.
fn listen_addr(text: &str) -> Result<SocketAddr> {
    let bad = || {
        Error::validation(format!("cannot listen on {text:?}"))
            .with_hint("give an address and a port, e.g. --listen 127.0.0.1:8080")
    };
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| bad())?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| bad())
}

/// `imi serve`: listens until SIGINT or SIGTERM, then lets requests in flight
/// finish, ends the event streams, and closes the registry.
pub async fn run(env: Env, args: &ServeArgs) -> Result<()> {
    if args.print_openapi {
        print!("{}", openapi_json());
        return Ok(());
    }
    let addr = listen_addr(&args.listen)?;
    let tokens_required = args.require_token || !addr.ip().is_loopback();
    // the registry first: a server that cannot reach it should not start; its
    // requests run at the same time, so it keeps a pool of connections
    let store = crate::registry::AnyStore::connect_with(
        &env.settings.database,
        &env.settings.host,
        crate::registry::SERVER_CONNECTIONS,
    )
    .await?;
    let env = env.with_store(store);
    env.store().await?;
    if tokens_required && !crate::ops::tokens::any_usable(&env).await? {
        let why = if args.require_token {
            "--require-token was given".to_string()
        } else {
            format!("{} is not a loopback address", addr.ip())
        };
        return Err(Error::validation(format!(
            "refusing to serve on {addr} without tokens: {why}, and no token exists"
        ))
        .with_hint("create one first: imi token create --name NAME --scope read|write|admin"));
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::validation(format!("cannot listen on {addr}: {e}"))
            .with_hint("choose another port with --listen, or stop what uses this one")
    })?;
    let local = listener.local_addr().map_err(|e| {
        Error::internal(format!(
            "cannot read the address the server listens on: {e}"
        ))
    })?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let bus = stream::Bus::start(&env).await?;
    let state = Arc::new(AppState {
        guard: guard::Guard::new(local, tokens_required, &args.allow_hosts),
        env,
        started: Instant::now(),
        events: bus,
        shutdown: stop_rx,
        answers: Default::default(),
    });
    let router = app(Arc::clone(&state), Duration::from_secs(args.timeout.max(1)));
    eprintln!(
        "imi serve: listening on http://{local} (board: http://{local}/, API: http://{local}/api/v1, tokens {})",
        if tokens_required {
            "required"
        } else {
            "optional on loopback"
        }
    );
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            eprintln!("imi serve: shutting down; requests in flight finish");
            let _ = stop_tx.send(true);
        })
        .await;
    state.events.stop();
    served.map_err(|e| Error::internal(format!("the server stopped: {e}")))?;
    if let Ok(state) = Arc::try_unwrap(state)
        && let Some(store) = state.env.into_store()
    {
        store.finish().await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen_addr("127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            listen_addr("localhost:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(
            listen_addr("[::1]:80").unwrap(),
            "[::1]:80".parse().unwrap()
        );
        for bad in ["", "8080", "example.com:80", "127.0.0.1:99999"] {
            let e = listen_addr(bad).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{bad}");
        }
    }

    /// The committed copy of the OpenAPI document (docs/openapi.json) is the one the
    /// code generates: run `imi serve --print-openapi > docs/openapi.json` after
    /// changing a route (or set IMI_BLESS_OPENAPI=1 when running this test).
    #[test]
    fn committed_openapi_document_is_current() {
        let generated = openapi_json();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        if std::env::var_os("IMI_BLESS_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is stale: run `IMI_BLESS_OPENAPI=1 cargo nextest run --workspace -E 'test(committed_openapi_document_is_current)'` and commit it"
        );
    }

    #[test]
    fn document_is_openapi_3_1_with_every_resource() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/health",
            "/api/v1/projects",
            "/api/v1/projects/{project}/worktrees",
            "/api/v1/projects/{project}/worktrees/{worktree}",
            "/api/v1/projects/{project}/worktrees/{worktree}/merge",
            "/api/v1/projects/{project}/worktrees/{worktree}/claim",
            "/api/v1/projects/{project}/worktrees/{worktree}/metadata/{key}",
            "/api/v1/sync",
            "/api/v1/inflight",
            "/api/v1/stats",
            "/api/v1/activities",
            "/api/v1/types",
            "/api/v1/claims",
            "/api/v1/events",
        ] {
            assert!(paths.contains_key(p), "{p} is missing from the document");
        }
    }
}
