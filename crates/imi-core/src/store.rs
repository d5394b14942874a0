//! The registry contract. Each backend implements every operation with the same
//! observable behaviour; the conformance suite (`crates/imi-conformance`) runs one set
//! of scenarios against all of them.
//!
//! A backend holds SQL and row decoding only. The rules and messages are imi-core's
//! ([`crate::rules`], [`crate::messages`], the input types of [`crate::model`]); operations made of
//! simpler ones are provided here (`working_path` over `project_trunk`, the metadata
//! operations over `read_metadata` and `edit_metadata`).
//!
//! Methods return `Send` futures so stores can be used from any task.

use std::future::Future;

use serde_json::Value;
use uuid::Uuid;

use crate::claims::{Claim, ClaimFilter, ClaimGrant, ClaimTarget, NewClaim, ReleaseScope};
use crate::error::Result;
use crate::events::{Event, EventFilter, EventWaiter};
use crate::hooks::{HookApproval, NewHookApproval};
use crate::messages;
use crate::metadata;
use crate::model::*;
use crate::rules::sibling_path;
use crate::snapshot::{ImportOptions, ImportReport, RegistrySnapshot};
use crate::tokens::{ApiToken, NewApiToken};

pub trait Store: Send + Sync {
    /// What [`Store::event_waiter`] gives.
    type Waiter: EventWaiter;

    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The host name recorded on worktrees registered without an explicit host.
    fn host(&self) -> &str;

    // --- schema -------------------------------------------------------------------

    /// Applies pending migrations; safe when several processes do it at once.
    fn migrate(&self) -> impl Future<Output = Result<SchemaStatus>> + Send;
    fn schema_status(&self) -> impl Future<Output = Result<SchemaStatus>> + Send;
    /// A trivial round trip (`SELECT 1`), the floor benchmarks compare against.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
    /// What has been committed, as a token: two calls on this store that give the
    /// same token saw no commit in between, by any connection, process or host, so
    /// a read made after the first saw the rows a read after the second would. A
    /// cache of reads keys on it (`imi serve`'s listings). Tokens compare only
    /// within one store value (and its clones). Cheap: one round trip.
    fn change_token(&self) -> impl Future<Output = Result<String>> + Send;

    // --- projects -----------------------------------------------------------------

    /// Idempotent: the same remote (in any form) gives the same project, even under
    /// concurrent calls. Reactivates a deactivated project and applies given values.
    fn register_project(&self, p: &NewProject) -> impl Future<Output = Result<Project>> + Send;
    fn get_project(&self, id: Uuid) -> impl Future<Output = Result<Project>> + Send;
    /// Any form of the remote (or, for a project without one, its trunk path). Active
    /// projects only: a deactivated one is `NOT_FOUND` saying so ([`active_by_origin`]).
    fn get_project_by_origin(&self, remote: &str) -> impl Future<Output = Result<Project>> + Send;
    /// Active project by exact name; a name shared by two projects is a `CONFLICT`.
    fn get_project_by_name(&self, name: &str) -> impl Future<Output = Result<Project>> + Send;
    fn list_projects(
        &self,
        include_inactive: bool,
    ) -> impl Future<Output = Result<Vec<Project>>> + Send;
    /// Fuzzy search of active projects over name and remote (also parts of the remote:
    /// owner, group, host), best first, at most 20; an empty query lists active
    /// projects, most recently updated first ([`crate::search::relevance`]).
    fn search_projects(
        &self,
        query: &str,
    ) -> impl Future<Output = Result<Vec<ProjectMatch>>> + Send;
    /// Deactivates the project and its worktrees.
    fn deactivate_project(&self, id: Uuid) -> impl Future<Output = Result<()>> + Send;

    // --- worktrees ----------------------------------------------------------------

