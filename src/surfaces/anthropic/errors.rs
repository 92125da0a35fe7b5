//! Anthropic-surface errors: [`AnthropicError`], what the pure translators fail with, and
//! [`ApiError`], the surface's error dialect as it goes over HTTP.
//!
//! Body shape: `{"type":"error","error":{"type":"invalid_request_error","message":"…"}}`; the
//! HTTP layer may add `request_id`. Status codes follow docs.claude.com/en/api/errors (400, 401,
//! 403, 404, 413, 429, 500, 504, 529).

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::dispatch::{no_key_message, Cause, DispatchError};
use crate::models::Unresolved;
use crate::surfaces::unknown_model_message;
use crate::surfaces::{with_retry_after, Dialect};

/// The Anthropic `error.type` values, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Api,
    Timeout,
    Overloaded,
}

impl ErrorType {
    /// The wire name (`invalid_request_error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimit => "rate_limit_error",
            Self::Api => "api_error",
            Self::Timeout => "timeout_error",
            Self::Overloaded => "overloaded_error",
        }
    }

    /// The HTTP status Anthropic uses for this type.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Authentication => 401,
            Self::Permission => 403,
            Self::NotFound => 404,
            Self::RequestTooLarge => 413,
            Self::RateLimit => 429,
            Self::Api => 500,
            Self::Timeout => 504,
            Self::Overloaded => 529,
        }
    }

    /// Type for an upstream failure reported inside an already started stream:
    /// `overloaded_error` for 429/503 (Claude Code retries those), `api_error` otherwise.
    pub fn for_midstream_status(upstream_status: u16) -> Self {
        match upstream_status {
            429 | 503 | 529 => Self::Overloaded,
            _ => Self::Api,
        }
    }
}

/// Errors produced by the Anthropic translation layer (and usable by the HTTP layer for its own
/// failures through [`AnthropicError::Other`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnthropicError {
    /// The client's request is invalid (400). Raised before any upstream call.
    #[error("{0}")]
    InvalidRequest(String),
    /// Gemini finished with `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`, … : the attempt
    /// produced no usable answer. Retryable upstream; if returned, a 500 `api_error`.
    #[error("Gemini could not complete the response ({reason}){}", detail_suffix(.detail))]
    MalformedResponse {
        reason: String,
        detail: Option<String>,
    },
    /// Gemini answered without any candidate and without a block reason (500, retryable).
    #[error("Gemini returned no candidates")]
    EmptyResponse,
    /// Any other failure, typed.
    #[error("{message}")]
    Other { kind: ErrorType, message: String },
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl AnthropicError {
    /// Shorthand for an `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    /// The Anthropic error type.
    pub fn kind(&self) -> ErrorType {
        match self {
            Self::InvalidRequest(_) => ErrorType::InvalidRequest,
            Self::MalformedResponse { .. } | Self::EmptyResponse => ErrorType::Api,
            Self::Other { kind, .. } => *kind,
        }
    }

    /// HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.kind().status()
    }

    /// True when another upstream attempt may succeed (the request itself is fine).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidRequest(_) => false,
            Self::MalformedResponse { .. } | Self::EmptyResponse => true,
            Self::Other { kind, .. } => matches!(
                kind,
                ErrorType::RateLimit | ErrorType::Api | ErrorType::Timeout | ErrorType::Overloaded
            ),
        }
    }

    /// The Anthropic error body.
    pub fn body(&self) -> Value {
        error_body(self.kind(), &self.to_string())
    }

    /// Map a Gemini HTTP error that is final (after any key failover) to the Anthropic error the
    /// client sees (spec §6.3). Key problems (400 `API_KEY_INVALID`, 401, 403) become a 500
    /// `api_error`: a 401 would make Claude Code ask the user to log in. Gemini's "input token
    /// count exceeds" is rewritten in Anthropic's words (`prompt is too long: N tokens > M
    /// maximum`) so clients trigger their compaction.
    pub fn from_upstream(status: u16, message: &str, key_problem: bool) -> Self {
        let kind = match status {
            _ if key_problem => ErrorType::Api,
            400 => ErrorType::InvalidRequest,
            401 | 403 => ErrorType::Api,
            404 => ErrorType::NotFound,
            413 => ErrorType::RequestTooLarge,
            429 => ErrorType::RateLimit,
            503 | 529 => ErrorType::Overloaded,
            504 => ErrorType::Timeout,
            _ => ErrorType::Api,
        };
        let message = match prompt_too_long(message) {
            Some((n, m)) if kind == ErrorType::InvalidRequest => {
                format!("prompt is too long: {n} tokens > {m} maximum")
            }
            _ => format!("Gemini: {message}"),
        };
        match kind {
            ErrorType::InvalidRequest => Self::InvalidRequest(message),
            kind => Self::Other { kind, message },
        }
    }
}

/// `(N, M)` from "The input token count (N) exceeds the maximum number of tokens allowed (M)."
fn prompt_too_long(message: &str) -> Option<(u64, u64)> {
    let rest = message.split("input token count (").nth(1)?;
    let (n, rest) = rest.split_once(')')?;
    let rest = rest.split("tokens allowed (").nth(1)?;
    let (m, _) = rest.split_once(')')?;
    Some((n.trim().parse().ok()?, m.trim().parse().ok()?))
}

/// `{"type":"error","error":{"type":…,"message":…}}`.
pub fn error_body(kind: ErrorType, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind.as_str(), "message": message}})
}

/// An Anthropic error response: its type, HTTP status, message and, when no key can serve yet,
/// when to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorType,
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with the status Anthropic uses for `kind`.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            status: StatusCode::from_u16(kind.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }
}

