//! The routes of `/api/v1` and `/health`. Each is a thin shell over an operation of
//! [`crate::ops`]: decode the request, call the operation, wrap its report in the
//! envelope. Every route is registered through `routes!`, which puts it into the
//! OpenAPI document too: a route cannot exist without its documentation.

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, FromRequest, FromRequestParts, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use imi_core::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::Caller;
use super::input::{self, shape};
use super::{ApiError, Envelope, Failure, State, detached, detached_git, stream};
use crate::ops::{self, Env, Report};
use crate::registry::with_store;

// --- extractors whose rejections are envelopes ------------------------------------------

/// A JSON body: one object (every request body is); anything else, or a malformed
/// one, is a 400 in the envelope. (serde reads a struct from an array as well, so
/// `[]` would otherwise pass for a body whose fields are all optional.)
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(rejected(
                StatusCode::BAD_REQUEST,
                "request body",
                "expected a JSON object".to_string(),
            ));
        }
        serde_json::from_value(value)
            .map(Body)
            .map_err(|e| rejected(StatusCode::BAD_REQUEST, "request body", e.to_string()))
    }
}

/// Query parameters; malformed ones are a 400 in the envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters; malformed ones are a 400 in the envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

fn rejected(status: StatusCode, what: &str, detail: String) -> ApiError {
    let status = if status == StatusCode::PAYLOAD_TOO_LARGE {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(
        status,
        "VALIDATION_ERROR",
        Error::validation(format!("invalid {what}: {detail}"))
            .with_hint("see the API's OpenAPI document at /api/v1/openapi.json"),
    )
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        rejected(r.status(), "request body", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        rejected(r.status(), "query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        rejected(r.status(), "path", r.body_text())
    }
}

/// JSON Schema counts `2900.0` as an integer (a number whose fraction is zero);
/// serde does not. Integer fields of request bodies take both.
mod integer {
    use serde::de::{Deserialize, Deserializer, Error};

    /// `n` as an `i64` when it is a whole number in range.
    fn whole(n: &serde_json::Number) -> Option<i64> {
        if let Some(i) = n.as_i64() {
            return Some(i);
        }
        let f = n.as_f64()?;
        // 2^63 is exact as an f64; every whole f64 below it in magnitude fits
        let bound = 9_223_372_036_854_775_808.0_f64;
        #[allow(clippy::cast_possible_truncation)] // whole and in range: exact
        (f.fract() == 0.0 && f >= -bound && f < bound).then_some(f as i64)
    }

    fn checked<E: Error>(n: &serde_json::Number) -> Result<i64, E> {
        whole(n).ok_or_else(|| E::custom(format!("{n} is not a whole number in range")))
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(|n| checked(&n))
            .transpose()
    }

    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        u64::try_from(checked::<D::Error>(&n)?)
            .map_err(|_| D::Error::custom(format!("{n} is negative")))
    }
}

/// A `limit` query parameter: 1 to [`imi_core::events::MAX_LIMIT`], else 400.
fn limit(given: Option<i64>, default: i64) -> std::result::Result<i64, ApiError> {
    let max = imi_core::events::MAX_LIMIT;
    match given {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(Error::validation(format!("limit {n} is out of range"))
            .with_hint(format!("give a limit from 1 to {max}"))
            .into()),
    }
}

type Answer<T> = std::result::Result<(StatusCode, Json<Envelope<T>>), ApiError>;

fn ok<T: Report>(data: T) -> Answer<T> {
    answer(StatusCode::OK, data)
}

fn answer<T: Report>(status: StatusCode, data: T) -> Answer<T> {
    if let Some(e) = data.failure() {
        return Err(e.clone().into());
    }
    Ok((
        status,
        Json(Envelope {
            success: true,
            data,
        }),
    ))
}

/// 201 for a worktree made now, 200 for one that was there already.
fn created_or_found(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// The environment of one request: the caller's agent, no directory to infer from.
async fn env_of(state: &State, caller: &Caller) -> std::result::Result<Env, ApiError> {
    Ok(state
        .env
        .for_request(caller.agent.as_deref(), PathBuf::from("/"))
        .await?)
}

/// The worktree a request names, as the operations take it (its directory name):
/// the name itself, or the name of the worktree with that id, which must be an
/// active one of `project` on this server's host (the operations act on this host's
/// checkouts).
async fn worktree_named(
    env: &Env,
    project: &str,
    worktree: String,
) -> std::result::Result<String, ApiError> {
    let Ok(id) = uuid::Uuid::parse_str(&worktree) else {
        input::worktree_ref(&worktree)?;
        return Ok(worktree);
    };
    let gone = || {
        ApiError::from(
            Error::not_found(format!(
                "no active worktree with id {id} in project {project:?} on this server's host"
            ))
            .with_hint("list the project's worktrees: GET /api/v1/projects/{project}/worktrees"),
        )
    };
    let found = with_store!(env.store().await?, s => imi_core::Store::get_worktree(s, id).await);
    let w = match found {
        Ok(w) => w,
        Err(e) if e.kind == imi_core::ErrorKind::NotFound => return Err(gone()),
        Err(e) => return Err(e.into()),
    };
    let owner = ops::list::project(env, project).await?;
    if w.project_id != owner.project.id || !w.active || w.host != env.settings.host {
        return Err(gone());
    }
    Ok(w.name)
}

/// A create request whose body refers to something the project lacks (a type, a
/// start ref, a pull request) once the URL's project was found: the request is
/// sound and succeeds once the project has it, so it conflicts with the project's
/// present state (409 CONFLICT) rather than naming a missing resource (404).
fn lacking(e: ApiError) -> ApiError {
    if e.status == StatusCode::NOT_FOUND {
        ApiError::new(StatusCode::CONFLICT, "CONFLICT", e.error)
    } else {
        e
    }
}

/// A renew or release that found no claim: when the worktree is there, it is in
/// the wrong state for the request (409 CONFLICT), not missing (404).
async fn unclaimed(
    state: &State,
    caller: &Caller,
    named: &(String, String),
    e: ApiError,
) -> ApiError {
    if e.status != StatusCode::NOT_FOUND {
        return e;
    }
    let Ok(env) = env_of(state, caller).await else {
        return e;
    };
    match ops::list::worktree(&env, &named.0, &named.1).await {
        Ok(_) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", e.error),
        Err(_) => e,
    }
}

/// The error answers every route may give.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum Errors {
    /// Bad input (VALIDATION_ERROR); nothing was changed.
    #[response(status = 400)]
    BadRequest(Failure),
    /// No token, or not a valid one (UNAUTHORIZED).
    #[response(status = 401)]
    Unauthorized(Failure),
    /// The token's scope does not allow this, or the request came from a foreign
    /// page or host name (FORBIDDEN).
    #[response(status = 403)]
    Forbidden(Failure),
    /// No such project, worktree, type, claim or key (NOT_FOUND).
    #[response(status = 404)]
    NotFound(Failure),
    /// It contradicts the registry (CONFLICT: taken, claimed by another agent, exists,
    /// not claimed, or a type, start ref or pull request the project lacks)
    /// or git refused it in the repository's present state (GIT_ERROR).
    #[response(status = 409)]
    Conflict(Failure),
    /// The request body is larger than 256 KiB (VALIDATION_ERROR).
    #[response(status = 413)]
    TooLarge(Failure),
    /// Refused because it would lose work (UNSAFE): uncommitted or unmerged work.
    #[response(status = 422)]
    Unsafe(Failure),
    /// An unexpected failure (INTERNAL_ERROR).
    #[response(status = 500)]
    Internal(Failure),
    /// The registry cannot be reached (REGISTRY_UNAVAILABLE), or the request took too
    /// long (TIMEOUT).
    #[response(status = 503)]
    Unavailable(Failure),
}

// --- health and the document ------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The registry answered.
    pub registry_reachable: bool,
    /// The highest migration applied to the registry.
    pub schema_version: i64,
    /// The highest migration this server knows.
    pub schema_latest: i64,
    pub uptime_seconds: u64,
    /// This server's version.
    pub version: String,
    /// The host name this server records for worktrees it creates.
    pub host: String,
}

