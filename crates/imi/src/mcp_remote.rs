//! `imi mcp --remote URL`: the same MCP tools, each one request to a remote
//! `imi serve` (for agents on hosts without database access). The tool's input is
//! decoded and checked here exactly as for the local server; the REST API's envelope
//! becomes the tool's result (`data`) or its error (`code`, `message`, `hint`, as the
//! server sent them). The project and worktree default to the directory `imi mcp`
//! runs in (its `.iMi` files), as locally. The agent goes in `X-Imi-Agent`, the
//! token in `Authorization` (from `--token` or `IMI_TOKEN`; never logged).

use std::path::Path;
use std::time::Duration;

use imi_core::{Error, Result};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::mcp::{
    ClaimInput, CreateInput, EventsInput, ExplanationOnly, LogInput, MergeInput, PathInput,
    ProjectInput, ReleaseInput, RemoveInput, RenewInput, ReviewInput, check_sizes, decode,
};

/// A remote `imi serve`.
pub struct Remote {
    /// `http(s)://host:port`, no trailing slash.
    base: String,
    token: Option<String>,
    agent: String,
    /// The project (its id) and worktree of the directory `imi mcp` runs in.
    here: Option<(String, Option<String>)>,
    client: reqwest::Client,
}

/// A tool's outcome: the report, or the error object to return to the agent.
pub type Outcome = std::result::Result<Value, Value>;

fn error_object(e: &Error) -> Value {
    json!({
        "code": e.code(),
        "message": imi_core::redact(&e.message),
        "hint": e.hint.as_deref().map(imi_core::redact),
    })
}

