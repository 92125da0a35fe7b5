//! OpenAI's error dialect, `{"error": {"message", "type", "param", "code"}}`, with OpenAI's
//! status codes: 400 `invalid_request_error`, 401 `invalid_api_key`, 404 `model_not_found`,
//! 413, 429 `rate_limit_exceeded`, 500 `server_error`, 502/503/504. An exhausted pool is a 503
//! with `Retry-After` (the pool rests, the client may come back), as on the other surfaces.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::dispatch::{no_key_message, Cause, DispatchError};
use crate::models::Unresolved;
use crate::surfaces::{with_retry_after, Dialect};

/// An OpenAI-shaped error response.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiError {
    pub status: StatusCode,
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`, …
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    pub retry_after: Option<Duration>,
    /// Gemini's answer was unusable (`MALFORMED_FUNCTION_CALL`…): another key may do better.
    pub retryable: bool,
}

impl OpenAiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> OpenAiError {
        OpenAiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
            retryable: false,
        }
    }

    /// 400: the request is wrong (`param` names the field, when known).
    pub fn invalid(message: impl Into<String>) -> OpenAiError {
        OpenAiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 about one field.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> OpenAiError {
        OpenAiError {
            param: Some(param.to_string()),
            ..OpenAiError::invalid(message)
        }
    }

    /// 404: no such model.
    pub fn model_not_found(model: &str) -> OpenAiError {
        OpenAiError {
            code: Some("model_not_found"),
            param: Some("model".into()),
            ..OpenAiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("The model `{model}` does not exist or you do not have access to it."),
            )
        }
    }

    /// 500/502: what Gemini sent could not be used.
    pub fn server(status: StatusCode, message: impl Into<String>) -> OpenAiError {
        OpenAiError::new(status, "server_error", message)
    }

    /// The error object alone, as a stream's `error` payload carries it.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let body = self.body();
        with_retry_after(
            (self.status, axum::Json(body)).into_response(),
            self.retry_after,
        )
    }
}

impl Dialect for OpenAiError {
    /// OpenAI's own answer to an unknown model: 404 `model_not_found`, naming the closest
    /// live models.
    fn unknown_model(why: &Unresolved) -> Self {
        let (name, closest) = match why {
            Unresolved::Invalid(name) => (name, &[][..]),
            Unresolved::Unknown { name, closest } => (name, closest.as_slice()),
        };
        let mut e = OpenAiError::model_not_found(name);
        if !closest.is_empty() {
            e.message.push_str(&format!(
                " The closest live models: {}.",
                closest.join(", ")
            ));
        }
        e
    }

    fn unauthenticated(message: &str) -> Self {
        OpenAiError {
            code: Some("invalid_api_key"),
            ..OpenAiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
        }
    }

    fn too_large(max_body_bytes: usize) -> Self {
        OpenAiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("Request body is too large: the limit is {max_body_bytes} bytes."),
        )
    }

    fn unreadable_body(detail: &str) -> Self {
        OpenAiError::invalid(format!("The request body could not be read: {detail}"))
    }

    /// No key: 503 with `Retry-After`. Gemini's own error: its status with OpenAI's type for it
    /// (a 400 stays a 400 the client can fix; key problems are the gateway's, a 500). No answer:
    /// 504 or 502.
    fn from_dispatch(model: &str, e: DispatchError) -> Self {
        match e.cause {
            Cause::NoKeyAvailable { retry_after, why } => OpenAiError {
                code: Some("rate_limit_exceeded"),
                retry_after,
                ..OpenAiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "rate_limit_error",
                    no_key_message(model, retry_after, &why),
                )
            },
            Cause::ClientRefused {
                message,
                retry_after,
            } => {
                let (kind, code) = if e.status == StatusCode::FORBIDDEN {
                    ("permission_error", "model_not_allowed")
                } else {
                    ("rate_limit_error", "rate_limit_exceeded")
                };
                OpenAiError {
                    code: Some(code),
                    retry_after,
                    ..OpenAiError::new(e.status, kind, message)
                }
            }
            Cause::Upstream { rpc, body } => {
                let message = match rpc {
                    Some(r) if !r.message.is_empty() => r.message,
                    _ => String::from_utf8_lossy(&body).chars().take(500).collect(),
                };
                let message = format!("Gemini: {message}");
                match e.status.as_u16() {
                    400 | 413 | 422 => OpenAiError::new(e.status, "invalid_request_error", message),
                    404 => OpenAiError {
                        code: Some("model_not_found"),
                        ..OpenAiError::new(e.status, "invalid_request_error", message)
                    },
                    429 => OpenAiError {
                        code: Some("rate_limit_exceeded"),
                        ..OpenAiError::new(e.status, "rate_limit_error", message)
                    },
                    401 | 403 => OpenAiError::server(StatusCode::INTERNAL_SERVER_ERROR, message),
                    _ => OpenAiError::server(e.status, message),
                }
            }
            Cause::NoAnswer(failure) => OpenAiError::server(
                e.status,
                if failure.timed_out() {
                    format!("Gemini did not answer in time: {failure}")
                } else {
                    format!("Gemini could not be reached: {failure}")
                },
            ),
        }
    }
}
