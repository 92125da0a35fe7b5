//! Request translation tests: one per contract item, plus snapshots of the Claude Code captures.

use super::*;
use crate::surfaces::anthropic::signatures::SKIP_SIGNATURE_SENTINEL;
use serde_json::{json, Value};

const FIRST_TURN: &str =
    include_str!("../../../tests/fixtures/anthropic/claude-code-first-turn.json");
const TOOL_RESULT_TURN: &str =
    include_str!("../../../tests/fixtures/anthropic/claude-code-tool-result-turn.json");

fn opts() -> TranslateOptions {
    TranslateOptions {
        models: ModelMap {
            big: "gemini-2.5-pro".into(),
            small: "gemini-2.5-flash".into(),
        },
        max_tokens_limit: None,
    }
}

fn parse(body: Value) -> MessagesRequest {
    parse_messages_request(body.to_string().as_bytes()).unwrap()
}

/// Translate `body` for `model` and return the Gemini body as JSON.
fn gemini(body: Value, model: &str) -> Value {
    let req = parse(body);
    serde_json::to_value(to_generate_content(&req, model, &opts()).unwrap()).unwrap()
}

fn body(messages: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages})
}

fn invalid(body: &str) -> String {
    let err = parse_messages_request(body.as_bytes()).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert_eq!(err.body()["error"]["type"], "invalid_request_error");
    err.to_string()
}

/// Compare with `tests/fixtures/anthropic/expected/<name>`; `UPDATE_SNAPSHOTS=1` rewrites it.
fn snapshot(name: &str, actual: &Value) {
    let path = format!(
        "{}/tests/fixtures/anthropic/expected/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let pretty = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(actual, &expected, "snapshot {name} differs");
}

// ----- validation ------------------------------------------------------------------------------

#[test]
fn required_fields_are_checked() {
    assert!(
        invalid(r#"{"max_tokens": 1, "messages": [{"role":"user","content":"x"}]}"#)
            .contains("model: field required")
    );
    assert!(invalid(r#"{"model": "claude-haiku", "max_tokens": 1}"#).contains("messages"));
    assert!(
        invalid(r#"{"model": "claude-haiku", "messages": [{"role":"user","content":"x"}]}"#)
            .contains("max_tokens: field required")
    );
    assert!(invalid(
        r#"{"model": "m", "max_tokens": 0, "messages": [{"role":"user","content":"x"}]}"#
    )
    .contains("max_tokens"));
    // count_tokens has no max_tokens.
    let req = parse_count_tokens_request(
        br#"{"model": "claude-haiku", "messages": [{"role":"user","content":"x"}]}"#,
    )
    .unwrap();
    assert_eq!(req.max_tokens, None);
    assert!(to_generate_content(&req, "gemini-2.5-flash", &opts()).is_err());
}

#[test]
fn wrong_types_name_the_field() {
    let msg = invalid(r#"{"model": "m", "max_tokens": "many", "messages": []}"#);
    assert!(msg.starts_with("max_tokens: invalid type"), "{msg}");
    let msg =
        invalid(r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 7}]}"#);
    assert!(
        msg.starts_with("messages[0].content: invalid type"),
        "{msg}"
    );
    assert!(
        msg.contains("a string or an array of content blocks"),
        "{msg}"
    );
    let msg = invalid(
        r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}"#,
    );
    assert!(
        msg.starts_with("messages[0].role: unknown variant"),
        "{msg}"
    );
    let msg = invalid(
        r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}"#,
    );
    assert!(msg.contains("missing field `text`"), "{msg}");
    assert!(invalid("{not json").starts_with("request body is not valid JSON"));
    assert!(invalid("").starts_with("request body is not valid JSON"));
    assert_eq!(invalid("[]"), "request body must be a JSON object");
    assert!(invalid(r#"{"model": "m"} trailing"#).starts_with("request body is not valid JSON"));
    assert!(invalid(r#"{"model": "m", "max_tokens": 5, "messages": [{"role":"user","content":"x"}], "temperature": 9}"#)
        .contains("temperature"));
}

#[test]
fn claude_code_captures_parse() {
    for raw in [FIRST_TURN, TOOL_RESULT_TURN] {
        let req = parse_messages_request(raw.as_bytes()).unwrap();
        assert_eq!(req.model, "claude-opus-5-5");
        assert_eq!(req.max_tokens, Some(128000));
        assert!(parse_count_tokens_request(raw.as_bytes()).is_ok());
    }
}

// ----- Claude Code captures --------------------------------------------------------------------

#[test]
fn first_turn_snapshot_gemini_25_pro() {
    let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
    let model = resolve_model_for_test(&req.model);
    assert_eq!(model, "gemini-2.5-pro");
    let out = serde_json::to_value(to_generate_content(&req, &model, &opts()).unwrap()).unwrap();
    snapshot("first-turn.gemini-2.5-pro.json", &out);

    let system = out["systemInstruction"]["parts"].as_array().unwrap();
    assert!(system.iter().all(|p| !p["text"]
        .as_str()
        .unwrap()
        .contains("x-anthropic-billing-header")));
    assert!(system.last().unwrap()["text"]
        .as_str()
        .unwrap()
        .starts_with("# Environment"));
    let contents = out["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["role"], "user");
    assert_eq!(contents[0]["parts"][1]["text"], "say pong");
    let decls = out["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert_eq!(decls.len(), 11, "DeferredToolPlaceholder stays hidden");
    assert!(!out.to_string().contains("$schema"));
    assert!(!out.to_string().contains("cache_control"));
    assert_eq!(out["generationConfig"]["maxOutputTokens"], 65536);
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 8192})
    );
}

#[test]
fn tool_result_turn_snapshot_gemini_3() {
    let req = parse_messages_request(TOOL_RESULT_TURN.as_bytes()).unwrap();
    let out =
        serde_json::to_value(to_generate_content(&req, "gemini-3-pro-preview", &opts()).unwrap())
            .unwrap();
    snapshot("tool-result-turn.gemini-3-pro-preview.json", &out);
    let contents = out["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3);
    assert_eq!(
        contents[1],
        json!({"role": "model", "parts": [{
            "functionCall": {"name": "Bash", "args": {
                "command": "echo gateway-proof-73 > proof.txt && cat proof.txt",
                "description": "Write proof"}},
            "thoughtSignature": SKIP_SIGNATURE_SENTINEL}]})
    );
    assert_eq!(
        contents[2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": "Bash",
            "response": {"output": "gateway-proof-73"}}}]})
    );
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({"thinkingLevel": "HIGH"}),
        "adaptive + effort medium on 3 Pro (LOW/HIGH only) rounds up"
    );
}

