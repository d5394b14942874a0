//! `imi sync --watch`: a file edit reaches the registry within 2 seconds, and the
//! watcher uses no CPU while nothing changes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::both_backends;
use crate::harness::World;

/// Starts `imi sync --watch` and waits until it watches.
pub fn start_watch(c: Command) -> Child {
    let (child, rx) = start_watch_lines(c);
    // keep draining stderr so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in rx {});
    child
}

/// Waits (up to 30 s) for a line of the watcher's notes that contains `text`.
#[track_caller]
pub fn wait_for_line(rx: &Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("the watcher never said {text:?}"));
        if line.contains(text) {
            return line;
        }
    }
}

/// `imi sync --watch` started by `c`, once it says it is watching; the receiver
/// gets every later line of its notes (stderr), so a test can wait for what the
/// watcher says it did instead of sleeping.
pub fn start_watch_lines(mut c: Command) -> (Child, Receiver<String>) {
    let mut child = c
        .args(["sync", "--watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("imi sync --watch did not start watching");
        if line.contains("watching") {
            break;
        }
    }
    (child, rx)
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // fields after the command name (which is in parentheses)
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

pub fn count_of(w: &World, dir: &Path, name: &str) -> i64 {
    crate::sync::registry_rows(w, dir)
        .iter()
        .find(|r| r["name"] == name)
        .map(|r| r["uncommitted_files_count"].as_i64().unwrap())
        .unwrap_or(-1)
}

/// Polls until the registry shows `want` uncommitted files in `name`.
pub fn wait_for_count(w: &World, dir: &Path, name: &str, want: i64, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let n = count_of(w, dir, name);
        if n == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "registry still shows {n} for {name} after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watch_reflects_edits(w: &World) {
    w.init_project();
    let t = w.trunk();
    w.imi(&t, &["feat", "live"]).ok();
    let child = Kill(start_watch(w.cmd(&t, &[])));
    let pid = child.0.id();
    assert_eq!(count_of(w, &t, "feat-live"), 0);

    // an edit reaches the registry within 2 s
    w.write(&w.wt("feat-live").join("edit.txt"), "new\n");
    let took = wait_for_count(w, &t, "feat-live", 1, Duration::from_secs(2));
    eprintln!("watch: edit visible in the registry after {took:?}");

    // a commit (index, HEAD and refs move inside .git) is seen too
    w.git(&w.wt("feat-live"), &["add", "edit.txt"]);
    w.git(&w.wt("feat-live"), &["commit", "--quiet", "-m", "edit"]);
    wait_for_count(w, &t, "feat-live", 0, Duration::from_secs(2));
    let start = Instant::now();
    loop {
        let rows = crate::sync::registry_rows(w, &t);
        let r = rows.iter().find(|r| r["name"] == "feat-live").unwrap();
        if r["ahead_of_trunk"] == 1 && r["last_commit_message"] == "edit" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "commit not seen: {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // idle: no busy loop while nothing changes. First the watcher finishes what the
    // commit started: its CPU counter stops moving (sampled every 100 ms).
    let settle = Instant::now();
    let mut last = cpu_ticks(pid);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = cpu_ticks(pid);
        if now == last {
            break;
        }
        last = now;
        assert!(
            settle.elapsed() < Duration::from_secs(10),
            "the watcher kept using CPU"
        );
    }
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    eprintln!("watch: {used} clock ticks of CPU in 2 s idle");
    assert!(used <= 3, "the watcher used {used} ticks while idle");
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_ok(),
        "still running"
    );
}

both_backends! {
    watch_reflects_edits => watch_reflects_edits;
}
