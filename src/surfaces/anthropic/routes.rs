//! The Anthropic Messages API over HTTP: `POST /v1/messages` (streaming and not, also with
//! `?beta=true`) and `POST /v1/messages/count_tokens`. Each handler parses the request (a bad
//! one is answered 400 before any upstream call), resolves its model (a name no model serves is
//! a 404 naming the closest live ones), translates it for that model, sends it through dispatch
//! on the session's route — falling back along the model's chain when no key can serve it — and
//! translates the answer back, a stream through the [`Relay`]. Tools the translation left out
//! are named in the response's `x-gateway-dropped-tools` header.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::context_cache::{ttl_of, ContextCaches, InUse};
use super::errors::{AnthropicError, ApiError, ErrorType};
use super::session::{session_id, ClientHints};
use super::stream::StreamTranslator;
use super::{
    from_count_tokens, from_generate_content, parse_count_tokens_request, parse_messages_request,
    to_count_tokens, to_generate_content_noted, MessagesRequest, Notes, TranslateOptions,
};
use crate::dispatch::{Checked, DispatchError, Dispatcher, Route};
use crate::models::{Models, Resolved};
use crate::surfaces::shared::prefix::Prefixed;
use crate::surfaces::shared::relay::Relay;
use crate::surfaces::shared::serving::{mark, name_left_out, shown, Fallbacks};
use crate::surfaces::{read_body, Context, Dialect, Tallied};
use crate::telemetry::TallyRef;
use crate::upstream::wire::{CountTokensResponse, GenerateContentResponse};
use crate::upstream::wire_json::WireJson;
use crate::upstream::UpstreamRequest;

/// How long a stream waits for Gemini's first chunk (and can still fail over) before it commits
/// anyway; Claude Code aborts a request with no response headers after 60 s.
pub const COMMIT_AFTER: Duration = Duration::from_secs(20);

/// What the handlers share.
#[derive(Debug, Clone)]
struct Messages {
    dispatcher: Dispatcher,
    models: Arc<Models>,
    max_tokens_limit: Option<u32>,
    max_body_bytes: usize,
    /// `ANTHROPIC_CONTEXT_CACHE=explicit`: breakpoints become Gemini context caches.
    caches: Option<Arc<ContextCaches>>,
}

pub fn routes(ctx: &Context) -> Router {
    let state = Messages {
        dispatcher: ctx.dispatcher.clone(),
        models: ctx.models.clone(),
        max_tokens_limit: ctx.config.max_tokens_limit,
        max_body_bytes: ctx.config.max_body_bytes,
        caches: ctx.config.anthropic_explicit_cache.then(|| {
            Arc::new(ContextCaches::new(
                ctx.dispatcher.clone(),
                ctx.owners.clone(),
            ))
        }),
    };
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .with_state(state)
}

/// A request read and validated, with the model it resolved to and its session.
struct Asked {
    request: MessagesRequest,
    /// The client's body size: Gemini's request is about as large.
    body_len: usize,
    resolved: Resolved,
    session: Option<String>,
    tally: Option<TallyRef>,
    allow_fallback: bool,
    /// With explicit caching on: the TTL its `cache_control` breakpoints ask for, if any.
    breakpoints: Option<u32>,
}

/// Reads, validates and resolves a request; a failure is the Anthropic-shaped response to send
/// (nothing went upstream).
async fn ask(
    app: &Messages,
    hints: ClientHints,
    Tallied(tally): Tallied,
    body: Result<Bytes, BytesRejection>,
    parse: fn(&[u8]) -> Result<MessagesRequest, AnthropicError>,
) -> Result<Asked, Box<Response>> {
    let body = read_body::<ApiError>(body, app.max_body_bytes)?;
    let request = crate::json::literal::sharing(&body, || parse(&body))
        .map_err(|e| Box::new(ApiError::from(e).into_response()))?;
    let resolved = super::models::resolve(&app.models, &request.model)
        .await
        .map_err(|why| Box::new(ApiError::unknown_model(&why).into_response()))?;
    let user_id = request.metadata.as_ref().and_then(|m| m.user_id.as_deref());
    let breakpoints = app
        .caches
        .as_ref()
        .filter(|_| memchr::memmem::find(&body, b"\"cache_control\"").is_some())
        .map(|_| ttl_of(&body));
    Ok(Asked {
        breakpoints,
        body_len: body.len(),
        session: session_id(
            hints.session_header.as_ref().and_then(|v| v.to_str().ok()),
            user_id,
        ),
        allow_fallback: hints.allow_fallback,
        request,
        resolved,
        tally,
    })
}

impl Messages {
    /// The translation settings for `model`.
    fn options(&self, model: &str) -> TranslateOptions {
        TranslateOptions {
            max_tokens_limit: self.max_tokens_limit,
            output_limit: Some(self.models.output_limit(model)),
        }
    }

