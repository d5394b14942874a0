//! Dotted-key access to metadata objects (`plane.ticket_id`). Both backends do a
//! locked read-modify-write with these functions, so deep updates behave the same
//! everywhere: intermediate objects are created, siblings are kept.
//!
//! Bounded input (SPEC §9 rule 5): a metadata document written by imi is at most
//! [`MAX_DEPTH`] levels deep, holds at most [`MAX_KEYS`] keys of at most
//! [`MAX_KEY_BYTES`] bytes, and is at most [`MAX_BYTES`] bytes as compact JSON
//! ([`check_limits`]). PostgreSQL enforces the same bounds in a trigger for SQL
//! callers (its size bound is measured on jsonb's own text form, which is looser).
//!
//! Reading never fails on what is stored: [`decode_stored`] parses each top-level
//! value on its own, and one nested deeper than [`READ_DEPTH`] (stored before these
//! limits, or by SQL around them) is shown as an `imi_unreadable` marker object under
//! its key instead of failing the whole read. [`unset_text`] removes a key from the
//! stored text without parsing the values it does not descend into, so `imi metadata
//! unset` repairs such a document.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::Metadata;

/// Deepest nesting of objects and arrays (the document itself is level 1).
pub const MAX_DEPTH: usize = 32;
/// Most keys in one document, counting the keys of nested objects.
pub const MAX_KEYS: usize = 1000;
/// Longest key (one segment of a dotted key), in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest document, in bytes of compact JSON (this bounds every value too).
pub const MAX_BYTES: usize = 64 * 1024;
/// Deepest top-level value [`decode_stored`] parses (serde_json stops at 128).
pub const READ_DEPTH: usize = 100;
/// Key of the marker object that stands for a stored value too deep to read.
pub const UNREADABLE: &str = "imi_unreadable";

fn shorten(s: &str) -> String {
    if s.len() <= 60 {
        return s.to_string();
    }
    let mut end = 60;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// PostgreSQL's jsonb cannot hold a NUL character (`\u0000`), so neither backend
/// stores one, in a key or in a string.
fn nul(what: &str, text: &str) -> Error {
    Error::validation(format!(
        "{what} contains a NUL character (in {:?})",
        shorten(text)
    ))
    .with_hint("store the text without NUL (\\u0000) characters")
}

/// Checks a whole document against the limits; `what` names its owner in the error
/// (e.g. "worktree metadata"). Iterative: a hostile document cannot exhaust the stack.
pub fn check_limits(what: &str, doc: &Metadata) -> Result<()> {
    fn visit_object(what: &str, m: &Metadata, keys: &mut usize) -> Result<()> {
        *keys += m.len();
        if let Some(k) = m.keys().find(|k| k.contains('\0')) {
            return Err(nul(what, k));
        }
        if let Some(k) = m.keys().find(|k| k.len() > MAX_KEY_BYTES) {
            return Err(Error::validation(format!(
                "{what} has a key of {} bytes (at most {MAX_KEY_BYTES}): {:?}",
                k.len(),
                shorten(k)
            ))
            .with_hint("use shorter keys"));
        }
        if *keys > MAX_KEYS {
            return Err(
                Error::validation(format!("{what} has more than {MAX_KEYS} keys"))
                    .with_hint("store fewer keys, or keep large data outside the registry"),
            );
        }
        Ok(())
    }
    let mut keys = 0usize;
    let mut stack: Vec<(&Value, usize)> = vec![];
    visit_object(what, doc, &mut keys)?;
    stack.extend(doc.values().map(|v| (v, 2)));
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(m) => {
                visit_object(what, m, &mut keys)?;
                Box::new(m.values())
            }
            Value::Array(a) => Box::new(a.iter()),
            Value::String(s) if s.contains('\0') => return Err(nul(what, s)),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return Err(Error::validation(format!(
                "{what} would be nested more than {MAX_DEPTH} levels deep"
            ))
            .with_hint(format!(
                "use a flatter structure: at most {MAX_DEPTH} levels (a dotted key has at most {MAX_DEPTH} parts)"
            )));
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    // depth is bounded now, so serialising cannot recurse far
    let bytes = serde_json::to_string(doc).map(|s| s.len()).unwrap_or(0);
    if bytes > MAX_BYTES {
        return Err(Error::validation(format!(
            "{what} would be {bytes} bytes (at most {MAX_BYTES})"
        ))
        .with_hint("keep large data outside the registry and store a reference to it"));
    }
    Ok(())
}

/// Nesting depth of JSON text (objects and arrays; a scalar is 0), found by a scan
/// that does not recurse. Invalid text gives a meaningless but finite answer.
pub fn text_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// A stored document as read back: the readable values, and the top-level keys whose
/// values were too deep to read (each shown as an [`UNREADABLE`] marker object).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub doc: Metadata,
    pub unreadable: Vec<String>,
}

