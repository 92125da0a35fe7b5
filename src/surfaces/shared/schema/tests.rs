//! Tests of the schema conversions, including every tool of the captured Claude Code requests.

use super::*;
use serde_json::json;

const FIRST_TURN: &str =
    include_str!("../../../../tests/fixtures/anthropic/claude-code-first-turn.json");
const TOOL_RESULT_TURN: &str =
    include_str!("../../../../tests/fixtures/anthropic/claude-code-tool-result-turn.json");

/// Calls `f(path, node)` for every schema node (not for property names).
fn walk(schema: &Value, path: &str, f: &mut dyn FnMut(&str, &Map<String, Value>)) {
    let Value::Object(map) = schema else { return };
    f(path, map);
    for (k, v) in map {
        match (k.as_str(), v) {
            ("properties", Value::Object(props)) => {
                for (name, s) in props {
                    walk(s, &format!("{path}.properties.{name}"), f);
                }
            }
            ("items" | "additionalProperties", Value::Object(_)) => {
                walk(v, &format!("{path}.{k}"), f)
            }
            ("anyOf" | "prefixItems", Value::Array(list)) => {
                for (i, s) in list.iter().enumerate() {
                    walk(s, &format!("{path}.{k}[{i}]"), f);
                }
            }
            _ => {}
        }
    }
}

fn fixture_tools() -> Vec<(String, Value)> {
    let mut tools = Vec::new();
    for raw in [FIRST_TURN, TOOL_RESULT_TURN] {
        let body: Value = serde_json::from_str(raw).unwrap();
        for t in body["tools"].as_array().unwrap() {
            tools.push((
                t["name"].as_str().unwrap().to_owned(),
                t["input_schema"].clone(),
            ));
        }
    }
    assert!(tools.len() >= 24);
    tools
}

fn assert_strict_valid(name: &str, schema: &Value) {
    walk(schema, name, &mut |path, node| {
        for k in node.keys() {
            assert!(
                PARAMETERS_KEYWORDS.contains(&k.as_str()),
                "{path}: keyword {k} not allowed in parameters"
            );
        }
        if let Some(any) = node.get("anyOf") {
            assert_eq!(node.len(), 1, "{path}: anyOf must be alone: {node:?}");
            assert!(any.as_array().is_some_and(|a| a.len() >= 2), "{path}");
            return;
        }
        let ty = node.get("type").and_then(Value::as_str);
        assert!(
            matches!(
                ty,
                Some("STRING" | "NUMBER" | "INTEGER" | "BOOLEAN" | "ARRAY" | "OBJECT")
            ),
            "{path}: bad type {ty:?}"
        );
        if let Some(e) = node.get("enum") {
            assert_eq!(ty, Some("STRING"), "{path}: enum on non-string");
            assert!(e
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v.as_str().is_some_and(|s| !s.is_empty())));
        }
        if let Some(p) = node.get("properties") {
            assert!(
                !p.as_object().unwrap().is_empty(),
                "{path}: empty properties"
            );
        }
        if ty == Some("ARRAY") {
            assert!(node.contains_key("items"), "{path}: array without items");
        }
        if let Some(f) = node.get("format").and_then(Value::as_str) {
            assert!(matches!(
                f,
                "date-time" | "enum" | "float" | "double" | "int32" | "int64"
            ));
        }
    });
}

#[test]
fn claude_code_tools_json_schema_has_no_disallowed_keyword() {
    for (name, input) in fixture_tools() {
        let Some(out) = json_schema_parameters(&input) else {
            assert_eq!(name, "DeferredToolPlaceholder");
            continue;
        };
        assert_eq!(out["type"], "object", "{name}");
        walk(&out, &name, &mut |path, node| {
            for k in node.keys() {
                assert!(
                    is_json_schema_keyword(k),
                    "{path}: keyword {k} left in parametersJsonSchema"
                );
            }
            if let Some(t) = node.get("type") {
                assert!(t.is_string(), "{path}: type must be a single string");
            }
        });
        let text = out.to_string();
        assert!(!text.contains("$schema") && !text.contains("exclusiveMinimum"));
    }
}

#[test]
fn claude_code_tools_strict_parameters_use_only_allowed_keywords() {
    for (name, input) in fixture_tools() {
        match strict_parameters(&input) {
            Some(out) => {
                assert_eq!(out["type"], "OBJECT", "{name}");
                assert_strict_valid(&name, &out);
            }
            None => assert_eq!(name, "DeferredToolPlaceholder"),
        }
        // The fallback path (light first, then strict) must be valid too.
        if let Some(light) = json_schema_parameters(&input) {
            let out = strict_parameters(&light).unwrap();
            assert_strict_valid(&name, &out);
        }
    }
}

