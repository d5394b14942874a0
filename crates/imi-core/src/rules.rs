//! The rules that decide what a store does with a request it could refuse: which
//! refusal applies (worded in [`crate::messages`]) or which write to make. A backend
//! gathers the facts with its SQL and asks here, so both backends decide alike.

use crate::error::{Error, Result};
use crate::messages;
use crate::model::NewWorktree;

/// What a store found about the place a worktree registration asks for: before
/// writing (SQLite), or after its SQL refused the registration (PostgreSQL, to say
/// why). [`NewWorktree::admit`] decides on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreePlace {
    /// A type of that name exists.
    pub type_known: bool,
    /// The project's `active`; `None` when there is no such project.
    pub project_active: Option<bool>,
    /// This host's row of that name in the project (the active one, else the most
    /// recently updated one): its `active` and `path`.
    pub same_name: Option<(bool, String)>,
    /// Another active worktree registered at the path on this host: its name and its
    /// project's name.
    pub place_owner: Option<(String, String)>,
}

/// What registering a worktree does, once [`NewWorktree::admit`] let it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The same worktree is registered already: returned as it is (idempotent).
    Existing,
    /// A removed row of that name is reactivated with the new values.
    Reactivate,
    Insert,
}

impl NewWorktree {
    /// The registration rules, in order: a known type, an active project, the name
    /// free (or this very worktree) on `host`, the path free on `host`.
    pub fn admit(&self, host: &str, place: &WorktreePlace) -> Result<Admission> {
        if !place.type_known {
            return Err(messages::unknown_worktree_type(&self.type_name));
        }
        match place.project_active {
            None => return Err(messages::project_not_found(self.project_id)),
            Some(false) => return Err(messages::project_inactive(self.project_id)),
            Some(true) => {}
        }
        match &place.same_name {
            Some((true, path))
                if strip_trailing_slashes(path) == strip_trailing_slashes(&self.path) =>
            {
                return Ok(Admission::Existing);
            }
            Some((true, path)) => {
                return Err(messages::worktree_name_taken(&self.name, host, path));
            }
            _ => {}
        }
        if let Some((w, p)) = &place.place_owner {
            return Err(messages::worktree_place_taken(
                &self.path,
                host,
                Some((w.as_str(), p.as_str())),
            ));
        }
        Ok(match place.same_name {
            Some(_) => Admission::Reactivate,
            None => Admission::Insert,
        })
    }
}

/// `path` without trailing `/` (`/` itself stays): the form two registered paths
/// are compared in.
pub fn strip_trailing_slashes(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    if t.is_empty() && path.starts_with('/') {
        "/"
    } else {
        t
    }
}

/// The deterministic path of worktree `name` (SPEC §2): `parent(trunk)/name`, on
/// the text of the trunk path, exactly as the SQL function `get_project_working_path`
/// computes it, so that every interface gives the same bytes: trailing `/` of the
/// trunk path dropped, then everything up to its last `/` kept (nothing when it has
/// none: a relative one-component trunk such as `trunk` gives `/name`).
pub fn sibling_path(trunk: &str, name: &str) -> String {
    let base = trunk.trim_end_matches('/');
    let parent = base.rfind('/').map_or("", |i| &base[..i]);
    format!("{parent}/{name}")
}

/// What a store found about a type it was asked to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeUse {
    pub is_builtin: bool,
    /// Worktrees of this type, active and inactive (inactive rows still refer to it).
    pub active: i64,
    pub inactive: i64,
}