impl Report for Health {}

/// Whether the registry is reachable, its schema version, and the server's uptime.
#[utoipa::path(get, path = "/health", tag = "server",
    responses((status = 200, description = "The registry answered", body = Envelope<Health>), Errors))]
async fn health(AxState(state): AxState<State>) -> Answer<Health> {
    let store = state.env.store().await?;
    let status = with_store!(store, s => {
        imi_core::Store::ping(s).await?;
        imi_core::Store::schema_status(s).await
    })?;
    ok(Health {
        status: "ok".into(),
        backend: status.backend,
        registry_reachable: true,
        schema_version: status.applied,
        schema_latest: status.latest,
        uptime_seconds: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").into(),
        host: state.env.settings.host.clone(),
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)))]
async fn openapi() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(super::openapi_json);
    ([(header::CONTENT_TYPE, "application/json")], text.clone()).into_response()
}

// --- projects -----------------------------------------------------------------------------

/// The active projects.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects",
    responses((status = 200, description = "The active projects", body = Envelope<ops::list::Projects>), Errors))]
async fn list_projects(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
) -> Answer<ops::list::Projects> {
    let env = env_of(&state, &caller).await?;
    ok(ops::list::projects(&env).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProject {
    #[schema(schema_with = shape::absolute_path)]
    pub path: String,
    /// Move a repository that is outside imi's layout into it (a rename, as
    /// `imi init --yes`); without it such a repository is refused (422 UNSAFE).
    #[serde(default, rename = "move")]
    pub allow_move: bool,
}

/// Register the repository at a path on the server's host (needs the admin scope).
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = RegisterProject,
    responses((status = 201, description = "Registered (or already registered: idempotent)", body = Envelope<ops::init::Initialized>), Errors))]
