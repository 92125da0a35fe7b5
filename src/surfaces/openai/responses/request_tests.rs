//! Responses API → Gemini: the captured Codex requests (snapshots), and one test per mapping:
//! items, custom and namespaced tools, web search, reasoning and its signatures, text formats,
//! tool choice, statelessness.

use serde_json::{json, Value};

use super::request::{to_generate_content, ToolKinds};
use super::types::{input_list, items, tools, ResponsesRequest};
use crate::surfaces::openai::body::parse_json;
use crate::surfaces::openai::chat::request::{Limits, Media};
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::signature::{id_carrying, sealed, SKIP_SIGNATURE_SENTINEL};

const CODEX_TURN1: &str = include_str!("../../../../tests/fixtures/openai/codex-turn1.json");
const CODEX_TOOL_RESULT: &str =
    include_str!("../../../../tests/fixtures/openai/codex-tool-result-turn.json");
const CODEX_GPT55: &str =
    include_str!("../../../../tests/fixtures/openai/codex-gpt-5.5-turn1.json");

fn translate(body: &Value, model: &str) -> Result<(Value, ToolKinds), OpenAiError> {
    let mut req: ResponsesRequest = parse_json(body.to_string().as_bytes())?;
    let items = items(input_list(req.input.take())?)?.list;
    let tools = tools(req.tools.take())?;
    let (g, kinds) =
        to_generate_content(&req, items, &tools, model, Limits::default(), &Media::new())?;
    Ok((serde_json::to_value(g).unwrap(), kinds))
}

fn gemini(body: Value, model: &str) -> Value {
    translate(&body, model).unwrap().0
}

fn snapshot(name: &str, actual: &Value) {
    crate::snapshot::assert_snapshot("openai", name, actual);
}

fn fixture(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap()
}