impl Decoded {
    /// The document for a read-modify-write: refused when part of it could not be
    /// read (writing it back would replace that part with its marker).
    pub fn writable(self, what: &str) -> Result<Metadata> {
        if self.unreadable.is_empty() {
            return Ok(self.doc);
        }
        let keys = self
            .unreadable
            .iter()
            .map(|k| shorten(k))
            .collect::<Vec<_>>();
        Err(Error::validation(format!(
            "{what} holds values nested too deep to read safely (under {})",
            keys.join(", ")
        ))
        .with_hint(format!(
            "remove them first with `imi metadata unset <name> {}`",
            keys[0]
        )))
    }
}

/// The text a document is stored as (compact JSON).
pub fn to_text(doc: &Metadata) -> String {
    // Serialising a map of `Value`s cannot fail: string keys, no custom Serialize.
    serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_string())
}

/// Parses stored metadata text without ever failing on depth (see the module
/// documentation). Fails only on text that is not a JSON object at all.
pub fn decode_stored(text: &str) -> Result<Decoded> {
    if text_depth(text) <= READ_DEPTH
        && let Ok(doc) = serde_json::from_str::<Metadata>(text)
    {
        return Ok(Decoded {
            doc,
            unreadable: vec![],
        });
    }
    // serde_json skips raw values without recursing, so this parses any depth
    let top: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text)
        .map_err(|e| Error::internal(format!("registry holds invalid metadata: {e}")))?;
    let mut doc = Metadata::new();
    let mut unreadable = vec![];
    for (k, raw) in top {
        let depth = text_depth(raw.get());
        let value = if depth < READ_DEPTH {
            serde_json::from_str::<Value>(raw.get()).ok()
        } else {
            None
        };
        let value = value.unwrap_or_else(|| {
            unreadable.push(k.clone());
            let mut m = Map::new();
            m.insert(
                UNREADABLE.into(),
                Value::String(format!(
                    "this value is nested {depth} levels deep ({} bytes); imi reads at most {READ_DEPTH}",
                    raw.get().len()
                )),
            );
            m.insert(
                "hint".into(),
                Value::String(format!("remove it with `imi metadata unset <name> {k}`")),
            );
            Value::Object(m)
        });
        doc.insert(k, value);
    }
    Ok(Decoded { doc, unreadable })
}

/// Removes `key` from stored metadata text, descending only through the objects on
/// the key's path and copying every other value as raw text: works on documents too
/// deep to parse. `None` when the key is not there (or a non-object is in the way),
/// else the new text.
pub fn unset_text(text: &str, key: &str) -> Result<Option<String>> {
    type RawMap = BTreeMap<String, Box<RawValue>>;
    let parts = parse_key(key)?;
    let mut maps: Vec<RawMap> = Vec::with_capacity(parts.len());
    let mut cur = text.to_string();
    for (i, p) in parts.iter().enumerate() {
        let Ok(map) = serde_json::from_str::<RawMap>(&cur) else {
            return Ok(None);
        };
        let last = i + 1 == parts.len();
        match map.get(*p) {
            None => return Ok(None),
            Some(child) if !last => cur = child.get().to_string(),
            Some(_) => {}
        }
        maps.push(map);
    }
    let encode = |m: &RawMap| {
        serde_json::to_string(m)
            .map_err(|e| Error::internal(format!("cannot encode metadata: {e}")))
    };
    let mut child: Option<String> = None;
    for (map, p) in maps.iter_mut().zip(parts.iter()).rev() {
        match child.take() {
            None => {
                map.remove(*p);
            }
            Some(text) => {
                let raw = RawValue::from_string(text)
                    .map_err(|e| Error::internal(format!("cannot encode metadata: {e}")))?;
                map.insert((*p).to_string(), raw);
            }
        }
        child = Some(encode(map)?);
    }
    Ok(child)
}

/// Splits and checks a dotted key: non-empty segments, no whitespace-only parts.
pub fn parse_key(key: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = key.split('.').collect();
    if key.is_empty() || parts.iter().any(|p| p.trim().is_empty()) {
        return Err(Error::validation(format!("invalid metadata key {key:?}"))
            .with_hint("keys are dot-separated names, e.g. plane.ticket_id"));
    }
    Ok(parts)
}

