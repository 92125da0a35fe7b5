//! The native routes: `/{v1beta,v1alpha,v1}/models`, `…/models/{model}` and
//! `…/models/{model}:{method}`. A model call is checked (model name, method, body), its model
//! resolved (an alias or a retired name is served by its model; a name no model serves is a 404
//! naming the closest live ones), given to dispatch with the client's body untouched — unless
//! another model serves it, then the body is made acceptable to that one — under the API
//! version that serves the model, and Gemini's answer goes back as it came: bodies whole,
//! streams chunk by chunk. Listings come from the live catalog once it is read.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde_json::json;

use super::body_check::check_json_body;
use super::errors::{Code, GoogleError};
use super::query::{forwarded_query, gateway_page};
use super::stored;
use crate::dispatch::{DispatchError, Route};
use crate::models::{native, Resolved, Rules};
use crate::resources::Kind;
use crate::surfaces::shared::serving::{mark, FallbackAllowed, Fallbacks};
use crate::surfaces::{read_body, Context, Dialect, Tallied};
use crate::upstream::UpstreamRequest;

/// Routes for one API version prefix (`v1beta`, `v1alpha` or `v1`). `GET /v1/models` and
/// `GET /v1/models/{model}` are the shared catalog's (every client kind asks there); the
/// catalog answers Google's clients with [`list_models`] and [`get_model`].
pub fn routes(version: &'static str) -> Router<Context> {
    let call = move |state, uri, headers, tally, name, body| {
        model_call(state, uri, headers, tally, name, body, version)
    };
    if version == "v1" {
        return Router::new().route(&format!("/{version}/models/{{name}}"), post(call));
    }
    Router::new()
        .route(
            &format!("/{version}/models"),
            get(move |State(ctx): State<Context>, uri: Uri| async move {
                list_models(&ctx, &uri, version).await
            }),
        )
        .route(
            &format!("/{version}/models/{{name}}"),
            get(
                move |State(ctx): State<Context>,
                      uri: Uri,
                      name: Result<Path<String>, PathRejection>| async move {
                    match name {
                        Ok(Path(n)) => get_model(&ctx, &uri, &n, version).await,
                        Err(e) => path_error(&e),
                    }
                },
            )
            .post(call),
        )
}

/// Largest page of a listing the gateway serves from the catalog (Google's own maximum).
const MAX_PAGE: usize = 1000;
/// A listing's page when none is asked for (Google's default).
const DEFAULT_PAGE: usize = 50;

/// Gemini's model list: the live catalog's models served under `version`, paged as Google
/// pages them (`pageSize`, `pageToken`); before the catalog is read, Gemini's own answer.
pub async fn list_models(ctx: &Context, uri: &Uri, version: &'static str) -> Response {
    let Some(catalog) = ctx.models.catalog() else {
        let path = format!("/{version}/models{}", forwarded_query(uri));
        let catalog = Route::catalog();
        return unary(ctx, catalog.clone(), get_request(path), None)
            .await
            .unwrap_or_else(|e| GoogleError::from_dispatch(catalog.name(), e).into_response());
    };
    let Some((start, size)) = gateway_page(uri, DEFAULT_PAGE, MAX_PAGE) else {
        return GoogleError::new(Code::InvalidArgument, "Invalid page token.").into_response();
    };
    let listed: Vec<&serde_json::Value> =
        catalog.listed_under(version).map(|e| &e.resource).collect();
    let page: Vec<&serde_json::Value> = listed.iter().skip(start).take(size).copied().collect();
    let mut body = json!({ "models": page });
    if start + size < listed.len() {
        body["nextPageToken"] = json!(format!("gw-{}", start + size));
    }
    axum::Json(body).into_response()
}

