//! Stream state machine tests: event framing, the Anthropic event grammar, and equivalence with
//! the non-streaming translation.

use super::*;
use crate::surfaces::anthropic::response::from_generate_content;
use crate::upstream::sse::SseDecoder;
use serde_json::{json, Value};

const MODEL: &str = "claude-sonnet-4-5-20250929";

/// Split SSE bytes into (event name, data), checking the framing and `type == event`.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|frame| {
            let (event_line, data_line) = frame.split_once('\n').unwrap();
            let name = event_line.strip_prefix("event: ").unwrap();
            let data: Value =
                serde_json::from_str(data_line.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name, "{frame}");
            (name.to_owned(), data)
        })
        .collect()
}

/// Accumulate events like the Anthropic SDK does, asserting the grammar; returns the final
/// message (or the error event).
fn accumulate(evs: &[(String, Value)]) -> Result<Value, Value> {
    let mut message: Option<Value> = None;
    let mut open: Option<u64> = None;
    let mut ended = false;
    let mut stopped = false;
    for (name, data) in evs {
        assert!(!stopped, "event after message_stop: {name}");
        match name.as_str() {
            "ping" => {}
            "error" => return Err(data.clone()),
            "message_start" => {
                assert!(message.is_none(), "second message_start");
                assert_eq!(data["message"]["content"], json!([]));
                message = Some(data["message"].clone());
            }
            "content_block_start" => {
                let m = message.as_mut().expect("block before message_start");
                assert_eq!(open, None, "two open blocks");
                let content = m["content"].as_array_mut().unwrap();
                assert_eq!(
                    data["index"],
                    content.len() as u64,
                    "indices must be contiguous"
                );
                content.push(data["content_block"].clone());
                open = data["index"].as_u64();
            }
            "content_block_delta" => {
                let m = message.as_mut().unwrap();
                assert_eq!(data["index"].as_u64(), open, "delta for a closed block");
                let block = &mut m["content"][open.unwrap() as usize];
                let d = &data["delta"];
                match d["type"].as_str().unwrap() {
                    "text_delta" => {
                        assert_eq!(block["type"], "text");
                        let t = block["text"].as_str().unwrap().to_owned()
                            + d["text"].as_str().unwrap();
                        block["text"] = json!(t);
                    }
                    "thinking_delta" => {
                        assert_eq!(block["type"], "thinking");
                        let t = block["thinking"].as_str().unwrap().to_owned()
                            + d["thinking"].as_str().unwrap();
                        block["thinking"] = json!(t);
                    }
                    "signature_delta" => {
                        assert_eq!(block["type"], "thinking");
                        block["signature"] = d["signature"].clone();
                    }
                    "citations_delta" => {
                        assert_eq!(block["type"], "text");
                        assert_eq!(block["text"], "", "citations come before the text");
                        block["citations"]
                            .as_array_mut()
                            .expect("a cited block opens with a citation list")
                            .push(d["citation"].clone());
                    }
                    "input_json_delta" => {
                        assert!(block["type"] == "tool_use" || block["type"] == "server_tool_use");
                        assert_eq!(block["input"], json!({}));
                        block["input"] =
                            serde_json::from_str(d["partial_json"].as_str().unwrap()).unwrap();
                    }
                    other => panic!("unknown delta {other}"),
                }
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            "message_delta" => {
                assert_eq!(open, None, "message_delta with an open block");
                let m = message.as_mut().unwrap();
                m["stop_reason"] = data["delta"]["stop_reason"].clone();
                m["usage"] = data["usage"].clone();
                ended = true;
            }
            "message_stop" => {
                assert!(ended, "message_stop before message_delta");
                stopped = true;
            }
            other => panic!("unknown event {other}"),
        }
    }
    assert!(stopped, "stream did not end");
    Ok(message.unwrap())
}

fn chunk(v: Value) -> GenerateContentResponse {
    serde_json::from_value(v).unwrap()
}

fn run(chunks: &[Value]) -> (Vec<(String, Value)>, Result<StopReason, AnthropicError>) {
    let mut t = StreamTranslator::new(MODEL);
    let mut out = Vec::new();
    for c in chunks {
        t.on_chunk(&chunk(c.clone()), &mut out);
    }
    let r = t.finish(&mut out);
    assert!(t.is_finished());
    (events(&out), r)
}

/// The real capture of spec §11.4 (signature shortened).
fn capture() -> Vec<Value> {
    let usage = |extra: Value| {
        let mut u = json!({"promptTokenCount": 13116, "totalTokenCount": 13116,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 13116}]});
        u.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        u
    };
    let wrap = |parts: Value, extra: Value, u: Value| {
        let mut c = json!({"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}],
            "usageMetadata": u, "modelVersion": "gemini-2.5-flash", "responseId": "mLsUaebXA8b1nsEPo7bu8AM"});
        c["candidates"][0]
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    vec![
        wrap(
            json!([{"text": "**Generating the File**\n\nI've got the path \"approved.txt\" ready.\n\n", "thought": true}]),
            json!({}),
            usage(json!({})),
        ),
        wrap(
            json!([{"text": "**Finalizing the Content**\n\n", "thought": true}]),
            json!({}),
            usage(json!({})),
        ),
        wrap(
            json!([{"text": "I will create the file `approved.txt` with the specified content.\n"}]),
            json!({}),
            usage(json!({"candidatesTokenCount": 16, "thoughtsTokenCount": 80})),
        ),
        wrap(
            json!([{"functionCall": {"name": "Write", "args": {"content": "Approved content", "file_path": "approved.txt"}},
                     "thoughtSignature": "EokDCoYDAXLI2nxM+9Ar8JtQ"}]),
            json!({}),
            usage(json!({"candidatesTokenCount": 43, "thoughtsTokenCount": 80})),
        ),
        wrap(
            json!([{"text": ""}]),
            json!({"finishReason": "STOP"}),
            usage(
                json!({"candidatesTokenCount": 43, "thoughtsTokenCount": 80, "cachedContentTokenCount": 12219}),
            ),
        ),
    ]
}

