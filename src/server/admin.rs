//! The operator's API (`/admin/...`, guarded by `ADMIN_API_KEY`): add a key, remove one,
//! re-enable a disabled one, clear a cooldown — without a restart. Keys are addressed by their
//! short id from `/v1/keys/status`, never by the secret in a URL. Changes reach the running pool
//! at once, and the store (so they last, and reach other gateways sharing it). Client keys are
//! refused with 403; no or wrong credentials with 401.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::presented;
use super::gate::Gate;
use super::status::{status_body, Ops};
use crate::pool::KeyModels;
use crate::secret::ApiKey;
use crate::store::Change;
use crate::surfaces::gemini::{Code, GoogleError};

/// The admin routes, behind the operator key.
pub fn routes(ops: Ops, gate: &Gate) -> Router {
    Router::new()
        .route("/admin/keys", get(list).post(add))
        .route("/admin/keys/{id}", delete(remove))
        .route("/admin/keys/{id}/enable", post(enable))
        .route("/admin/keys/{id}/clear-cooldown", post(clear_cooldown))
        .route(
            "/admin/keys/{id}/models",
            axum::routing::put(set_models).delete(reset_models),
        )
        .route("/admin/keys/{id}/heal", post(heal))
        .route("/admin/keys/{id}/ungroup", post(ungroup))
        .route("/admin/keys/{id}/forget-lacking", post(forget_lacking))
        .route("/admin/groups/{name}/forget-limits", post(forget_limits))
        .route_layer(from_fn_with_state(gate.clone(), require_admin_key))
        .with_state(ops)
}

fn admin_error(code: Code, message: &str) -> Response {
    GoogleError::new(code, message).into_response()
}

/// Middleware: only the operator key passes.
async fn require_admin_key(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    if gate.admin_key.is_empty() {
        return admin_error(
            Code::NotFound,
            "The admin API is off: set ADMIN_API_KEY to turn it on.",
        );
    }
    // Headers only: an operator key in a URL would end up in proxy and access logs.
    let creds = presented(req.headers(), &axum::http::Uri::from_static("/"));
    if gate.admin_key.accepts(&creds) {
        next.run(req).await
    } else if gate.clients.load().matching(&creds).is_some() {
        admin_error(
            Code::PermissionDenied,
            "Client keys cannot use the admin API; use ADMIN_API_KEY.",
        )
    } else {
        admin_error(
            Code::Unauthenticated,
            "The admin API needs ADMIN_API_KEY (x-api-key or Authorization: Bearer).",
        )
    }
}

async fn list(State(app): State<Ops>) -> Json<Value> {
    app.pool.refresh().await;
    Json(status_body(&app.pool.snapshot())["keys"].clone())
}

/// The status view of one key.
fn view(app: &Ops, id: &str) -> Value {
    status_body(&app.pool.snapshot())["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

#[derive(Deserialize)]
struct NewKey {
    key: String,
}

async fn add(
    State(app): State<Ops>,
    body: Result<Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(NewKey { key })) = body else {
        return admin_error(
            Code::InvalidArgument,
            "Send {\"key\": \"<Gemini API key>\"}.",
        );
    };
    let key = key.trim();
    if key.is_empty()
        || key.len() > 512
        || key
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c.is_control())
    {
        return admin_error(
            Code::InvalidArgument,
            "A key is a non-empty string without spaces or commas.",
        );
    }
    let key = ApiKey::new(key);
    let id = key.id().to_string();
    if app.pool.index_of(&id).is_some() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": {"code": 409, "status": "ALREADY_EXISTS",
            "message": "That key is already in the pool."}, "key": view(&app, &id)})),
        )
            .into_response();
    }
    if let Err(e) = app.pool.apply(Change::AddKey { key }).await {
        tracing::error!(error = %e, "admin: could not store an added key");
        return admin_error(
            Code::Internal,
            "The key was added to this gateway but could not be stored.",
        );
    }
    tracing::info!(key = %id, "admin: key added");
    (StatusCode::CREATED, Json(view(&app, &id))).into_response()
}

async fn remove(State(app): State<Ops>, Path(id): Path<String>) -> Response {
    if app.pool.index_of(&id).is_none() {
        return admin_error(Code::NotFound, "No key with that id is in the pool.");
    }
    if app.pool.len() == 1 {
        return admin_error(
            Code::AlreadyExists,
            "That is the last key in the pool; add another first.",
        );
    }
    if let Err(e) = app
        .pool
        .apply(Change::RemoveKey {
            key_id: id.clone(),
            at: app.pool.clock().now(),
        })
        .await
    {
        tracing::error!(error = %e, "admin: could not store a key removal");
        return admin_error(
            Code::Internal,
            "The key was removed from this gateway but the removal could not be stored.",
        );
    }
    tracing::info!(key = %id, "admin: key removed");
    Json(json!({"id": id, "removed": true})).into_response()
}

async fn enable(State(app): State<Ops>, Path(id): Path<String>) -> Response {
    change(
        &app,
        &id,
        Change::Enable { key_id: id.clone() },
        "re-enabled",
    )
    .await
}

#[derive(Deserialize)]
struct ClearQuery {
    model: Option<String>,
}

