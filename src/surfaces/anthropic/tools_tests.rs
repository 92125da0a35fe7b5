//! Tool translation tests: declarations, `tool_choice`, deferred tools, names, and
//! Anthropic's typed tools (client tools declared with their schemas, web search and fetch as
//! Gemini's built-in tools alone or beside functions, the rest left out and named).

use super::*;
use serde_json::{json, Value};

fn flash() -> ModelInfo {
    ModelInfo::from_name("gemini-3.8-flash")
}

fn legacy() -> ModelInfo {
    ModelInfo::from_name("gemini-2.0-flash")
}

fn request(body: Value) -> MessagesRequest {
    serde_json::from_value(body).unwrap()
}

fn tool(name: &str) -> Value {
    json!({"name": name, "description": "d",
        "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}})
}

#[test]
fn names_round_trip() {
    assert_eq!(to_gemini_name("Bash"), "Bash");
    assert_eq!(to_gemini_name("mcp__srv__tool"), "mcp__srv__tool");
    assert_eq!(to_gemini_name("1password"), "_1password");
    assert_eq!(to_gemini_name("-x"), "_-x");
    for n in ["Bash", "_private", "1password", "-x", "mcp__a__b"] {
        assert_eq!(from_gemini_name(&to_gemini_name(n)), n);
    }
}

#[test]
fn tool_choice_modes() {
    let cases = [
        (json!(null), None),
        (json!({"type": "auto"}), Some(json!({"mode": "AUTO"}))),
        (json!({"type": "any"}), Some(json!({"mode": "ANY"}))),
        (json!({"type": "none"}), Some(json!({"mode": "NONE"}))),
        (
            json!({"type": "tool", "name": "Read"}),
            Some(json!({"mode": "ANY", "allowedFunctionNames": ["Read"]})),
        ),
    ];
    for (choice, expected) in cases {
        let req = request(json!({"model": "m", "messages": [],
            "tools": [tool("Bash"), tool("Read")], "tool_choice": choice}));
        let out = translate_tools(&req, &flash()).unwrap();
        let got = out
            .tool_config
            .map(|c| serde_json::to_value(c.function_calling_config).unwrap());
        assert_eq!(got, expected);
        assert_eq!(out.tools.unwrap()[0].declarations().len(), 2);
    }
}

#[test]
fn forcing_an_unknown_tool_is_invalid() {
    let req = request(
        json!({"model": "m", "messages": [], "tools": [tool("Bash")],
        "tool_choice": {"type": "tool", "name": "Nope"}}),
    );
    let err = translate_tools(&req, &flash()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("Nope"));
}

#[test]
fn deferred_tools_appear_once_referenced() {
    let mut deferred = tool("Later");
    deferred["defer_loading"] = json!(true);
    let hidden = request(json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"}], "tools": [tool("Bash"), deferred.clone()]}));
    let out = translate_tools(&hidden, &flash()).unwrap();
    let decls = out.tools.unwrap()[0].declarations();
    assert_eq!(
        decls.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["Bash"]
    );

    let found = request(json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
            "content": [{"type": "tool_reference", "tool_name": "Later"}]}]}],
        "tools": [tool("Bash"), deferred]}));
    let out = translate_tools(&found, &flash()).unwrap();
    let decls = out.tools.unwrap()[0].declarations();
    assert_eq!(decls.len(), 2);
}

const AGENT_TOOLS: &str = include_str!("../../../tests/fixtures/anthropic/agent-tools.json");

/// The translated tools of `req` for `model`, with what was left out, as one JSON value.
fn translated(req: &MessagesRequest, model: &str) -> Value {
    let out = translate_tools(req, &ModelInfo::from_name(model)).unwrap();
    json!({"tools": out.tools, "toolConfig": out.tool_config, "leftOut": out.left_out})
}

fn declared_names(out: &Value) -> Vec<&str> {
    out["tools"][0]["functionDeclarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect()
}

#[test]
fn typed_tools_become_functions_built_in_tools_or_are_left_out_and_named() {
    let req: MessagesRequest = serde_json::from_str(AGENT_TOOLS).unwrap();
    let out = translated(&req, "gemini-3.8-flash");
    crate::snapshot::assert_snapshot("anthropic", "agent-tools.gemini-3.8-flash.json", &out);
    // Client tools are functions with their fixed schemas; the deferred tool shows because
    // the tool search that could reveal it is a server tool left out.
    assert_eq!(
        declared_names(&out),
        [
            "Read",
            "bash",
            "str_replace_based_edit_tool",
            "memory",
            "Later"
        ]
    );
    assert_eq!(
        out["tools"][0]["functionDeclarations"][1]["parametersJsonSchema"]["properties"]["command"]
            ["type"],
        "string"
    );
    // Web search and fetch go beside them, which Gemini takes only with the flag.
    assert_eq!(out["tools"][0]["googleSearch"], json!({}));
    assert_eq!(out["tools"][0]["urlContext"], json!({}));
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}, "includeServerSideToolInvocations": true})
    );
    assert_eq!(
        out["leftOut"],
        json!([
            "code_execution_20250825",
            "advisor_20260301",
            "mcp_toolset",
            "tool_search_tool_regex_20251119"
        ])
    );
}

