//! Non-streaming response translation tests.

use super::*;
use crate::surfaces::anthropic::parse_messages_request;
use crate::surfaces::anthropic::request::{to_generate_content, TranslateOptions};
use serde_json::{json, Value};

const SIG: &str =
    "EokDCoYDAXLI2nxM+9Ar8JtQtGdkXzfUQ0tuTrIQXdpBdQdS1zcbfmHCCL8wcrPnEhoCb5dOraAqu4/l6YUnw+vk";
const CLIENT_MODEL: &str = "claude-sonnet-4-5-20250929";

fn translate(raw: Value) -> Result<MessagesResponse, AnthropicError> {
    let resp: GenerateContentResponse = serde_json::from_value(raw).unwrap();
    from_generate_content(&resp, CLIENT_MODEL)
}

fn ok(raw: Value) -> Value {
    serde_json::to_value(translate(raw).unwrap()).unwrap()
}

/// Spec §11.3: thought, text, signed function call.
fn tool_call_response() -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "**Generating the File**\n\n", "thought": true},
                {"text": "I will create the file `approved.txt` with the specified content.\n"},
                {"functionCall": {"name": "Write", "args": {"file_path": "approved.txt", "content": "Approved content"}},
                 "thoughtSignature": SIG}
            ]},
            "finishReason": "STOP", "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 13116, "candidatesTokenCount": 43, "totalTokenCount": 13239,
            "cachedContentTokenCount": 12219, "thoughtsTokenCount": 80,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 13116}]},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mLsUaebXA8b1nsEPo7bu8AM"
    })
}

#[test]
fn tool_call_response_matches_spec_example() {
    let out = ok(tool_call_response());
    let id = out["id"].as_str().unwrap();
    assert!(id.starts_with("msg_") && id.len() == 28, "{id}");
    let tool_id = out["content"][3]["id"].as_str().unwrap();
    assert!(tool_id.starts_with("toolu_") && tool_id.len() == 30);
    assert!(tool_id[6..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        out,
        json!({
            "id": id, "type": "message", "role": "assistant", "model": CLIENT_MODEL,
            "content": [
                {"type": "thinking", "thinking": "**Generating the File**\n\n", "signature": ""},
                {"type": "text", "text": "I will create the file `approved.txt` with the specified content.\n"},
                {"type": "thinking", "thinking": "", "signature": format!("gm1|fc|2.5|{SIG}")},
                {"type": "tool_use", "id": tool_id, "name": "Write",
                 "input": {"file_path": "approved.txt", "content": "Approved content"}}
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 897, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 12219, "output_tokens": 123}
        })
    );
}

#[test]
fn signature_round_trips_through_the_client() {
    let reply = ok(tool_call_response());
    let next_turn = json!({
        "model": CLIENT_MODEL, "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": "Create approved.txt"},
            {"role": "assistant", "content": reply["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": reply["content"][3]["id"],
                "content": "File created successfully at: approved.txt"}]}
        ]
    });
    let req = parse_messages_request(next_turn.to_string().as_bytes()).unwrap();
    let opts = TranslateOptions::default();
    let gemini =
        serde_json::to_value(to_generate_content(&req, "gemini-2.5-flash", &opts).unwrap())
            .unwrap();
    assert_eq!(
        gemini["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Create approved.txt"}]},
            {"role": "model", "parts": [
                {"text": "I will create the file `approved.txt` with the specified content.\n"},
                {"functionCall": {"name": "Write", "args": {"file_path": "approved.txt", "content": "Approved content"}},
                 "thoughtSignature": SIG}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "Write",
                "response": {"output": "File created successfully at: approved.txt"}}}]}
        ])
    );
}

#[test]
fn parallel_calls_signature_only_on_first() {
    let out = ok(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "Read", "args": {"file_path": "a"}}, "thoughtSignature": "S1"},
            {"functionCall": {"name": "Read", "args": {"file_path": "b"}}}
        ]}, "finishReason": "STOP"}],
        "modelVersion": "gemini-3-pro-preview"
    }));
    let content = out["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0]["signature"], "gm1|fc|3|S1");
    assert_eq!(content[1]["type"], "tool_use");
    assert_eq!(content[2]["input"], json!({"file_path": "b"}));
    assert_ne!(content[1]["id"], content[2]["id"]);
    assert_eq!(out["stop_reason"], "tool_use");
}

