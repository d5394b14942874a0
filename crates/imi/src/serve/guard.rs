//! What stands between a request and a route: the `Host` check (DNS rebinding), the
//! `Origin` check (cross-site requests), the bearer token and its scope, the request
//! timeout, and the request log on stderr.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use imi_core::Error;
use imi_core::tokens::Scope;

use super::{ApiError, State};

/// The header naming the agent a request acts for (else the server's own agent).
pub const AGENT_HEADER: &str = "x-imi-agent";
/// The board's cookie holding a token (set by the board's sign-in form).
pub const TOKEN_COOKIE: &str = "imi_token";

/// Who is calling, as the guard established it (a request extension).
#[derive(Debug, Clone)]
pub struct Caller {
    /// From the agent header; `None`: the server's agent.
    pub agent: Option<String>,
    /// `None`: no token where one is needed (only open routes are reached so).
    pub scope: Option<Scope>,
    /// The token's name, when one was given.
    pub token: Option<String>,
}

/// The server's rules for names and tokens.
pub struct Guard {
    listen: SocketAddr,
    /// Any `Host` is accepted (listening on all addresses: tokens are required).
    any_host: bool,
    extra_hosts: Vec<String>,
    pub tokens_required: bool,
}

impl Guard {
    pub fn new(listen: SocketAddr, tokens_required: bool, extra_hosts: &[String]) -> Guard {
        Guard {
            listen,
            any_host: listen.ip().is_unspecified(),
            extra_hosts: extra_hosts
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            tokens_required,
        }
    }

    /// Whether a request naming `host` (a `Host` header's value) may be served: the
    /// listen address, a loopback name or address, or an `--allow-host` name. A page
    /// on attacker.example whose name was re-pointed at 127.0.0.1 sends
    /// `Host: attacker.example` and is refused.
    pub fn host_allowed(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        let name = host_name(host);
        if name == "localhost" {
            return true;
        }
        if let Ok(ip) = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return ip.is_loopback() || ip == self.listen.ip();
        }
        self.extra_hosts.contains(&name)
    }
}

/// The name part of a `Host` value (`[::1]:8080` → `[::1]`, `Example.com.:80` →
/// `example.com`).
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(n, _)| n)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The scope a request needs; `None`: open to anyone who passes the host check.
fn needed_scope(method: &Method, path: &str) -> Option<Scope> {
    // the board's page answers a sign-in form itself when a token is missing
    if path == "/health"
        || path == "/api/v1/openapi.json"
        || path == "/board/sign-in"
        || path == "/"
    {
        return None;
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Some(Scope::Read);
    }
    let admin = (*method == Method::POST
        && (path == "/api/v1/projects" || path == "/api/v1/types"))
        || (*method == Method::DELETE && path.starts_with("/api/v1/types/"));
    Some(if admin { Scope::Admin } else { Scope::Write })
}

fn refuse(status: StatusCode, code: &'static str, message: String, hint: &str) -> Response {
    ApiError::new(status, code, Error::validation(message).with_hint(hint)).into_response()
}

/// The token a request presents: `Authorization: Bearer T`, else the board's cookie.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (kind, token) = v.split_once(' ')?;
        return kind
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == TOKEN_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether a state-changing request comes from a page of another origin: its
/// `Origin` is not this request's own scheme-less host (or is `null`).
fn foreign_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?;
    let origin = origin.to_str().unwrap_or("null");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    (origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host)).then(|| origin.to_string())
}

