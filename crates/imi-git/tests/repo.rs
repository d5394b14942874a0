//! imi-git against real repositories: a bare `origin` made by each test, a clone
//! of it, the user's configuration kept out (`GIT_CONFIG_GLOBAL=/dev/null`) and a
//! fixed author, so every run sees the same git.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use imi_core::ErrorKind;
use imi_git::{GitError, MergeMode, MergePlan, MergeTree, Repo, StatusEntry, Untracked};

const ENV: [(&str, &str); 8] = [
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "Test Author"),
    ("GIT_AUTHOR_EMAIL", "author@example.com"),
    ("GIT_COMMITTER_NAME", "Test Author"),
    ("GIT_COMMITTER_EMAIL", "author@example.com"),
    ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
    ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
];

/// A `Repo` that runs git in the tests' environment.
fn repo(dir: &Path) -> Repo {
    ENV.iter().fold(Repo::at(dir), |r, (k, v)| r.with_env(k, v))
}

/// Runs git the way a user would (not through imi-git) and returns its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(ENV)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn commit(dir: &Path, file: &str, content: &str, message: &str) -> String {
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
    git(dir, &["add", "--", file]);
    git(dir, &["commit", "--quiet", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A bare `origin.git` with one commit on `main`, and `work`, a clone of it.
struct World {
    tmp: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let w = World { tmp };
        let origin = w.origin();
        git(
            w.tmp.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        let seed = w.path("seed");
        git(
            w.tmp.path(),
            &["init", "--quiet", "-b", "main", seed.to_str().unwrap()],
        );
        commit(&seed, "README", "hello\n", "first");
        git(
            &seed,
            &["push", "--quiet", origin.to_str().unwrap(), "main"],
        );
        git(
            w.tmp.path(),
            &[
                "clone",
                "--quiet",
                origin.to_str().unwrap(),
                w.work().to_str().unwrap(),
            ],
        );
        w
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn origin(&self) -> PathBuf {
        self.path("origin.git")
    }

    fn work(&self) -> PathBuf {
        self.path("work")
    }
}

fn entry(index: char, worktree: char, path: &str, from: Option<&str>) -> StatusEntry {
    StatusEntry {
        index,
        worktree,
        path: path.into(),
        from: from.map(str::to_string),
    }
}

#[test]
fn status_reads_renames_spaces_unicode_and_odd_names() {
    let w = World::new();
    let work = w.work();
    commit(&work, "a b.txt", "moved\n", "spaces");
    commit(&work, "ünï cödé.txt", "one\n", "unicode");
    commit(&work, "tab\there \"q\".txt", "x\n", "odd");
    git(&work, &["mv", "a b.txt", "c d.txt"]);
    std::fs::write(work.join("ünï cödé.txt"), "two\n").unwrap();
    std::fs::remove_file(work.join("tab\there \"q\".txt")).unwrap();
    std::fs::write(work.join("new file.txt"), "n\n").unwrap();
    std::fs::create_dir_all(work.join("new dir")).unwrap();
    std::fs::write(work.join("new dir/x y"), "n\n").unwrap();
    let r = repo(&work);

    let mut got = r.status(Untracked::Normal, true).unwrap();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        got,
        vec![
            entry('R', ' ', "c d.txt", Some("a b.txt")),
            entry('?', '?', "new dir/", None),
            entry('?', '?', "new file.txt", None),
            entry(' ', 'D', "tab\there \"q\".txt", None),
            entry(' ', 'M', "ünï cödé.txt", None),
        ]
    );
    assert_eq!(r.uncommitted_count().unwrap(), 5, "a rename counts once");
    assert!(got[3].deletion_only() && !got[4].deletion_only());
    assert!(got[1].untracked() && !got[0].untracked());

    // every untracked file, and no rename detection: the rename is two entries
    let mut all = r.status(Untracked::All, false).unwrap();
    all.sort_by(|a, b| a.path.cmp(&b.path));
    let paths: Vec<(char, char, &str)> = all
        .iter()
        .map(|e| (e.index, e.worktree, e.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ('D', ' ', "a b.txt"),
            ('A', ' ', "c d.txt"),
            ('?', '?', "new dir/x y"),
            ('?', '?', "new file.txt"),
            (' ', 'D', "tab\there \"q\".txt"),
            (' ', 'M', "ünï cödé.txt"),
        ]
    );
    assert!(all.iter().all(|e| e.from.is_none()));
}

#[test]
fn status_with_untracked_files_only() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    assert_eq!(r.status(Untracked::Normal, true).unwrap(), vec![]);
    assert_eq!(r.uncommitted_count().unwrap(), 0);
    std::fs::write(work.join("only new"), "n\n").unwrap();
    std::fs::write(work.join("ß.txt"), "n\n").unwrap();
    let got = r.status(Untracked::Normal, true).unwrap();
    assert_eq!(
        got,
        vec![
            entry('?', '?', "only new", None),
            entry('?', '?', "ß.txt", None)
        ]
    );
    assert_eq!(r.uncommitted_count().unwrap(), 2);
    assert_eq!(r.status(Untracked::No, true).unwrap(), vec![]);
}

#[test]
fn ahead_and_behind_the_remote_trunk() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    assert_eq!(r.ahead_behind("HEAD", "origin/main").unwrap(), (0, 0));
    // origin moves on by one commit (pushed from another clone)
    let other = w.path("other");
    git(
        w.tmp.path(),
        &[
            "clone",
            "--quiet",
            w.origin().to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    commit(&other, "theirs.txt", "t\n", "theirs");
    git(&other, &["push", "--quiet", "origin", "main"]);
    // and this clone has two of its own
    commit(&work, "mine1.txt", "1\n", "mine 1");
    commit(&work, "mine2.txt", "2\n", "mine 2");
    assert_eq!(r.ahead_behind("HEAD", "origin/main").unwrap(), (2, 0));
    r.fetch("origin").unwrap();
    assert_eq!(r.ahead_behind("HEAD", "origin/main").unwrap(), (2, 1));
    assert_eq!(r.ahead_behind("origin/main", "HEAD").unwrap(), (1, 2));
    assert!(!r.is_ancestor("HEAD", "origin/main").unwrap());
    assert!(r.is_ancestor("HEAD~2", "origin/main").unwrap());
    let head = r.head_commit().unwrap().unwrap();
    assert_eq!(head.hash, r.rev_parse("HEAD").unwrap());
    assert_eq!(head.subject, "mine 2");
    assert_eq!(head.tree, r.rev_parse_tree("HEAD").unwrap());
}

/// `side` and `main` both change `shared.txt`.
fn diverged(work: &Path) -> (String, String) {
    git(work, &["switch", "--quiet", "-c", "side"]);
    let side = commit(work, "shared.txt", "side\n", "side");
    git(work, &["switch", "--quiet", "main"]);
    let main = commit(work, "shared.txt", "main\n", "main");
    (main, side)
}

#[test]
fn a_conflicting_merge_is_a_conflict_and_abort_restores_everything() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    let (main, _) = diverged(&work);
    let err = r.run(["merge", "--no-edit", "side"]).unwrap_err();
    let GitError::Conflict { files, .. } = &err else {
        panic!("not a conflict: {err:?}");
    };
    assert_eq!(files, &vec!["shared.txt".to_string()]);
    assert!(r.merge_in_progress().unwrap());
    let e = imi_core::Error::from(err.clone());
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("shared.txt"), "{}", e.message);
    assert!(e.hint.unwrap().contains("status"));
    // a second merge while the first is unresolved: still a conflict with the files
    let again = r.run(["merge", "--no-edit", "side"]).unwrap_err();
    assert!(matches!(again, GitError::Conflict { .. }), "{again:?}");

    r.run(["merge", "--abort"]).unwrap();
    assert!(!r.merge_in_progress().unwrap());
    assert_eq!(r.uncommitted_count().unwrap(), 0);
    assert_eq!(r.rev_parse("HEAD").unwrap(), main);
    assert_eq!(
        std::fs::read_to_string(work.join("shared.txt")).unwrap(),
        "main\n"
    );
}

