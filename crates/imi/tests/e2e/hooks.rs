//! Setting up a new worktree (SPEC §10) in real repositories: ignored files copied
//! from the trunk (never a tracked one, never over an existing file, no symlink out
//! of the trunk), `post-create` with its environment and a log, a failing hook that
//! keeps the worktree and `imi hooks run`, and trust: a project command nobody
//! approved never runs without a terminal, an approval made by one process is
//! honoured by another (and by another host), one changed character needs a new one.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::harness::World;

const HOOK: &str = "printf '%s|%s|%s|%s|%s|%s|%s|%s\\n' \"$IMI_PROJECT\" \"$IMI_WORKTREE\" \"$IMI_WORKTREE_PATH\" \"$IMI_BRANCH\" \"$IMI_TRUNK_PATH\" \"$IMI_TYPE\" \"$IMI_PORT\" \"$IMI_HOOK\" > hook-ran.txt; echo hook-output";

fn seed(w: &World, imi_toml: &str) {
    let seed = w.path().join("seed");
    w.write(
        &seed.join(".gitignore"),
        ".env\n*.local\nlinks/\n.second\nhook-ran.txt\n",
    );
    w.write(&seed.join(".imi.toml"), imi_toml);
    w.write(&seed.join(".worktreeinclude"), "*.local\n");
    w.write(&seed.join("tracked.local"), "committed\n");
    w.git(
        &seed,
        &["add", ".gitignore", ".imi.toml", ".worktreeinclude"],
    );
    w.git(&seed, &["add", "-f", "tracked.local"]);
    w.git(&seed, &["commit", "--quiet", "-m", "set-up files"]);
    // a branch that already has x.local committed
    w.git(&seed, &["checkout", "--quiet", "-b", "feat/pre"]);
    w.write(&seed.join("x.local"), "from the branch\n");
    w.git(&seed, &["add", "-f", "x.local"]);
    w.git(&seed, &["commit", "--quiet", "-m", "x.local"]);
    w.git(&seed, &["push", "--quiet", "origin", "main", "feat/pre"]);
}

fn add(w: &World, name: &str) -> Value {
    let (code, v) = w.imi_json(&w.trunk(), &["feat", name]);
    assert_eq!(code, 0, "{v}");
    v["data"].clone()
}

