//! `imi mcp`: the registry as tools for AI agents, over stdio, with the official
//! Rust MCP SDK (`rmcp`). Every tool calls the same operation the CLI does
//! ([`crate::ops`]) and returns its report as structured content; a failure is a
//! tool error (`isError`) whose structured content is the section-4 error object
//! (`code`, `message`, `hint`). Arguments are decoded here, not by the SDK, so a
//! malformed call is a tool error too, and every call runs in a task of its own:
//! nothing a tool receives can stop the server. Logs go to stderr only (stdout is
//! the protocol).

use std::borrow::Cow;
use std::sync::Arc;

use imi_core::{Error, ErrorKind, Result};
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::schemars::JsonSchema;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::ops::{self, Env, Report};

/// The longest text argument a tool takes, in bytes (a larger one is refused before
/// anything runs).
const MAX_ARGUMENT_BYTES: usize = 64 * 1024;

// --- tool inputs -------------------------------------------------------------------

/// No arguments but the explanation. (In every tool the project and the worktree
/// default to the directory `imi mcp` was started in.)
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ExplanationOnly {
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ProjectInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct PathInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// A worktree's directory name (`feat-login`); none: the trunk.
    pub worktree: Option<String>,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct CreateInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree type: feat, fix, aiops, devops or a custom one (`list` in
    /// `imi types`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The name after the type's prefix: `login` makes `feat-login` on `feat/login`.
    pub name: String,
    /// Start from this ref instead of the remote's default branch.
    pub from: Option<String>,
    /// Skip the post-create hooks (ignored files are still copied). Project hooks
    /// nobody approved are skipped anyway.
    #[serde(default)]
    pub no_hooks: bool,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ReviewInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The pull request (GitHub) or merge request (GitLab) number.
    pub number: u64,
    /// Skip the post-create hooks (ignored files are still copied).
    #[serde(default)]
    pub no_hooks: bool,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ClaimInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree's directory name, e.g. `feat-login`. Default: the worktree
    /// `imi mcp` runs in.
    pub worktree: Option<String>,
    /// Lease length in seconds; none: held until released. Renew before it ends.
    pub ttl_seconds: Option<i64>,
    /// What the agent is doing there (shown to other agents).
    pub purpose: Option<String>,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct RenewInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree's directory name, e.g. `feat-login`. Default: the worktree
    /// `imi mcp` runs in.
    pub worktree: Option<String>,
    /// New lease length in seconds from now; none: the claim's own.
    pub ttl_seconds: Option<i64>,
    /// The tenure (the `epoch` the claim returned); none: the current one.
    pub epoch: Option<i64>,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ReleaseInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree's directory name, e.g. `feat-login`. Default: the worktree
    /// `imi mcp` runs in.
    pub worktree: Option<String>,
    /// The tenure (the `epoch` the claim returned); none: the current one.
    pub epoch: Option<i64>,
    /// Release another agent's claim (logged with its name).
    #[serde(default)]
    pub force: bool,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct LogInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree it concerns (directory name). Default: the worktree `imi mcp`
    /// runs in, if any.
    pub worktree: Option<String>,
    /// created, modified, deleted, committed, pushed, merged, synced, claimed,
    /// released, removed or other.
    pub activity_type: String,
    /// What happened, for people and other agents.
    pub description: String,
    /// The file it concerns.
    pub file: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct MergeInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree's directory name, e.g. `feat-login`. Default: the worktree
    /// `imi mcp` runs in.
    pub worktree: Option<String>,
    /// One squashed commit instead of a merge commit.
    #[serde(default)]
    pub squash: bool,
    /// Only a fast-forward.
    #[serde(default)]
    pub ff_only: bool,
    /// Push the trunk's default branch afterwards.
    #[serde(default)]
    pub push: bool,
    /// Merge even though another agent holds the claim (logged).
    #[serde(default)]
    pub force: bool,
    /// Skip the post-merge hooks.
    #[serde(default)]
    pub no_hooks: bool,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct RemoveInput {
    /// The project: its name, remote URL or id. Default: the project of the directory
    /// `imi mcp` runs in.
    pub project: Option<String>,
    /// The worktree's directory name, e.g. `feat-login`.
    pub worktree: String,
    /// Remove even with uncommitted or unmerged work (detached commits are kept on
    /// refs/imi/rescued/<name>), or another agent's claim (logged).
    #[serde(default)]
    pub force: bool,
    /// Keep the branch.
    #[serde(default)]
    pub keep_branch: bool,
    /// Skip the pre-remove hooks.
    #[serde(default)]
    pub no_hooks: bool,
    /// Why the agent calls this tool; stored in the activity log.
    pub explanation: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct EventsInput {
    /// The project: its name, remote URL or id; none: every project.
    pub project: Option<String>,
    /// Events after this id (the `last_id` of the previous call); none: the latest.
    pub since: Option<i64>,
    /// Only these types, exact (`imi.claim.stolen`) or a prefix (`imi.claim.`).
    #[serde(default)]
    pub types: Vec<String>,
    /// At most this many (1 to 10000, default 50).
    pub limit: Option<i64>,
}

// --- the tools -----------------------------------------------------------------------

struct Spec {
    name: &'static str,
    description: &'static str,
    read_only: bool,
    destructive: bool,
    schema: fn() -> Arc<Map<String, Value>>,
}

fn schema<T: JsonSchema + std::any::Any>() -> Arc<Map<String, Value>> {
    schema_for_type::<T>()
}

const TOOLS: &[Spec] = &[
    Spec {
        name: "list_projects",
        description: "List the registered projects (name, remote, trunk path, id).",
        read_only: true,
        destructive: false,
        schema: schema::<ExplanationOnly>,
    },
    Spec {
        name: "list_worktrees",
        description: "List a project's worktrees on every host, with git state and who holds each claim.",
        read_only: true,
        destructive: false,
        schema: schema::<ProjectInput>,
    },
    Spec {
        name: "inflight",
        description: "In-flight work (uncommitted, ahead or behind the trunk) across projects or in one, most recent first.",
        read_only: true,
        destructive: false,
        schema: schema::<ProjectInput>,
    },
    Spec {
        name: "resolve_path",
        description: "The directory of a project's trunk, or of one of its worktrees (by directory name).",
        read_only: true,
        destructive: false,
        schema: schema::<PathInput>,
    },
    Spec {
        name: "create_worktree",
        description: "Create a worktree by convention (`feat` + `login` makes feat-login on branch feat/login) from the remote's default branch; returns its path. Idempotent.",
        read_only: false,
        destructive: false,
        schema: schema::<CreateInput>,
    },
    Spec {
        name: "review_pr",
        description: "Check out a pull/merge request into worktree pr-<number> for review.",
        read_only: false,
        destructive: false,
        schema: schema::<ReviewInput>,
    },
    Spec {
        name: "sync",
        description: "Read every worktree of this host from git and record its state (uncommitted files, ahead/behind) in the registry.",
        read_only: false,
        destructive: false,
        schema: schema::<ProjectInput>,
    },
    Spec {
        name: "claim",
        description: "Claim a worktree for this agent (on every host), optionally with a lease; refused with CONFLICT naming the holder when another agent holds it. Returns the epoch (fencing token).",
        read_only: false,
        destructive: false,
        schema: schema::<ClaimInput>,
    },
    Spec {
        name: "renew",
        description: "Extend this agent's lease on a claimed worktree.",
        read_only: false,
        destructive: false,
        schema: schema::<RenewInput>,
    },
    Spec {
        name: "release",
        description: "Release this agent's claim on a worktree (force: anyone's, logged).",
        read_only: false,
        destructive: false,
        schema: schema::<ReleaseInput>,
    },
    Spec {
        name: "log_activity",
        description: "Append an entry to the activity log (what this agent did, for people and other agents).",
        read_only: false,
        destructive: false,
        schema: schema::<LogInput>,
    },
    Spec {
        name: "merge",
        description: "Merge a worktree's branch into the trunk's default branch, record the merge, remove the worktree and its branch. Refuses dirty work and conflicts (nothing changes).",
        read_only: false,
        destructive: true,
        schema: schema::<MergeInput>,
    },
    Spec {
        name: "remove",
        description: "Remove a worktree; refuses uncommitted or unmerged work unless force.",
        read_only: false,
        destructive: true,
        schema: schema::<RemoveInput>,
    },
    Spec {
        name: "events_since",
        description: "Registry events (worktrees created, git state, claims, merges, ...) after an id, oldest first; pass the returned last_id next time.",
        read_only: true,
        destructive: false,
        schema: schema::<EventsInput>,
    },
];

/// The tool definitions `tools/list` returns (also snapshot-tested).
pub fn tools() -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|t| {
            let mut tool = Tool::new(t.name, t.description, (t.schema)());
            tool.annotations = Some(
                ToolAnnotations::new()
                    .read_only(t.read_only)
                    .destructive(t.destructive),
            );
            tool
        })
        .collect()
}

/// The MCP server: one environment (settings, agent, the registry once opened) for
/// every call.
#[derive(Clone)]
pub struct ImiMcp {
    env: Arc<Env>,
    /// `--remote`: every tool is a request to this `imi serve` instead.
    remote: Option<Arc<crate::mcp_remote::Remote>>,
}

impl ImiMcp {
    pub fn new(env: Env, remote: Option<crate::mcp_remote::Remote>) -> ImiMcp {
        ImiMcp {
            env: Arc::new(env),
            remote: remote.map(Arc::new),
        }
    }
}

pub(crate) fn decode<T: DeserializeOwned>(tool: &str, args: &Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(args.clone())).map_err(|e| {
        Error::validation(format!("invalid arguments for {tool}: {e}"))
            .with_hint("see the tool's input schema (tools/list)")
    })
}