#[test]
fn the_merge_plan_reports_a_conflict_and_changes_nothing() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    let (main, _) = diverged(&work);
    let refs_before = git(&work, &["show-ref"]);
    let plan = r
        .plan_merge("side", MergeMode::Commit, "Merge side")
        .unwrap();
    assert_eq!(
        plan,
        MergePlan::Conflict {
            files: vec!["shared.txt".into()]
        }
    );
    assert_eq!(r.rev_parse("HEAD").unwrap(), main);
    assert_eq!(git(&work, &["show-ref"]), refs_before);
    assert_eq!(r.uncommitted_count().unwrap(), 0);
    assert!(!r.merge_in_progress().unwrap());
    assert!(matches!(
        r.merge_tree("main", "side").unwrap(),
        MergeTree::Conflict { .. }
    ));
    assert_eq!(
        r.plan_merge("side", MergeMode::FastForwardOnly, "x")
            .unwrap(),
        MergePlan::Diverged
    );
}

#[test]
fn a_clean_merge_plan_is_applied_by_a_fast_forward() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    git(&work, &["switch", "--quiet", "-c", "side"]);
    commit(&work, "side.txt", "s\n", "side");
    git(&work, &["switch", "--quiet", "main"]);
    let main = commit(&work, "main.txt", "m\n", "main");
    let MergePlan::Advance { from, to } = r
        .plan_merge("side", MergeMode::Commit, "Merge side into main")
        .unwrap()
    else {
        panic!("no advance");
    };
    assert_eq!(from, main);
    assert_eq!(r.rev_parse("HEAD").unwrap(), main, "planning moved nothing");
    assert_eq!(r.in_the_way(&from, &to).unwrap(), Vec::<String>::new());
    r.fast_forward(&to).unwrap();
    assert_eq!(r.rev_parse("HEAD").unwrap(), to);
    assert!(work.join("side.txt").exists());
    assert_eq!(
        r.plan_merge("side", MergeMode::Commit, "again").unwrap(),
        MergePlan::UpToDate { head: to }
    );
}