    /// `asked` translated by `translate` for `model` (shaped by the rules of `rules_name`: the
    /// model that answers a moving alias), as Gemini JSON on its route; a translation failure
    /// is the response to send.
    fn prepare<T: WireJson + Prefixed>(
        &self,
        asked: &Asked,
        model: &str,
        rules_name: &str,
        translate: Translate<T>,
    ) -> Result<(Route, Bytes, Notes), Box<Response>> {
        let fail = |e: AnthropicError| Box::new(ApiError::from(e).into_response());
        let (gemini, notes) =
            translate(&asked.request, rules_name, &self.options(model)).map_err(fail)?;
        self.encode(asked, model, gemini, notes)
    }

    /// A translated request as Gemini JSON on its route.
    fn encode<T: WireJson + Prefixed>(
        &self,
        asked: &Asked,
        model: &str,
        gemini: T,
        notes: Notes,
    ) -> Result<(Route, Bytes, Notes), Box<Response>> {
        // Gemini's request is about as large as the client's: one buffer, no regrowing.
        let mut json = Vec::with_capacity(asked.body_len + 1024);
        gemini.write_json(&mut json).map_err(|_| {
            Box::new(
                ApiError::new(ErrorType::Api, "could not encode the Gemini request")
                    .into_response(),
            )
        })?;
        // The body is kept for the request's life (a stream's, to continue it on another key):
        // not the room left over (most of a kilobyte for a short request).
        if json.capacity() - json.len() > SPARE_KEPT {
            json.shrink_to_fit();
        }
        let route = Route::model(model)
            .with_session(asked.session.clone())
            .session_or_else(|| gemini.prefix_session(model))
            .with_tally(asked.tally.clone());
        Ok((route, Bytes::from(json), notes))
    }

    /// The model's upstream path for `method` (`generateContent`, …), under the API version
    /// that serves it.
    fn path(&self, model: &str, method: &str) -> String {
        format!(
            "/{}/models/{model}:{method}",
            self.models.api_version(model)
        )
    }
}

/// A translation for a model, with its notes.
type Translate<T> =
    fn(&MessagesRequest, &str, &TranslateOptions) -> Result<(T, Notes), AnthropicError>;

/// The response header naming the tools left out.
pub const DROPPED_TOOLS: &str = "x-gateway-dropped-tools";

/// Room left in an encoded request beyond which the buffer is fitted to it.
const SPARE_KEPT: usize = 256;

fn post_request(path_and_query: String, body: Bytes) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        path_and_query,
        body: Some(body),
        extra: None,
    }
}

