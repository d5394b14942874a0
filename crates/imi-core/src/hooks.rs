//! Trust for the commands of a project's committed `.imi.toml` (SPEC §10): a command
//! runs only once approved, and an approval is keyed by the project's identity (its
//! origin key, the same on every host) and the SHA-256 of the exact command text,
//! so changing one character needs a new approval. Approvals live in the registry:
//! one given once holds for every agent and host that share it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::columns::{Columns, FromColumns};
use crate::error::Result;
use crate::model::check_id;

/// The longest command that can be approved, in bytes.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The hex SHA-256 of the exact command text (no trimming: every byte counts).
pub fn command_hash(command: &str) -> String {
    let digest = Sha256::digest(command.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One row of `hook_approvals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookApproval {
    /// The project's identity (`origin_key`).
    pub project_key: String,
    pub command_hash: String,
    pub command: String,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
}

impl FromColumns for HookApproval {
    fn from_columns(r: &impl Columns) -> Result<HookApproval> {
        Ok(HookApproval {
            project_key: r.text("project_key")?,
            command_hash: r.text("command_hash")?,
            command: r.text("command")?,
            approved_by: r.text("approved_by")?,
            approved_at: r.time("approved_at")?,
        })
    }
}

/// Input of [`crate::Store::approve_hook`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewHookApproval {
    pub project_key: String,
    pub command: String,
    pub approved_by: String,
}

impl NewHookApproval {
    pub fn validate(&self) -> Result<()> {
        check_id("approver", &self.approved_by)?;
        crate::naming::require_non_empty("project key", &self.project_key)?;
        crate::naming::require_non_empty("command", &self.command)?;
        if self.command.len() > MAX_COMMAND_BYTES {
            return Err(crate::Error::validation(format!(
                "the command is {} bytes, more than {MAX_COMMAND_BYTES}",
                self.command.len()
            ))
            .with_hint("put a long command in a script and run the script"));
        }
        Ok(())
    }

    pub fn hash(&self) -> String {
        command_hash(&self.command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_character_is_another_hash() {
        let a = command_hash("npm ci");
        assert_eq!(a.len(), 64);
        assert_ne!(a, command_hash("npm ci "));
        assert_ne!(a, command_hash("npm Ci"));
        // a known vector: sha256("abc")
        assert_eq!(
            command_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
