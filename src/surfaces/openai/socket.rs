//! The Responses API over a WebSocket (`GET /v1/responses` upgraded), as Codex prefers it: one
//! socket for many responses, each asked for by a `response.create` text frame (the body of a
//! `POST /v1/responses`, `stream` implied) and answered by the very events of the SSE stream,
//! one JSON text frame each, in the same order — the frames are cut from the same relay's
//! output, so the two transports cannot drift apart.
//!
//! - **Continuation**: the socket remembers its last responses even with `store: false` (as
//!   OpenAI's WebSocket mode does), so `previous_response_id` with only the new input works;
//!   stored ones (any socket, any gateway on the Redis) too. `generate: false` makes a response
//!   without asking the model (Codex warms the socket up with it) that later ones continue.
//! - **Failures**: a request refused before its stream starts (a 400, a 503 …) is one `error`
//!   event (`{"type": "error", "status": …, "error": {…}}`) and the socket stays open for the
//!   next one; a stream that fails ends with `response.failed` as over SSE. Failover before the
//!   first event is dispatch's, as for SSE.
//! - **Bounded**: at most `RESPONSES_MAX_SOCKETS` open (one more gets a 503 before the
//!   upgrade), each at most [`MAX_LIFETIME`] (then the `websocket_connection_limit_reached`
//!   error and a close, as OpenAI does), frames at most `MAX_BODY_BYTES`.
//! - **Observed**: each response is its own request in metrics, usage and the recent list.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::body::parse_json;
use super::errors::OpenAiError;
use super::respond::{create, Caller};
use super::responses::stored::SocketMemory;
use super::responses::types::ResponsesRequest;
use super::routes::OpenAi;
use crate::surfaces::shared::signature::new_id;
use crate::surfaces::Tallied;
use crate::telemetry::{Finished, TallyRef};

/// How long one socket may stay open (OpenAI's limit too); the client opens another.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Responses a socket remembers for `previous_response_id`: the last (what Codex continues) and
/// the one before (a retried turn continues from it).
const REMEMBERED: usize = 2;

/// `GET /v1/responses`: the WebSocket, or a 426 for a plain GET.
pub(super) async fn open(
    State(app): State<OpenAi>,
    headers: HeaderMap,
    Tallied(tally): Tallied,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return OpenAiError {
            status: StatusCode::UPGRADE_REQUIRED,
            ..OpenAiError::invalid(
                "GET /v1/responses is the Responses API's WebSocket: connect with an Upgrade: websocket request, or POST /v1/responses over HTTP.",
            )
        }
        .into_response();
    };
    let Ok(permit) = app.sockets.clone().try_acquire_owned() else {
        return OpenAiError::server(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many Responses WebSockets are open on this gateway (RESPONSES_MAX_SOCKETS): use POST /v1/responses, or retry later.",
        )
        .into_response();
    };
    let max = app.max_body_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            serve(app, socket, headers, tally).await;
        })
}

/// One socket, from upgrade to close.
async fn serve(app: OpenAi, mut socket: WebSocket, headers: HeaderMap, tally: Option<TallyRef>) {
    let closes_at = Instant::now() + MAX_LIFETIME;
    let mut caller = Caller::new(headers, tally.clone());
    caller.socket = Some(Arc::new(Mutex::new(SocketMemory::new(REMEMBERED))));
    loop {
        let frame = tokio::select! {
            f = socket.recv() => f,
            () = tokio::time::sleep_until(closes_at) => {
                let e = json!({"type": "error", "status": 400, "error": {"type": "invalid_request_error", "code": "websocket_connection_limit_reached", "message": "This WebSocket has been open for 60 minutes, its limit: open a new one to continue.", "param": null}});
                let _ = socket.send(text(&e)).await;
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: Utf8Bytes::from_static("connection limit reached") }))).await;
                return;
            }
        };
        let body = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                let e = OpenAiError::invalid("Send response.create events as text frames.");
                if socket.send(error_event(&e)).await.is_err() {
                    return;
                }
                continue;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
        };
        let request_id: Arc<str> = new_id("req_").into();
        caller.tally = tally
            .as_ref()
            .map(|t| TallyRef(t.0.sibling(request_id.clone())));
        if let Some(t) = &caller.tally {
            // Each response is its own trace, parented by the upgrade's `traceparent`.
            let telemetry = app.dispatcher.telemetry();
            telemetry.trace_socket_response(&t.0, &caller.headers);
        }
        let started = Instant::now();
        let (status, first) = match one(&app, &mut socket, body.as_str(), &caller).await {
            Ok(done) => done,
            Err(Gone) => return,
        };
        if let Some(t) = &caller.tally {
            app.dispatcher.telemetry().finish(Finished {
                request_id,
                surface: "openai",
                status,
                first_byte: first.unwrap_or_else(|| started.elapsed()),
                total: started.elapsed(),
                tally: t.0.snapshot(),
                completed: true,
            });
        }
    }
}

