//! `--floor`: the benchmark's physical floor, a fixed-answer HTTP server. It reads each request's
//! body whole and answers with the bytes the strict mock gave the first request of the same kind
//! (same path and `alt`; a whole answer, or an SSE stream frame by frame), without checking,
//! scripting or recording anything. What a gateway costs is measured as a multiple of this.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::state::State;

/// One recorded answer: its status, headers and body frames.
struct Canned {
    status: StatusCode,
    headers: HeaderMap,
    frames: Vec<Bytes>,
}

/// The floor's state: the strict mock (for the first answer of each kind) and the answers.
pub struct Floor {
    pub(crate) mock: Arc<State>,
    canned: Mutex<HashMap<String, Arc<Canned>>>,
}

impl Floor {
    pub(crate) fn new(mock: Arc<State>) -> Floor {
        Floor {
            mock,
            canned: Mutex::new(HashMap::new()),
        }
    }
}

fn kind(request: &Request) -> String {
    let sse = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
    format!("{} {} {sse}", request.method(), request.uri().path())
}

/// Answers with the canned bytes for the request's kind, recording them on first sight.
pub async fn handle(AxumState(floor): AxumState<Arc<Floor>>, request: Request) -> Response {
    let kind = kind(&request);
    let found = floor
        .canned
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&kind)
        .cloned();
    let canned = match found {
        Some(c) => c,
        None => {
            let answer = crate::api::handle(AxumState(floor.mock.clone()), request).await;
            let (parts, body) = answer.into_parts();
            let mut frames = Vec::new();
            let mut stream = body.into_data_stream();
            while let Some(Ok(frame)) = stream.next().await {
                frames.push(frame);
            }
            let canned = Arc::new(Canned {
                status: parts.status,
                headers: parts.headers,
                frames,
            });
            floor
                .canned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(kind, canned.clone());
            return respond(&canned);
        }
    };
    let _ = to_bytes(request.into_body(), usize::MAX).await;
    respond(&canned)
}

fn respond(canned: &Canned) -> Response {
    let body = match canned.frames.as_slice() {
        [one] => Body::from(one.clone()),
        frames => {
            let owned: Vec<Result<Bytes, std::convert::Infallible>> =
                frames.iter().cloned().map(Ok).collect();
            Body::from_stream(futures_util::stream::iter(owned))
        }
    };
    let mut response = (canned.status, body).into_response();
    for (name, value) in &canned.headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}