#[test]
fn codex_first_turn_translates_whole() {
    let g = gemini(fixture(CODEX_TURN1), "gemini-2.5-pro");
    snapshot("codex-turn1.gemini.json", &g);
    // Its system prompt came as developer messages; the user turn holds the task.
    assert!(g["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("You are a coding agent running in the Codex CLI"));
    assert_eq!(g["contents"].as_array().unwrap().len(), 1);
    let names: Vec<&str> = g["tools"][0]["functionDeclarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"exec_command"));
    // The namespace's tools, flattened reversibly.
    assert!(
        names.iter().any(|n| n.starts_with("multi_agent_v1.")),
        "{names:?}"
    );
    // web_search cannot go beside functions on Gemini: dropped.
    assert!(g["tools"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("googleSearch").is_none()));
    // reasoning.summary "auto" asks for thought summaries.
    assert_eq!(
        g["generationConfig"]["thinkingConfig"]["includeThoughts"],
        true
    );
    let schema = g["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"].to_string();
    assert!(
        !schema.contains("\"encrypted\"") && !schema.contains("\"strict\""),
        "{schema}"
    );
}

#[test]
fn codex_tool_result_turn_replays_the_call_and_its_output() {
    let g = gemini(fixture(CODEX_TOOL_RESULT), "gemini-2.5-pro");
    snapshot("codex-tool-result-turn.gemini.json", &g);
    let contents = g["contents"].as_array().unwrap();
    let n = contents.len();
    assert_eq!(contents[n - 2]["role"], "model");
    assert_eq!(
        contents[n - 2]["parts"][0]["functionCall"],
        json!({"name": "exec_command", "args": {"cmd": "echo hi"}})
    );
    let response = &contents[n - 1]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "exec_command");
    assert!(response["response"]["output"]
        .as_str()
        .unwrap()
        .contains("hi"));
    // On Gemini 3 the foreign call gets the documented sentinel, not a 400.
    let g3 = gemini(fixture(CODEX_TOOL_RESULT), "gemini-3-pro-preview");
    let n = g3["contents"].as_array().unwrap().len();
    assert_eq!(
        g3["contents"][n - 2]["parts"][0]["thoughtSignature"],
        SKIP_SIGNATURE_SENTINEL
    );
}

#[test]
fn codex_gpt_turn_with_custom_tool_grammar_and_tool_search() {
    let (g, kinds) = translate(&fixture(CODEX_GPT55), "gemini-2.5-pro").unwrap();
    let decls = g["tools"][0]["functionDeclarations"].as_array().unwrap();
    let patch = decls.iter().find(|d| d["name"] == "apply_patch").unwrap();
    assert_eq!(patch["parametersJsonSchema"]["required"], json!(["input"]));
    assert!(patch["description"].as_str().unwrap().contains("grammar"));
    assert_eq!(
        kinds.custom.get("apply_patch").map(String::as_str),
        Some("apply_patch")
    );
    // reasoning.effort medium on 2.5 Pro: a budget.
    assert!(
        g["generationConfig"]["thinkingConfig"]["thinkingBudget"]
            .as_i64()
            .unwrap()
            > 0
    );
}

fn body(input: Value) -> Value {
    json!({"model": "m", "input": input, "store": false})
}

#[test]
fn a_string_input_and_instructions() {
    let g = gemini(
        json!({"model": "m", "input": "hello", "instructions": "Be brief."}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        g["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}]})
    );
    assert_eq!(
        g["contents"],
        json!([{"role": "user", "parts": [{"text": "hello"}]}])
    );
}

#[test]
fn message_items_with_text_images_and_files() {
    let g = gemini(
        body(json!([
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sys"}]},
            {"role": "user", "content": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "seen"}]},
            {"type": "web_search_call", "id": "ws_1"},
        ])),
        "gemini-2.5-flash",
    );
    assert_eq!(g["systemInstruction"]["parts"], json!([{"text": "sys"}]));
    assert_eq!(
        g["contents"],
        json!([
            {"role": "user", "parts": [{"text": "see"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]},
            {"role": "model", "parts": [{"text": "seen"}]},
        ])
    );
    let e = translate(
        &body(json!([{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}])),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("input[0].content[0].image_url"));
}

#[test]
fn custom_tool_calls_travel_as_one_string_argument() {
    let tools = json!([{"type": "custom", "name": "apply_patch", "description": "Patch files.",
                        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}]);
    let g = gemini(
        json!({"model": "m", "tools": tools, "input": [
            {"role": "user", "content": "patch it"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "Done!"}]},
        ]}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        g["contents"][1]["parts"][0]["functionCall"],
        json!({"name": "apply_patch", "args": {"input": "*** Begin Patch"}})
    );
    assert_eq!(
        g["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "apply_patch", "response": {"output": "Done!"}})
    );
    let d = &g["tools"][0]["functionDeclarations"][0];
    assert!(d["description"].as_str().unwrap().contains("start: /.+/"));
}

#[test]
fn namespaced_functions_are_flattened_and_their_calls_named_back() {
    let tools = json!([{"type": "namespace", "name": "mcp", "tools": [
        {"type": "function", "name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}]);
    let (g, kinds) = translate(
        &json!({"model": "m", "tools": tools, "input": [
            {"role": "user", "content": "find"},
            {"type": "function_call", "call_id": "c", "namespace": "mcp", "name": "search", "arguments": "{\"q\":\"x\"}"},
            {"type": "function_call_output", "call_id": "c", "output": "found"}]}),
        "gemini-2.5-flash",
    )
    .unwrap();
    assert_eq!(
        g["tools"][0]["functionDeclarations"][0]["name"],
        "mcp.search"
    );
    assert_eq!(
        g["contents"][1]["parts"][0]["functionCall"]["name"],
        "mcp.search"
    );
    assert_eq!(
        kinds.namespaced.get("mcp.search"),
        Some(&("mcp".to_string(), "search".to_string()))
    );
}

#[test]
fn web_search_is_google_search_only_when_no_function_goes_with_it() {
    let alone = gemini(
        json!({"model": "m", "input": "news?", "tools": [{"type": "web_search"}]}),
        "gemini-2.5-flash",
    );
    assert_eq!(alone["tools"], json!([{"googleSearch": {}}]));
    let with_functions = gemini(
        json!({"model": "m", "input": "news?", "tools": [{"type": "web_search"},
            {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}]}),
        "gemini-2.5-flash",
    );
    assert_eq!(with_functions["tools"].as_array().unwrap().len(), 1);
    assert!(with_functions["tools"][0].get("googleSearch").is_none());
}

#[test]
fn reasoning_items_carry_gemini3_signatures_to_the_next_call() {
    let family = crate::models::ModelInfo::signature_family("gemini-3-pro-preview");
    let call = |call_id: &str| json!({"type": "function_call", "call_id": call_id, "name": "f", "arguments": "{}"});
    let turn = |items: Vec<Value>| {
        let mut input = vec![json!({"role": "user", "content": "go"})];
        let call_id = items.last().unwrap()["call_id"].clone();
        input.extend(items);
        input.push(json!({"type": "function_call_output", "call_id": call_id, "output": "ok"}));
        let g = gemini(
            json!({"model": "m", "input": input, "tools": [{"type": "function", "name": "f"}]}),
            "gemini-3-pro-preview",
        );
        g["contents"][1]["parts"][0]["thoughtSignature"].clone()
    };
    let reasoning = json!({"type": "reasoning", "id": "rs_1", "summary": [],
                           "encrypted_content": sealed(&family, "c2lnLXI=")});
    assert_eq!(turn(vec![reasoning, call("c")]), "c2lnLXI=");
    // A client that drops the reasoning item still has the call_id.
    assert_eq!(
        turn(vec![call(&id_carrying("call_", &family, Some("c2lnLWM=")))]),
        "c2lnLWM="
    );
    // A signature of another family, or none: the sentinel.
    let other = json!({"type": "reasoning", "encrypted_content": sealed("2.5", "b2xk")});
    assert_eq!(turn(vec![other, call("c")]), SKIP_SIGNATURE_SENTINEL);
    let openai_blob = json!({"type": "reasoning", "encrypted_content": "gAAAAABopaque"});
    assert_eq!(turn(vec![openai_blob, call("c")]), SKIP_SIGNATURE_SENTINEL);
}

#[test]
fn reasoning_effort_summary_text_format_and_limits() {
    let config = |extra: Value, model: &str| {
        let mut b = json!({"model": "m", "input": "x"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        gemini(b, model)["generationConfig"].clone()
    };
    assert_eq!(
        config(
            json!({"reasoning": {"effort": "high", "summary": "detailed"}}),
            "gemini-3-pro-preview"
        )["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingLevel": "HIGH"})
    );
    assert_eq!(
        config(json!({"reasoning": {"effort": "none"}}), "gemini-2.5-flash")["thinkingConfig"],
        json!({"thinkingBudget": 0})
    );
    let c = config(
        json!({"text": {"format": {"type": "json_schema", "name": "o", "strict": true,
               "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}, "verbosity": "low"},
               "max_output_tokens": 300, "temperature": 0.3, "top_p": 0.7}),
        "gemini-2.5-flash",
    );
    assert_eq!(c["responseMimeType"], "application/json");
    assert_eq!(
        c["responseJsonSchema"]["properties"]["a"],
        json!({"type": "string"})
    );
    assert_eq!(
        (
            c["maxOutputTokens"].clone(),
            c["temperature"].clone(),
            c["topP"].clone()
        ),
        (json!(300), json!(0.3), json!(0.7))
    );
    let e = translate(
        &json!({"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("reasoning.effort"));
}

#[test]
fn tool_choice_for_the_responses_api() {
    let choice = |c: Value| {
        let g = gemini(
            json!({"model": "m", "input": "x", "tool_choice": c,
                   "tools": [{"type": "function", "name": "f"}, {"type": "custom", "name": "g"}]}),
            "gemini-2.5-flash",
        );
        g.get("toolConfig").cloned()
    };
    assert_eq!(choice(json!("auto")), None);
    assert_eq!(
        choice(json!("none")),
        Some(json!({"functionCallingConfig": {"mode": "NONE"}}))
    );
    assert_eq!(
        choice(json!("required")),
        Some(json!({"functionCallingConfig": {"mode": "ANY"}}))
    );
    assert_eq!(
        choice(json!({"type": "function", "name": "f"})),
        Some(json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}))
    );
    assert_eq!(
        choice(json!({"type": "custom", "name": "g"})),
        Some(json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}}))
    );
}

#[test]
fn bad_items_are_a_400_naming_them() {
    for (input, param) in [
        (
            json!([{"type": "function_call_output", "call_id": "nope", "output": "x"}]),
            "input[0].call_id",
        ),
        (
            json!([{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[]"}]),
            "input[0].arguments",
        ),
        (
            json!([{"type": "function_call", "name": "f"}]),
            "input[0].call_id",
        ),
        (
            json!([{"type": "message", "content": "no role"}]),
            "input[0].role",
        ),
        (json!(42), "input"),
        (json!([]), "input"),
    ] {
        let e = translate(&body(input.clone()), "gemini-2.5-flash").unwrap_err();
        assert_eq!(e.status, 400, "{input}");
        assert_eq!(e.param.as_deref(), Some(param), "{input}: {}", e.message);
    }
}
