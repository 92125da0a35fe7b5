//! Google's error dialect, `{"error": {"code", "message", "status"}}`: the shape of every error
//! the native surface answers, and of the gateway's own endpoints (status, admin) — the seed's.
//! Built by one constructor from a canonical [`Code`]; Gemini's own error bodies are relayed as
//! they came (already redacted by dispatch).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::dispatch::{no_key_message, Cause, DispatchError};
use crate::models::Unresolved;
use crate::surfaces::unknown_model_message;
use crate::surfaces::{with_retry_after, Dialect};
pub use crate::upstream::status::Code;

/// An error in Google's shape.
#[derive(Debug, Clone)]
pub enum GoogleError {
    /// One the gateway writes.
    Own {
        http: StatusCode,
        code: Code,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Gemini's own error answer, passed on with its status.
    Relayed { status: StatusCode, body: Bytes },
}

impl GoogleError {
    /// An error with `code`'s HTTP status.
    pub fn new(code: Code, message: impl Into<String>) -> GoogleError {
        GoogleError::Own {
            http: code.http_status(),
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error under another HTTP status (Google pairs `INVALID_ARGUMENT` with 413 for an
    /// oversized payload, for instance).
    pub fn with_http(mut self, status: StatusCode) -> GoogleError {
        if let GoogleError::Own { http, .. } = &mut self {
            *http = status;
        }
        self
    }

    fn with_retry_after(mut self, after: Option<Duration>) -> GoogleError {
        if let GoogleError::Own { retry_after, .. } = &mut self {
            *retry_after = after;
        }
        self
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        match self {
            GoogleError::Own {
                http,
                code,
                message,
                retry_after,
            } => {
                let body = json!({"error": {"code": http.as_u16(), "message": message, "status": code.as_str()}});
                with_retry_after((http, axum::Json(body)).into_response(), retry_after)
            }
            GoogleError::Relayed { status, body } => {
                let mut resp = Response::new(Body::from(body));
                *resp.status_mut() = status;
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=UTF-8"),
                );
                resp
            }
        }
    }
}

impl Dialect for GoogleError {
    fn unauthenticated(message: &str) -> Self {
        GoogleError::new(Code::Unauthenticated, message)
    }

    fn unknown_model(why: &Unresolved) -> Self {
        let code = match why {
            Unresolved::Invalid(_) => Code::InvalidArgument,
            Unresolved::Unknown { .. } => Code::NotFound,
        };
        GoogleError::new(code, unknown_model_message(why))
    }

    fn too_large(max_body_bytes: usize) -> Self {
        GoogleError::new(
            Code::InvalidArgument,
            format!("Request payload size exceeds the limit: {max_body_bytes} bytes."),
        )
        .with_http(StatusCode::PAYLOAD_TOO_LARGE)
    }

    fn unreadable_body(detail: &str) -> Self {
        GoogleError::new(
            Code::InvalidArgument,
            format!("The request body could not be read: {detail}"),
        )
    }

    fn from_dispatch(model: &str, e: DispatchError) -> Self {
        match e.cause {
            Cause::NoKeyAvailable { retry_after, why } => {
                GoogleError::new(Code::Unavailable, no_key_message(model, retry_after, &why))
                    .with_retry_after(retry_after)
            }
            Cause::ClientRefused {
                message,
                retry_after,
            } => {
                let code = if e.status == StatusCode::FORBIDDEN {
                    Code::PermissionDenied
                } else {
                    Code::ResourceExhausted
                };
                GoogleError::new(code, message).with_retry_after(retry_after)
            }
            Cause::Upstream { body, .. } => GoogleError::Relayed {
                status: e.status,
                body,
            },
            Cause::NoAnswer(failure) if failure.timed_out() => GoogleError::new(
                Code::DeadlineExceeded,
                format!("The Gemini API did not answer in time: {failure}"),
            ),
            Cause::NoAnswer(failure) => GoogleError::new(
                Code::Unavailable,
                format!("The Gemini API could not be reached: {failure}"),
            )
            .with_http(StatusCode::BAD_GATEWAY),
        }
    }
}
