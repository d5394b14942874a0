//! Issue 8, rule 5: secrets never leave. Every command family runs with
//! credentials in the remote URL (served by a real HTTP git server that demands
//! them) and in the database URL, on success and failure paths; afterwards the
//! secret is in no stdout, stderr, JSON document, file under the test's HOME
//! (registry file, export, `.iMi` files, logs), and no command line of a child
//! process: a fake `git` and `psql` first on PATH record their arguments, and
//! `GIT_TRACE` records every command git itself starts (`git-remote-http` gets the
//! URL as an argument). The one file allowed to hold the secret is the clone's
//! `.git/imi-credentials` (0600), which keeps later fetches authenticated as the
//! credentials in `.git/config` would after `git clone URL`.
//!
//! Every piece of every secret contains `ZkQw`, so a partial leak (a password cut
//! at a special character) is found too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::harness::{Run, World, from_output};

const MARK: &str = "ZkQw";
const SPECIAL: [char; 6] = ['/', '#', '?', '+', '@', '%'];

/// `ZkQw1/ZkQw2#ZkQw3?...ZkQw7`: every special character between two marked pieces.
fn all_specials_secret() -> String {
    let mut s = format!("{MARK}1");
    for (i, c) in SPECIAL.iter().enumerate() {
        s.push(*c);
        s.push_str(&format!("{MARK}{}", i + 2));
    }
    s
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A dumb-protocol HTTP git server for the files under `root`, answering 401 to
/// any request without `user:password` in Basic authentication. Returns its port.
fn serve_git(root: PathBuf, user: &str, password: &str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let want = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let root = root.clone();
            let want = want.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        authorized = v.trim() == want;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or("/");
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = if !authorized {
                    ("401 Unauthorized", vec![])
                } else if request.starts_with("GET ") && !path.contains("..") && file.is_file() {
                    ("200 OK", std::fs::read(&file).unwrap_or_default())
                } else {
                    ("404 Not Found", vec![])
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nWWW-Authenticate: Basic realm=\"git\"\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

/// Wrappers first on PATH that append their arguments to `<home>/argv.log` and
/// run the real program.
fn fake_bin(w: &World) -> String {
    let bin = w.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = w.path().join("argv.log");
    let path = std::env::var("PATH").unwrap_or_default();
    for prog in ["git", "psql"] {
        let real = path
            .split(':')
            .map(|d| Path::new(d).join(prog))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{prog} is not on PATH"));
        let script = format!(
            "#!/bin/sh\nprintf '%s ' {prog} \"$@\" >> '{}'\necho >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            log.display(),
            real.display()
        );
        let f = bin.join(prog);
        std::fs::write(&f, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{path}", bin.display())
}

struct Leaks<'a> {
    w: &'a World,
    path_env: String,
    database: Option<String>,
    /// Every output seen, with the command that produced it.
    seen: Vec<(String, String)>,
}

impl Leaks<'_> {
    fn run(&mut self, dir: &Path, args: &[&str]) -> Run {
        let mut c = self.w.cmd(dir, args);
        c.env("PATH", &self.path_env)
            .env("GIT_TRACE", self.w.path().join("git-trace.log"))
            .stdin(Stdio::null());
        if let Some(db) = &self.database {
            c.env("IMI_DATABASE_URL", db);
        }
        let r = from_output(c.output().unwrap());
        let label = args.join(" ");
        self.seen
            .push((format!("stdout of `imi {label}`"), r.stdout.clone()));
        self.seen
            .push((format!("stderr of `imi {label}`"), r.stderr.clone()));
        r
    }

    /// Runs `args` for people and with `--json` (which must be one JSON document).
    fn both(&mut self, dir: &Path, args: &[&str]) -> (Run, Run) {
        let human = self.run(dir, args);
        let mut j = vec!["--json"];
        j.extend_from_slice(args);
        let json = self.run(dir, &j);
        let _ = json.json();
        (human, json)
    }

    #[track_caller]
    fn assert_clean(&self) {
        for (what, text) in &self.seen {
            assert!(!text.contains(MARK), "secret in {what}:\n{text}");
        }
        let mut files = vec![];
        walk(self.w.path(), &mut files);
        assert!(files.iter().any(|f| f.ends_with("argv.log")));
        assert!(files.iter().any(|f| f.ends_with("git-trace.log")));
        for f in files {
            // where the secret is kept on purpose, and the legacy database given as input
            if f.file_name()
                .is_some_and(|n| n == "imi-credentials" || n == "legacy.db")
            {
                continue;
            }
            let mut bytes = vec![];
            std::fs::File::open(&f)
                .and_then(|mut h| h.read_to_end(&mut bytes))
                .unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().filter(|l| l.contains(MARK)).take(5).collect();
            assert!(
                lines.is_empty(),
                "secret in {}:\n{}",
                f.display(),
                lines.join("\n")
            );
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            walk(&p, out);
        } else if t.is_file() {
            out.push(p);
        }
    }
}

/// The whole CLI with credentials in the remote and (PostgreSQL) in the database URL.
fn every_command_family(w: &World) {
    let user = format!("{MARK}U@s+r");
    let password = all_specials_secret();
    // the bare origin, served over HTTP, with a pull request ref
    let seed = w.path().join("seed");
    w.write(&seed.join("pr.txt"), "pr\n");
    w.git(&seed, &["checkout", "--quiet", "-b", "pr"]);
    w.git(&seed, &["add", "pr.txt"]);
    w.git(&seed, &["commit", "--quiet", "-m", "pr"]);
    w.git(&seed, &["push", "--quiet", "origin", "pr:refs/pull/7/head"]);
    w.git(&w.origin(), &["update-server-info"]);
    let port = serve_git(w.path().join("remotes"), &user, &password);
    let remote = format!(
        "http://{}:{}@127.0.0.1:{port}/app.git",
        enc(&user),
        enc(&password)
    );
    let database = w.pg.as_ref().map(|pg| {
        // trust authentication ignores the password; imi must still hide it
        pg.url.replacen(
            "postgres://postgres@",
            &format!("postgres://postgres:{}@", enc(&password)),
            1,
        )
    });
    if let Some(db) = &database {
        assert!(db.contains(&enc(&password)), "{db}");
    }
    let mut l = Leaks {
        w,
        path_env: fake_bin(w),
        database,
        seen: vec![],
    };
    let home = w.path().to_path_buf();
    let trunk = w.trunk();

    // init from the URL: clones over HTTP with the credentials, twice (idempotent)
    let (r, j) = l.both(&home, &["init", &remote]);
    r.ok();
    assert_eq!(j.code, 0, "{}", j.stderr);
    assert_eq!(
        w.git(&trunk, &["remote", "get-url", "origin"]),
        format!("http://127.0.0.1:{port}/app.git")
    );
    let creds = trunk.join(".git/imi-credentials");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // add, review (fetches over HTTP with the kept credentials), status, list, sync
    l.both(&trunk, &["add", "feat", "leak"]).0.ok();
    let (r, _) = l.both(&trunk, &["review", "7"]);
    r.ok();
    assert!(w.wt("pr-7").join("pr.txt").is_file());
    for args in [
        &["status"][..],
        &["list"],
        &["list", "--projects"],
        &["sync"],
        &["log"],
        &["doctor"],
        &["config"],
        &["db", "status"],
        &["db", "migrate"],
    ] {
        l.both(&trunk, args);
    }
    // merge --push: the merge lands, the push (dumb HTTP cannot push) fails
    let wt = w.wt("feat-leak");
    w.write(&wt.join("f.txt"), "f\n");
    w.git(&wt, &["add", "f.txt"]);
    w.git(&wt, &["commit", "--quiet", "-m", "f"]);
    let r = l.run(&trunk, &["merge", "leak", "--push"]);
    assert_ne!(r.code, 0, "a push over dumb HTTP cannot succeed");
    l.both(&trunk, &["remove", "pr-7", "--force"]);
    // export, import, copy, legacy import
    let export = home.join("export.json");
    l.run(&trunk, &["db", "export", export.to_str().unwrap()])
        .ok();
    l.both(
        &trunk,
        &["db", "import", export.to_str().unwrap(), "--dry-run"],
    );
    let copy = format!("sqlite://{}", home.join("copy.db").display());
    l.run(&trunk, &["db", "copy", "--to", &copy]).ok();
    let legacy = home.join("legacy.db");
    tokio::runtime::Handle::current().block_on(legacy_file(&legacy, &remote));
    l.both(&trunk, &["import", "legacy", legacy.to_str().unwrap()]);
    l.run(&trunk, &["db", "export", export.to_str().unwrap()])
        .ok();

    // failure paths: unreachable remote, malformed remote (raw characters)
    let unreachable = format!(
        "https://{}:{}@127.0.0.1:1/o/unreachable.git",
        enc(&user),
        enc(&password)
    );
    let r = l.run(&home, &["init", &unreachable]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1"), "{}", r.stderr);
    l.both(&home, &["init", &unreachable]);
    for raw in [
        format!("https://{user}:{password}@127.0.0.1:1/o/raw.git"),
        format!("https://tok:{MARK}a/b@127.0.0.1:1/o/raw.git"),
    ] {
        let (r, _) = l.both(&home, &["init", &raw]);
        assert_ne!(r.code, 0);
    }
    // failure paths of the database URL: an unreachable server (each attempt waits
    // for the connect timeout: once), then each special character, percent-encoded
    // and raw, on a missing database
    let unreachable_db = format!("postgres://postgres:{}@127.0.0.1:1/imi", enc(&password));
    l.both(&trunk, &["--database", &unreachable_db, "db", "status"]);
    for c in SPECIAL {
        let pw = format!("{MARK}a{c}{MARK}b");
        for url in [
            format!("postgres://postgres:{pw}@127.0.0.1:5432/imi_no_such_db_zz"),
            format!(
                "postgres://postgres:{}@127.0.0.1:5432/imi_no_such_db_zz",
                enc(&pw)
            ),
            format!(
                "postgres://postgres@127.0.0.1:5432/imi_no_such_db_zz?password={}",
                enc(&pw)
            ),
            format!("host=127.0.0.1 password={pw} dbname=imi"),
        ] {
            for args in [&["db", "status"][..], &["list"]] {
                let mut all = vec!["--database", url.as_str()];
                all.extend_from_slice(args);
                let (r, j) = l.both(&trunk, &all);
                assert_ne!(r.code, 0, "{url}: {}", r.stdout);
                let code = j.json()["error"]["code"].as_str().unwrap().to_string();
                assert!(
                    code == "REGISTRY_UNAVAILABLE" || code == "VALIDATION_ERROR",
                    "{url}: {code}"
                );
            }
        }
    }
    // db shell: psql gets the password in its environment, not its arguments
    let shell_db = match &l.database {
        Some(db) => db.clone(),
        None => format!(
            "postgres://postgres:{}@127.0.0.1:1/imi?sslmode=disable&password={}",
            enc(&password),
            enc(&password)
        ),
    };
    let r = l.run(&trunk, &["--database", &shell_db, "db", "shell"]);
    if l.database.is_some() {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let argv = std::fs::read_to_string(home.join("argv.log")).unwrap();
    assert!(argv.lines().any(|l| l.starts_with("psql ")), "{argv}");
    assert!(argv.lines().any(|l| l.starts_with("git clone")), "{argv}");
    let trace = std::fs::read_to_string(home.join("git-trace.log")).unwrap();
    assert!(trace.contains("remote-http"), "{trace}");

    // the stored remote has no credentials: registry (export), .iMi file
    let doc = std::fs::read_to_string(&export).unwrap();
    assert!(doc.contains(&format!("http://127.0.0.1:{port}/app.git")));
    l.assert_clean();
}

async fn legacy_file(path: &Path, remote: &str) {
    let db = imi_import::fixture::create(path).await.unwrap();
    let ts = "2025-12-30T14:15:09.470006187+00:00";
    imi_import::fixture::repo(
        &db,
        &imi_import::fixture::Repo {
            id: "0b5f3c4e-1111-4a5b-8c6d-000000000001",
            name: "alpha",
            path: "/home/me/code/alpha/",
            remote_url: &remote.replace("app.git", "alpha.git"),
            default_branch: "main",
            created_at: ts,
            active: true,
        },
    )
    .await
    .unwrap();
    db.close().await;
}

crate::both_backends! {
    secrets_reach_no_output_file_or_command_line => every_command_family;
}