    /// Idempotent per `(project, host, name)` (the host: `w.host`, else this store's);
    /// the same name on another host is another worktree. Reactivates a removed
    /// worktree, clearing its merge record, owner and in-flight state.
    fn register_worktree(&self, w: &NewWorktree) -> impl Future<Output = Result<Worktree>> + Send;
    fn get_worktree(&self, id: Uuid) -> impl Future<Output = Result<Worktree>> + Send;
    /// Active worktree at `path` on this store's host.
    fn get_worktree_by_path(&self, path: &str) -> impl Future<Output = Result<Worktree>> + Send;
    /// This store's host's worktree of that name in the project: the active one,
    /// else the most recently updated removed one. Another host's checkout of the
    /// same name is never returned (list them with `list_worktrees`).
    fn get_worktree_by_name(
        &self,
        project_id: Uuid,
        name: &str,
    ) -> impl Future<Output = Result<Worktree>> + Send;
    fn list_worktrees(
        &self,
        filter: &WorktreeFilter,
    ) -> impl Future<Output = Result<Vec<Worktree>>> + Send;
    fn update_git_state(
        &self,
        id: Uuid,
        state: &GitState,
    ) -> impl Future<Output = Result<Worktree>> + Send;
    /// Many updates in one transaction: all are written or none.
    fn update_git_states(
        &self,
        updates: &[(Uuid, GitState)],
    ) -> impl Future<Output = Result<()>> + Send;
    fn mark_merged(
        &self,
        id: Uuid,
        merged_by: &str,
        merge_commit_hash: Option<&str>,
    ) -> impl Future<Output = Result<Worktree>> + Send;
    fn deactivate_worktree(&self, id: Uuid) -> impl Future<Output = Result<()>> + Send;

    // --- types --------------------------------------------------------------------

    fn list_types(&self) -> impl Future<Output = Result<Vec<WorktreeType>>> + Send;
    fn add_type(&self, t: &NewWorktreeType) -> impl Future<Output = Result<WorktreeType>> + Send;
    /// Refuses built-in types and types that worktrees still use.
    fn remove_type(&self, name: &str) -> impl Future<Output = Result<()>> + Send;

    // --- metadata -----------------------------------------------------------------

    /// The stored metadata text of `target` ([`crate::metadata`] says why text);
    /// `NOT_FOUND` ([`messages::target_not_found`]) when there is no such row.
    fn read_metadata(&self, target: MetadataTarget) -> impl Future<Output = Result<String>> + Send;

    /// In one transaction: reads the stored metadata text of `target` with its row
    /// locked against other writers, passes it to `edit`, writes the text `edit`
    /// returns (`None`: nothing to write), commits, and returns what `edit` gave
    /// back. `NOT_FOUND` as [`Store::read_metadata`]. The metadata operations below
    /// are built on these two.
    fn edit_metadata<T, F>(
        &self,
        target: MetadataTarget,
        edit: F,
    ) -> impl Future<Output = Result<T>> + Send
    where
        T: Send,
        F: FnOnce(&str) -> Result<(Option<String>, T)> + Send;

    /// Sets `key` (dotted: `plane.ticket_id`) deep inside the metadata object,
    /// creating intermediate objects and keeping sibling keys.
    fn metadata_set(
        &self,
        target: MetadataTarget,
        key: &str,
        value: Value,
    ) -> impl Future<Output = Result<Metadata>> + Send {
        async move {
            metadata::parse_key(key)?;
            self.edit_metadata(target, |text| {
                let mut doc = metadata::decode_stored(text)?.writable("the metadata")?;
                metadata::set(&mut doc, key, value)?;
                Ok((Some(metadata::to_text(&doc)), doc))
            })
            .await
        }
    }

    /// The value at `key`, or the whole object for `None`.
    fn metadata_get(
        &self,
        target: MetadataTarget,
        key: Option<&str>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        async move {
            if let Some(k) = key {
                metadata::parse_key(k)?;
            }
            let doc = metadata::decode_stored(&self.read_metadata(target).await?)?.doc;
            match key {
                None => Ok(Some(Value::Object(doc))),
                Some(k) => Ok(metadata::get(&doc, k)?.cloned()),
            }
        }
    }

