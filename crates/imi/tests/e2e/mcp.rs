//! `imi mcp` driven by a client nobody here wrote: the official Python MCP SDK
//! (`mcp` from PyPI; `.ci/run` installs it into `target/ci-venv`) starts `imi mcp`
//! and runs an agent's whole loop, bad input, and two agents racing for one claim
//! (`tests/mcp/agent_loop.py`), on every backend.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::World;

/// The Python with the `mcp` package: `IMI_TEST_PYTHON`, else the virtual
/// environment `.ci/run` makes. `None` (the test is skipped) outside CI when there
/// is none; in CI a missing one fails the test.
fn python() -> Option<PathBuf> {
    let p = std::env::var_os("IMI_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-venv/bin/python")
        });
    let has_mcp = p.exists()
        && Command::new(&p)
            .args(["-c", "import mcp"])
            .status()
            .is_ok_and(|s| s.success());
    if has_mcp {
        return Some(p);
    }
    assert!(
        !imi_testkit::postgres_required(),
        "the MCP client tests need Python with the `mcp` package at {} (.ci/run installs it)",
        p.display()
    );
    eprintln!(
        "skipped: no Python with the `mcp` package at {}",
        p.display()
    );
    None
}

fn agent_loop_with_the_python_sdk(w: &World) {
    let Some(py) = python() else { return };
    w.init_project();
    run_agent_loop(w, &py, &[]);
}

/// `imi mcp --remote URL` on a host without the registry: the same loop through a
/// token-guarded `imi serve`, the token in IMI_TOKEN (never on a command line).
fn agent_loop_through_a_remote_server(w: &World) {
    let Some(py) = python() else { return };
    w.init_project();
    let (code, v) = w.imi_json(
        w.path(),
        &["token", "create", "--name", "mcp", "--scope", "write"],
    );
    assert_eq!(code, 0, "{v}");
    let token = v["data"]["secret"].as_str().unwrap().to_string();
    let server = crate::server::Server::start(w, &["--require-token"]);
    run_agent_loop(
        w,
        &py,
        &[
            ("IMI_MCP_ARGS", format!("--remote {}", server.url)),
            ("IMI_TOKEN", token.clone()),
            // the MCP processes have no registry: every tool goes through the server
            (
                "IMI_DATABASE_URL",
                "postgres://nobody@127.0.0.1:1/none".into(),
            ),
        ],
    );
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.contains("\"token\":\"mcp\""),
        "the server was not used: {log}"
    );
    assert!(!log.contains(&token), "the token reached the log");
}

fn run_agent_loop(w: &World, py: &std::path::Path, extra_env: &[(&str, String)]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/agent_loop.py");
    let mut c = Command::new(py);
    w.imi_env(&mut c);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c
        .current_dir(w.trunk())
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_imi"))
        .arg(w.trunk())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the agent loop failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("every step passed"), "{stdout}");
    assert!(stdout.contains("the other got CONFLICT"), "{stdout}");
}

crate::all_backends! {
    mcp_python_client => agent_loop_with_the_python_sdk;
}

mod remote {
    use super::agent_loop_through_a_remote_server;

    crate::both_backends! {
        mcp_python_client_remote => agent_loop_through_a_remote_server;
    }
}