#[test]
fn capture_produces_the_spec_event_sequence() {
    let (evs, r) = run(&capture());
    assert_eq!(r.unwrap(), StopReason::ToolUse);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &evs[0].1["message"];
    assert_eq!(start["model"], MODEL);
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(
        start["usage"],
        json!({"input_tokens": 13116, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 0, "output_tokens": 0})
    );
    assert_eq!(
        evs[1].1,
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
    );
    assert_eq!(
        evs[9].1,
        json!({"type": "content_block_delta", "index": 2,
               "delta": {"type": "signature_delta", "signature": "gm1|fc|2.5|EokDCoYDAXLI2nxM+9Ar8JtQ"}})
    );
    let tool_id = evs[11].1["content_block"]["id"].as_str().unwrap();
    assert!(tool_id.starts_with("toolu_"));
    assert_eq!(
        evs[11].1,
        json!({"type": "content_block_start", "index": 3,
               "content_block": {"type": "tool_use", "id": tool_id, "name": "Write", "input": {}}})
    );
    assert_eq!(
        evs[12].1["delta"],
        json!({"type": "input_json_delta",
               "partial_json": "{\"content\":\"Approved content\",\"file_path\":\"approved.txt\"}"})
    );
    assert_eq!(
        evs[14].1,
        json!({"type": "message_delta",
               "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"input_tokens": 897, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 12219, "output_tokens": 123}})
    );
    accumulate(&evs).unwrap();
}

/// Merge stream chunks into one response (parts concatenated, last usage/finish).
fn merged(chunks: &[Value]) -> GenerateContentResponse {
    let mut parts = Vec::new();
    let mut last = json!({});
    for c in chunks {
        if let Some(p) = c["candidates"][0]["content"]["parts"].as_array() {
            parts.extend(p.iter().cloned());
        }
        last = c.clone();
    }
    last["candidates"][0]["content"] = json!({"role": "model", "parts": parts});
    chunk(last)
}

fn without_ids(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("id");
    for b in v["content"].as_array_mut().unwrap() {
        if b["type"] == "tool_use" {
            b["id"] = json!("toolu_X");
        }
        for key in ["id", "tool_use_id"] {
            if b[key]
                .as_str()
                .is_some_and(|id| id.starts_with("srvtoolu_"))
            {
                b[key] = json!("srvtoolu_X");
            }
        }
    }
    v.as_object_mut().unwrap().remove("stop_sequence");
    v
}

#[test]
fn stream_and_non_stream_agree_through_the_sse_decoder() {
    let chunks = capture();
    // Gemini's wire form: CRLF framing, bytes split at awkward places.
    let mut wire = Vec::new();
    for c in &chunks {
        wire.extend_from_slice(b"data: ");
        wire.extend_from_slice(c.to_string().as_bytes());
        wire.extend_from_slice(b"\r\n\r\n");
    }
    for step in [1, 7, 64, 4096] {
        let mut dec = SseDecoder::default();
        let mut t = StreamTranslator::new(MODEL);
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            dec.push(piece);
            while let Some(data) = dec.next_event().unwrap() {
                t.on_chunk(&serde_json::from_slice(&data).unwrap(), &mut out);
            }
        }
        assert_eq!(dec.finish().unwrap(), None);
        t.finish(&mut out).unwrap();
        let streamed = accumulate(&events(&out)).unwrap();
        let direct =
            serde_json::to_value(from_generate_content(&merged(&chunks), MODEL).unwrap()).unwrap();
        assert_eq!(without_ids(streamed), without_ids(direct), "step {step}");
    }
}

#[test]
fn text_only_gemini_3_with_trailing_signature() {
    let (evs, r) = run(&[
        json!({"candidates": [{"content": {"parts": [{"text": "The file `approved.txt` has been created \u{2028} ok."}], "role": "model"}}],
               "usageMetadata": {"promptTokenCount": 13245, "candidatesTokenCount": 17, "thoughtsTokenCount": 25},
               "modelVersion": "gemini-3-pro-preview"}),
        json!({"candidates": [{"content": {"parts": [{"text": "", "thoughtSignature": "EsEBCr4B"}], "role": "model"},
               "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 13323, "candidatesTokenCount": 17, "totalTokenCount": 13365,
                                 "cachedContentTokenCount": 12211, "thoughtsTokenCount": 25}}),
    ]);
    assert_eq!(r.unwrap(), StopReason::EndTurn);
    let m = accumulate(&evs).unwrap();
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "The file `approved.txt` has been created \u{2028} ok."}])
    );
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 1112, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 12211, "output_tokens": 42})
    );
    assert_eq!(m["stop_reason"], "end_turn");
}