async fn register_project(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<RegisterProject>,
) -> Answer<ops::init::Initialized> {
    let path = PathBuf::from(&body.path);
    if !path.is_absolute() {
        return Err(
            Error::validation(format!("{:?} is not an absolute path", body.path))
                .with_hint("give the repository's absolute path on the server's host")
                .into(),
        );
    }
    imi_core::model::check_path("path", &body.path)?;
    let mut env = env_of(&state, &caller).await?;
    env.cwd = path;
    let args = ops::init::InitArgs {
        url: None,
        allow_move: body.allow_move,
    };
    let r = detached_git("registering the project", async move {
        ops::init::init(&env, &args).await
    })
    .await?;
    answer(StatusCode::CREATED, r)
}

/// One project, by name, remote URL or id.
#[utoipa::path(get, path = "/api/v1/projects/{project}", tag = "projects",
    params(("project" = String, Path, description = "The project's name, remote URL (percent-encoded) or id")),
    responses((status = 200, description = "The project", body = Envelope<ops::list::OneProject>), Errors))]
async fn get_project(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
) -> Answer<ops::list::OneProject> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    ok(ops::list::project(&env, &project).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// A worktree's directory name; none: the trunk.
    #[param(schema_with = shape::worktree_name_query)]
    pub worktree: Option<String>,
}

/// The deterministic path of the trunk, or of a worktree by directory name.
#[utoipa::path(get, path = "/api/v1/projects/{project}/path", tag = "projects",
    params(("project" = String, Path, description = "The project's name, remote URL or id"), PathQuery),
    responses((status = 200, description = "The path", body = Envelope<ops::list::ResolvedPath>), Errors))]
async fn project_path(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    Query(q): Query<PathQuery>,
) -> Answer<ops::list::ResolvedPath> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    ok(ops::list::path(&env, Some(&project), q.worktree.as_deref()).await?)
}

// --- worktrees ----------------------------------------------------------------------------

/// A project's worktrees on every host, with their git state and who holds each claim.
#[utoipa::path(get, path = "/api/v1/projects/{project}/worktrees", tag = "worktrees",
    params(("project" = String, Path, description = "The project's name, remote URL or id")),
    responses((status = 200, description = "The active worktrees", body = Envelope<ops::list::Worktrees>), Errors))]
async fn list_worktrees(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
) -> std::result::Result<Response, ApiError> {
    input::project_ref(&project)?;
    // agents poll this: the answer is kept until a commit (any process, any host)
    // or the end of a lease it shows, and sent again byte for byte
    let store = state.env.store().await?;
    let token = with_store!(store, s => imi_core::Store::change_token(s).await)?;
    let body = match state.answers.get(&project, &token) {
        Some(body) => body,
        None => {
            let env = env_of(&state, &caller).await?;
            let (listing, until) = ops::list::worktrees_until(&env, Some(&project)).await?;
            let body = serde_json::to_vec(&Envelope {
                success: true,
                data: listing,
            })
            .map_err(|e| {
                ApiError::from(Error::internal(format!("cannot write the listing: {e}")))
            })?;
            let body = axum::body::Bytes::from(body);
            state.answers.put(project, token, until, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorktree {
    /// feat, fix, aiops, devops, review or a custom type.
    #[serde(rename = "type")]
    pub type_name: String,
    #[schema(schema_with = shape::worktree_name)]
    pub name: String,
    /// Start from this ref instead of the remote's default branch.
    pub from: Option<String>,
    /// Skip the post-create hooks (ignored files are still copied).
    #[serde(default)]
    pub no_hooks: bool,
}

/// Create a worktree by convention on the server's host (idempotent: an existing
/// one is returned with `created: false`).
#[utoipa::path(post, path = "/api/v1/projects/{project}/worktrees", tag = "worktrees", request_body = CreateWorktree,
    params(("project" = String, Path, description = "The project's name, remote URL or id")),
    responses((status = 201, description = "Created", body = Envelope<ops::add::Added>),
              (status = 200, description = "It was there already (`created` is false)", body = Envelope<ops::add::Added>), Errors))]
async fn create_worktree(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    Body(body): Body<CreateWorktree>,
) -> Answer<ops::add::Added> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    // the URL's project first: missing, it is the 404
    ops::list::project(&env, &project).await?;
    // the type is looked up: one the registry lacks is a conflict (see `lacking`;
    // the operation's own check calls it bad input, as the CLI does)
    let types = ops::types::list(&env).await?;
    if !types.types.iter().any(|t| t.name == body.type_name) {
        return Err(lacking(input::unknown_type(&body.type_name)));
    }
    let args = ops::add::AddArgs {
        project: Some(project),
        type_name: body.type_name,
        name: body.name,
        from: body.from,
        fetch: true,
        no_hooks: body.no_hooks,
    };
    let r = detached_git("creating the worktree", async move {
        ops::add::add(&env, &args).await
    })
    .await
    .map_err(lacking)?;
    answer(created_or_found(r.created), r)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReview {
    /// The pull request (GitHub) or merge request (GitLab) number.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "integer::u64")]
    pub number: u64,
    /// Skip the post-create hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

/// Check out a pull/merge request into worktree `pr-<number>`.
#[utoipa::path(post, path = "/api/v1/projects/{project}/reviews", tag = "worktrees", request_body = CreateReview,
    params(("project" = String, Path, description = "The project's name, remote URL or id")),
    responses((status = 201, description = "Created", body = Envelope<ops::add::Added>),
              (status = 200, description = "It was there already (`created` is false)", body = Envelope<ops::add::Added>), Errors))]
async fn create_review(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    Body(body): Body<CreateReview>,
) -> Answer<ops::add::Added> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    // the URL's project first: missing, it is the 404
    ops::list::project(&env, &project).await?;
    let args = ops::add::ReviewArgs {
        project: Some(project),
        number: body.number,
        no_hooks: body.no_hooks,
    };
    let r = detached_git("creating the review worktree", async move {
        ops::add::review(&env, &args).await
    })
    .await
    .map_err(lacking)?;
    answer(created_or_found(r.created), r)
}

