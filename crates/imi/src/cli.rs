//! What the user typed: clap definitions only, no I/O. Doc comments are the `--help`
//! text.

use clap::{Args, Parser, Subcommand};

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Administer the registry: schema, maintenance, roles, shell
    #[command(subcommand)]
    Db(DbCommand),
    /// Show the configuration in effect and where each value comes from
    Config,
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
