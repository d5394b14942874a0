//! Worktree types (SPEC §2): list, add, remove.

use imi_core::{NewWorktreeType, Result, Store, WorktreeType};
use serde::{Deserialize, Serialize};

use super::{Env, Report};
use crate::registry::with_store;

/// Every type, built-in and custom.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypeList {
    pub types: Vec<WorktreeType>,
}

/// A new custom type.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddArgs {
    pub name: String,
    pub branch_prefix: Option<String>,
    pub worktree_prefix: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypeAdded {
    #[serde(rename = "type")]
    pub added: WorktreeType,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypeRemoved {
    /// The type's name.
    pub removed: String,
}

impl Report for TypeList {}
impl Report for TypeAdded {}
impl Report for TypeRemoved {}

pub async fn list(env: &Env) -> Result<TypeList> {
    with_store!(env.store().await?, s => Ok(TypeList { types: s.list_types().await? }))
}

pub async fn add(env: &Env, args: &AddArgs) -> Result<TypeAdded> {
    let new = NewWorktreeType {
        name: args.name.clone(),
        branch_prefix: args.branch_prefix.clone(),
        worktree_prefix: args.worktree_prefix.clone(),
        description: args.description.clone(),
        ..Default::default()
    };
    let added = with_store!(env.store().await?, s => s.add_type(&new).await)?;
    Ok(TypeAdded { added })
}

pub async fn remove(env: &Env, name: &str) -> Result<TypeRemoved> {
    with_store!(env.store().await?, s => s.remove_type(name).await)?;
    Ok(TypeRemoved {
        removed: name.to_string(),
    })
}
