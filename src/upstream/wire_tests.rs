//! Wire types read and written as Gemini does: unknown fields, absent ones, one-slot lists.

use super::*;
use serde_json::json;

#[test]
fn a_streamed_events_one_candidate_and_part_take_one_slot_each() {
    let event = br#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"modelVersion":"gemini-3.8-flash"}"#;
    let chunk: GenerateContentResponse = crate::json::from_bytes(event).unwrap();
    assert_eq!(chunk.candidates.capacity(), 1);
    let parts = &chunk.candidates[0].content.as_ref().unwrap().parts;
    assert_eq!((parts.len(), parts.capacity()), (1, 1));
}

#[test]
fn a_part_is_its_text_and_pointers_to_the_rest() {
    // Every streamed event builds and moves parts; a part's rarer payloads (calls, files,
    // code) are boxed so that it is 104 bytes, not the 400 it was with them inline.
    assert!(
        std::mem::size_of::<Part>() <= 104,
        "{}",
        std::mem::size_of::<Part>()
    );
}

#[test]
fn request_serializes_camel_case_and_skips_none() {
    let req = GenerateContentRequest {
        contents: vec![Content::new(
            "model",
            vec![Part {
                thought_signature: Some("sig".into()),
                ..Part::function_call("Bash", json!({"command": "ls"}))
            }],
        )],
        system_instruction: Some(Content {
            role: None,
            parts: vec![Part::text("be brief")],
        }),
        tool_config: Some(ToolConfig::calling(
            FunctionCallingMode::Any,
            Some(vec!["Bash".into()]),
        )),
        generation_config: Some(GenerationConfig {
            max_output_tokens: Some(100),
            thinking_config: Some(ThinkingConfig {
                include_thoughts: Some(true),
                thinking_level: Some(ThinkingLevel::High),
                ..ThinkingConfig::default()
            }),
            ..GenerationConfig::default()
        }),
        ..GenerateContentRequest::default()
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        v,
        json!({
            "contents": [{"role": "model", "parts": [
                {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": "sig"}
            ]}],
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Bash"]}},
            "generationConfig": {"maxOutputTokens": 100,
                "thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"}}
        })
    );
}

#[test]
fn response_tolerates_unknown_and_missing_fields() {
    let raw = json!({
        "candidates": [
            {"content": {}, "finishReason": "MALFORMED_FUNCTION_CALL",
             "finishMessage": "Malformed function call: x", "index": 0, "safetyRatings": []},
            {"content": {"role": "model", "parts": [{"text": "hi", "newField": 1}]},
             "finishReason": "SOMETHING_NEW", "avgLogprobs": -0.1}
        ],
        "usageMetadata": {"promptTokenCount": 10, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "abc",
        "modelStatus": {"x": 1}
    });
    let resp: GenerateContentResponse = serde_json::from_value(raw).unwrap();
    assert_eq!(resp.candidates.len(), 2);
    assert!(resp.candidates[0]
        .content
        .as_ref()
        .is_some_and(|c| c.parts.is_empty()));
    assert_eq!(
        resp.candidates[1].finish_reason.as_deref(),
        Some("SOMETHING_NEW")
    );
    let usage = resp.usage_metadata.unwrap();
    assert_eq!(usage.prompt_token_count, Some(10));
    assert_eq!(usage.candidates_token_count, None);
}

#[test]
fn stream_error_chunk_parses() {
    let raw = r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#;
    let resp: GenerateContentResponse = serde_json::from_str(raw).unwrap();
    let err = resp.error.unwrap();
    assert_eq!(err.code, Some(503));
    assert_eq!(err.status.as_deref(), Some("UNAVAILABLE"));
}

#[test]
fn count_tokens_wrapper_shape() {
    let req = CountTokensRequest {
        contents: None,
        generate_content_request: Some(GenerateContentRequest {
            model: Some("models/gemini-2.5-flash".into()),
            contents: vec![Content::new("user", vec![Part::text("hi")])],
            ..GenerateContentRequest::default()
        }),
    };
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"generateContentRequest": {"model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}})
    );
    let resp: CountTokensResponse = serde_json::from_str(
        r#"{"totalTokens":31,"promptTokensDetails":[{"modality":"TEXT","tokenCount":31}]}"#,
    )
    .unwrap();
    assert_eq!(resp.total_tokens, 31);
}
