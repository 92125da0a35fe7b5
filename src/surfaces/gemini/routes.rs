//! The native routes: `/{v1beta,v1}/models`, `…/models/{model}` and
//! `…/models/{model}:{method}`. A model call is checked (model name, method, body), given to
//! dispatch with the client's body untouched, and Gemini's answer goes back as it came: bodies
//! whole, streams chunk by chunk.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;

use super::body_check::check_json_body;
use super::errors::{Code, GoogleError};
use super::query::forwarded_query;
use crate::dispatch::Route;
use crate::surfaces::{read_body, Context, Dialect, Tallied};
use crate::upstream::UpstreamRequest;

/// Routes for one API version prefix (`v1beta` or `v1`). `GET /v1/models` and
/// `GET /v1/models/{model}` are the shared catalog's (every client kind asks there); the
/// catalog answers Google's clients with [`list_models`] and [`get_model`].
pub fn routes(version: &'static str) -> Router<Context> {
    let call =
        move |state, uri, tally, name, body| model_call(state, uri, tally, name, body, version);
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

/// Gemini's model list, as Gemini sends it.
pub async fn list_models(ctx: &Context, uri: &Uri, version: &'static str) -> Response {
    let path = format!("/{version}/models{}", forwarded_query(uri));
    unary(ctx, Route::catalog(), get_request(path)).await
}

/// One Gemini model, as Gemini sends it.
pub async fn get_model(ctx: &Context, uri: &Uri, name: &str, version: &'static str) -> Response {
    if name.contains(':') {
        return GoogleError::new(Code::InvalidArgument, "Use POST for model methods.")
            .with_http(StatusCode::METHOD_NOT_ALLOWED)
            .into_response();
    }
    if let Err(e) = check_model_name(name) {
        return e.into_response();
    }
    let path = format!("/{version}/models/{name}{}", forwarded_query(uri));
    unary(ctx, Route::model(name), get_request(path)).await
}

fn get_request(path_and_query: String) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::GET,
        path_and_query,
        body: None,
    }
}

async fn model_call(
    State(ctx): State<Context>,
    uri: Uri,
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
    let req = UpstreamRequest {
        method: Method::POST,
        path_and_query: format!("/{version}/models/{name}{}", forwarded_query(&uri)),
        body: Some(body),
    };
    let route = Route::model(model).with_tally(tally);
    if action == "streamGenerateContent" {
        stream(&ctx, route, req).await
    } else {
        unary(&ctx, route, req).await
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

async fn unary(ctx: &Context, route: Route, req: UpstreamRequest) -> Response {
    match ctx.dispatcher.unary(&route, &req).await {
        Ok(answer) => {
            tracing::debug!(model = route.name(), key = %answer.lease.key.id(), "served");
            passthrough(answer.status, answer.content_type, Body::from(answer.body))
        }
        Err(e) => GoogleError::from_dispatch(route.name(), e).into_response(),
    }
}

async fn stream(ctx: &Context, route: Route, req: UpstreamRequest) -> Response {
    match ctx.dispatcher.stream(&route, &req).await {
        Ok(s) => {
            tracing::debug!(model = route.name(), key = %s.lease.key.id(), "stream committed");
            // An Err item makes hyper abort the connection without the terminating chunk, so
            // the client sees a broken stream rather than a clean (truncated) end.
            let body = futures_util::stream::once(async move { Ok(s.first) })
                .chain(s.rest.map(|r| r.map_err(std::io::Error::other)));
            passthrough(s.status, s.content_type, Body::from_stream(body))
        }
        Err(e) => GoogleError::from_dispatch(route.name(), e).into_response(),
    }
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

/// Longest model name accepted (Google's ids are far shorter).
const MAX_MODEL_NAME: usize = 256;

/// A model id is letters, digits, `.`, `-` and `_` (Google's ids: `gemini-2.5-flash`,
/// `gemini-2.5-flash-preview-05-20`, …). Anything else could re-target the upstream URL once
/// pasted into it (the path segment arrives percent-decoded: `..%2F` is `../`).
fn check_model_name(model: &str) -> Result<(), GoogleError> {
    let ok = !model.is_empty()
        && model.len() <= MAX_MODEL_NAME
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !model.bytes().all(|b| b == b'.');
    if ok {
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
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(100).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Gemini's answer as it came, with its content type.
fn passthrough(status: StatusCode, content_type: Option<HeaderValue>, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let ct =
        content_type.unwrap_or_else(|| HeaderValue::from_static("application/json; charset=UTF-8"));
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
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
