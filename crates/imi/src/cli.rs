//! What the user typed: clap definitions only, no I/O. Doc comments are the `--help`
//! text.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Worktree manager and project registry for people and AI agents working in
/// parallel on many git repositories
#[derive(Debug, Parser)]
#[command(name = "imi", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Write exactly one JSON document to stdout: {"success": ..., "data"|"error": ...}
    #[arg(long, global = true)]
    pub json: bool,
    /// Registry to use: postgres://... or sqlite:///path (default: the embedded SQLite
    /// file; also IMI_DATABASE_URL or `database_url` in the config file)
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Agent id recorded in the activity log (default: IMI_AGENT_ID, else the user name)
    #[arg(long, global = true, value_name = "ID")]
    pub agent: Option<String>,
    /// Project to act on: name, UUID or any form of its remote (default: the project
    /// of the current directory)
    #[arg(short = 'p', long, global = true, value_name = "PROJECT", add = crate::complete::projects())]
    pub project: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Administer the registry: schema, maintenance, roles, shell
    #[command(subcommand)]
    Db(DbCommand),
    /// Show or change settings: your config file, or the repository's .imi.toml (--project-file)
    Config(ConfigArgs),
    /// Register the repository here (or clone URL into the layout) as a project
    Init(InitArgs),
    /// Create (or reuse) a worktree of a type: branch <prefix><name>, directory <prefix><name>
    Add(AddArgs),
    /// Create a feat worktree (shorthand for `imi add feat NAME`)
    Feat(ShorthandArgs),
    /// Create a fix worktree (shorthand for `imi add fix NAME`)
    Fix(ShorthandArgs),
    /// Create an aiops worktree (shorthand for `imi add aiops NAME`)
    Aiops(ShorthandArgs),
    /// Create a devops worktree (shorthand for `imi add devops NAME`)
    Devops(ShorthandArgs),
    /// Check out pull request N (GitHub) or merge request N (GitLab) in worktree pr-N
    Review(ReviewArgs),
    /// List the worktrees of this project (of every project outside one)
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show live git state of this host's worktrees: dirty files, ahead/behind trunk, owner
    Status(StatusArgs),
    /// Remove a worktree; refuses dirty or unmerged work without --force
    #[command(visible_alias = "rm")]
    Remove(RemoveArgs),
    /// Abandon a worktree: remove it, keep its branch
    Close(CloseArgs),
    /// Merge a worktree's branch into trunk, record the merge, remove the worktree
    Merge(MergeArgs),
    /// Hooks of .imi.toml and your config: list, approve, revoke, run again
    #[command(subcommand)]
    Hooks(HooksCommand),
    /// List, add or remove worktree types
    #[command(subcommand)]
    Types(TypesCommand),
    /// Claim a worktree for this agent (on every host), with an optional lease
    Claim(ClaimArgs),
    /// Extend this agent's lease on a worktree
    Renew(RenewArgs),
    /// Release this agent's claim on a worktree (--force: anyone's, logged)
    Release(ReleaseArgs),
    /// List held claims: holder, host, epoch, purpose, lease (--all: ended ones too)
    Claims(ClaimsArgs),
    /// Serve the registry as MCP tools for AI agents, over stdin/stdout
    Mcp(McpArgs),
    /// Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json), its event stream and the live board (/)
    Serve(ServeArgs),
    /// API tokens for `imi serve`: create (shown once), list, revoke
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the event log (every change of the registry, oldest first); --follow waits for more
    Events(EventsArgs),
    /// Set, get or unset worktree metadata by dotted key
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// Show the activity log, newest first (`imi log add` appends an entry)
    Log(LogArgs),
    /// Print the deterministic path of a worktree (of the trunk without WORKTREE)
    Path(PathArgs),
    /// Print the path of the trunk worktree
    Trunk,
    /// Jump to a project or worktree by fuzzy name: prints its path (cd with `imi shell-init`)
    Go(GoArgs),
    /// Print the shell function that makes `imi go` change directory
    ShellInit(ShellArgs),
    /// Print one short line for shell prompts: project, worktree, type and owner
    Prompt,
    /// Print the script that completes commands, options and registry names (projects, worktrees) in a shell
    Completion(ShellArgs),
    /// Import data from elsewhere (the earlier iMi tool's database)
    #[command(subcommand)]
    Import(ImportCommand),
    /// Read every active worktree of this host from git and write its state to the registry
    Sync(SyncArgs),
    /// In-flight work across all projects (-p: one), most recent first
    Inflight,
    /// Registry statistics: projects, worktrees, in-flight work, activities
    Stats,
    /// Forget worktrees whose directories are gone, `git worktree prune`, list strays
    Prune(PruneArgs),
    /// Check the registry, its schema, every path and git's worktree lists; say how to fix
    Doctor,
    /// Finish or undo operations that were interrupted (killed, crashed): see `imi doctor`
    Recover,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Also register git worktrees the registry does not know (type from the name's prefix)
    #[arg(long)]
    pub register: bool,
    /// Type for registered worktrees whose name matches no type's prefix
    #[arg(long = "type", value_name = "TYPE", requires = "register")]
    pub type_name: Option<String>,
    /// Keep syncing as files change (until interrupted)
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Report what would be done; change nothing at all
    #[arg(long)]
    pub dry_run: bool,
    /// Delete stray worktree directories that are clean (never a dirty one)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Clone this repository into <root>/<name>/trunk-<branch> first
    pub url: Option<String>,
    /// Move a repository that is outside the layout into it without asking
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Worktree type (see `imi types list`)
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    #[command(flatten)]
    pub rest: ShorthandArgs,
}