#[test]
fn parallel_calls_in_one_chunk() {
    let (evs, r) = run(&[json!({"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "Read", "args": {"file_path": "a"}}, "thoughtSignature": "S"},
        {"functionCall": {"name": "Glob", "args": {}}}], "role": "model"}, "finishReason": "STOP"}],
        "modelVersion": "gemini-3-flash-preview"})]);
    assert_eq!(r.unwrap(), StopReason::ToolUse);
    let m = accumulate(&evs).unwrap();
    let content = m["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    assert_eq!(content[0]["signature"], "gm1|fc|3|S");
    assert_eq!(content[2]["name"], "Glob");
    assert_eq!(content[2]["input"], json!({}));
}

#[test]
fn no_empty_text_block_is_pre_opened() {
    let (evs, r) = run(&[
        json!({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "Bash", "args": {"command": "ls"}}}]},
               "finishReason": "STOP"}]}),
    ]);
    assert_eq!(r.unwrap(), StopReason::ToolUse);
    assert_eq!(evs[1].1["content_block"]["type"], "tool_use");
    assert_eq!(evs[1].1["index"], 0);
}

#[test]
fn missing_finish_reason_ends_with_an_api_error_event() {
    let (evs, r) = run(&[json!({"candidates": [{"content": {"parts": [{"text": "partial"}]}}]})]);
    let err = r.unwrap_err();
    assert_eq!(err.kind(), ErrorType::Api);
    let (name, data) = evs.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(data["error"]["message"]
        .as_str()
        .unwrap()
        .contains("finish reason"));
    assert!(!evs
        .iter()
        .any(|(n, _)| n == "message_delta" || n == "message_stop"));
}

