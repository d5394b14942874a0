//! End-to-end tests of the daily CLI: the real `imi` binary against real git
//! repositories (a bare `origin` made by the test), in an isolated environment
//! (temporary HOME, `GIT_CONFIG_GLOBAL=/dev/null`, fixed author and dates), on both
//! registry backends. Every test module is listed here: one test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod board;
mod claims;
mod crash;
mod daily;
mod events;
mod harness;
mod hooks;
mod hosts;
mod input;
mod journey;
mod leaks;
mod maintenance;
mod mcp;
mod pg_restart;
mod recovery;
mod registries;
mod safety;
mod schemathesis;
mod serve;
mod server;
mod sync;
mod terminal;
mod tokens;
mod watch;
mod work;
mod worktrees;