/// Parses a user-given value: JSON when it parses as JSON, else a string.
pub fn parse_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// Checks that a metadata document is a JSON object.
pub fn require_object(v: Value) -> Result<Metadata> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(Error::validation(format!(
            "metadata must be a JSON object, got {}",
            kind(&other)
        ))
        .with_hint("wrap the value in an object, e.g. {\"key\": ...}")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Sets `key` to `value`, creating objects on the way. A non-object in the way is an
/// error rather than silently replaced (that would lose data).
pub fn set(doc: &mut Metadata, key: &str, value: Value) -> Result<()> {
    let parts = parse_key(key)?;
    if parts.len() > MAX_DEPTH {
        return Err(Error::validation(format!(
            "metadata key {:?} has {} parts (at most {MAX_DEPTH})",
            shorten(key),
            parts.len()
        ))
        .with_hint("use a flatter key, e.g. plane.ticket_id"));
    }
    if let Some(p) = parts.iter().find(|p| p.len() > MAX_KEY_BYTES) {
        return Err(Error::validation(format!(
            "metadata key part {:?} is {} bytes (at most {MAX_KEY_BYTES})",
            shorten(p),
            p.len()
        ))
        .with_hint("use shorter keys"));
    }
    let (last, path) = parts
        .split_last()
        .ok_or_else(|| Error::validation("empty metadata key"))?;
    let mut cur: &mut Map<String, Value> = doc;
    for (i, p) in path.iter().enumerate() {
        let entry = cur
            .entry((*p).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        cur = match entry {
            Value::Object(m) => m,
            other => {
                return Err(Error::conflict(format!(
                    "metadata key {:?} holds {}, not an object",
                    parts[..=i].join("."),
                    kind(other)
                ))
                .with_hint("unset it first, or set a different key"));
            }
        };
    }
    cur.insert((*last).to_string(), value);
    check_limits("metadata", doc)
}

pub fn get<'a>(doc: &'a Metadata, key: &str) -> Result<Option<&'a Value>> {
    let parts = parse_key(key)?;
    let mut cur: Option<&Value> = None;
    let mut map = doc;
    for (i, p) in parts.iter().enumerate() {
        let v = map.get(*p);
        if i + 1 == parts.len() {
            cur = v;
        } else {
            match v {
                Some(Value::Object(m)) => map = m,
                _ => return Ok(None),
            }
        }
    }
    Ok(cur)
}