#[test]
fn untracked_files_in_the_way_are_work_git_would_lose() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    git(&work, &["switch", "--quiet", "-c", "side"]);
    let side = commit(&work, "new.txt", "theirs\n", "side");
    git(&work, &["switch", "--quiet", "main"]);
    std::fs::write(work.join("new.txt"), "mine, untracked\n").unwrap();
    let main = r.rev_parse("HEAD").unwrap();
    assert_eq!(r.in_the_way(&main, &side).unwrap(), vec!["new.txt"]);
    let err = r.fast_forward(&side).unwrap_err();
    let GitError::WouldLoseWork { files, .. } = &err else {
        panic!("not WouldLoseWork: {err:?}");
    };
    assert_eq!(files, &vec!["new.txt".to_string()]);
    assert_eq!(imi_core::Error::from(err).kind, ErrorKind::Git);
    assert_eq!(
        std::fs::read_to_string(work.join("new.txt")).unwrap(),
        "mine, untracked\n"
    );
    assert_eq!(r.rev_parse("HEAD").unwrap(), main);
}

#[test]
fn worktree_add_list_and_remove() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    let wt = w.path("feat-x");
    r.worktree_add(&wt, "feat/x", Some("origin/main")).unwrap();
    let listed = r.worktree_list().unwrap();
    let e = listed.iter().find(|e| e.path == wt).expect("listed");
    assert_eq!(e.branch.as_deref(), Some("feat/x"));
    assert!(!e.bare && !e.prunable && e.locked.is_none());
    assert_eq!(
        e.head.as_deref(),
        Some(r.rev_parse("origin/main").unwrap().as_str())
    );
    let x = repo(&wt);
    assert_eq!(x.current_branch().unwrap().as_deref(), Some("feat/x"));
    assert_eq!(x.toplevel().unwrap(), wt.canonicalize().unwrap());
    assert_eq!(
        x.common_dir().unwrap(),
        work.join(".git").canonicalize().unwrap()
    );
    // --no-track: the new branch has no upstream (`git config --get` exits 1)
    let upstream = r
        .run(["config", "--get", "branch.feat/x.merge"])
        .unwrap_err();
    assert!(
        matches!(upstream, GitError::Failed { code: Some(1), .. }),
        "{upstream:?}"
    );

    // an existing branch, checked out elsewhere: git refuses
    let twice = r
        .worktree_add(&w.path("again"), "feat/x", None)
        .unwrap_err();
    assert!(matches!(twice, GitError::Failed { .. }), "{twice:?}");

    // work in it: git's safe removal refuses, and nothing is lost
    commit(&wt, "x.txt", "x\n", "x");
    std::fs::write(wt.join("untracked.txt"), "keep me\n").unwrap();
    let refused = r.worktree_remove(&wt, false).unwrap_err();
    assert!(
        matches!(refused, GitError::WouldLoseWork { .. }),
        "{refused:?}"
    );
    assert_eq!(imi_core::Error::from(refused).kind, ErrorKind::Git);
    assert!(wt.join("untracked.txt").exists());
    std::fs::remove_file(wt.join("untracked.txt")).unwrap();
    r.worktree_remove(&wt, false).unwrap();
    assert!(!wt.exists());
    assert!(r.worktree_list().unwrap().iter().all(|e| e.path != wt));

    // its branch holds a commit nothing else has: -d refuses, -D deletes
    assert_eq!(
        r.unique_commits("feat/x", Some("feat/x")).unwrap(),
        1,
        "one commit only feat/x has"
    );
    let unmerged = r.branch_delete("feat/x", false).unwrap_err();
    assert!(
        matches!(unmerged, GitError::WouldLoseWork { .. }),
        "{unmerged:?}"
    );
    let tip = r.rev_parse("feat/x").unwrap();
    assert_eq!(r.rescue("x", &tip).unwrap(), "refs/imi/rescued/x");
    assert_eq!(r.rescue("x", &tip).unwrap(), "refs/imi/rescued/x-2");
    r.branch_delete("feat/x", true).unwrap();
    assert!(!r.branch_exists("feat/x").unwrap());
    assert_eq!(r.unique_commits(&tip, None).unwrap(), 0, "rescued");

    // a worktree whose directory vanished is prunable, and prune forgets it
    let gone = w.path("gone");
    r.worktree_add(&gone, "gone", Some("main")).unwrap();
    std::fs::remove_dir_all(&gone).unwrap();
    assert!(
        r.worktree_list()
            .unwrap()
            .iter()
            .any(|e| e.path == gone && e.prunable)
    );
    r.worktree_prune().unwrap();
    assert!(r.worktree_list().unwrap().iter().all(|e| e.path != gone));
}

