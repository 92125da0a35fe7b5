//! The OpenAI routes, under `/v1` and under `/v1beta/openai` (Google's own OpenAI-compatible
//! base path): `POST chat/completions`, the Responses API (see [`super::respond`],
//! [`super::socket`], [`super::compact`]), `POST embeddings`, and —
//! under `/v1beta/openai` only, `/v1/models` being shared with the other surfaces —
//! `GET models` and `GET models/{id}`.
//!
//! Each handler reads and translates the request (a bad one is a 400 before any key is spent),
//! fetches media given by URL, sends the Gemini request through dispatch on the session's route
//! (`prompt_cache_key`, else `user`, else the `session-id` header) and translates the answer —
//! a stream through the shared relay. An unusable answer (`MALFORMED_FUNCTION_CALL`) is retried
//! once on another key by dispatch.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::body::parse_json;
use super::chat::request::{self as chat_request, Limits};
use super::chat::response::{completion, Answering};
use super::chat::stream::ChatStream;
use super::chat::types::ChatRequest;
use super::embeddings::{self, EmbeddingsRequest};
use super::errors::OpenAiError;
use super::media::Fetcher;
use super::models::{self, chat_tier, embedding_tier};
use super::responses::stored::ResponseBook;
use super::{compact, respond, socket};
use crate::dispatch::{Checked, DispatchError, Dispatcher, Route};
use crate::models::{Models, Resolved};
use crate::surfaces::shared::prefix::prefix_session;
use crate::surfaces::shared::relay::{Relay, Translate};
use crate::surfaces::shared::serving::{fallback_allowed, mark, shown, Fallbacks};
use crate::surfaces::{listing, read_body, Context, Dialect, Tallied};
use crate::telemetry::{ServiceTier, TallyRef};
use crate::upstream::wire::GenerateContentResponse;
use crate::upstream::wire_json::WireJson;
use crate::upstream::UpstreamRequest;

/// How long a stream waits for Gemini's first chunk (and can still fail over) before it commits
/// anyway (Codex gives up on a stream with no headers after 300 s; the OpenAI SDKs after 600).
pub const COMMIT_AFTER: Duration = Duration::from_secs(20);

/// How many embedding batches go up at once.
const EMBED_CONCURRENCY: usize = 4;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct OpenAi {
    pub(super) dispatcher: Dispatcher,
    pub(super) models: Arc<Models>,
    /// `OPENAI_MODEL_MAP`: OpenAI's own model names stand for the tiers.
    pub(super) map_openai: bool,
    max_tokens: Option<u32>,
    pub(super) max_body_bytes: usize,
    pub(super) fetcher: Fetcher,
    /// Stored responses (`store: true`, `previous_response_id`).
    pub(super) book: Arc<ResponseBook>,
    /// How many WebSockets may be open on `/v1/responses` at once.
    pub(super) sockets: Arc<tokio::sync::Semaphore>,
}

impl OpenAi {
    pub fn new(ctx: &Context) -> OpenAi {
        OpenAi {
            dispatcher: ctx.dispatcher.clone(),
            models: ctx.models.clone(),
            map_openai: ctx.config.openai_model_map,
            max_tokens: ctx.config.max_tokens_limit,
            max_body_bytes: ctx.config.max_body_bytes,
            fetcher: Fetcher::new(ctx.config.media_fetch),
            book: Arc::new(ResponseBook::new(
                ctx.dispatcher.pool().clone(),
                ctx.config.responses_store_hours,
                ctx.config.responses_store_max_bytes,
            )),
            sockets: Arc::new(tokio::sync::Semaphore::new(
                ctx.config.responses_max_sockets,
            )),
        }
    }
}

impl OpenAi {
    /// The output limits for `model`.
    pub(super) fn limits(&self, model: &str) -> Limits {
        Limits {
            max_tokens: self.max_tokens,
            output_limit: Some(self.models.output_limit(model)),
        }
    }

    /// The model's upstream path for `method`, under the API version that serves it.
    pub(super) fn path(&self, model: &str, method: &str) -> String {
        format!(
            "/{}/models/{model}:{method}",
            self.models.api_version(model)
        )
    }

