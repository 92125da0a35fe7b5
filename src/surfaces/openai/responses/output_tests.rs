//! Gemini answers → Responses API events and objects: the documented event order with
//! `sequence_number`, reasoning summaries, function and custom tool calls with their signatures,
//! namespaces, usage, `incomplete` and `failed`.

use serde_json::{json, Value};

use super::output::{Echo, ResponseBuilder};
use super::request::ToolKinds;
use crate::dispatch::StreamBroken;
use crate::surfaces::shared::relay::{Failure, Translate};
use crate::surfaces::shared::signature::{carried, unsealed};
use crate::upstream::wire::GenerateContentResponse;

fn echo(kinds: ToolKinds) -> Echo {
    Echo {
        client_model: "gateway-model".into(),
        gemini_model: "gemini-3-pro-preview".into(),
        created: 1_700_000_000,
        parallel: true,
        tool_choice: json!("auto"),
        reasoning: json!({"effort": null, "summary": "auto"}),
        max_output_tokens: None,
        temperature: None,
        top_p: None,
        kinds,
        store: false,
        previous_response_id: None,
    }
}

/// The whole object a non-streamed answer ends with.
fn whole(b: ResponseBuilder) -> Value {
    serde_json::from_slice(&b.finish_object().unwrap().0).unwrap()
}

fn chunk(v: Value) -> GenerateContentResponse {
    serde_json::from_value(v).unwrap()
}

/// (event name, data) pairs of a stream.
fn events(out: &[u8]) -> Vec<(String, Value)> {
    String::from_utf8_lossy(out)
        .split("\n\n")
        .filter(|e| e.starts_with("event: "))
        .map(|e| {
            let (head, data) = e.split_once("\ndata: ").unwrap();
            let name = head.trim_start_matches("event: ").to_string();
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

fn stream(kinds: ToolKinds, chunks: &[Value]) -> Vec<(String, Value)> {
    let mut b = ResponseBuilder::new(echo(kinds), true);
    let mut out = Vec::new();
    for c in chunks {
        b.chunk(&chunk(c.clone()), &mut out);
    }
    b.end(&mut out);
    assert!(b.is_finished());
    events(&out)
}

fn names(e: &[(String, Value)]) -> Vec<&str> {
    e.iter().map(|(n, _)| n.as_str()).collect()
}

const USAGE: &str = r#"{"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
    "cachedContentTokenCount": 4, "totalTokenCount": 22}"#;

#[test]
fn a_text_answer_streams_in_the_documented_order_with_sequence_numbers() {
    let usage: Value = serde_json::from_str(USAGE).unwrap();
    let e = stream(
        ToolKinds::default(),
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
                   "usageMetadata": usage}),
        ],
    );
    assert_eq!(
        names(&e),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let seq: Vec<u64> = e
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seq, (0..e.len() as u64).collect::<Vec<_>>());
    assert_eq!(e[1].1["response"]["status"], "in_progress");
    assert_eq!(e[6].1["text"], "Hello");
    let done = &e[9].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["model"], "gateway-model");
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(
        done["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 12,
               "output_tokens_details": {"reasoning_tokens": 7}, "total_tokens": 22})
    );
}

#[test]
fn thought_summaries_become_a_reasoning_item_whose_encrypted_content_seals_the_signature() {
    let e = stream(
        ToolKinds::default(),
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "**Plan**", "thought": true}]}}],
                   "modelVersion": "gemini-3-pro-preview"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "exec_command", "args": {"cmd": "ls"}}, "thoughtSignature": "c2ln"}]},
                "finishReason": "STOP"}]}),
        ],
    );
    assert_eq!(
        names(&e)[2..],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let reasoning = &e[7].1["item"];
    assert_eq!(
        reasoning["summary"],
        json!([{"type": "summary_text", "text": "**Plan**"}])
    );
    let sealed = reasoning["encrypted_content"].as_str().unwrap();
    assert_eq!(unsealed(sealed).map(|(_, s)| s), Some("c2ln"));
    let call = &e[11].1["item"];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(call["status"], "completed");
    // The call_id carries the signature too, for clients that drop reasoning items.
    assert_eq!(
        carried(call["call_id"].as_str().unwrap()).map(|(_, s)| s),
        Some("c2ln")
    );
    assert_eq!(e[9].1["delta"], "{\"cmd\":\"ls\"}");
}