/// One worktree with its git state (its checkout on the server's host, else the
/// most recently updated one).
#[utoipa::path(get, path = "/api/v1/projects/{project}/worktrees/{worktree}", tag = "worktrees",
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "The worktree", body = Envelope<ops::list::OneWorktree>), Errors))]
async fn get_worktree(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
) -> Answer<ops::list::OneWorktree> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    ok(ops::list::worktree(&env, &project, &worktree).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Remove despite uncommitted or unmerged work (commits on no branch are kept
    /// on refs/imi/rescued/...), or another agent's claim (logged).
    #[serde(default)]
    pub force: bool,
    /// Keep the branch even when it is merged.
    #[serde(default)]
    pub keep_branch: bool,
    /// Skip the pre-remove hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

/// Remove a worktree and its merged branch; refuses (422 UNSAFE) uncommitted or
/// unmerged work without `force`.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/worktrees/{worktree}", tag = "worktrees",
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id"), RemoveQuery),
    responses((status = 200, description = "Removed", body = Envelope<ops::remove::Removed>), Errors))]
async fn remove_worktree(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
    Query(q): Query<RemoveQuery>,
) -> Answer<ops::remove::Removed> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::remove::RemoveArgs {
        project: Some(project),
        name: worktree,
        force: q.force,
        keep_branch: q.keep_branch,
        no_hooks: q.no_hooks,
    };
    let r = detached_git("removing the worktree", async move {
        ops::remove::remove(&env, &args).await
    })
    .await?;
    ok(r)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseWorktree {
    /// Discard uncommitted files (commits on no branch are kept on a rescue ref).
    #[serde(default)]
    pub force: bool,
    /// Skip the pre-remove hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

/// Abandon a worktree: remove it, keep its branch.
#[utoipa::path(post, path = "/api/v1/projects/{project}/worktrees/{worktree}/close", tag = "worktrees", request_body = CloseWorktree,
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "Closed", body = Envelope<ops::remove::Removed>), Errors))]
async fn close_worktree(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
    Body(body): Body<CloseWorktree>,
) -> Answer<ops::remove::Removed> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::remove::CloseArgs {
        project: Some(project),
        name: worktree,
        force: body.force,
        no_hooks: body.no_hooks,
    };
    let r = detached_git("closing the worktree", async move {
        ops::remove::close(&env, &args).await
    })
    .await?;
    ok(r)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeWorktree {
    /// One squashed commit instead of a merge commit.
    #[serde(default)]
    pub squash: bool,
    /// Only a fast-forward.
    #[serde(default)]
    pub ff_only: bool,
    /// Push the trunk's branch afterwards.
    #[serde(default)]
    pub push: bool,
    /// Merge although another agent holds the claim (logged).
    #[serde(default)]
    pub force: bool,
    /// Skip the post-merge hooks.
    #[serde(default)]
    pub no_hooks: bool,
}

/// Merge a worktree's branch into the trunk's default branch, record it, remove
/// the worktree and its branch. Refuses dirty work and conflicts (nothing changes).
#[utoipa::path(post, path = "/api/v1/projects/{project}/worktrees/{worktree}/merge", tag = "worktrees", request_body = MergeWorktree,
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "Merged", body = Envelope<ops::merge::Merged>), Errors))]
async fn merge_worktree(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
    Body(body): Body<MergeWorktree>,
) -> Answer<ops::merge::Merged> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::merge::MergeArgs {
        project: Some(project),
        name: Some(worktree),
        squash: body.squash,
        ff_only: body.ff_only,
        push: body.push,
        force: body.force,
        no_hooks: body.no_hooks,
    };
    let r = detached_git(
        "merging",
        async move { ops::merge::merge(&env, &args).await },
    )
    .await?;
    ok(r)
}

// --- metadata -----------------------------------------------------------------------------

/// A worktree's whole metadata object.
#[utoipa::path(get, path = "/api/v1/projects/{project}/worktrees/{worktree}/metadata", tag = "metadata",
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "The metadata", body = Envelope<ops::metadata::MetadataValue>), Errors))]
async fn get_all_metadata(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
) -> Answer<ops::metadata::MetadataValue> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::metadata::GetArgs {
        target: ops::metadata::Target {
            project: Some(project),
            worktree,
        },
        key: None,
    };
    ok(ops::metadata::get(&env, &args).await?)
}

/// One value of a worktree's metadata, by dotted key (`plane.ticket_id`).
#[utoipa::path(get, path = "/api/v1/projects/{project}/worktrees/{worktree}/metadata/{key}", tag = "metadata",
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id"),
           ("key" = String, Path, description = "A dotted key")),
    responses((status = 200, description = "The value", body = Envelope<ops::metadata::MetadataValue>), Errors))]