async fn messages(
    State(app): State<Messages>,
    hints: ClientHints,
    tally: Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let asked = match ask(&app, hints, tally, body, parse_messages_request).await {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let streaming = asked.request.stream.unwrap_or(false);
    let mut chain = Fallbacks::new(&app.models, asked.resolved.clone(), asked.allow_fallback);
    let mut left_out = Vec::new();
    let mut cache_failed = false;
    let result = loop {
        let model = chain.model().clone();
        let rules_name = app.dispatcher.served_models().rules_name(&model.model);
        let (prepared, cached) = match (&app.caches, asked.breakpoints, cache_failed) {
            // Boxed, as is the cache's forgetting below: a cached request is the rarer one,
            // and inline their futures would triple the size of every request's.
            (Some(caches), Some(ttl), false) => {
                Box::pin(prepare_cached(
                    &app,
                    caches,
                    &asked,
                    &model.model,
                    &rules_name,
                    ttl,
                ))
                .await
            }
            _ => (
                app.prepare(&asked, &model.model, &rules_name, to_generate_content_noted),
                None,
            ),
        };
        let result = match prepared {
            Err(resp) => Ok(*resp),
            Ok((route, json, notes)) => {
                let route = route
                    .queued(chain.is_last())
                    .placed(cached.as_ref().map(|c| c.placement.clone()));
                left_out = notes.left_out;
                if streaming {
                    let path = app.path(&model.model, "streamGenerateContent?alt=sse");
                    let req = post_request(path, json);
                    stream_messages(&app, &asked, &model, route, req, notes.searching).await
                } else {
                    let path = app.path(&model.model, "generateContent");
                    // Boxed, so that this future is a stream's size: every open stream holds
                    // it until its first event, and a whole answer's state is five times more.
                    let req = post_request(path, json);
                    Box::pin(unary_messages(&app, &asked, &model, route, req)).await
                }
            }
        };
        // A cache Gemini no longer has (or an owner that cannot serve): forget it, and send
        // the whole request once more, uncached.
        if let (Some(c), Some(caches), Err(_)) = (&cached, &app.caches, &result) {
            Box::pin(caches.forget(c.prefix)).await;
            cache_failed = true;
            continue;
        }
        if !chain.next_after(&result) {
            break result;
        }
    };
    let resp = answer(&app, &asked, chain.served(), result);
    name_left_out(resp, DROPPED_TOOLS, "tools", &left_out)
}

/// The request translated with its stable prefix moved into a context cache (when one can be
/// made and placed), and the cache it uses.
async fn prepare_cached(
    app: &Messages,
    caches: &ContextCaches,
    asked: &Asked,
    model: &str,
    rules_name: &str,
    ttl: u32,
) -> (Result<(Route, Bytes, Notes), Box<Response>>, Option<InUse>) {
    let translated = to_generate_content_noted(&asked.request, rules_name, &app.options(model));
    let (mut gemini, notes) = match translated {
        Ok(t) => t,
        Err(e) => return (Err(Box::new(ApiError::from(e).into_response())), None),
    };
    let cached = caches.apply(model, rules_name, &mut gemini, ttl).await;
    (app.encode(asked, model, gemini, notes), cached)
}

/// The response to send: the answer, or the dispatch failure in Anthropic's shape; marked with
/// the model that served.
fn answer(
    app: &Messages,
    asked: &Asked,
    served: Resolved,
    result: Result<Response, DispatchError>,
) -> Response {
    let resp = result.unwrap_or_else(|e| ApiError::from_dispatch(&served.model, e).into_response());
    mark(
        resp,
        &served,
        &asked.request.model,
        app.dispatcher.telemetry(),
    )
}

/// Non-streaming: an answer Gemini could not complete (e.g. `MALFORMED_FUNCTION_CALL`) is
/// refused as retryable, and dispatch tries it once more on another key.
async fn unary_messages(
    app: &Messages,
    asked: &Asked,
    model: &Resolved,
    route: Route,
    req: UpstreamRequest,
) -> Result<Response, DispatchError> {
    let named = shown(model, &asked.request.model);
    let checked = app
        .dispatcher
        .unary_checked(&route, &req, |answer| {
            let parsed: GenerateContentResponse =
                match crate::upstream::common_event::answer_from_bytes(&answer.body) {
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
            match from_generate_content(&parsed, named) {
                Ok(msg) => Checked::Accept(msg),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model = %model.model, error = %e, "unusable Gemini answer");
                    Checked::Retry(ApiError::from(e))
                }
                Err(e) => Checked::Refuse(ApiError::from(e)),
            }
        })
        .await?;
    Ok(match checked {
        Ok(msg) => axum::Json(msg).into_response(),
        Err(e) => e.into_response(),
    })
}

/// Streams: dispatch runs under [`COMMIT_AFTER`], counted from the request's start. A stream
/// committed in time is relayed as is; past the deadline — headers slow to come, keys failing
/// over — the client gets its response headers, `message_start` and pings while the dispatch
/// goes on.
async fn stream_messages(
    app: &Messages,
    asked: &Asked,
    model: &Resolved,
    route: Route,
    req: UpstreamRequest,
    searching: bool,
) -> Result<Response, DispatchError> {
    let start = app
        .dispatcher
        .stream_with_deadline(route, req, COMMIT_AFTER)
        .await?;
    let translator = StreamTranslator::new(shown(model, &asked.request.model)).grounded(searching);
    Ok(Relay::new(translator, model.model.to_string(), start).into_response())
}

async fn count_tokens(
    State(app): State<Messages>,
    hints: ClientHints,
    tally: Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let asked = match ask(&app, hints, tally, body, parse_count_tokens_request).await {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let mut chain = Fallbacks::new(&app.models, asked.resolved.clone(), asked.allow_fallback);
    let result = loop {
        let model = chain.model().clone();
        // Counting names the model in the body too: the one asked for.
        let count: Translate<_> =
            |req, model, opts| Ok((to_count_tokens(req, model, opts)?, Notes::default()));
        let result = match app.prepare(&asked, &model.model, &model.model, count) {
            Err(resp) => Ok(*resp),
            Ok((route, json, _)) => {
                let route = route.queued(chain.is_last());
                let req = post_request(app.path(&model.model, "countTokens"), json);
                app.dispatcher.unary(&route, &req).await.map(
                    |answer| match serde_json::from_slice::<CountTokensResponse>(&answer.body) {
                        Ok(count) => axum::Json(from_count_tokens(&count)).into_response(),
                        Err(e) => ApiError::new(
                            ErrorType::Api,
                            format!("Gemini sent an unreadable count: {e}"),
                        )
                        .with_status(StatusCode::BAD_GATEWAY)
                        .into_response(),
                    },
                )
            }
        };
        if !chain.next_after(&result) {
            break result;
        }
    };
    answer(&app, &asked, chain.served(), result)
}
