//! The Interactions API (`/{v}/interactions`), per project, in its `steps` schema (revision
//! 2026-05-20, the SDK's default): an interaction is created on a model (or an agent) from its
//! `input`, continued with `previous_interaction_id` — only from the same project, and only a
//! stored one — read back, cancelled and deleted. The answer names the turn it is, so tests can
//! see the history was found. `background: true` answers `in_progress` and is `completed` at
//! the next look; `stream: true` answers three SSE events (CRLF framing), and
//! `GET …?stream=true&last_event_id=` replays those after an id. A missing interaction and
//! another project's answer alike: 404 (the wording is ours).

use std::collections::HashMap;

use axum::response::Response;
use serde_json::{json, Value};

use super::{new_id, now_ms, timestamp, ResourceCall};
use crate::errors::ApiError;
use crate::state::lock;

/// One stored interaction.
#[derive(Debug, Clone)]
struct Interaction {
    project: String,
    id: String,
    model: String,
    turn: usize,
    status: &'static str,
    stored: bool,
    created_ms: i64,
}

/// Every project's interactions.
#[derive(Debug, Default)]
pub struct InteractionStore {
    all: HashMap<String, Interaction>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, "NOT_FOUND", format!("Interaction {id} was not found."))
}

impl InteractionStore {
    fn owned(&mut self, project: &str, id: &str) -> Result<&mut Interaction, ApiError> {
        match self.all.get_mut(id) {
            Some(i) if i.project == project && i.stored => Ok(i),
            _ => Err(not_found(id)),
        }
    }
}

/// The interaction as the API shows it.
fn shown(i: &Interaction) -> Value {
    let mut v = json!({
        "id": i.id,
        "status": i.status,
        "model": i.model,
        "created": timestamp(i.created_ms),
        "updated": timestamp(now_ms()),
        "role": "model",
    });
    if i.status == "completed" {
        let text = reply(i);
        v["steps"] = json!([{"type": "model_output", "content": [{"type": "text", "text": text}]}]);
        v["usage"] = json!({"total_input_tokens": 8 * i.turn, "total_output_tokens": 7});
    }
    v
}

fn reply(i: &Interaction) -> String {
    format!("Mock interaction reply (turn {}) from {}", i.turn, i.model)
}

/// The stream of `i`'s events: `(event_id, event type, data)`.
fn events(i: &Interaction) -> Vec<(String, &'static str, Value)> {
    let mut started = shown(i);
    started["status"] = json!("in_progress");
    vec![
        (
            "e1".into(),
            "interaction.start",
            json!({"interaction": started}),
        ),
        (
            "e2".into(),
            "content.delta",
            json!({"index": 0, "delta": {"type": "text", "text": reply(i)}}),
        ),
        (
            "e3".into(),
            "interaction.complete",
            json!({"interaction": shown(i)}),
        ),
    ]
}

/// SSE of `events` after `after` (an event id), CRLF-framed.
fn sse(events: Vec<(String, &'static str, Value)>, after: Option<&str>) -> Response {
    let skip = after
        .and_then(|a| events.iter().position(|(id, ..)| id == a))
        .map_or(0, |p| p + 1);
    let mut body = String::new();
    for (id, kind, mut data) in events.into_iter().skip(skip) {
        data["event_type"] = json!(kind);
        data["event_id"] = json!(id);
        body.push_str(&format!("event: {kind}\r\ndata: {data}\r\n\r\n"));
    }
    let mut resp = Response::new(axum::body::Body::from(body));
    super::set_header(&mut resp, "content-type", "text/event-stream");
    resp
}

/// `POST /{v}/interactions`.
pub fn create(call: &ResourceCall<'_>, project: &str, body: &[u8]) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid_argument("Invalid JSON payload received."))?;
    let model = match (body["model"].as_str(), body["agent"].as_str()) {
        (Some(m), None) => m.trim_start_matches("models/").to_owned(),
        (None, Some(a)) => a.to_owned(),
        _ => {
            return Err(ApiError::invalid_argument(
                "Exactly one of model and agent must be set.",
            ))
        }
    };
    if body.get("input").is_none() {
        return Err(ApiError::invalid_argument("input is required."));
    }
    let mut store = lock(&call.state.resources);
    let turn = match body["previous_interaction_id"].as_str() {
        Some(prev) => store.interactions.owned(project, prev)?.turn + 1,
        None => 1,
    };
    let background = body["background"] == true;
    let interaction = Interaction {
        project: project.to_owned(),
        id: format!("v1_{}", new_id(call.state)),
        model,
        turn,
        status: if background {
            "in_progress"
        } else {
            "completed"
        },
        stored: body["store"] != false,
        created_ms: now_ms(),
    };
    store
        .interactions
        .all
        .insert(interaction.id.clone(), interaction.clone());
    drop(store);
    if body["stream"] == true {
        return Ok(sse(events(&interaction), None));
    }
    Ok(call.answer(&shown(&interaction)))
}

/// `GET /{v}/interactions/{id}` (`?stream=true&last_event_id=` replays its events).
pub fn get(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    let mut store = lock(&call.state.resources);
    let i = store.interactions.owned(&project, id)?;
    let shown_now = i.clone();
    if i.status == "in_progress" {
        i.status = "completed";
    }
    drop(store);
    if crate::request::param(call.params, "stream") == Some("true") {
        let after = crate::request::param(call.params, "last_event_id");
        return Ok(sse(events(&shown_now), after));
    }
    Ok(call.answer(&shown(&shown_now)))
}

/// `POST /{v}/interactions/{id}/cancel`.
pub fn cancel(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    let mut store = lock(&call.state.resources);
    let i = store.interactions.owned(&project, id)?;
    i.status = "cancelled";
    let v = shown(i);
    drop(store);
    Ok(call.answer(&v))
}

/// `DELETE /{v}/interactions/{id}`.
pub fn delete(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    let mut store = lock(&call.state.resources);
    store.interactions.owned(&project, id)?;
    store.interactions.all.remove(id);
    Ok(call.answer(&json!({})))
}
