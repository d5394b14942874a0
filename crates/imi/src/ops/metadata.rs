//! A worktree's metadata: `set`, `get`, `unset` at dotted keys, which set deep
//! values without touching siblings; a value that parses as JSON is stored as JSON.

use imi_core::{Error, MetadataTarget, Result, Store, Worktree, metadata};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Env, Report, common};
use crate::registry::with_store;

/// Which worktree's metadata.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Target {
    /// The project (`-p`), else the one the current directory is in.
    pub project: Option<String>,
    pub worktree: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SetArgs {
    #[serde(flatten)]
    pub target: Target,
    /// A dotted key (`plane.ticket_id`).
    pub key: String,
    /// JSON when it parses as JSON, else the string itself.
    pub value: String,
    /// Change a worktree another agent has claimed (logged).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetArgs {
    #[serde(flatten)]
    pub target: Target,
    /// A dotted key; none for the whole object.
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnsetArgs {
    #[serde(flatten)]
    pub target: Target,
    pub key: String,
    /// Change a worktree another agent has claimed (logged).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetadataSet {
    pub worktree: String,
    pub key: String,
    pub value: Value,
    /// The whole metadata object afterwards.
    pub metadata: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetadataValue {
    pub worktree: String,
    pub key: Option<String>,
    /// `None` only for the whole object of a worktree that has none.
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetadataUnset {
    pub worktree: String,
    pub key: String,
    /// Whether the key was there.
    pub removed: bool,
}

impl Report for MetadataSet {}
impl Report for MetadataValue {}
impl Report for MetadataUnset {}

async fn worktree<S: Store>(s: &S, env: &Env, t: &Target) -> Result<Worktree> {
    let project = common::resolve_project(s, env, t.project.as_deref()).await?;
    common::find_worktree(s, &project, &t.worktree).await
}

/// Sets `key` to `value`; returns the whole object afterwards.
pub async fn set(env: &Env, args: &SetArgs) -> Result<MetadataSet> {
    with_store!(env.store().await?, s => {
        let w = worktree(s, env, &args.target).await?;
        super::claims::guard(s, env, &w, args.force, "change the metadata of").await?;
        let v = metadata::parse_value(&args.value);
        let doc = s.metadata_set(MetadataTarget::Worktree(w.id), &args.key, v.clone()).await?;
        Ok(MetadataSet { worktree: w.name, key: args.key.clone(), value: v, metadata: doc })
    })
}

/// The value at `key`, or the whole object; `NOT_FOUND` for a key that is not set.
pub async fn get(env: &Env, args: &GetArgs) -> Result<MetadataValue> {
    with_store!(env.store().await?, s => {
        let w = worktree(s, env, &args.target).await?;
        let value = s.metadata_get(MetadataTarget::Worktree(w.id), args.key.as_deref()).await?;
        if let (None, Some(k)) = (&value, &args.key) {
            return Err(Error::not_found(format!("{} has no metadata key {k:?}", w.name))
                .with_hint(format!("see all keys with `imi metadata get {}`", w.name)));
        }
        Ok(MetadataValue { worktree: w.name, key: args.key.clone(), value })
    })
}

/// Removes `key`; not an error when it was not set.
pub async fn unset(env: &Env, args: &UnsetArgs) -> Result<MetadataUnset> {
    with_store!(env.store().await?, s => {
        let w = worktree(s, env, &args.target).await?;
        super::claims::guard(s, env, &w, args.force, "change the metadata of").await?;
        let removed = s.metadata_unset(MetadataTarget::Worktree(w.id), &args.key).await?;
        Ok(MetadataUnset { worktree: w.name, key: args.key.clone(), removed })
    })
}
