//! `imi config [list [--show-origin]] | get KEY | set KEY VALUE... | unset KEY
//! [--project-file]`: the settings in effect and where each comes from; reading and
//! writing your config file, or (`--project-file`) the repository's committed
//! `.imi.toml`. Edits keep the file's comments and layout (`toml_edit`), are checked
//! by the same parser that reads the file before anything is written, and the file
//! is replaced atomically. A password never goes into a file.

use std::path::{Path, PathBuf};

use imi_core::{Error, Result};
use serde_json::{Value, json};
use toml_edit::{Array, DocumentMut, Item, value};

use crate::cli::{ConfigArgs, ConfigCommand};
use crate::config::Settings;
use crate::setup::{self, SetupTables};
use crate::ui::Output;

/// Every key, and whether the project's file may hold it.
const KEYS: &[(&str, bool)] = &[
    ("database_url", false),
    ("root", false),
    ("agent_id", false),
    ("hooks.post-create", true),
    ("hooks.pre-remove", true),
    ("hooks.post-merge", true),
    ("hooks.timeout", true),
    ("copy.include", true),
];

pub fn cmd_config(s: &Settings, cwd: &Path, a: &ConfigArgs) -> Result<Output> {
    match &a.command {
        None => list(s, cwd, false),
        Some(ConfigCommand::List { show_origin }) => list(s, cwd, *show_origin),
        Some(ConfigCommand::Get { key, project_file }) => get(s, cwd, key, *project_file),
        Some(ConfigCommand::Set {
            key,
            values,
            project_file,
        }) => set(s, cwd, key, Some(values), *project_file),
        Some(ConfigCommand::Unset { key, project_file }) => set(s, cwd, key, None, *project_file),
    }
}

fn check_key(key: &str, project: bool) -> Result<()> {
    match KEYS.iter().find(|(k, _)| *k == key) {
        None => Err(
            Error::validation(format!("unknown setting {key:?}")).with_hint(format!(
                "settings: {}",
                KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            )),
        ),
        Some((_, false)) if project => Err(Error::validation(format!(
            "{key} is yours, not the project's: it cannot go into {}",
            setup::PROJECT_FILE
        ))
        .with_hint("drop --project-file to set it in your config file")),
        Some(_) => Ok(()),
    }
}

/// The repository's `.imi.toml`: at the top of the git worktree `cwd` is in.
fn project_file(cwd: &Path) -> Result<PathBuf> {
    let top = imi_git::Repo::at(cwd).toplevel().map_err(|_| {
        Error::validation(format!("{} is not inside a git repository", cwd.display()))
            .with_hint("run this inside the project (its trunk or a worktree)")
    })?;
    Ok(top.join(setup::PROJECT_FILE))
}

fn target(s: &Settings, cwd: &Path, project: bool) -> Result<PathBuf> {
    if project {
        project_file(cwd)
    } else {
        Ok(s.config_file.clone())
    }
}

fn read_doc(path: &Path) -> Result<DocumentMut> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(
                Error::validation(format!("cannot read {}: {e}", path.display()))
                    .with_hint("fix the file's permissions"),
            );
        }
    };
    text.parse::<DocumentMut>().map_err(|e| {
        Error::validation(format!(
            "{} is not valid TOML: {}",
            path.display(),
            e.to_string().trim()
        ))
        .with_hint("fix the file by hand first")
    })
}

fn lookup<'a>(doc: &'a DocumentMut, key: &str) -> Option<&'a Item> {
    match key.split_once('.') {
        None => doc.get(key),
        Some((table, k)) => doc.get(table).and_then(|t| t.get(k)),
    }
}

fn to_json(item: &Item) -> Value {
    match item {
        Item::Value(v) => match v {
            toml_edit::Value::String(s) => json!(s.value()),
            toml_edit::Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map_or_else(|| json!(x.to_string().trim()), |s| json!(s))
                    })
                    .collect(),
            ),
            other => json!(other.to_string().trim()),
        },
        other => json!(other.to_string().trim()),
    }
}

fn get(s: &Settings, cwd: &Path, key: &str, project: bool) -> Result<Output> {
    check_key(key, project)?;
    // the values in effect for the settings that have them
    let effective = match (key, project) {
        ("database_url", false) => {
            Some((json!(s.database.display()), s.database_source.to_string()))
        }
        ("root", false) => Some((json!(s.root), s.root_source.to_string())),
        ("agent_id", false) => Some((json!(s.agent_id), s.agent_source.to_string())),
        _ => None,
    };
    let (value, origin) = match effective {
        Some(v) => v,
        None => {
            let path = target(s, cwd, project)?;
            let doc = read_doc(&path)?;
            match lookup(&doc, key) {
                Some(item) => (to_json(item), path.display().to_string()),
                None => (Value::Null, "not set".to_string()),
            }
        }
    };
    let human = match &value {
        Value::Null => String::new(),
        Value::String(v) => v.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    };
    Ok(Output::new(
        json!({"key": key, "value": value, "origin": origin}),
        human,
    ))
}