/// One Gemini model, as Gemini describes it: the catalog's (an alias's model for an alias),
/// or — before the catalog is read — Gemini's own answer.
pub async fn get_model(ctx: &Context, uri: &Uri, name: &str, version: &'static str) -> Response {
    if name.contains(':') {
        return GoogleError::new(Code::InvalidArgument, "Use POST for model methods.")
            .with_http(StatusCode::METHOD_NOT_ALLOWED)
            .into_response();
    }
    let resolved = match ctx.models.resolve_fresh(name, |_| None).await {
        Ok(r) => r,
        Err(why) => return GoogleError::unknown_model(&why).into_response(),
    };
    let resp = match ctx
        .models
        .catalog()
        .as_deref()
        .and_then(|c| c.get(&resolved.model))
    {
        Some(entry) => axum::Json(entry.resource.clone()).into_response(),
        None => {
            let path = format!(
                "/{version}/models/{}{}",
                resolved.model,
                forwarded_query(uri)
            );
            unary(ctx, Route::model(&resolved.model), get_request(path), None)
                .await
                .unwrap_or_else(|e| GoogleError::from_dispatch(&resolved.model, e).into_response())
        }
    };
    mark(resp, &resolved, name, ctx.dispatcher.telemetry())
}

fn get_request(path_and_query: String) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::GET,
        path_and_query,
        body: None,
        extra: None,
    }
}

async fn model_call(
    State(ctx): State<Context>,
    uri: Uri,
    FallbackAllowed(allow_fallback): FallbackAllowed,
    Tallied(tally): Tallied,
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
    version: &'static str,
) -> Response {
    let name = match name {
        Ok(Path(n)) => n,
        Err(e) => return path_error(&e),
    };
    let body = match read_body::<GoogleError>(body, ctx.config.max_body_bytes) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let (model, action) = match check_model_call(&name) {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_json_body(&body) {
        return GoogleError::new(Code::InvalidArgument, e.to_string()).into_response();
    }
    let resolved = match ctx.models.resolve_fresh(model, |_| None).await {
        Ok(r) => r,
        Err(why) => return GoogleError::unknown_model(&why).into_response(),
    };
    let query = forwarded_query(&uri);
    // A body naming stored resources goes to the project that owns them (only once there are
    // any: the scan costs nothing until then).
    let placed = if ctx.owners.in_use() {
        match stored::place(&ctx, &crate::resources::names::in_body(&body)).await {
            Ok(p) => p,
            Err(resp) => return *resp,
        }
    } else {
        None
    };
    let makes = (action == "batchGenerateContent").then_some(Kind::Batch);
    let mut chain = Fallbacks::new(&ctx.models, resolved, allow_fallback);
    let result = loop {
        let serving = chain.model().clone();
        let req = upstream_call(&ctx, &serving, model, action, &query, &body, version);
        let route = Route::model(&serving.model)
            .with_tally(tally.clone())
            .queued(chain.is_last())
            .placed(placed.as_ref().map(|p| p.placement.clone()));
        let result = if action == "streamGenerateContent" {
            stream(&ctx, route, req).await
        } else {
            unary(&ctx, route, req, makes).await
        };
        if !chain.next_after(&result) {
            break result;
        }
    };
    let served = chain.served();
    let resp = result.unwrap_or_else(|e| stored::refused(&ctx, placed.as_ref(), &served.model, e));
    mark(resp, &served, model, ctx.dispatcher.telemetry())
}

/// The upstream request for `action` on the model that serves: under the client's API version
/// when that serves the model, else the one that does; the client's body, made acceptable to
/// the serving model when it is not the one `named`.
fn upstream_call(
    ctx: &Context,
    serving: &Resolved,
    named: &str,
    action: &str,
    query: &str,
    body: &Bytes,
    version: &'static str,
) -> UpstreamRequest {
    let model = &*serving.model;
    let version = if ctx.models.served_under(version, model) {
        version
    } else {
        ctx.models.api_version(model)
    };
    // The client's body is the client's — unless another model serves it, or the model is known
    // to refuse what it holds (Gemini 4 answers 400 to a thinking budget Gemini CLI may send).
    let rules_name = ctx.dispatcher.served_models().rules_name(model);
    let body = if model != named || Rules::of(&rules_name).may_refuse(body) {
        native::conform(body, &rules_name)
    } else {
        body.clone()
    };
    UpstreamRequest {
        method: Method::POST,
        path_and_query: format!("/{version}/models/{model}:{action}{query}"),
        body: Some(body),
        extra: None,
    }
}

/// `model:method` split and checked: the model a plain id, the method letters and digits.
fn check_model_call(name: &str) -> Result<(&str, &str), GoogleError> {
    let Some((model, action)) = name.split_once(':') else {
        return Err(GoogleError::new(
            Code::NotFound,
            format!(
                "Unknown method for models/{}: expected models/{{model}}:{{method}}.",
                clip(name)
            ),
        ));
    };
    if model.is_empty() {
        return Err(GoogleError::new(
            Code::InvalidArgument,
            "A model name is required.",
        ));
    }
    check_model_name(model)?;
    if action.is_empty() || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(GoogleError::new(
            Code::NotFound,
            format!(
                "Unknown method for models/{}: the method name must be letters and digits only.",
                clip(name)
            ),
        ));
    }
    Ok((model, action))
}