#[test]
fn text_answer_with_trailing_signature() {
    let out = ok(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "The file has been created."},
            {"text": "", "thoughtSignature": "TS"}
        ]}, "finishReason": "STOP"}],
        "modelVersion": "gemini-3-flash-preview",
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 7}
    }));
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "The file has been created."}])
    );
    assert_eq!(out["stop_reason"], "end_turn");
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 100, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 0, "output_tokens": 7})
    );
}

#[test]
fn max_tokens_spent_on_thinking() {
    let out = ok(json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {"promptTokenCount": 50, "thoughtsTokenCount": 1000, "totalTokenCount": 1050}
    }));
    assert_eq!(out["content"], json!([]));
    assert_eq!(out["stop_reason"], "max_tokens");
    assert_eq!(out["usage"]["output_tokens"], 1000);
}

#[test]
fn safety_finish_is_a_refusal_with_a_note() {
    let out = ok(json!({"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}]}));
    assert_eq!(out["stop_reason"], "refusal");
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "[Gemini stopped the response: SAFETY]"}])
    );
    // With partial content, no note is added.
    let out = ok(
        json!({"candidates": [{"content": {"parts": [{"text": "partial"}]},
        "finishReason": "RECITATION"}]}),
    );
    assert_eq!(out["content"], json!([{"type": "text", "text": "partial"}]));
    assert_eq!(out["stop_reason"], "refusal");
}

#[test]
fn blocked_prompt_without_candidates_is_a_refusal() {
    let out = ok(json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}
    }));
    assert_eq!(out["stop_reason"], "refusal");
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "[Gemini blocked the prompt: PROHIBITED_CONTENT]"}])
    );
    assert_eq!(out["usage"]["input_tokens"], 12);
}

#[test]
fn malformed_calls_are_retryable_errors_not_empty_successes() {
    for reason in ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"] {
        let err = translate(
            json!({"candidates": [{"content": {}, "finishReason": reason,
            "finishMessage": "Malformed function call: print(default_api.Bash("}]}),
        )
        .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.status(), 500);
        assert!(err.to_string().contains(reason));
        assert!(err.to_string().contains("Malformed function call: print"));
    }
}

#[test]
fn no_candidates_is_a_retryable_error() {
    let err = translate(json!({"usageMetadata": {"promptTokenCount": 3}})).unwrap_err();
    assert_eq!(err, AnthropicError::EmptyResponse);
    assert!(err.is_retryable());
}

#[test]
fn finish_reason_table() {
    let cases = [
        ("STOP", StopReason::EndTurn),
        ("MAX_TOKENS", StopReason::MaxTokens),
        ("SAFETY", StopReason::Refusal),
        ("RECITATION", StopReason::Refusal),
        ("PROHIBITED_CONTENT", StopReason::Refusal),
        ("BLOCKLIST", StopReason::Refusal),
        ("SPII", StopReason::Refusal),
        ("IMAGE_SAFETY", StopReason::Refusal),
        ("OTHER", StopReason::EndTurn),
        ("FINISH_REASON_UNSPECIFIED", StopReason::EndTurn),
        ("SOMETHING_NEW", StopReason::EndTurn),
    ];
    for (reason, expected) in cases {
        assert_eq!(
            stop_reason(Some(reason), 0, None).unwrap(),
            expected,
            "{reason}"
        );
    }
    assert_eq!(
        stop_reason(Some("STOP"), 1, None).unwrap(),
        StopReason::ToolUse
    );
    assert_eq!(stop_reason(None, 0, None).unwrap(), StopReason::EndTurn);
    assert!(stop_reason(Some("MALFORMED_FUNCTION_CALL"), 1, None).is_err());
}

#[test]
fn count_tokens_response() {
    let resp: wire::CountTokensResponse = serde_json::from_value(
        json!({"totalTokens": 13116, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 13116}]}),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(from_count_tokens(&resp)).unwrap(),
        json!({"input_tokens": 13116})
    );
}

#[test]
fn error_body_in_a_200_is_an_error() {
    let err = translate(
        json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}),
    )
    .unwrap_err();
    assert_eq!(err.status(), 529);
}