/// The rule of `remove_type`: only an existing, added (not built-in) type that no
/// worktree row refers to may go. `found`: `None` when no type has that name.
pub fn check_type_removal(name: &str, found: Option<TypeUse>) -> Result<()> {
    let Some(u) = found else {
        return Err(messages::worktree_type_not_found(name));
    };
    if u.is_builtin {
        return Err(Error::conflict(format!(
            "worktree type {name:?} is built in and cannot be removed"
        ))
        .with_hint("only types added with `imi types add` can be removed"));
    }
    if u.active + u.inactive > 0 {
        return Err(Error::conflict(format!(
            "worktree type {name:?} is used by {} active and {} inactive worktrees",
            u.active, u.inactive
        ))
        .with_hint(
            "remove those worktrees first (inactive ones are pruned by `imi db maintain`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_path_follows_get_project_working_path() {
        for (trunk, want) in [
            ("/code/p/trunk-main", "/code/p/n"),
            ("/code/p/trunk-main/", "/code/p/n"),
            ("/code/p/trunk-main///", "/code/p/n"),
            ("/trunk", "/n"),
            ("/", "/n"),
            ("trunk", "/n"),
            ("a/b", "a/n"),
            ("a/b/", "a/n"),
            ("/a//b", "/a//n"),
            ("//x//", "//n"),
        ] {
            assert_eq!(sibling_path(trunk, "n"), want, "trunk {trunk:?}");
        }
    }

    #[test]
    fn trailing_slashes() {
        assert_eq!(strip_trailing_slashes("/a/b//"), "/a/b");
        assert_eq!(strip_trailing_slashes("/"), "/");
        assert_eq!(strip_trailing_slashes("///"), "/");
        assert_eq!(strip_trailing_slashes("a"), "a");
    }

    #[test]
    fn registration_rules_in_order() {
        let w = NewWorktree {
            type_name: "feat".into(),
            name: "feat-x".into(),
            path: "/c/app/feat-x".into(),
            ..Default::default()
        };
        let open = WorktreePlace {
            type_known: true,
            project_active: Some(true),
            same_name: None,
            place_owner: None,
        };
        let admit = |place: WorktreePlace| w.admit("h", &place);
        assert_eq!(admit(open.clone()).unwrap(), Admission::Insert);
        let mine = |active: bool, path: &str| Some((active, path.to_string()));
        let same = WorktreePlace {
            same_name: mine(true, "/c/app/feat-x/"),
            ..open.clone()
        };
        assert_eq!(admit(same).unwrap(), Admission::Existing);
        let removed = WorktreePlace {
            same_name: mine(false, "/old"),
            ..open.clone()
        };
        assert_eq!(admit(removed).unwrap(), Admission::Reactivate);
        let owner = Some(("fix-y".to_string(), "app".to_string()));
        for (place, code, says) in [
            (
                WorktreePlace {
                    type_known: false,
                    project_active: None,
                    ..open.clone()
                },
                "VALIDATION_ERROR",
                "unknown worktree type",
            ),
            (
                WorktreePlace {
                    project_active: None,
                    ..open.clone()
                },
                "NOT_FOUND",
                "no project",
            ),
            (
                WorktreePlace {
                    project_active: Some(false),
                    same_name: mine(true, "/elsewhere"),
                    ..open.clone()
                },
                "NOT_FOUND",
                "inactive",
            ),
            (
                WorktreePlace {
                    same_name: mine(true, "/elsewhere"),
                    place_owner: owner.clone(),
                    ..open.clone()
                },
                "CONFLICT",
                "at /elsewhere",
            ),
            (
                WorktreePlace {
                    same_name: mine(false, "/old"),
                    place_owner: owner.clone(),
                    ..open.clone()
                },
                "CONFLICT",
                "worktree \"fix-y\" of project \"app\"",
            ),
        ] {
            let e = admit(place).unwrap_err();
            assert_eq!(e.code(), code, "{e:?}");
            assert!(e.message.contains(says) && e.hint.is_some(), "{e:?}");
        }
    }

    #[test]
    fn type_removal_rule() {
        let free = TypeUse {
            is_builtin: false,
            active: 0,
            inactive: 0,
        };
        check_type_removal("spike", Some(free)).unwrap();
        for (found, code) in [
            (None, "NOT_FOUND"),
            (
                Some(TypeUse {
                    is_builtin: true,
                    ..free
                }),
                "CONFLICT",
            ),
            (
                Some(TypeUse {
                    inactive: 1,
                    ..free
                }),
                "CONFLICT",
            ),
        ] {
            let e = check_type_removal("spike", found).unwrap_err();
            assert_eq!(e.code(), code);
            assert!(e.message.contains("\"spike\"") && e.hint.is_some(), "{e:?}");
        }
    }
}