fn seg(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

impl Remote {
    pub fn new(url: &str, token: Option<String>, agent: &str, cwd: &Path) -> Result<Remote> {
        let parsed = url::Url::parse(url).map_err(|e| {
            Error::validation(format!("--remote {url:?} is not a URL: {e}"))
                .with_hint("give the server's base URL, e.g. --remote http://build-box:8080")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(
                Error::validation(format!("--remote {url:?} is not an http(s) URL"))
                    .with_hint("give the server's base URL, e.g. --remote https://imi.internal"),
            );
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                Error::validation("--remote must not hold a user name or password")
                    .with_hint("pass the token with IMI_TOKEN (or --token)"),
            );
        }
        let here = crate::context::locate(cwd).ok().flatten().map(|loc| {
            (
                loc.project.project_id.to_string(),
                loc.worktree_name().map(str::to_string),
            )
        });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .user_agent(concat!("imi-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("cannot make an HTTP client: {e}")))?;
        Ok(Remote {
            base: url.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.trim().is_empty()),
            agent: agent.to_string(),
            here,
            client,
        })
    }

    fn project(&self, given: Option<String>) -> std::result::Result<String, Value> {
        given
            .or_else(|| self.here.as_ref().map(|h| h.0.clone()))
            .ok_or_else(|| {
                error_object(
                    &Error::validation(
                        "no project given, and none in the directory imi mcp runs in",
                    )
                    .with_hint(
                        "pass `project` (a name, remote URL or id; list_projects shows them)",
                    ),
                )
            })
    }

    fn worktree(&self, given: Option<String>) -> std::result::Result<String, Value> {
        given
            .or_else(|| self.here.as_ref().and_then(|h| h.1.clone()))
            .ok_or_else(|| {
                error_object(
                    &Error::validation("no worktree given, and imi mcp does not run in one")
                        .with_hint("pass `worktree` (its directory name, e.g. feat-login)"),
                )
            })
    }

    /// One request; the envelope's `data`, or its `error`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Outcome {
        let url = format!("{}/api/v1{path}", self.base);
        let mut rb = self
            .client
            .request(method, &url)
            .query(query)
            .header("X-Imi-Agent", &self.agent);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let response = rb.send().await.map_err(|e| {
            error_object(
                &Error::new(
                    imi_core::ErrorKind::Unavailable,
                    format!(
                        "cannot reach imi serve at {}: {}",
                        self.base,
                        e.without_url()
                    ),
                )
                .with_hint("check that `imi serve` runs there and that --remote is its address"),
            )
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let envelope: Value = serde_json::from_str(&text).map_err(|_| {
            error_object(
                &Error::internal(format!(
                    "{} answered {status} without the imi envelope",
                    self.base
                ))
                .with_hint("check that --remote points at imi serve, not another service"),
            )
        })?;
        if envelope["success"] == true {
            Ok(envelope["data"].clone())
        } else {
            Err(envelope["error"].clone())
        }
    }

    /// Logs the call's `explanation` on the server (as locally: failures only noted).
    async fn explain(
        &self,
        tool: &str,
        project: Option<String>,
        worktree: Option<String>,
        why: Option<String>,
    ) {
        let Some(why) = why.filter(|w| !w.trim().is_empty()) else {
            return;
        };
        let Ok(project) = self.project(project) else {
            return;
        };
        let body = json!({
            "project": project,
            "worktree": worktree,
            "activity_type": "other",
            "description": format!("{tool}: {why}"),
        });
        if let Err(e) = self
            .send(Method::POST, "/activities", &[], Some(body))
            .await
        {
            eprintln!(
                "imi mcp: the explanation of {tool} was not logged: {}",
                e["message"]
            );
        }
    }
}

fn local(e: Error) -> Value {
    error_object(&e)
}

/// Runs one tool through the remote server.
pub async fn call(r: &Remote, tool: &str, args: &Map<String, Value>) -> Outcome {
    check_sizes(args).map_err(local)?;
    let out;
    match tool {
        "list_projects" => {
            let a: ExplanationOnly = decode(tool, args).map_err(local)?;
            out = r.send(Method::GET, "/projects", &[], None).await?;
            r.explain(tool, None, None, a.explanation).await;
        }
        "list_worktrees" => {
            let a: ProjectInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            out = r
                .send(
                    Method::GET,
                    &format!("/projects/{}/worktrees", seg(&p)),
                    &[],
                    None,
                )
                .await?;
            r.explain(tool, Some(p), None, a.explanation).await;
        }
        "inflight" => {
            let a: ProjectInput = decode(tool, args).map_err(local)?;
            let p = a.project.or_else(|| r.here.as_ref().map(|h| h.0.clone()));
            let q: Vec<(&str, String)> = p.iter().map(|p| ("project", p.clone())).collect();
            out = r.send(Method::GET, "/inflight", &q, None).await?;
            r.explain(tool, p, None, a.explanation).await;
        }
        "resolve_path" => {
            let a: PathInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            let q: Vec<(&str, String)> =
                a.worktree.iter().map(|w| ("worktree", w.clone())).collect();
            out = r
                .send(
                    Method::GET,
                    &format!("/projects/{}/path", seg(&p)),
                    &q,
                    None,
                )
                .await?;
            r.explain(tool, Some(p), None, a.explanation).await;
        }
        "create_worktree" => {
            let a: CreateInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            let body = json!({ "type": a.type_name, "name": a.name, "from": a.from, "no_hooks": a.no_hooks });
            out = r
                .send(
                    Method::POST,
                    &format!("/projects/{}/worktrees", seg(&p)),
                    &[],
                    Some(body),
                )
                .await?;
            let name = out["worktree"]["name"].as_str().map(str::to_string);
            r.explain(tool, Some(p), name, a.explanation).await;
        }
        "review_pr" => {
            let a: ReviewInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            let body = json!({ "number": a.number, "no_hooks": a.no_hooks });
            out = r
                .send(
                    Method::POST,
                    &format!("/projects/{}/reviews", seg(&p)),
                    &[],
                    Some(body),
                )
                .await?;
            let name = out["worktree"]["name"].as_str().map(str::to_string);
            r.explain(tool, Some(p), name, a.explanation).await;
        }
        "sync" => {
            let a: ProjectInput = decode(tool, args).map_err(local)?;
            let p = a.project.or_else(|| r.here.as_ref().map(|h| h.0.clone()));
            out = r
                .send(Method::POST, "/sync", &[], Some(json!({ "project": p })))
                .await?;
            r.explain(tool, p, None, a.explanation).await;
        }
        "claim" | "renew" | "release" => {
            let (project, worktree, body, why) = match tool {
                "claim" => {
                    let a: ClaimInput = decode(tool, args).map_err(local)?;
                    (
                        a.project,
                        a.worktree,
                        json!({ "ttl_seconds": a.ttl_seconds, "purpose": a.purpose }),
                        a.explanation,
                    )
                }
                "renew" => {
                    let a: RenewInput = decode(tool, args).map_err(local)?;
                    (
                        a.project,
                        a.worktree,
                        json!({ "ttl_seconds": a.ttl_seconds, "epoch": a.epoch }),
                        a.explanation,
                    )
                }
                _ => {
                    let a: ReleaseInput = decode(tool, args).map_err(local)?;
                    (
                        a.project,
                        a.worktree,
                        json!({ "epoch": a.epoch, "force": a.force }),
                        a.explanation,
                    )
                }
            };
            let p = r.project(project)?;
            let w = r.worktree(worktree)?;
            let path = format!("/projects/{}/worktrees/{}/{tool}", seg(&p), seg(&w));
            out = r.send(Method::POST, &path, &[], Some(body)).await?;
            r.explain(tool, Some(p), Some(w), why).await;
        }
        "log_activity" => {
            let a: LogInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            let w = a
                .worktree
                .or_else(|| r.here.as_ref().and_then(|h| h.1.clone()));
            let body = json!({
                "project": p, "worktree": w, "activity_type": a.activity_type,
                "description": a.description, "file": a.file,
            });
            out = r.send(Method::POST, "/activities", &[], Some(body)).await?;
        }
        "merge" => {
            let a: MergeInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            let w = r.worktree(a.worktree)?;
            let body = json!({
                "squash": a.squash, "ff_only": a.ff_only, "push": a.push,
                "force": a.force, "no_hooks": a.no_hooks,
            });
            let path = format!("/projects/{}/worktrees/{}/merge", seg(&p), seg(&w));
            out = r.send(Method::POST, &path, &[], Some(body)).await?;
            // the worktree is gone: the explanation goes on the project's log
            r.explain(tool, Some(p), None, a.explanation).await;
        }
        "remove" => {
            let a: RemoveInput = decode(tool, args).map_err(local)?;
            let p = r.project(a.project)?;
            let q = [
                ("force", a.force.to_string()),
                ("keep_branch", a.keep_branch.to_string()),
                ("no_hooks", a.no_hooks.to_string()),
            ];
            let path = format!("/projects/{}/worktrees/{}", seg(&p), seg(&a.worktree));
            out = r.send(Method::DELETE, &path, &q, None).await?;
            r.explain(tool, Some(p), None, a.explanation).await;
        }
        "events_since" => {
            let a: EventsInput = decode(tool, args).map_err(local)?;
            let mut q: Vec<(&str, String)> = Vec::new();
            if let Some(p) = a.project {
                q.push(("project", p));
            }
            if let Some(s) = a.since {
                q.push(("since", s.to_string()));
            }
            if !a.types.is_empty() {
                q.push(("type", a.types.join(",")));
            }
            if let Some(l) = a.limit {
                q.push(("limit", l.to_string()));
            }
            out = r.send(Method::GET, "/events", &q, None).await?;
        }
        other => {
            return Err(local(
                Error::not_found(format!("no tool named {other:?}"))
                    .with_hint("list the tools with tools/list"),
            ));
        }
    }
    Ok(out)
}
