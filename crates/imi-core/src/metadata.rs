//! Dotted-key access to metadata objects (`plane.ticket_id`). Both backends do a
//! locked read-modify-write with these functions, so deep updates behave the same
//! everywhere: intermediate objects are created, siblings are kept.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::Metadata;

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
    Ok(())
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
    fn values_parse_as_json_when_they_can() {
        assert_eq!(parse_value("42"), json!(42));
        assert_eq!(parse_value("{\"a\":true}"), json!({"a": true}));
        assert_eq!(parse_value("hello"), json!("hello"));
    }
}
