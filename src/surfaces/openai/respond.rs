//! The Responses API's handlers over HTTP: `POST /v1/responses` (streamed or whole), and the
//! stored responses' `GET` and `DELETE /v1/responses/{id}` and `GET …/{id}/input_items`.
//!
//! [`create`] is the one way a response is made, for HTTP and the WebSocket alike: the request's
//! conversation assembled (see [`conversation`]), translated for the fallback chain's model,
//! dispatched on the conversation's route (its first response's id keeps it on one key while
//! that can serve: Gemini's implicit cache is per project), and answered by the
//! [`ResponseBuilder`]; a response to keep (`store`, or a socket's) is handed, finished, to the
//! [`Keeper`] made here. An unusable answer (`MALFORMED_FUNCTION_CALL`) is retried once on
//! another key by dispatch.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::chat::request as chat_request;
use super::errors::OpenAiError;
use super::models::chat_tier;
use super::responses::conversation::{self, Conversation, Lookup};
use super::responses::output::{Echo, Keeper, ResponseBuilder};
use super::responses::request::{self as responses_request, ToolKinds};
use super::responses::stored::{Record, SocketMemory};
use super::responses::types::{self as responses_types, ResponsesRequest};
use super::routes::{encode, model_route, now_secs, read, Generate, OpenAi};
use crate::dispatch::DispatchError;
use crate::surfaces::shared::prefix::prefix_session;
use crate::surfaces::shared::relay::Translate;
use crate::surfaces::shared::serving::{fallback_allowed, name_left_out, shown, Fallbacks};
use crate::surfaces::shared::signature::new_id;
use crate::surfaces::{Dialect, Tallied};
use crate::telemetry::TallyRef;

/// Who asks for a response, and where its conversation is remembered.
pub(super) struct Caller {
    pub headers: HeaderMap,
    pub tally: Option<TallyRef>,
    /// The client key's name (empty without client keys): the owner of what it stores.
    pub owner: String,
    /// The socket's recent responses, for a request over a WebSocket.
    pub socket: Option<Arc<Mutex<SocketMemory>>>,
}

impl Caller {
    pub fn new(headers: HeaderMap, tally: Option<TallyRef>) -> Caller {
        let owner = tally
            .as_ref()
            .and_then(|t| t.0.client())
            .map(|c| c.to_string())
            .unwrap_or_default();
        Caller {
            headers,
            tally,
            owner,
            socket: None,
        }
    }
}

