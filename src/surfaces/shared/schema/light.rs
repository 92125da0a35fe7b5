//! Light normalisation for `parametersJsonSchema` / `responseJsonSchema`.

use serde_json::{json, Map, Value};

use super::is_json_schema_keyword;
use super::prepare::{clean_required, copy_str, cut_marker, enter, finish, map_cost, Ctx};

pub(super) fn light(node: &Value, ctx: &mut Ctx<'_>, depth: usize) -> Map<String, Value> {
    let (map, pushed) = match enter(node, ctx, depth, "object") {
        Ok(entered) => entered,
        Err(done) => return done,
    };
    // `type: [T, "null"]` → anyOf branches, constraints kept in each branch.
    if let Some(Value::Array(types)) = map.get("type") {
        let mut branches = Vec::new();
        // JSON Schema has 7 type names: more entries are repeats (each would copy the node).
        let mut names: Vec<&str> = Vec::new();
        for t in types.iter().filter_map(Value::as_str) {
            if !names.contains(&t) && names.len() < 8 {
                names.push(t);
            }
        }
        // Each branch copies the node.
        if !ctx.charge(names.len().saturating_mul(map_cost(&map))) {
            finish(ctx, pushed);
            return cut_marker(&map, "object");
        }
        for t in names {
            let mut b = if t == "null" {
                Map::new()
            } else {
                map.as_ref().clone()
            };
            b.remove("title");
            b.remove("description");
            b.insert("type".into(), json!(t));
            branches.push(Value::Object(b));
        }
        let mut out = Map::new();
        copy_str(&map, &mut out, &["title", "description"]);
        let any: Vec<Value> = branches
            .iter()
            .map(|b| Value::Object(light(b, ctx, depth + 1)))
            .collect();
        out.insert("anyOf".into(), Value::Array(any));
        finish(ctx, pushed);
        return out;
    }
    let mut out = Map::new();
    for (k, v) in map.iter() {
        match k.as_str() {
            "properties" => {
                if let Value::Object(props) = v {
                    let converted: Map<String, Value> = props
                        .iter()
                        .map(|(name, s)| (name.clone(), Value::Object(light(s, ctx, depth + 1))))
                        .collect();
                    out.insert(k.clone(), Value::Object(converted));
                }
            }
            "items" => match v {
                Value::Array(tuple) => {
                    let items: Vec<Value> = tuple
                        .iter()
                        .map(|s| Value::Object(light(s, ctx, depth + 1)))
                        .collect();
                    out.insert("prefixItems".into(), Value::Array(items));
                }
                _ => {
                    out.insert(k.clone(), Value::Object(light(v, ctx, depth + 1)));
                }
            },
            "prefixItems" | "anyOf" => {
                if let Value::Array(list) = v {
                    let list: Vec<Value> = list
                        .iter()
                        .map(|s| Value::Object(light(s, ctx, depth + 1)))
                        .collect();
                    out.insert(k.clone(), Value::Array(list));
                }
            }
            "additionalProperties" => match v {
                Value::Bool(_) => {
                    out.insert(k.clone(), v.clone());
                }
                Value::Object(_) => {
                    out.insert(k.clone(), Value::Object(light(v, ctx, depth + 1)));
                }
                _ => {}
            },
            "enum" if v.as_array().is_some_and(|a| !a.is_empty()) => {
                out.insert(k.clone(), v.clone());
            }
            "enum" => {}
            "required" => {}
            _ if is_json_schema_keyword(k) => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    if let Some(req) = map.get("required") {
        if let Some(r) = clean_required(req, out.get("properties").and_then(Value::as_object)) {
            out.insert("required".into(), r);
        }
    }
    if out.get("type").and_then(Value::as_str) == Some("array")
        && !out.contains_key("items")
        && !out.contains_key("prefixItems")
    {
        out.insert("items".into(), json!({}));
    }
    finish(ctx, pushed);
    out
}
