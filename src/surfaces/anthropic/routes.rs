//! The Anthropic Messages API over HTTP: `POST /v1/messages` (streaming and not, also with
//! `?beta=true`) and `POST /v1/messages/count_tokens`. Each handler parses and translates the
//! request (a bad one is answered 400 before any upstream call), sends it through dispatch on the
//! session's route, and translates the answer back — a stream through the [`Relay`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::errors::{AnthropicError, ApiError, ErrorType};
use super::session::session_id;
use super::stream::StreamTranslator;
use super::{
    from_count_tokens, from_generate_content, parse_count_tokens_request, parse_messages_request,
    resolve_model, to_count_tokens, to_generate_content, MessagesRequest, ModelMap,
    TranslateOptions,
};
use crate::dispatch::{Checked, Dispatcher, Route};
use crate::surfaces::shared::relay::Relay;
use crate::surfaces::{read_body, Context, Dialect, Tallied};
use crate::upstream::wire::{CountTokensResponse, GenerateContentResponse};
use crate::upstream::UpstreamRequest;

/// How long a stream waits for Gemini's first chunk (and can still fail over) before it commits
/// anyway; Claude Code aborts a request with no response headers after 60 s.
pub const COMMIT_AFTER: Duration = Duration::from_secs(20);

/// What the handlers share.
#[derive(Debug, Clone)]
struct Messages {
    dispatcher: Dispatcher,
    options: Arc<TranslateOptions>,
    max_body_bytes: usize,
}

pub fn routes(ctx: &Context) -> Router {
    let state = Messages {
        dispatcher: ctx.dispatcher.clone(),
        options: Arc::new(TranslateOptions {
            models: ModelMap {
                big: ctx.config.big_model.clone(),
                small: ctx.config.small_model.clone(),
            },
            max_tokens_limit: ctx.config.max_tokens_limit,
        }),
        max_body_bytes: ctx.config.max_body_bytes,
    };
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .with_state(state)
}

/// A request read, validated and translated, ready for dispatch.
struct Prepared {
    request: MessagesRequest,
    gemini_model: String,
    route: Route,
    /// Gemini's request as JSON.
    body: Vec<u8>,
}

/// Reads, validates and translates a request into Gemini's JSON; a failure comes back as the
/// Anthropic-shaped response to send (nothing went upstream).
fn prepare<T: serde::Serialize>(
    app: &Messages,
    headers: &HeaderMap,
    tally: Tallied,
    body: Result<Bytes, BytesRejection>,
    parse: fn(&[u8]) -> Result<MessagesRequest, AnthropicError>,
    translate: fn(&MessagesRequest, &str, &TranslateOptions) -> Result<T, AnthropicError>,
) -> Result<Prepared, Box<Response>> {
    let body = read_body::<ApiError>(body, app.max_body_bytes)?;
    let fail = |e: AnthropicError| Box::new(ApiError::from(e).into_response());
    let request = parse(&body).map_err(fail)?;
    let gemini_model = resolve_model(&request.model, &app.options.models).map_err(fail)?;
    let gemini_req = translate(&request, &gemini_model, &app.options).map_err(fail)?;
    // Gemini's request is about as large as the client's: one buffer, no regrowing and copying.
    let mut json = Vec::with_capacity(body.len() + 1024);
    serde_json::to_writer(&mut json, &gemini_req).map_err(|_| {
        Box::new(
            ApiError::new(ErrorType::Api, "could not encode the Gemini request").into_response(),
        )
    })?;
    let header = headers
        .get("x-claude-code-session-id")
        .and_then(|v| v.to_str().ok());
    let user_id = request.metadata.as_ref().and_then(|m| m.user_id.as_deref());
    let route = Route::model(&gemini_model)
        .with_session(session_id(header, user_id))
        .with_tally(tally.0);
    Ok(Prepared {
        request,
        gemini_model,
        route,
        body: json,
    })
}

fn upstream_request(path: String, body: Vec<u8>) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        path_and_query: path,
        body: Some(Bytes::from(body)),
    }
}

async fn messages(
    State(app): State<Messages>,
    headers: HeaderMap,
    tally: Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut p = match prepare(
        &app,
        &headers,
        tally,
        body,
        parse_messages_request,
        to_generate_content,
    ) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let json = std::mem::take(&mut p.body);
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

/// Non-streaming: an answer Gemini could not complete (e.g. `MALFORMED_FUNCTION_CALL`) is
/// refused as retryable, and dispatch tries it once more on another key.
async fn unary_messages(app: &Messages, p: Prepared, req: UpstreamRequest) -> Response {
    let client_model = &p.request.model;
    let checked = app
        .dispatcher
        .unary_checked(&p.route, &req, |answer| {
            let parsed: GenerateContentResponse = match serde_json::from_slice(&answer.body) {
                Ok(r) => r,
                Err(e) => {
                    return Checked::Refuse(
                        ApiError::new(
                            ErrorType::Api,
                            format!("Gemini sent an unreadable answer: {e}"),
                        )
                        .with_status(StatusCode::BAD_GATEWAY),
                    )
                }
            };
            match from_generate_content(&parsed, client_model) {
                Ok(msg) => Checked::Accept(msg),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model = %p.gemini_model, error = %e, "unusable Gemini answer");
                    Checked::Retry(ApiError::from(e))
                }
                Err(e) => Checked::Refuse(ApiError::from(e)),
            }
        })
        .await;
    match checked {
        Ok(Ok(msg)) => axum::Json(msg).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::from_dispatch(&p.gemini_model, e).into_response(),
    }
}

/// Streams: dispatch runs under [`COMMIT_AFTER`], counted from the request's start. A stream
/// committed in time is relayed as is; past the deadline — headers slow to come, keys failing
/// over — the client gets its response headers, `message_start` and pings while the dispatch
/// goes on.
async fn stream_messages(app: &Messages, p: Prepared, req: UpstreamRequest) -> Response {
    let start = match app
        .dispatcher
        .stream_with_deadline(p.route, req, COMMIT_AFTER)
        .await
    {
        Ok(start) => start,
        Err(e) => return ApiError::from_dispatch(&p.gemini_model, e).into_response(),
    };
    Relay::new(
        StreamTranslator::new(&p.request.model),
        p.gemini_model,
        start,
    )
    .into_response()
}

async fn count_tokens(
    State(app): State<Messages>,
    headers: HeaderMap,
    tally: Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let p = match prepare(
        &app,
        &headers,
        tally,
        body,
        parse_count_tokens_request,
        to_count_tokens,
    ) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let path = format!("/v1beta/models/{}:countTokens", p.gemini_model);
    match app
        .dispatcher
        .unary(&p.route, &upstream_request(path, p.body))
        .await
    {
        Ok(answer) => match serde_json::from_slice::<CountTokensResponse>(&answer.body) {
            Ok(count) => axum::Json(from_count_tokens(&count)).into_response(),
            Err(e) => ApiError::new(
                ErrorType::Api,
                format!("Gemini sent an unreadable count: {e}"),
            )
            .with_status(StatusCode::BAD_GATEWAY)
            .into_response(),
        },
        Err(e) => ApiError::from_dispatch(&p.gemini_model, e).into_response(),
    }
}