/// The host, origin, token and scope checks (see the module's comment).
pub async fn check(AxState(state): AxState<State>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.guard.host_allowed(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "requests for host {host:?} are refused (this server answers to its listen address and loopback names)"
            ),
            "open the server by its address, or start it with --allow-host NAME",
        );
    }
    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && let Some(origin) = foreign_origin(headers)
    {
        return refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!("a request from the page {origin:?} may not change the registry"),
            "call the API directly (curl, a client library), not from another site's page",
        );
    }
    let agent = match headers.get(AGENT_HEADER) {
        None => None,
        Some(v) => match v.to_str().map(str::trim) {
            Ok(a) if imi_core::model::check_id("agent id", a).is_ok() => Some(a.to_string()),
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    format!("the {AGENT_HEADER} header is not a valid agent id"),
                    "give a short printable name, e.g. X-Imi-Agent: claude-1",
                );
            }
        },
    };
    let needed = needed_scope(&method, req.uri().path());
    let presented = presented_token(headers);
    let (scope, token) = match presented {
        Some(t) => match crate::ops::tokens::authenticate(&state.env, &t).await {
            Ok(Some(tok)) => (Some(tok.scope), Some(tok.name)),
            Ok(None) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "the token is not valid (unknown, revoked or expired)".into(),
                    "create a token with `imi token create` and send it as Authorization: Bearer TOKEN",
                );
            }
            Err(e) => return ApiError::from(e).into_response(),
        },
        None if needed.is_some() && state.guard.tokens_required => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "this server needs a token".into(),
                "send Authorization: Bearer TOKEN (create one with `imi token create`)",
            );
        }
        None if state.guard.tokens_required => (None, None),
        // loopback without --require-token: the user's own machine
        None => (Some(Scope::Admin), None),
    };
    if let (Some(needed), Some(scope)) = (needed, scope)
        && !scope.allows(needed)
    {
        return refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "the token's scope {} does not allow this request (it needs {})",
                scope.as_str(),
                needed.as_str()
            ),
            "use a token with a wider scope (imi token create --scope write|admin)",
        );
    }
    req.extensions_mut().insert(Caller {
        agent: agent.clone(),
        scope,
        token: token.clone(),
    });
    let mut response = next.run(req).await;
    response.extensions_mut().insert(Caller {
        agent,
        scope,
        token,
    });
    response
}

/// Answers 503 TIMEOUT when a request takes longer than `limit`. The operation
/// behind it goes on (see [`super::detached`]).
pub async fn time_limit(AxState(limit): AxState<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
            format!("the request took longer than {} s", limit.as_secs()),
            "an operation that changes something goes on; look at its state (or the event log) before trying again",
        ),
    }
}

/// Copies the matched route into the response, for the request log.
pub async fn mark_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// One JSON line on stderr per request: time, method, path (never the query, which
/// could hold a secret), route, status, the token's name and the agent, duration.
/// No header is logged.
pub async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let caller = response.extensions().get::<Caller>();
    let token = caller.and_then(|c| c.token.clone());
    let agent = caller.and_then(|c| c.agent.clone());
    let line = serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "method": method.as_str(),
        "path": path,
        "route": route,
        "status": response.status().as_u16(),
        "token": token,
        "agent": agent,
        "ms": (start.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
    });
    eprintln!("{line}");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let g = Guard::new(
            "127.0.0.1:8080".parse().unwrap(),
            false,
            &["imi.internal".into()],
        );
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.0.0.2",
            "imi.internal:443",
            "imi.internal.",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:8080",
            "",
            "10.0.0.1:8080",
            "localhost.attacker.example",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let all = Guard::new("0.0.0.0:8080".parse().unwrap(), true, &[]);
        assert!(all.host_allowed("anything.example"));
    }

    #[test]
    fn scopes() {
        assert_eq!(needed_scope(&Method::GET, "/health"), None);
        assert_eq!(
            needed_scope(&Method::GET, "/api/v1/projects"),
            Some(Scope::Read)
        );
        assert_eq!(
            needed_scope(&Method::POST, "/api/v1/projects"),
            Some(Scope::Admin)
        );
        assert_eq!(
            needed_scope(&Method::DELETE, "/api/v1/types/x"),
            Some(Scope::Admin)
        );
        assert_eq!(
            needed_scope(&Method::POST, "/api/v1/projects/p/worktrees/w/claim"),
            Some(Scope::Write)
        );
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(foreign_origin(&h), None);
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert_eq!(foreign_origin(&h), None);
        for bad in [
            "http://attacker.example",
            "null",
            "http://127.0.0.1:9999",
            "file://",
        ] {
            h.insert(header::ORIGIN, bad.parse().unwrap());
            assert!(foreign_origin(&h).is_some(), "{bad}");
        }
    }

    #[test]
    fn tokens_from_header_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_token(&h), None);
        h.insert(header::COOKIE, "a=b; imi_token=imi_x_y".parse().unwrap());
        assert_eq!(presented_token(&h).as_deref(), Some("imi_x_y"));
        h.insert(header::AUTHORIZATION, "Bearer imi_1_2".parse().unwrap());
        assert_eq!(presented_token(&h).as_deref(), Some("imi_1_2"));
    }
}