async fn get_metadata(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree, key)): Path<(String, String, String)>,
) -> Answer<ops::metadata::MetadataValue> {
    input::project_ref(&project)?;
    input::key_ref(&key)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::metadata::GetArgs {
        target: ops::metadata::Target {
            project: Some(project),
            worktree,
        },
        key: Some(key),
    };
    ok(ops::metadata::get(&env, &args).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMetadata {
    /// Any JSON value (no NUL character in its strings); set at the dotted key
    /// without touching its siblings.
    #[schema(value_type = shape::JsonValue)]
    pub value: serde_json::Value,
    /// Change a worktree another agent has claimed (logged).
    #[serde(default)]
    pub force: bool,
}

/// The key of a metadata value to set (its shape, for the document; the handler
/// reads it with the other path parameters).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct KeyParam {
    #[param(schema_with = shape::metadata_key)]
    pub key: String,
}

/// Set a value at a dotted key.
#[utoipa::path(put, path = "/api/v1/projects/{project}/worktrees/{worktree}/metadata/{key}", tag = "metadata", request_body = PutMetadata,
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id"),
           KeyParam),
    responses((status = 200, description = "Set", body = Envelope<ops::metadata::MetadataSet>), Errors))]
async fn put_metadata(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree, key)): Path<(String, String, String)>,
    Body(body): Body<PutMetadata>,
) -> Answer<ops::metadata::MetadataSet> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::metadata::SetArgs {
        target: ops::metadata::Target {
            project: Some(project),
            worktree,
        },
        key,
        // the operation parses the text as JSON: the value's own JSON text
        value: body.value.to_string(),
        force: body.force,
    };
    let r = detached("setting metadata", async move {
        ops::metadata::set(&env, &args).await
    })
    .await?;
    ok(r)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForceQuery {
    /// Change a worktree another agent has claimed (logged).
    #[serde(default)]
    pub force: bool,
}

/// Remove the value at a dotted key.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/worktrees/{worktree}/metadata/{key}", tag = "metadata",
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id"),
           ("key" = String, Path, description = "A dotted key"), ForceQuery),
    responses((status = 200, description = "Removed (or was not there)", body = Envelope<ops::metadata::MetadataUnset>), Errors))]
async fn delete_metadata(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree, key)): Path<(String, String, String)>,
    Query(q): Query<ForceQuery>,
) -> Answer<ops::metadata::MetadataUnset> {
    input::project_ref(&project)?;
    input::key_ref(&key)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::metadata::UnsetArgs {
        target: ops::metadata::Target {
            project: Some(project),
            worktree,
        },
        key,
        force: q.force,
    };
    let r = detached("removing metadata", async move {
        ops::metadata::unset(&env, &args).await
    })
    .await?;
    ok(r)
}

// --- claims -------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// Lease length in seconds; none: held until released.
    #[schema(schema_with = shape::ttl_opt)]
    #[serde(default, deserialize_with = "integer::opt_i64")]
    pub ttl_seconds: Option<i64>,
    #[schema(schema_with = shape::purpose_opt)]
    pub purpose: Option<String>,
}

fn target(project: String, worktree: String) -> ops::claims::Target {
    ops::claims::Target {
        project: Some(project),
        worktree: Some(worktree),
    }
}

/// Claim a worktree for the calling agent (header `X-Imi-Agent`), on every host;
/// 409 CONFLICT names the holder. Claiming again as the holder renews.
#[utoipa::path(post, path = "/api/v1/projects/{project}/worktrees/{worktree}/claim", tag = "claims", request_body = ClaimBody,
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "Claimed (or renewed)", body = Envelope<ops::claims::ClaimReport>), Errors))]
async fn claim(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
    Body(body): Body<ClaimBody>,
) -> Answer<ops::claims::ClaimReport> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let args = ops::claims::ClaimArgs {
        target: target(project, worktree),
        ttl_seconds: body.ttl_seconds,
        purpose: body.purpose,
    };
    let r = detached(
        "claiming",
        async move { ops::claims::claim(&env, &args).await },
    )
    .await?;
    ok(r)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    /// New lease length in seconds from now; none: the claim's own.
    #[schema(schema_with = shape::ttl_opt)]
    #[serde(default, deserialize_with = "integer::opt_i64")]
    pub ttl_seconds: Option<i64>,
    /// The tenure (the claim's `epoch`); none: the current one.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "integer::opt_i64")]
    pub epoch: Option<i64>,
}

/// Extend the calling agent's lease.
#[utoipa::path(post, path = "/api/v1/projects/{project}/worktrees/{worktree}/renew", tag = "claims", request_body = RenewBody,
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "Renewed", body = Envelope<ops::claims::ClaimReport>), Errors))]
async fn renew(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
    Body(body): Body<RenewBody>,
) -> Answer<ops::claims::ClaimReport> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let named = (project.clone(), worktree.clone());
    let args = ops::claims::RenewArgs {
        target: target(project, worktree),
        ttl_seconds: body.ttl_seconds,
        epoch: body.epoch,
    };
    let r = detached(
        "renewing",
        async move { ops::claims::renew(&env, &args).await },
    )
    .await;
    match r {
        Ok(r) => ok(r),
        Err(e) => Err(unclaimed(&state, &caller, &named, e).await),
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// The tenure (the claim's `epoch`); none: the current one.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "integer::opt_i64")]
    pub epoch: Option<i64>,
    /// Release another agent's claim (logged with its name).
    #[serde(default)]
    pub force: bool,
}

