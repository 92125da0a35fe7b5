//! Black-box: the Responses API over a WebSocket on the built binary against the strict mock, as
//! Codex drives it — one socket, many `response.create` frames, the SSE stream's events as text
//! frames; a tool turn continued with `previous_response_id` and only the new input although
//! nothing was stored (`store: false`); a refusal is one `error` event and the socket lives on;
//! the client key is checked on the upgrade; more sockets than allowed get a 503.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const MODEL: &str = "gemini-3.1-pro-preview";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(gw: &Gateway, key: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = gw.url("/v1/responses").replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    req.headers_mut().insert(
        "openai-beta",
        "responses_websockets=2026-02-06".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
}

/// Sends one `response.create` and reads its events up to the last (`response.completed`,
/// `response.failed` or an `error`).
async fn create(socket: &mut Socket, body: Value) -> Vec<Value> {
    let mut frame = body;
    frame["type"] = json!("response.create");
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(msg) = socket.next().await {
        let Message::Text(t) = msg.unwrap() else {
            continue;
        };
        let event: Value = serde_json::from_str(t.as_str()).unwrap();
        let last = matches!(
            event["type"].as_str(),
            Some("response.completed" | "response.failed" | "response.incomplete" | "error")
        );
        events.push(event);
        if last {
            break;
        }
    }
    events
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The first output item of `kind` in a response object.
fn output_item(response: &Value, kind: &str) -> Value {
    let items = response["output"].as_array().expect("an output list");
    let found = items.iter().find(|i| i["type"] == kind);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} item in {response}"))
}

fn shell_tool() -> Value {
    json!([{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}])
}

#[tokio::test]
async fn one_socket_carries_a_tool_turn_continued_with_only_the_new_input() {
    let s = Scenario::keys(1).start().await;
    let mut socket = connect(&s.gw, "sk-x").await.unwrap();
    let first = create(
        &mut socket,
        json!({"model": MODEL, "store": false, "input": "run `echo hi` please", "tools": shell_tool()}),
    )
    .await;
    let k = kinds(&first);
    assert_eq!(
        k[..2],
        ["response.created", "response.in_progress"],
        "{k:?}"
    );
    assert_eq!(k.last(), Some(&"response.completed"), "{k:?}");
    let done = &first.last().unwrap()["response"];
    assert_eq!(done["store"], false);
    let call = output_item(done, "function_call");
    // Sequence numbers count up as over SSE.
    let seq: Vec<u64> = first
        .iter()
        .map(|e| e["sequence_number"].as_u64().unwrap())
        .collect();
    assert!(seq.windows(2).all(|w| w[1] == w[0] + 1), "{seq:?}");

    let second = create(
        &mut socket,
        json!({"model": MODEL, "store": false, "previous_response_id": done["id"], "tools": shell_tool(),
               "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "hi"}]}),
    )
    .await;
    assert_eq!(kinds(&second).last(), Some(&"response.completed"));
    let calls = model_calls(&s.mock);
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.status == 200));
    let contents = calls[1].body.clone().unwrap()["contents"].clone();
    assert_eq!(contents.as_array().unwrap().len(), 3, "{contents}");
    assert!(contents[1]["parts"][0]["functionCall"].is_object());
    assert!(contents[2]["parts"][0]["functionResponse"].is_object());
    // Nothing was stored: another connection cannot continue from it.
    let mut other = connect(&s.gw, "sk-x").await.unwrap();
    let refused = create(
        &mut other,
        json!({"model": MODEL, "previous_response_id": done["id"], "input": "more"}),
    )
    .await;
    assert_eq!(kinds(&refused), ["error"]);
    assert_eq!(refused[0]["status"], 400);
    assert_eq!(refused[0]["error"]["code"], "previous_response_not_found");
    // Each response was its own request in the metrics.
    let metrics = client()
        .get(s.gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!(
        r#"gateway_requests_total{{surface="openai",model="{MODEL}",status="200",client="anonymous"}} 2"#
    );
    assert!(metrics.contains(&line), "{metrics}");
}

#[tokio::test]
async fn a_refused_response_is_an_error_event_and_the_socket_lives_on() {
    let s = Scenario::keys(1).start().await;
    let mut socket = connect(&s.gw, "sk-x").await.unwrap();
    let bad = create(
        &mut socket,
        json!({"model": "no-such-model-x", "input": "hi"}),
    )
    .await;
    assert_eq!(kinds(&bad), ["error"]);
    assert_eq!(bad[0]["status"], 404, "{bad:?}");
    assert!(bad[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no-such-model-x"));
    socket
        .send(Message::Text(r#"{"type": "session.update"}"#.into()))
        .await
        .unwrap();
    let Some(Ok(Message::Text(t))) = socket.next().await else {
        panic!("no answer to an unknown event");
    };
    let e: Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(
        (e["type"].as_str(), e["status"].as_u64()),
        (Some("error"), Some(400))
    );
    let ok = create(
        &mut socket,
        json!({"model": MODEL, "input": "hello socket"}),
    )
    .await;
    assert_eq!(kinds(&ok).last(), Some(&"response.completed"));
    let text: String = ok
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert!(text.contains("hello socket"), "{text}");
}

#[tokio::test]
async fn the_upgrade_needs_a_client_key_and_sockets_are_bounded() {
    let s = Scenario::keys(1)
        .envs(&[
            ("GATEWAY_API_KEYS", "gw-key-1"),
            ("RESPONSES_MAX_SOCKETS", "1"),
        ])
        .start()
        .await;
    let refused = connect(&s.gw, "wrong").await.unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let _open = connect(&s.gw, "gw-key-1").await.unwrap();
    let full = connect(&s.gw, "gw-key-1").await.unwrap_err();
    assert!(full.to_string().contains("503"), "{full}");
    assert!(model_calls(&s.mock).is_empty());
}

#[tokio::test]
async fn a_compaction_trigger_on_the_socket_answers_one_compaction_item() {
    let s = Scenario::keys(1).start().await;
    let mut socket = connect(&s.gw, "sk-x").await.unwrap();
    let events = create(
        &mut socket,
        json!({"model": MODEL, "store": false, "input": [
            {"type": "message", "role": "user", "content": "fix the parser"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
            {"type": "compaction_trigger"}]}),
    )
    .await;
    let k = kinds(&events);
    assert_eq!(
        k,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let done = &events.last().unwrap()["response"];
    let output = done["output"].as_array().unwrap();
    assert_eq!(output.len(), 1);
    assert_eq!(output[0]["type"], "compaction");
    assert_eq!(events[3]["item"], output[0]);
    // The socket goes on with the compacted history.
    let next = create(
        &mut socket,
        json!({"model": MODEL, "store": false, "input": [output[0].clone(),
            {"type": "message", "role": "user", "content": "go on"}]}),
    )
    .await;
    assert_eq!(kinds(&next).last(), Some(&"response.completed"));
}