#[test]
fn fetch_a_pull_request_ref_from_the_origin() {
    let w = World::new();
    let work = w.work();
    // the hosting service keeps the pull request's head on refs/pull/7/head
    let other = w.path("contributor");
    git(
        w.tmp.path(),
        &[
            "clone",
            "--quiet",
            w.origin().to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    let head = commit(&other, "pr.txt", "pr\n", "the pull request");
    git(
        &other,
        &["push", "--quiet", "origin", "HEAD:refs/pull/7/head"],
    );

    let r = repo(&work);
    assert_eq!(
        r.remote_url("origin").unwrap().map(PathBuf::from),
        Some(w.origin())
    );
    assert_eq!(r.remote_url("nope").unwrap(), None);
    assert_eq!(
        r.remote_default_branch("origin").unwrap().as_deref(),
        Some("main")
    );
    assert!(r.remote_has_ref("origin", "refs/pull/7/head").unwrap());
    assert!(!r.remote_has_ref("origin", "refs/pull/8/head").unwrap());
    assert!(!r.branch_exists("pr-review/7").unwrap());
    r.fetch_ref("origin", "refs/pull/7/head", "pr-review/7")
        .unwrap();
    assert!(r.branch_exists("pr-review/7").unwrap());
    assert_eq!(r.rev_parse("refs/heads/pr-review/7").unwrap(), head);
    assert_eq!(
        r.blob_bytes(&head, "pr.txt").unwrap(),
        Some(b"pr\n".to_vec())
    );
    assert_eq!(r.blob_bytes(&head, "nope.txt").unwrap(), None);

    // a ref the origin does not have is git's failure, with its message
    let missing = r
        .fetch_ref("origin", "refs/pull/8/head", "pr-review/8")
        .unwrap_err();
    let GitError::Failed {
        command, message, ..
    } = &missing
    else {
        panic!("not Failed: {missing:?}");
    };
    assert!(command.args.contains("refs/pull/8/head"), "{command:?}");
    assert!(message.contains("refs/pull/8/head"), "{message}");
    let e = imi_core::Error::from(missing);
    assert_eq!(e.kind, ErrorKind::Git);
    assert!(e.hint.unwrap().starts_with("run `git -C "));

    // an unreachable origin is an error, never "no such ref"
    git(
        &work,
        &["remote", "set-url", "origin", "/nonexistent/offline.git"],
    );
    let offline = r.remote_has_ref("origin", "refs/pull/7/head").unwrap_err();
    assert!(matches!(offline, GitError::Failed { .. }), "{offline:?}");
}

#[test]
fn not_a_repository() {
    let w = World::new();
    let plain = w.path("plain");
    std::fs::create_dir(&plain).unwrap();
    for dir in [plain.clone(), w.path("missing")] {
        let err = repo(&dir).toplevel().unwrap_err();
        assert_eq!(err, GitError::NotARepository { dir: dir.clone() });
        let e = imi_core::Error::from(err);
        assert_eq!(e.kind, ErrorKind::Git);
        assert_eq!(
            e.message,
            format!("{} is not inside a git repository", dir.display())
        );
        // a question about a repository that is not there is an error, not "no"
        let err = repo(&dir).current_branch().unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
        let err = repo(&dir).remote_url("origin").unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
    }
}

#[test]
fn an_index_lock_left_by_another_git_is_lock_contention() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    git(&work, &["switch", "--quiet", "-c", "side"]);
    let side = commit(&work, "s.txt", "s\n", "side");
    git(&work, &["switch", "--quiet", "main"]);
    let lock = work.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let err = r.fast_forward(&side).unwrap_err();
    let GitError::Locked { lock: named, .. } = &err else {
        panic!("not Locked: {err:?}");
    };
    assert_eq!(named.as_deref(), Some(lock.as_path()));
    let e = imi_core::Error::from(err);
    assert_eq!(e.kind, ErrorKind::Git);
    assert!(
        e.hint.unwrap().contains(&lock.display().to_string()),
        "the hint names the lock"
    );
    // reading stays possible: status takes no lock
    assert_eq!(r.uncommitted_count().unwrap(), 0);
    std::fs::remove_file(&lock).unwrap();
    r.fast_forward(&side).unwrap();

    // a ref's lock
    let ref_lock = work.join(".git/refs/heads/side.lock");
    std::fs::write(&ref_lock, "").unwrap();
    let err = r
        .run(["update-ref", "refs/heads/side", "HEAD~1"])
        .unwrap_err();
    let GitError::Locked { lock: named, .. } = &err else {
        panic!("not Locked: {err:?}");
    };
    assert_eq!(named.as_deref(), Some(ref_lock.as_path()));
}

#[test]
fn git_that_cannot_be_started_is_a_spawn_failure() {
    let w = World::new();
    for r in [
        repo(&w.work()).with_program(w.path("no/such/git")),
        repo(&w.work()).with_env("PATH", w.path("empty")),
    ] {
        // (HEAD is read from git's files: ask what only git can answer)
        let err = r.uncommitted_count().unwrap_err();
        assert!(matches!(err, GitError::Spawn { .. }), "{err:?}");
        let e = imi_core::Error::from(err);
        assert_eq!(e.kind, ErrorKind::Git);
        assert!(e.message.starts_with("cannot run git"), "{}", e.message);
        assert_eq!(
            e.hint.as_deref(),
            Some("install git and make sure it is on PATH")
        );
    }
}

#[test]
fn any_other_failure_carries_the_command_and_gits_message() {
    let w = World::new();
    let err = repo(&w.work())
        .run(["rev-parse", "--verify", "no-such-rev"])
        .unwrap_err();
    let GitError::Failed {
        command,
        code,
        message,
    } = &err
    else {
        panic!("not Failed: {err:?}");
    };
    assert_eq!(command.args, "rev-parse --verify no-such-rev");
    assert_eq!(command.dir.as_deref(), Some(w.work().as_path()));
    assert_eq!(*code, Some(128));
    assert_eq!(message, "fatal: Needed a single revision");
    let e = imi_core::Error::from(err);
    assert_eq!(
        e.message,
        "`git rev-parse --verify no-such-rev` failed: fatal: Needed a single revision"
    );
    assert_eq!(
        e.hint.unwrap(),
        format!(
            "run `git -C {} rev-parse --verify no-such-rev` yourself to see git's full output",
            w.work().display()
        )
    );
}

#[tokio::test]
async fn the_repository_lock_is_waited_for_without_blocking_the_runtime() {
    let w = World::new();
    let r = repo(&w.work());
    let held = r.blocking_lock().unwrap();
    assert!(held.path().ends_with(".git/imi.lock"));
    assert!(r.try_lock().unwrap().is_none(), "held by another handle");
    // on this one-thread runtime, the timeout fires only if lock() yields
    let waited = tokio::time::timeout(Duration::from_millis(200), r.lock()).await;
    assert!(waited.is_err(), "still held");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = {
        let r = r.clone();
        tokio::spawn(async move {
            let lock = r.lock().await;
            let _ = tx.send(());
            lock
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("the waiter got the lock once it was released")
        .unwrap();
    let lock = waiter.await.unwrap().unwrap();
    assert!(r.try_lock().unwrap().is_none());
    drop(lock);
    assert!(r.try_lock().unwrap().is_some());
}

#[test]
fn classification_does_not_depend_on_the_users_language() {
    let w = World::new();
    let work = w.work();
    std::fs::write(work.join(".git/index.lock"), "").unwrap();
    // the git on PATH, and Debian's, which ships a German catalogue (this git
    // would answer "Schwerwiegend: Konnte '.../index.lock' nicht erstellen")
    let debian = PathBuf::from("/usr/lib/git-core/git");
    let gits = std::iter::once(PathBuf::from("git")).chain(debian.exists().then_some(debian));
    for program in gits {
        let r = repo(&work)
            .with_program(&program)
            .with_env("LANGUAGE", "de")
            .with_env("LC_ALL", "C.UTF-8");
        let err = r.run(["add", "."]).unwrap_err();
        assert!(
            matches!(err, GitError::Locked { .. }),
            "{}: {err:?}",
            program.display()
        );
    }
}

/// git without a name and email to commit with: its own variant, and a hint that
/// says how to set them.
#[test]
fn a_missing_identity_says_to_set_user_name_and_email() {
    let w = World::new();
    let work = w.work();
    git(&work, &["switch", "--quiet", "-c", "side"]);
    commit(&work, "side.txt", "side\n", "side");
    git(&work, &["switch", "--quiet", "main"]);
    commit(&work, "main.txt", "main\n", "main");
    git(&work, &["config", "user.useConfigOnly", "true"]);
    // no GIT_AUTHOR_* / GIT_COMMITTER_* here, and nothing to guess from
    let r = Repo::at(&work)
        .with_env("GIT_CONFIG_GLOBAL", "/dev/null")
        .with_env("GIT_CONFIG_NOSYSTEM", "1")
        .with_env("EMAIL", "");
    let err = r
        .plan_merge("side", MergeMode::Commit, "Merge side")
        .unwrap_err();
    assert!(matches!(err, GitError::NoIdentity { .. }), "{err:?}");
    let e = imi_core::Error::from(err);
    assert_eq!(e.kind, ErrorKind::Git);
    let hint = e.hint.unwrap();
    assert!(
        hint.contains("git config --global user.name") && hint.contains("user.email"),
        "{hint}"
    );
}

/// Commands in hints can be pasted: a directory or argument with a space or a
/// quote is quoted for the shell.
#[test]
fn commands_in_hints_are_quoted_for_the_shell() {
    let inv = imi_git::Invocation::new(
        Some(PathBuf::from("/tmp/my repo")),
        &["log", "-1", "--format=%s", "it's"],
    );
    assert_eq!(
        inv.rerun(),
        r"git -C '/tmp/my repo' log -1 --format=%s 'it'\''s'"
    );
}

/// A git that notes each start in a file, then runs the real one; and that file.
fn counting_git(w: &World) -> (PathBuf, PathBuf) {
    let log = w.path("starts.log");
    let wrapper = w.path("git-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec git \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    (wrapper, log)
}

fn starts(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Does git itself say `r` exists?
fn git_has_ref(dir: &Path, r: &str) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["show-ref", "--verify", "--quiet", r])
        .envs(ENV)
        .status()
        .unwrap()
        .success()
}

/// The answers imi-git reads from git's files (common directory, refs loose and
/// packed and symbolic, HEAD attached and detached, the worktree at a path:
/// linked, locked, prunable, none) are git's own answers, and start no git.
#[test]
fn reads_from_gits_files_agree_with_git_and_start_no_git() {
    let w = World::new();
    let work = w.work();
    let plain = repo(&work);
    let (feat, locked, gone, det) = (
        w.path("feat-a"),
        w.path("locked"),
        w.path("gone"),
        w.path("det"),
    );
    plain
        .worktree_add(&feat, "feat/a", Some("origin/main"))
        .unwrap();
    plain.worktree_add(&locked, "lk", Some("main")).unwrap();
    git(
        &work,
        &["worktree", "lock", "--reason", "on a usb disk", "../locked"],
    );
    plain.worktree_add(&gone, "gone", Some("main")).unwrap();
    std::fs::remove_dir_all(&gone).unwrap();
    git(&work, &["worktree", "add", "--quiet", "--detach", "../det"]);
    git(&work, &["tag", "-a", "-m", "v1", "v1"]);
    git(&work, &["update-ref", "refs/heads/only-packed", "HEAD"]);
    git(&work, &["pack-refs", "--all"]);
    // after packing: main moves on in its loose file, feat/a gets a commit
    commit(&work, "b.txt", "b\n", "b");
    commit(&feat, "a.txt", "a\n", "a");
    git(
        &work,
        &["symbolic-ref", "refs/heads/alias", "refs/heads/main"],
    );

    let (wrapper, log) = counting_git(&w);
    let r = repo(&work).with_program(&wrapper);
    let listed = plain.worktree_list().unwrap();
    let git_common = git(
        &work,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    );
    assert_eq!(r.common_dir().unwrap(), PathBuf::from(git_common));
    assert_eq!(
        repo(&feat).with_program(&wrapper).common_dir().unwrap(),
        r.common_dir().unwrap()
    );
    for name in [
        "refs/heads/main",
        "refs/heads/only-packed",
        "refs/heads/alias",
        "refs/heads/feat/a",
        "refs/heads/feat",
        "refs/heads/nope",
        "refs/remotes/origin/main",
        "refs/remotes/origin/HEAD",
        "refs/tags/v1",
        "HEAD",
    ] {
        assert_eq!(
            r.ref_exists(name).unwrap(),
            git_has_ref(&work, name),
            "{name}"
        );
    }
    for rev in [
        "main",
        "HEAD",
        "only-packed",
        "alias",
        "feat/a",
        "refs/heads/main",
    ] {
        assert_eq!(
            r.rev_parse(rev).unwrap(),
            git(&work, &["rev-parse", rev]),
            "{rev}"
        );
    }
    for (dir, branch) in [(&work, Some("main")), (&feat, Some("feat/a")), (&det, None)] {
        let b = repo(dir).with_program(&wrapper).current_branch().unwrap();
        assert_eq!(b.as_deref(), branch, "{}", dir.display());
    }
    for path in [&work, &feat, &locked, &gone, &det, &w.path("none")] {
        let canonical = path.canonicalize().unwrap_or(path.to_path_buf());
        let want = listed.iter().find(|e| e.path == canonical);
        assert_eq!(
            r.worktree_at(path).unwrap().as_ref(),
            want,
            "{}",
            path.display()
        );
    }
    assert!(r.worktree_at(&gone).unwrap().unwrap().prunable);
    assert_eq!(
        r.worktree_at(&locked).unwrap().unwrap().locked.as_deref(),
        Some("on a usb disk")
    );
    assert!(r.is_ancestor("alias", "refs/heads/main").unwrap());
    assert!(r.valid_branch_name("feat/x").unwrap());
    assert!(!r.valid_branch_name("feat/x.lock").unwrap());
    assert_eq!(starts(&log), Vec::<String>::new(), "no git was started");

    // what the files do not answer, git does: a revision git must evaluate, a
    // tag (peeled to its commit), two commits' ancestry
    let tagged = r.rev_parse("v1").unwrap();
    assert_eq!(tagged, git(&work, &["rev-parse", "v1^{commit}"]));
    assert!(r.rev_parse("HEAD~1").is_ok());
    assert!(!r.is_ancestor("feat/a", "main").unwrap());
    assert_eq!(starts(&log).len(), 3, "{:?}", starts(&log));
}

/// Where git's files may not be the ones git reads (`GIT_DIR` in the
/// environment, the reftable format, a subdirectory), imi-git asks git.
#[test]
fn reads_fall_back_to_git_where_the_files_are_not_read() {
    let w = World::new();
    let work = w.work();
    let (wrapper, log) = counting_git(&w);
    let relocated = repo(&work)
        .with_program(&wrapper)
        .with_env("GIT_DIR", work.join(".git"));
    assert!(relocated.branch_exists("main").unwrap());
    assert_eq!(starts(&log).len(), 1);

    let sub = work.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let in_sub = repo(&sub).with_program(&wrapper);
    assert!(in_sub.branch_exists("main").unwrap());
    assert_eq!(
        in_sub.common_dir().unwrap(),
        work.join(".git").canonicalize().unwrap()
    );
    assert_eq!(starts(&log).len(), 3);

    // symbolic refs as symbolic links (core.preferSymlinkRefs): git reads the
    // link's text; so do these answers, by asking git
    git(&work, &["branch", "other"]);
    git(
        &work,
        &[
            "-c",
            "core.preferSymlinkRefs=true",
            "symbolic-ref",
            "refs/heads/alias",
            "refs/heads/main",
        ],
    );
    git(
        &work,
        &[
            "-c",
            "core.preferSymlinkRefs=true",
            "checkout",
            "--quiet",
            "other",
        ],
    );
    assert!(
        std::fs::symlink_metadata(work.join(".git/HEAD"))
            .unwrap()
            .is_symlink()
    );
    let r = repo(&work).with_program(&wrapper);
    let before = starts(&log).len();
    assert!(r.ref_exists("refs/heads/alias").unwrap());
    assert_eq!(r.current_branch().unwrap().as_deref(), Some("other"));
    assert_eq!(
        r.rev_parse("HEAD").unwrap(),
        git(&work, &["rev-parse", "HEAD"])
    );
    assert_eq!(starts(&log).len(), before + 3);
    git(&work, &["checkout", "--quiet", "main"]);

    // `@` is HEAD to git, even beside a branch named `@`
    commit(&work, "c.txt", "c\n", "c");
    git(&work, &["branch", "@", "other"]);
    assert_eq!(r.rev_parse("@").unwrap(), git(&work, &["rev-parse", "@"]));
    assert!(!r.is_ancestor("@", "other").unwrap());

    let rt = w.path("reftable");
    git(
        w.tmp.path(),
        &[
            "init",
            "--quiet",
            "--ref-format=reftable",
            "-b",
            "main",
            rt.to_str().unwrap(),
        ],
    );
    commit(&rt, "r.txt", "r\n", "r");
    let r = repo(&rt).with_program(&wrapper);
    assert!(r.branch_exists("main").unwrap());
    assert!(!r.branch_exists("nope").unwrap());
    assert_eq!(r.current_branch().unwrap().as_deref(), Some("main"));
    // GIT_DIR 1, subdirectory 2, symbolic links 3, `@` 2, reftable 3
    assert_eq!(starts(&log).len(), 1 + 2 + 3 + 2 + 3, "{:?}", starts(&log));
}

/// `git worktree remove` checks the worktree with a plain `git status`, which
/// hides untracked files under `status.showUntrackedFiles=no` (git's advice for
/// a slow status): removing must still refuse them.
#[test]
fn removal_refuses_untracked_files_that_status_is_told_to_hide() {
    let w = World::new();
    let work = w.work();
    let r = repo(&work);
    let wt = w.path("feat-y");
    r.worktree_add(&wt, "feat/y", Some("origin/main")).unwrap();
    git(&work, &["config", "status.showUntrackedFiles", "no"]);
    std::fs::write(wt.join("notes.txt"), "mine\n").unwrap();
    let refused = r.worktree_remove(&wt, false).unwrap_err();
    assert!(
        matches!(refused, GitError::WouldLoseWork { .. }),
        "{refused:?}"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("notes.txt")).unwrap(),
        "mine\n"
    );
    // and without the file, it goes
    std::fs::remove_file(wt.join("notes.txt")).unwrap();
    r.worktree_remove(&wt, false).unwrap();
    assert!(!wt.exists());
}

/// What branch names are made of here: git's rules are about these pieces
/// (`.lock` ends, `..`, `@{`, leading `-` and `.`, empty components, bad bytes).
const PIECES: [&str; 32] = [
    "a", "a", "a", "a", "feat", "feat", "x1", "/", "/", "/", "é", ".", "..", ".lock", "lock", "@",
    "@{", "{-1}", "{", "}", "-", "//", " ", "~", "^", ":", "?", "*", "[", "\\", "\u{7f}", "HEAD",
];

use proptest::strategy::Strategy as _;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    /// A branch name is valid exactly when `git check-ref-format --branch` says so
    /// (asked outside any repository), and the answer starts no git.
    #[test]
    fn branch_names_are_judged_as_git_judges_them(
        name in proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 1..7)
            .prop_map(|p| p.concat())
    ) {
        let outside = std::env::temp_dir();
        let git_says = Command::new("git")
            .current_dir(&outside)
            .args(["check-ref-format", "--branch", &name])
            .envs(ENV)
            .env("GIT_CEILING_DIRECTORIES", &outside)
            .output()
            .unwrap()
            .status
            .success();
        // a program that does not exist: the answer must come without git
        let ours = Repo::at(&outside)
            .with_program(outside.join("no-git-here"))
            .valid_branch_name(&name);
        match ours {
            Ok(v) => proptest::prop_assert_eq!(v, git_says, "{:?}", name),
            // `@{-N}`, `x@{u}`: git alone resolves them (and here there is no git)
            Err(_) => proptest::prop_assert!(name.contains("@{"), "{:?}", name),
        }
    }
}
