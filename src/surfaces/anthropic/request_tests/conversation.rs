//! The conversation: validation, the Claude Code captures, system, content blocks, tools and
//! thought signatures.

use super::*;
use std::sync::Arc;

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
fn unknown_blocks_are_dropped_and_earlier_searches_told_never_an_error() {
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
            {"role": "model", "parts": [{"text": "[Searched the web for \"x\"]"},
                {"text": "[The web search found nothing]"}, {"text": "found it"}]},
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

/// Claude Code's tools are kept as the client's text; the body scan finds them (the common
/// path) or serde captures them (a key written with an escape); the request is the same.
#[test]
fn tools_are_the_clients_text_found_by_the_scan_or_by_serde() {
    let cc: Value = serde_json::from_str(FIRST_TURN).unwrap();
    let tools_text = cc["tools"].to_string();
    let found = parse(cc.clone());
    assert_eq!(found.tools.as_ref().unwrap().raw(), tools_text);
    let escaped = cc.to_string().replacen("\"tools\":", "\"tool\\u0073\":", 1);
    let captured = parse_messages_request(escaped.as_bytes()).unwrap();
    assert_eq!(captured.tools.as_ref().unwrap().raw(), tools_text);
    let translate = |req: &MessagesRequest| {
        serde_json::to_value(to_generate_content(req, "gemini-3.8-flash", &opts()).unwrap())
            .unwrap()
    };
    assert_eq!(translate(&found), translate(&captured));
}

/// Tools the scan took without reading are read before their first translation: text that
/// is not JSON is a 400 then; a body that does not parse is read whole again for its message,
/// and so is one whose tools are a small part of it.
#[test]
fn tools_that_are_not_json_are_refused() {
    let with_text = |tools: &str, text: &str| {
        format!(
            r#"{{"model":"m","max_tokens":9,"tools":{tools},"messages":[{{"role":"user","content":"{text}"}}]}}"#
        )
    };
    let with_tools = |tools: &str| with_text(tools, "hi");
    for (tools, says) in [
        (
            r#"[{"name":"a",}]"#,
            "tools: not valid JSON: trailing comma",
        ),
        (
            r#"[{"name":"a" "b"}]"#,
            "tools: not valid JSON: expected `,` or `}`",
        ),
        (r#"[{"name":5}]"#, "tools[0].name: invalid type"),
    ] {
        let req = parse_messages_request(with_tools(tools).as_bytes()).unwrap();
        let err = to_generate_content(&req, "gemini-3.8-flash", &opts()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains(says), "{tools}: {err}");
    }
    let err = invalid(&with_tools(r#"[{"name":"a"}]]"#));
    assert!(err.contains("request body is not valid JSON"), "{err}");
    let mut not_utf8 = with_tools(r#"[{"name":"a","description":"_"}]"#).into_bytes();
    let at = not_utf8.iter().position(|b| *b == b'_').unwrap();
    not_utf8[at] = 0xff;
    let err = parse_messages_request(&not_utf8).unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    let err = invalid(&with_tools(r#"[{"name":"a"}],"tools":[]"#));
    assert!(err.contains("duplicate field `tools`"), "{err}");
    let long = "x".repeat(1_000);
    let err = invalid(&with_text(r#"[{"name":"a",}]"#, &long));
    assert!(err.contains("request body is not valid JSON"), "{err}");
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
            {"functionResponse": {"name": "Read", "response": {"output": "image follows\n[Omitted from the tool result (this model does not take images or documents in tool results): image/png]"}}},
            {"functionResponse": {"name": "Bash", "response": {"error": "exit 1"}}},
            {"functionResponse": {"name": "Grep", "response": {"error": "No result was provided for this tool call."}}},
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

/// Once a tool list is translated, the next turn's scan steps over it unread and the request
/// holds the cache's own text, not a copy; another list is still read and copied.
#[test]
fn tools_remembered_from_an_earlier_turn_are_the_caches_own_text() {
    let cc: Value = serde_json::from_str(FIRST_TURN).unwrap();
    let translate = |req: &MessagesRequest| {
        serde_json::to_value(to_generate_content(req, "gemini-3.8-flash", &opts()).unwrap())
            .unwrap()
    };
    let first = parse(cc.clone());
    let translated = translate(&first);
    let second = parse(cc.clone());
    let text = |req: &MessagesRequest| req.tools.as_ref().unwrap().text().clone();
    assert!(Arc::ptr_eq(&text(&first), &text(&second)));
    assert_eq!(translate(&second), translated);
    let mut other = cc.clone();
    other["tools"][0]["description"] = json!("another list, never translated");
    let third = parse(other.clone());
    assert!(!Arc::ptr_eq(&text(&first), &text(&third)));
    assert_eq!(
        third.tools.as_ref().unwrap().raw(),
        other["tools"].to_string()
    );
}
