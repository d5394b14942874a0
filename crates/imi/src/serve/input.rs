//! What the API takes, said once for the OpenAPI document and the handlers.
//!
//! Two kinds of input, two answers:
//! - A value that makes or sets something (a new worktree's name, a type, an
//!   activity, a metadata key and value) has a documented shape ([`shape`]) that is
//!   exactly the rule the operation checks; anything else is 400 VALIDATION_ERROR.
//! - A name that addresses something (a project, worktree, type or metadata key in a
//!   URL, a project filter) is looked up: one in a form nothing can have names
//!   nothing, so it is 404 NOT_FOUND like an unknown one ([`project_ref`] and the
//!   others), never 400, and never reaches a registry that may refuse the bytes
//!   (PostgreSQL's text cannot hold NUL).

use axum::http::StatusCode;
use imi_core::Error;

use super::ApiError;

fn not_found(message: String, hint: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        Error::not_found(message).with_hint(hint),
    )
}

/// A project by id, remote or name (as `-p` takes it).
pub fn project_ref(spec: &str) -> Result<(), ApiError> {
    let possible = uuid::Uuid::parse_str(spec.trim()).is_ok()
        || if spec.contains(':') || spec.contains('/') {
            imi_core::remote::origin_key(spec).is_ok()
        } else {
            imi_core::naming::validate_project_name(spec).is_ok()
        };
    if possible {
        return Ok(());
    }
    Err(not_found(
        format!("no project {spec:?}"),
        "list the projects: GET /api/v1/projects",
    ))
}

/// A worktree by directory name (or bare name).
pub fn worktree_ref(name: &str) -> Result<(), ApiError> {
    if imi_core::naming::validate_worktree_name(name).is_ok() {
        return Ok(());
    }
    Err(not_found(
        format!("no worktree {name:?}"),
        "list a project's worktrees: GET /api/v1/projects/{project}/worktrees",
    ))
}

/// A dotted metadata key to read or remove.
pub fn key_ref(key: &str) -> Result<(), ApiError> {
    if imi_core::metadata::parse_key(key).is_ok() && !key.contains('\0') {
        return Ok(());
    }
    Err(not_found(
        format!("no metadata key {key:?}"),
        "read every key: GET /api/v1/projects/{project}/worktrees/{worktree}/metadata",
    ))
}

/// A worktree type by name.
pub fn type_ref(name: &str) -> Result<(), ApiError> {
    if imi_core::naming::validate_type_name(name).is_ok() {
        return Ok(());
    }
    Err(unknown_type(name))
}

pub fn unknown_type(name: &str) -> ApiError {
    not_found(
        format!("no worktree type {name:?}"),
        "list the types: GET /api/v1/types (add one: POST /api/v1/types)",
    )
}

/// The JSON Schemas of input values: each is the rule the operation applies, in
/// regular expressions that mean the same in ECMA-262 (JSON Schema's dialect) and in
/// the usual engines. Lengths are the rules' limits; the rules count bytes of UTF-8,
/// so text of many non-ASCII characters may be refused below `maxLength`.
pub mod shape {
    use std::borrow::Cow;

    use imi_core::naming::{MAX_NAME_BYTES, MAX_TEXT_BYTES};
    use utoipa::openapi::schema::{
        AnyOfBuilder, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type,
    };
    use utoipa::openapi::{Ref, RefOr};

    /// Control characters (Rust's `char::is_control`: C0, DEL, C1).
    const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
    /// The rest of Rust's `char::is_whitespace` (tab to CR and U+0085 are control).
    const SPACE: &str = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
    /// Bidirectional formatting characters (`naming::is_bidi_control`).
    const BIDI: &str = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069";

    fn string(nullable: bool) -> ObjectBuilder {
        let t = if nullable {
            SchemaType::from_iter([Type::String, Type::Null])
        } else {
            SchemaType::from(Type::String)
        };
        ObjectBuilder::new().schema_type(t)
    }

