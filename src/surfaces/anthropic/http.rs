//! The Anthropic Messages API over HTTP: `POST /v1/messages` (streaming and not, also with
//! `?beta=true`) and `POST /v1/messages/count_tokens`. Each handler parses and translates the
//! request (a bad one is answered 400 before any upstream call), sends it through dispatch with
//! the session's preferred key, and translates the answer back — a stream event by event, with a
//! `ping` every [`PING_INTERVAL`] of upstream silence.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::errors::{error_body, AnthropicError, ErrorType};
use super::stream::{write_ping, StreamTranslator};
use super::{
    from_count_tokens, from_generate_content, parse_count_tokens_request, parse_messages_request,
    resolve_model, to_count_tokens, to_generate_content, MessagesRequest, TranslateOptions,
};
use crate::affinity::session_id;
use crate::affinity::Affinity;
use crate::dispatch::{CommittedStream, DispatchError, StreamBroken};
use crate::server::AppState;
use crate::surfaces::gemini::retry_after_secs;
use crate::upstream::client::UpstreamRequest;
use crate::upstream::sse::SseDecoder;
use crate::upstream::wire::{CountTokensResponse, GenerateContentResponse};

/// Keep-alive while Gemini is silent (it thinks without sending thoughts); Claude Code treats a
/// stream idle for 180 s as dead.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// How long a stream waits for Gemini's first chunk (and can still fail over) before it commits
/// anyway; Claude Code aborts a request with no response headers after 60 s.
pub const COMMIT_AFTER: Duration = Duration::from_secs(20);

/// Largest single upstream SSE event accepted (a whole answer with inline images fits).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
}

/// An Anthropic-shaped error response.
pub fn error_response(kind: ErrorType, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(error_body(kind, message))).into_response()
}

fn anthropic_error(e: &AnthropicError) -> Response {
    error_response(e.kind(), e.status(), &e.to_string())
}

fn body_error(e: BytesRejection) -> Response {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let mut resp = error_response(
            ErrorType::RequestTooLarge,
            413,
            "Request body is too large.",
        );
        // The rest of the body was never read: the connection cannot carry another request.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    } else {
        error_response(ErrorType::InvalidRequest, 400, &e.body_text())
    }
}

/// A dispatch failure in Anthropic's terms: error type, HTTP status, message, retry-after.
fn dispatch_failure(model: &str, e: DispatchError) -> (ErrorType, u16, String, Option<Duration>) {
    match e {
        DispatchError::NoKeyAvailable { retry_after } => {
            let mut message = format!("No Gemini API key is available for {model}: every key is rate-limited or disabled.");
            if let Some(d) = retry_after {
                message.push_str(&format!(" Retry in {}s.", retry_after_secs(d)));
            }
            (ErrorType::Overloaded, 503, message, retry_after)
        }
        DispatchError::Upstream { status, rpc, body } => {
            let message = match rpc {
                Some(r) if !r.message.is_empty() => r.message,
                _ => String::from_utf8_lossy(&body).chars().take(500).collect(),
            };
            let e = AnthropicError::from_upstream(status, &message, false);
            (e.kind(), e.status(), e.to_string(), None)
        }
        DispatchError::Unreachable {
            timed_out: true,
            message,
        } => (
            ErrorType::Timeout,
            504,
            format!("Gemini did not answer in time: {message}"),
            None,
        ),
        DispatchError::Unreachable {
            timed_out: false,
            message,
        } => (
            ErrorType::Api,
            502,
            format!("Gemini could not be reached: {message}"),
            None,
        ),
    }
}

/// Maps a dispatch failure (before any byte went out) to Anthropic's error surface.
fn dispatch_error(model: &str, e: DispatchError) -> Response {
    let (kind, status, message, retry_after) = dispatch_failure(model, e);
    let mut resp = error_response(kind, status, &message);
    if let Some(d) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
    }
    resp
}

struct Prepared {
    request: MessagesRequest,
    gemini_model: String,
    session: Option<String>,
    preferred: Option<usize>,
}

fn prepare(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    parse: fn(&[u8]) -> Result<MessagesRequest, AnthropicError>,
) -> Result<Prepared, AnthropicError> {
    let request = parse(body)?;
    let gemini_model = resolve_model(&request.model, &app.translate.models)?;
    let header = headers
        .get("x-claude-code-session-id")
        .and_then(|v| v.to_str().ok());
    let user_id = request.metadata.as_ref().and_then(|m| m.user_id.as_deref());
    let session = session_id(header, user_id);
    let preferred = app.affinity.preferred(session.as_deref());
    Ok(Prepared {
        request,
        gemini_model,
        session,
        preferred,
    })
}