fn report<R: Report>(r: &R) -> Result<Value> {
    serde_json::to_value(r)
        .map_err(|e| Error::internal(format!("cannot encode the result as JSON: {e}")))
}

fn error_value(e: &Error) -> Value {
    json!({
        "code": e.code(),
        "message": imi_core::redact(&e.message),
        "hint": e.hint.as_deref().map(imi_core::redact),
    })
}

/// Refuses any string argument longer than [`MAX_ARGUMENT_BYTES`].
pub(crate) fn check_sizes(args: &Map<String, Value>) -> Result<()> {
    fn walk(v: &Value) -> bool {
        match v {
            Value::String(s) => s.len() <= MAX_ARGUMENT_BYTES,
            Value::Array(a) => a.iter().all(walk),
            Value::Object(o) => o.values().all(walk),
            _ => true,
        }
    }
    if args.values().all(walk) {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "an argument is longer than {MAX_ARGUMENT_BYTES} bytes"
        ))
        .with_hint("shorten it"))
    }
}

/// Logs the call's `explanation` (when given) as an activity of this agent.
async fn explain(
    env: &Env,
    tool: &str,
    project: Option<String>,
    worktree: Option<String>,
    why: Option<String>,
) {
    let Some(why) = why.filter(|w| !w.trim().is_empty()) else {
        return;
    };
    let add = ops::log::AddArgs {
        project,
        activity_type: "other".into(),
        description: format!("{tool}: {why}"),
        worktree,
        file: None,
    };
    if let Err(e) = ops::log::add(env, &add).await {
        eprintln!(
            "imi mcp: the explanation of {tool} was not logged: {}",
            imi_core::redact(&e.message)
        );
    }
}