    /// The response to send: the answer, or the dispatch failure in OpenAI's shape; marked
    /// with the model that served.
    pub(super) fn answer(
        &self,
        requested: &str,
        served: &Resolved,
        result: Result<Response, DispatchError>,
    ) -> Response {
        let resp =
            result.unwrap_or_else(|e| OpenAiError::from_dispatch(&served.model, e).into_response());
        mark(resp, served, requested, self.dispatcher.telemetry())
    }
}

pub fn routes(ctx: &Context) -> Router {
    let mut router = Router::new();
    for base in ["/v1", "/v1beta/openai"] {
        router = router
            .route(&format!("{base}/chat/completions"), post(chat))
            .route(
                &format!("{base}/responses"),
                post(respond::create_http).get(socket::open),
            )
            .route(&format!("{base}/responses/compact"), post(compact::compact))
            .route(
                &format!("{base}/responses/{{id}}"),
                get(respond::get_response).delete(respond::delete_response),
            )
            .route(
                &format!("{base}/responses/{{id}}/input_items"),
                get(respond::input_items),
            )
            .route(&format!("{base}/embeddings"), post(embed));
    }
    router
        .route("/v1beta/openai/models", get(list_models))
        .route("/v1beta/openai/models/{id}", get(get_model))
        .with_state(OpenAi::new(ctx))
}

/// Unix seconds now, for `created`.
pub(super) fn now_secs() -> i64 {
    crate::clock::Clock::new().now() / 1000
}

pub(super) fn post_request(path: String, body: Vec<u8>) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        path_and_query: path,
        body: Some(Bytes::from(body)),
        extra: None,
    }
}

/// The Gemini request as JSON (encoding a translated request cannot fail in practice).
pub(super) fn encode<T: WireJson>(v: &T) -> Result<Vec<u8>, OpenAiError> {
    let mut json = Vec::new();
    v.write_json(&mut json).map(|()| json).map_err(|_| {
        OpenAiError::server(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not encode the Gemini request",
        )
    })
}

/// The route of a request for `model`: its session (for key affinity) and its tally, which
/// learns the request's `service_tier` (`auto`: its client key's or its model's).
pub(super) fn model_route(
    model: &str,
    (cache_key, user, service_tier): (Option<&str>, Option<&str>, Option<&str>),
    headers: &HeaderMap,
    tally: Option<TallyRef>,
) -> Route {
    if let (Some(t), Some(tier)) = (
        &tally,
        service_tier
            .filter(|s| !s.eq_ignore_ascii_case("auto"))
            .and_then(ServiceTier::parse),
    ) {
        t.0.ask_service_tier(tier);
    }
    Route::model(model)
        .with_session(session(cache_key, user, headers))
        .with_tally(tally)
}

/// The session a request belongs to, for key affinity.
fn session(cache_key: Option<&str>, user: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let header = ["session-id", "session_id", "x-session-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()));
    [cache_key, user, header]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect())
}

