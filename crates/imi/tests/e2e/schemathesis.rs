//! `imi serve` tested by a tool nobody here wrote, from nothing but its OpenAPI
//! document: schemathesis (PyPI; `.ci/run` installs it into `target/ci-venv`)
//! generates requests for every operation, valid and invalid, and runs its default
//! checks on every answer: no 5xx, every status, content type, header and body as
//! the document says, invalid input rejected, valid input accepted. On every
//! backend, against a world with a project and worktrees (the worktree-changing
//! calls are real git operations in that world).

use std::path::PathBuf;
use std::process::Command;

use crate::harness::World;
use crate::server::Server;

/// The schemathesis CLI: `IMI_TEST_SCHEMATHESIS`, else the one in the virtual
/// environment `.ci/run` makes. `None` (the test is skipped) outside CI when there
/// is none; in CI a missing one fails the test.
fn schemathesis() -> Option<PathBuf> {
    let p = std::env::var_os("IMI_TEST_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-venv/bin/schemathesis")
        });
    let works = p.exists()
        && Command::new(&p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if works {
        return Some(p);
    }
    assert!(
        !imi_testkit::postgres_required(),
        "the API conformance tests need schemathesis at {} (.ci/run installs it)",
        p.display()
    );
    eprintln!("skipped: no schemathesis at {}", p.display());
    None
}

/// Where generated requests take names from besides random text, so that most of
/// them reach the operations behind the lookups (a random project or worktree name
/// is a 404 before anything happens): the world's project, its worktrees, metadata
/// keys, types and pull request. Each is used with the given probability; the rest
/// of the time the value is generated from the document as usual.
const CONFIG: &str = r#"
[parameters]
"path.project" = { dictionary = "projects", probability = 0.8 }
"path.worktree" = { dictionary = "worktrees", probability = 0.8 }
"path.key" = { dictionary = "keys", probability = 0.6 }
"query.project" = { dictionary = "projects", probability = 0.6 }
"query.worktree" = { dictionary = "worktrees", probability = 0.6 }
"body.project" = { dictionary = "projects", probability = 0.8 }
"body.worktree" = { dictionary = "worktrees", probability = 0.8 }
"body.type" = { dictionary = "types", probability = 0.8 }
"body.number" = { dictionary = "reviews", probability = 0.5 }

# "A created resource must be found afterwards" (ST302) knows only DELETE as what
# ends a resource; here POST .../close and .../merge end a worktree too, and the
# stateful phase chains create -> close -> read, which rightly answers 404.
[checks.ensure_resource_availability]
enabled = false

[dictionaries.projects]
values = ["app"]
[dictionaries.worktrees]
values = ["feat-x", "fix-y", "aiops-z", "devops-w", "feat-a", "feat-b", "trunk-main", "x"]
[dictionaries.keys]
values = ["plane", "plane.ticket", "owner"]
[dictionaries.types]
values = ["feat", "fix", "aiops", "devops"]
[dictionaries.reviews]
values = [7]

# SPEC 7.3: a request that would lose work (the review's unmerged commits, a dirty
# worktree) is refused with 422 UNSAFE however well-formed it is: for the three
# operations that remove a worktree, 422 answers valid input (the default check
# counts only 2xx, 404 and 409 as such answers).
[[operations]]
include-path-regex = '/worktrees/\{worktree\}(/close|/merge)?$'
include-method = ["DELETE", "POST"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"#;

/// The line of schemathesis's summary that counts the test cases, and its last
/// line (`===== N passed in 40.1s =====`).
fn summary(stdout: &str) -> String {
    let cases = stdout
        .lines()
        .find(|l| l.contains(" generated, "))
        .map(str::trim)
        .unwrap_or("(no count of test cases)");
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('=') && l.contains(" in "))
        .map(|l| l.trim_matches(|c: char| c == '=' || c.is_whitespace()))
        .unwrap_or("(no summary line)");
    format!("{cases}; {last}")
}

fn every_operation_conforms(w: &World) {
    let Some(st) = schemathesis() else { return };
    // a pull request to review, published as GitHub does
    let seed = w.path().join("seed");
    w.git(&seed, &["checkout", "--quiet", "-b", "pr"]);
    w.write(&seed.join("pr.txt"), "a change to review\n");
    w.git(&seed, &["add", "pr.txt"]);
    w.git(&seed, &["commit", "--quiet", "-m", "a change to review"]);
    w.git(
        &seed,
        &["push", "--quiet", "origin", "HEAD:refs/pull/7/head"],
    );
    w.init_project();
    for (kind, name) in [
        ("feat", "x"),
        ("fix", "y"),
        ("aiops", "z"),
        ("devops", "w"),
        ("feat", "a"),
        ("feat", "b"),
    ] {
        w.imi(&w.trunk(), &["add", kind, name]).ok();
    }
    w.imi(&w.wt("feat-x"), &["claim", "--purpose", "testing"])
        .ok();
    w.imi(
        &w.trunk(),
        &["metadata", "set", "fix-y", "plane.ticket", "7"],
    )
    .ok();
    let config = w.path().join("schemathesis.toml");
    w.write(&config, CONFIG);
    let server = Server::start(w, &[]);
    let mut c = Command::new(&st);
    // schemathesis's own files (its reports, its cache) stay in the world
    imi_testkit::cli::hermetic(&mut c, w.path());
    let started = std::time::Instant::now();
    let out = c
        .current_dir(w.path())
        .arg("--config-file")
        .arg(&config)
        .args([
            "run",
            &server.api("/openapi.json"),
            // the default checks, every phase; a bounded number of cases per
            // operation and one worker keep a run near a minute on two cores
            "--max-examples",
            "30",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            // one fixed seed, so a failure in CI reproduces (and CI does not pass or
            // fail by the draw); IMI_TEST_SCHEMATHESIS_SEED=N explores others
            "--seed",
            &std::env::var("IMI_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261130".into()),
            "--no-color",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "schemathesis ({:.0} s): {}",
        started.elapsed().as_secs_f64(),
        summary(&stdout)
    );
    if !out.status.success() {
        // the whole log runs to thousands of lines: keep it in a file, show its end
        let log = server.log.lock().unwrap().join("\n");
        let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "schemathesis-serve-{}.log",
            w.path().file_name().unwrap_or_default().to_string_lossy()
        ));
        std::fs::write(&kept, &log).unwrap();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "schemathesis found problems (exit {:?}):\n{stdout}\n{stderr}\nthe server's log ends (all of it: {}):\n{}",
            out.status.code(),
            kept.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(stdout.contains(" passed"), "{stdout}");
    // belt and braces: the server's own log has no 5xx either
    for e in server.requests() {
        assert!(
            e["status"].as_u64().is_some_and(|s| s < 500),
            "a 5xx answer: {e}"
        );
    }
}

crate::both_backends! {
    schemathesis_every_operation => every_operation_conforms;
}
