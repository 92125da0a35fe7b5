//! Refusals that must still reach the client. A server that answers 413 or 401 and closes while
//! the client is still sending its body makes the client see a broken pipe instead of the
//! answer. So a body declared larger than `MAX_BODY_BYTES`, or sent without a valid client key,
//! is read and thrown away first — bounded in size and by `CLIENT_TIMEOUT` of silence — and the
//! refusal then goes out in the caller's API shape.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use super::AppState;
use crate::surfaces::anthropic::errors::ErrorType;
use crate::surfaces::anthropic::http::error_response;
use crate::surfaces::gemini::google_error;

/// Most bytes thrown away for one refused request; past it the connection is simply closed.
pub const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads and discards up to `limit` bytes of `body`, giving up after `idle` of silence.
pub async fn drain(body: Body, limit: usize, idle: Duration) {
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(idle, stream.next()).await {
        seen += chunk.len();
        if seen > limit {
            break;
        }
    }
}

/// 413 in the shape of the API at `uri`.
pub fn too_large(uri: &Uri, max_body_bytes: usize) -> Response {
    let mut resp = if uri.path().starts_with("/v1/messages") {
        error_response(
            ErrorType::RequestTooLarge,
            413,
            "Request body is too large.",
        )
    } else {
        google_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request payload size exceeds the limit: {max_body_bytes} bytes."),
            "INVALID_ARGUMENT",
        )
    };
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Middleware: a body whose declared length is over the limit is refused without being served.
pub async fn refuse_declared_oversize(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let max = app.config.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        let uri = req.uri().clone();
        drain(req.into_body(), DRAIN_LIMIT, app.config.client_timeout).await;
        return too_large(&uri, max);
    }
    next.run(req).await
}