    /// Removes `key`; returns whether it was there.
    fn metadata_unset(
        &self,
        target: MetadataTarget,
        key: &str,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            metadata::parse_key(key)?;
            self.edit_metadata(target, |text| {
                // on the stored text: also repairs a document too deep to read
                let new_text = metadata::unset_text(text, key)?;
                let removed = new_text.is_some();
                Ok((new_text, removed))
            })
            .await
        }
    }

    // --- activities ---------------------------------------------------------------

    /// Appends to the audit log and touches the worktree's `updated_at`.
    fn log_activity(&self, a: &NewActivity) -> impl Future<Output = Result<Activity>> + Send;
    fn recent_activities_by_agent(
        &self,
        agent_id: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Activity>>> + Send;
    fn recent_activities(&self, limit: i64) -> impl Future<Output = Result<Vec<Activity>>> + Send;

    // --- claims (SPEC §7.1) ---------------------------------------------------------

    /// One attempt at [`Store::claim`], in one atomic statement: the grant (logged in
    /// the same transaction when it is a new tenure), or `None` when the statement
    /// matched no row (held by another agent, or no such worktree). Input is
    /// checked by the caller.
    fn try_claim(&self, c: &NewClaim) -> impl Future<Output = Result<Option<ClaimGrant>>> + Send;
    /// One renewal statement scoped to `agent_id` and `epoch`: the claim, or `None`
    /// when it matched no row.
    fn try_renew(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: i64,
        ttl_seconds: Option<i64>,
    ) -> impl Future<Output = Result<Option<Claim>>> + Send;
    /// One release statement (scoped to `agent_id` and `epoch`, or `force`d), logged
    /// in the same transaction: the released claim, or `None` when it matched no row.
    fn try_release(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: Option<i64>,
        force: bool,
    ) -> impl Future<Output = Result<Option<Claim>>> + Send;

    /// Makes `c.agent_id` the holder of the work item of worktree `c.worktree_id` (its
    /// project and name, on every host) in one atomic statement, or renews the lease
    /// when it holds it already (epoch kept). A new tenure has epoch + 1 and is
    /// logged as `claimed` (with `stolen_from` when it took over an expired lease).
    /// Another holder is a `CONFLICT` naming it ([`messages::claim_held`]); an
    /// unknown or removed worktree is `NOT_FOUND`. Expiry is the database's clock.
    fn claim(&self, c: &NewClaim) -> impl Future<Output = Result<ClaimGrant>> + Send {
        async move {
            c.validate()?;
            // a claim released or expired between the statement and the look at it
            // is free: try again (a few times)
            for _ in 0..5 {
                if let Some(grant) = self.try_claim(c).await? {
                    return Ok(grant);
                }
                if let Some(e) = self.claim_refused(c.worktree_id).await? {
                    return Err(e);
                }
            }
            Err(crate::Error::conflict("the claim keeps changing hands").with_hint("try again"))
        }
    }
    /// Extends `agent_id`'s lease of tenure `epoch` by `ttl_seconds` from now (`None`:
    /// the claim's own length). Another holder or a stale epoch is refused
    /// ([`messages::claim_not_yours`]).
    fn renew_claim(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: i64,
        ttl_seconds: Option<i64>,
    ) -> impl Future<Output = Result<Claim>> + Send {
        async move {
            crate::check_id("agent id", agent_id)?;
            crate::claims::check_ttl(ttl_seconds)?;
            match self
                .try_renew(worktree_id, agent_id, epoch, ttl_seconds)
                .await?
            {
                Some(c) => Ok(c),
                None => Err(self.renew_refused(worktree_id, agent_id, epoch).await),
            }
        }
    }
    /// Ends the claim: `agent_id`'s tenure of the epoch, or with
    /// [`ReleaseScope::Force`] whoever holds it. Logged as `released` (forced: with
    /// the holder's name). Releasing one's own released tenure again is a no-op.
    fn release_claim(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        scope: ReleaseScope,
    ) -> impl Future<Output = Result<Claim>> + Send {
        async move {
            crate::check_id("agent id", agent_id)?;
            let (epoch, force) = match scope {
                ReleaseScope::Epoch(e) => (Some(e), false),
                ReleaseScope::Force => (None, true),
            };
            match self
                .try_release(worktree_id, agent_id, epoch, force)
                .await?
            {
                Some(c) => Ok(c),
                None => self.release_unmatched(worktree_id, agent_id, scope).await,
            }
        }
    }
    /// The last claim on the item of worktree `worktree_id` (held or not), `None`
    /// when it was never claimed.
    fn get_claim(&self, worktree_id: Uuid) -> impl Future<Output = Result<Option<Claim>>> + Send;
    /// Held claims (with `include_ended` also released and expired ones), by project
    /// name and worktree name.
    fn list_claims(&self, filter: &ClaimFilter) -> impl Future<Output = Result<Vec<Claim>>> + Send;
    /// The name and active flag of worktree `worktree_id` (`None`: no such
    /// worktree): what a claim call that matched no row reports on.
    fn claim_target(
        &self,
        worktree_id: Uuid,
    ) -> impl Future<Output = Result<Option<ClaimTarget>>> + Send;

    /// Why a claim statement matched no row: the refusal, or `None` when the item is
    /// free by now (claim again). See [`crate::claims::claim_refusal`].
    fn claim_refused(
        &self,
        worktree_id: Uuid,
    ) -> impl Future<Output = Result<Option<crate::Error>>> + Send {
        async move {
            let target = self.claim_target(worktree_id).await?;
            let found = self.get_claim(worktree_id).await?;
            Ok(crate::claims::claim_refusal(
                worktree_id,
                target.as_ref(),
                found.as_ref(),
            ))
        }
    }

    /// The error of a renewal that matched no row ([`crate::claims::renew_refusal`]).
    fn renew_refused(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        epoch: i64,
    ) -> impl Future<Output = crate::Error> + Send {
        async move {
            let target = match self.claim_target(worktree_id).await {
                Ok(t) => t,
                Err(e) => return e,
            };
            match self.get_claim(worktree_id).await {
                Ok(found) => crate::claims::renew_refusal(
                    worktree_id,
                    target.as_ref(),
                    agent_id,
                    epoch,
                    found.as_ref(),
                ),
                Err(e) => e,
            }
        }
    }

    /// The answer of a release that matched no row
    /// ([`crate::claims::release_outcome`]).
    fn release_unmatched(
        &self,
        worktree_id: Uuid,
        agent_id: &str,
        scope: ReleaseScope,
    ) -> impl Future<Output = Result<Claim>> + Send {
        async move {
            let target = self.claim_target(worktree_id).await?;
            let found = self.get_claim(worktree_id).await?;
            crate::claims::release_outcome(worktree_id, target.as_ref(), agent_id, scope, found)
        }
    }

    // --- events (SPEC §7.2) ---------------------------------------------------------

    /// Events by `filter` ([`EventFilter`]), oldest first.
    fn events(&self, filter: &EventFilter) -> impl Future<Output = Result<Vec<Event>>> + Send;
    /// The id of the last event committed (0: none yet).
    fn last_event_id(&self) -> impl Future<Output = Result<i64>> + Send;
    /// A waiter that returns when new events may have been committed (by any process
    /// on any host): PostgreSQL's LISTEN imi_events, else a short poll.
    fn event_waiter(&self) -> impl Future<Output = Result<Self::Waiter>> + Send;

    // --- hook approvals (SPEC §10) ---------------------------------------------------

    /// The approval of `command_hash` for the project of identity `project_key`.
    fn hook_approval(
        &self,
        project_key: &str,
        command_hash: &str,
    ) -> impl Future<Output = Result<Option<HookApproval>>> + Send;
    /// Approves a command for a project; approving it again keeps the first approval.
    fn approve_hook(
        &self,
        a: &NewHookApproval,
    ) -> impl Future<Output = Result<HookApproval>> + Send;
    /// Withdraws an approval; whether there was one.
    fn revoke_hook(
        &self,
        project_key: &str,
        command_hash: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Approvals of one project (`Some(key)`) or of all, by project and command.
    fn list_hook_approvals(
        &self,
        project_key: Option<&str>,
    ) -> impl Future<Output = Result<Vec<HookApproval>>> + Send;

    // --- API tokens (SPEC §7.3) -------------------------------------------------------

    /// Stores a token (its hash only). An unrevoked token of the same name, expired
    /// or not, is a `CONFLICT` ([`messages::token_name_taken`]). `expires_at` is
    /// `created_at` + the lifetime, by the database's clock. No event is written.
    fn create_api_token(&self, t: &NewApiToken) -> impl Future<Output = Result<ApiToken>> + Send {
        async move {
            t.validate()?;
            self.insert_api_token(t)
                .await?
                .ok_or_else(|| messages::token_name_taken(&t.name))
        }
    }
    /// The one statement of [`Store::create_api_token`]: the stored token, or
    /// `None` when an unrevoked token has the name. Input is checked by the caller.
    fn insert_api_token(
        &self,
        t: &NewApiToken,
    ) -> impl Future<Output = Result<Option<ApiToken>>> + Send;
    /// The usable token of id `id` with its stored hash: not revoked and not expired
    /// by the database's clock; `None` otherwise (or when there is no such id).
    fn api_token_for_check(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(ApiToken, String)>>> + Send;
    /// Tokens not revoked (expired ones too: their `expires_at` says so), by name.
    fn list_api_tokens(&self) -> impl Future<Output = Result<Vec<ApiToken>>> + Send;
    /// Revokes the unrevoked token named `name` (expired or not): the token as
    /// revoked, `None` when there is none. The name is free again afterwards.
    fn revoke_api_token(&self, name: &str)
    -> impl Future<Output = Result<Option<ApiToken>>> + Send;
    /// Whether any token is usable (not revoked, not expired by the database's clock).
    fn has_usable_api_token(&self) -> impl Future<Output = Result<bool>> + Send;

    // --- derived ------------------------------------------------------------------

    /// In-flight work (SPEC §3.3), most recent first; all projects for `None`.
    fn inflight(
        &self,
        project_id: Option<Uuid>,
    ) -> impl Future<Output = Result<Vec<InflightWork>>> + Send;
    /// The trunk path and `active` of a project, `None` when there is no such
    /// project: the one primary-key read [`Store::working_path`] needs.
    fn project_trunk(
        &self,
        project_id: Uuid,
    ) -> impl Future<Output = Result<Option<(String, bool)>>> + Send;

    /// Trunk path for `None`, else `parent(trunk_path)/<worktree_name>`
    /// ([`crate::rules::sibling_path`]); `NOT_FOUND` for an unknown or inactive
    /// project.
    fn working_path(
        &self,
        project_id: Uuid,
        worktree_name: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send {
        async move {
            if let Some(n) = worktree_name {
                crate::naming::validate_worktree_name(n)?;
            }
            let found = self.project_trunk(project_id).await?;
            let (trunk, active) = found.ok_or_else(|| messages::project_not_found(project_id))?;
            if !active {
                return Err(messages::project_inactive(project_id));
            }
            Ok(match worktree_name {
                None => trunk,
                Some(n) => sibling_path(&trunk, n),
            })
        }
    }
    fn stats(&self) -> impl Future<Output = Result<RegistryStats>> + Send;

    // --- retention ----------------------------------------------------------------

    /// Deletes activities and events older than `retention_days`; returns how many
    /// activities.
    fn cleanup_old_activities(
        &self,
        retention_days: i32,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// Deletes inactive worktrees not updated for `inactive_days`; their activities
    /// stay. Returns how many.
    fn prune_inactive_worktrees(
        &self,
        inactive_days: i32,
    ) -> impl Future<Output = Result<i64>> + Send;

    // --- moving data (SPEC §6) ------------------------------------------------------

    /// Every row of the registry, ids and timestamps as stored, in a stable order.
    fn export_snapshot(&self) -> impl Future<Output = Result<RegistrySnapshot>> + Send;
    /// Writes the snapshot's rows with their own ids and timestamps in one
    /// transaction (types matched by name). Rows already present with the same
    /// values are counted, not rewritten; rows present with other values are refused
    /// (`CONFLICT` listing them, nothing written) unless `opts.mode` says otherwise.
    /// Verifies the row counts before committing; `dry_run` rolls back instead.
    fn import_snapshot(
        &self,
        snapshot: &RegistrySnapshot,
        opts: ImportOptions,
    ) -> impl Future<Output = Result<ImportReport>> + Send;
}

/// Brings a registry to this binary's schema on first use: applies pending
/// migrations, and refuses a registry written by a newer imi.
pub async fn ensure_schema<S: Store>(store: &S) -> Result<SchemaStatus> {
    let status = store.schema_status().await?;
    status.check_not_newer()?;
    if status.pending.is_empty() {
        return Ok(status);
    }
    store.migrate().await
}

/// Why the registry cannot be used right now, whatever the backend: the storage
/// or the connection failed, not the command. Each is `REGISTRY_UNAVAILABLE`, worded
/// once here; a backend only decides which one its driver's error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryFault {
    /// No space left for the registry (SQLITE_FULL, PostgreSQL 53100).
    DiskFull,
    /// Reading or writing the registry's storage failed (SQLITE_IOERR).
    Io,
    /// The registry accepts no writes (a read-only file or file system, a standby).
    ReadOnly,
    /// The registry file or its directory cannot be opened.
    CannotOpen,
    /// The registry file is damaged or is not a registry.
    Corrupt,
    /// Another process holds the registry's write lock past the wait.
    Busy,
    /// The connection to the database server failed or was closed by it.
    ConnectionLost,
    /// The server is out of memory, connections or another resource.
    ServerExhausted,
}

/// `REGISTRY_UNAVAILABLE` for `fault`: what failed (with the driver's `detail`)
/// and what to do next. The failed command's registry transaction was rolled
/// back, so rerunning it once the cause is fixed is safe.
pub fn registry_fault(fault: RegistryFault, detail: &str) -> crate::Error {
    let (what, next) = match fault {
        RegistryFault::DiskFull => (
            "the registry's disk is full",
            "free space on the disk that holds the registry (`imi db status` shows where it is), then rerun",
        ),
        RegistryFault::Io => (
            "the registry's storage failed to read or write",
            "check the disk that holds the registry (`imi db status` shows where it is): free space if it is full, replace it if it fails; then rerun",
        ),
        RegistryFault::ReadOnly => (
            "the registry is read-only",
            "make the registry writable for this user (file, directory and file system; on PostgreSQL a primary server and the imi_writer role), then rerun",
        ),
        RegistryFault::CannotOpen => (
            "the registry file cannot be opened",
            "check that the registry's directory exists and is readable and writable (`imi db status`), then rerun",
        ),
        RegistryFault::Corrupt => (
            "the registry file is damaged",
            "move it aside and load the last export into a new one (`imi db import FILE`); `imi db shell` with `PRAGMA integrity_check` shows the damage",
        ),
        RegistryFault::Busy => (
            "the registry is busy",
            "another imi process holds the registry's write lock; rerun when it is done",
        ),
        RegistryFault::ConnectionLost => (
            "the connection to the registry's database server failed",
            "check that PostgreSQL is running and reachable at IMI_DATABASE_URL / --database, then rerun",
        ),
        RegistryFault::ServerExhausted => (
            "the registry's database server is out of resources",
            "free memory or connections on the PostgreSQL server (or raise its limits), then rerun",
        ),
    };
    crate::Error::unavailable(format!("{what} ({detail})")).with_hint(next)
}