    fn integer(nullable: bool) -> ObjectBuilder {
        let t = if nullable {
            SchemaType::from_iter([Type::Integer, Type::Null])
        } else {
            SchemaType::from(Type::Integer)
        };
        ObjectBuilder::new().schema_type(t).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
        ))
    }

    /// `naming::validate_worktree_name`.
    pub fn worktree_name_pattern() -> String {
        format!(
            r"^(?![-.])(?!.*\.\.)(?!.*@\{{)(?!@$)(?!.*\.$)(?!.*\.lock$)[^{CONTROL}{SPACE}{BIDI}/\\~^:?*\[]{{1,{MAX_NAME_BYTES}}}$"
        )
    }

    fn worktree_name_builder(nullable: bool) -> ObjectBuilder {
        string(nullable)
            .pattern(Some(worktree_name_pattern()))
            .min_length(Some(1))
            .max_length(Some(MAX_NAME_BYTES))
    }

    /// A new worktree's name (after its type's prefix).
    pub fn worktree_name() -> Object {
        worktree_name_builder(false)
            .description(Some(
                "The name after the type's prefix: `login` makes `feat-login` on `feat/login`. \
                 No whitespace, control characters, `/`, `\\`, `~^:?*[`, `..` or `@{`; \
                 not starting with `-` or `.`, not ending with `.` or `.lock`; \
                 at most 200 bytes.",
            ))
            .build()
    }

    /// A worktree's directory name whose path is computed (a query parameter).
    pub fn worktree_name_query() -> Object {
        worktree_name_builder(false)
            .description(Some(
                "A worktree's directory name (the rules of a new worktree's name); none: the trunk.",
            ))
            .build()
    }

    /// `naming::validate_type_name`.
    pub fn type_name() -> Object {
        string(false)
            .pattern(Some("^[a-z][a-z0-9-]{0,31}$"))
            .min_length(Some(1))
            .max_length(Some(32))
            .description(Some(
                "A lowercase letter, then letters, digits or `-`; at most 32.",
            ))
            .build()
    }

    /// `naming::validate_prefix(.., allow_slash = true)`.
    pub fn branch_prefix_opt() -> Object {
        string(true)
            .pattern(Some(format!(
                r"^(?![-./])(?!.*\.\.)(?!.*@\{{)[^{CONTROL}{SPACE}{BIDI}~^:?*\[\\]{{0,64}}$"
            )))
            .max_length(Some(64))
            .description(Some(
                "Default: `<name>/`. No whitespace, control characters, `\\`, `~^:?*[`, `..` \
                 or `@{`; not starting with `-`, `.` or `/`; at most 64 characters.",
            ))
            .build()
    }

    /// `naming::validate_custom_worktree_prefix`.
    pub fn worktree_prefix_opt() -> Object {
        string(true)
            .pattern(Some(format!(
                r"^(?![-./])(?!.*\.\.)(?!.*@\{{)(?![tT][rR][uU][nN][kK]-)(?!(?:[tT]|[tT][rR]|[tT][rR][uU]|[tT][rR][uU][nN])$)[^{CONTROL}{SPACE}{BIDI}~^:?*\[\\/]{{1,64}}$"
            )))
            .min_length(Some(1))
            .max_length(Some(64))
            .description(Some(
                "Default: `<name>-`. The rules of a branch prefix without `/`, not empty, \
                 and not making directories named like a trunk (`trunk-...`); at most 64 \
                 characters.",
            ))
            .build()
    }

    fn text_builder(nullable: bool, max: usize) -> ObjectBuilder {
        string(nullable)
            .pattern(Some(r"^[^\x00]*$"))
            .max_length(Some(max))
    }

    /// Free text: `naming::check_len` (no NUL, at most 8 KiB).
    pub fn text() -> Object {
        text_builder(false, MAX_TEXT_BYTES)
            .description(Some("Free text without NUL characters, at most 8 KiB."))
            .build()
    }

    pub fn text_opt() -> Object {
        text_builder(true, MAX_TEXT_BYTES)
            .description(Some("Free text without NUL characters, at most 8 KiB."))
            .build()
    }

    /// A claim's purpose.
    pub fn purpose_opt() -> Object {
        text_builder(true, imi_core::claims::MAX_PURPOSE_BYTES)
            .description(Some(
                "What the agent is doing there (shown to other agents): text without NUL \
                 characters, at most 1 KiB.",
            ))
            .build()
    }

    /// A file path an activity concerns.
    pub fn file_opt() -> Object {
        text_builder(true, imi_core::model::MAX_PATH_BYTES)
            .description(Some(
                "The file it concerns: without NUL characters, at most 4096 bytes.",
            ))
            .build()
    }

    /// `model::check_path` of an absolute path.
    pub fn absolute_path() -> Object {
        string(false)
            .pattern(Some(format!(r"^/[^{CONTROL}]*$")))
            .min_length(Some(1))
            .max_length(Some(imi_core::model::MAX_PATH_BYTES))
            .description(Some(
                "An absolute path, on the server's host, inside a git repository: its \
                 project is registered with its trunk (as `imi init` there). No control \
                 characters; at most 4096 bytes.",
            ))
            .build()
    }

    /// `naming::validate_activity_type`.
    pub fn activity_type() -> Object {
        string(false)
            .enum_values(Some(imi_core::model::ACTIVITY_TYPES.iter().copied()))
            .description(Some("What kind of activity it was."))
            .build()
    }

    /// `claims::check_ttl`: 1 s to ten years.
    pub fn ttl_opt() -> Object {
        integer(true)
            .minimum(Some(1))
            .maximum(Some(imi_core::claims::MAX_TTL_SECONDS))
            .description(Some(
                "Lease length in seconds (1 to 316224000, ten years); none: see the operation.",
            ))
            .build()
    }

    /// A dotted metadata key to set: `metadata::set`'s rules.
    pub fn metadata_key() -> Object {
        // a part: not blank, no `.`, no NUL
        let part = format!(r"[^.\x00]*[^.\x00\t-\r\x85{SPACE}][^.\x00]*");
        string(false)
            .pattern(Some(format!(r"^{part}(?:\.{part}){{0,31}}$")))
            .min_length(Some(1))
            .description(Some(
                "A dotted key (`plane.ticket_id`): at most 32 parts, each not blank, of at \
                 most 256 bytes, without NUL characters.",
            ))
            .build()
    }

    /// The event types filter: a comma-separated list of types and prefixes.
    pub fn event_types() -> Object {
        let mut subjects: Vec<(&str, Vec<&str>)> = Vec::new();
        for t in imi_core::events::TYPES {
            let Some(rest) = t.strip_prefix("imi.") else {
                continue;
            };
            let Some((subject, verb)) = rest.split_once('.') else {
                continue;
            };
            match subjects.iter_mut().find(|(s, _)| *s == subject) {
                Some((_, verbs)) => verbs.push(verb),
                None => subjects.push((subject, vec![verb])),
            }
        }
        let item = format!(
            r"imi\.(?:{})?",
            subjects
                .iter()
                .map(|(s, verbs)| format!(r"{s}\.(?:{})?", verbs.join("|")))
                .collect::<Vec<_>>()
                .join("|")
        );
        let space = format!(r"[\t-\r\x85{SPACE}]");
        let segment = format!(r"{space}*(?:{item}{space}*)?");
        string(false)
            .pattern(Some(format!(r"^{segment}(?:,{segment})*$")))
            .description(Some(
                "Types to keep, comma-separated: exact (`imi.claim.stolen`) or a prefix \
                 ending in `.` (`imi.claim.`).",
            ))
            .build()
    }

    /// Any JSON value whose strings and keys hold no NUL character (PostgreSQL's
    /// jsonb cannot store one): [`JsonValue`].
    pub struct JsonValue;

    impl utoipa::PartialSchema for JsonValue {
        fn schema() -> RefOr<Schema> {
            let me = || RefOr::Ref(Ref::from_schema_name("JsonValue"));
            let no_nul = r"^[^\x00]*$";
            let any = AnyOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .item(ObjectBuilder::new().schema_type(Type::Boolean))
                .item(ObjectBuilder::new().schema_type(Type::Number))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(no_nul)),
                )
                .item(ArrayBuilder::new().items(me()))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property_names(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .pattern(Some(no_nul)),
                        ))
                        .additional_properties(Some(me())),
                )
                .description(Some(
                    "Any JSON value; its strings and keys hold no NUL character.",
                ))
                .build();
            RefOr::T(Schema::AnyOf(any))
        }
    }

    impl utoipa::ToSchema for JsonValue {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("JsonValue")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_names_are_not_found() {
        for bad in ["a\0b", "", "..", "a/b\u{1}", "x\u{9c}"] {
            assert_eq!(
                project_ref(bad).unwrap_err().status,
                StatusCode::NOT_FOUND,
                "{bad:?}"
            );
        }
        for good in [
            "app",
            "https://github.com/o/app.git",
            "git@github.com:o/app",
            "0f6d4a8e-4e8b-4b7a-9b3b-3c1c2a1f0e55",
        ] {
            assert!(project_ref(good).is_ok(), "{good}");
        }
        assert!(worktree_ref("feat-x").is_ok());
        for bad in ["", "a b", "x\u{9c}", "-x", "x.lock"] {
            assert!(worktree_ref(bad).is_err(), "{bad:?}");
        }
        assert!(key_ref("plane.ticket").is_ok());
        for bad in ["", "a..b", " ", "a\0"] {
            assert!(key_ref(bad).is_err(), "{bad:?}");
        }
        assert!(type_ref("feat").is_ok());
        assert!(type_ref("Feat").is_err());
    }
}
