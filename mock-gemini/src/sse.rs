//! Stream framing for `streamGenerateContent`.
//!
//! With `?alt=sse` the real API sends `data: {json}\r\n\r\n` events (CRLF, no `[DONE]`,
//! `text/event-stream`); without it, a JSON array streamed element by element. This module
//! frames the events, paces them (`chunk_interval_ms`) and can end a stream badly on
//! purpose: `StreamBreak` aborts the connection mid-body (no clean end of the chunked
//! encoding), `StreamNoFinish` ends cleanly without any `finishReason`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use serde_json::Value;

use crate::state::State;

/// How the stream ends after its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// End the body normally.
    Clean,
    /// Abort the connection (the client sees an error, not EOF).
    Abort,
}

/// The wire format of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `alt=sse`.
    Sse,
    /// A streamed JSON array (`pretty` as in `prettyPrint`).
    JsonArray {
        /// Pretty-print each element.
        pretty: bool,
    },
}

/// Renders the events as the body frames of `framing`.
pub fn frames(events: &[Value], framing: Framing, ending: Ending) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(events.len() + 1);
    for (i, event) in events.iter().enumerate() {
        let frame = match framing {
            Framing::Sse => {
                let mut line = b"data: ".to_vec();
                line.extend(serde_json::to_vec(event).unwrap_or_default());
                line.extend_from_slice(b"\r\n\r\n");
                line
            }
            Framing::JsonArray { pretty } => {
                let mut chunk = if i == 0 {
                    b"[".to_vec()
                } else {
                    b"\r\n,".to_vec()
                };
                let json = if pretty {
                    serde_json::to_vec_pretty(event)
                } else {
                    serde_json::to_vec(event)
                };
                chunk.extend(json.unwrap_or_default());
                chunk
            }
        };
        out.push(Bytes::from(frame));
    }
    if let (Framing::JsonArray { .. }, Ending::Clean) = (framing, ending) {
        out.push(Bytes::from_static(if events.is_empty() {
            b"[]"
        } else {
            b"\r\n]"
        }));
    }
    out
}

struct Pace {
    frames: std::vec::IntoIter<Bytes>,
    first: bool,
    ending: Ending,
    state: Arc<State>,
}

/// A streaming response that sends `frames` paced by the server's chunk interval.
pub fn streaming_response(
    frames: Vec<Bytes>,
    framing: Framing,
    ending: Ending,
    state: Arc<State>,
) -> Response {
    let pace = Pace {
        frames: frames.into_iter(),
        first: true,
        ending,
        state,
    };
    let body = stream::unfold(Some(pace), |pace| async move {
        let mut pace = pace?;
        match pace.frames.next() {
            Some(frame) => {
                if !pace.first && !pace.state.sleep(pace.state.chunk_interval).await {
                    return Some((Err(aborted()), None));
                }
                pace.first = false;
                Some((Ok(frame), Some(pace)))
            }
            None if pace.ending == Ending::Abort => {
                // Give hyper a chance to flush what was sent, then fail the body so the
                // connection is torn down without the terminating chunk.
                pace.state.sleep(Duration::from_millis(20)).await;
                Some((Err(aborted()), None))
            }
            None => None,
        }
    });
    let content_type = match framing {
        Framing::Sse => "text/event-stream",
        Framing::JsonArray { .. } => "application/json; charset=UTF-8",
    };
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn aborted() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "mock-gemini: stream broken on purpose",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sse_frames_use_crlf() {
        let frames = frames(
            &[json!({"a": 1}), json!({"b": 2})],
            Framing::Sse,
            Ending::Clean,
        );
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[0][..], b"data: {\"a\":1}\r\n\r\n");
    }

    #[test]
    fn json_array_frames_concatenate_to_an_array() {
        let frames = frames(
            &[json!({"a": 1}), json!({"b": 2})],
            Framing::JsonArray { pretty: false },
            Ending::Clean,
        );
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.to_vec()).collect();
        let parsed: Value = serde_json::from_slice(&joined).unwrap_or(Value::Null);
        assert_eq!(parsed, json!([{"a": 1}, {"b": 2}]));
    }
}
