//! Refusals that must still reach the client. A server that answers 413 or 401 and closes while
//! the client is still sending its body makes the client see a broken pipe instead of the
//! answer. So a body declared larger than `MAX_BODY_BYTES`, or sent without a valid client key,
//! is read and thrown away first — bounded in size and by `CLIENT_TIMEOUT` of silence — and the
//! refusal then goes out in the caller's API shape.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use super::gate::Gate;
use crate::surfaces::{closing, Dialect};

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

/// A refusal that reads the request's body away (up to a limit, giving up after
/// `CLIENT_TIMEOUT` of silence) before its response goes out.
pub struct Refusal {
    body: Body,
    limit: usize,
    idle: Duration,
    response: Response,
}

impl Refusal {
    pub fn new(body: Body, limit: usize, gate: &Gate, response: Response) -> Refusal {
        Refusal {
            body,
            limit,
            idle: gate.client_timeout,
            response,
        }
    }

    /// The body read away, then the response.
    pub async fn send(self) -> Response {
        drain(self.body, self.limit, self.idle).await;
        self.response
    }
}

/// `req`, unless the body it declares is over the limit: then its refusal (413 in dialect `D`,
/// closing the connection). Uploads stream through with their own limit
/// (`FILES_MAX_UPLOAD_BYTES`).
pub fn check_declared<D: Dialect>(gate: &Gate, req: Request) -> Result<Request, Box<Refusal>> {
    let max = gate.max_body_bytes;
    if req.uri().path().starts_with("/upload/") {
        return Ok(req);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        let response = closing(D::too_large(max).into_response());
        return Err(Box::new(Refusal::new(
            req.into_body(),
            DRAIN_LIMIT,
            gate,
            response,
        )));
    }
    Ok(req)
}

/// Middleware (the house's routes): [`check_declared`].
pub async fn refuse_declared_oversize<D: Dialect>(
    State(gate): State<Gate>,
    req: Request,
    next: Next,
) -> Response {
    match check_declared::<D>(&gate, req) {
        Ok(req) => next.run(req).await,
        Err(refusal) => refusal.send().await,
    }
}