fn upstream_request(path: String, body: Vec<u8>) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        path_and_query: path,
        body: Some(Bytes::from(body)),
    }
}

/// Reads, validates and translates a request into Gemini's JSON; a failure comes back as the
/// Anthropic-shaped response to send (nothing went upstream).
fn read_and_translate<T: serde::Serialize>(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    parse: fn(&[u8]) -> Result<MessagesRequest, AnthropicError>,
    translate: fn(&MessagesRequest, &str, &TranslateOptions) -> Result<T, AnthropicError>,
) -> Result<(Prepared, Vec<u8>), Box<Response>> {
    let body = body.map_err(|e| Box::new(body_error(e)))?;
    let fail = |e: AnthropicError| Box::new(anthropic_error(&e));
    let p = prepare(app, headers, &body, parse).map_err(fail)?;
    let gemini_req = translate(&p.request, &p.gemini_model, &app.translate).map_err(fail)?;
    let json = serde_json::to_vec(&gemini_req).map_err(|_| {
        Box::new(error_response(
            ErrorType::Api,
            500,
            "could not encode the Gemini request",
        ))
    })?;
    Ok((p, json))
}

async fn messages(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (p, json) = match read_and_translate(
        &app,
        &headers,
        body,
        parse_messages_request,
        to_generate_content,
    ) {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    if p.request.stream.unwrap_or(false) {
        let path = format!(
            "/v1beta/models/{}:streamGenerateContent?alt=sse",
            p.gemini_model
        );
        stream_messages(&app, p, upstream_request(path, json)).await
    } else {
        let path = format!("/v1beta/models/{}:generateContent", p.gemini_model);
        unary_messages(&app, p, upstream_request(path, json)).await
    }
}

/// Non-streaming: a malformed answer (e.g. `MALFORMED_FUNCTION_CALL`) is retried once.
async fn unary_messages(app: &AppState, p: Prepared, req: UpstreamRequest) -> Response {
    let mut last = None;
    for _ in 0..2 {
        let answer = match app
            .dispatcher
            .unary(&p.gemini_model, &req, p.preferred)
            .await
        {
            Ok(a) => a,
            Err(e) => return dispatch_error(&p.gemini_model, e),
        };
        app.affinity
            .remember(p.session.as_deref(), answer.lease.index);
        let parsed: GenerateContentResponse = match serde_json::from_slice(&answer.body) {
            Ok(r) => r,
            Err(e) => {
                return error_response(
                    ErrorType::Api,
                    502,
                    &format!("Gemini sent an unreadable answer: {e}"),
                )
            }
        };
        match from_generate_content(&parsed, &p.request.model) {
            Ok(msg) => return axum::Json(msg).into_response(),
            Err(e) if e.is_retryable() => {
                tracing::warn!(model = %p.gemini_model, error = %e, "unusable Gemini answer; retrying once");
                last = Some(e);
            }
            Err(e) => return anthropic_error(&e),
        }
    }
    let e = last.unwrap_or(AnthropicError::EmptyResponse);
    anthropic_error(&e)
}

/// Streams: the dispatch (with its failover) runs under a commit deadline counted from the
/// request's start. A stream committed in time is relayed as is; past the deadline — headers
/// slow to come, keys failing over — the client gets its response headers, `message_start` and
/// pings while the dispatch goes on (Claude Code aborts a request with no headers after 60 s).
async fn stream_messages(app: &AppState, p: Prepared, req: UpstreamRequest) -> Response {
    let dispatcher = app.dispatcher.clone();
    let model = p.gemini_model.clone();
    let preferred = p.preferred;
    let mut pending: BoxFuture<'static, Result<CommittedStream, DispatchError>> =
        Box::pin(async move {
            dispatcher
                .stream(&model, &req, preferred, Some(COMMIT_AFTER))
                .await
        });
    let session = p.session.map(|s| (app.affinity.clone(), s));
    let (first, upstream) = match tokio::time::timeout(COMMIT_AFTER, &mut pending).await {
        Ok(Ok(committed)) => {
            if let Some((affinity, s)) = &session {
                affinity.remember(Some(s), committed.lease.index);
            }
            (committed.first, Upstream::Body(committed.rest))
        }
        Ok(Err(e)) => return dispatch_error(&p.gemini_model, e),
        Err(_) => (Bytes::new(), Upstream::Pending(pending)),
    };
    let relay = Relay {
        translator: StreamTranslator::new(&p.request.model),
        decoder: SseDecoder::new(MAX_EVENT_BYTES),
        first: Some(first),
        upstream,
        model: p.gemini_model,
        session,
        done: false,
    };
    let body = futures_util::stream::unfold(relay, |mut relay| async move {
        let out = relay.next_bytes().await?;
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(out)), relay))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Where the relay reads from.
enum Upstream {
    /// The dispatch is still failing over; the client already has its headers.
    Pending(BoxFuture<'static, Result<CommittedStream, DispatchError>>),
    /// The committed upstream body.
    Body(BoxStream<'static, Result<Bytes, StreamBroken>>),
}

/// What waiting on the upstream produced.
enum Step {
    Silence,
    Committed(CommittedStream),
    Failed(DispatchError),
    Chunk(Bytes),
    Broken(StreamBroken),
    End,
}

/// Turns the Gemini stream into Anthropic SSE bytes, one upstream chunk at a time.
struct Relay {
    translator: StreamTranslator,
    decoder: SseDecoder,
    first: Option<Bytes>,
    upstream: Upstream,
    model: String,
    /// Conversation affinity to record once a key is committed.
    session: Option<(Arc<Affinity>, String)>,
    done: bool,
}

impl Relay {
    /// The next bytes to send, or `None` when the stream is over.
    async fn next_bytes(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut out = Vec::new();
        if let Some(first) = self.first.take() {
            if first.is_empty() {
                // Committed before Gemini's first chunk: open the message and keep the line warm.
                self.translator.start(&mut out);
                write_ping(&mut out);
            } else {
                self.feed(&first, &mut out);
            }
            if !out.is_empty() {
                return Some(out);
            }
        }
        loop {
            let step = match &mut self.upstream {
                Upstream::Pending(dispatch) => {
                    match tokio::time::timeout(PING_INTERVAL, dispatch.as_mut()).await {
                        Err(_) => Step::Silence,
                        Ok(Ok(committed)) => Step::Committed(committed),
                        Ok(Err(e)) => Step::Failed(e),
                    }
                }
                Upstream::Body(rest) => {
                    match tokio::time::timeout(PING_INTERVAL, rest.next()).await {
                        Err(_) => Step::Silence,
                        Ok(Some(Ok(chunk))) => Step::Chunk(chunk),
                        Ok(Some(Err(broken))) => Step::Broken(broken),
                        Ok(None) => Step::End,
                    }
                }
            };
            match step {
                Step::Silence => {
                    self.translator.start(&mut out);
                    write_ping(&mut out);
                }
                Step::Committed(committed) => {
                    if let Some((affinity, s)) = &self.session {
                        affinity.remember(Some(s), committed.lease.index);
                    }
                    self.upstream = Upstream::Body(committed.rest);
                    self.feed(&committed.first, &mut out);
                }
                Step::Failed(e) => {
                    let (kind, _, message, _) = dispatch_failure(&self.model, e);
                    self.translator.start(&mut out);
                    self.translator.fail(kind, &message, &mut out);
                    self.done = true;
                }
                Step::Chunk(chunk) => self.feed(&chunk, &mut out),
                Step::Broken(broken) => {
                    self.translator.start(&mut out);
                    self.translator.fail(
                        ErrorType::Overloaded,
                        &format!("The Gemini stream broke: {broken}"),
                        &mut out,
                    );
                    self.done = true;
                }
                Step::End => {
                    match self.decoder.finish() {
                        Ok(Some(event)) => self.on_event(&event, &mut out),
                        Ok(None) => {}
                        Err(e) => self
                            .translator
                            .fail(ErrorType::Api, &e.to_string(), &mut out),
                    }
                    if !self.translator.is_finished() {
                        let _ = self.translator.finish(&mut out);
                    }
                    self.done = true;
                }
            }
            if self.translator.is_finished() {
                self.done = true;
            }
            if !out.is_empty() || self.done {
                return Some(out);
            }
        }
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.decoder.push(bytes);
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => self.on_event(&event, out),
                Ok(None) => break,
                Err(e) => {
                    self.translator.fail(ErrorType::Api, &e.to_string(), out);
                    break;
                }
            }
        }
    }

    fn on_event(&mut self, event: &[u8], out: &mut Vec<u8>) {
        match serde_json::from_slice::<GenerateContentResponse>(event) {
            Ok(chunk) => self.translator.on_chunk(&chunk, out),
            Err(e) => {
                self.translator.start(out);
                self.translator.fail(
                    ErrorType::Api,
                    &format!("unreadable Gemini stream event: {e}"),
                    out,
                );
            }
        }
    }
}

async fn count_tokens(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (p, json) = match read_and_translate(
        &app,
        &headers,
        body,
        parse_count_tokens_request,
        to_count_tokens,
    ) {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    let path = format!("/v1beta/models/{}:countTokens", p.gemini_model);
    match app
        .dispatcher
        .unary(&p.gemini_model, &upstream_request(path, json), p.preferred)
        .await
    {
        Ok(answer) => match serde_json::from_slice::<CountTokensResponse>(&answer.body) {
            Ok(count) => axum::Json(from_count_tokens(&count)).into_response(),
            Err(e) => error_response(
                ErrorType::Api,
                502,
                &format!("Gemini sent an unreadable count: {e}"),
            ),
        },
        Err(e) => dispatch_error(&p.gemini_model, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay_from(first: Bytes, upstream: Upstream) -> Relay {
        Relay {
            translator: StreamTranslator::new("claude-sonnet-4-5"),
            decoder: SseDecoder::new(MAX_EVENT_BYTES),
            first: Some(first),
            upstream,
            model: "gemini-2.5-pro".into(),
            session: None,
            done: false,
        }
    }

    fn relay(first: Bytes, rest: BoxStream<'static, Result<Bytes, StreamBroken>>) -> Relay {
        relay_from(first, Upstream::Body(rest))
    }

    const HI: &[u8] = b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5}}\r\n\r\n";

    #[tokio::test(start_paused = true)]
    async fn a_dispatch_still_failing_over_keeps_the_client_warm_then_streams() {
        let started = tokio::time::Instant::now();
        let late: BoxFuture<'static, Result<CommittedStream, DispatchError>> = Box::pin(async {
            tokio::time::sleep(Duration::from_secs(40)).await;
            Ok(CommittedStream {
                status: 200,
                content_type: None,
                first: Bytes::from_static(HI),
                rest: futures_util::stream::empty().boxed(),
                lease: crate::pool::Lease {
                    index: 0,
                    key: crate::pool::ApiKey::new("AIzaSyTestxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                },
            })
        });
        let mut r = relay_from(Bytes::new(), Upstream::Pending(late));
        let first = text(r.next_bytes().await);
        assert!(first.starts_with("event: message_start") && first.contains("event: ping"));
        assert_eq!(text(r.next_bytes().await).matches("event: ping").count(), 1);
        assert_eq!(started.elapsed(), PING_INTERVAL);
        assert_eq!(text(r.next_bytes().await).matches("event: ping").count(), 1);
        let answer = text(r.next_bytes().await);
        assert_eq!(started.elapsed(), Duration::from_secs(40));
        assert!(answer.contains("\"text\":\"Hi\""), "{answer}");
        let end = text(r.next_bytes().await);
        assert!(end.contains("message_stop"), "{end}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dispatch_that_fails_after_commit_ends_with_an_error_event() {
        let failing: BoxFuture<'static, Result<CommittedStream, DispatchError>> = Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Err(DispatchError::NoKeyAvailable {
                retry_after: Some(Duration::from_secs(30)),
            })
        });
        let mut r = relay_from(Bytes::new(), Upstream::Pending(failing));
        text(r.next_bytes().await);
        let last = text(r.next_bytes().await);
        assert!(
            last.contains("event: error") && last.contains("overloaded_error"),
            "{last}"
        );
        assert!(r.next_bytes().await.is_none());
    }

    fn text(bytes: Option<Vec<u8>>) -> String {
        String::from_utf8(bytes.unwrap()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_gets_message_start_then_a_ping_every_interval() {
        let mut r = relay(Bytes::new(), futures_util::stream::pending().boxed());
        let started = tokio::time::Instant::now();
        let first = text(r.next_bytes().await);
        assert!(first.starts_with("event: message_start\n"), "{first}");
        assert!(first.contains("event: ping"), "{first}");
        assert_eq!(started.elapsed(), Duration::ZERO, "committed at once");
        for n in 1..=3 {
            let ping = text(r.next_bytes().await);
            assert_eq!(ping.matches("event: ping").count(), 1, "{ping}");
            assert!(!ping.contains("message_start"));
            assert_eq!(started.elapsed(), PING_INTERVAL * n);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_are_translated_as_they_arrive_and_a_break_ends_with_an_error_event() {
        let chunk = Bytes::from_static(
            b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"}}],\"usageMetadata\":{\"promptTokenCount\":5}}\r\n\r\n",
        );
        let rest =
            futures_util::stream::iter(vec![Err(StreamBroken("connection reset".into()))]).boxed();
        let mut r = relay(chunk, rest);
        let first = text(r.next_bytes().await);
        assert!(
            first.contains("message_start") && first.contains("\"text\":\"Hi\""),
            "{first}"
        );
        let last = text(r.next_bytes().await);
        assert!(
            last.contains("event: error") && last.contains("overloaded_error"),
            "{last}"
        );
        assert!(r.next_bytes().await.is_none());
    }
}