async fn clear_cooldown(
    State(app): State<Ops>,
    Path(id): Path<String>,
    Query(q): Query<ClearQuery>,
) -> Response {
    let model = q.model.filter(|m| !m.is_empty());
    change(
        &app,
        &id,
        Change::ClearCooldown {
            key_id: id.clone(),
            model,
        },
        "cooldown cleared",
    )
    .await
}

/// `POST /admin/keys/{id}/heal[?model=…]`: ends its ejections (one model, or all).
async fn heal(
    State(app): State<Ops>,
    Path(id): Path<String>,
    Query(q): Query<ClearQuery>,
) -> Response {
    let snap = app.pool.snapshot();
    let Some(k) = snap.keys.iter().find(|k| k.id == id) else {
        return admin_error(Code::NotFound, "No key with that id is in the pool.");
    };
    let models: Vec<String> = match q.model.filter(|m| !m.is_empty()) {
        Some(m) => vec![m],
        None => k.ejections.keys().cloned().collect(),
    };
    for model in models {
        let healed = Change::Healed {
            key_id: id.clone(),
            model,
        };
        if let Err(e) = app.pool.apply(healed).await {
            return stored_badly(&e);
        }
    }
    tracing::info!(key = %id, "admin: ejections ended");
    Json(view(&app, &id)).into_response()
}

/// `POST /admin/keys/{id}/ungroup`: out of its learned group, into one of its own.
async fn ungroup(State(app): State<Ops>, Path(id): Path<String>) -> Response {
    match app.pool.ungroup(&id).await {
        Ok(true) => {
            tracing::info!(key = %id, "admin: taken out of its learned group");
            Json(view(&app, &id)).into_response()
        }
        Ok(false) => admin_error(Code::NotFound, "No key with that id is in the pool."),
        Err(e) => stored_badly(&e),
    }
}

/// `POST /admin/keys/{id}/forget-lacking[?model=…]`: the key is asked for the model again.
async fn forget_lacking(
    State(app): State<Ops>,
    Path(id): Path<String>,
    Query(q): Query<ClearQuery>,
) -> Response {
    let model = q.model.filter(|m| !m.is_empty());
    if !app.pool.forget_lacking(&id, model.as_deref()) {
        return admin_error(Code::NotFound, "No key with that id is in the pool.");
    }
    tracing::info!(key = %id, "admin: missing models forgotten");
    Json(view(&app, &id)).into_response()
}

/// `POST /admin/groups/{name}/forget-limits[?model=…]`: the group's learned limits are
/// forgotten (declared ones stay).
async fn forget_limits(
    State(app): State<Ops>,
    Path(name): Path<String>,
    Query(q): Query<ClearQuery>,
) -> Response {
    let model = q.model.filter(|m| !m.is_empty());
    match app.pool.forget_limits(&name, model.as_deref()).await {
        Ok(true) => {
            tracing::info!(group = %name, "admin: learned limits forgotten");
            let snap = app.pool.snapshot();
            let group = snap.groups.iter().find(|g| g.name == name);
            Json(json!({"group": name, "learned_limits": group.map(|g| &g.limit_evidence)}))
                .into_response()
        }
        Ok(false) => admin_error(
            Code::NotFound,
            "No quota group of that name is in the pool.",
        ),
        Err(e) => stored_badly(&e),
    }
}

fn stored_badly(e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "admin: could not store a change");
    admin_error(
        Code::Internal,
        "Changed on this gateway, but the change could not be stored.",
    )
}

/// `PUT /admin/keys/{id}/models` `{"models": [...], "exclude_models": [...], "weight": n}`:
/// which models the key serves (`*` patterns) and its share of the turns.
async fn set_models(
    State(app): State<Ops>,
    Path(id): Path<String>,
    body: Result<Json<KeyModels>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let rules = match body.map(|Json(r)| r.checked()) {
        Ok(Ok(rules)) => rules,
        Ok(Err(problem)) => return admin_error(Code::InvalidArgument, &problem),
        Err(e) => return admin_error(Code::InvalidArgument, &e.body_text()),
    };
    declare(&app, &id, Some(rules)).await
}

/// `DELETE /admin/keys/{id}/models`: the key serves every model again, with weight 1.
async fn reset_models(State(app): State<Ops>, Path(id): Path<String>) -> Response {
    declare(&app, &id, None).await
}

async fn declare(app: &Ops, id: &str, rules: Option<KeyModels>) -> Response {
    match app.pool.declare_key_models(id, rules).await {
        Ok(true) => {
            tracing::info!(key = %id, "admin: model rules set");
            Json(view(app, id)).into_response()
        }
        Ok(false) => admin_error(Code::NotFound, "No key with that id is in the pool."),
        Err(e) => {
            tracing::error!(error = %e, "admin: could not store a change");
            admin_error(
                Code::Internal,
                "Changed on this gateway, but the change could not be stored.",
            )
        }
    }
}

async fn change(app: &Ops, id: &str, change: Change, what: &str) -> Response {
    if app.pool.index_of(id).is_none() {
        return admin_error(Code::NotFound, "No key with that id is in the pool.");
    }
    if let Err(e) = app.pool.apply(change).await {
        tracing::error!(error = %e, "admin: could not store a change");
        return admin_error(
            Code::Internal,
            "Changed on this gateway, but the change could not be stored.",
        );
    }
    tracing::info!(key = %id, "admin: {what}");
    Json(view(app, id)).into_response()
}
