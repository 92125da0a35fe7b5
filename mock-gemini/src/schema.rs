//! Semantic checks on tool and response schemas.
//!
//! Unknown keywords in the proto `Schema` (`parameters`, `responseSchema`) are already
//! rejected while parsing (see `proto.rs`); this module adds the rules Gemini applies
//! on top: a type is required unless `anyOf` is used, `enum` only on strings, arrays need
//! `items`, `required` names must be declared properties. For `parametersJsonSchema`
//! (free JSON Schema) it checks that the schema is an object and that local `$ref`s resolve.

use serde_json::{Map, Value};

/// Checks a normalised proto `Schema` at `path` (snake_case, e.g.
/// `GenerateContentRequest.tools[0].function_declarations[1].parameters`); pushes
/// Google-style `* path: message` lines.
pub fn check_schema(schema: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let type_name = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("TYPE_UNSPECIFIED");
    let any_of = schema.get("anyOf").and_then(Value::as_array);
    if type_name == "TYPE_UNSPECIFIED" && any_of.is_none_or(Vec::is_empty) {
        out.push(format!(
            "{path}.type: must be specified when not using one_of"
        ));
    }
    if schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty())
        && type_name != "STRING"
    {
        out.push(format!("{path}.enum: only allowed for STRING type"));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for (i, name) in required.iter().enumerate() {
            let name = name.as_str().unwrap_or_default();
            if !properties.is_some_and(|p| p.contains_key(name)) {
                out.push(format!("{path}.required[{i}]: property is not defined"));
            }
        }
    }
    if type_name == "ARRAY" && !schema.contains_key("items") {
        out.push(format!("{path}.items: missing field."));
    }
    if let Some(properties) = properties {
        for (name, property) in properties {
            if let Some(property) = property.as_object() {
                check_schema(property, &format!("{path}.properties[{name}]"), out);
            }
        }
    }
    if let Some(items) = schema.get("items").and_then(Value::as_object) {
        check_schema(items, &format!("{path}.items"), out);
    }
    for (i, branch) in any_of.into_iter().flatten().enumerate() {
        if let Some(branch) = branch.as_object() {
            check_schema(branch, &format!("{path}.any_of[{i}]"), out);
        }
    }
}

/// Checks a `parametersJsonSchema` / `responseJsonSchema` value at `path`.
pub fn check_json_schema(schema: &Value, path: &str, out: &mut Vec<String>) {
    if !schema.is_object() {
        out.push(format!("{path}: The schema must be a JSON object."));
        return;
    }
    let mut refs = Vec::new();
    collect_refs(schema, "", &mut refs);
    for (location, reference) in refs {
        let resolved = reference
            .strip_prefix('#')
            .is_some_and(|pointer| pointer.is_empty() || schema.pointer(pointer).is_some());
        if !resolved {
            let at = if location.is_empty() {
                "root".to_owned()
            } else {
                location
            };
            out.push(format!("{path}: reference to undefined schema at {at}"));
        }
    }
}

fn collect_refs(value: &Value, location: &str, refs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                refs.push((location.to_owned(), reference.clone()));
            }
            for (key, child) in object {
                if key == "enum" || key == "const" || key == "default" || key == "examples" {
                    continue;
                }
                let child_location = if location.is_empty() {
                    key.clone()
                } else {
                    format!("{location}.{key}")
                };
                collect_refs(child, &child_location, refs);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_refs(item, &format!("{location}[{i}]"), refs);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(schema: Value) -> Vec<String> {
        let mut out = Vec::new();
        check_schema(schema.as_object().unwrap(), "P", &mut out);
        out
    }

    #[test]
    fn valid_schema_passes() {
        let schema = json!({"type": "OBJECT", "properties": {
            "a": {"type": "STRING", "enum": ["x"]},
            "b": {"type": "ARRAY", "items": {"type": "INTEGER"}},
            "c": {"anyOf": [{"type": "STRING"}, {"type": "NULL"}]}
        }, "required": ["a"]});
        assert!(problems(schema).is_empty());
    }

    #[test]
    fn semantic_problems_are_reported_with_paths() {
        let schema = json!({"type": "OBJECT", "properties": {
            "n": {"type": "INTEGER", "enum": ["1"]},
            "l": {"type": "ARRAY"},
            "u": {"description": "no type"}
        }, "required": ["missing"]});
        let out = problems(schema);
        assert!(out.contains(&"P.properties[n].enum: only allowed for STRING type".to_owned()));
        assert!(out.contains(&"P.properties[l].items: missing field.".to_owned()));
        assert!(out
            .contains(&"P.properties[u].type: must be specified when not using one_of".to_owned()));
        assert!(out.contains(&"P.required[0]: property is not defined".to_owned()));
    }

    #[test]
    fn json_schema_refs_must_resolve() {
        let mut out = Vec::new();
        let good = json!({"type": "object", "$defs": {"A": {"type": "string"}},
                          "properties": {"a": {"$ref": "#/$defs/A"}}});
        check_json_schema(&good, "J", &mut out);
        assert!(out.is_empty());
        let bad = json!({"type": "object", "properties": {"language": {"$ref": "#/$defs/Lang"}}});
        check_json_schema(&bad, "J", &mut out);
        assert_eq!(
            out,
            vec!["J: reference to undefined schema at properties.language".to_owned()]
        );
        out.clear();
        check_json_schema(&json!("string"), "J", &mut out);
        assert_eq!(out.len(), 1);
    }
}