fn resolve_model_for_test(client: &str) -> String {
    crate::surfaces::anthropic::resolve_model(client, &opts().models).unwrap()
}

// ----- system ----------------------------------------------------------------------------------

#[test]
fn system_string_blocks_and_system_messages() {
    let out = gemini(
        json!({"model": "m", "max_tokens": 10,
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1; cch=abc;"},
                       {"type": "text", "text": "You are helpful.", "cache_control": {"type": "ephemeral"}},
                       {"type": "text", "text": ""}],
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "system", "content": "env block"},
                         {"role": "user", "content": [{"type": "text", "text": "more"}]}]}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["systemInstruction"],
        json!({"parts": [{"text": "You are helpful."}, {"text": "env block"}]})
    );
    assert_eq!(
        out["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}, {"text": "more"}]}])
    );
    let out = gemini(
        json!({"model": "m", "max_tokens": 10, "system": "plain",
            "messages": [{"role": "user", "content": "hi"}]}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["systemInstruction"],
        json!({"parts": [{"text": "plain"}]})
    );
}

// ----- content blocks --------------------------------------------------------------------------

#[test]
fn images_and_documents() {
    let out = gemini(
        body(json!([{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpg", "data": "/9j/"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.webp?x=1"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
            {"type": "document", "title": "Notes", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
            {"type": "document", "source": {"type": "url", "url": "https://x.test/doc"}},
            {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "chunk"}]}},
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
        ]}])),
        "gemini-2.5-flash",
    );
    let parts = out["contents"][0]["parts"].as_array().unwrap();
    assert_eq!(
        parts[0],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}})
    );
    assert_eq!(
        parts[1],
        json!({"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}})
    );
    assert!(parts[2]["text"].as_str().unwrap().contains("image/gif"));
    assert_eq!(
        parts[3],
        json!({"fileData": {"fileUri": "https://x.test/a.webp?x=1", "mimeType": "image/webp"}})
    );
    assert_eq!(
        parts[4],
        json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}})
    );
    assert_eq!(parts[5], json!({"text": "Notes\n\nhello"}));
    assert_eq!(
        parts[6],
        json!({"fileData": {"fileUri": "https://x.test/doc", "mimeType": "application/pdf"}})
    );
    assert_eq!(parts[7], json!({"text": "chunk"}));
    assert!(parts[8]["text"].as_str().unwrap().contains("file_1"));
}

