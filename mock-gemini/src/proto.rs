//! A small proto-JSON reader that behaves like Google's front end.
//!
//! The real API parses request bodies into protobuf messages: it accepts both the
//! lowerCamel JSON name and the snake_case field name, treats `null` as unset, accepts a
//! single value where a list is expected, and rejects every unknown field with
//! `Invalid JSON payload received. Unknown name "X" at 'path': Cannot find field.`.
//! This module walks the ordered JSON tree (`ordered.rs`) along static message descriptors
//! (see `descriptors.rs`), collects those parse errors with Google's wording and
//! produces a normalised copy (camelCase keys, canonical enum names) for the semantic checks.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{Map, Value};

use crate::errors::Violation;
use crate::ordered::Json;

/// How a field's JSON value is read.
pub enum Kind {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `float` / `double`.
    Float,
    /// `bytes` (base64 in JSON).
    Bytes,
    /// An enum; accepted case-insensitively by name or by number.
    Enum(&'static EnumDesc),
    /// A nested message.
    Msg(&'static Msg),
    /// `google.protobuf.Value`: any JSON.
    Value,
    /// `google.protobuf.Struct`: any JSON object.
    Struct,
}

/// Singular, repeated or map field.
pub enum Card {
    /// One value.
    One,
    /// A list (a single value is accepted as a one-element list).
    Many,
    /// `map<string, T>`; errors point at `name[i].value`.
    Map,
}

/// One field of a message.
pub struct Field {
    /// The proto (snake_case) name.
    pub name: &'static str,
    /// The value kind.
    pub kind: Kind,
    /// Cardinality.
    pub card: Card,
    /// The oneof group the field belongs to.
    pub oneof: Option<&'static str>,
}

/// A message descriptor.
pub struct Msg {
    /// The message's full type URL, used in `Invalid value` errors.
    pub type_url: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// An enum descriptor; the value's position is its number.
pub struct EnumDesc {
    /// The enum's full type URL.
    pub type_url: &'static str,
    /// Value names in number order.
    pub values: &'static [&'static str],
}

/// Parses `root` as message `msg`; returns the normalised value and the parse errors.
pub fn parse(root: &Json, msg: &'static Msg) -> (Value, Vec<Violation>) {
    let mut errors = Vec::new();
    let Json::Object(members) = root else {
        errors.push(Violation {
            field: None,
            description:
                "Invalid JSON payload received. Unknown name \"\": Root element must be a message."
                    .to_owned(),
        });
        return (Value::Null, errors);
    };
    let normalised = walk_message(members, msg, "", &mut errors);
    (Value::Object(normalised), errors)
}

/// Decodes a proto-JSON `bytes` value: standard or web-safe base64, padding optional.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
    if text.contains(['-', '_']) {
        URL_SAFE.decode(text).ok()
    } else {
        STANDARD.decode(text).ok()
    }
}

/// `thinking_budget` → `thinkingBudget`.
pub fn lower_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// True when a JSON key names the proto field `snake` (either spelling).
fn names_field(key: &str, snake: &str) -> bool {
    if key == snake {
        return true;
    }
    let mut key_chars = key.chars();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
            continue;
        }
        let expected = if upper { c.to_ascii_uppercase() } else { c };
        upper = false;
        if key_chars.next() != Some(expected) {
            return false;
        }
    }
    key_chars.next().is_none()
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn unknown_name(errors: &mut Vec<Violation>, path: &str, name: &str, reason: &str) {
    let description = if path.is_empty() {
        format!("Invalid JSON payload received. Unknown name \"{name}\": {reason}")
    } else {
        format!("Invalid JSON payload received. Unknown name \"{name}\" at '{path}': {reason}")
    };
    errors.push(Violation {
        field: (!path.is_empty()).then(|| path.to_owned()),
        description,
    });
}

fn invalid_value(errors: &mut Vec<Violation>, path: &str, type_name: &str, shown: &str) {
    errors.push(Violation {
        field: Some(path.to_owned()),
        description: format!("Invalid value at '{path}' ({type_name}), {shown}"),
    });
}

fn walk_message(
    members: &[(String, Json)],
    msg: &'static Msg,
    path: &str,
    errors: &mut Vec<Violation>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut oneofs_set: Vec<&'static str> = Vec::new();
    for (key, value) in members {
        let Some(field) = msg.fields.iter().find(|f| names_field(key, f.name)) else {
            unknown_name(errors, path, key, "Cannot find field.");
            continue;
        };
        if *value == Json::Null {
            continue;
        }
        if let Some(group) = field.oneof {
            if oneofs_set.contains(&group) {
                let shown = format!("oneof field '{group}' is already set. Cannot set '{key}'");
                invalid_value(errors, path, "oneof", &shown);
                continue;
            }
            oneofs_set.push(group);
        }
        let field_path = join(path, field.name);
        let read = match field.card {
            Card::One => {
                if matches!(value, Json::Array(_)) {
                    unknown_name(
                        errors,
                        path,
                        key,
                        "Proto field is not repeating, cannot start list.",
                    );
                    None
                } else {
                    read_value(value, &field.kind, &field_path, errors)
                }
            }
            Card::Many => Some(read_list(value, &field.kind, &field_path, errors)),
            Card::Map => read_map(value, &field.kind, &field_path, errors),
        };
        if let Some(read) = read {
            out.insert(lower_camel(field.name), read);
        }
    }
    out
}