/// [`ReleaseBody`] as the document states it: its fields, and the one rule across
/// them: a forced release ends whichever tenure holds the claim, so it names none.
struct ReleaseBodyDoc;

impl utoipa::PartialSchema for ReleaseBodyDoc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let unforced = ObjectBuilder::new().property(
            "force",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([false])),
        );
        let no_epoch =
            ObjectBuilder::new().property("epoch", ObjectBuilder::new().schema_type(Type::Null));
        with_rule(
            <ReleaseBody as utoipa::PartialSchema>::schema(),
            [unforced, no_epoch],
            "Which tenure to end. `force` ends whichever holds the claim, so it \
             takes no `epoch`.",
        )
    }
}

/// A body's schema and one rule across its fields, as the document states it: the
/// fields' schema, and at least one of `either` holds.
fn with_rule(
    fields: utoipa::openapi::RefOr<utoipa::openapi::Schema>,
    either: [utoipa::openapi::schema::ObjectBuilder; 2],
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder};
    let [a, b] = either;
    let doc = AllOfBuilder::new()
        .item(fields)
        .item(AnyOfBuilder::new().item(a).item(b))
        .description(Some(description))
        .build();
    utoipa::openapi::RefOr::T(utoipa::openapi::Schema::AllOf(doc))
}

impl ToSchema for ReleaseBodyDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ReleaseBody")
    }
}

/// Release the calling agent's claim (`force`: anyone's, logged).
#[utoipa::path(post, path = "/api/v1/projects/{project}/worktrees/{worktree}/release", tag = "claims", request_body = ReleaseBodyDoc,
    params(("project" = String, Path, description = "The project's name, remote URL or id"),
           ("worktree" = String, Path, description = "The worktree's directory name, or its id")),
    responses((status = 200, description = "Released", body = Envelope<ops::claims::ClaimReport>), Errors))]
async fn release(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path((project, worktree)): Path<(String, String)>,
    Body(body): Body<ReleaseBody>,
) -> Answer<ops::claims::ClaimReport> {
    input::project_ref(&project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = worktree_named(&env, &project, worktree).await?;
    let named = (project.clone(), worktree.clone());
    let args = ops::claims::ReleaseArgs {
        target: target(project, worktree),
        force: body.force,
        epoch: body.epoch,
    };
    let r = detached("releasing", async move {
        ops::claims::release(&env, &args).await
    })
    .await;
    match r {
        Ok(r) => ok(r),
        Err(e) => Err(unclaimed(&state, &caller, &named, e).await),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimsQuery {
    /// One project (name, remote or id); none: every project.
    pub project: Option<String>,
    /// Also released and expired claims.
    #[serde(default)]
    pub all: bool,
}

/// Held claims: holder, host, epoch, purpose, lease.
#[utoipa::path(get, path = "/api/v1/claims", tag = "claims", params(ClaimsQuery),
    responses((status = 200, description = "The claims", body = Envelope<ops::claims::ClaimList>), Errors))]
async fn list_claims(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ClaimsQuery>,
) -> Answer<ops::claims::ClaimList> {
    if let Some(p) = &q.project {
        input::project_ref(p)?;
    }
    let env = env_of(&state, &caller).await?;
    let args = ops::claims::ListArgs {
        project: q.project,
        all: q.all,
    };
    ok(ops::claims::list(&env, &args).await?)
}

// --- sync, in-flight, stats ---------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// One project (name, remote or id); none: every project.
    pub project: Option<String>,
}

/// Read the git state of every worktree on the server's host and record it.
#[utoipa::path(post, path = "/api/v1/sync", tag = "git state", request_body = SyncBody,
    responses((status = 200, description = "Synced", body = Envelope<ops::sync::Synced>), Errors))]
async fn sync(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<SyncBody>,
) -> Answer<ops::sync::Synced> {
    if let Some(p) = &body.project {
        input::project_ref(p)?;
    }
    let env = env_of(&state, &caller).await?;
    let args = ops::sync::SyncArgs {
        project: body.project,
        ..Default::default()
    };
    let r = detached_git("syncing", async move { ops::sync::sync(&env, &args).await }).await?;
    ok(r)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// One project (name, remote or id); none: every project.
    pub project: Option<String>,
}

/// In-flight work (uncommitted, ahead or behind), most recent first.
#[utoipa::path(get, path = "/api/v1/inflight", tag = "git state", params(ProjectQuery),
    responses((status = 200, description = "In-flight work", body = Envelope<ops::inflight::Inflight>), Errors))]