/// A whole answer; what it `makes` (a batch) is written down as the answering key's.
async fn unary(
    ctx: &Context,
    route: Route,
    req: UpstreamRequest,
    makes: Option<Kind>,
) -> Result<Response, DispatchError> {
    let answer = ctx.dispatcher.unary(&route, &req).await?;
    tracing::debug!(model = route.name(), key = %answer.lease.key.id(), "served");
    if let Some(kind) = makes {
        stored::learn_from(ctx, &answer, kind).await;
    }
    Ok(stored::passthrough(
        answer.status,
        answer.content_type,
        Vec::new(),
        Body::from(answer.body),
    ))
}

async fn stream(
    ctx: &Context,
    route: Route,
    req: UpstreamRequest,
) -> Result<Response, DispatchError> {
    let s = ctx.dispatcher.stream(&route, &req).await?;
    tracing::debug!(model = route.name(), key = %s.lease.key.id(), "stream committed");
    // An Err item makes hyper abort the connection without the terminating chunk, so the
    // client sees a broken stream rather than a clean (truncated) end.
    let body = futures_util::stream::once(async move { Ok(s.first) })
        .chain(s.rest.map(|r| r.map_err(std::io::Error::other)));
    Ok(stored::passthrough(
        s.status,
        s.content_type,
        Vec::new(),
        Body::from_stream(body),
    ))
}

/// A path segment axum could not decode (e.g. `%FF`, not UTF-8).
pub fn path_error(e: &PathRejection) -> Response {
    GoogleError::new(
        Code::InvalidArgument,
        format!(
            "Invalid model name in the URL path: {}",
            clip(&e.body_text())
        ),
    )
    .into_response()
}

/// A model id is letters, digits, `.`, `-` and `_` (Google's ids: `gemini-3.8-flash`,
/// `gemini-2.5-flash-preview-05-20`, …). Anything else could re-target the upstream URL once
/// pasted into it (the path segment arrives percent-decoded: `..%2F` is `../`).
fn check_model_name(model: &str) -> Result<(), GoogleError> {
    if crate::models::names::is_plain(model) {
        Ok(())
    } else {
        Err(GoogleError::new(
            Code::InvalidArgument,
            format!(
                "Invalid model name \"{}\": a model name contains only letters, digits, '.', '-' and '_'.",
                clip(model)
            ),
        ))
    }
}

/// At most the first 100 characters of a client-supplied name, for error messages.
pub(super) fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(100).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_cannot_retarget_the_upstream_url() {
        for ok in [
            "gemini-2.5-flash",
            "gemini-2.5-flash-preview-05-20",
            "text_embedding.004",
        ] {
            assert!(check_model_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "gemini/../../files",
            "a?b",
            "a b",
            "a#b",
            "..",
            ".",
            "a%2F",
            &"x".repeat(300),
        ] {
            let resp = check_model_name(bad).unwrap_err().into_response();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