/// `POST /v1/responses`.
pub(super) async fn create_http(
    State(app): State<OpenAi>,
    headers: HeaderMap,
    Tallied(tally): Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: ResponsesRequest = match read(&app, body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    create(&app, req, &Caller::new(headers, tally)).await
}

/// The header naming the input item types the gateway left out of the model's input.
const DROPPED_ITEMS: &str = "x-gateway-dropped-items";

/// Makes one response: streamed when the request says so (always over a socket).
pub(super) async fn create(app: &OpenAi, mut req: ResponsesRequest, caller: &Caller) -> Response {
    let (input, tools) = (req.input.take(), req.tools.take());
    let store = req.store.unwrap_or(true) && app.book.keeps();
    let keep = store || caller.socket.is_some();
    let prepared = async {
        let resolved = app
            .models
            .resolve_fresh(&req.model, |n| chat_tier(n, app.map_openai))
            .await
            .map_err(|why| OpenAiError::unknown_model(&why))?;
        let lookup = Lookup {
            book: &app.book,
            owner: &caller.owner,
            socket: caller.socket.as_deref(),
        };
        let previous = req.previous_response_id.as_deref();
        let conversation = conversation::assemble(input, previous, keep, &lookup).await?;
        let tools = responses_types::tools(tools)?;
        let media = app
            .fetcher
            .fetch_all(&responses_request::remote_media(&conversation.items.list))
            .await?;
        Ok::<_, OpenAiError>((resolved, conversation, tools, media))
    };
    let (resolved, conversation, tools, media) = match prepared.await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if conversation.compacting {
        // The summary is text: no tool may be called for it.
        req.tool_choice = Some("none".into());
    }
    let id = new_id("resp_");
    let keeper = keep.then(|| keeper(app, caller, store, &id, &conversation));
    let asked = Asked {
        req: &req,
        id,
        thread: conversation.thread.clone(),
        compacting: conversation.compacting,
        store,
        keeper,
        tools: &tools,
        media: &media,
    };
    let mut chain = Fallbacks::new(&app.models, resolved, fallback_allowed(&caller.headers));
    let result = loop {
        let items = conversation.items.list.clone();
        let result = respond_with(app, &asked, items, &chain, caller).await;
        if !chain.next_after(&result) {
            break result;
        }
    };
    let resp = app.answer(&req.model, &chain.served(), result);
    name_left_out(
        resp,
        DROPPED_ITEMS,
        "input items",
        &conversation.items.dropped,
    )
}

/// Hands the finished response to the socket's memory and, when stored, to the book.
fn keeper(
    app: &OpenAi,
    caller: &Caller,
    store: bool,
    id: &str,
    conversation: &Conversation,
) -> Keeper {
    let input = Arc::new(conversation.kept.clone().unwrap_or_default());
    let thread = conversation
        .thread
        .clone()
        .unwrap_or_else(|| id.to_string());
    let (book, socket, owner) = (
        app.book.clone(),
        caller.socket.clone(),
        caller.owner.clone(),
    );
    Arc::new(move |id: &str, response: Value| {
        let record = Record {
            owner: owner.clone(),
            input: input.as_ref().clone(),
            response,
            conversation: thread.clone(),
            expires_at: book.expiry(),
        };
        if store {
            book.keep(id, record.clone());
        }
        if let Some(socket) = &socket {
            let mut memory = socket.lock().unwrap_or_else(|p| p.into_inner());
            memory.put(id, Arc::new(record));
        }
    })
}

/// A Responses request read, its conversation assembled and its media fetched.
struct Asked<'a> {
    req: &'a ResponsesRequest,
    /// The response's id, made before it is asked for (its conversation's route may be it).
    id: String,
    thread: Option<String>,
    /// The answer is a compaction of the conversation (see [`super::compact`]).
    compacting: bool,
    store: bool,
    keeper: Option<Keeper>,
    tools: &'a [responses_types::ToolDef],
    media: &'a chat_request::Media,
}

/// One response made by the chain's current model.
async fn respond_with(
    app: &OpenAi,
    asked: &Asked<'_>,
    items: Vec<responses_types::Item>,
    chain: &Fallbacks<'_>,
    caller: &Caller,
) -> Result<Response, DispatchError> {
    let req = asked.req;
    let model = chain.model();
    let echo = |kinds| Echo {
        client_model: shown(model, &req.model).to_string(),
        gemini_model: model.model.to_string(),
        created: now_secs(),
        parallel: req.parallel_tool_calls.unwrap_or(true),
        tool_choice: req.tool_choice.clone().unwrap_or_else(|| "auto".into()),
        reasoning: serde_json::to_value(&req.reasoning).unwrap_or_default(),
        max_output_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        kinds,
        store: asked.store,
        previous_response_id: req.previous_response_id.clone(),
    };
    let builder = |echo, streaming| {
        ResponseBuilder::new(echo, streaming)
            .with_id(asked.id.clone())
            .with_keeper(asked.keeper.clone())
    };
    let streaming = req.stream.unwrap_or(false) || caller.socket.is_some();
    if req.generate == Some(false) {
        // Nothing to ask the model (the input may be instructions alone): a response to
        // continue from.
        let mut b = builder(echo(ToolKinds::default()), streaming);
        let mut out = Vec::new();
        b.nothing(&mut out);
        return Ok(made_whole(b, out, streaming));
    }
    let rules_name = app.dispatcher.served_models().rules_name(&model.model);
    let translated = responses_request::to_generate_content(
        req,
        items,
        asked.tools,
        &rules_name,
        app.limits(&model.model),
        asked.media,
    )
    .and_then(|(gemini, kinds)| Ok((encode(&gemini)?, kinds, gemini)));
    let (json, kinds, gemini) = match translated {
        Ok(t) => t,
        Err(e) => return Ok(e.into_response()),
    };
    // A kept conversation's session is its thread (its first response): one key while usable.
    let thread = asked
        .keeper
        .as_ref()
        .map(|_| asked.thread.as_deref().unwrap_or(&asked.id));
    let route = model_route(
        &model.model,
        (
            req.prompt_cache_key.as_deref().or(thread),
            req.user.as_deref(),
            req.service_tier.as_deref(),
        ),
        &caller.headers,
        caller.tally.clone(),
    )
    .session_or_else(|| prefix_session(&model.model, &gemini))
    .queued(chain.is_last());
    let g = Generate {
        route,
        model: model.model.to_string(),
        json,
    };
    let echo = echo(kinds);
    let builder = |streaming| builder(echo.clone(), streaming);
    if asked.compacting {
        // Boxed: a compaction is rare, and its future is larger than a response's.
        return Box::pin(super::compact::answer(
            app,
            &g,
            builder(streaming),
            streaming,
        ))
        .await;
    }
    if streaming {
        return g.stream(app, builder(true)).await;
    }
    // Boxed, so that this future is a stream's size (see `anthropic::routes::messages`).
    Box::pin(g.unary(app, |r| {
        let mut b = builder(false);
        b.chunk(r, &mut Vec::new());
        b.finish_object()
    }))
    .await
}

