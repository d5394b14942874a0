//! Which fields of two rows of the same id differ: what an import compares, and
//! what a conflict names.

use crate::model::{Activity, Project, Worktree, WorktreeType};

/// Fields of two rows that differ, for conflict reasons.
fn diff<T: PartialEq>(out: &mut Vec<&'static str>, name: &'static str, a: &T, b: &T) {
    if a != b {
        out.push(name);
    }
}

pub(super) fn project_diff(a: &Project, b: &Project) -> Vec<&'static str> {
    let mut d = vec![];
    diff(&mut d, "name", &a.name, &b.name);
    diff(&mut d, "remote_origin", &a.remote_origin, &b.remote_origin);
    diff(&mut d, "origin_key", &a.origin_key, &b.origin_key);
    diff(
        &mut d,
        "default_branch",
        &a.default_branch,
        &b.default_branch,
    );
    diff(&mut d, "trunk_path", &a.trunk_path, &b.trunk_path);
    diff(&mut d, "description", &a.description, &b.description);
    diff(&mut d, "metadata", &a.metadata, &b.metadata);
    diff(&mut d, "created_at", &a.created_at, &b.created_at);
    diff(&mut d, "updated_at", &a.updated_at, &b.updated_at);
    diff(&mut d, "active", &a.active, &b.active);
    d
}

/// A type's definition (its id and creation time are local to each registry).
pub(super) fn type_diff(a: &WorktreeType, b: &WorktreeType) -> Vec<&'static str> {
    let mut d = vec![];
    diff(&mut d, "branch_prefix", &a.branch_prefix, &b.branch_prefix);
    diff(
        &mut d,
        "worktree_prefix",
        &a.worktree_prefix,
        &b.worktree_prefix,
    );
    diff(&mut d, "description", &a.description, &b.description);
    diff(&mut d, "is_builtin", &a.is_builtin, &b.is_builtin);
    diff(&mut d, "color", &a.color, &b.color);
    diff(&mut d, "icon", &a.icon, &b.icon);
    diff(&mut d, "metadata", &a.metadata, &b.metadata);
    d
}

pub(super) fn worktree_diff(a: &Worktree, b: &Worktree) -> Vec<&'static str> {
    let mut d = vec![];
    diff(&mut d, "project_id", &a.project_id, &b.project_id);
    diff(&mut d, "type_name", &a.type_name, &b.type_name);
    diff(&mut d, "name", &a.name, &b.name);
    diff(&mut d, "branch_name", &a.branch_name, &b.branch_name);
    diff(&mut d, "path", &a.path, &b.path);
    diff(&mut d, "host", &a.host, &b.host);
    diff(&mut d, "agent_id", &a.agent_id, &b.agent_id);
    diff(
        &mut d,
        "uncommitted_files_count",
        &a.uncommitted_files_count,
        &b.uncommitted_files_count,
    );
    diff(
        &mut d,
        "ahead_of_trunk",
        &a.ahead_of_trunk,
        &b.ahead_of_trunk,
    );
    diff(&mut d, "behind_trunk", &a.behind_trunk, &b.behind_trunk);
    diff(
        &mut d,
        "last_commit_hash",
        &a.last_commit_hash,
        &b.last_commit_hash,
    );
    diff(
        &mut d,
        "last_commit_message",
        &a.last_commit_message,
        &b.last_commit_message,
    );
    diff(&mut d, "last_sync_at", &a.last_sync_at, &b.last_sync_at);
    diff(&mut d, "merged_at", &a.merged_at, &b.merged_at);
    diff(&mut d, "merged_by", &a.merged_by, &b.merged_by);
    diff(
        &mut d,
        "merge_commit_hash",
        &a.merge_commit_hash,
        &b.merge_commit_hash,
    );
    diff(&mut d, "metadata", &a.metadata, &b.metadata);
    diff(&mut d, "created_at", &a.created_at, &b.created_at);
    diff(&mut d, "updated_at", &a.updated_at, &b.updated_at);
    diff(&mut d, "active", &a.active, &b.active);
    d
}

pub(super) fn activity_diff(a: &Activity, b: &Activity) -> Vec<&'static str> {
    let mut d = vec![];
    diff(&mut d, "agent_id", &a.agent_id, &b.agent_id);
    diff(&mut d, "worktree_id", &a.worktree_id, &b.worktree_id);
    diff(&mut d, "project_id", &a.project_id, &b.project_id);
    diff(&mut d, "project_name", &a.project_name, &b.project_name);
    diff(&mut d, "worktree_name", &a.worktree_name, &b.worktree_name);
    diff(&mut d, "activity_type", &a.activity_type, &b.activity_type);
    diff(&mut d, "file_path", &a.file_path, &b.file_path);
    diff(&mut d, "description", &a.description, &b.description);
    diff(&mut d, "metadata", &a.metadata, &b.metadata);
    diff(&mut d, "created_at", &a.created_at, &b.created_at);
    d
}