async fn inflight(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ProjectQuery>,
) -> Answer<ops::inflight::Inflight> {
    if let Some(p) = &q.project {
        input::project_ref(p)?;
    }
    let env = env_of(&state, &caller).await?;
    let args = ops::inflight::Args { project: q.project };
    ok(ops::inflight::inflight(&env, &args).await?)
}

/// Counts of projects, worktrees, in-flight work and activities.
#[utoipa::path(get, path = "/api/v1/stats", tag = "git state",
    responses((status = 200, description = "The registry's statistics", body = Envelope<ops::inflight::Stats>), Errors))]
async fn stats(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
) -> Answer<ops::inflight::Stats> {
    let env = env_of(&state, &caller).await?;
    ok(ops::inflight::stats(&env).await?)
}

// --- activities ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivitiesQuery {
    /// Only this agent's entries.
    pub agent: Option<String>,
    /// At most this many (1 to 10000, default 50).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// The activity log, newest first.
#[utoipa::path(get, path = "/api/v1/activities", tag = "activities", params(ActivitiesQuery),
    responses((status = 200, description = "Activities", body = Envelope<ops::log::ActivityLog>), Errors))]
async fn list_activities(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ActivitiesQuery>,
) -> Answer<ops::log::ActivityLog> {
    let limit = limit(q.limit, 50)?;
    if let Some(agent) = &q.agent
        && imi_core::model::check_id("agent id", agent).is_err()
    {
        // no agent has such an id: none has entries
        return ok(ops::log::ActivityLog { activities: vec![] });
    }
    let env = env_of(&state, &caller).await?;
    let args = ops::log::ListArgs {
        agent: q.agent,
        limit,
    };
    ok(ops::log::list(&env, &args).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogBody {
    /// The project (name, remote or id).
    pub project: String,
    /// The worktree it concerns (directory name, or id).
    pub worktree: Option<String>,
    #[schema(schema_with = shape::activity_type)]
    pub activity_type: String,
    /// What happened, for people and other agents.
    #[schema(schema_with = shape::text)]
    pub description: String,
    #[schema(schema_with = shape::file_opt)]
    pub file: Option<String>,
}

/// Append an entry to the activity log, as the calling agent.
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = LogBody,
    responses((status = 201, description = "Logged", body = Envelope<ops::log::Logged>), Errors))]
async fn log_activity(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<LogBody>,
) -> Answer<ops::log::Logged> {
    input::project_ref(&body.project)?;
    let env = env_of(&state, &caller).await?;
    let worktree = match body.worktree {
        Some(w) => Some(worktree_named(&env, &body.project, w).await?),
        None => None,
    };
    let args = ops::log::AddArgs {
        project: Some(body.project),
        activity_type: body.activity_type,
        description: body.description,
        worktree,
        file: body.file,
    };
    let r = detached("logging", async move { ops::log::add(&env, &args).await }).await?;
    answer(StatusCode::CREATED, r)
}

// --- types --------------------------------------------------------------------------------

/// Every worktree type, built-in and custom.
#[utoipa::path(get, path = "/api/v1/types", tag = "types",
    responses((status = 200, description = "The types", body = Envelope<ops::types::TypeList>), Errors))]
async fn list_types(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
) -> Answer<ops::types::TypeList> {
    let env = env_of(&state, &caller).await?;
    ok(ops::types::list(&env).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewType {
    #[schema(schema_with = shape::type_name)]
    pub name: String,
    #[schema(schema_with = shape::branch_prefix_opt)]
    pub branch_prefix: Option<String>,
    #[schema(schema_with = shape::worktree_prefix_opt)]
    pub worktree_prefix: Option<String>,
    #[schema(schema_with = shape::text_opt)]
    pub description: Option<String>,
}

/// [`NewType`] as the document states it: its fields, and the one rule across
/// them: without a `worktree_prefix`, the default `<name>-` must not make
/// directories named like a trunk, so a name `trunk` or `trunk-...` needs one.
struct NewTypeDoc;

impl utoipa::PartialSchema for NewTypeDoc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let plain_name = ObjectBuilder::new().property(
            "name",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(?!trunk(?:-|$))")),
        );
        let own_prefix = ObjectBuilder::new()
            .property(
                "worktree_prefix",
                ObjectBuilder::new().schema_type(Type::String),
            )
            .required("worktree_prefix");
        with_rule(
            <NewType as utoipa::PartialSchema>::schema(),
            [plain_name, own_prefix],
            "A custom worktree type. A name `trunk` or `trunk-...` needs its own \
             `worktree_prefix` (the default `<name>-` would look like a trunk).",
        )
    }
}

impl ToSchema for NewTypeDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("NewType")
    }
}

/// Add a custom worktree type (needs the admin scope).
#[utoipa::path(post, path = "/api/v1/types", tag = "types", request_body = NewTypeDoc,
    responses((status = 201, description = "Added", body = Envelope<ops::types::TypeAdded>), Errors))]
async fn add_type(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<NewType>,
) -> Answer<ops::types::TypeAdded> {
    let env = env_of(&state, &caller).await?;
    let args = ops::types::AddArgs {
        name: body.name,
        branch_prefix: body.branch_prefix,
        worktree_prefix: body.worktree_prefix,
        description: body.description,
    };
    let r = detached("adding the type", async move {
        ops::types::add(&env, &args).await
    })
    .await?;
    answer(StatusCode::CREATED, r)
}