async fn call(env: &Env, tool: &str, args: &Map<String, Value>) -> Result<Value> {
    check_sizes(args)?;
    match tool {
        "list_projects" => {
            let a: ExplanationOnly = decode(tool, args)?;
            let r = ops::list::projects(env).await?;
            explain(env, tool, None, None, a.explanation).await;
            report(&r)
        }
        "list_worktrees" => {
            let a: ProjectInput = decode(tool, args)?;
            let r = ops::list::worktrees(env, a.project.as_deref()).await?;
            explain(env, tool, a.project, None, a.explanation).await;
            report(&r)
        }
        "inflight" => {
            let a: ProjectInput = decode(tool, args)?;
            let r = ops::inflight::inflight(
                env,
                &ops::inflight::Args {
                    project: a.project.clone(),
                },
            )
            .await?;
            explain(env, tool, a.project, None, a.explanation).await;
            report(&r)
        }
        "resolve_path" => {
            let a: PathInput = decode(tool, args)?;
            let r = ops::list::path(env, a.project.as_deref(), a.worktree.as_deref()).await?;
            explain(env, tool, a.project, None, a.explanation).await;
            report(&r)
        }
        "create_worktree" => {
            let a: CreateInput = decode(tool, args)?;
            let r = ops::add::add(
                env,
                &ops::add::AddArgs {
                    project: a.project.clone(),
                    type_name: a.type_name,
                    name: a.name,
                    from: a.from,
                    fetch: true,
                    no_hooks: a.no_hooks,
                },
            )
            .await?;
            explain(
                env,
                tool,
                a.project,
                Some(r.worktree.name.clone()),
                a.explanation,
            )
            .await;
            report(&r)
        }
        "review_pr" => {
            let a: ReviewInput = decode(tool, args)?;
            let r = ops::add::review(
                env,
                &ops::add::ReviewArgs {
                    project: a.project.clone(),
                    number: a.number,
                    no_hooks: a.no_hooks,
                },
            )
            .await?;
            explain(
                env,
                tool,
                a.project,
                Some(r.worktree.name.clone()),
                a.explanation,
            )
            .await;
            report(&r)
        }
        "sync" => {
            let a: ProjectInput = decode(tool, args)?;
            let r = ops::sync::sync(
                env,
                &ops::sync::SyncArgs {
                    project: a.project.clone(),
                    ..Default::default()
                },
            )
            .await?;
            explain(env, tool, a.project, None, a.explanation).await;
            report(&r)
        }
        "claim" => {
            let a: ClaimInput = decode(tool, args)?;
            let target = ops::claims::Target {
                project: a.project.clone(),
                worktree: a.worktree.clone(),
            };
            let r = ops::claims::claim(
                env,
                &ops::claims::ClaimArgs {
                    target,
                    ttl_seconds: a.ttl_seconds,
                    purpose: a.purpose,
                },
            )
            .await?;
            explain(
                env,
                tool,
                a.project,
                Some(r.claim.worktree_name.clone()),
                a.explanation,
            )
            .await;
            report(&r)
        }
        "renew" => {
            let a: RenewInput = decode(tool, args)?;
            let target = ops::claims::Target {
                project: a.project.clone(),
                worktree: a.worktree.clone(),
            };
            let r = ops::claims::renew(
                env,
                &ops::claims::RenewArgs {
                    target,
                    ttl_seconds: a.ttl_seconds,
                    epoch: a.epoch,
                },
            )
            .await?;
            explain(
                env,
                tool,
                a.project,
                Some(r.claim.worktree_name.clone()),
                a.explanation,
            )
            .await;
            report(&r)
        }
        "release" => {
            let a: ReleaseInput = decode(tool, args)?;
            let target = ops::claims::Target {
                project: a.project.clone(),
                worktree: a.worktree.clone(),
            };
            let r = ops::claims::release(
                env,
                &ops::claims::ReleaseArgs {
                    target,
                    force: a.force,
                    epoch: a.epoch,
                },
            )
            .await?;
            explain(
                env,
                tool,
                a.project,
                Some(r.claim.worktree_name.clone()),
                a.explanation,
            )
            .await;
            report(&r)
        }
        "log_activity" => {
            let a: LogInput = decode(tool, args)?;
            let r = ops::log::add(
                env,
                &ops::log::AddArgs {
                    project: a.project,
                    activity_type: a.activity_type,
                    description: a.description,
                    worktree: a.worktree,
                    file: a.file,
                },
            )
            .await?;
            report(&r)
        }
        "merge" => {
            let a: MergeInput = decode(tool, args)?;
            let r = ops::merge::merge(
                env,
                &ops::merge::MergeArgs {
                    project: a.project.clone(),
                    name: a.worktree,
                    squash: a.squash,
                    ff_only: a.ff_only,
                    push: a.push,
                    force: a.force,
                    no_hooks: a.no_hooks,
                },
            )
            .await?;
            // the worktree is gone: the explanation goes on the project's log
            explain(env, tool, a.project, None, a.explanation).await;
            match r.failure() {
                Some(e) => Err(e.clone()),
                None => report(&r),
            }
        }
        "remove" => {
            let a: RemoveInput = decode(tool, args)?;
            let r = ops::remove::remove(
                env,
                &ops::remove::RemoveArgs {
                    project: a.project.clone(),
                    name: a.worktree,
                    force: a.force,
                    keep_branch: a.keep_branch,
                    no_hooks: a.no_hooks,
                },
            )
            .await?;
            explain(env, tool, a.project, None, a.explanation).await;
            report(&r)
        }
        "events_since" => {
            let a: EventsInput = decode(tool, args)?;
            let r = ops::events::list(
                env,
                &ops::events::EventsArgs {
                    project: a.project,
                    since: a.since,
                    types: a.types,
                    limit: a.limit.unwrap_or(ops::events::DEFAULT_LIMIT),
                },
            )
            .await?;
            report(&r)
        }
        other => Err(
            Error::new(ErrorKind::NotFound, format!("no tool named {other:?}"))
                .with_hint("list the tools with tools/list"),
        ),
    }
}

