//! imi's domain: the registry's records, the naming rules, remote canonicalisation,
//! the error type every layer shares, and the [`Store`] contract that each backend
//! (SQLite, PostgreSQL) implements with identical behaviour.

pub mod claims;
pub mod columns;
pub mod display;
pub mod error;
pub mod events;
pub mod hooks;
pub mod messages;
pub mod metadata;
pub mod model;
pub mod naming;
pub mod redact;
pub mod remote;
pub mod rules;
pub mod search;
pub mod snapshot;
pub mod store;
pub mod tokens;

pub use claims::{Claim, ClaimFilter, ClaimGrant, ClaimTarget, NewClaim, ReleaseScope};
pub use columns::{Columns, FromColumns};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventFilter, EventWaiter};
pub use hooks::{HookApproval, NewHookApproval};
pub use model::*;
pub use redact::redact;
pub use rules::{
    Admission, TypeUse, WorktreePlace, check_type_removal, sibling_path, strip_trailing_slashes,
};
pub use snapshot::{ImportMode, ImportOptions, ImportReport, RegistrySnapshot};
pub use store::Store;
pub use tokens::{ApiToken, NewApiToken, Scope};