#[test]
fn malformed_function_call_at_the_end_is_an_error_event() {
    let (evs, r) = run(&[
        json!({"candidates": [{"content": {}, "finishReason": "MALFORMED_FUNCTION_CALL",
        "finishMessage": "Malformed function call: x"}]}),
    ]);
    assert!(matches!(r, Err(AnthropicError::MalformedResponse { .. })));
    assert_eq!(evs.last().unwrap().1["error"]["type"], "api_error");
    assert!(!evs.iter().any(|(n, _)| n == "message_stop"));
}

#[test]
fn upstream_error_chunk_mid_stream() {
    let mut t = StreamTranslator::new(MODEL);
    let mut out = Vec::new();
    t.on_chunk(
        &chunk(json!({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})),
        &mut out,
    );
    t.on_chunk(
        &chunk(json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})),
        &mut out,
    );
    assert!(t.is_finished());
    let before = out.len();
    t.on_chunk(
        &chunk(json!({"candidates": [{"content": {"parts": [{"text": "lo"}]}, "finishReason": "STOP"}]})),
        &mut out,
    );
    assert!(t.finish(&mut out).is_err());
    assert_eq!(out.len(), before, "nothing after the error");
    let evs = events(&out);
    assert_eq!(
        evs.last().unwrap().1,
        json!({"type": "error", "error": {"type": "overloaded_error",
            "message": "The model is overloaded. Please try again later."}})
    );
}

#[test]
fn caller_reported_failures() {
    let mut t = StreamTranslator::new(MODEL);
    let mut out = Vec::new();
    t.start(&mut out);
    assert!(t.has_started() && !t.has_content());
    t.fail(
        ErrorType::for_midstream_status(500),
        "upstream connection reset",
        &mut out,
    );
    t.fail(ErrorType::Api, "second", &mut out);
    let evs = events(&out);
    assert_eq!(evs.len(), 2);
    assert_eq!(
        evs[1].1,
        json!({"type": "error", "error": {"type": "api_error", "message": "upstream connection reset"}})
    );
}

#[test]
fn early_start_then_chunks() {
    let mut t = StreamTranslator::new(MODEL);
    let mut out = Vec::new();
    t.start(&mut out);
    write_ping(&mut out);
    t.on_chunk(
        &chunk(
            json!({"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1}}),
        ),
        &mut out,
    );
    t.finish(&mut out).unwrap();
    let evs = events(&out);
    assert_eq!(evs[0].1["message"]["usage"]["input_tokens"], 0);
    assert_eq!(evs.iter().filter(|(n, _)| n == "message_start").count(), 1);
    let m = accumulate(&evs).unwrap();
    assert_eq!(m["usage"]["input_tokens"], 5);
    assert_eq!(m["content"], json!([{"type": "text", "text": "hi"}]));
}

#[test]
fn ping_and_error_bytes() {
    let mut out = Vec::new();
    write_ping(&mut out);
    assert_eq!(out, b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    out.clear();
    write_error(&mut out, ErrorType::Overloaded, "Overloaded");
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
    );
}

#[test]
fn safety_and_blocked_prompt_become_refusals() {
    let (evs, r) = run(&[json!({"candidates": [{"content": {}, "finishReason": "SAFETY"}]})]);
    assert_eq!(r.unwrap(), StopReason::Refusal);
    let m = accumulate(&evs).unwrap();
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "[Gemini stopped the response: SAFETY]"}])
    );

    let (evs, r) = run(&[json!({"promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 9}})]);
    assert_eq!(r.unwrap(), StopReason::Refusal);
    let m = accumulate(&evs).unwrap();
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "[Gemini blocked the prompt: SAFETY]"}])
    );
    assert_eq!(m["usage"]["input_tokens"], 9);
}

