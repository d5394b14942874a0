//! End-to-end tests of navigation and shell integration: `imi path`, `imi trunk`,
//! `imi go`, `imi prompt`, `imi shell-init` (run through the real shells) and
//! `imi completion`, in an isolated environment (temporary HOME, no global git
//! config). The registry is filled through the store API, and the `.iMi` files and
//! worktree directories are written as `imi init` / `imi add` lay them out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imi_core::{NewProject, NewWorktree, Store};
use imi_store_sqlite::SqliteStore;
use serde_json::{Value, json};

struct Env {
    home: tempfile::TempDir,
}

/// What [`Env::fixture`] registered.
struct Fixture {
    app: PathBuf,
    api: PathBuf,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn bin_dir() -> PathBuf {
        Path::new(env!("CARGO_BIN_EXE_imi"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    /// `program` in the isolated environment, with the imi binary first on PATH.
    fn command(&self, program: &str, dir: &Path) -> Command {
        let mut c = imi_testkit::cli::command(program, self.home(), dir);
        let path = format!(
            "{}:{}",
            Env::bin_dir().display(),
            std::env::var("PATH").unwrap()
        );
        c.env("PATH", path);
        c
    }

    fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_imi"), dir)
            .args(args)
            .output()
            .unwrap()
    }

    /// stdout, stderr and exit code of `imi args` in `dir`.
    fn text(&self, dir: &Path, args: &[&str]) -> (String, String, i32) {
        let out = self.run_in(dir, args);
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
            out.status.code().unwrap(),
        )
    }

    fn json(&self, dir: &Path, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (stdout, _, code) = self.text(dir, &all);
        let doc: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout:?}"));
        (code, doc)
    }

    /// Two projects, `app` and `api`, each with a trunk and a `feat-login`
    /// worktree; `app` also has `fix-crash`, owned by nobody, and its `feat-login`
    /// is owned by agent-1.
    fn fixture(&self) -> Fixture {
        let code = self.home().join("code");
        let app = code.join("app");
        let api = code.join("api");
        let db = self.home().join(".local/share/imi/registry.db");
        let host = imi_testkit::cli::HOST.to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let s = SqliteStore::open(&db, host).await.unwrap();
            imi_core::store::ensure_schema(&s).await.unwrap();
            for (name, container, worktrees) in [
                (
                    "app",
                    &app,
                    &[
                        ("trunk", "trunk-main", None),
                        ("feat", "feat-login", Some("agent-1")),
                        ("fix", "fix-crash", None),
                    ][..],
                ),
                (
                    "api",
                    &api,
                    &[("trunk", "trunk-main", None), ("feat", "feat-login", None)][..],
                ),
            ] {
                let trunk = container.join("trunk-main");
                let p = s
                    .register_project(&NewProject {
                        name: name.into(),
                        remote_origin: Some(format!("git@github.com:acme/{name}.git")),
                        default_branch: Some("main".into()),
                        trunk_path: trunk.display().to_string(),
                        ..NewProject::default()
                    })
                    .await
                    .unwrap();
                write_json(
                    &container.join(".iMi/project.json"),
                    &json!({
                        "project_id": p.id,
                        "name": name,
                        "remote_origin": p.remote_origin,
                        "default_branch": "main",
                        "trunk_path": p.trunk_path,
                    }),
                );
                for (type_name, wt, agent) in worktrees {
                    let dir = container.join(wt);
                    std::fs::create_dir_all(dir.join("src")).unwrap();
                    let branch = match *type_name {
                        "trunk" => "main".to_string(),
                        t => format!("{t}/{}", wt.split_once('-').unwrap().1),
                    };
                    let w = s
                        .register_worktree(&NewWorktree {
                            project_id: p.id,
                            type_name: type_name.to_string(),
                            name: wt.to_string(),
                            branch_name: branch.clone(),
                            path: dir.display().to_string(),
                            agent_id: agent.map(str::to_string),
                            ..NewWorktree::default()
                        })
                        .await
                        .unwrap();
                    // fix-crash has no worktree file: the prompt infers its type.
                    if *wt != "fix-crash" {
                        write_json(
                            &container.join(format!(".iMi/worktrees/{wt}.json")),
                            &json!({
                                "worktree_id": w.id,
                                "name": wt,
                                "type": type_name,
                                "branch": branch,
                                "agent_id": agent,
                            }),
                        );
                    }
                }
            }
        });
        Fixture { app, api }
    }

    /// Runs `script` with `shell`; `None` when the shell is not installed (a
    /// failure under CI, where .ci/run installs it).
    fn shell(&self, shell: &str, dir: &Path, script: &str) -> Option<(String, String, i32)> {
        let installed = Command::new(shell)
            .args(["-c", "exit 0"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            assert!(
                std::env::var_os("CI").is_none(),
                "{shell} is not installed (.ci/run installs it)"
            );
            eprintln!("skipped: {shell} is not installed");
            return None;
        }
        let mut c = self.command(shell, dir);
        match shell {
            "bash" => c.args(["--noprofile", "--norc", "-c", script]),
            "zsh" => c.args(["-f", "-c", script]),
            _ => c.args(["--no-config", "-c", script]),
        };
        let out = c.output().unwrap();
        Some((
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
            out.status.code().unwrap_or(-1),
        ))
    }
}