#[test]
fn read_tool_snapshot() {
    let body: Value = serde_json::from_str(FIRST_TURN).unwrap();
    let read = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Read")
        .unwrap();
    let out = json_schema_parameters(&read["input_schema"]).unwrap();
    let props = &out["properties"];
    assert_eq!(props["limit"]["minimum"], 1);
    assert_eq!(props["limit"]["maximum"], 9007199254740991_i64);
    assert_eq!(props["offset"]["minimum"], 0);
    assert_eq!(out["additionalProperties"], false);
    assert_eq!(out["required"], json!(["file_path"]));

    let strict = strict_parameters(&read["input_schema"]).unwrap();
    assert_eq!(
        strict["properties"]["limit"],
        json!({"type": "INTEGER", "minimum": 1, "maximum": 9007199254740991_i64,
            "description": "The number of lines to read. Only provide if the file is too large to read at once."})
    );
    assert_eq!(strict["required"], json!(["file_path"]));
    assert!(strict.get("additionalProperties").is_none());
}

#[test]
fn typeless_property_stays_any_in_json_schema_and_becomes_union_in_strict() {
    let input = json!({"type": "object", "properties": {"args": {"description": "any value"}}});
    let light = json_schema_parameters(&input).unwrap();
    assert_eq!(
        light["properties"]["args"],
        json!({"description": "any value"})
    );
    let strict = strict_parameters(&input).unwrap();
    let any = strict["properties"]["args"]["anyOf"].as_array().unwrap();
    assert_eq!(any.len(), 5);
    assert_strict_valid("args", &strict);
}

