//! Gemini answers → `chat.completion` and `chat.completion.chunk` streams: finish reasons, tool
//! calls and their signatures, usage, the stream's shape and its failures.

use serde_json::{json, Value};

use super::response::{completion, Answering};
use super::stream::ChatStream;
use crate::dispatch::StreamBroken;
use crate::surfaces::shared::relay::{Failure, Translate};
use crate::surfaces::shared::signature::carried;
use crate::upstream::wire::GenerateContentResponse;

fn answer(v: Value) -> GenerateContentResponse {
    serde_json::from_value(v).unwrap()
}

fn answering(parallel: bool) -> Answering<'static> {
    Answering {
        client_model: "my-model",
        gemini_model: "gemini-3-pro-preview",
        parallel,
        created: 1_700_000_000,
    }
}

fn whole(v: Value) -> Value {
    serde_json::to_value(completion(&answer(v), answering(true)).unwrap()).unwrap()
}

const USAGE: &str = r#"{"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
    "cachedContentTokenCount": 4, "totalTokenCount": 22}"#;

fn usage() -> Value {
    serde_json::from_str(USAGE).unwrap()
}

#[test]
fn text_answers_echo_the_client_model_and_report_cached_and_reasoning_tokens() {
    let c = whole(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "thinking…", "thought": true}, {"text": "Hello"}, {"text": " world"}]},
        "finishReason": "STOP", "index": 0}], "usageMetadata": usage(), "modelVersion": "gemini-3-pro-preview"}),
    );
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], "my-model");
    assert_eq!(c["created"], 1_700_000_000);
    assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(
        c["choices"][0],
        json!({"index": 0, "message": {"role": "assistant", "content": "Hello world", "refusal": null},
               "finish_reason": "stop", "logprobs": null})
    );
    assert_eq!(
        c["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22,
               "prompt_tokens_details": {"cached_tokens": 4},
               "completion_tokens_details": {"reasoning_tokens": 7}})
    );
}

#[test]
fn finish_reasons_and_the_sticky_tool_calls() {
    let finish = |reason: &str, parts: Value| {
        whole(json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": reason}]}))
            ["choices"][0]["finish_reason"]
            .clone()
    };
    let text = json!([{"text": "x"}]);
    assert_eq!(finish("STOP", text.clone()), "stop");
    assert_eq!(finish("MAX_TOKENS", text.clone()), "length");
    assert_eq!(finish("SAFETY", text.clone()), "content_filter");
    assert_eq!(finish("RECITATION", text), "content_filter");
    // Gemini says STOP after a call; OpenAI clients loop on `tool_calls`.
    assert_eq!(
        finish("STOP", json!([{"functionCall": {"name": "f", "args": {}}}])),
        "tool_calls"
    );
    let blocked = whole(json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}));
    assert_eq!(blocked["choices"][0]["finish_reason"], "content_filter");
    assert!(blocked["choices"][0]["message"]["refusal"]
        .as_str()
        .unwrap()
        .contains("PROHIBITED_CONTENT"));
}

#[test]
fn an_unusable_answer_is_a_retryable_error_not_a_silent_stop() {
    for reason in ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"] {
        let e = completion(
            &answer(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": reason}]})),
            answering(true),
        )
        .unwrap_err();
        assert!(e.retryable && e.status == 500, "{reason}: {e:?}");
        assert!(e.message.contains(reason));
    }
    let e = completion(&answer(json!({})), answering(true)).unwrap_err();
    assert!(e.retryable);
}

#[test]
fn tool_calls_carry_the_signature_in_the_id_and_in_extra_content() {
    let c = whole(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "_9lives", "args": {}}}]}, "finishReason": "STOP"}],
        "modelVersion": "gemini-3-pro-preview"}),
    );
    let calls = &c["choices"][0]["message"]["tool_calls"];
    assert_eq!(c["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(
        calls[0]["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"})
    );
    let id = calls[0]["id"].as_str().unwrap();
    assert!(id.starts_with("call_"));
    assert_eq!(carried(id).map(|(_, s)| s), Some("c2ln"));
    assert_eq!(
        calls[0]["extra_content"],
        json!({"google": {"thought_signature": "c2ln"}})
    );
    assert_eq!(calls[1]["function"]["name"], "9lives");
    assert!(carried(calls[1]["id"].as_str().unwrap()).is_none());
    assert!(calls[1].get("extra_content").is_none());
}

#[test]
fn parallel_tool_calls_false_keeps_only_the_first_call() {
    let r = answer(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {}}}]}, "finishReason": "STOP"}]}),
    );
    let one = completion(&r, answering(false)).unwrap();
    assert_eq!(one.choices[0].message.tool_calls.len(), 1);
    let both = completion(&r, answering(true)).unwrap();
    assert_eq!(both.choices[0].message.tool_calls.len(), 2);
}