/// Remove a custom worktree type no worktree uses (needs the admin scope).
#[utoipa::path(delete, path = "/api/v1/types/{name}", tag = "types",
    params(("name" = String, Path, description = "The type's name")),
    responses((status = 200, description = "Removed", body = Envelope<ops::types::TypeRemoved>), Errors))]
async fn remove_type(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer<ops::types::TypeRemoved> {
    input::type_ref(&name)?;
    let env = env_of(&state, &caller).await?;
    let r = detached("removing the type", async move {
        ops::types::remove(&env, &name).await
    })
    .await?;
    ok(r)
}

// --- events -------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this id, oldest first (0: from the start). For the stream, the
    /// `Last-Event-ID` header takes precedence. None: the latest `limit` (the stream:
    /// only new events).
    #[param(minimum = 0)]
    pub since: Option<i64>,
    /// Types to keep, comma-separated: exact (`imi.claim.stolen`) or a prefix
    /// ending in `.` (`imi.claim.`).
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = shape::event_types)]
    pub types: Option<String>,
    /// One project (name, remote or id).
    pub project: Option<String>,
    /// At most this many (1 to 10000, default 50; not for the stream).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// The event log. With `Accept: text/event-stream`: server-sent events (`id:` is the
/// event's id, `event:` its type, `data:` the event as JSON), first the events after
/// `Last-Event-ID` (or `since`), then live ones, with keep-alive comments.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "Events, oldest first (JSON), or a stream of them", content(
        (Envelope<ops::events::EventsReport> = "application/json"),
        (String = "text/event-stream"),
    )), Errors))]
async fn events(
    AxState(state): AxState<State>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> std::result::Result<Response, ApiError> {
    if let Some(p) = &q.project {
        input::project_ref(p)?;
    }
    let env = env_of(&state, &caller).await?;
    let types: Vec<String> = q
        .types
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_stream {
        let args = ops::events::EventsArgs {
            project: q.project,
            since: q.since,
            types,
            limit: limit(q.limit, ops::events::DEFAULT_LIMIT)?,
        };
        return Ok(ok(ops::events::list(&env, &args).await?).into_response());
    }
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .filter(|id| *id >= 0)
                .ok_or_else(|| {
                    Error::validation("the Last-Event-ID header is not an event id")
                        .with_hint("send the id: of the last event received")
                })?,
        ),
    };
    // the filter is checked (and the project resolved) before the stream starts
    let args = ops::events::EventsArgs {
        project: q.project,
        since: Some(0),
        types,
        limit: 1,
    };
    let filter = ops::events::filter(&env, &args).await?;
    let sub = stream::Subscription {
        after: last_event_id.or(q.since),
        filter,
    };
    Ok(stream::sse(state, sub).into_response())
}

// --- the router ---------------------------------------------------------------------------

#[derive(OpenApi)]
#[openapi(
    info(
        title = "imi",
        description = "The imi registry over HTTP: projects, worktrees and their git state, claims, activities, types and the event log. Every answer is the envelope {\"success\": true, \"data\": ...} or {\"success\": false, \"error\": {\"code\", \"message\", \"hint\"}}. Send `Authorization: Bearer TOKEN` (tokens: `imi token create`) and `X-Imi-Agent: NAME` to act as an agent."
    ),
    // the error answers (`Errors`) refer to these: without them no client could
    // check an error's body against the document
    components(schemas(Failure, super::ErrorBody, shape::JsonValue)),
    tags(
        (name = "server"), (name = "projects"), (name = "worktrees"), (name = "metadata"),
        (name = "claims"), (name = "git state"), (name = "activities"), (name = "types"), (name = "events")
    )
)]
struct ApiDoc;

/// Every documented route.
pub fn router() -> OpenApiRouter<State> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(openapi))
        .routes(routes!(list_projects, register_project))
        .routes(routes!(get_project))
        .routes(routes!(project_path))
        .routes(routes!(list_worktrees, create_worktree))
        .routes(routes!(create_review))
        .routes(routes!(get_worktree, remove_worktree))
        .routes(routes!(close_worktree))
        .routes(routes!(merge_worktree))
        .routes(routes!(get_all_metadata))
        .routes(routes!(get_metadata, put_metadata, delete_metadata))
        .routes(routes!(claim))
        .routes(routes!(renew))
        .routes(routes!(release))
        .routes(routes!(list_claims))
        .routes(routes!(sync))
        .routes(routes!(inflight))
        .routes(routes!(stats))
        .routes(routes!(list_activities, log_activity))
        .routes(routes!(list_types, add_type))
        .routes(routes!(remove_type))
        .routes(routes!(events))
}

/// Any other path: 404 in the envelope.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        Error::not_found(format!("no route {}", uri.path()))
            .with_hint("the routes are listed in /api/v1/openapi.json; the board is at /"),
    )
}

/// A known path with another method: 405 in the envelope.
pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        Error::validation(format!("{method} is not allowed here"))
            .with_hint("the methods of each route are listed in /api/v1/openapi.json"),
    )
}
