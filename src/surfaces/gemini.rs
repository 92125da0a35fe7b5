//! The native Gemini API (`/v1beta/...` and `/v1/...`), so Google's SDKs work unchanged. Bodies
//! pass through byte for byte; only the credential changes: the client's `x-goog-api-key` or
//! `?key=` is dropped and a pool key is used. Streams are forwarded chunk by chunk.
//!
//! Hostile input is answered here, in Google's error shape, before any key is spent:
//! * a body over `MAX_BODY_BYTES` → 413 `INVALID_ARGUMENT` "Request payload size exceeds the
//!   limit: N bytes." (Google's own wording and status for an oversized payload; it has no
//!   dedicated canonical code, and `FAILED_PRECONDITION` is for system state, not the request);
//! * a model name or method that is not a plain identifier (`..`, `/`, `?`, `%`, spaces, …: the
//!   path is percent-decoded, so these could otherwise re-target the upstream URL) → 400;
//! * a POST body that is not one valid UTF-8 JSON object nested at most [`MAX_JSON_DEPTH`] deep
//!   → 400 `INVALID_ARGUMENT` ("Invalid JSON payload received. …"). One borrowing parse, no copy
//!   of the body (see [`check_json_body`]).

use std::cell::Cell;
use std::fmt;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
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
    name: Result<Path<String>, PathRejection>,
    version: &'static str,
) -> Response {
    let name = match name {
        Ok(Path(n)) => n,
        Err(e) => return path_error(&e),
    };
    if name.contains(':') {
        return google_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Use POST for model methods.",
            "INVALID_ARGUMENT",
        );
    }
    if let Some(resp) = bad_model_name(&name) {
        return resp;
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
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
    version: &'static str,
) -> Response {
    let name = match name {
        Ok(Path(n)) => n,
        Err(e) => return path_error(&e),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&e, app.config.max_body_bytes),
    };
    let Some((model, action)) = name.split_once(':') else {
        return google_error(
            StatusCode::NOT_FOUND,
            &format!(
                "Unknown method for models/{}: expected models/{{model}}:{{method}}.",
                clip(&name)
            ),
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
    if let Some(resp) = bad_model_name(model) {
        return resp;
    }
    if action.is_empty() || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return google_error(
            StatusCode::NOT_FOUND,
            &format!(
                "Unknown method for models/{}: the method name must be letters and digits only.",
                clip(&name)
            ),
            "NOT_FOUND",
        );
    }
    if let Err(e) = check_json_body(&body) {
        return google_error(StatusCode::BAD_REQUEST, &e.to_string(), "INVALID_ARGUMENT");
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

/// A path segment axum could not decode (e.g. `%FF`, not UTF-8).
fn path_error(e: &PathRejection) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        &format!(
            "Invalid model name in the URL path: {}",
            clip(&e.body_text())
        ),
        "INVALID_ARGUMENT",
    )
}

/// A body the extractor refused: too large (413, Google's wording) or unreadable (400).
fn body_error(e: &BytesRejection, max_body_bytes: usize) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let mut resp = google_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request payload size exceeds the limit: {max_body_bytes} bytes."),
            "INVALID_ARGUMENT",
        );
        // The rest of the body was never read: the connection cannot carry another request.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    } else {
        google_error(
            StatusCode::BAD_REQUEST,
            &format!("The request body could not be read: {}", e.body_text()),
            "INVALID_ARGUMENT",
        )
    }
}

/// Longest model name accepted (Google's ids are far shorter).
const MAX_MODEL_NAME: usize = 256;

/// A model id is letters, digits, `.`, `-` and `_` (Google's ids: `gemini-2.5-flash`,
/// `gemini-2.5-flash-preview-05-20`, …). Anything else could re-target the upstream URL once
/// pasted into it (the path segment arrives percent-decoded: `..%2F` is `../`). The 400 for one
/// that is not, or `None`.
fn bad_model_name(model: &str) -> Option<Response> {
    let ok = !model.is_empty()
        && model.len() <= MAX_MODEL_NAME
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !model.bytes().all(|b| b == b'.');
    if ok {
        None
    } else {
        Some(google_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Invalid model name \"{}\": a model name contains only letters, digits, '.', '-' and '_'.",
                clip(model)
            ),
            "INVALID_ARGUMENT",
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

/// Deepest nesting of objects and arrays a native request body may have. serde_json's own
/// recursion limit is 128; Google's request messages are nowhere near 64 deep.
pub const MAX_JSON_DEPTH: usize = 64;

/// Why a native request body was refused before dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyCheckError {
    /// Empty or whitespace-only body.
    Empty,
    /// Valid JSON whose root is not an object.
    NotAnObject,
    /// Objects/arrays nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
    /// Not JSON (syntax, invalid UTF-8 in a string, bad escape, trailing data, …).
    Syntax(String),
}

impl fmt::Display for BodyCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str(
                "Invalid JSON payload received. The request body is empty: expected a JSON object.",
            ),
            Self::NotAnObject => f.write_str(
                "Invalid JSON payload received. Unknown name \"\": Root element must be a message.",
            ),
            Self::TooDeep => write!(
                f,
                "Invalid JSON payload received. Nesting is too deep: objects and arrays may be \
                 nested at most {MAX_JSON_DEPTH} levels."
            ),
            Self::Syntax(detail) => write!(f, "Invalid JSON payload received. {detail}."),
        }
    }
}

