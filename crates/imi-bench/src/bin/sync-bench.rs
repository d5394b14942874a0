//! `cargo run --release -p imi-bench --bin sync-bench [-- --repos R --worktrees W]`
//!
//! Git state sync at scale (SPEC §8: "git sync of hundreds of worktrees must cost
//! little more than running git status on each of them in parallel"). Builds R
//! repositories x W worktrees (default 20 x 25 = 500, the trunk counted) in mixed
//! states (clean, dirty, ahead, behind, diverged) in a temporary directory,
//! registers them (`imi init`, then `imi sync --register`) in a fresh PostgreSQL
//! database, and times in one run:
//!   (a) the seed's approach: a shell loop, per worktree `git status --porcelain |
//!       wc -l`, two `git rev-list --count`, `git log -1` and one `psql` UPDATE;
//!   (b) the floor: the same git commands alone, in parallel over all worktrees
//!       (as many at once as imi runs: max(4, 2 x cores));
//!   (c) `imi sync`.
//! It prints (a)/(c) (target >= 10) and (c)/(b) (target <= 1.5), and the time of
//! `imi inflight` and `imi status` at that scale. The release `imi` binary is built
//! first (`cargo build --release -p imi`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Env {
    home: PathBuf,
    url: String,
    imi: PathBuf,
}

impl Env {
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
        let mut c = imi_testkit::cli::command(program, &self.home, dir);
        c.env("IMI_ROOT", self.home.join("code"))
            .env("IMI_DATABASE_URL", &self.url);
        c
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.cmd("git", dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn imi(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.cmd(&self.imi, dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "imi {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn parallelism() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    (2 * cores).max(4)
}

fn par_for<T: Sync>(items: &[T], workers: usize, f: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    f(item);
                }
            });
        }
    });
}

fn write(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap();
}