#[test]
fn unknown_and_server_blocks_are_dropped_never_an_error() {
    let out = gemini(
        body(json!([
            {"role": "user", "content": [{"type": "text", "text": "search", "cache_control": {"type": "ephemeral"}},
                                         {"type": "container_upload", "file_id": "f"}]},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "found it", "citations": [{"type": "web_search_result_location"}]}]},
            {"role": "user", "content": [
                {"type": "search_result", "source": "https://s", "title": "T", "content": [{"type": "text", "text": "body"}]},
                {"type": "something_new", "x": 1}]}
        ])),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "search"}]},
            {"role": "model", "parts": [{"text": "found it"}]},
            {"role": "user", "parts": [{"text": "T\nhttps://s\n\nbody"}]}
        ])
    );
}

#[test]
fn empty_text_never_sent_and_empty_turns_merged_away() {
    let out = gemini(
        body(json!([
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": ""}]},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "second"}]},
            {"role": "assistant", "content": "reply"},
            {"role": "assistant", "content": [{"type": "text", "text": "more"}]},
            {"role": "user", "content": ""},
            {"role": "user", "content": "third"}
        ])),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "first"}, {"text": "second"}]},
            {"role": "model", "parts": [{"text": "reply"}, {"text": "more"}]},
            {"role": "user", "parts": [{"text": "third"}]}
        ])
    );
    let req = parse(body(json!([{"role": "user", "content": ""}])));
    let err = to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap_err();
    assert_eq!(err.status(), 400);
}

#[test]
fn prefill_assistant_turn_is_kept() {
    let out = gemini(
        body(json!([{"role": "user", "content": "json please"},
                    {"role": "assistant", "content": "{"}])),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["contents"][1],
        json!({"role": "model", "parts": [{"text": "{"}]})
    );
}

// ----- tools in the conversation ---------------------------------------------------------------

#[test]
fn parallel_calls_results_in_call_order_with_errors_images_and_missing() {
    let out = gemini(
        body(json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "running"},
                {"type": "tool_use", "id": "toolu_a", "name": "Read", "input": {"file_path": "/a.png"}},
                {"type": "tool_use", "id": "toolu_b", "name": "Bash", "input": {"command": "false"}},
                {"type": "tool_use", "id": "toolu_c", "name": "Grep", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_b", "is_error": true, "content": "exit 1"},
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": [
                    {"type": "text", "text": "image follows"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "again"},
                {"type": "text", "text": "<system-reminder>x</system-reminder>"}]}
        ])),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["contents"][1]["parts"],
        json!([{"text": "running"},
               {"functionCall": {"name": "Read", "args": {"file_path": "/a.png"}}},
               {"functionCall": {"name": "Bash", "args": {"command": "false"}}},
               {"functionCall": {"name": "Grep", "args": {}}}])
    );
    assert_eq!(
        out["contents"][2]["parts"],
        json!([
            {"functionResponse": {"name": "Read", "response": {"output": "image follows"}}},
            {"functionResponse": {"name": "Bash", "response": {"error": "exit 1"}}},
            {"functionResponse": {"name": "Grep", "response": {"error": "No result was provided for this tool call."}}},
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"text": "[Result of tool call toolu_a (Read)]\nagain"},
            {"text": "<system-reminder>x</system-reminder>"}
        ])
    );
    assert!(!out.to_string().contains("\"id\""), "no ids sent to Gemini");
}