/// The client went away mid-answer.
struct Gone;

/// One `response.create`: its events sent; the status it amounts to and when its first event
/// went out.
async fn one(
    app: &OpenAi,
    socket: &mut WebSocket,
    body: &str,
    caller: &Caller,
) -> Result<(u16, Option<Duration>), Gone> {
    let started = Instant::now();
    let req = match request(body) {
        Ok(r) => r,
        Err(e) => {
            let status = e.status.as_u16();
            socket.send(error_event(&e)).await.map_err(|_| Gone)?;
            return Ok((status, Some(started.elapsed())));
        }
    };
    let resp = create(app, req, caller).await;
    let status = resp.status();
    if status != StatusCode::OK {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let event = json!({"type": "error", "status": status.as_u16(), "error": body["error"]});
        socket.send(text(&event)).await.map_err(|_| Gone)?;
        return Ok((status.as_u16(), Some(started.elapsed())));
    }
    let mut first = None;
    let mut events = SseFrames::default();
    let mut body = resp.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        for data in events.push(&chunk) {
            first.get_or_insert_with(|| started.elapsed());
            socket
                .send(Message::Text(data.into()))
                .await
                .map_err(|_| Gone)?;
        }
    }
    Ok((status.as_u16(), first))
}

/// A `response.create` frame's request: its fields at the top level (or, as some clients send
/// it, under `response`), `stream` implied.
fn request(body: &str) -> Result<ResponsesRequest, OpenAiError> {
    let mut v: Value = parse_json(body.as_bytes())?;
    match v.get("type").and_then(Value::as_str) {
        Some("response.create") => {}
        other => {
            return Err(OpenAiError::invalid_param(
                "type",
                format!(
                    "Unknown event type {}: this socket takes response.create events.",
                    other.map_or("(none)".to_string(), |t| format!("'{t}'"))
                ),
            ))
        }
    }
    if let Some(inner) = v
        .get_mut("response")
        .filter(|r| r.is_object())
        .map(Value::take)
    {
        v = inner;
    }
    tracing::debug!(
        previous_response_id = v.get("previous_response_id").is_some(),
        items = v["input"].as_array().map_or(1, Vec::len),
        generate = ?v.get("generate"),
        store = ?v.get("store"),
        "response.create"
    );
    if let Some(obj) = v.as_object_mut() {
        obj.remove("type");
        obj.insert("stream".into(), Value::Bool(true));
    }
    parse_json(&serde_json::to_vec(&v).unwrap_or_default())
}

fn text(v: &Value) -> Message {
    Message::Text(v.to_string().into())
}

/// A refusal as the socket's `error` event.
fn error_event(e: &OpenAiError) -> Message {
    let body = e.body();
    text(&json!({"type": "error", "status": e.status.as_u16(), "error": body["error"]}))
}

/// Cuts the relay's SSE bytes into the JSON of each event (comments — keep-alives — dropped).
#[derive(Debug, Default)]
struct SseFrames {
    pending: Vec<u8>,
}

impl SseFrames {
    fn push(&mut self, chunk: &Bytes) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = memchr::memmem::find(&self.pending, b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let data = block
                .split(|b| *b == b'\n')
                .find_map(|line| line.strip_prefix(b"data: "));
            if let Some(data) = data {
                out.push(String::from_utf8_lossy(data).into_owned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_is_cut_into_event_data_across_chunks() {
        let mut f = SseFrames::default();
        let a = Bytes::from_static(
            b"event: response.created\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: x\nda",
        );
        assert_eq!(f.push(&a), vec![r#"{"a":1}"#.to_string()]);
        let b = Bytes::from_static(b"ta: {\"b\":2}\n\n");
        assert_eq!(f.push(&b), vec![r#"{"b":2}"#.to_string()]);
    }

    #[test]
    fn a_frame_must_be_a_response_create() {
        let r = request(r#"{"type": "response.create", "model": "m", "input": "hi"}"#).unwrap();
        assert_eq!((r.model.as_str(), r.stream), ("m", Some(true)));
        let nested = request(r#"{"type": "response.create", "response": {"model": "n"}}"#).unwrap();
        assert_eq!(nested.model, "n");
        let e = request(r#"{"type": "session.update"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(request("not json").is_err());
    }
}