/// Removes `key`; returns whether something was removed. Emptied parents stay.
pub fn unset(doc: &mut Metadata, key: &str) -> Result<bool> {
    let parts = parse_key(key)?;
    let (last, path) = parts
        .split_last()
        .ok_or_else(|| Error::validation("empty metadata key"))?;
    let mut cur: &mut Map<String, Value> = doc;
    for p in path {
        match cur.get_mut(*p) {
            Some(Value::Object(m)) => cur = m,
            _ => return Ok(false),
        }
    }
    Ok(cur.remove(*last).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Metadata {
        require_object(v).unwrap()
    }

    #[test]
    fn deep_set_keeps_siblings() {
        let mut d = obj(json!({"plane": {"board": "x"}, "keep": 1}));
        set(&mut d, "plane.ticket_id", json!(42)).unwrap();
        assert_eq!(
            Value::Object(d.clone()),
            json!({"plane": {"board": "x", "ticket_id": 42}, "keep": 1})
        );
        set(&mut d, "a.b.c", json!("s")).unwrap();
        assert_eq!(get(&d, "a.b.c").unwrap(), Some(&json!("s")));
        assert!(unset(&mut d, "plane.board").unwrap());
        assert!(!unset(&mut d, "plane.board").unwrap());
        assert_eq!(get(&d, "plane").unwrap(), Some(&json!({"ticket_id": 42})));
    }

    #[test]
    fn refuses_to_clobber_scalars_and_bad_keys() {
        let mut d = obj(json!({"a": 1}));
        assert_eq!(set(&mut d, "a.b", json!(2)).unwrap_err().code(), "CONFLICT");
        for k in ["", ".", "a.", ".a", "a. .b"] {
            assert_eq!(
                set(&mut d, k, json!(1)).unwrap_err().code(),
                "VALIDATION_ERROR"
            );
        }
        assert_eq!(
            require_object(json!([1])).unwrap_err().code(),
            "VALIDATION_ERROR"
        );
    }

    #[test]
    fn no_nul_in_keys_or_strings_on_any_backend() {
        for (key, value) in [
            ("a\0b", json!(1)),
            ("a", json!("x\u{0}")),
            ("a.b", json!({"k": ["ok", "n\u{0}l"]})),
            ("a", json!({"k\u{0}": 1})),
        ] {
            let mut d = Metadata::new();
            let e = set(&mut d, key, value).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{key:?}");
            assert!(e.message.contains("NUL"), "{}", e.message);
        }
    }

    #[test]
    fn limits_refuse_deep_wide_and_big_documents() {
        let mut d = Metadata::new();
        let deep = vec!["a"; 128].join(".");
        let e = set(&mut d, &deep, json!("v")).unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
        assert!(e.message.contains("128 parts"), "{}", e.message);
        set(&mut d, &vec!["a"; MAX_DEPTH].join("."), json!("v")).unwrap();
        // a value that adds depth under an allowed key
        let mut d = Metadata::new();
        let e = set(&mut d, &vec!["b"; 31].join("."), json!([[1]])).unwrap_err();
        assert!(e.message.contains("levels deep"), "{}", e.message);
        let mut d = Metadata::new();
        let e = set(&mut d, &"k".repeat(257), json!(1)).unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
        let big = "x".repeat(MAX_BYTES);
        assert_eq!(
            set(&mut d, "big", json!(big)).unwrap_err().code(),
            "VALIDATION_ERROR"
        );
        let many: Map<String, Value> = (0..=MAX_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        let e = set(&mut d, "many", Value::Object(many)).unwrap_err();
        assert!(e.message.contains("keys"), "{}", e.message);
        let mut ok = Metadata::new();
        set(&mut ok, "plane.ticket_id", json!(42)).unwrap();
        check_limits("m", &ok).unwrap();
    }

    fn nested(depth: usize) -> String {
        format!("{}\"v\"{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    #[test]
    fn over_deep_stored_values_read_as_markers_and_unset_repairs_them() {
        // 130 nested objects under "a", a normal sibling "keep"
        let text = format!("{{\"keep\":{{\"x\":1}},\"a\":{}}}", nested(130));
        assert_eq!(text_depth(&text), 131);
        assert!(serde_json::from_str::<Metadata>(&text).is_err());
        let d = decode_stored(&text).unwrap();
        assert_eq!(d.unreadable, vec!["a".to_string()]);
        assert_eq!(d.doc["keep"], json!({"x": 1}));
        assert!(d.doc["a"][UNREADABLE].is_string());
        assert_eq!(
            d.clone().writable("m").unwrap_err().code(),
            "VALIDATION_ERROR"
        );
        // remove the deepest key: still deep, but one level less
        let key = vec!["a"; 131].join(".");
        let t2 = unset_text(&text, &key).unwrap().unwrap();
        assert_eq!(text_depth(&t2), 131); // the emptied parents stay
        assert_eq!(unset_text(&text, "a.b").unwrap(), None);
        assert_eq!(unset_text(&text, "keep.x.y").unwrap(), None);
        // remove the whole value
        let t3 = unset_text(&t2, "a").unwrap().unwrap();
        let d3 = decode_stored(&t3).unwrap();
        assert!(d3.unreadable.is_empty());
        assert_eq!(Value::Object(d3.doc), json!({"keep": {"x": 1}}));
        // a document that is fine reads as it is
        let d4 = decode_stored("{\"s\":\"{[\\\"\"}").unwrap();
        assert_eq!(d4.doc["s"], json!("{[\""));
        assert!(decode_stored("[1]").is_err());
    }

    #[test]
    fn unset_text_matches_unset() {
        let doc = json!({"a": {"b": 1, "c": [1, {"d": 2}]}, "e": "s"});
        for key in [
            "a.b", "a.c", "a", "e", "a.c.1", "a.c.d", "x", "a.b.c", "e.x",
        ] {
            let mut m = require_object(doc.clone()).unwrap();
            let removed = unset(&mut m, key).unwrap();
            let t = unset_text(&doc.to_string(), key).unwrap();
            assert_eq!(removed, t.is_some(), "{key}");
            if let Some(t) = t {
                let back: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(back, Value::Object(m), "{key}");
            }
        }
    }

    #[test]
    fn values_parse_as_json_when_they_can() {
        assert_eq!(parse_value("42"), json!(42));
        assert_eq!(parse_value("{\"a\":true}"), json!({"a": true}));
        assert_eq!(parse_value("hello"), json!("hello"));
    }
}
