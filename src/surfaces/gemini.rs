//! The native Gemini API (`/v1beta/...` and `/v1/...`), so Google's SDKs work unchanged. Bodies
//! pass through byte for byte; only the credential changes: the client's `x-goog-api-key` or
//! `?key=` is dropped and a pool key is used. Streams are forwarded chunk by chunk.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use serde_json::json;

use crate::dispatch::DispatchError;
use crate::server::AppState;
use crate::upstream::client::UpstreamRequest;

/// Routes for one API version prefix (`v1beta` or `v1`).
pub fn routes(version: &'static str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("/{version}/models"),
            get(move |state, uri| list_models(state, uri, version)),
        )
        .route(
            &format!("/{version}/models/{{name}}"),
            get(move |state, uri, name| get_model(state, uri, name, version))
                .post(move |state, uri, name, body| model_call(state, uri, name, body, version)),
        )
}

async fn list_models(State(app): State<AppState>, uri: Uri, version: &'static str) -> Response {
    let path = format!("/{version}/models{}", forwarded_query(&uri));
    unary(
        &app,
        "",
        UpstreamRequest {
            method: Method::GET,
            path_and_query: path,
            body: None,
        },
    )
    .await
}

async fn get_model(
    State(app): State<AppState>,
    uri: Uri,
    Path(name): Path<String>,
    version: &'static str,
) -> Response {
    if name.contains(':') {
        return google_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Use POST for model methods.",
            "INVALID_ARGUMENT",
        );
    }
    let path = format!("/{version}/models/{name}{}", forwarded_query(&uri));
    unary(
        &app,
        &name,
        UpstreamRequest {
            method: Method::GET,
            path_and_query: path,
            body: None,
        },
    )
    .await
}

async fn model_call(
    State(app): State<AppState>,
    uri: Uri,
    Path(name): Path<String>,
    body: Bytes,
    version: &'static str,
) -> Response {
    let Some((model, action)) = name.split_once(':') else {
        return google_error(
            StatusCode::NOT_FOUND,
            &format!("Unknown method for models/{name}: expected models/{{model}}:{{method}}."),
            "NOT_FOUND",
        );
    };
    if model.is_empty() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "A model name is required.",
            "INVALID_ARGUMENT",
        );
    }
    let req = UpstreamRequest {
        method: Method::POST,
        path_and_query: format!("/{version}/models/{name}{}", forwarded_query(&uri)),
        body: Some(body),
    };
    if action == "streamGenerateContent" {
        stream(&app, model, req).await
    } else {
        unary(&app, model, req).await
    }
}

async fn unary(app: &AppState, model: &str, req: UpstreamRequest) -> Response {
    match app.dispatcher.unary(model, &req, None).await {
        Ok(answer) => {
            tracing::debug!(model, key = %answer.lease.key.id(), "served");
            passthrough(
                answer.status,
                answer.content_type.as_deref(),
                Body::from(answer.body),
            )
        }
        Err(e) => dispatch_error(model, e),
    }
}

async fn stream(app: &AppState, model: &str, req: UpstreamRequest) -> Response {
    match app.dispatcher.stream(model, &req, None, None).await {
        Ok(s) => {
            tracing::debug!(model, key = %s.lease.key.id(), "stream committed");
            // An Err item makes hyper abort the connection without the terminating chunk, so
            // the client sees a broken stream rather than a clean (truncated) end.
            let body = futures_util::stream::once(async move { Ok(s.first) })
                .chain(s.rest.map(|r| r.map_err(std::io::Error::other)));
            passthrough(s.status, s.content_type.as_deref(), Body::from_stream(body))
        }
        Err(e) => dispatch_error(model, e),
    }
}

fn passthrough(status: u16, content_type: Option<&str>, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let ct = content_type.unwrap_or("application/json; charset=UTF-8");
    if let Ok(v) = HeaderValue::from_str(ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// The client's query without its credential (`key=`), which must never travel upstream.
fn forwarded_query(uri: &Uri) -> String {
    let Some(q) = uri.query() else {
        return String::new();
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|p| !p.is_empty() && *p != "key" && !p.starts_with("key="))
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    }
}

/// Maps a dispatch failure to Google's error shape.
pub fn dispatch_error(model: &str, e: DispatchError) -> Response {
    match e {
        DispatchError::NoKeyAvailable { retry_after } => {
            let mut message = format!("No Gemini API key is available for {model}: every key is rate-limited or disabled.");
            if let Some(d) = retry_after {
                message.push_str(&format!(" Retry in {}s.", retry_after_secs(d)));
            }
            let mut resp = google_error(StatusCode::SERVICE_UNAVAILABLE, &message, "UNAVAILABLE");
            if let Some(d) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
            }
            resp
        }
        DispatchError::Upstream { status, body, .. } => passthrough(
            status,
            Some("application/json; charset=UTF-8"),
            Body::from(body),
        ),
        DispatchError::Unreachable {
            timed_out: true,
            message,
        } => google_error(
            StatusCode::GATEWAY_TIMEOUT,
            &format!("The Gemini API did not answer in time: {message}"),
            "DEADLINE_EXCEEDED",
        ),
        DispatchError::Unreachable {
            timed_out: false,
            message,
        } => google_error(
            StatusCode::BAD_GATEWAY,
            &format!("The Gemini API could not be reached: {message}"),
            "UNAVAILABLE",
        ),
    }
}

/// Whole seconds, rounded up, at least 1.
pub fn retry_after_secs(d: std::time::Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

/// `{"error": {"code", "message", "status"}}`, Google's shape.
pub fn google_error(code: StatusCode, message: &str, status: &str) -> Response {
    let body = json!({"error": {"code": code.as_u16(), "message": message, "status": status}});
    (code, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_key_is_stripped_from_the_query() {
        let q = |s: &str| forwarded_query(&s.parse::<Uri>().unwrap());
        assert_eq!(q("/x?alt=sse&key=AIzaSECRET"), "?alt=sse");
        assert_eq!(q("/x?key=AIzaSECRET"), "");
        assert_eq!(q("/x?keyword=1&key"), "?keyword=1");
        assert_eq!(q("/x"), "");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(
            retry_after_secs(std::time::Duration::from_millis(41_200)),
            42
        );
        assert_eq!(retry_after_secs(std::time::Duration::ZERO), 1);
    }
}
