//! Remote compaction, as Codex asks for it: `POST /v1/responses/compact` (the whole input; the
//! answer is a `response.compaction` object whose `output` is one `compaction` item), or a
//! `compaction_trigger` item ending a `POST /v1/responses` or a socket's `response.create` (the
//! answer is a response whose one output item is the `compaction`). Either way the conversation
//! goes to the model with an instruction to summarise it and no tool to call, through dispatch
//! like any request; the summary becomes the item (see [`compaction`]), which later requests
//! take as input.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::errors::OpenAiError;
use super::respond::{create, made_whole, Caller};
use super::responses::compaction;
use super::responses::output::ResponseBuilder;
use super::responses::types::ResponsesRequest;
use super::routes::{gemini_answer, judged, post_request, read, Generate, OpenAi};
use crate::dispatch::DispatchError;
use crate::surfaces::Tallied;
use crate::upstream::wire::GenerateContentResponse;

/// `POST /v1/responses/compact`.
pub(super) async fn compact(
    State(app): State<OpenAi>,
    headers: HeaderMap,
    Tallied(tally): Tallied,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut req: ResponsesRequest = match read(&app, body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let mut input = match super::responses::types::input_list(req.input.take()) {
        Ok(list) => list,
        Err(e) => return e.into_response(),
    };
    input.push(json!({"type": "compaction_trigger"}));
    req.input = Some(Value::Array(input));
    req.stream = Some(false);
    req.store = Some(false);
    let resp = create(&app, req, &Caller::new(headers, tally)).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let made: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let compacted = json!({
        "id": made["id"],
        "object": "response.compaction",
        "created_at": made["created_at"],
        "output": made["output"],
        "usage": made["usage"],
    });
    let mut out = axum::Json(compacted).into_response();
    for (name, value) in parts.headers.iter() {
        if name.as_str().starts_with("x-gateway-") {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

/// Answers a compacting request (its translation `g` asks for the summary): the summary as
/// the response's one `compaction` item, streamed or whole.
pub(super) async fn answer(
    app: &OpenAi,
    g: &Generate,
    mut builder: ResponseBuilder,
    streaming: bool,
) -> Result<Response, DispatchError> {
    let path = app.path(&g.model, "generateContent");
    let req = post_request(path, g.json.clone());
    let answer = app
        .dispatcher
        .unary_checked(&g.route, &req, |answer| {
            judged(
                &g.model,
                gemini_answer(&answer.body).and_then(|r| summary(&r)),
            )
        })
        .await?;
    let (text, usage) = match answer {
        Ok(a) => a,
        Err(e) => return Ok(e.into_response()),
    };
    let mut out = Vec::new();
    builder.whole_item(compaction::item(&text), usage, &mut out);
    Ok(made_whole(builder, out, streaming))
}

/// The summary the model wrote, and the usage; an answer without text is retried elsewhere.
fn summary(
    r: &GenerateContentResponse,
) -> Result<(String, Option<crate::upstream::wire::UsageMetadata>), OpenAiError> {
    let text: String = r
        .candidates
        .first()
        .and_then(|c| c.content.as_ref())
        .map(|c| {
            c.parts
                .iter()
                .filter(|p| !p.is_thought())
                .filter_map(|p| p.text.as_deref())
                .collect()
        })
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Err(OpenAiError {
            retryable: true,
            ..OpenAiError::server(
                StatusCode::BAD_GATEWAY,
                "Gemini wrote no summary for the compaction",
            )
        });
    }
    Ok((text, r.usage_metadata))
}