/// Reads the body and parses it as `T`.
pub(super) fn read<T: serde::de::DeserializeOwned>(
    app: &OpenAi,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Box<Response>> {
    let body = read_body::<OpenAiError>(body, app.max_body_bytes)?;
    parse_json(&body).map_err(|e| Box::new(e.into_response()))
}

/// A Gemini answer read as one response.
pub(super) fn gemini_answer(body: &[u8]) -> Result<GenerateContentResponse, OpenAiError> {
    crate::upstream::common_event::answer_from_bytes(body).map_err(|e| {
        OpenAiError::server(
            StatusCode::BAD_GATEWAY,
            format!("Gemini sent an unreadable answer: {e}"),
        )
    })
}

/// What `unary_checked` makes of a translation of Gemini's answer.
pub(super) fn judged<T>(
    model: &str,
    translated: Result<T, OpenAiError>,
) -> Checked<T, OpenAiError> {
    match translated {
        Ok(v) => Checked::Accept(v),
        Err(e) if e.retryable => {
            tracing::warn!(model, error = %e.message, "unusable Gemini answer");
            Checked::Retry(e)
        }
        Err(e) => Checked::Refuse(e),
    }
}

/// A translated Gemini request on its route, ready for dispatch.
pub(super) struct Generate {
    pub(super) route: Route,
    pub(super) model: String,
    pub(super) json: Vec<u8>,
}

impl Generate {
    /// `streamGenerateContent` through the relay and `translator`, or the error that stopped it
    /// before commit.
    pub(super) async fn stream<T: Translate>(
        &self,
        app: &OpenAi,
        translator: T,
    ) -> Result<Response, DispatchError> {
        let path = app.path(&self.model, "streamGenerateContent?alt=sse");
        let req = post_request(path, self.json.clone());
        let start = app
            .dispatcher
            .stream_with_deadline(self.route.clone(), req, COMMIT_AFTER)
            .await?;
        Ok(Relay::new(translator, self.model.clone(), start).into_response())
    }

    /// `generateContent`, its answer translated by `translate` (into the answer's body) inside
    /// dispatch's check (an unusable answer is retried on another key).
    pub(super) async fn unary<T: IntoResponse>(
        &self,
        app: &OpenAi,
        translate: impl Fn(&GenerateContentResponse) -> Result<T, OpenAiError>,
    ) -> Result<Response, DispatchError> {
        let path = app.path(&self.model, "generateContent");
        let req = post_request(path, self.json.clone());
        let result = app
            .dispatcher
            .unary_checked(&self.route, &req, |answer| {
                let translated = gemini_answer(&answer.body).and_then(|r| translate(&r));
                judged(&self.model, translated)
            })
            .await?;
        Ok(match result {
            Ok(v) => v.into_response(),
            Err(e) => e.into_response(),
        })
    }
}

async fn chat(
    State(app): State<OpenAi>,
    headers: HeaderMap,
    Tallied(tally): Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: ChatRequest = match read(&app, body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let prepared = async {
        let resolved = app
            .models
            .resolve_fresh(&req.model, |n| chat_tier(n, app.map_openai))
            .await
            .map_err(|why| OpenAiError::unknown_model(&why))?;
        let media = app
            .fetcher
            .fetch_all(&chat_request::remote_media(&req))
            .await?;
        Ok::<_, OpenAiError>((resolved, media))
    };
    let (resolved, media) = match prepared.await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut chain = Fallbacks::new(&app.models, resolved, fallback_allowed(&headers));
    let result = loop {
        let result = chat_with(&app, &req, &media, &chain, &headers, tally.clone()).await;
        if !chain.next_after(&result) {
            break result;
        }
    };
    app.answer(&req.model, &chain.served(), result)
}

/// One chat request served by the chain's current model.
async fn chat_with(
    app: &OpenAi,
    req: &ChatRequest,
    media: &chat_request::Media,
    chain: &Fallbacks<'_>,
    headers: &HeaderMap,
    tally: Option<TallyRef>,
) -> Result<Response, DispatchError> {
    let model = chain.model();
    let rules_name = app.dispatcher.served_models().rules_name(&model.model);
    let gemini =
        chat_request::to_generate_content(req, &rules_name, app.limits(&model.model), media)
            .and_then(|g| Ok((encode(&g)?, g)));
    let (json, gemini) = match gemini {
        Ok(both) => both,
        Err(e) => return Ok(e.into_response()),
    };
    let route = model_route(
        &model.model,
        (
            req.prompt_cache_key.as_deref(),
            req.user.as_deref(),
            req.service_tier.as_deref(),
        ),
        headers,
        tally,
    )
    .session_or_else(|| prefix_session(&model.model, &gemini))
    .queued(chain.is_last());
    let g = Generate {
        route,
        model: model.model.to_string(),
        json,
    };
    let answering = Answering {
        client_model: shown(model, &req.model),
        gemini_model: &g.model,
        parallel: req.parallel_tool_calls.unwrap_or(true),
        created: now_secs(),
    };
    if req.stream.unwrap_or(false) {
        let include_usage = req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        return g
            .stream(app, ChatStream::new(answering, include_usage))
            .await;
    }
    // Boxed, so that this future is a stream's size (see `anthropic::routes::messages`).
    Box::pin(g.unary(app, |r| completion(r, answering).map(axum::Json))).await
}

async fn embed(
    State(app): State<OpenAi>,
    headers: HeaderMap,
    Tallied(tally): Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: EmbeddingsRequest = match read(&app, body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let prepared = app
        .models
        .resolve_fresh(&req.model, |n| embedding_tier(n, app.map_openai))
        .await
        .map_err(|why| OpenAiError::unknown_model(&why))
        .and_then(|resolved| Ok((embeddings::parse(&req)?, resolved)));
    let (parsed, resolved) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let model = resolved.model.to_string();
    let route = model_route(&model, (None, req.user.as_deref(), None), &headers, tally);
    let path = app.path(&model, "batchEmbedContents");
    let mut batches = Vec::new();
    for (i, batch) in embeddings::batches(&parsed, &model).into_iter().enumerate() {
        match encode(&batch) {
            Ok(json) => {
                let size = batch["requests"].as_array().map_or(0, Vec::len);
                batches.push((i, size, post_request(path.clone(), json)));
            }
            Err(e) => return e.into_response(),
        }
    }
    use futures_util::StreamExt;
    let results: Vec<_> = futures_util::stream::iter(batches)
        .map(|(_, size, upstream)| {
            let (app, route, model) = (&app, &route, &model);
            async move {
                app.dispatcher
                    .unary_checked(route, &upstream, |answer| {
                        match embeddings::vectors(&answer.body, size) {
                            Ok(v) => Checked::Accept(v),
                            Err(why) => Checked::Refuse(OpenAiError::server(
                                StatusCode::BAD_GATEWAY,
                                format!("Gemini sent unusable embeddings for {model}: {why}"),
                            )),
                        }
                    })
                    .await
            }
        })
        .buffered(EMBED_CONCURRENCY)
        .collect()
        .await;
    let mut vectors = Vec::with_capacity(parsed.inputs.len());
    for result in results {
        match result {
            Ok(Ok(v)) => vectors.extend(v),
            Ok(Err(e)) => return e.into_response(),
            Err(e) => return OpenAiError::from_dispatch(&model, e).into_response(),
        }
    }
    let resp = axum::Json(embeddings::response(
        &parsed,
        &vectors,
        shown(&resolved, &req.model),
    ))
    .into_response();
    mark(resp, &resolved, &req.model, app.dispatcher.telemetry())
}

/// `GET …/models` in OpenAI's shape.
pub async fn list_models(State(app): State<OpenAi>) -> Response {
    models_list(&app.dispatcher, &app.models).await
}

/// The model list in OpenAI's shape (for every caller the catalog rule calls OpenAI).
pub async fn models_list(dispatcher: &Dispatcher, models: &Models) -> Response {
    match listing::entries(dispatcher, models).await {
        Ok(entries) => axum::Json(models::list_object(entries.iter())).into_response(),
        Err(e) => OpenAiError::from_dispatch(Route::catalog().name(), e).into_response(),
    }
}

/// `GET …/models/{id}` in OpenAI's shape.
pub async fn get_model(State(app): State<OpenAi>, Path(id): Path<String>) -> Response {
    model_get(&app.dispatcher, &app.models, &id).await
}

/// One model in OpenAI's shape: the one the name resolves to (an alias's model, a mapped
/// OpenAI name's tier when `OPENAI_MODEL_MAP` is on).
pub async fn model_get(dispatcher: &Dispatcher, models: &Models, id: &str) -> Response {
    // Listing a name is asking whether it serves: the same names a request may use.
    let tier = |n: &str| chat_tier(n, false);
    match listing::entry(dispatcher, models, id, tier).await {
        Ok((resolved, entry)) => mark(
            axum::Json(models::model_object(&entry)).into_response(),
            &resolved,
            id,
            dispatcher.telemetry(),
        ),
        Err(missing) => missing.respond::<OpenAiError>(id),
    }
}