#[test]
fn a_signed_call_without_thoughts_gets_an_empty_reasoning_item_before_it() {
    let e = stream(
        ToolKinds::default(),
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}]}, "finishReason": "STOP"}],
            "modelVersion": "gemini-3-pro-preview"}),
        ],
    );
    let output = &e.last().unwrap().1["response"]["output"];
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[0]["summary"], json!([]));
    assert!(output[0]["encrypted_content"]
        .as_str()
        .unwrap()
        .ends_with("|c2ln"));
    assert_eq!(output[1]["type"], "function_call");
}

#[test]
fn custom_and_namespaced_tools_come_back_as_the_client_declared_them() {
    let mut kinds = ToolKinds::default();
    kinds
        .custom
        .insert("apply_patch".into(), "apply_patch".into());
    kinds
        .namespaced
        .insert("mcp.search".into(), ("mcp".into(), "search".into()));
    let e = stream(
        kinds,
        &[
            json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "apply_patch", "args": {"input": "*** Begin Patch"}}},
            {"functionCall": {"name": "mcp.search", "args": {"q": "x"}}},
            {"functionCall": {"name": "plain.dotted", "args": {}}}]}, "finishReason": "STOP"}]}),
        ],
    );
    assert!(names(&e).contains(&"response.custom_tool_call_input.delta"));
    let done = e
        .iter()
        .find(|(n, _)| n == "response.custom_tool_call_input.done")
        .unwrap();
    assert_eq!(done.1["input"], "*** Begin Patch");
    let output = &e.last().unwrap().1["response"]["output"];
    assert_eq!(output[0]["type"], "custom_tool_call");
    assert_eq!(output[0]["input"], "*** Begin Patch");
    assert_eq!(
        (output[1]["namespace"].clone(), output[1]["name"].clone()),
        (json!("mcp"), json!("search"))
    );
    // A dotted name that was not declared in a namespace stays whole.
    assert_eq!(output[2]["name"], "plain.dotted");
    assert!(output[2].get("namespace").is_none());
}

#[test]
fn parallel_tool_calls_false_keeps_one_call() {
    let mut b = ResponseBuilder::new(
        Echo {
            parallel: false,
            ..echo(ToolKinds::default())
        },
        false,
    );
    b.chunk(
        &chunk(json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {}}}]}, "finishReason": "STOP"}]})),
        &mut Vec::new(),
    );
    let o = whole(b);
    assert_eq!(o["output"].as_array().unwrap().len(), 1);
}

#[test]
fn max_tokens_and_safety_are_incomplete_with_their_reason() {
    for (reason, why) in [
        ("MAX_TOKENS", "max_output_tokens"),
        ("SAFETY", "content_filter"),
    ] {
        let mut b = ResponseBuilder::new(echo(ToolKinds::default()), false);
        b.chunk(
            &chunk(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "cut"}]}, "finishReason": reason}]})),
            &mut Vec::new(),
        );
        let o = whole(b);
        assert_eq!(o["status"], "incomplete");
        assert_eq!(o["incomplete_details"], json!({"reason": why}));
    }
}

#[test]
fn failures_are_response_failed_never_a_completed_response() {
    // A malformed call: an error the dispatcher may retry, and in a stream `response.failed`.
    let mut b = ResponseBuilder::new(echo(ToolKinds::default()), false);
    b.chunk(
        &chunk(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MALFORMED_FUNCTION_CALL"}]})),
        &mut Vec::new(),
    );
    let e = b.finish_object().unwrap_err();
    assert!(e.retryable);
    let e = stream(
        ToolKinds::default(),
        &[json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "partial"}]}}]})],
    );
    let (last, data) = e.last().unwrap();
    assert_eq!(last, "response.failed");
    assert_eq!(data["response"]["status"], "failed");
    assert!(!names(&e).contains(&"response.completed"));
    let mut b = ResponseBuilder::new(echo(ToolKinds::default()), true);
    let mut out = Vec::new();
    b.chunk(
        &chunk(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "par"}]}}]})),
        &mut out,
    );
    b.fail(Failure::Broken(&StreamBroken::Truncated), &mut out);
    let e = events(&out);
    assert_eq!(e.last().unwrap().0, "response.failed");
    assert!(e.last().unwrap().1["response"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("broke"));
}