#[test]
fn unanswered_trailing_tool_use_is_invalid() {
    let req = parse(body(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_x", "name": "Bash", "input": {}}]}
    ])));
    let err = to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("toolu_x"));
}

#[test]
fn non_object_tool_input_is_invalid() {
    let req = parse(body(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": "ls"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}
    ])));
    let err = to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap_err();
    assert!(
        err.to_string().contains("messages.1.content.0.input"),
        "{err}"
    );
}

// ----- thought signatures ----------------------------------------------------------------------

fn signed_history(sig: &str) -> Value {
    body(json!([
        {"role": "user", "content": "create the file"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "**Planning** summary", "signature": ""},
            {"type": "text", "text": "I will create it."},
            {"type": "thinking", "thinking": "", "signature": sig},
            {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"file_path": "a.txt"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}
    ]))
}

#[test]
fn gateway_signature_is_reattached_to_its_function_call() {
    for model in ["gemini-2.5-flash", "gemini-2.5-pro"] {
        let out = gemini(signed_history("gm1|fc|2.5|EokDCoYD+abc/="), model);
        assert_eq!(
            out["contents"][1]["parts"],
            json!([{"text": "I will create it."},
                   {"functionCall": {"name": "Write", "args": {"file_path": "a.txt"}},
                    "thoughtSignature": "EokDCoYD+abc/="}]),
            "{model}: thinking text is not replayed, signature goes on the call"
        );
    }
    let out = gemini(signed_history("gm1|fc|3|G3SIG"), "gemini-3-flash-preview");
    assert_eq!(out["contents"][1]["parts"][1]["thoughtSignature"], "G3SIG");
}

#[test]
fn foreign_or_cross_family_signatures_are_never_forwarded() {
    // A real Anthropic signature: dropped; on 2.5 the call simply has no signature.
    let out = gemini(
        signed_history("EqQBCkYIBxgCKkBanthropic"),
        "gemini-2.5-flash",
    );
    let call = &out["contents"][1]["parts"][1];
    assert!(call.get("thoughtSignature").is_none());
    assert!(!out.to_string().contains("anthropic"));
    // On Gemini 3 the call gets the sentinel instead.
    let out = gemini(
        signed_history("EqQBCkYIBxgCKkBanthropic"),
        "gemini-3-pro-preview",
    );
    assert_eq!(
        out["contents"][1]["parts"][1]["thoughtSignature"],
        SKIP_SIGNATURE_SENTINEL
    );
    // A 2.5 signature replayed to Gemini 3: dropped, sentinel used.
    let out = gemini(signed_history("gm1|fc|2.5|OLD"), "gemini-3-pro-preview");
    assert_eq!(
        out["contents"][1]["parts"][1]["thoughtSignature"],
        SKIP_SIGNATURE_SENTINEL
    );
    assert!(!out.to_string().contains("OLD"));
}

#[test]
fn text_signature_goes_back_on_its_text_part() {
    let out = gemini(
        body(json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "hello"},
                {"type": "thinking", "thinking": "", "signature": "gm1|tx|3|TSIG"}]},
            {"role": "user", "content": "again"}
        ])),
        "gemini-3-flash-preview",
    );
    assert_eq!(
        out["contents"][1]["parts"],
        json!([{"text": "hello", "thoughtSignature": "TSIG"}])
    );
}

// ----- generation config -----------------------------------------------------------------------

#[test]
fn max_tokens_is_clamped() {
    let msgs = json!([{"role": "user", "content": "x"}]);
    let with = |max: u32, model: &str, limit: Option<u32>| {
        let req = parse(json!({"model": "m", "max_tokens": max, "messages": msgs}));
        let opts = TranslateOptions {
            max_tokens_limit: limit,
            ..opts()
        };
        to_generate_content(&req, model, &opts)
            .unwrap()
            .generation_config
            .unwrap()
            .max_output_tokens
            .unwrap()
    };
    assert_eq!(with(128000, "gemini-2.5-pro", None), 65536);
    assert_eq!(with(128000, "gemini-3-pro-preview", None), 65536);
    assert_eq!(with(32000, "gemini-2.0-flash", None), 8192);
    assert_eq!(with(32000, "gemini-2.5-flash", Some(16384)), 16384);
    assert_eq!(with(512, "gemini-2.5-flash", Some(16384)), 512);
}

