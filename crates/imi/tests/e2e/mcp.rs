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
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/agent_loop.py");
    let mut c = Command::new(py);
    w.imi_env(&mut c);
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