fn read_list(value: &Json, kind: &Kind, path: &str, errors: &mut Vec<Violation>) -> Value {
    let items: &[Json] = match value {
        Json::Array(items) => items,
        single => std::slice::from_ref(single),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        match item {
            Json::Null => {}
            Json::Array(_) => invalid_value(errors, &item_path, &type_name(kind), &item.render()),
            _ => out.extend(read_value(item, kind, &item_path, errors)),
        }
    }
    Value::Array(out)
}

fn read_map(value: &Json, kind: &Kind, path: &str, errors: &mut Vec<Violation>) -> Option<Value> {
    let Json::Object(entries) = value else {
        invalid_value(errors, path, &type_name(kind), &value.render());
        return None;
    };
    let mut out = Map::new();
    for (i, (key, item)) in entries.iter().enumerate() {
        let item_path = format!("{path}[{i}].value");
        if matches!(item, Json::Array(_)) {
            let entry_path = format!("{path}[{i}]");
            unknown_name(
                errors,
                &entry_path,
                "value",
                "Proto field is not repeating, cannot start list.",
            );
            continue;
        }
        if let Some(read) = read_value(item, kind, &item_path, errors) {
            out.insert(key.clone(), read);
        }
    }
    Some(Value::Object(out))
}

fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Str => "TYPE_STRING".to_owned(),
        Kind::Bool => "TYPE_BOOL".to_owned(),
        Kind::I32 => "TYPE_INT32".to_owned(),
        Kind::I64 => "TYPE_INT64".to_owned(),
        Kind::Float => "TYPE_FLOAT".to_owned(),
        Kind::Bytes => "TYPE_BYTES".to_owned(),
        Kind::Enum(e) => e.type_url.to_owned(),
        Kind::Msg(m) => m.type_url.to_owned(),
        Kind::Value => "type.googleapis.com/google.protobuf.Value".to_owned(),
        Kind::Struct => "type.googleapis.com/google.protobuf.Struct".to_owned(),
    }
}

fn read_value(value: &Json, kind: &Kind, path: &str, errors: &mut Vec<Violation>) -> Option<Value> {
    let read = match (kind, value) {
        (Kind::Str, Json::String(s)) => Some(Value::from(s.as_str())),
        (Kind::Bool, Json::Bool(b)) => Some(Value::Bool(*b)),
        (Kind::Bool, Json::String(s)) if s == "true" || s == "false" => {
            Some(Value::Bool(s == "true"))
        }
        (Kind::I32, _) => read_int(value)
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Value::from),
        (Kind::I64, _) => read_int(value).map(Value::from),
        (Kind::Float, _) => read_float(value),
        (Kind::Bytes, Json::String(text)) => {
            if decode_base64(text).is_none() {
                let shown = format!("Base64 decoding failed for \"{text}\"");
                invalid_value(errors, path, "TYPE_BYTES", &shown);
                return None;
            }
            Some(Value::from(text.as_str()))
        }
        (Kind::Enum(desc), _) => read_enum(value, desc),
        (Kind::Msg(msg), Json::Object(members)) => {
            Some(Value::Object(walk_message(members, msg, path, errors)))
        }
        (Kind::Value, _) => Some(value.to_value()),
        (Kind::Struct, Json::Object(_)) => Some(value.to_value()),
        _ => None,
    };
    if read.is_none() {
        invalid_value(errors, path, &type_name(kind), &value.render());
    }
    read
}

fn read_int(value: &Json) -> Option<i64> {
    match value {
        Json::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Json::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn read_float(value: &Json) -> Option<Value> {
    match value {
        Json::Number(n) => Some(Value::Number(n.clone())),
        Json::String(s) => match s.as_str() {
            "NaN" | "Infinity" | "-Infinity" => Some(Value::from(s.as_str())),
            _ => s.trim().parse::<f64>().ok().map(Value::from),
        },
        _ => None,
    }
}

fn read_enum(value: &Json, desc: &EnumDesc) -> Option<Value> {
    match value {
        Json::String(s) => desc
            .values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(s))
            .map(|v| Value::from(*v)),
        Json::Number(n) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| desc.values.get(i))
            .map(|v| Value::from(*v)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_name_a_field() {
        assert!(names_field("thinkingBudget", "thinking_budget"));
        assert!(names_field("thinking_budget", "thinking_budget"));
        assert!(!names_field("thinkingbudget", "thinking_budget"));
        assert!(!names_field("thinkingBudgetX", "thinking_budget"));
        assert_eq!(lower_camel("function_declarations"), "functionDeclarations");
    }

    #[test]
    fn base64_accepts_both_alphabets() {
        assert!(decode_base64("skip_thought_signature_validator").is_some());
        assert!(decode_base64("aGVsbG8=").is_some());
        assert!(decode_base64("aGVsbG8").is_some());
        assert!(decode_base64("not base64!").is_none());
        assert!(decode_base64("abcde").is_none());
    }
}
