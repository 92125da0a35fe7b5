//! Answers of the fake model: SSE framing, JSON-array streaming, function calls, thoughts,
//! usage, MAX_TOKENS, and the Gemini 3 thought-signature round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mock_gemini::{MockGemini, MockOptions};
use serde_json::{json, Value};

fn bash_request(text: &str) -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "tools": [{"functionDeclarations": [{"name": "Bash", "description": "Run a command",
            "parametersJsonSchema": {"type": "object", "properties": {"command": {"type": "string"}}}}]}]
    })
}

fn finish_count(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["candidates"][0].get("finishReason").is_some())
        .count()
}

#[tokio::test]
async fn sse_framing_and_only_last_event_finishes() {
    let mock = MockGemini::start_with(MockOptions {
        stream_chunks: Some(4),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let (status, content_type, text) = stream_sse(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/event-stream");
    assert!(text.starts_with("data: {"));
    assert!(text.ends_with("}\r\n\r\n"));
    assert!(!text.contains("[DONE]"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "events are single-line JSON with CRLF framing"
    );
    let events = sse_events(&text);
    // Three text chunks, Gemini 3's signature on the last text part, then the finish.
    assert_eq!(events.len(), 5);
    assert_eq!(finish_count(&events), 1);
    assert_eq!(
        events.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    let joined: String = events
        .iter()
        .map(|e| {
            e["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(joined, "Mock reply from gemini-3.8-flash: hello");
    let id = &events[0]["responseId"];
    assert_eq!(id.as_str().unwrap().len(), 22);
    for event in &events {
        assert_eq!(&event["responseId"], id);
        assert_eq!(event["modelVersion"], "gemini-3.8-flash");
        assert_eq!(event["usageMetadata"]["promptTokenCount"], 2);
    }
    let (_, unary) = generate(&mock, "gemini-3.8-flash", &hello()).await;
    let last = events.last().unwrap();
    assert_eq!(
        last["usageMetadata"]["candidatesTokenCount"],
        unary["usageMetadata"]["candidatesTokenCount"]
    );
    assert_eq!(
        last["usageMetadata"]["totalTokenCount"],
        unary["usageMetadata"]["totalTokenCount"]
    );
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let mock = MockGemini::start().await.unwrap();
    let response = client()
        .post(url(&mock, "gemini-3.8-flash", "streamGenerateContent"))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let array: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let events = array.as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(finish_count(events), 1);

    let (status, body) = post(
        &mock,
        "gemini-3.8-flash",
        "streamGenerateContent",
        &json!({"contents": []}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body[0]["error"]["code"], 400,
        "errors are wrapped in an array without alt=sse"
    );
}

#[tokio::test]
async fn run_directive_streams_a_whole_function_call() {
    let mock = MockGemini::start().await.unwrap();
    let (_, _, text) = stream_sse(
        &mock,
        "gemini-3.8-flash",
        &bash_request("Please run `echo hello` with Bash"),
    )
    .await;
    let events = sse_events(&text);
    let calls: Vec<&Value> = events
        .iter()
        .flat_map(|e| e["candidates"][0]["content"]["parts"].as_array().unwrap())
        .filter(|p| p.get("functionCall").is_some())
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["functionCall"]["name"], "Bash");
    // The arguments the tool's schema names (it has no `description`).
    assert_eq!(
        calls[0]["functionCall"]["args"],
        json!({"command": "echo hello"})
    );
    assert!(
        calls[0].get("thoughtSignature").is_some(),
        "2.5 flash thinks by default and signs calls"
    );
    assert_eq!(finish_count(&events), 1);
    assert_eq!(
        events.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
}

#[tokio::test]
async fn thoughts_come_first_when_included() {
    let mock = MockGemini::start().await.unwrap();
    let mut body = hello();
    body["generationConfig"] =
        json!({"thinkingConfig": {"includeThoughts": true, "thinkingBudget": 1024}});
    let (_, _, text) = stream_sse(&mock, "gemini-3.8-flash", &body).await;
    let events = sse_events(&text);
    assert_eq!(
        events[0]["candidates"][0]["content"]["parts"][0]["thought"],
        true
    );
    assert!(events
        .iter()
        .skip(1)
        .all(|e| e["candidates"][0]["content"]["parts"][0]
            .get("thought")
            .is_none()));
    assert!(
        events.last().unwrap()["usageMetadata"]["thoughtsTokenCount"]
            .as_u64()
            .unwrap()
            > 0
    );

    body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let (_, unary) = generate(&mock, "gemini-3.8-flash", &body).await;
    assert!(unary["usageMetadata"].get("thoughtsTokenCount").is_none());
}

#[tokio::test]
async fn max_tokens_truncates() {
    let mock = MockGemini::start().await.unwrap();
    let mut body = hello();
    body["generationConfig"] = json!({"maxOutputTokens": 2});
    let (_, unary) = generate(&mock, "gemini-2.5-flash-lite", &body).await;
    assert_eq!(unary["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(
        unary["candidates"][0]["content"]["parts"][0]["text"],
        "Mock rep"
    );
    let (_, _, text) = stream_sse(&mock, "gemini-2.5-flash-lite", &body).await;
    let events = sse_events(&text);
    assert_eq!(
        events.last().unwrap()["candidates"][0]["finishReason"],
        "MAX_TOKENS"
    );
}

#[tokio::test]
async fn gemini3_signature_round_trip() {
    let mock = MockGemini::start().await.unwrap();
    let model = "gemini-3.1-pro-preview";
    let first = bash_request("Please run `ls` with Bash");
    let (status, answer) = generate(&mock, model, &first).await;
    assert_eq!(status, 200, "{answer}");
    let call_part = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap()
        .clone();
    assert!(call_part["thoughtSignature"].as_str().unwrap().len() > 40);

    let next_turn = |model_part: Value| {
        let mut body = first.clone();
        body["contents"] = json!([
            first["contents"][0],
            {"role": "model", "parts": [model_part]},
            {"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {"output": "a.txt"}}}]}
        ]);
        body
    };
    let (status, answer) = generate(&mock, model, &next_turn(call_part.clone())).await;
    assert_eq!(status, 200, "{answer}");
    let parts = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.last().unwrap()["text"], "Tool Bash returned: a.txt");
    assert!(
        parts.last().unwrap().get("thoughtSignature").is_some(),
        "Gemini 3 signs the last text part"
    );

    let mut unsigned = call_part.clone();
    unsigned.as_object_mut().unwrap().remove("thoughtSignature");
    let (status, error) = generate(&mock, model, &next_turn(unsigned)).await;
    assert_eq!(status, 400);
    assert!(message(&error)
        .starts_with("Function call is missing a thought_signature in functionCall parts."));
    assert!(message(&error).contains("`default_api:Bash` , position 2."));

    let mut forged = call_part.clone();
    forged["thoughtSignature"] = json!("c29tZSBmYWtlIHNpZ25hdHVyZQ==");
    let (status, error) = generate(&mock, model, &next_turn(forged)).await;
    assert_eq!(status, 400);
    assert_eq!(message(&error), "Corrupted thought signature.");

    for sentinel in [
        "skip_thought_signature_validator",
        "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=",
    ] {
        let mut part = call_part.clone();
        part["thoughtSignature"] = json!(sentinel);
        assert_eq!(
            generate(&mock, model, &next_turn(part)).await.0,
            200,
            "{sentinel}"
        );
    }
    assert_eq!(
        generate(
            &MockGemini::start().await.unwrap(),
            model,
            &next_turn(call_part)
        )
        .await
        .0,
        400,
        "another server never issued this signature"
    );
}

#[tokio::test]
async fn parallel_calls_sign_only_the_first() {
    let mock = MockGemini::start().await.unwrap();
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "call Read and call Glob"}]}],
        "tools": [{"functionDeclarations": [{"name": "Read"}, {"name": "Glob"}]}]
    });
    let (_, answer) = generate(&mock, "gemini-3.5-flash", &body).await;
    let parts = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["functionCall"]["name"], "Read");
    assert!(parts[0].get("thoughtSignature").is_some());
    assert!(parts[1].get("thoughtSignature").is_none());
}
