//! Strict conversion to Gemini's `parameters` (OpenAPI subset).

use serde_json::{json, Map, Value};

use super::prepare::{
    clean_required, copy_str, copy_uint, cut_marker, enter, finish, is_null_schema, json_object,
    map_cost, Ctx,
};

pub(super) fn strict(node: &Value, ctx: &mut Ctx<'_>, depth: usize) -> Map<String, Value> {
    let (map, pushed) = match enter(node, ctx, depth, "OBJECT") {
        Ok(entered) => entered,
        Err(done) => return done,
    };
    let out = strict_prepared(&map, ctx, depth);
    finish(ctx, pushed);
    out
}

fn strict_prepared(
    map: &Map<String, Value>,
    ctx: &mut Ctx<'_>,
    depth: usize,
) -> Map<String, Value> {
    let mut nullable = map.get("nullable") == Some(&Value::Bool(true));
    let concrete = map.contains_key("type") || map.contains_key("properties");
    // A union without its own type: `anyOf` must then be the only field of the node.
    if let (Some(Value::Array(any)), false) = (map.get("anyOf"), concrete) {
        nullable |= any.iter().any(is_null_schema);
        let branches: Vec<Map<String, Value>> = any
            .iter()
            .filter(|b| !is_null_schema(b))
            .map(|b| strict(b, ctx, depth + 1))
            .collect();
        return union(branches, map, nullable);
    }
    let mut types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    // JSON Schema has 7 type names: more entries are repeats (each would copy the node).
    let mut seen = Vec::with_capacity(8);
    types.retain(|t| {
        let keep = !seen.contains(t) && seen.len() < 8;
        if keep {
            seen.push(*t);
        }
        keep
    });
    if types.contains(&"null") {
        nullable = true;
        types.retain(|t| *t != "null");
        if types.is_empty() {
            types.push("string");
        }
    }
    if types.is_empty() {
        types.push(infer_type(map));
    }
    if types.len() > 1 || types[0] == "any" {
        let names: Vec<&str> = if types[0] == "any" {
            vec!["string", "number", "boolean", "object", "array"]
        } else {
            types
        };
        // Each branch copies the node.
        if !ctx.charge(names.len().saturating_mul(map_cost(map))) {
            return cut_marker(map, "OBJECT");
        }
        let branches: Vec<Map<String, Value>> = names
            .into_iter()
            .map(|t| {
                let mut m = map.clone();
                m.insert("type".into(), json!(t));
                m.remove("title");
                m.remove("description");
                m.remove("default");
                strict_prepared(&m, ctx, depth + 1)
            })
            .collect();
        return union(branches, map, nullable);
    }
    let ty = types[0];
    let mut out = Map::new();
    out.insert("type".into(), json!(ty.to_ascii_uppercase()));
    copy_str(map, &mut out, &["title", "description"]);
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    match ty {
        "object" => strict_object(map, &mut out, ctx, depth),
        "array" => {
            let items = match map.get("items").or_else(|| map.get("prefixItems")) {
                Some(Value::Array(tuple)) => tuple.first().cloned().unwrap_or(json!({})),
                Some(v) => v.clone(),
                None => json!({}),
            };
            let items = if items.as_object().is_some_and(Map::is_empty) {
                json!({"type": "string"})
            } else {
                items
            };
            out.insert(
                "items".into(),
                Value::Object(strict(&items, ctx, depth + 1)),
            );
            copy_uint(map, &mut out, &["minItems", "maxItems"]);
        }
        "string" => {
            if let Some(Value::Array(values)) = map.get("enum") {
                let strings: Vec<&Value> = values
                    .iter()
                    .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    .collect();
                if !strings.is_empty() && values.iter().all(|v| v.is_string() || v.is_null()) {
                    out.insert("enum".into(), json!(strings));
                }
            }
            if let Some(f) = map.get("format").and_then(Value::as_str) {
                if f == "date-time" || f == "enum" {
                    out.insert("format".into(), json!(f));
                }
            }
            copy_uint(map, &mut out, &["minLength", "maxLength"]);
            copy_str(map, &mut out, &["pattern"]);
        }
        "number" | "integer" => {
            for k in ["minimum", "maximum"] {
                if let Some(v) = map.get(k).filter(|v| v.is_number()) {
                    out.insert(k.into(), v.clone());
                }
            }
            let allowed: &[&str] = if ty == "number" {
                &["float", "double"]
            } else {
                &["int32", "int64"]
            };
            if let Some(f) = map.get("format").and_then(Value::as_str) {
                if allowed.contains(&f) {
                    out.insert("format".into(), json!(f));
                }
            }
        }
        _ => {}
    }
    if let Some(d) = map.get("default").filter(|d| matches_type(d, ty)) {
        out.insert("default".into(), d.clone());
    }
    if let Some(e) = map.get("example").filter(|e| matches_type(e, ty)) {
        out.insert("example".into(), e.clone());
    }
    out
}

fn strict_object(
    map: &Map<String, Value>,
    out: &mut Map<String, Value>,
    ctx: &mut Ctx<'_>,
    depth: usize,
) {
    if let Some(Value::Object(props)) = map.get("properties") {
        let converted: Map<String, Value> = props
            .iter()
            .map(|(name, s)| (name.clone(), Value::Object(strict(s, ctx, depth + 1))))
            .collect();
        if !converted.is_empty() {
            if let Some(r) = map
                .get("required")
                .and_then(|r| clean_required(r, Some(&converted)))
            {
                out.insert("required".into(), r);
            }
            if let Some(Value::Array(order)) = map.get("propertyOrdering") {
                if order
                    .iter()
                    .all(|n| n.as_str().is_some_and(|n| converted.contains_key(n)))
                {
                    out.insert("propertyOrdering".into(), Value::Array(order.clone()));
                }
            }
            out.insert("properties".into(), Value::Object(converted));
        }
    }
    copy_uint(map, out, &["minProperties", "maxProperties"]);
}

/// `{anyOf: branches}` with the parent's description pushed into the branches (Gemini wants
/// `anyOf` alone on its node), or the single branch itself.
fn union(
    mut branches: Vec<Map<String, Value>>,
    parent: &Map<String, Value>,
    nullable: bool,
) -> Map<String, Value> {
    if branches.is_empty() {
        branches.push(json_object(json!({"type": "STRING"})));
    }
    for b in &mut branches {
        if b.contains_key("type") {
            if !b.contains_key("description") {
                copy_str(parent, b, &["description"]);
            }
            if nullable {
                b.insert("nullable".into(), json!(true));
            }
        }
    }
    if branches.len() == 1 {
        return branches.remove(0);
    }
    let mut out = Map::new();
    out.insert(
        "anyOf".into(),
        Value::Array(branches.into_iter().map(Value::Object).collect()),
    );
    out
}

fn infer_type(map: &Map<String, Value>) -> &'static str {
    if map.contains_key("properties") {
        "object"
    } else if map.contains_key("items") || map.contains_key("prefixItems") {
        "array"
    } else if let Some(Value::Array(values)) = map.get("enum") {
        if values.iter().all(Value::is_string) {
            "string"
        } else if values.iter().all(Value::is_i64) {
            "integer"
        } else if values.iter().all(Value::is_number) {
            "number"
        } else if values.iter().all(Value::is_boolean) {
            "boolean"
        } else {
            "any"
        }
    } else if map.contains_key("pattern") || map.contains_key("maxLength") {
        "string"
    } else if map.contains_key("minimum") || map.contains_key("maximum") {
        "number"
    } else {
        "any"
    }
}

fn matches_type(v: &Value, ty: &str) -> bool {
    match ty {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => false,
    }
}