#[test]
fn sampling_and_stop_sequences() {
    let out = gemini(
        json!({"model": "m", "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["a", "", "b", "c", "d", "e", "f", "g"],
            "messages": [{"role": "user", "content": "x"}]}),
        "gemini-2.0-flash",
    );
    assert_eq!(
        out["generationConfig"],
        json!({"maxOutputTokens": 100, "temperature": 0.2, "topP": 0.9, "topK": 40,
            "stopSequences": ["a", "b", "c", "d", "e"]})
    );
}

#[test]
fn structured_output_format() {
    let out = gemini(
        json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}],
            "output_config": {"format": {"type": "json_schema", "schema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": 0}}}}}}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        out["generationConfig"]["responseJsonSchema"],
        json!({"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}})
    );
}

fn thinking_for(thinking: Value, effort: Option<&str>, model: &str) -> Value {
    let mut b =
        json!({"model": "m", "max_tokens": 64000, "messages": [{"role": "user", "content": "x"}]});
    if !thinking.is_null() {
        b["thinking"] = thinking;
    }
    if let Some(e) = effort {
        b["output_config"] = json!({"effort": e});
    }
    gemini(b, model)["generationConfig"]
        .get("thinkingConfig")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn thinking_mapping_gemini_25() {
    let disabled = json!({"type": "disabled"});
    assert_eq!(
        thinking_for(Value::Null, None, "gemini-2.5-flash"),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        thinking_for(disabled.clone(), None, "gemini-2.5-flash-lite"),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        thinking_for(disabled, None, "gemini-2.5-pro"),
        json!({"thinkingBudget": 128}),
        "2.5 Pro cannot disable thinking"
    );
    let enabled = |b: u32| json!({"type": "enabled", "budget_tokens": b});
    assert_eq!(
        thinking_for(enabled(8000), None, "gemini-2.5-flash"),
        json!({"thinkingBudget": 8000, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(60000), None, "gemini-2.5-pro"),
        json!({"thinkingBudget": 32768, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(60000), None, "gemini-2.5-flash"),
        json!({"thinkingBudget": 24576, "includeThoughts": true})
    );
    let adaptive = json!({"type": "adaptive"});
    assert_eq!(
        thinking_for(adaptive.clone(), None, "gemini-2.5-pro"),
        json!({"thinkingBudget": -1, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(adaptive.clone(), Some("low"), "gemini-2.5-pro"),
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(adaptive, Some("max"), "gemini-2.5-flash"),
        json!({"thinkingBudget": 24576, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(
            json!({"type": "adaptive", "display": "omitted"}),
            Some("medium"),
            "gemini-2.5-flash"
        ),
        json!({"thinkingBudget": 8192})
    );
}

#[test]
fn thinking_mapping_gemini_3_and_others() {
    assert_eq!(
        thinking_for(Value::Null, None, "gemini-3-pro-preview"),
        json!({"thinkingLevel": "LOW"})
    );
    assert_eq!(
        thinking_for(json!({"type": "disabled"}), None, "gemini-3-flash-preview"),
        json!({"thinkingLevel": "MINIMAL"})
    );
    let enabled = |b: u32| json!({"type": "enabled", "budget_tokens": b});
    assert_eq!(
        thinking_for(enabled(1024), None, "gemini-3-flash-preview"),
        json!({"thinkingLevel": "LOW", "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-3-flash-preview"),
        json!({"thinkingLevel": "MEDIUM", "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-3-pro-preview"),
        json!({"thinkingLevel": "HIGH", "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(json!({"type": "adaptive"}), None, "gemini-3-pro-preview"),
        json!({"includeThoughts": true})
    );
    assert_eq!(
        thinking_for(
            json!({"type": "adaptive", "display": "omitted"}),
            Some("xhigh"),
            "gemini-3.1-pro"
        ),
        json!({"thinkingLevel": "HIGH"})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-2.0-flash"),
        Value::Null
    );
    assert_eq!(
        thinking_for(Value::Null, None, "gemini-flash-latest"),
        Value::Null
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-flash-latest"),
        json!({"thinkingBudget": 4000, "includeThoughts": true})
    );
}

// ----- count_tokens ----------------------------------------------------------------------------

#[test]
fn count_tokens_wraps_a_generate_content_request() {
    let req = parse_count_tokens_request(
        json!({"model": "claude-haiku-4-5", "system": "sys",
            "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"c": {"type": "string"}}}}],
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let out = to_count_tokens(&req, "gemini-2.5-flash", &opts()).unwrap();
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "tools": [{"functionDeclarations": [{"name": "Bash",
                "parametersJsonSchema": {"type": "object", "properties": {"c": {"type": "string"}}}}]}]
        }})
    );
    let full = parse_count_tokens_request(FIRST_TURN.as_bytes()).unwrap();
    let out = to_count_tokens(&full, "models/gemini-2.5-pro", &opts()).unwrap();
    let inner = out.generate_content_request.unwrap();
    assert_eq!(inner.model.as_deref(), Some("models/gemini-2.5-pro"));
    assert!(inner.system_instruction.is_some() && inner.tools.is_some());
    assert!(inner.generation_config.is_none());
}

#[test]
fn legacy_models_get_strict_parameters() {
    let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
    let out = serde_json::to_value(to_generate_content(&req, "gemini-2.0-flash", &opts()).unwrap())
        .unwrap();
    let decls = out["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert!(decls
        .iter()
        .all(|d| d.get("parametersJsonSchema").is_none()));
    assert_eq!(decls[0]["parameters"]["type"], "OBJECT");
}

/// Rough cost of parse + translate + serialize of the largest capture:
/// `cargo test --release -p gemini-gateway --lib bench_first_turn -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_first_turn() {
    let start = std::time::Instant::now();
    let n = 2000;
    for _ in 0..n {
        let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
        let out = to_generate_content(&req, "gemini-2.5-pro", &opts()).unwrap();
        let bytes = serde_json::to_vec(&out).unwrap();
        std::hint::black_box(bytes);
    }
    eprintln!("per request: {:?}", start.elapsed() / n);
    let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(to_generate_content(&req, "gemini-2.5-pro", &opts()).unwrap());
    }
    eprintln!("translate only: {:?}", start.elapsed() / n);
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(parse_messages_request(FIRST_TURN.as_bytes()).unwrap());
    }
    eprintln!("parse only: {:?}", start.elapsed() / n);
}

// ----- hostile input ---------------------------------------------------------------------------

fn with_user_blocks(blocks: Value) -> String {
    body(json!([{"role": "user", "content": blocks}])).to_string()
}

#[test]
fn image_and_document_base64_must_decode() {
    let msg = invalid(&with_user_blocks(json!([{"type": "text", "text": "hi"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "not base64!"}}])));
    assert_eq!(
        msg,
        "messages.0.content.1.source.data: the image data is not valid base64"
    );
    let msg = invalid(&with_user_blocks(json!([
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}]))); // bad length
    assert_eq!(
        msg,
        "messages.0.content.0.source.data: the document data is not valid base64"
    );
    let msg = invalid(&with_user_blocks(json!([
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}])));
    assert!(msg.ends_with("must not be empty"), "{msg}");
    let msg = invalid(&with_user_blocks(json!([
        {"type": "document", "source": {"type": "base64", "media_type": " ", "data": "AAAA"}}])));
    assert_eq!(
        msg,
        "messages.0.content.0.source.media_type: must not be empty"
    );
    let msg = invalid(&with_user_blocks(
        json!([{"type": "image", "source": {"type": "url", "url": ""}}]),
    ));
    assert_eq!(msg, "messages.0.content.0.source.url: must not be empty");
    // Inside a tool result, the path goes down to the nested block.
    let msg = invalid(
        &body(json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA-_"}}]}]}
        ]))
        .to_string(),
    );
    assert_eq!(
        msg,
        "messages.2.content.0.content.0.source.data: the image data is not valid base64"
    );
}

#[test]
fn tool_ids_must_be_present_unique_and_referenced() {
    let call =
        |id: &str, name: &str| json!({"type": "tool_use", "id": id, "name": name, "input": {}});
    let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"});
    let convo = |calls: Value, results: Value| {
        body(json!([{"role": "user", "content": "go"},
            {"role": "assistant", "content": calls},
            {"role": "user", "content": results}]))
        .to_string()
    };
    assert_eq!(
        invalid(&convo(json!([call("", "Bash")]), json!([result("x")]))),
        "messages.1.content.0.id: must not be empty"
    );
    assert_eq!(
        invalid(&convo(json!([call("t1", "")]), json!([result("t1")]))),
        "messages.1.content.0.name: must not be empty"
    );
    let msg = invalid(&convo(
        json!([call("t1", "Bash"), call("t1", "Read")]),
        json!([result("t1")]),
    ));
    assert!(
        msg.starts_with("messages.1.content.1.id: `tool_use` ids must be unique"),
        "{msg}"
    );
    let msg = invalid(&convo(json!([call("t1", "Bash")]), json!([result("t2")])));
    assert!(
        msg.starts_with(
            "messages.2.content.0.tool_use_id: unexpected `tool_use_id` found in `tool_result` blocks: t2"
        ),
        "{msg}"
    );
    assert_eq!(
        invalid(&convo(json!([call("t1", "Bash")]), json!([result("")]))),
        "messages.2.content.0.tool_use_id: must not be empty"
    );
    // An assistant message calling tools cannot open the conversation (Gemini refuses it).
    let req = parse(body(json!([
        {"role": "assistant", "content": [call("t1", "Bash")]},
        {"role": "user", "content": [result("t1")]}
    ])));
    let err = to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("must follow a user message"),
        "{err}"
    );
}

#[test]
fn absurd_numbers_are_refused_and_never_echoed_whole() {
    for bad in [
        json!(-1),
        json!(4_294_967_296u64),
        json!(1.5),
        json!("100"),
        json!(null),
    ] {
        let mut b = body(json!([{"role": "user", "content": "x"}]));
        b["max_tokens"] = bad.clone();
        let msg = invalid(&b.to_string());
        assert!(msg.starts_with("max_tokens"), "{bad}: {msg}");
    }
    for (field, bad) in [
        ("top_k", json!(-1)),
        ("top_k", json!(3_000_000_000u64)),
        ("top_k", json!(1e300)),
        ("temperature", json!(1e300)),
        ("temperature", json!("NaN")),
        ("top_p", json!(-0.5)),
    ] {
        let mut b = body(json!([{"role": "user", "content": "x"}]));
        b[field] = bad.clone();
        let msg = invalid(&b.to_string());
        assert!(msg.starts_with(field), "{field}={bad}: {msg}");
    }
    // Numbers that do not fit a double are not JSON we can read.
    assert!(invalid(
        r#"{"model": "claude-sonnet-4-5", "max_tokens": 1, "temperature": 1e999, "messages": [{"role":"user","content":"x"}]}"#
    )
    .contains("number out of range"));
    // A huge string where a number belongs is quoted, but only in part.
    let mut b = body(json!([{"role": "user", "content": "x"}]));
    b["max_tokens"] = json!("9".repeat(100_000));
    let msg = invalid(&b.to_string());
    assert!(msg.len() < 1_000, "{}", msg.len());
    let mut b = body(json!([{"role": "user", "content": "x"}]));
    b["model"] = json!(format!("gpt-{}", "x".repeat(100_000)));
    let req = parse(b);
    let err = resolve_model_for_test_err(&req.model);
    assert!(err.len() < 1_000, "{}", err.len());
}

fn resolve_model_for_test_err(client: &str) -> String {
    crate::surfaces::anthropic::resolve_model(client, &opts().models)
        .unwrap_err()
        .to_string()
}

#[test]
fn gemini_model_names_must_be_plain_ids() {
    for bad in [
        "gemini-2.5-flash:countTokens?x=",
        "gemini-x/../../files",
        "gemini-2.5 flash",
        "models/gemini-%2e%2e",
    ] {
        let err = resolve_model_for_test_err(bad);
        assert!(
            err.starts_with("model: invalid Gemini model name"),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        resolve_model_for_test("models/gemini-2.5-flash-preview-05-20"),
        "gemini-2.5-flash-preview-05-20"
    );
}

#[test]
fn deep_nesting_and_too_many_blocks_or_messages() {
    let deep = format!(
        r#"{{"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{{"role": "user", "content": "x"}}], "metadata": {}{}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    assert!(invalid(&deep).contains("nesting is too deep"));
    // 200 levels: refused before serde (whose own limit is 128) sees it.
    let deeper = format!(r#"{{"a": {}{}}}"#, "{\"b\":".repeat(200), "}".repeat(200));
    assert!(invalid(&deeper).contains("nesting is too deep"));
    // tool_result content nested 30 times stays within the bound and is accepted.
    let mut inner = json!("leaf");
    for _ in 0..12 {
        inner = json!([{"type": "tool_result", "tool_use_id": "t1", "content": inner}]);
    }
    let req = parse(body(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": inner}]}
    ])));
    assert!(to_generate_content(&req, "gemini-2.5-flash", &opts()).is_ok());

    let blocks = r#"{"type":"text","text":""},"#.repeat(100_001);
    let many = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{{"role":"user","content":[{}]}}]}}"#,
        blocks.trim_end_matches(',')
    );
    let msg = invalid(&many);
    assert!(msg.contains("too many content blocks"), "{msg}");
    let messages = r#"{"role":"user","content":"x"},"#.repeat(100_001);
    let many = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{}]}}"#,
        messages.trim_end_matches(',')
    );
    let msg = invalid(&many);
    assert!(msg.starts_with("messages: too many messages"), "{msg}");
}