fn write_json(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn path_and_trunk_inside_a_project_human_and_json() {
    let env = Env::new();
    let f = env.fixture();
    let here = f.app.join("feat-login/src");
    let (out, err, code) = env.text(&here, &["path", "feat-x"]);
    assert_eq!(
        (out.as_str(), code),
        (format!("{}\n", p(&f.app.join("feat-x"))).as_str(), 0),
        "{err}"
    );
    let (out, _, code) = env.text(&here, &["trunk"]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("{}\n", p(&f.app.join("trunk-main"))));
    let (out, _, _) = env.text(&here, &["path"]);
    assert_eq!(out, format!("{}\n", p(&f.app.join("trunk-main"))));

    let (code, doc) = env.json(&here, &["path", "fix-crash"]);
    assert_eq!(code, 0);
    assert_eq!(
        doc,
        json!({"success": true, "data": {"path": p(&f.app.join("fix-crash"))}})
    );
    let (code, doc) = env.json(&here, &["trunk"]);
    assert_eq!(code, 0);
    assert_eq!(doc["data"]["path"], p(&f.app.join("trunk-main")));
}

#[test]
fn path_with_project_flag_asks_the_registry() {
    let env = Env::new();
    let f = env.fixture();
    let (out, err, code) = env.text(env.home(), &["-p", "api", "path", "feat-login"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", p(&f.api.join("feat-login"))));
    // any form of the remote names the project
    let (code, doc) = env.json(env.home(), &["-p", "https://github.com/ACME/api", "trunk"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["data"]["path"], p(&f.api.join("trunk-main")));
    // -p wins over the current directory
    let (out, _, _) = env.text(&f.app.join("feat-login"), &["-p", "api", "trunk"]);
    assert_eq!(out, format!("{}\n", p(&f.api.join("trunk-main"))));
}

#[test]
fn path_of_an_unknown_project_is_not_found_with_a_hint() {
    let env = Env::new();
    env.fixture();
    let (code, doc) = env.json(env.home(), &["-p", "nope", "path", "feat-x"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "NOT_FOUND", "{doc}");
    assert!(doc["error"]["hint"].is_string(), "{doc}");
    // outside any project, without -p
    let (out, err, code) = env.text(env.home(), &["trunk"]);
    assert_eq!((out.as_str(), code), ("", 1));
    assert!(err.contains("is not inside an imi project"), "{err}");
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn path_refuses_an_unsafe_worktree_name() {
    let env = Env::new();
    let f = env.fixture();
    for bad in ["../etc", "a b", "x.lock"] {
        let (code, doc) = env.json(&f.app, &["path", bad]);
        assert_eq!(code, 1, "{bad}");
        assert_eq!(doc["error"]["code"], "VALIDATION_ERROR", "{bad}: {doc}");
    }
}

#[test]
fn go_prints_the_path_of_a_unique_match() {
    let env = Env::new();
    let f = env.fixture();
    let (out, err, code) = env.text(env.home(), &["go", "crash"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", p(&f.app.join("fix-crash"))));
    // a project name goes to its trunk
    let (out, _, _) = env.text(env.home(), &["go", "api"]);
    assert_eq!(out, format!("{}\n", p(&f.api.join("trunk-main"))));
    // project/worktree, with or without the type prefix
    for q in ["api/login", "api/feat-login"] {
        let (out, _, code) = env.text(env.home(), &["go", q]);
        assert_eq!(
            (out, code),
            (format!("{}\n", p(&f.api.join("feat-login"))), 0),
            "{q}"
        );
    }
}

#[test]
fn go_still_matches_a_typo() {
    let env = Env::new();
    let f = env.fixture();
    let (out, err, code) = env.text(env.home(), &["go", "crahs"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", p(&f.app.join("fix-crash"))));
}

/// Two letters swapped (`drity` for `dirty`) is one typo, though few trigrams match.
#[test]
fn go_matches_two_swapped_letters() {
    let env = Env::new();
    let f = env.fixture();
    let (out, err, code) = env.text(env.home(), &["go", "crsah"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", p(&f.app.join("fix-crash"))));
}

#[test]
fn go_without_a_match_is_not_found() {
    let env = Env::new();
    env.fixture();
    let (code, doc) = env.json(env.home(), &["go", "zzqqxx"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "NOT_FOUND");
    assert!(
        doc["error"]["hint"].as_str().unwrap().contains("imi"),
        "{doc}"
    );
    let (out, err, code) = env.text(env.home(), &["go", "zzqqxx"]);
    assert_eq!((out.as_str(), code), ("", 1));
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn go_ambiguous_without_a_terminal_takes_the_best_and_json_ranks_all() {
    let env = Env::new();
    let f = env.fixture();
    // `login` is a worktree of both projects; nothing breaks the tie from HOME
    let (code, doc) = env.json(env.home(), &["go", "login"]);
    assert_eq!(code, 0, "{doc}");
    let data = &doc["data"];
    assert_eq!(data["ambiguous"], true);
    let labels: Vec<&str> = data["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(&labels[..2], ["api/feat-login", "app/feat-login"], "{data}");
    assert_eq!(data["path"], p(&f.api.join("feat-login")));
    let (out, err, code) = env.text(env.home(), &["go", "login"]);
    assert_eq!(
        (out, code),
        (format!("{}\n", p(&f.api.join("feat-login"))), 0)
    );
    assert!(err.starts_with("note: "), "{err}");
    // inside app, app's worktree wins the tie
    let (out, _, _) = env.text(&f.app.join("fix-crash"), &["go", "login"]);
    assert_eq!(out, format!("{}\n", p(&f.app.join("feat-login"))));
}

#[test]
fn go_without_a_query_goes_to_this_projects_trunk() {
    let env = Env::new();
    let f = env.fixture();
    let (out, _, code) = env.text(&f.api.join("feat-login/src"), &["go"]);
    assert_eq!(
        (out, code),
        (format!("{}\n", p(&f.api.join("trunk-main"))), 0)
    );
    // outside a project and without a terminal there is nothing to pick on
    let (code, doc) = env.json(env.home(), &["go"]);
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["code"], "VALIDATION_ERROR");
}

#[test]
fn prompt_inside_a_worktree_shows_project_worktree_type_and_owner() {
    let env = Env::new();
    let f = env.fixture();
    let (out, _, code) = env.text(&f.app.join("feat-login/src"), &["prompt"]);
    assert_eq!(
        (out.as_str(), code),
        ("app:feat-login (feat, agent-1)\n", 0)
    );
    let (out, _, _) = env.text(&f.app.join("trunk-main"), &["prompt"]);
    assert_eq!(out, "app:trunk-main (trunk)\n");
    // no worktree file: the type comes from the directory prefix, no owner
    let (out, _, _) = env.text(&f.app.join("fix-crash"), &["prompt"]);
    assert_eq!(out, "app:fix-crash (fix)\n");
    let (code, doc) = env.json(&f.app.join("feat-login"), &["prompt"]);
    assert_eq!(code, 0);
    assert_eq!(doc["data"]["worktree"], "feat-login");
    assert_eq!(doc["data"]["type"], "feat");
    assert_eq!(doc["data"]["agent_id"], "agent-1");
    assert_eq!(doc["data"]["line"], "app:feat-login (feat, agent-1)");
}

#[test]
fn prompt_at_the_container_shows_the_project() {
    let env = Env::new();
    let f = env.fixture();
    let (out, _, code) = env.text(&f.api, &["prompt"]);
    assert_eq!((out.as_str(), code), ("api\n", 0));
    let (out, _, _) = env.text(&f.api.join(".iMi"), &["prompt"]);
    assert_eq!(out, "api\n");
}

#[test]
fn prompt_outside_any_project_prints_nothing() {
    let env = Env::new();
    let (out, err, code) = env.text(env.home(), &["prompt"]);
    assert_eq!((out.as_str(), err.as_str(), code), ("", "", 0));
    // it never touched the registry
    assert!(!env.home().join(".local/share/imi").exists());
}

#[test]
fn shell_init_never_opens_the_registry() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let (out, _, code) = env.text(env.home(), &["shell-init", shell]);
        assert_eq!(code, 0);
        assert!(out.contains("__imi_go"), "{shell}: {out}");
        assert!(out.contains("command imi"), "{shell}");
    }
    assert!(!env.home().join(".local/share/imi").exists());
}

/// The same story in each shell: init twice, `imi go` changes directory, a failing
/// `imi go` stays put with the exit code, other commands pass through.
fn shell_story(shell: &str, init: &str) {
    let env = Env::new();
    let f = env.fixture();
    let status = if shell == "fish" { "$status" } else { "$?" };
    let script = format!(
        "{init}\n{init}\n\
         imi go crash\n\
         echo \"pwd=$PWD\"\n\
         imi go zzqqxx 2>/dev/null\n\
         echo \"rc={status}\"\n\
         echo \"pwd=$PWD\"\n\
         imi path feat-y\n\
         imi -p nope trunk 2>/dev/null\n\
         echo \"rc={status}\"\n\
         imi --json go api\n\
         echo \"pwd=$PWD\"\n\
         imi go api/login\n\
         echo \"pwd=$PWD\"\n\
         imi -p app go crash\n\
         echo \"pwd=$PWD\"\n\
         mkdir {gone}\n\
         cd {gone}\n\
         rmdir {gone}\n\
         imi path fix-crash\n\
         echo \"pwd=$PWD\"\n",
        gone = p(&f.app.join("feat-gone"))
    );
    let Some((out, err, code)) = env.shell(shell, env.home(), &script) else {
        return;
    };
    assert_eq!(code, 0, "{shell}: {out}\n{err}");
    let crash = p(&f.app.join("fix-crash"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("pwd={crash}"), "{shell}: {out}\n{err}");
    assert_eq!(lines[1], "rc=1", "{shell}: {out}");
    assert_eq!(lines[2], format!("pwd={crash}"), "{shell}");
    assert_eq!(lines[3], p(&f.app.join("feat-y")), "{shell}");
    assert_eq!(lines[4], "rc=1", "{shell}");
    let doc: Value = serde_json::from_str(lines[5]).unwrap();
    assert_eq!(doc["data"]["path"], p(&f.api.join("trunk-main")), "{shell}");
    assert_eq!(
        lines[6],
        format!("pwd={crash}"),
        "--json does not cd ({shell})"
    );
    assert_eq!(
        lines[7],
        format!("pwd={}", p(&f.api.join("feat-login"))),
        "{shell}"
    );
    // global options before `go` still change directory
    assert_eq!(lines[8], format!("pwd={crash}"), "-p app go ({shell})");
    // a command run in a directory deleted under the shell works, and the
    // function then moves the shell to the project's trunk
    assert_eq!(lines[9], crash, "{shell}: {err}");
    assert_eq!(
        lines[10],
        format!("pwd={}", p(&f.app.join("trunk-main"))),
        "{shell}: {err}"
    );
    assert_eq!(lines.len(), 11, "{shell}: {out}");
}

#[test]
fn shell_init_bash_changes_directory() {
    shell_story("bash", "eval \"$(imi shell-init bash)\"");
}

#[test]
fn shell_init_zsh_changes_directory() {
    shell_story("zsh", "eval \"$(imi shell-init zsh)\"");
}

#[test]
fn shell_init_fish_changes_directory() {
    shell_story("fish", "imi shell-init fish | source");
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    let env = Env::new();
    for (shell, check) in [
        ("bash", &["--noprofile", "--norc", "-n"][..]),
        ("zsh", &["-f", "-n"][..]),
        ("fish", &["--no-config", "-n"][..]),
    ] {
        let (out, err, code) = env.text(env.home(), &["completion", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        // the script registers imi as its own completer
        assert!(
            out.contains("COMPLETE=") || out.contains("COMPLETE=\"{shell}\""),
            "{shell}: {out}"
        );
        let file = env.home().join(format!("imi.{shell}"));
        std::fs::write(&file, &out).unwrap();
        let mut args: Vec<&str> = check.to_vec();
        let f = p(&file);
        args.push(&f);
        let script = format!("{shell} {}", args.join(" "));
        let installed = Command::new(shell).args(["-c", "exit 0"]).output().is_ok();
        if !installed {
            assert!(std::env::var_os("CI").is_none(), "{shell} missing under CI");
            continue;
        }
        let o = Command::new(shell).args(&args).output().unwrap();
        assert!(
            o.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // the shell-init scripts themselves parse too
    for shell in ["bash", "zsh", "fish"] {
        let file = env.home().join(format!("init.{shell}"));
        let (out, _, _) = env.text(env.home(), &["shell-init", shell]);
        std::fs::write(&file, out).unwrap();
        if Command::new(shell).args(["-c", "exit 0"]).output().is_err() {
            continue;
        }
        let o = Command::new(shell).arg("-n").arg(&file).output().unwrap();
        assert!(
            o.status.success(),
            "{shell} -n init: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// What the shell offers for each partial command line, through the real completion
/// functions: bash's (COMP_WORDS and COMPREPLY, as readline fills and reads them),
/// fish's (`complete -C`), and zsh's protocol (its function needs the line editor;
/// the script is checked to register with compinit).
#[test]
fn completion_offers_names_from_the_registry() {
    let env = Env::new();
    let f = env.fixture();
    let inside = f.app.join("feat-login");
    // (directory, command line, what is offered)
    let cases: [(&Path, &str, &[&str]); 8] = [
        (&inside, "imi go f", &["feat-login", "fix-crash"]),
        (&inside, "imi claim fi", &["fix-crash"]),
        (&inside, "imi -p api rm f", &["feat-login"]),
        (&inside, "imi --project=api path t", &["trunk-main"]),
        (env.home(), "imi path f", &["feat-login", "fix-crash"]),
        (env.home(), "imi -p a", &["api", "app"]),
        (env.home(), "imi go a", &["api", "app"]),
        (env.home(), "imi me", &["merge", "metadata"]),
    ];
    let bash = r#"eval "$(imi completion bash)"
offer() {
  COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
  read -ra COMP_WORDS <<< "$1"
  [[ "$1" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  _clap_complete_imi imi "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
offer "$LINE""#;
    let fish = r#"imi completion fish | source
complete -C "$LINE" | cut -f1 | sort"#;
    for (dir, line, expected) in cases {
        for (shell, script) in [("bash", bash), ("fish", fish)] {
            let script = format!("set -e; LINE={line:?}\n{script}");
            let script = if shell == "fish" {
                script.replace("set -e; LINE=", "set LINE ")
            } else {
                script
            };
            let Some((out, err, code)) = env.shell(shell, dir, &script) else {
                continue;
            };
            assert_eq!(code, 0, "{shell} `{line}`: {out}\n{err}");
            let offered: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(offered, expected, "{shell} `{line}` in {}", dir.display());
        }
        // zsh's function sends the words and the index of the one being completed
        let words: Vec<&str> = line.split(' ').collect();
        let mut c = env.command(env!("CARGO_BIN_EXE_imi"), dir);
        c.env("COMPLETE", "zsh")
            .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
            .arg("--")
            .args(&words);
        let out = c.output().unwrap();
        assert!(out.status.success(), "zsh `{line}`");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut offered: Vec<&str> = text
            .lines()
            .map(|l| l.split(':').next().unwrap())
            .filter(|l| !l.is_empty())
            .collect();
        offered.sort();
        assert_eq!(offered, expected, "zsh `{line}` in {}", dir.display());
    }
    if let Some((out, err, code)) = env.shell(
        "zsh",
        env.home(),
        "autoload -U compinit; compinit -u -D; eval \"$(imi completion zsh)\"; print -r -- $_comps[imi]",
    ) {
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.trim(), "_clap_dynamic_completer_imi", "{err}");
    }
}

/// Completing never creates a registry, and says nothing when there is none.
#[test]
fn completion_without_a_registry_offers_commands_only() {
    let env = Env::new();
    let mut c = env.command(env!("CARGO_BIN_EXE_imi"), env.home());
    c.env("COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .args(["--", "imi", "go", ""]);
    let out = c.output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // the options only: no names, no error
    assert!(text.lines().all(|l| l.starts_with("--")), "{text}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!env.home().join(".local/share/imi").exists());
    let mut c = env.command(env!("CARGO_BIN_EXE_imi"), env.home());
    c.env("COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "1")
        .args(["--", "imi", "sta"]);
    let out = c.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("stats")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("status")), "{text}");
}

/// The picker needs a terminal: `script` (util-linux) gives `imi go` one, while its
/// stdout goes to a file as the shell function's `$(...)` would take it. The picker
/// must draw on the terminal (stderr) and leave stdout the chosen path alone.
#[test]
fn go_ambiguous_on_a_terminal_picks_on_stderr_and_prints_only_the_choice() {
    use std::io::{Read, Write};
    use std::process::Stdio;

    if Command::new("script").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "script is not installed");
        return;
    }
    let env = Env::new();
    let f = env.fixture();
    let chosen = env.home().join("chosen.txt");
    let inner = format!("{} go login > {}", env!("CARGO_BIN_EXE_imi"), p(&chosen));
    let mut child = env
        .command("script", env.home())
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
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let mut told = false;
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if !told && String::from_utf8_lossy(&seen).contains("app/feat-login") {
                told = true;
                tx.send(()).unwrap();
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    // Once both candidates are drawn: down to the second, then Enter. The two keys
    // go in one write: the picker reads key by key, so nothing needs to wait between.
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the picker was not drawn");
    stdin.write_all(b"\x1b[B\r").unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    let screen = reader.join().unwrap();
    assert!(status.success(), "{screen}");
    assert!(screen.contains("2 places match"), "{screen}");
    let out = std::fs::read_to_string(&chosen).unwrap();
    assert_eq!(
        out,
        format!("{}\n", p(&f.app.join("feat-login"))),
        "{screen}"
    );
}