#[test]
fn refs_are_inlined_and_cycles_cut() {
    let input = json!({
        "type": "object",
        "$defs": {
            "Node": {"type": "object", "description": "a node",
                "properties": {"name": {"type": "string"},
                               "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}
        },
        "properties": {"root": {"$ref": "#/$defs/Node"},
                       "other": {"$ref": "#/definitions/Missing", "description": "dangling"}},
        "required": ["root", "root", "ghost"]
    });
    let light = json_schema_parameters(&input).unwrap();
    assert!(light.get("$defs").is_none());
    let root = &light["properties"]["root"];
    assert_eq!(root["properties"]["name"]["type"], "string");
    // Second expansion of Node is cut.
    assert_eq!(
        root["properties"]["children"]["items"],
        json!({"type": "object", "description": "a node"})
    );
    assert_eq!(
        light["properties"]["other"],
        json!({"description": "dangling"})
    );
    assert_eq!(light["required"], json!(["root"]));

    let strict = strict_parameters(&input).unwrap();
    assert_strict_valid("refs", &strict);
    assert_eq!(
        strict["properties"]["root"]["properties"]["children"]["items"],
        json!({"type": "OBJECT", "description": "a node"})
    );
}

#[test]
fn unions_nullability_const_and_all_of() {
    let input = json!({
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"], "description": "maybe", "maxLength": 3},
            "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "c": {"oneOf": [{"type": "string"}, {"type": "number"}], "description": "either"},
            "d": {"const": "fixed"},
            "e": {"allOf": [{"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
                            {"properties": {"y": {"type": "boolean"}}, "required": ["y"]}]},
            "f": {"type": "integer", "enum": [1, 2, 3]},
            "g": {"type": "number", "exclusiveMaximum": 1.5, "multipleOf": 0.5},
            "h": {"type": "string", "format": "uri", "examples": ["https://x"], "enum": ["", "a"]}
        }
    });
    let light = json_schema_parameters(&input).unwrap();
    assert_eq!(
        light["properties"]["a"],
        json!({"description": "maybe", "anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]})
    );
    assert_eq!(light["properties"]["d"], json!({"enum": ["fixed"]}));
    assert_eq!(
        light["properties"]["c"]["anyOf"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        light["properties"]["g"],
        json!({"type": "number", "maximum": 1.5})
    );

    let strict = strict_parameters(&input).unwrap();
    assert_strict_valid("unions", &strict);
    let p = &strict["properties"];
    assert_eq!(
        p["a"],
        json!({"type": "STRING", "nullable": true, "description": "maybe", "maxLength": 3})
    );
    assert_eq!(p["b"], json!({"type": "INTEGER", "nullable": true}));
    assert_eq!(
        p["c"],
        json!({"anyOf": [{"type": "STRING", "description": "either"},
                         {"type": "NUMBER", "description": "either"}]})
    );
    assert_eq!(p["d"], json!({"type": "STRING", "enum": ["fixed"]}));
    assert_eq!(p["e"]["required"], json!(["x", "y"]));
    assert_eq!(p["e"]["properties"]["y"]["type"], "BOOLEAN");
    assert_eq!(p["f"], json!({"type": "INTEGER"}));
    assert_eq!(p["g"], json!({"type": "NUMBER", "maximum": 1.5}));
    assert_eq!(
        p["h"],
        json!({"type": "STRING", "enum": ["a"], "example": "https://x"})
    );
}

#[test]
fn parameterless_tools_have_no_schema() {
    assert_eq!(
        json_schema_parameters(&json!({"type": "object", "properties": {}})),
        None
    );
    assert_eq!(json_schema_parameters(&json!({"type": "object"})), None);
    assert_eq!(
        strict_parameters(&json!({"type": "object", "properties": {}})),
        None
    );
    assert_eq!(json_schema_parameters(&json!(null)), None);
}

#[test]
fn arrays_get_items() {
    let input = json!({"type": "object", "properties": {"l": {"type": "array"}}});
    assert_eq!(
        json_schema_parameters(&input).unwrap()["properties"]["l"],
        json!({"type": "array", "items": {}})
    );
    assert_eq!(
        strict_parameters(&input).unwrap()["properties"]["l"],
        json!({"type": "ARRAY", "items": {"type": "STRING"}})
    );
}

#[test]
fn property_named_like_keywords_survive() {
    let input = json!({"type": "object", "properties": {
        "$schema": {"type": "string"}, "default": {"type": "string"}, "x-y": {"type": "string"}}});
    let light = json_schema_parameters(&input).unwrap();
    assert_eq!(light["properties"].as_object().unwrap().len(), 3);
    let strict = strict_parameters(&input).unwrap();
    assert_eq!(strict["properties"].as_object().unwrap().len(), 3);
}

#[test]
fn downgrade_rewrites_declarations() {
    use crate::upstream::wire::{FunctionDeclaration, Tool};
    let mut req = GenerateContentRequest {
        tools: Some(vec![Tool {
            function_declarations: Some(vec![FunctionDeclaration {
                name: "f".into(),
                parameters_json_schema: Some(json!({"type": "object",
                    "properties": {"a": {"type": "string"}}, "additionalProperties": false})),
                ..FunctionDeclaration::default()
            }]),
            ..Tool::default()
        }]),
        ..GenerateContentRequest::default()
    };
    downgrade_to_parameters(&mut req);
    let decl = &req.tools.unwrap()[0].function_declarations.clone().unwrap()[0];
    assert_eq!(decl.parameters_json_schema, None);
    assert_eq!(
        decl.parameters,
        Some(json!({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}))
    );
}

#[test]
fn ref_bombs_are_bounded_and_reported() {
    // Each definition refers to the next one twice: 2^30 nodes once inlined, from 3 KB.
    let mut defs = Map::new();
    for i in 0..30 {
        let next = format!("#/$defs/d{}", i + 1);
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}},
                "allOf": [{"$ref": next}, {"$ref": next}]}),
        );
    }
    defs.insert(
        "d30".into(),
        json!({"type": "string", "enum": vec!["x"; 1000]}),
    );
    let bomb =
        json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "$defs": defs});
    let started = std::time::Instant::now();
    let mut budget = SCHEMA_BUDGET;
    assert!(json_schema_parameters_within(&bomb, &mut budget).is_err());
    let mut budget = SCHEMA_BUDGET;
    assert!(strict_parameters_within(&bomb, &mut budget).is_err());
    let mut budget = SCHEMA_BUDGET;
    assert!(response_json_schema_within(&bomb, &mut budget).is_err());
    // The plain forms return the output cut short.
    assert!(json_schema_parameters(&bomb).is_some());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // A chain of allOf references does not recurse once per definition.
    let mut defs = Map::new();
    for i in 0..5_000 {
        defs.insert(
            format!("d{i}"),
            json!({"allOf": [{"$ref": format!("#/$defs/d{}", i + 1)}], "description": "x"}),
        );
    }
    let chain =
        json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "$defs": defs});
    let mut budget = SCHEMA_BUDGET;
    assert!(json_schema_parameters_within(&chain, &mut budget).is_ok());
    assert!(strict_parameters(&chain).is_some());

    // Thousands of repeated type names do not copy the node each time.
    let types = json!(vec!["string"; 10_000]);
    let many = json!({"type": "object", "properties": {"x": {"type": types, "description": "d"}}});
    assert_eq!(
        json_schema_parameters(&many).unwrap()["properties"]["x"]["anyOf"],
        json!([{"type": "string"}])
    );
    assert!(strict_parameters(&many).is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    // A long description behind a $ref used ten thousand times is charged for every copy.
    let mut props = Map::new();
    for i in 0..10_000 {
        props.insert(format!("p{i}"), json!({"$ref": "#/$defs/big"}));
    }
    let copies = json!({"type": "object", "properties": props,
        "$defs": {"big": {"type": "string", "description": "d".repeat(1 << 20)}}});
    let mut budget = SCHEMA_BUDGET;
    assert!(json_schema_parameters_within(&copies, &mut budget).is_err());
    let mut budget = SCHEMA_BUDGET;
    assert!(strict_parameters_within(&copies, &mut budget).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn the_claude_code_tools_fit_the_budget_many_times_over() {
    let mut budget = SCHEMA_BUDGET;
    for (name, schema) in fixture_tools() {
        json_schema_parameters_within(&schema, &mut budget).unwrap_or_else(|_| panic!("{name}"));
        strict_parameters_within(&schema, &mut budget).unwrap_or_else(|_| panic!("{name}"));
    }
    assert!(
        SCHEMA_BUDGET - budget < SCHEMA_BUDGET / 20,
        "{} units used",
        SCHEMA_BUDGET - budget
    );
}
