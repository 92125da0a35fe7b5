//! What agents send now: images and PDFs inside tool results (the function response's own
//! parts on Gemini 3 and later, a note elsewhere), and earlier answers' web search blocks sent
//! back (told as text, never refused).

use super::*;

fn tool_turn(result: Value) -> Value {
    body(json!([
        {"role": "user", "content": "look at the screenshot"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "Read", "input": {"file_path": "/s.png"}},
            {"type": "tool_use", "id": "toolu_b", "name": "Read", "input": {"file_path": "/d.pdf"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": result},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": [
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]},
            {"type": "text", "text": "what do you see?"}]}
    ]))
}

fn screenshot() -> Value {
    json!([
        {"type": "text", "text": "a screenshot"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.webp"}}
    ])
}

#[test]
fn media_in_tool_results_are_the_function_responses_parts_on_gemini_3() {
    let out = gemini(tool_turn(screenshot()), "gemini-3.8-flash");
    let parts = &out["contents"][2]["parts"];
    assert_eq!(
        parts[0]["functionResponse"]["parts"],
        json!([{"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}])
    );
    let output = parts[0]["functionResponse"]["response"]["output"]
        .as_str()
        .unwrap();
    // GIF is no Gemini image type; a URL cannot go inside a function response.
    assert!(
        output.starts_with("a screenshot\n[An image of type image/gif was omitted"),
        "{output}"
    );
    assert!(output.ends_with("[Omitted from the tool result (Gemini does not take it in a tool result): https://x.test/a.webp]"), "{output}");
    assert_eq!(
        parts[1]["functionResponse"],
        json!({"name": "Read", "response": {"output": ""},
            "parts": [{"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]})
    );
    // Exactly one part per call, then the user's words: no media beside the responses.
    assert_eq!(parts[2], json!({"text": "what do you see?"}));
    assert_eq!(parts.as_array().unwrap().len(), 3);
}

#[test]
fn a_model_without_media_in_function_responses_is_told_what_was_omitted() {
    let out = gemini(tool_turn(screenshot()), "gemini-2.5-flash-lite");
    let parts = &out["contents"][2]["parts"];
    assert!(parts[0]["functionResponse"].get("parts").is_none());
    let output = parts[0]["functionResponse"]["response"]["output"]
        .as_str()
        .unwrap();
    assert!(output.ends_with("[Omitted from the tool result (this model does not take images or documents in tool results): image/png, https://x.test/a.webp]"), "{output}");
    assert_eq!(
        parts[1]["functionResponse"]["response"]["output"],
        "[Omitted from the tool result (this model does not take images or documents in tool results): application/pdf]"
    );
    assert_eq!(parts.as_array().unwrap().len(), 3);
}

#[test]
fn an_earlier_grounded_answer_sent_back_is_told_as_text() {
    let answer: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/anthropic/expected/gemini-grounded.message.json"
    ))
    .unwrap();
    let out = gemini(
        body(json!([
            {"role": "user", "content": "What changed in Rust?"},
            {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": "And before that?"}
        ])),
        "gemini-3.8-flash",
    );
    let model: Vec<&str> = out["contents"][1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        model[0],
        "[Searched the web for \"rust release december 2026\"]"
    );
    assert_eq!(
        model[1],
        "[Web search results:\n- blog.rust-lang.org (https://vertexaisearch.cloud.google.com/grounding-api-redirect/AAA)\n- rust-lang.org (https://vertexaisearch.cloud.google.com/grounding-api-redirect/BBB)]"
    );
    assert_eq!(model[2], "[Searched the web for \"rust next edition\"]");
    assert_eq!(model[3], "[The web search found nothing]");
    assert_eq!(
        model[4..],
        [
            "Rust 1.95 shipped on 4 December 2026.",
            " It stabilises async closures in traits. ",
            "The next edition is planned for 2027."
        ]
    );
    // A failed search and a tool Gemini never ran.
    let out = gemini(
        body(json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_9", "name": "code_execution", "input": {"code": "1+1"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_9",
                 "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}},
                {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_9", "content": {}}]},
            {"role": "user", "content": "go on"}
        ])),
        "gemini-3.8-flash",
    );
    assert_eq!(
        out["contents"][1]["parts"],
        json!([{"text": "[Used the code_execution tool: {\"code\":\"1+1\"}]"},
            {"text": "[The web search failed: max_uses_exceeded]"}])
    );
}

/// A body whose one tool result's `content` is `content`, written as these bytes.
fn tool_result_body(content: &str) -> String {
    format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[
        {{"role":"user","content":"read it"}},
        {{"role":"assistant","content":[{{"type":"tool_use","id":"toolu_a","name":"Read","input":{{}}}}]}},
        {{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_a","content":{content}}}]}}]}}"#
    )
}

#[test]
fn a_tool_results_text_goes_to_gemini_as_the_client_escaped_it() {
    use crate::upstream::wire_json::WireJson;
    // Python writes non-ASCII as `\u` escapes; some writers escape `/`.
    let literal = r#""caf\u00e9 \ud83d\ude00\n\"quoted\" a\/b""#;
    let req = parse_messages_request(tool_result_body(literal).as_bytes()).unwrap();
    let gemini = to_generate_content(&req, "gemini-3.8-flash", &opts()).unwrap();
    let mut written = Vec::new();
    gemini.write_json(&mut written).unwrap();
    let written = String::from_utf8(written).unwrap();
    assert!(
        written.contains(&format!(r#""response":{{"output":{literal}}}"#)),
        "{written}"
    );
    // Read, it is the text the client meant, as serde writes it too.
    let value: Value = serde_json::from_str(&written).unwrap();
    let expected = json!({"output": "café 😀\n\"quoted\" a/b"});
    assert_eq!(
        value["contents"][2]["parts"][0]["functionResponse"]["response"],
        expected
    );
    assert_eq!(
        serde_json::to_value(&gemini).unwrap()["contents"][2]["parts"][0]["functionResponse"]
            ["response"],
        expected
    );
}

#[test]
fn a_tool_results_content_is_refused_as_a_string_or_blocks_would_be() {
    for (content, says) in [
        (r#""a lone surrogate \ud83d here""#, "hex escape"),
        ("\"a raw control character \u{1}\"", "control character"),
        (r#""a bad escape \q""#, "escape"),
        (
            "12",
            "invalid type: a number, expected a string or an array of content blocks",
        ),
        (
            r#"{"type":"text"}"#,
            "invalid type: a map, expected a string or an array",
        ),
        (
            r#"[{"type":"text","text":5}]"#,
            "invalid type: integer `5`, expected a string",
        ),
    ] {
        let e = invalid(&tool_result_body(content));
        assert!(e.contains(says), "{content}: {e}");
        // One position, the body's own: never one inside the captured value as well.
        assert!(e.matches(" column ").count() <= 1, "{content}: {e}");
    }
    // Blocks still read whole: a text block's text.
    let req = parse_messages_request(
        tool_result_body(r#"[{"type":"text","text":"from blocks"}]"#).as_bytes(),
    )
    .unwrap();
    let gemini =
        serde_json::to_value(to_generate_content(&req, "gemini-3.8-flash", &opts()).unwrap())
            .unwrap();
    assert_eq!(
        gemini["contents"][2]["parts"][0]["functionResponse"]["response"],
        json!({"output": "from blocks"})
    );
}