fn hooks_of(data: &Value) -> Vec<Value> {
    data["setup"]["hooks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn setup_copies_and_trusts(w: &World) {
    seed(
        w,
        &format!("[hooks]\npost-create = {HOOK:?}\n\n[copy]\ninclude = [\".env\"]\n"),
    );
    w.init_project();
    let t = w.trunk();
    // the trunk's ignored files, a modified tracked one, symlinks in and out
    w.write(&t.join(".env"), "SECRET=1\n");
    w.write(&t.join("a.local"), "a\n");
    w.write(&t.join("x.local"), "from the trunk\n");
    w.write(&t.join("tracked.local"), "modified in the trunk\n");
    std::fs::create_dir_all(t.join("links")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", t.join("links/out.local")).unwrap();
    std::os::unix::fs::symlink("../a.local", t.join("links/in.local")).unwrap();

    // 1. no terminal, nothing approved: files copied, the project's command skipped
    let d = add(w, "one");
    let wt = w.wt("feat-one");
    assert_eq!(read(&wt.join(".env")), "SECRET=1\n");
    assert_eq!(read(&wt.join("a.local")), "a\n");
    assert_eq!(
        read(&wt.join("tracked.local")),
        "committed\n",
        "a tracked file was copied"
    );
    assert_eq!(
        std::fs::read_link(wt.join("links/in.local")).unwrap(),
        Path::new("../a.local")
    );
    assert!(
        wt.join("links/out.local").symlink_metadata().is_err(),
        "a symlink out of the trunk was copied"
    );
    let copied: Vec<&str> = d["setup"]["copied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        copied.contains(&".env") && copied.contains(&"a.local"),
        "{copied:?}"
    );
    assert!(
        !wt.join("hook-ran.txt").exists(),
        "an unapproved project hook ran"
    );
    let h = hooks_of(&d);
    assert_eq!(h.len(), 1, "{d}");
    assert_eq!(h[0]["status"], "unapproved", "{d}");

    // an existing file (committed on the branch) is never overwritten
    w.git(&t, &["branch", "--quiet", "feat/pre", "origin/feat/pre"]);
    let (code, v) = w.imi_json(&t, &["feat", "pre"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(read(&w.wt("feat-pre").join("x.local")), "from the branch\n");
    assert!(
        v["data"]["setup"]["not_copied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "x.local"),
        "{v}"
    );

    // 2. approved by one process, honoured by the next (and by another host)
    let (code, v) = w.imi_json(&t, &["hooks", "approve"]);
    assert_eq!(code, 0, "{v}");
    let mut other_host = w.cmd(&t, &["--json", "hooks", "list"]);
    other_host.env("IMI_HOST", "another-host");
    let listed: Value = serde_json::from_slice(&other_host.output().unwrap().stdout).unwrap();
    assert_eq!(listed["data"]["commands"][0]["approved"], true, "{listed}");
    let d = add(w, "two");
    let h = hooks_of(&d);
    assert_eq!(h[0]["status"], "succeeded", "{d}");
    let ran = read(&w.wt("feat-two").join("hook-ran.txt"));
    let f: Vec<&str> = ran.trim_end().split('|').collect();
    let wt2 = w.wt("feat-two");
    assert_eq!(
        [f[0], f[1], f[2], f[3], f[4], f[5], f[7]],
        [
            "app",
            "feat-two",
            wt2.to_str().unwrap(),
            "feat/two",
            t.to_str().unwrap(),
            "feat",
            "post-create"
        ],
        "{ran}"
    );
    let port: u16 = f[6].parse().unwrap();
    assert!((20000..30000).contains(&port), "{port}");
    let log = h[0]["log"].as_str().unwrap();
    assert!(read(Path::new(log)).contains("hook-output"), "{log}");
    // the log may hold secrets: the user's only
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(Path::new(log)), 0o600, "{log}");
    assert_eq!(mode(Path::new(log).parent().unwrap()), 0o700, "{log}");
    // the same worktree name gets the same port again
    w.imi(&t, &["remove", "feat-two", "--force"]).ok();
    add(w, "two");
    assert_eq!(read(&w.wt("feat-two").join("hook-ran.txt")), ran);
    // the run is an event
    let (_, ev) = w.imi_json(&t, &["events", "--type", "imi.hook."]);
    let types: Vec<&str> = ev["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"imi.hook.approved") && types.contains(&"imi.hook.ran"),
        "{types:?}"
    );

    // 3. one character changed: unapproved again, and not run
    let changed = HOOK.replace("hook-output", "hook-output!");
    w.write(
        &t.join(".imi.toml"),
        &format!("[hooks]\npost-create = {changed:?}\n\n[copy]\ninclude = [\".env\"]\n"),
    );
    let d = add(w, "three");
    assert_eq!(hooks_of(&d)[0]["status"], "unapproved", "{d}");
    assert!(!w.wt("feat-three").join("hook-ran.txt").exists());

    // 4. --no-hooks: copies, runs nothing
    w.imi(&t, &["hooks", "approve"]).ok();
    let (code, v) = w.imi_json(&t, &["feat", "four", "--no-hooks"]);
    assert_eq!(code, 0, "{v}");
    assert!(hooks_of(&v["data"]).is_empty(), "{v}");
    assert!(w.wt("feat-four").join(".env").exists());
    assert!(!w.wt("feat-four").join("hook-ran.txt").exists());
}

fn failing_hook_keeps_the_worktree(w: &World) {
    // fails the first time, succeeds when run again
    seed(
        w,
        "[hooks]\npost-create = \"test -f .second || { touch .second; echo first-try; exit 3; }\"\n",
    );
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["hooks", "approve"]).ok();
    let d = add(w, "flaky");
    let h = hooks_of(&d);
    assert_eq!(h[0]["status"], "failed", "{d}");
    assert_eq!(h[0]["exit_code"], 3, "{d}");
    assert!(read(Path::new(h[0]["log"].as_str().unwrap())).contains("first-try"));
    let wt = w.wt("feat-flaky");
    assert!(wt.is_dir(), "a failing post-create removed the worktree");
    // another agent's claim is respected: refused, then run by the holder
    let (code, v) = w.imi_json(&t, &["--agent", "agent-b", "claim", "feat-flaky"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = w.imi_json(&t, &["hooks", "run", "post-create", "feat-flaky"]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (1, Some("CONFLICT")),
        "{v}"
    );
    let (code, v) = w.imi_json(
        &t,
        &[
            "--agent",
            "agent-b",
            "hooks",
            "run",
            "post-create",
            "feat-flaky",
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["hooks"][0]["status"], "succeeded", "{v}");

    // a command past its time limit is killed, with its children
    w.write(
        &t.join(".imi.toml"),
        "[hooks]\npost-create = \"sleep 60 & sleep 60\"\ntimeout = \"1s\"\n",
    );
    w.imi(&t, &["hooks", "approve"]).ok();
    let started = std::time::Instant::now();
    let d = add(w, "slow");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the time limit did not stop the hook"
    );
    assert_eq!(hooks_of(&d)[0]["status"], "timed_out", "{d}");
    assert!(w.wt("feat-slow").is_dir());
}

fn pre_remove_can_stop_and_post_merge_runs(w: &World) {
    seed(
        w,
        "[hooks]\npre-remove = \"test ! -f keep-me.local\"\npost-merge = \"echo \\\"$IMI_WORKTREE\\\" > merged.local\"\n",
    );
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["hooks", "approve"]).ok();
    add(w, "a");
    let wt = w.wt("feat-a");
    w.write(&wt.join("keep-me.local"), "precious\n");
    // a failing pre-remove stops the removal
    let (code, v) = w.imi_json(&t, &["remove", "feat-a"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "UNSAFE", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pre-remove"),
        "{v}"
    );
    assert!(
        wt.join("keep-me.local").exists(),
        "removed despite the hook"
    );
    // --force goes ahead (said on stderr)
    let (code, v) = w.imi_json(&t, &["remove", "feat-a", "--force"]);
    assert_eq!(code, 0, "{v}");
    assert!(!wt.exists());

    // post-merge runs in the trunk after the merge
    add(w, "b");
    let wb = w.wt("feat-b");
    w.write(&wb.join("b.txt"), "b\n");
    w.git(&wb, &["add", "b.txt"]);
    w.git(&wb, &["commit", "--quiet", "-m", "b"]);
    let (code, v) = w.imi_json(&t, &["merge", "feat-b"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["hooks"][0]["status"], "succeeded", "{v}");
    assert_eq!(read(&t.join("merged.local")).trim(), "feat-b");
}

/// `imi config set|get|unset` on the user's file and the repository's `.imi.toml`:
/// comments kept, a password refused, an invalid value never written, and the
/// hooks set this way run.
fn config_edits(w: &World) {
    seed(w, "# the team's hooks\n[hooks]\n");
    w.init_project();
    let t = w.trunk();
    let cfg = w.path().join(".config/imi/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    w.write(&cfg, "# mine\nagent_id = \"me\"\n");
    let ok = |args: &[&str]| {
        let (code, v) = w.imi_json(&t, args);
        assert_eq!(code, 0, "{args:?}: {v}");
        v
    };
    ok(&[
        "config",
        "set",
        "hooks.post-create",
        "echo one > one.local",
        "echo two > two.local",
    ]);
    ok(&["config", "set", "copy.include", ".env"]);
    let text = read(&cfg);
    assert!(text.starts_with("# mine\n"), "{text}");
    let v = ok(&["config", "get", "hooks.post-create"]);
    assert_eq!(
        v["data"]["value"],
        serde_json::json!(["echo one > one.local", "echo two > two.local"])
    );
    // refused, and the file unchanged
    let (code, v) = w.imi_json(
        &t,
        &[
            "config",
            "set",
            "database_url",
            "postgres://u:hunter2@db/imi",
        ],
    );
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (1, Some("VALIDATION_ERROR")),
        "{v}"
    );
    assert!(!v.to_string().contains("hunter2"), "{v}");
    let (code, _) = w.imi_json(&t, &["config", "set", "hooks.timeout", "forever"]);
    assert_eq!(code, 1);
    let (code, _) = w.imi_json(&t, &["config", "set", "--project-file", "root", "/x"]);
    assert_eq!(code, 1);
    assert_eq!(read(&cfg), text);
    assert_eq!(
        std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // the project's file: comments kept
    ok(&["config", "set", "--project-file", "hooks.timeout", "2m"]);
    let project = read(&t.join(".imi.toml"));
    assert!(project.starts_with("# the team's hooks\n"), "{project}");
    assert!(project.contains("timeout = \"2m\""), "{project}");
    // the user's hooks are trusted: they run without an approval
    let d = add(w, "cfg");
    assert_eq!(hooks_of(&d).len(), 2, "{d}");
    assert!(w.wt("feat-cfg").join("two.local").exists());
    ok(&["config", "unset", "hooks.post-create"]);
    let v = ok(&["config", "get", "hooks.post-create"]);
    assert_eq!(v["data"]["value"], Value::Null);
    let v = ok(&["config", "list", "--show-origin"]);
    assert!(
        v["data"]["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "copy.include"),
        "{v}"
    );
}

/// On a terminal `imi feat` asks about an unapproved project command: "y" approves
/// it (in the registry) and it runs; "n" leaves it unapproved and unrun. `script`
/// (util-linux) gives imi the terminal.
fn terminal_asks(w: &World) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    if Command::new("script").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "script is not installed");
        return;
    }
    seed(w, "[hooks]\npost-create = \"echo ran > asked.local\"\n");
    w.init_project();
    let t = w.trunk();
    for (name, answer, runs) in [("no", "n", false), ("yes", "y", true)] {
        let inner = format!("{} feat {name}", env!("CARGO_BIN_EXE_imi"));
        let mut c = Command::new("script");
        w.imi_env(&mut c);
        let mut child = c
            .current_dir(&t)
            .args(["-qec", &inner, "/dev/null"])
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let (mut seen, mut buf, mut told) = (Vec::new(), [0u8; 4096], false);
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if !told && String::from_utf8_lossy(&seen).contains("[y/N]") {
                    told = true;
                    tx.send(()).unwrap();
                }
            }
            String::from_utf8_lossy(&seen).into_owned()
        });
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .expect("imi did not ask");
        stdin.write_all(format!("{answer}\r").as_bytes()).unwrap();
        let status = child.wait().unwrap();
        drop(stdin);
        let screen = reader.join().unwrap();
        assert!(status.success(), "{screen}");
        assert!(screen.contains("echo ran > asked.local"), "{screen}");
        assert_eq!(
            w.wt(&format!("feat-{name}")).join("asked.local").exists(),
            runs,
            "{screen}"
        );
    }
    let (_, v) = w.imi_json(&t, &["hooks", "list"]);
    assert_eq!(v["data"]["commands"][0]["approved"], true, "{v}");
}

crate::both_backends! {
    hooks_terminal => terminal_asks;
    hooks_config => config_edits;
    hooks_remove_merge => pre_remove_can_stop_and_post_merge_runs;
    hooks_setup => setup_copies_and_trusts;
    hooks_failing => failing_hook_keeps_the_worktree;
}
