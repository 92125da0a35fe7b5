//! Black-box: the Anthropic Messages surface of the built binary against the strict mock —
//! model mapping, validation before any upstream call, the streaming event sequence, errors in
//! Anthropic's shape, the real Claude Code captures, and conversation affinity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "anything")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn hello(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 256, "stream": stream,
           "messages": [{"role": "user", "content": "Hello gateway"}]})
}

/// `(event name, data)` pairs of an Anthropic SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            assert_eq!(
                v["type"],
                name.as_str(),
                "event name matches data.type in {e}"
            );
            (name, v)
        })
        .collect()
}

#[tokio::test]
async fn claude_names_map_to_the_configured_gemini_models_and_the_answer_keeps_the_name() {
    let Scenario { mock, gw, .. } = Scenario::keys(1)
        .envs(&[
            ("BIG_MODEL", "gemini-3.1-pro-preview"),
            ("SMALL_MODEL", "gemini-2.5-flash-lite"),
        ])
        .start()
        .await;
    for (name, upstream) in [
        ("claude-sonnet-4-5-20250929", "gemini-3.1-pro-preview"),
        ("claude-opus-4-1", "gemini-3.1-pro-preview"),
        ("claude-3-5-haiku-latest", "gemini-2.5-flash-lite"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
    ] {
        mock.clear_requests();
        let resp = post(&gw, "/v1/messages", &hello(name, false)).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["model"], name);
        assert_eq!(body["type"], "message");
        assert_eq!(body["content"][0]["type"], "text");
        assert_eq!(body["stop_reason"], "end_turn");
        assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
        assert_eq!(model_calls(&mock)[0].model.as_deref(), Some(upstream));
    }
}

#[tokio::test]
async fn bad_requests_get_a_400_in_anthropic_shape_and_never_reach_upstream() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let cases = [
        json!({"model": "gemini/../files", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "claude-sonnet-4-5", "max_tokens": 10}),
        json!({"model": "claude-sonnet-4-5", "max_tokens": "ten", "messages": []}),
        json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "robot", "content": "hi"}]}),
        json!([1, 2, 3]),
    ];
    for body in cases {
        let resp = post(&gw, "/v1/messages", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["type"], "error");
        assert_eq!(
            err["error"]["type"], "invalid_request_error",
            "{body}: {err}"
        );
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    let resp = client()
        .post(gw.url("/v1/messages"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(model_calls(&mock).is_empty(), "nothing was sent upstream");
}

#[tokio::test]
async fn a_stream_follows_anthropics_event_sequence() {
    let Scenario {
        mock: _mock, gw, ..
    } = Scenario::keys(1).start().await;
    let resp = post(
        &gw,
        "/v1/messages?beta=true",
        &hello("claude-sonnet-4-5", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let evs = events(&resp.text().await.unwrap());
    let names: Vec<&str> = evs
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert_eq!(names[1], "content_block_start");
    assert!(
        names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count()
            >= 2,
        "deltas forwarded as they come: {names:?}"
    );
    let start = &evs[0].1;
    assert_eq!(start["message"]["model"], "claude-sonnet-4-5");
    assert!(start["message"]["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let delta = &evs.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn tool_use_round_trips_on_gemini_2_5_and_gemini_3() {
    let Scenario {
        mock: _mock, gw, ..
    } = Scenario::keys(2).start().await;
    let bash = json!({"name": "Bash", "description": "Run a shell command",
        "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "number", "exclusiveMinimum": 0}},
            "required": ["command"], "additionalProperties": false}});
    for model in ["claude-sonnet-4-5", "gemini-3.1-pro-preview"] {
        for stream in [false, true] {
            let ask = json!({"role": "user", "content": "Please run `echo round-trip` with Bash"});
            let first = json!({"model": model, "max_tokens": 1024, "stream": stream, "tools": [bash], "messages": [ask]});
            let resp = post(&gw, "/v1/messages", &first).await;
            assert_eq!(resp.status(), 200, "{model}");
            let content = if stream {
                accumulate(&events(&resp.text().await.unwrap()))
            } else {
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["stop_reason"], "tool_use");
                body["content"].clone()
            };
            let tool_use = content
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["type"] == "tool_use")
                .unwrap()
                .clone();
            assert_eq!(tool_use["name"], "Bash");
            assert_eq!(tool_use["input"]["command"], "echo round-trip");
            assert!(tool_use["id"].as_str().unwrap().starts_with("toolu_"));
            let result = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "round-trip\n"}]});
            let second = json!({"model": model, "max_tokens": 1024, "stream": stream, "tools": [bash],
                "messages": [ask, {"role": "assistant", "content": content}, result]});
            let resp = post(&gw, "/v1/messages", &second).await;
            let status = resp.status();
            let text = resp.text().await.unwrap();
            assert_eq!(status, 200, "{model} stream={stream}: {text}");
            let answer = if stream {
                accumulate(&events(&text))
            } else {
                serde_json::from_str::<Value>(&text).unwrap()["content"].clone()
            };
            let said: String = answer
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect();
            assert!(
                said.contains("Tool Bash returned: round-trip"),
                "{model} stream={stream}: {text}"
            );
        }
    }
}

