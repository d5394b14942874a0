//! Issue 8, rule 8: terminal and file safety. Text from the registry and `.iMi`
//! files reaches a terminal with its control characters escaped (JSON keeps it
//! exact); files are written through new temporaries, never through a planted
//! symlink; the SQLite registry is private to its user.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{Backend, World};

/// An escape sequence that clears the screen, an OSC title change ended by BEL, a
/// C1 CSI and a right-to-left override.
const EVIL_AGENT: &str = "ag\x1b[2J\u{202e}nt";
const EVIL_SUBJECT: &str = "fix \x1b]0;pwned\x07 \u{202e}txt.exe \u{9b}31m \u{2066}x\r";

fn unsafe_chars(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Writes straight into the registry, as any SQL client of it could.
fn set_agent_in_registry(w: &World, backend: Backend, worktree: &str, agent: &str) {
    let sql = "UPDATE worktrees SET agent_id = $1 WHERE name = $2";
    tokio::runtime::Handle::current().block_on(async {
        match backend {
            Backend::Sqlite => {
                let db = w.path().join(".local/share/imi/registry.db");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
                    .await
                    .unwrap();
                let n = sqlx::query(sql)
                    .bind(agent)
                    .bind(worktree)
                    .execute(&pool)
                    .await
                    .unwrap();
                assert_eq!(n.rows_affected(), 1);
                pool.close().await;
            }
            Backend::Postgres | Backend::PgBouncer => {
                let pool = sqlx::PgPool::connect(&w.pg.as_ref().unwrap().url)
                    .await
                    .unwrap();
                let n = sqlx::query(sql)
                    .bind(agent)
                    .bind(worktree)
                    .execute(&pool)
                    .await
                    .unwrap();
                assert_eq!(n.rows_affected(), 1);
                pool.close().await;
            }
        }
    });
}

fn control_characters_are_escaped(w: &World, backend: Backend) {
    w.init_project();
    let trunk = w.trunk();
    w.imi(&trunk, &["add", "feat", "esc"]).ok();
    let wt = w.wt("feat-esc");
    // an agent id in the registry and in the worktree's `.iMi` file
    set_agent_in_registry(w, backend, "feat-esc", EVIL_AGENT);
    let file = w.root().join("app/.iMi/worktrees/feat-esc.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["agent_id"] = EVIL_AGENT.into();
    w.write(&file, &doc.to_string());
    // a commit subject, logged by its agent
    w.write(&wt.join("a.txt"), "a\n");
    w.git(&wt, &["add", "a.txt"]);
    w.git(&wt, &["commit", "--quiet", "-m", EVIL_SUBJECT]);
    let subject = w.git(&wt, &["log", "-1", "--format=%s"]);
    assert!(subject.contains('\x1b') && subject.contains('\u{202e}'));
    w.imi(
        &wt,
        &[
            "--agent",
            "bot",
            "log",
            "add",
            "committed",
            &subject,
            "--worktree",
            "esc",
        ],
    )
    .ok();

    for (dir, args) in [
        (&trunk, &["log"][..]),
        (&trunk, &["status"]),
        (&trunk, &["list"]),
        (&wt, &["prompt"]),
    ] {
        let r = w.imi(dir, args).ok();
        for text in [&r.stdout, &r.stderr] {
            assert_eq!(
                unsafe_chars(text),
                Vec::<char>::new(),
                "imi {args:?}: {text:?}"
            );
        }
        assert!(
            r.stdout.contains("\\u{1b}") && r.stdout.contains("\\u{202e}"),
            "imi {args:?} shows the escaped text: {:?}",
            r.stdout
        );
    }
    let prompt = w.imi(&wt, &["prompt"]).ok().stdout;
    assert_eq!(prompt, "app:feat-esc (feat, ag\\u{1b}[2J\\u{202e}nt)\n");
    // an error message that quotes user text
    let r = w.imi(&trunk, &["remove", "no\x1b[31msuch\u{202e}"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        unsafe_chars(&r.stderr),
        Vec::<char>::new(),
        "{:?}",
        r.stderr
    );

    // JSON is the exact data
    let (code, v) = w.imi_json(&wt, &["prompt"]);
    assert_eq!(code, 0);
    assert_eq!(v["data"]["agent_id"], EVIL_AGENT);
    let (code, v) = w.imi_json(&trunk, &["log"]);
    assert_eq!(code, 0);
    assert!(
        v["data"]["activities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["description"] == subject.as_str()),
        "{v}"
    );
    let (_, v) = w.imi_json(&trunk, &["status"]);
    assert!(
        v["data"]["worktrees"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.to_string().contains("ag\\u001b[2J\u{202e}nt")),
        "{v}"
    );
}

fn sqlite_escaped(w: &World) {
    control_characters_are_escaped(w, Backend::Sqlite)
}

fn postgres_escaped(w: &World) {
    control_characters_are_escaped(w, Backend::Postgres)
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// `.iMi` files and exports replace a symlink planted at their path (or at the
/// temporary name the old code used) instead of writing through it.
fn planted_symlinks_are_not_followed(w: &World) {
    w.init_project();
    let trunk = w.trunk();
    let victim = w.path().join("victim.txt");
    w.write(&victim, "precious\n");
    // at the target: the worktree's `.iMi` file
    let wt_file = w.root().join("app/.iMi/worktrees/feat-sym.json");
    symlink(&victim, &wt_file);
    // at the project file, rewritten by a second init
    let project_file = w.root().join("app/.iMi/project.json");
    std::fs::remove_file(&project_file).unwrap();
    symlink(&victim, &project_file);
    w.imi(&trunk, &["init"]).ok();
    w.imi(&trunk, &["add", "feat", "sym"]).ok();
    // at an export's target and at its formerly predictable temporary name
    let export = w.path().join("export.json");
    let mut tmp = export.as_os_str().to_owned();
    tmp.push(".tmp");
    symlink(&victim, Path::new(&tmp));
    w.imi(&trunk, &["db", "export", export.to_str().unwrap()])
        .ok();
    symlink(&victim, &w.path().join("export2.json"));
    w.imi(
        &trunk,
        &[
            "db",
            "export",
            w.path().join("export2.json").to_str().unwrap(),
        ],
    )
    .ok();

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    for f in [
        &wt_file,
        &project_file,
        &export,
        &w.path().join("export2.json"),
    ] {
        let meta = std::fs::symlink_metadata(f).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{} is a regular file",
            f.display()
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        assert!(v.is_object());
    }
    // the planted temporary name was left alone, and nothing else was left over
    assert!(
        std::fs::symlink_metadata(&tmp)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let leftovers: Vec<_> = std::fs::read_dir(w.root().join("app/.iMi/worktrees"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    let mode = std::fs::metadata(&export).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "an export holds the whole registry");
}

crate::both_backends! {
    symlinks_planted_at_written_files_are_replaced_not_followed => planted_symlinks_are_not_followed;
}

mod escaping {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_control_characters_from_registry_and_imi_files_are_escaped() {
        let w = crate::harness::World::new(crate::harness::Backend::Sqlite)
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || super::sqlite_escaped(&w))
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_control_characters_from_registry_and_imi_files_are_escaped() {
        let Some(w) = crate::harness::World::new(crate::harness::Backend::Postgres).await else {
            return;
        };
        tokio::task::spawn_blocking(move || super::postgres_escaped(&w))
            .await
            .unwrap();
    }
}

/// The SQLite registry (file, `-wal`, `-shm`) is 0600 in a 0700 directory, also
/// when an older imi left the file readable by others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_registry_is_private_to_its_user() {
    let w = World::new(Backend::Sqlite).await.unwrap();
    tokio::task::spawn_blocking(move || {
        w.init_project();
        let dir = w.path().join(".local/share/imi");
        let db = dir.join("registry.db");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        // a long-running reader keeps the -wal and -shm files in place
        let pool = tokio::runtime::Handle::current().block_on(async {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            sqlx::query("SELECT count(*) FROM projects")
                .execute(&pool)
                .await
                .unwrap();
            pool
        });
        for suffix in ["", "-wal", "-shm"] {
            let f = dir.join(format!("registry.db{suffix}"));
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        w.imi(&w.trunk(), &["add", "feat", "x"]).ok();
        assert_eq!(mode(&db), 0o600);
        for suffix in ["-wal", "-shm"] {
            let f = dir.join(format!("registry.db{suffix}"));
            assert!(f.exists(), "{}", f.display());
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
        tokio::runtime::Handle::current().block_on(pool.close());
        // a registry at a new path: its new directories are private too
        let other = w.path().join("fresh/nested/reg.db");
        w.imi(
            &w.trunk(),
            &[
                "--database",
                &format!("sqlite://{}", other.display()),
                "db",
                "migrate",
            ],
        )
        .ok();
        assert_eq!(mode(&other), 0o600);
        assert_eq!(mode(other.parent().unwrap()), 0o700);
        assert_eq!(mode(&w.path().join("fresh")), 0o700);
    })
    .await
    .unwrap();
}
