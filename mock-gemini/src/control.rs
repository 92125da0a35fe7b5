//! The HTTP control API under `/_mock/`, for out-of-process users (Python end-to-end
//! tests, benchmarks) that cannot call the Rust API: add and clear scripted rules, read
//! and clear the request log, and a health probe to wait for startup.
//! Control requests are not recorded in the request log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::errors::json_response;
use crate::quota::QuotaConfig;
use crate::script::Rule;
use crate::state::{lock, State};

/// The `/_mock/...` routes.
pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route(
            "/_mock/rules",
            get(list_rules).post(add_rule).delete(clear_rules),
        )
        .route("/_mock/requests", get(list_requests).delete(clear_requests))
        .route("/_mock/quotas", get(get_quotas).post(set_quotas))
        .route("/_mock/health", get(health))
}

async fn add_rule(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Rule>(&body) {
        Ok(rule) => {
            lock(&state.rules).add(rule);
            json_response(StatusCode::OK, &json!({"ok": true}), false)
        }
        Err(error) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"ok": false, "error": format!("invalid rule: {error}")}),
            false,
        ),
    }
}

async fn list_rules(AxumState(state): AxumState<Arc<State>>) -> Response {
    let rules = lock(&state.rules).list();
    json_response(StatusCode::OK, &json!(rules), false)
}

async fn clear_rules(AxumState(state): AxumState<Arc<State>>) -> Response {
    lock(&state.rules).clear();
    json_response(StatusCode::OK, &json!({"ok": true}), false)
}

async fn list_requests(AxumState(state): AxumState<Arc<State>>) -> Response {
    json_response(StatusCode::OK, &json!(state.requests()), false)
}

async fn clear_requests(AxumState(state): AxumState<Arc<State>>) -> Response {
    state.clear_requests();
    json_response(StatusCode::OK, &json!({"ok": true}), false)
}

/// Replaces the quota configuration (and forgets usage): `{"projects": {key: project},
/// "limits": [{"project", "model", "rpm", "tpm", "rpd"}], "tiers": {project: "free" | "paid"},
/// "spend_capped": [project]}` (every field optional).
async fn set_quotas(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    match serde_json::from_slice::<QuotaConfig>(&body) {
        Ok(config) => {
            lock(&state.quotas).configure(config);
            json_response(StatusCode::OK, &json!({"ok": true}), false)
        }
        Err(error) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"ok": false, "error": format!("invalid quotas: {error}")}),
            false,
        ),
    }
}

async fn get_quotas(AxumState(state): AxumState<Arc<State>>) -> Response {
    json_response(StatusCode::OK, &json!(lock(&state.quotas).config()), false)
}

async fn health() -> Response {
    (StatusCode::OK, "ok").into_response()
}