/// Rebuilds the final content array from stream events (as the SDKs do).
fn accumulate(evs: &[(String, Value)]) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    for (name, v) in evs {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(
                    v["index"].as_u64().unwrap() as usize,
                    blocks.len(),
                    "contiguous indices"
                );
                blocks.push(v["content_block"].clone());
                partial.push(String::new());
            }
            "content_block_delta" => {
                let i = v["index"].as_u64().unwrap() as usize;
                let d = &v["delta"];
                match d["type"].as_str().unwrap() {
                    "text_delta" => {
                        let t = format!(
                            "{}{}",
                            blocks[i]["text"].as_str().unwrap(),
                            d["text"].as_str().unwrap()
                        );
                        blocks[i]["text"] = t.into();
                    }
                    "thinking_delta" => {
                        let t = format!(
                            "{}{}",
                            blocks[i]["thinking"].as_str().unwrap_or(""),
                            d["thinking"].as_str().unwrap()
                        );
                        blocks[i]["thinking"] = t.into();
                    }
                    "signature_delta" => blocks[i]["signature"] = d["signature"].clone(),
                    "input_json_delta" => partial[i].push_str(d["partial_json"].as_str().unwrap()),
                    other => panic!("unknown delta {other}"),
                }
            }
            "content_block_stop" => {
                let i = v["index"].as_u64().unwrap() as usize;
                if blocks[i]["type"] == "tool_use" {
                    blocks[i]["input"] = if partial[i].is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&partial[i]).unwrap()
                    };
                }
            }
            _ => {}
        }
    }
    Value::Array(blocks)
}

#[tokio::test]
async fn the_captured_claude_code_requests_are_accepted_by_the_strict_upstream() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    for name in [
        "claude-code-first-turn.json",
        "claude-code-tool-result-turn.json",
    ] {
        let body = fixture(name);
        let resp = post(&gw, "/v1/messages?beta=true", &body).await;
        assert_eq!(resp.status(), 200, "{name}");
        let text = resp.text().await.unwrap();
        let evs = events(&text);
        assert_eq!(evs.last().unwrap().0, "message_stop", "{name}: {text}");
        let resp = post(&gw, "/v1/messages/count_tokens?beta=true", &body).await;
        assert_eq!(resp.status(), 200, "{name}");
        let count: Value = resp.json().await.unwrap();
        assert!(
            count["input_tokens"].as_u64().unwrap() > 1000,
            "system and tools are counted: {count}"
        );
    }
    // The billing header block never reaches Gemini (it would defeat implicit caching).
    for r in model_calls(&mock) {
        assert!(!r
            .body
            .unwrap()
            .to_string()
            .contains("x-anthropic-billing-header"));
    }
}

#[tokio::test]
async fn an_exhausted_pool_is_a_503_overloaded_error_with_retry_after() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    for k in &ks {
        mock.script(rule(k, None, None, per_minute("33s")));
    }
    for stream in [false, true] {
        let resp = post(&gw, "/v1/messages", &hello("claude-sonnet-4-5", stream)).await;
        assert_eq!(resp.status(), 503);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((30..=34).contains(&retry), "{retry}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["type"], "error");
        assert_eq!(err["error"]["type"], "overloaded_error");
    }
}

#[tokio::test]
async fn what_the_gateway_knows_gemini_refuses_is_answered_before_any_key_is_spent() {
    let Scenario { mock, gw, .. } = Scenario::keys(2).start().await;
    // A name the live catalog lacks: Anthropic's 404, and no key is spent on it.
    let resp = post(&gw, "/v1/messages", &hello("gemini-0-unknown", false)).await;
    assert_eq!(resp.status(), 404);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "not_found_error");
    assert!(model_calls(&mock).is_empty(), "nothing went upstream");
    // Gemini's own 400 for a body it refuses comes back as invalid_request_error, not
    // retried on another key: Gemini 4 refuses a prefilled turn (the gateway says so itself).
    let mut prefill = hello("gemini-4-argon", false);
    prefill["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "assistant", "content": "Once upon"}));
    let resp = post(&gw, "/v1/messages", &prefill).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(model_calls(&mock).is_empty());
}

#[tokio::test]
async fn a_stream_that_breaks_after_commit_ends_with_an_error_event() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(1).start().await;
    mock.script(rule(
        &ks[0],
        None,
        Some(1),
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    let text = post(&gw, "/v1/messages", &hello("claude-sonnet-4-5", true))
        .await
        .text()
        .await
        .unwrap();
    let evs = events(&text);
    assert_eq!(evs[0].0, "message_start");
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{text}");
    assert_eq!(data["error"]["type"], "overloaded_error");
    assert!(!evs.iter().any(|(n, _)| n == "message_stop"));

    // A stream that ends cleanly but without a finishReason was truncated: an error, not success.
    mock.script(rule(
        &ks[0],
        None,
        Some(1),
        Behaviour::StreamNoFinish { after_chunks: 2 },
    ));
    let text = post(&gw, "/v1/messages", &hello("claude-sonnet-4-5", true))
        .await
        .text()
        .await
        .unwrap();
    let evs = events(&text);
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{text}");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(!evs
        .iter()
        .any(|(n, _)| n == "message_stop" || n == "message_delta"));
}