/// A response made without the model's stream (`builder` holds all of it, `out` its opening
/// events): ended, and answered as a stream or whole.
pub(super) fn made_whole(
    mut builder: ResponseBuilder,
    mut out: Vec<u8>,
    streaming: bool,
) -> Response {
    builder.end(&mut out);
    if !streaming {
        return match builder.finish_object() {
            Ok(v) => v.into_response(),
            Err(e) => e.into_response(),
        };
    }
    let mut resp = Response::new(axum::body::Body::from(out));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp
}

/// The 404 for a response this client cannot see.
fn no_such_response(id: &str) -> Response {
    OpenAiError {
        status: StatusCode::NOT_FOUND,
        ..OpenAiError::invalid_param(
            "response_id",
            format!("No response with id '{id}' found: it was not stored, has expired, or belongs to another API key."),
        )
    }
    .into_response()
}

/// `GET /v1/responses/{id}`: a stored response as it was answered.
pub(super) async fn get_response(
    State(app): State<OpenAi>,
    Tallied(tally): Tallied,
    Path(id): Path<String>,
) -> Response {
    let caller = Caller::new(HeaderMap::new(), tally);
    match app.book.get(&id, &caller.owner).await {
        Some(r) => axum::Json(&r.response).into_response(),
        None => no_such_response(&id),
    }
}

/// `DELETE /v1/responses/{id}`.
pub(super) async fn delete_response(
    State(app): State<OpenAi>,
    Tallied(tally): Tallied,
    Path(id): Path<String>,
) -> Response {
    let caller = Caller::new(HeaderMap::new(), tally);
    if !app.book.delete(&id, &caller.owner).await {
        return no_such_response(&id);
    }
    axum::Json(json!({"id": id, "object": "response.deleted", "deleted": true})).into_response()
}

/// `…/input_items`' paging: OpenAI's `limit` (1–100, 20), `order` (`desc` first), `after`.
#[derive(Debug, Deserialize)]
pub(super) struct Paging {
    limit: Option<usize>,
    order: Option<String>,
    after: Option<String>,
}

/// `GET /v1/responses/{id}/input_items`: the model's whole input for that response.
pub(super) async fn input_items(
    State(app): State<OpenAi>,
    Tallied(tally): Tallied,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
) -> Response {
    let caller = Caller::new(HeaderMap::new(), tally);
    let Some(record) = app.book.get(&id, &caller.owner).await else {
        return no_such_response(&id);
    };
    let limit = paging.limit.unwrap_or(20).clamp(1, 100);
    let mut items: Vec<&Value> = record.input.iter().collect();
    if paging.order.as_deref() != Some("asc") {
        items.reverse();
    }
    let start = match &paging.after {
        Some(after) => match items.iter().position(|v| v["id"].as_str() == Some(after)) {
            Some(i) => i + 1,
            None => {
                return OpenAiError::invalid_param(
                    "after",
                    format!("No item with id '{after}' in this response's input."),
                )
                .into_response()
            }
        },
        None => 0,
    };
    let page: Vec<&Value> = items.iter().skip(start).take(limit).copied().collect();
    let id_of = |v: Option<&&Value>| v.and_then(|v| v["id"].as_str()).map(str::to_string);
    axum::Json(json!({
        "object": "list",
        "data": page,
        "first_id": id_of(page.first()),
        "last_id": id_of(page.last()),
        "has_more": start + page.len() < items.len(),
    }))
    .into_response()
}