/// Cheap pre-dispatch check of a native body: one borrowing parse that validates the syntax,
/// UTF-8 (strings are parsed, so invalid UTF-8 and lone-surrogate escapes are caught — which
/// `IgnoredAny` alone would skip over), that the root is an object, and the nesting depth. No
/// value is built and the body is not copied; strings without escapes are only borrowed.
pub fn check_json_body(body: &[u8]) -> Result<(), BodyCheckError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(BodyCheckError::Empty),
        Some(b'{') => {}
        Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
            // Valid JSON that is not an object still has to be told apart from garbage
            // (`IgnoredAny` skips values iteratively, so depth does not matter here).
            return match serde_json::from_slice::<de::IgnoredAny>(body) {
                Ok(_) => Err(BodyCheckError::NotAnObject),
                Err(e) => Err(BodyCheckError::Syntax(e.to_string())),
            };
        }
        Some(_) => {}
    }
    let too_deep = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Node {
        depth: 0,
        too_deep: &too_deep,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match parsed {
        Ok(()) => Ok(()),
        Err(_) if too_deep.get() => Err(BodyCheckError::TooDeep),
        Err(e) if is_depth(&e) => Err(BodyCheckError::TooDeep),
        Err(e) => Err(BodyCheckError::Syntax(e.to_string())),
    }
}

fn is_depth(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("recursion limit exceeded")
}

/// One JSON value at `depth` (the root object is depth 1 once entered).
#[derive(Clone, Copy)]
struct Node<'a> {
    depth: usize,
    too_deep: &'a Cell<bool>,
}

impl Node<'_> {
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_JSON_DEPTH {
            self.too_deep.set(true);
            return Err(E::custom("nesting too deep"));
        }
        Ok(Node {
            depth: self.depth + 1,
            too_deep: self.too_deep,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
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

/// Query parameters that may travel upstream. Everything else is dropped — the client's `key`
/// (however it is spelled or percent-encoded) and credentials such as `access_token` above all.
const FORWARDED_PARAMS: &[&str] = &["alt", "pageSize", "pageToken", "prettyPrint"];

/// The client's query reduced to [`FORWARDED_PARAMS`], names compared after percent-decoding.
fn forwarded_query(uri: &Uri) -> String {
    let Some(q) = uri.query() else {
        return String::new();
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            let decoded = crate::server::auth::percent_decode(name);
            FORWARDED_PARAMS.contains(&decoded.as_str()) && decoded == name
        })
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
        assert_eq!(q("/x?keyword=1&key"), "");
        assert_eq!(q("/x"), "");
        assert_eq!(
            q("/x?%6Bey=SECRET&access_token=t&alt=sse&pageSize=5"),
            "?alt=sse&pageSize=5"
        );
        assert_eq!(q("/x?%61lt=sse&pageToken=abc"), "?pageToken=abc");
    }

    #[test]
    fn native_bodies_must_be_one_utf8_json_object_of_bounded_depth() {
        assert_eq!(
            check_json_body(br#"{"contents": [{"parts": [{"text": "hi"}]}]}"#),
            Ok(())
        );
        assert_eq!(check_json_body(b" {} \r\n"), Ok(()));
        assert_eq!(check_json_body(b""), Err(BodyCheckError::Empty));
        assert_eq!(check_json_body(b" \n "), Err(BodyCheckError::Empty));
        for not_object in [&b"[]"[..], b"\"x\"", b"12", b"null", b"true", b"[[[]]]"] {
            assert_eq!(
                check_json_body(not_object),
                Err(BodyCheckError::NotAnObject),
                "{}",
                String::from_utf8_lossy(not_object)
            );
        }
        let nested = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
        assert_eq!(check_json_body(nested(64).as_bytes()), Ok(()));
        assert_eq!(
            check_json_body(nested(65).as_bytes()),
            Err(BodyCheckError::TooDeep)
        );
        assert_eq!(
            check_json_body(nested(200).as_bytes()),
            Err(BodyCheckError::TooDeep)
        );
        let deep_array = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            check_json_body(deep_array.as_bytes()),
            Err(BodyCheckError::NotAnObject)
        );
        for garbage in [
            &b"{"[..],
            b"{\"a\": 1} trailing",
            b"{\"a\": \"\xff\xfe\"}",
            b"{\"\xc3\": 1}",
            b"{\"a\": \"\\ud800\"}",
            b"{\"a\": \"\\x\"}",
            b"{\"a\": 1e999}",
            b"{'a': 1}",
            b"\xef\xbb\xbf{}",
            b"\x00",
        ] {
            let got = check_json_body(garbage);
            assert!(
                matches!(got, Err(BodyCheckError::Syntax(_))),
                "{}: {got:?}",
                String::from_utf8_lossy(garbage)
            );
        }
        let msg = check_json_body(b"{oops").unwrap_err().to_string();
        assert!(msg.starts_with("Invalid JSON payload received. "), "{msg}");
    }

    #[test]
    fn model_names_cannot_retarget_the_upstream_url() {
        for ok in [
            "gemini-2.5-flash",
            "gemini-2.5-flash-preview-05-20",
            "text_embedding.004",
        ] {
            assert!(bad_model_name(ok).is_none(), "{ok}");
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
            let resp = bad_model_name(bad).unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
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
