//! What the file system says about where we are, without the registry: the
//! container's `.iMi/project.json` (SPEC §2) and one small file per worktree under
//! `.iMi/worktrees/`, so that shell prompts and scripts learn the project and the
//! worktree in well under 10 ms.

use std::path::{Path, PathBuf};

use imi_core::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DIR: &str = ".iMi";
pub const PROJECT_FILE: &str = "project.json";

/// `<container>/.iMi/project.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFile {
    pub project_id: Uuid,
    pub name: String,
    pub remote_origin: Option<String>,
    pub default_branch: String,
    pub trunk_path: String,
}

/// `<container>/.iMi/worktrees/<name>.json`: what the prompt shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeFile {
    pub worktree_id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub branch: String,
    pub agent_id: Option<String>,
}

/// Where `start` is: the container holding `.iMi/project.json`, and the worktree
/// directory (the container's child on the way up), if any.
#[derive(Debug, Clone)]
pub struct Location {
    pub container: PathBuf,
    pub project: ProjectFile,
    /// `<container>/<name>` when `start` is inside a worktree directory.
    pub worktree_dir: Option<PathBuf>,
}

impl Location {
    pub fn worktree_name(&self) -> Option<&str> {
        self.worktree_dir.as_deref()?.file_name()?.to_str()
    }

    /// The worktree's `.iMi` file, when it is there and valid (its name follows the
    /// worktree-name rules: `.iMi` files are input like any other).
    pub fn worktree_file(&self) -> Option<WorktreeFile> {
        let name = self.worktree_name()?;
        let file: WorktreeFile = read_json(&worktree_file_path(&self.container, name)).ok()?;
        imi_core::naming::validate_worktree_name(&file.name).ok()?;
        Some(file)
    }
}

pub fn project_file_path(container: &Path) -> PathBuf {
    container.join(DIR).join(PROJECT_FILE)
}

/// `<container>/.iMi/worktrees/<name>.json`. A name that is not a valid worktree
/// name (a registry row written around imi's checks, e.g. `../../x`) is escaped
/// ([`imi_core::naming::safe_file_stem`]), so the path never leaves that directory.
pub fn worktree_file_path(container: &Path, name: &str) -> PathBuf {
    let stem = imi_core::naming::safe_file_stem(name);
    container
        .join(DIR)
        .join("worktrees")
        .join(format!("{stem}.json"))
}

/// The project id `.iMi/project.json` in `container` records, if the file is there
/// and readable (an unreadable one names nothing: `imi init` rewrites it).
pub fn recorded_project_id(container: &Path) -> Option<Uuid> {
    read_json::<ProjectFile>(&project_file_path(container))
        .ok()
        .map(|f| f.project_id)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::not_found(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::validation(format!("{} is not valid: {e}", path.display()))
            .with_hint("run `imi init` in the project to rewrite it")
    })
}

/// A project file is input: its name must be a valid project name, and its trunk
/// path absolute-or-relative without `.`/`..` parts, ending in a plain name.
fn check_project_file(path: &Path, p: &ProjectFile) -> Result<()> {
    let invalid = |why: String| {
        Error::validation(format!("{} is not valid: {why}", path.display()))
            .with_hint("run `imi init` in the project's trunk to rewrite it")
    };
    imi_core::naming::validate_project_name(&p.name).map_err(|e| invalid(e.message))?;
    imi_core::naming::require_non_empty("trunk path", &p.trunk_path)
        .map_err(|e| invalid(e.message))?;
    let trunk = Path::new(&p.trunk_path);
    let trunk_dir = trunk.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(why) = imi_core::naming::path_component_problem(trunk_dir, 255) {
        return Err(invalid(format!("its trunk path's last part {why}")));
    }
    if trunk.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    }) {
        return Err(invalid("its trunk path contains `..` or `.`".into()));
    }
    Ok(())
}

/// Walks up from `start` to the first directory holding `.iMi/project.json`.
pub fn locate(start: &Path) -> Result<Option<Location>> {
    let mut child: Option<&Path> = None;
    for dir in start.ancestors() {
        let file = project_file_path(dir);
        if file.is_file() {
            let project: ProjectFile = read_json(&file)?;
            check_project_file(&file, &project)?;
            return Ok(Some(Location {
                container: dir.to_path_buf(),
                project,
                worktree_dir: child.map(Path::to_path_buf),
            }));
        }
        child = Some(dir);
    }
    Ok(None)
}

/// Writes `value` as pretty JSON atomically (a new temporary file in the same
/// directory, then rename: see [`crate::atomic`]), so a reader never sees half a
/// file, concurrent writers never interleave, and a planted symlink is not followed.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal(format!("{} has no parent directory", path.display())))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal(format!("cannot encode {}: {e}", path.display())))?;
    text.push('\n');
    crate::atomic::write(path, text.as_bytes(), 0o644)
        .map_err(|e| e.with_hint("check the directory's permissions"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_from_any_depth() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("app");
        let pf = ProjectFile {
            project_id: Uuid::new_v4(),
            name: "app".into(),
            remote_origin: None,
            default_branch: "main".into(),
            trunk_path: c.join("trunk-main").display().to_string(),
        };
        write_json(&project_file_path(&c), &pf).unwrap();
        let deep = c.join("feat-x/src/deep");
        std::fs::create_dir_all(&deep).unwrap();
        let loc = locate(&deep).unwrap().unwrap();
        assert_eq!(loc.container, c);
        assert_eq!(loc.project, pf);
        assert_eq!(loc.worktree_name(), Some("feat-x"));
        let at_container = locate(&c).unwrap().unwrap();
        assert_eq!(at_container.worktree_dir, None);
        assert!(locate(tmp.path()).unwrap().is_none());
    }

    #[test]
    fn bad_files_are_refused_and_paths_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("app");
        for (name, trunk) in [
            ("..", c.join("trunk-main").display().to_string()),
            ("a/b", c.join("trunk-main").display().to_string()),
            ("app", format!("{}/../../trunk-main", c.display())),
            ("rtl\u{202E}x", c.join("trunk-main").display().to_string()),
        ] {
            let pf = ProjectFile {
                project_id: Uuid::new_v4(),
                name: name.into(),
                remote_origin: None,
                default_branch: "main".into(),
                trunk_path: trunk,
            };
            write_json(&project_file_path(&c), &pf).unwrap();
            let e = locate(&c).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{name:?}");
            assert!(e.hint.is_some());
        }
        let p = worktree_file_path(&c, "../../../../x");
        assert!(p.starts_with(c.join(".iMi/worktrees")), "{}", p.display());
        assert_eq!(p.parent().unwrap(), c.join(".iMi/worktrees"));
        assert_eq!(
            worktree_file_path(&c, "feat-x"),
            c.join(".iMi/worktrees/feat-x.json")
        );
    }
}