#[tokio::test]
async fn a_session_keeps_its_key_and_moves_only_when_it_is_unusable() {
    let Scenario { mock, gw, .. } = Scenario::keys(4).start().await;
    let send = |session: &'static str| {
        let url = gw.url("/v1/messages");
        async move {
            let mut req = client().post(url).json(&hello("claude-sonnet-4-5", true));
            if !session.is_empty() {
                req = req.header("x-claude-code-session-id", session);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap();
        }
    };
    for _ in 0..6 {
        send("session-a").await;
    }
    let used = |mock: &MockGemini| {
        model_calls(mock)
            .into_iter()
            .map(|r| r.api_key.unwrap())
            .collect::<Vec<_>>()
    };
    let a_keys = used(&mock);
    assert!(
        a_keys.iter().all(|k| *k == a_keys[0]),
        "one key for the session: {a_keys:?}"
    );

    // Its key gets rate-limited: the session moves once, then sticks to the new key.
    let first = a_keys[0].clone();
    mock.script(rule(&first, None, None, per_minute("60s")));
    mock.clear_requests();
    for _ in 0..4 {
        send("session-a").await;
    }
    let moved: Vec<String> = used(&mock).into_iter().filter(|k| *k != first).collect();
    assert_eq!(moved.len(), 4);
    assert!(moved.iter().all(|k| *k == moved[0]), "{moved:?}");

    // The session id inside metadata.user_id (Claude Code's JSON form) works too.
    mock.clear_requests();
    for _ in 0..3 {
        let mut body = hello("claude-sonnet-4-5", false);
        body["metadata"] = json!({"user_id": "{\"device_id\":\"d\",\"account_uuid\":\"\",\"session_id\":\"meta-session\"}"});
        assert_eq!(post(&gw, "/v1/messages", &body).await.status(), 200);
    }
    let meta = used(&mock);
    assert!(meta.iter().all(|k| *k == meta[0]), "{meta:?}");

    // Without a session: plain round-robin over the usable keys.
    mock.clear_requests();
    for _ in 0..6 {
        send("").await;
    }
    let mut spread = used(&mock);
    spread.sort();
    spread.dedup();
    assert_eq!(spread.len(), 3, "three usable keys share the load");
}

#[tokio::test]
async fn a_malformed_function_call_is_retried_once_on_another_key_and_recorded() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    for k in &ks {
        mock.script(rule(k, None, Some(1), Behaviour::MalformedFunctionCall));
    }
    let resp = post(&gw, "/v1/messages", &hello("claude-sonnet-4-5", false)).await;
    assert_eq!(resp.status(), 500, "both keys answered malformed");
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "api_error");
    let used = keys_used(&mock);
    assert_eq!(used.len(), 2, "one retry");
    assert_ne!(used[0], used[1], "on another key");
    let status = gw.status().await;
    for k in &ks {
        let view = key_view(&status, k);
        assert_eq!(view["failures"], 1, "{view}");
        assert_eq!(view["last_error"], "unusable_answer");
        assert_eq!(view["state"], "available");
    }
    // One malformed answer, whichever key gives it: the client gets the other key's answer.
    for k in &ks {
        mock.script(rule(k, None, Some(1), Behaviour::MalformedFunctionCall));
        let resp = post(&gw, "/v1/messages", &hello("claude-sonnet-4-5", false)).await;
        assert_eq!(resp.status(), 200);
    }
}

/// The text deltas of an Anthropic stream, concatenated.
fn text_of(evs: &[(String, Value)]) -> String {
    evs.iter()
        .filter(|(n, d)| n == "content_block_delta" && d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_stream_that_breaks_mid_way_reaches_claude_as_one_whole_message() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    let body = hello("claude-sonnet-4-5", true);
    let whole = post(&gw, "/v1/messages", &body).await.text().await.unwrap();
    let whole = events(&whole);
    let expected = text_of(&whole);
    assert!(expected.len() > 3, "{whole:?}");
    // The next request goes to the other key, whose stream breaks after one chunk.
    let next = if keys_used(&mock)[0] == ks[0] {
        &ks[1]
    } else {
        &ks[0]
    };
    mock.script(rule(
        next,
        None,
        None,
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    mock.clear_requests();
    let text = post(&gw, "/v1/messages", &body).await.text().await.unwrap();
    let evs = events(&text);
    assert_eq!(text_of(&evs), expected, "{text}");
    assert_eq!(evs.last().unwrap().0, "message_stop", "{text}");
    assert!(!evs.iter().any(|(n, _)| n == "error"), "{text}");
    assert_eq!(
        evs.iter().filter(|(n, _)| n == "message_start").count(),
        1,
        "one message"
    );
    assert_eq!(keys_used(&mock).len(), 2);
}