impl From<AnthropicError> for ApiError {
    fn from(e: AnthropicError) -> ApiError {
        ApiError::new(e.kind(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = error_body(self.kind, &self.message);
        with_retry_after(
            (self.status, axum::Json(body)).into_response(),
            self.retry_after,
        )
    }
}

impl Dialect for ApiError {
    fn unauthenticated(message: &str) -> Self {
        ApiError::new(ErrorType::Authentication, message)
    }

    /// Anthropic's own answer to an unknown model: 404 `not_found_error` naming it.
    fn unknown_model(why: &Unresolved) -> Self {
        let kind = match why {
            Unresolved::Invalid(_) => ErrorType::InvalidRequest,
            Unresolved::Unknown { .. } => ErrorType::NotFound,
        };
        ApiError::new(kind, format!("model: {}", unknown_model_message(why)))
    }

    fn too_large(_max_body_bytes: usize) -> Self {
        ApiError::new(ErrorType::RequestTooLarge, "Request body is too large.")
    }

    fn unreadable_body(detail: &str) -> Self {
        ApiError::new(ErrorType::InvalidRequest, detail)
    }

    /// No key: 503 `overloaded_error` with `Retry-After`. Gemini's own error in Anthropic's
    /// terms ([`AnthropicError::from_upstream`]). No answer: 504 `timeout_error` or 502
    /// `api_error`.
    fn from_dispatch(model: &str, e: DispatchError) -> Self {
        match e.cause {
            Cause::NoKeyAvailable { retry_after, why } => ApiError {
                retry_after,
                ..ApiError::new(
                    ErrorType::Overloaded,
                    no_key_message(model, retry_after, &why),
                )
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
            },
            Cause::Upstream { rpc, body } => {
                let message = match rpc {
                    Some(r) if !r.message.is_empty() => r.message,
                    _ => String::from_utf8_lossy(&body).chars().take(500).collect(),
                };
                AnthropicError::from_upstream(e.status.as_u16(), &message, false).into()
            }
            Cause::ClientRefused {
                message,
                retry_after,
            } => {
                let kind = if e.status == StatusCode::FORBIDDEN {
                    ErrorType::Permission
                } else {
                    ErrorType::RateLimit
                };
                ApiError {
                    retry_after,
                    ..ApiError::new(kind, message).with_status(e.status)
                }
            }
            Cause::NoAnswer(failure) if failure.timed_out() => ApiError::new(
                ErrorType::Timeout,
                format!("Gemini did not answer in time: {failure}"),
            ),
            Cause::NoAnswer(failure) => ApiError::new(
                ErrorType::Api,
                format!("Gemini could not be reached: {failure}"),
            )
            .with_status(StatusCode::BAD_GATEWAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_request_body_and_status() {
        let err = AnthropicError::invalid("max_tokens: field required");
        assert_eq!(err.status(), 400);
        assert!(!err.is_retryable());
        assert_eq!(
            err.body(),
            json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": "max_tokens: field required"}})
        );
    }

    #[test]
    fn malformed_is_retryable_api_error() {
        let err = AnthropicError::MalformedResponse {
            reason: "MALFORMED_FUNCTION_CALL".into(),
            detail: Some("Malformed function call: print(".into()),
        };
        assert_eq!(err.status(), 500);
        assert!(err.is_retryable());
        assert_eq!(err.body()["error"]["type"], "api_error");
        assert_eq!(
            err.body()["error"]["message"],
            "Gemini could not complete the response (MALFORMED_FUNCTION_CALL): Malformed function call: print("
        );
    }

    #[test]
    fn upstream_errors() {
        let e = AnthropicError::from_upstream(
            400,
            "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
            false,
        );
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_string(),
            "prompt is too long: 1200293 tokens > 1048576 maximum"
        );
        let e = AnthropicError::from_upstream(400, "Corrupted thought signature.", false);
        assert_eq!(
            e.body()["error"]["message"],
            "Gemini: Corrupted thought signature."
        );
        let e = AnthropicError::from_upstream(400, "API key not valid.", true);
        assert_eq!(e.status(), 500);
        assert_eq!(
            AnthropicError::from_upstream(403, "leaked", false).status(),
            500
        );
        assert_eq!(
            AnthropicError::from_upstream(429, "quota", false).status(),
            429
        );
        assert_eq!(
            AnthropicError::from_upstream(503, "overloaded", false).status(),
            529
        );
        assert_eq!(
            AnthropicError::from_upstream(504, "deadline", false).status(),
            504
        );
        assert_eq!(
            AnthropicError::from_upstream(404, "no model", false).status(),
            404
        );
    }

    #[test]
    fn statuses() {
        let cases = [
            (ErrorType::Authentication, 401),
            (ErrorType::Permission, 403),
            (ErrorType::NotFound, 404),
            (ErrorType::RequestTooLarge, 413),
            (ErrorType::RateLimit, 429),
            (ErrorType::Api, 500),
            (ErrorType::Timeout, 504),
            (ErrorType::Overloaded, 529),
        ];
        for (kind, status) in cases {
            let err = AnthropicError::Other {
                kind,
                message: "x".into(),
            };
            assert_eq!(err.status(), status);
            assert_eq!(err.body()["error"]["type"], kind.as_str());
        }
        assert_eq!(ErrorType::for_midstream_status(503), ErrorType::Overloaded);
        assert_eq!(ErrorType::for_midstream_status(429), ErrorType::Overloaded);
        assert_eq!(ErrorType::for_midstream_status(500), ErrorType::Api);
    }
}