#[test]
fn max_tokens_stream() {
    let (evs, r) = run(&[
        json!({"candidates": [{"content": {"parts": [{"text": "thinking...", "thought": true}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS"}],
               "usageMetadata": {"promptTokenCount": 10, "thoughtsTokenCount": 100}}),
    ]);
    assert_eq!(r.unwrap(), StopReason::MaxTokens);
    let m = accumulate(&evs).unwrap();
    assert_eq!(
        m["content"],
        json!([{"type": "thinking", "thinking": "thinking...", "signature": ""}])
    );
    assert_eq!(m["usage"]["output_tokens"], 100);
}

#[test]
fn a_searching_stream_holds_its_blocks_and_ends_as_the_whole_answer_does() {
    let whole: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/anthropic/gemini-grounded.json"
    ))
    .unwrap();
    // Gemini streams the text, then the last part with the finish and what the search found.
    let parts = whole["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    let mut first = whole.clone();
    first["candidates"][0] = json!({"content": {"role": "model", "parts": [parts[0]]}, "index": 0});
    let mut last = whole.clone();
    last["candidates"][0]["content"]["parts"] = json!([parts[1]]);
    let chunks = [first, last];
    let mut t = StreamTranslator::new(MODEL).grounded(true);
    let mut out = Vec::new();
    t.on_chunk(&chunk(chunks[0].clone()), &mut out);
    // Held: only the message has started.
    assert_eq!(events(&out).len(), 1);
    t.on_chunk(&chunk(chunks[1].clone()), &mut out);
    assert_eq!(t.finish(&mut out).unwrap(), StopReason::EndTurn);
    let evs = events(&out);
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| &d["content_block"])
        .collect();
    assert_eq!(starts[0]["type"], "server_tool_use");
    assert_eq!(starts[0]["input"], json!({}));
    assert_eq!(starts[1]["type"], "web_search_tool_result");
    assert_eq!(starts[1]["content"].as_array().unwrap().len(), 2);
    assert_eq!(
        starts[4],
        &json!({"type": "text", "text": "", "citations": []})
    );
    assert_eq!(starts[5], &json!({"type": "text", "text": ""}));
    assert!(evs
        .iter()
        .any(|(_, d)| d["delta"]["type"] == "citations_delta"));
    let streamed = accumulate(&evs).unwrap();
    assert_eq!(
        streamed["usage"]["server_tool_use"],
        json!({"web_search_requests": 2})
    );
    let direct =
        serde_json::to_value(from_generate_content(&chunk(whole), MODEL).unwrap()).unwrap();
    assert_eq!(without_ids(streamed), without_ids(direct));
    // Not searching: the same chunks stream as they come, without search blocks.
    let (evs, _) = run(&chunks);
    assert!(evs
        .iter()
        .all(|(_, d)| d["content_block"]["type"] != "server_tool_use"));
}

#[test]
fn text_and_thinking_deltas_are_the_bytes_serde_writes() {
    for index in [0, 3, u32::MAX] {
        for text in [
            "",
            "Mo",
            "a \"quote\", a \\ and\na newline",
            "\u{1}\u{1f} é 🦀",
        ] {
            let cases = [
                (TEXT, Delta::TextDelta { text }),
                (THINKING, Delta::ThinkingDelta { thinking: text }),
            ];
            for (kind, delta) in cases {
                let mut ours = Vec::new();
                write_text_delta(&mut ours, index, kind, text);
                let mut serdes = Vec::new();
                write_event(
                    &mut serdes,
                    &StreamEvent::ContentBlockDelta { index, delta },
                );
                assert_eq!(String::from_utf8(ours), String::from_utf8(serdes));
            }
        }
    }
}