impl ServerHandler for ImiMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("imi", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "imi: worktrees by convention and a shared registry of projects, worktrees, \
                 their git state, claims and events. Typical loop: list_projects, \
                 create_worktree, claim, work and commit in the returned path, sync, \
                 log_activity, merge (which releases the claim). Errors carry a code \
                 (NOT_FOUND, CONFLICT, VALIDATION_ERROR, UNSAFE, ...) and a hint.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, McpError> {
        let env = Arc::clone(&self.env);
        let remote = self.remote.clone();
        let name: Cow<'static, str> = request.name.clone();
        let args = request.arguments.unwrap_or_default();
        // a task of its own: a panic in a tool is an error of that call only
        let done = tokio::spawn(async move {
            match remote {
                Some(r) => crate::mcp_remote::call(&r, &name, &args).await,
                None => call(&env, &name, &args).await.map_err(|e| error_value(&e)),
            }
        })
        .await;
        let result = match done {
            Ok(Ok(value)) => CallToolResult::structured(value),
            Ok(Err(e)) => CallToolResult::structured_error(e),
            Err(join) => CallToolResult::structured_error(error_value(&Error::internal(format!(
                "the tool {} failed unexpectedly ({join})",
                request.name
            )))),
        };
        Ok(result.into())
    }
}

/// Serves MCP on stdin/stdout until the client closes the connection.
/// With `remote`, every tool is a request to that `imi serve`.
pub async fn serve(env: Env, remote: Option<crate::mcp_remote::Remote>) -> Result<()> {
    let running = ImiMcp::new(env, remote)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::internal(format!("MCP initialisation failed: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| Error::internal(format!("the MCP server stopped: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tools' contract (names, descriptions, input schemas, annotations): a
    /// change shows in review as a change of `snapshots/imi__mcp__tests__tools.snap`.
    #[test]
    fn tool_schemas() {
        let text = serde_json::to_string_pretty(&tools()).expect("tools encode as JSON");
        insta::assert_snapshot!("tools", text);
    }

    #[test]
    fn every_tool_has_a_schema_with_an_explanation_or_is_a_log() {
        for t in tools() {
            let props = t.input_schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(
                props.contains_key("explanation")
                    || t.name == "log_activity"
                    || t.name == "events_since",
                "{} takes no explanation",
                t.name
            );
            assert!(t.annotations.is_some(), "{}", t.name);
        }
    }
}