#[test]
fn the_whole_object_of_a_non_streamed_answer() {
    let mut b = ResponseBuilder::new(echo(ToolKinds::default()), false);
    let mut out = Vec::new();
    b.chunk(
        &chunk(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]})),
        &mut out,
    );
    assert!(out.is_empty(), "no events when not streaming");
    let o = whole(b);
    assert_eq!(o["object"], "response");
    assert!(o["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(o["output"][0]["type"], "message");
    assert_eq!(o["output"][0]["role"], "assistant");
    assert_eq!(
        o["output"][0]["content"][0],
        json!({"type": "output_text", "text": "hi", "annotations": []})
    );
}

#[test]
fn text_deltas_are_the_bytes_serde_writes() {
    use super::object::{indexes, write_event, At, Delta, Deltas, Event, PartEvent};
    let kinds = [
        ("response.output_text.delta", At::Content),
        ("response.reasoning_summary_text.delta", At::Summary),
    ];
    for (kind, at) in kinds {
        for (seq, index) in [(0, 0), (7, 3), (u64::MAX, usize::MAX)] {
            for delta in ["", "Mo", "a \"quote\", a \\ and\na newline", "\u{1} é 🦀"] {
                let id = "msg_\"odd\"";
                let mut ours = Vec::new();
                Deltas::new(at, id, index).write(&mut ours, seq, delta);
                let (content_index, summary_index) = indexes(at);
                let event = Event {
                    kind,
                    sequence_number: seq,
                    data: PartEvent {
                        item_id: id,
                        output_index: index,
                        content_index,
                        summary_index,
                        payload: Delta { delta },
                    },
                };
                let mut serdes = Vec::new();
                write_event(&mut serdes, kind, &event);
                assert_eq!(String::from_utf8(ours), String::from_utf8(serdes));
            }
        }
    }
}

#[test]
fn whole_response_events_are_the_bytes_serde_writes() {
    use super::object::{
        open_response_event, write_event, Event, WithResponse, RESPONSE_EVENT_END,
    };
    let mut b = ResponseBuilder::new(echo(ToolKinds::default()), true);
    let mut out = Vec::new();
    let text = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hi \"there\""}]},
        "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 5}});
    b.chunk(&chunk(text), &mut out);
    let opening = events(&out);
    assert_eq!(opening[0].0, "response.created");
    assert_eq!(
        (opening[1].0.as_str(), &opening[1].1["sequence_number"]),
        ("response.in_progress", &json!(1))
    );
    assert_eq!(opening[0].1["response"], opening[1].1["response"]);
    assert_eq!(opening[1].1["response"]["status"], "in_progress");
    b.end(&mut out);
    for (kind, seq, status) in [
        ("response.created", 0, "in_progress"),
        ("response.completed", u64::MAX, "completed"),
        ("response.\"odd\"", 7, "failed"),
    ] {
        let object = b.object(status);
        let mut ours = Vec::new();
        open_response_event(&mut ours, kind, seq);
        object.write(&mut ours);
        ours.extend_from_slice(RESPONSE_EVENT_END);
        let event = Event {
            kind,
            sequence_number: seq,
            data: WithResponse { response: object },
        };
        let mut serdes = Vec::new();
        write_event(&mut serdes, kind, &event);
        assert_eq!(String::from_utf8(ours), String::from_utf8(serdes));
    }
}

/// `data` written by [`super::object::write_data_event`] is what serde writes for its event.
fn same_data_event<T: serde::Serialize>((kind, seq): (&str, u64), data: &T) {
    use super::object::{write_data_event, write_event, Event};
    let mut ours = Vec::new();
    write_data_event(&mut ours, (kind, seq), data);
    let event = Event {
        kind,
        sequence_number: seq,
        data,
    };
    let mut serdes = Vec::new();
    write_event(&mut serdes, kind, &event);
    assert_eq!(String::from_utf8(ours), String::from_utf8(serdes));
}

