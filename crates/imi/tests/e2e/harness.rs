//! A world per test: a HOME with a bare origin, a layout root, and a registry (the
//! SQLite default, or a fresh PostgreSQL database).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL through a transaction-pooling PgBouncer (`?pgbouncer=true`).
    PgBouncer,
}

pub struct World {
    pub home: tempfile::TempDir,
    pub pg: Option<imi_testkit::PgTestDb>,
    /// Set for [`Backend::PgBouncer`]: imi reaches `pg` through it.
    pub bouncer: Option<imi_testkit::PgBouncer>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} / {:?}", self.stdout, self.stderr))
    }
}

pub fn from_output(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The hermetic environment shared by every CLI test binary (see
/// [`imi_testkit::cli::hermetic`]).
pub fn git_env(c: &mut Command, home: &Path) {
    imi_testkit::cli::hermetic(c, home);
}

impl World {
    /// `None` for PostgreSQL when it is unreachable and not required.
    pub async fn new(backend: Backend) -> Option<World> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres | Backend::PgBouncer => Some(imi_testkit::PgTestDb::create().await?),
        };
        let bouncer = match backend {
            Backend::PgBouncer => Some(imi_testkit::PgBouncer::start()?),
            _ => None,
        };
        let w = World {
            home: tempfile::tempdir().unwrap(),
            pg,
            bouncer,
        };
        if let (Some(pg), Some(_)) = (&w.pg, &w.bouncer) {
            // migrations need a direct connection (a pooler would lose their lock)
            let mut c = Command::new(env!("CARGO_BIN_EXE_imi"));
            git_env(&mut c, w.path());
            let out = c
                .env("IMI_DATABASE_URL", &pg.url)
                .args(["db", "migrate"])
                .output()
                .unwrap();
            assert!(out.status.success(), "imi db migrate: {out:?}");
        }
        // a bare origin with one commit on main
        std::fs::create_dir_all(w.path().join("remotes")).unwrap();
        w.git(
            w.path(),
            &["init", "--quiet", "--bare", "-b", "main", "remotes/app.git"],
        );
        let seed = w.path().join("seed");
        w.git(w.path(), &["clone", "--quiet", "remotes/app.git", "seed"]);
        std::fs::write(seed.join("README.md"), "hello\n").unwrap();
        w.git(&seed, &["add", "README.md"]);
        w.git(&seed, &["commit", "--quiet", "-m", "initial"]);
        w.git(&seed, &["push", "--quiet", "origin", "main"]);
        Some(w)
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    pub fn root(&self) -> PathBuf {
        self.path().join("code")
    }

    pub fn origin(&self) -> PathBuf {
        self.path().join("remotes/app.git")
    }

    /// The project's trunk after `clone_trunk`.
    pub fn trunk(&self) -> PathBuf {
        self.root().join("app/trunk-main")
    }

    pub fn wt(&self, name: &str) -> PathBuf {
        self.root().join("app").join(name)
    }

    #[track_caller]
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = Command::new("git");
        git_env(&mut c, self.path());
        let out = c.current_dir(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Clones origin into `<root>/app/trunk-main` (a new user's checkout).
    pub fn clone_trunk(&self) {
        std::fs::create_dir_all(self.root().join("app")).unwrap();
        let origin = self.origin();
        self.git(
            self.path(),
            &[
                "clone",
                "--quiet",
                origin.to_str().unwrap(),
                self.trunk().to_str().unwrap(),
            ],
        );
    }

    pub fn cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_imi"));
        self.imi_env(&mut c);
        c.current_dir(dir).args(args);
        c
    }

    /// The environment `imi` runs with in this world (for a command that starts it).
    pub fn imi_env(&self, c: &mut Command) {
        git_env(c, self.path());
        c.env("IMI_ROOT", self.root());
        match (&self.pg, &self.bouncer) {
            (Some(pg), Some(b)) => {
                c.env("IMI_DATABASE_URL", b.url(&pg.name));
            }
            (Some(pg), None) => {
                c.env("IMI_DATABASE_URL", &pg.url);
            }
            _ => {}
        }
    }

    pub fn imi(&self, dir: &Path, args: &[&str]) -> Run {
        from_output(self.cmd(dir, args).output().unwrap())
    }

    pub fn imi_json(&self, dir: &Path, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let r = self.imi(dir, &all);
        let v = r.json();
        (r.code, v)
    }

    /// Clone + `imi init` in the trunk.
    pub fn init_project(&self) {
        self.clone_trunk();
        self.imi(&self.trunk(), &["init"]).ok();
    }

    pub fn write(&self, path: &Path, content: &str) {
        std::fs::write(path, content).unwrap();
    }

    /// Replaces what varies between runs (paths, ids, hashes, times) with markers.
    pub fn normalize(&self, s: &str) -> String {
        let home = self.path().to_string_lossy().into_owned();
        let mut out = s.replace(&home, "[HOME]");
        out = replace_re(&out, is_uuid, "[UUID]");
        out = replace_re(
            &out,
            |w| w.len() == 40 && w.chars().all(|c| c.is_ascii_hexdigit()),
            "[HASH]",
        );
        out
    }
}

fn is_uuid(w: &str) -> bool {
    w.len() == 36 && uuid::Uuid::parse_str(w).is_ok()
}

/// Replaces every maximal run of `[0-9a-f-]` that satisfies `pred`.
fn replace_re(s: &str, pred: impl Fn(&str) -> bool, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            if pred(word) {
                out.push_str(with)
            } else {
                out.push_str(word)
            }
            word.clear();
        }
    };
    for c in s.chars() {
        if c.is_ascii_hexdigit() || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Runs `$body(world)` once per backend, as `sqlite::$name` and `postgres::$name`,
/// and, for `all_backends!`, `pgbouncer::$name` (PostgreSQL through a
/// transaction-pooling PgBouncer).
#[macro_export]
macro_rules! all_backends {
    ($($name:ident => $body:ident;)*) => {
        $crate::both_backends! { $($name => $body;)* }
        mod pgbouncer {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(w) = $crate::harness::World::new($crate::harness::Backend::PgBouncer).await else { return };
                    tokio::task::spawn_blocking(move || super::$body(&w)).await.unwrap();
                }
            )*
        }
    };
}

#[macro_export]
macro_rules! both_backends {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let w = $crate::harness::World::new($crate::harness::Backend::Sqlite).await.unwrap();
                    tokio::task::spawn_blocking(move || super::$body(&w)).await.unwrap();
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(w) = $crate::harness::World::new($crate::harness::Backend::Postgres).await else { return };
                    tokio::task::spawn_blocking(move || super::$body(&w)).await.unwrap();
                }
            )*
        }
    };
}