#[derive(Debug, Args)]
pub struct ShorthandArgs {
    /// Worktree name, e.g. user-auth (branch feat/user-auth, directory feat-user-auth)
    pub name: String,
    /// Start the new branch here (default: the remote's default branch, else the local one)
    #[arg(long, value_name = "REF")]
    pub from: Option<String>,
    /// Don't fetch the remote first
    #[arg(long)]
    pub no_fetch: bool,
    /// Skip the post-create hooks (ignored files are still copied)
    #[arg(long)]
    pub no_hooks: bool,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Pull request (or merge request) number
    pub number: u64,
    /// Skip the post-create hooks (ignored files are still copied)
    #[arg(long)]
    pub no_hooks: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List projects instead of worktrees
    #[arg(long)]
    pub projects: bool,
    /// Include inactive (removed, merged) entries
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Worktree name (directory name such as feat-login, or login when unambiguous)
    #[arg(add = crate::complete::worktrees())]
    pub name: String,
    /// Remove even when dirty or unmerged (an unmerged branch is still kept)
    #[arg(long)]
    pub force: bool,
    /// Keep the branch even when it is merged
    #[arg(long)]
    pub keep_branch: bool,
    /// Skip the pre-remove hooks
    #[arg(long)]
    pub no_hooks: bool,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Worktree name
    #[arg(add = crate::complete::worktrees())]
    pub name: String,
    /// Remove even when the worktree has uncommitted changes (they are lost)
    #[arg(long)]
    pub force: bool,
    /// Skip the pre-remove hooks
    #[arg(long)]
    pub no_hooks: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Worktree to merge (default: the one you are in)
    #[arg(add = crate::complete::worktrees())]
    pub name: Option<String>,
    /// Squash the branch into one commit
    #[arg(long, conflicts_with = "ff_only")]
    pub squash: bool,
    /// Only fast-forward; refuse when trunk has moved on
    #[arg(long)]
    pub ff_only: bool,
    /// Push trunk to origin afterwards
    #[arg(long)]
    pub push: bool,
    /// Merge even when another agent has claimed the worktree (logged)
    #[arg(long)]
    pub force: bool,
    /// Skip the post-merge hooks
    #[arg(long)]
    pub no_hooks: bool,
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Worktree name (default: the one you are in)
    #[arg(add = crate::complete::worktrees())]
    pub worktree: Option<String>,
    /// Lease length, e.g. 90s, 30m, 2h, 1d (default: held until released)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// What the agent is doing there
    #[arg(long, value_name = "TEXT")]
    pub purpose: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Worktree name (default: the one you are in)
    #[arg(add = crate::complete::worktrees())]
    pub worktree: Option<String>,
    /// New lease length from now (default: the claim's own)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Only this tenure (fencing token from `imi claim --json`; default: the current one)
    #[arg(long, value_name = "N")]
    pub epoch: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Worktree name (default: the one you are in)
    #[arg(add = crate::complete::worktrees())]
    pub worktree: Option<String>,
    /// Release another agent's claim (logged with its holder)
    #[arg(long)]
    pub force: bool,
    /// Only this tenure (fencing token; default: the current one)
    #[arg(long, value_name = "N", conflicts_with = "force")]
    pub epoch: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Include released and expired claims
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve the same tools through a remote `imi serve` at this URL (no database access needed)
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    /// The bearer token for --remote (prefer the IMI_TOKEN variable: a command line is visible to other users)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMI_TOKEN",
        hide_env_values = true,
        requires = "remote"
    )]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on; an address other than loopback needs a token (`imi token create`)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Require a bearer token on every request, also on loopback
    #[arg(long)]
    pub require_token: bool,
    /// Another name this server is reached by (a reverse proxy's host name); repeatable.
    /// Requests whose Host is not the listen address, a loopback name or one of these are refused
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Seconds a request may take before it is answered 503 (the event stream is not limited)
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
    /// Print the OpenAPI document and exit
    #[arg(long)]
    pub print_openapi: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; the secret is printed once and only its hash is stored
    Create(TokenCreateArgs),
    /// List tokens: name, scope, created, expires (never the secret)
    List,
    /// Revoke a token by name; requests with it fail from then on
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// A name to tell tokens apart (ci, board, agent-host-2)
    #[arg(long)]
    pub name: String,
    /// read: look only; write: also change worktrees, claims, logs; admin: also types and projects
    #[arg(long, value_name = "SCOPE", default_value = "read")]
    pub scope: String,
    /// Lifetime (90d, 12h, 30m); none: until revoked
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events after this id (the `last_id` of an earlier read; 0: from the start)
    #[arg(long, value_name = "ID")]
    pub since: Option<i64>,
    /// Keep printing events as they are committed, by any process on any host (Ctrl-C ends)
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only this type (imi.claim.stolen) or prefix (imi.claim.); repeatable
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// At most this many events (without --since: the latest ones)
    #[arg(long, value_name = "N", default_value_t = crate::ops::events::DEFAULT_LIMIT)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: Option<ConfigCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The settings in effect (the default)
    List {
        /// Say where each value comes from (flag, environment, which file, default)
        #[arg(long)]
        show_origin: bool,
    },
    /// One setting: database_url, root, agent_id, hooks.post-create, hooks.pre-remove,
    /// hooks.post-merge, hooks.timeout, copy.include
    Get {
        key: String,
        /// From the repository's .imi.toml (hooks.*, copy.include)
        #[arg(long)]
        project_file: bool,
    },
    /// Write a setting to your config file (--project-file: the repository's .imi.toml);
    /// several values make a list (hooks, copy.include)
    Set {
        key: String,
        #[arg(required = true, num_args = 1..)]
        values: Vec<String>,
        /// In the repository's .imi.toml instead of your config file
        #[arg(long)]
        project_file: bool,
    },
    /// Remove a setting from your config file (--project-file: from .imi.toml)
    Unset {
        key: String,
        /// In the repository's .imi.toml instead of your config file
        #[arg(long)]
        project_file: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// The configured commands of every hook, with their approval
    List,
    /// Approve the project's hook commands (all, or the one given), for every agent and host
    Approve {
        /// Only this exact command
        command: Option<String>,
    },
    /// Withdraw approvals (all of the project's, or the one given)
    Revoke {
        /// Only this exact command
        command: Option<String>,
    },
    /// Run a hook again for a worktree (default: the one you are in)
    Run {
        /// post-create, pre-remove or post-merge
        hook: String,
        /// Worktree name
        #[arg(add = crate::complete::worktrees())]
        worktree: Option<String>,
        /// Run it even when another agent has claimed the worktree (logged)
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TypesCommand {
    /// List worktree types
    List,
    /// Add a custom type
    Add {
        /// Lowercase name: a letter, then letters, digits or `-`
        name: String,
        /// Branch prefix (default: <name>/)
        #[arg(long)]
        branch_prefix: Option<String>,
        /// Directory prefix (default: <name>-)
        #[arg(long)]
        worktree_prefix: Option<String>,
        /// What the type is for
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a custom type that no worktree uses
    Remove {
        /// Type name
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetadataCommand {
    /// Set KEY (dotted, e.g. plane.ticket_id) to VALUE (JSON when it parses as JSON)
    Set {
        /// Worktree name
        #[arg(add = crate::complete::worktrees())]
        worktree: String,
        key: String,
        value: String,
        /// Change it even when another agent has claimed the worktree (logged)
        #[arg(long)]
        force: bool,
    },
    /// Print the value at KEY, or the whole metadata object
    Get {
        /// Worktree name
        #[arg(add = crate::complete::worktrees())]
        worktree: String,
        key: Option<String>,
    },
    /// Remove KEY
    Unset {
        /// Worktree name
        #[arg(add = crate::complete::worktrees())]
        worktree: String,
        key: String,
        /// Change it even when another agent has claimed the worktree (logged)
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(subcommand)]
    pub add: Option<LogCommand>,
    /// How many entries (`--agent ID` shows only that agent's)
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Append an entry to the activity log
    Add {
        /// created, modified, deleted, committed, pushed, merged, synced, claimed, released, removed or other
        activity_type: String,
        /// What happened
        description: String,
        /// The worktree it concerns
        #[arg(long, add = crate::complete::worktrees())]
        worktree: Option<String>,
        /// The file it concerns
        #[arg(long)]
        file: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending schema migrations (safe to run again, and concurrently)
    Migrate,
    /// Show the backend, the schema version and the registry's counts
    Status,
    /// Open psql or sqlite3 on the registry
    Shell,
    /// Delete old activities, prune old inactive worktrees, then VACUUM and ANALYZE
    Maintain(MaintainArgs),
    /// Create the PostgreSQL roles imi_reader, imi_auditor and imi_writer (idempotent)
    Roles,
    /// Drop every imi table, view and function of the registry (for test set-ups)
    Reset(ResetArgs),
    /// Copy the whole registry to another one (ids and timestamps kept, idempotent)
    Copy(CopyArgs),
    /// Write the whole registry as one versioned JSON document (stdout without FILE)
    Export(ExportArgs),
    /// Load a document written by `imi db export` (ids and timestamps kept)
    Import(DbImportArgs),
}

#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// Delete activities older than this many days
    #[arg(
        long,
        default_value_t = 90,
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub retention_days: i32,
    /// Delete inactive worktrees not updated for this many days (their activities stay)
    #[arg(
        long,
        default_value_t = 30,
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub inactive_days: i32,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Confirm: everything in the registry is deleted
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// Worktree directory name, e.g. feat-login (default: the trunk)
    #[arg(add = crate::complete::worktrees())]
    pub worktree: Option<String>,
}

#[derive(Debug, Args)]
pub struct GoArgs {
    /// Project, worktree or project/worktree, fuzzily (default: this project's trunk,
    /// else a picker over everything)
    #[arg(add = crate::complete::places())]
    pub query: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The shell to write the script for
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the earlier iMi's SQLite database (default ~/.config/iMi/iMi.db):
    /// repositories, worktrees, types and activities, keeping their UUIDs
    Legacy(LegacyArgs),
}

#[derive(Debug, Args)]
pub struct LegacyArgs {
    /// The legacy database (default: ~/.config/iMi/iMi.db, else ~/.local/share/imi/database.db)
    pub file: Option<std::path::PathBuf>,
    /// Report what would be imported; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Target registry: postgres://... or sqlite:///path
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Source registry (default: the configured one)
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// Replace target rows that hold other values for the same ids (refused otherwise)
    #[arg(long)]
    pub overwrite: bool,
    /// Report what would be copied; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write here (atomically) instead of stdout
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DbImportArgs {
    /// A document written by `imi db export`
    pub file: std::path::PathBuf,
    /// Replace rows that hold other values for the same ids (refused otherwise)
    #[arg(long)]
    pub overwrite: bool,
    /// Report what would be imported; write nothing
    #[arg(long)]
    pub dry_run: bool,
}