/// A part event written by [`super::object::write_part_event`] is what serde writes for it.
fn same_part_event<T: serde::Serialize>(
    (kind, seq): (&str, u64),
    (at, item_id, output_index): (super::object::At, &str, usize),
    payload: T,
) {
    use super::object::{indexes, write_event, write_part_event, Event, PartEvent};
    let mut ours = Vec::new();
    write_part_event(
        &mut ours,
        (kind, seq),
        (at, item_id, output_index),
        &payload,
    );
    let (content_index, summary_index) = indexes(at);
    let event = Event {
        kind,
        sequence_number: seq,
        data: PartEvent {
            item_id,
            output_index,
            content_index,
            summary_index,
            payload,
        },
    };
    let mut serdes = Vec::new();
    write_event(&mut serdes, kind, &event);
    assert_eq!(String::from_utf8(ours), String::from_utf8(serdes));
}

#[test]
fn events_written_by_hand_are_the_bytes_serde_writes() {
    use super::object::{At, Empty, ItemEvent, PartField, Text, TextPart};
    let item = json!({"type": "message", "id": "msg_\"odd\"", "content": [], "status": "x"});
    for event in [
        ("response.output_item.added", 0),
        ("response.\"odd\"", u64::MAX),
    ] {
        same_data_event(
            event,
            &ItemEvent {
                output_index: 3,
                item: &item,
            },
        );
        same_data_event(
            event,
            &json!({"item_id": "fc_1", "output_index": 0, "delta": "{\"a\": 1}"}),
        );
        same_data_event(event, &Empty {});
        same_data_event(event, &json!({}));
        for at in [At::Content, At::Summary] {
            for text in ["", "a \"quote\"\n\u{1} é"] {
                let part = (at, "msg_\"odd\"", usize::MAX);
                same_part_event(event, part, Text { text });
                same_part_event(
                    event,
                    part,
                    PartField {
                        part: TextPart::of(at, text),
                    },
                );
            }
        }
    }
}

#[test]
fn the_object_written_by_hand_is_the_bytes_serde_writes_in_every_state() {
    let odd = Echo {
        client_model: "model \"odd\" é".into(),
        parallel: false,
        tool_choice: json!({"type": "function", "name": "f"}),
        reasoning: json!({"effort": "high", "summary": null}),
        max_output_tokens: Some(u32::MAX),
        temperature: Some(0.7),
        top_p: Some(1e-300),
        store: true,
        previous_response_id: Some("resp_\"prev\"".into()),
        ..echo(ToolKinds::default())
    };
    let answers = [
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking", "thought": true}, {"text": "hi \"there\"\n"},
            {"functionCall": {"name": "f", "args": {"a": [1, 2.5, null]}}, "thoughtSignature": "c2ln"}]},
            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "cachedContentTokenCount": 2,
            "candidatesTokenCount": 4, "thoughtsTokenCount": 5, "totalTokenCount": 12}}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "cut"}]},
            "finishReason": "MAX_TOKENS"}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": []},
            "finishReason": "MALFORMED_FUNCTION_CALL"}]}),
    ];
    for e in [echo(ToolKinds::default()), odd] {
        for answer in &answers {
            let same_in_every_status = |b: &ResponseBuilder| {
                for status in ["in_progress", "completed", "incomplete", "failed"] {
                    let object = b.object(status);
                    let mut ours = Vec::new();
                    object.write(&mut ours);
                    let serdes = serde_json::to_vec(&object).unwrap();
                    assert_eq!(String::from_utf8(ours), String::from_utf8(serdes));
                }
            };
            let mut b = ResponseBuilder::new(e.clone(), true);
            same_in_every_status(&b);
            let mut out = Vec::new();
            b.chunk(&chunk(answer.clone()), &mut out);
            b.end(&mut out);
            same_in_every_status(&b);
        }
    }
}

#[test]
fn a_message_item_is_the_bytes_of_the_json_object_it_stands_for() {
    use super::object::{MessageItem, OutputText};
    for (id, text) in [("msg_1", ""), ("msg_\"odd\"", "a \"quote\"\n\u{1} é 🦀")] {
        let typed = serde_json::to_string(&MessageItem::new(id, "in_progress", &[])).unwrap();
        let value = json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []});
        assert_eq!(typed, value.to_string());
        let content = [OutputText::of(text)];
        let typed = serde_json::to_string(&MessageItem::new(id, "completed", &content)).unwrap();
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        let value = json!({"type": "message", "id": id, "status": "completed", "role": "assistant", "content": [part]});
        assert_eq!(typed, value.to_string());
    }
}