#[test]
fn a_model_without_built_in_tools_beside_functions_leaves_web_search_out() {
    let req: MessagesRequest = serde_json::from_str(AGENT_TOOLS).unwrap();
    let out = translated(&req, "gemini-2.0-flash");
    crate::snapshot::assert_snapshot("anthropic", "agent-tools.gemini-2.0-flash.json", &out);
    assert!(out["tools"][0].get("googleSearch").is_none(), "{out}");
    assert!(out["tools"][0].get("urlContext").is_none(), "{out}");
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    let left: Vec<&str> = out["leftOut"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        left.ends_with(&["web_search_20250305", "web_fetch_20250910"]),
        "{left:?}"
    );
    // Strict schemas: the client tools' are written in the OpenAPI subset too.
    let bash = &out["tools"][0]["functionDeclarations"][1];
    assert_eq!(bash["parameters"]["type"], "OBJECT", "{bash}");
}

#[test]
fn web_search_alone_is_google_search_and_naming_it_in_tool_choice_forces_nothing() {
    let only_search = request(json!({"model": "m", "messages": [],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}],
        "tool_choice": {"type": "tool", "name": "web_search"}}));
    for model in ["gemini-3.8-flash", "gemini-2.0-flash"] {
        let out = translated(&only_search, model);
        assert_eq!(out["tools"], json!([{"googleSearch": {}}]), "{model}");
        // Gemini refuses a calling config without declarations.
        assert!(out["toolConfig"].is_null(), "{model}");
        assert_eq!(out["leftOut"], json!([]));
    }
    let beside = request(json!({"model": "m", "messages": [],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}, tool("Read")],
        "tool_choice": {"type": "tool", "name": "web_search"}}));
    let out = translated(&beside, "gemini-3.8-flash");
    assert_eq!(
        out["toolConfig"],
        json!({"includeServerSideToolInvocations": true})
    );
    // Forcing a function still forces it, the flag kept.
    let mut forced = beside.clone();
    forced.tool_choice = Some(ToolChoice::Tool {
        name: "Read".into(),
    });
    let out = translated(&forced, "gemini-3.8-flash");
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Read"]},
            "includeServerSideToolInvocations": true})
    );
}

#[test]
fn server_tools_alone_leave_no_tools_and_no_config() {
    let req = request(
        json!({"model": "m", "messages": [], "tool_choice": {"type": "any"},
        "tools": [{"type": "advisor_20260301", "name": "advisor"},
            {"type": "code_execution_20250825", "name": "code_execution"}]}),
    );
    let out = translated(&req, "gemini-3.8-flash");
    assert!(out["tools"].is_null(), "{out}");
    assert!(out["toolConfig"].is_null(), "{out}");
    assert_eq!(
        out["leftOut"],
        json!(["advisor_20260301", "code_execution_20250825"])
    );
}

#[test]
fn strict_mode_uses_parameters() {
    let req = request(json!({"model": "m", "messages": [], "tools": [tool("Read"),
        {"name": "NoArgs", "input_schema": {"type": "object", "properties": {}}}]}));
    let out = translate_tools(&req, &legacy()).unwrap();
    assert_eq!(
        serde_json::to_value(out.tools.unwrap()).unwrap(),
        json!([{"functionDeclarations": [
            {"name": "Read", "description": "d",
             "parameters": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}},
            {"name": "NoArgs"}]}])
    );
}

#[test]
fn a_remembered_tool_list_translates_as_the_first_time_and_a_bad_one_names_its_field() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "tools": [tool("CacheProbeRead"), tool("CacheProbeWrite")],
        "tool_choice": {"type": "tool", "name": "CacheProbeWrite"}});
    let first = translate_tools(&request(body.clone()), &flash()).unwrap();
    let again = translate_tools(&request(body.clone()), &flash()).unwrap();
    assert_eq!(first.tools, again.tools);
    assert_eq!(first.tool_config, again.tool_config);
    assert_eq!(
        serde_json::to_value(&again.tools).unwrap()[0]["functionDeclarations"][1]["name"],
        "CacheProbeWrite"
    );
    // The forced name is checked on a hit too.
    let mut other = body.clone();
    other["tool_choice"]["name"] = json!("Missing");
    assert!(translate_tools(&request(other), &flash()).is_err());
    let bad = request(json!({"model": "m", "messages": [],
        "tools": [tool("Ok"), {"name": 7, "description": "a number"}]}));
    let e = translate_tools(&bad, &flash()).unwrap_err().to_string();
    assert!(e.contains("tools[1]") && e.contains("name"), "{e}");
    let nameless = request(json!({"model": "m", "messages": [],
        "tools": [tool("Ok"), {"description": "no name"}]}));
    let e = translate_tools(&nameless, &flash())
        .unwrap_err()
        .to_string();
    assert!(e.contains("tools.1.name: must not be empty"), "{e}");
}
