//! The answer's text shaped by `generationConfig`: JSON mode (a minimal instance of the
//! response schema) and stop sequences. Kept apart from `model.rs`, which decides *what* the
//! model says, because this only reformats it.

use serde_json::{json, Map, Value};

/// JSON mode and stop sequences.
pub fn shape_text(text: String, config: &Value) -> String {
    let mut text = match config.get("responseMimeType").and_then(Value::as_str) {
        Some("application/json") => {
            let schema = config
                .get("responseSchema")
                .or_else(|| config.get("responseJsonSchema"));
            let value = match schema {
                Some(schema) => instance_of(schema, &text, 0),
                None => json!({ "reply": text }),
            };
            serde_json::to_string(&value).unwrap_or_default()
        }
        Some("text/x.enum") => config
            .get("responseSchema")
            .and_then(|s| s.get("enum"))
            .and_then(|e| e.get(0))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => text,
    };
    let stops = config.get("stopSequences").and_then(Value::as_array);
    let cut = stops
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s))
        .min();
    if let Some(cut) = cut {
        text.truncate(cut);
    }
    text
}

/// A minimal JSON value that satisfies a (proto or JSON) schema.
fn instance_of(schema: &Value, text: &str, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    if let Some(branch) = schema.get("anyOf").and_then(|a| a.get(0)) {
        return instance_of(branch, text, depth + 1);
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.to_ascii_uppercase(),
        Some(Value::Array(types)) => types
            .first()
            .and_then(Value::as_str)
            .unwrap_or("OBJECT")
            .to_ascii_uppercase(),
        _ => "OBJECT".to_owned(),
    };
    match kind.as_str() {
        "STRING" => Value::from(text),
        "INTEGER" | "NUMBER" => Value::from(0),
        "BOOLEAN" => Value::Bool(false),
        "ARRAY" => Value::Array(Vec::new()),
        "NULL" => Value::Null,
        _ => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), instance_of(property, text, depth + 1));
                }
            }
            Value::Object(object)
        }
    }
}