#[test]
fn invalid_tool_names_are_refused() {
    let req = |name: &str| {
        body(json!([{"role": "user", "content": "x"}]))
            .as_object()
            .cloned()
            .map(|mut o| {
                o.insert(
                    "tools".into(),
                    json!([{"name": name, "input_schema": {"type": "object"}}]),
                );
                Value::Object(o)
            })
            .unwrap()
    };
    for bad in ["two words", "semi;colon", &"x".repeat(129), "caf\u{e9}"] {
        let r = parse(req(bad));
        let err = to_generate_content(&r, "gemini-2.5-flash", &opts()).unwrap_err();
        assert!(err.to_string().starts_with("tools.0.name"), "{err}");
    }
    for ok in ["Bash", "mcp__srv__tool-x", "1password", "a.b:c"] {
        let r = parse(req(ok));
        assert!(
            to_generate_content(&r, "gemini-2.5-flash", &opts()).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn the_deepest_accepted_nesting_fits_a_worker_stack() {
    // Nested tool results and document contents right up to the depth bound, parsed and
    // translated on a thread with tokio's default worker stack (2 MiB).
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for doc in [false, true] {
                let mut inner = json!([{"type": "text", "text": "leaf"}]);
                let mut levels = 0;
                loop {
                    let next = if doc {
                        json!([{"type": "document", "source": {"type": "content", "content": inner.clone()}}])
                    } else {
                        json!([{"type": "tool_result", "tool_use_id": "t1", "content": inner.clone()}])
                    };
                    let candidate = body(json!([
                        {"role": "user", "content": "go"},
                        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": next.clone()}]}
                    ]))
                    .to_string();
                    if parse_messages_request(candidate.as_bytes()).is_err() {
                        break;
                    }
                    inner = next;
                    levels += 1;
                }
                assert!(levels >= 15, "{levels}");
                let req = parse(body(json!([
                    {"role": "user", "content": "go"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": inner}]}
                ])));
                to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap();
                to_count_tokens(&req, "gemini-2.5-flash", &opts()).unwrap();
            }
        })
        .unwrap();
    handle.join().unwrap();
}