/// One repository: origin with two commits on main, a trunk clone registered with
/// `imi init`, W-1 linked worktrees in mixed states made with plain git.
fn build_repo(env: &Env, r: usize, w: usize) {
    let remotes = env.home.join("remotes");
    let origin = remotes.join(format!("r{r:02}.git"));
    env.git(
        &remotes,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    let seed = env.home.join(format!("seed/r{r:02}"));
    env.git(
        &env.home,
        &[
            "clone",
            "--quiet",
            origin.to_str().unwrap(),
            seed.to_str().unwrap(),
        ],
    );
    for (i, msg) in ["initial", "second"].iter().enumerate() {
        write(&seed.join(format!("f{i}.txt")), &format!("{msg}\n"));
        env.git(&seed, &["add", "."]);
        env.git(&seed, &["commit", "--quiet", "-m", msg]);
    }
    env.git(&seed, &["push", "--quiet", "origin", "main"]);
    let container = env.home.join(format!("code/r{r:02}"));
    std::fs::create_dir_all(&container).unwrap();
    let trunk = container.join("trunk-main");
    env.git(
        &env.home,
        &[
            "clone",
            "--quiet",
            origin.to_str().unwrap(),
            trunk.to_str().unwrap(),
        ],
    );
    env.imi(&trunk, &["init"]);
    for j in 1..w {
        let name = format!("feat-w{j:02}");
        let path = container.join(&name);
        let from = if j % 5 >= 3 {
            "origin/main~1"
        } else {
            "origin/main"
        };
        env.git(
            &trunk,
            &[
                "worktree",
                "add",
                "--quiet",
                "--no-track",
                "-b",
                &format!("feat/w{j:02}"),
                path.to_str().unwrap(),
                from,
            ],
        );
        match j % 5 {
            1 => {
                write(&path.join("f0.txt"), "changed\n");
                write(&path.join("untracked.txt"), "new\n");
            }
            2 | 4 => {
                write(&path.join("work.txt"), &format!("work {j}\n"));
                env.git(&path, &["add", "work.txt"]);
                env.git(&path, &["commit", "--quiet", "-m", &format!("work {j}")]);
            }
            _ => {}
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn floor(env: &Env, paths: &[String]) -> Duration {
    let t = Instant::now();
    par_for(paths, parallelism(), |p| {
        let dir = Path::new(p);
        for args in [
            &["status", "--porcelain"][..],
            &["rev-list", "--count", "origin/main..HEAD"][..],
            &["rev-list", "--count", "HEAD..origin/main"][..],
            &["log", "-1", "--format=%H %s"][..],
        ] {
            let out = env
                .cmd("git", dir)
                .args(args)
                .stderr(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success());
            std::hint::black_box(out.stdout.len());
        }
    });
    t.elapsed()
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let repos = arg("--repos", 20);
    let per_repo = arg("--worktrees", 25).max(1);
    let runs = arg("--runs", 3).max(1);

    // the release imi binary, next to this one
    if let Some(cargo) = std::env::var_os("CARGO") {
        let st = Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", "imi", "--bin", "imi"])
            .status()
            .unwrap();
        assert!(st.success(), "building imi failed");
    }
    let imi = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("imi");
    assert!(
        imi.exists(),
        "{} not found: cargo build --release -p imi",
        imi.display()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt
        .block_on(imi_testkit::PgTestDb::create())
        .expect("PostgreSQL is needed (IMI_TEST_DATABASE_URL)");
    let tmp = tempfile::tempdir().unwrap();
    let env = Env {
        home: tmp.path().to_path_buf(),
        url: db.url.clone(),
        imi,
    };
    std::fs::create_dir_all(env.home.join("remotes")).unwrap();
    std::fs::create_dir_all(env.home.join("seed")).unwrap();
    env.imi(&env.home, &["db", "migrate"]);

    let t = Instant::now();
    let ids: Vec<usize> = (0..repos).collect();
    par_for(&ids, parallelism(), |&r| build_repo(&env, r, per_repo));
    let reg = env.imi(&env.home, &["--json", "sync", "--register"]);
    let reg: serde_json::Value = serde_json::from_str(&reg).unwrap();
    let list: serde_json::Value =
        serde_json::from_str(&env.imi(&env.home, &["--json", "list"])).unwrap();
    let rows = list["data"]["worktrees"].as_array().unwrap();
    let paths: Vec<String> = rows
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    println!(
        "fixture: {repos} repositories x {per_repo} worktrees = {} worktrees registered ({} by `imi sync --register`) in {:.1} s; {} cores, {} git processes at once",
        rows.len(),
        reg["data"]["summary"]["registered"],
        secs(t.elapsed()),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        parallelism(),
    );

    // (a) the seed's shell loop
    let tsv: String = rows
        .iter()
        .map(|r| {
            format!(
                "{}\t{}\n",
                r["id"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    write(&env.home.join("worktrees.tsv"), &tsv);
    let script = r#"
while IFS=$'\t' read -r id path; do
  cd "$path" || exit 1
  n=$(git status --porcelain | wc -l)
  a=$(git rev-list --count origin/main..HEAD)
  b=$(git rev-list --count HEAD..origin/main)
  l=$(git log -1 --format='%H %s')
  h=${l%% *}
  m=${l#* }
  psql -X -q -v ON_ERROR_STOP=1 -v id="$id" -v h="$h" -v m="$m" "$IMI_DATABASE_URL" >/dev/null <<'SQL'
UPDATE worktrees SET uncommitted_files_count = :n, ahead_of_trunk = 0, behind_trunk = 0,
  last_commit_hash = :'h', last_commit_message = :'m', last_sync_at = now() WHERE id = :'id';
SQL
done < "$1"
"#
    // psql cannot interpolate shell numbers into :n without -v; pass them too
    .replace("-v id=", "-v n=\"$n\" -v a=\"$a\" -v b=\"$b\" -v id=")
    .replace("ahead_of_trunk = 0, behind_trunk = 0", "ahead_of_trunk = :a, behind_trunk = :b");
    write(&env.home.join("seed-sync.sh"), &script);
    let a = timed(|| {
        let st = env
            .cmd("bash", &env.home)
            .arg(env.home.join("seed-sync.sh"))
            .arg(env.home.join("worktrees.tsv"))
            .status()
            .unwrap();
        assert!(st.success(), "the seed's loop failed");
    });

    // (b) and (c), interleaved, median of `runs`
    let mut bs = vec![];
    let mut cs = vec![];
    let mut summary = serde_json::Value::Null;
    let mut ds = vec![];
    for _ in 0..runs {
        bs.push(floor(&env, &paths));
        cs.push(timed(|| {
            let out = env.imi(&env.home, &["--json", "sync"]);
            summary =
                serde_json::from_str::<serde_json::Value>(&out).unwrap()["data"]["summary"].clone();
        }));
        // the human table, as a person runs it (interleaved with the floor)
        ds.push(timed(|| drop(env.imi(&env.home, &["status"]))));
    }
    let b = median(bs);
    let c = median(cs);
    let status = median(ds);
    let inflight = median(
        (0..runs)
            .map(|_| timed(|| drop(env.imi(&env.home, &["inflight"]))))
            .collect(),
    );
    let n_inflight =
        serde_json::from_str::<serde_json::Value>(&env.imi(&env.home, &["--json", "inflight"]))
            .unwrap()["data"]["inflight"]
            .as_array()
            .unwrap()
            .len();

    println!("imi sync summary: {summary}");
    println!(
        "(a) seed shell loop (git + psql per worktree, serial): {:>8.3} s",
        secs(a)
    );
    println!(
        "(b) floor: same git commands, parallel, no registry:    {:>8.3} s",
        secs(b)
    );
    println!(
        "(c) imi sync (PostgreSQL):                              {:>8.3} s",
        secs(c)
    );
    println!(
        "(a)/(c) = {:.1}x faster than the seed (target >= 10x)",
        secs(a) / secs(c)
    );
    println!(
        "(c)/(b) = {:.2} of the git floor (target <= 1.5)",
        secs(c) / secs(b)
    );
    println!(
        "imi inflight ({n_inflight} rows in flight of {}): {:.1} ms",
        rows.len(),
        secs(inflight) * 1000.0
    );
    println!(
        "(d) imi status ({} worktrees, reads git and writes back): {:.1} ms",
        rows.len(),
        secs(status) * 1000.0
    );
    println!(
        "(d)/(b) = {:.2} of the git floor (target <= 1.0)",
        secs(status) / secs(b)
    );
}