#[test]
fn several_candidates_are_several_choices() {
    let c = whole(json!({"candidates": [
        {"content": {"role": "model", "parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
        {"content": {"role": "model", "parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS", "index": 1}]}));
    assert_eq!(c["choices"][1]["index"], 1);
    assert_eq!(c["choices"][1]["message"]["content"], "b");
    assert_eq!(c["choices"][1]["finish_reason"], "length");
}

/// The `data:` payloads a stream wrote (`[DONE]` as the string).
fn events(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| json!(d)))
        .collect()
}

fn run(stream: &mut ChatStream, chunks: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    stream.start(&mut out);
    for c in chunks {
        stream.chunk(&answer(c.clone()), &mut out);
    }
    out
}

#[test]
fn a_stream_opens_with_the_role_streams_text_and_ends_with_usage_and_done() {
    let mut s = ChatStream::new(answering(true), true);
    let mut out = run(
        &mut s,
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hm", "thought": true}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}], "usageMetadata": usage()}),
        ],
    );
    s.end(&mut out);
    assert!(s.is_finished());
    let e = events(&out);
    assert_eq!(
        e[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(e[1]["choices"][0]["delta"], json!({"content": "Hel"}));
    assert_eq!(e[2]["choices"][0]["delta"], json!({"content": "lo"}));
    assert_eq!(e[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(e[4]["choices"], json!([]));
    assert_eq!(
        e[4]["usage"]["completion_tokens_details"]["reasoning_tokens"],
        7
    );
    assert_eq!(e[5], json!("[DONE]"));
    assert_eq!(e.len(), 6);
    let id = &e[0]["id"];
    assert!(e[..5].iter().all(|c| &c["id"] == id
        && c["object"] == "chat.completion.chunk"
        && c["model"] == "my-model"));
    // Without include_usage: no usage chunk.
    let mut s = ChatStream::new(answering(true), false);
    let mut out = run(
        &mut s,
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": "STOP"}]}),
        ],
    );
    s.end(&mut out);
    let e = events(&out);
    assert_eq!(e.len(), 4);
    assert!(e.iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn each_streamed_tool_call_has_its_index_id_and_name_in_one_delta() {
    let mut s = ChatStream::new(answering(true), false);
    let mut out = run(
        &mut s,
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "c2ln"}]}}], "modelVersion": "gemini-3-pro-preview"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "b", "args": {}}}]}, "finishReason": "STOP"}]}),
        ],
    );
    s.end(&mut out);
    let e = events(&out);
    let first = &e[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(
        first["function"],
        json!({"name": "a", "arguments": "{\"x\":1}"})
    );
    assert_eq!(
        carried(first["id"].as_str().unwrap()).map(|(_, s)| s),
        Some("c2ln")
    );
    let second = &e[2]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(
        (second["index"].clone(), second["function"]["name"].clone()),
        (json!(1), json!("b"))
    );
    assert_ne!(first["id"], second["id"]);
    assert_eq!(e[3]["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn a_broken_or_cut_stream_ends_with_an_error_payload_and_no_done() {
    let mut s = ChatStream::new(answering(true), true);
    let mut out = run(
        &mut s,
        &[json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "par"}]}}]})],
    );
    s.fail(Failure::Broken(&StreamBroken::Truncated), &mut out);
    let e = events(&out);
    assert_eq!(e.last().unwrap()["error"]["type"], "server_error");
    assert!(!String::from_utf8_lossy(&out).contains("[DONE]"));
    assert!(!String::from_utf8_lossy(&out).contains("\"finish_reason\":\"stop\""));
    // Ending without a finish reason is no clean stop either.
    let mut s = ChatStream::new(answering(true), false);
    let mut out = run(
        &mut s,
        &[json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "par"}]}}]})],
    );
    s.end(&mut out);
    let e = events(&out);
    assert!(e.last().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("before the answer was finished"));
    // A malformed call mid-stream is an error too.
    let mut s = ChatStream::new(answering(true), false);
    let out = run(
        &mut s,
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MALFORMED_FUNCTION_CALL"}]}),
        ],
    );
    assert!(s.is_finished());
    assert!(events(&out).last().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("MALFORMED_FUNCTION_CALL"));
}

#[test]
fn a_blocked_prompt_streams_a_refusal_with_content_filter() {
    let mut s = ChatStream::new(answering(true), false);
    let mut out = run(
        &mut s,
        &[json!({"promptFeedback": {"blockReason": "SAFETY"}})],
    );
    s.end(&mut out);
    let e = events(&out);
    assert!(e[0]["choices"][0]["delta"]["refusal"]
        .as_str()
        .unwrap()
        .contains("SAFETY"));
    assert_eq!(e[1]["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(e[2], json!("[DONE]"));
}

#[test]
fn keep_alives_are_sse_comments() {
    let mut s = ChatStream::new(answering(true), false);
    let mut out = Vec::new();
    s.keep_alive(&mut out);
    assert_eq!(out, b": keep-alive\n\n");
}