/// Sets (`values`) or unsets (`None`) `key` in the user's file or the project's.
fn set(
    s: &Settings,
    cwd: &Path,
    key: &str,
    values: Option<&Vec<String>>,
    project: bool,
) -> Result<Output> {
    check_key(key, project)?;
    let path = target(s, cwd, project)?;
    let mut doc = read_doc(&path)?;
    let (table, k) = match key.split_once('.') {
        Some((t, k)) => (Some(t), k),
        None => (None, key),
    };
    let new: Option<Item> = match values {
        None => None,
        Some(v) => Some(item_for(key, v)?),
    };
    let changed = match (table, new) {
        (None, Some(item)) => {
            doc[k] = item;
            true
        }
        (None, None) => doc.remove(k).is_some(),
        (Some(t), Some(item)) => {
            if doc.get(t).is_none() {
                doc[t] = toml_edit::table();
            }
            doc[t][k] = item;
            true
        }
        (Some(t), None) => {
            let removed = doc
                .get_mut(t)
                .and_then(Item::as_table_like_mut)
                .and_then(|tbl| tbl.remove(k))
                .is_some();
            if doc
                .get(t)
                .and_then(Item::as_table_like)
                .is_some_and(|tbl| tbl.is_empty())
            {
                doc.remove(t);
            }
            removed
        }
    };
    let text = doc.to_string();
    // the file as imi will read it: refuse to write one it would then reject
    if project {
        toml::from_str::<SetupTables>(&text).map_err(|e| {
            Error::validation(format!(
                "that would make {} invalid: {}",
                path.display(),
                e.message()
            ))
        })?;
    } else {
        crate::config::check_file_text(&text, &path)?;
    }
    if changed {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::internal(format!("cannot create {}: {e}", dir.display()))
                    .with_hint("check that the directory is writable")
            })?;
        }
        // the user's file may name a database: readable by its owner only
        crate::atomic::write(&path, text.as_bytes(), if project { 0o644 } else { 0o600 })?;
    }
    let what = match values {
        Some(_) => format!("Set {key} in {}", path.display()),
        None if changed => format!("Removed {key} from {}", path.display()),
        None => format!("{key} was not set in {}", path.display()),
    };
    Ok(Output::new(
        json!({"key": key, "file": path, "changed": changed}),
        what,
    ))
}

/// The TOML value of `key` from the command line's values, checked.
fn item_for(key: &str, values: &[String]) -> Result<Item> {
    let one = || -> Result<&str> {
        match values {
            [v] => Ok(v.as_str()),
            _ => Err(
                Error::validation(format!("{key} takes one value, not {}", values.len()))
                    .with_hint("quote a value that contains spaces"),
            ),
        }
    };
    match key {
        "database_url" => {
            let v = one()?;
            crate::dburl::DatabaseTarget::parse(v)?;
            if url::Url::parse(v).is_ok_and(|u| u.password().is_some()) {
                return Err(Error::validation(format!(
                    "refusing to write a password into a file ({})",
                    imi_core::redact(v)
                ))
                .with_hint("leave the password out of the URL; use PGPASSWORD or ~/.pgpass"));
            }
            Ok(value(v))
        }
        "root" | "agent_id" => {
            let v = one()?;
            imi_core::naming::require_non_empty(key, v)?;
            Ok(value(v))
        }
        "hooks.timeout" => {
            let v = one()?;
            imi_core::claims::parse_duration(v)?;
            Ok(value(v))
        }
        "copy.include" => {
            let mut a = Array::new();
            for v in values {
                a.push(v.as_str());
            }
            Ok(value(a))
        }
        _ => match values {
            // a hook: one command, or a list
            [v] => Ok(value(v.as_str())),
            many => {
                let mut a = Array::new();
                for v in many {
                    a.push(v.as_str());
                }
                Ok(value(a))
            }
        },
    }
}

fn list(s: &Settings, cwd: &Path, show_origin: bool) -> Result<Output> {
    let project_path = project_file(cwd).ok();
    let project_doc = match &project_path {
        Some(p) => Some(read_doc(p)?),
        None => None,
    };
    let user_doc = read_doc(&s.config_file)?;
    let mut rows: Vec<(String, Value, String)> = vec![
        (
            "database_url".into(),
            json!(s.database.display()),
            s.database_source.to_string(),
        ),
        ("root".into(), json!(s.root), s.root_source.to_string()),
        (
            "agent_id".into(),
            json!(s.agent_id),
            s.agent_source.to_string(),
        ),
        (
            "host".into(),
            json!(s.host),
            "IMI_HOST or the system".into(),
        ),
    ];
    for (key, in_project) in KEYS.iter().filter(|(k, _)| k.contains('.')) {
        if let Some(item) = lookup(&user_doc, key) {
            rows.push((
                key.to_string(),
                to_json(item),
                s.config_file.display().to_string(),
            ));
        }
        if let (true, Some(doc), Some(p)) = (in_project, &project_doc, &project_path)
            && let Some(item) = lookup(doc, key)
        {
            rows.push((key.to_string(), to_json(item), p.display().to_string()));
        }
    }
    let data = json!({
        "config_file": s.config_file,
        "project_file": project_path,
        "settings": rows.iter().map(|(k, v, o)| json!({"key": k, "value": v, "origin": o})).collect::<Vec<_>>(),
        // the shape `imi config` printed before (kept for scripts)
        "database": {"url": s.database.display(), "backend": s.database.backend(), "source": s.database_source},
        "root": {"value": s.root, "source": s.root_source},
        "agent_id": {"value": s.agent_id, "source": s.agent_source},
        "host": s.host,
    });
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mut human = format!("{:width$}  {}\n", "config file", s.config_file.display());
    for (k, v, o) in &rows {
        let v = match v {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        if show_origin {
            human.push_str(&format!("{k:width$}  {v}  ({o})\n"));
        } else {
            human.push_str(&format!("{k:width$}  {v}\n"));
        }
    }
    Ok(Output::new(data, human))
}
