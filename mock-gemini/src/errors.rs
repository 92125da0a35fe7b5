//! Google-shaped error bodies.
//!
//! Every error the real Gemini API returns is a `google.rpc.Status` wrapped in
//! `{"error": {...}}`, with typed `details` (`type.googleapis.com/google.rpc.*`).
//! The gateway classifies keys and rewrites messages from exactly these shapes,
//! so they live in one place and are built with Google's wording.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

const SERVICE: &str = "generativelanguage.googleapis.com";
pub const RATE_LIMIT_DOC: &str = "https://ai.google.dev/gemini-api/docs/rate-limits";

/// A `google.rpc.Status` the mock answers with.
#[derive(Clone, Debug, Serialize)]
pub struct ApiError {
    /// The HTTP status code (also the `code` field).
    pub code: u16,
    /// Google's message.
    pub message: String,
    /// The canonical status name, e.g. `INVALID_ARGUMENT`.
    pub status: &'static str,
    /// `google.rpc.*` detail objects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

/// One entry of a `google.rpc.BadRequest` detail.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The field path (snake_case), when the violation has a location.
    pub field: Option<String>,
    /// The violation text, identical to the matching line of the message.
    pub description: String,
}

impl ApiError {
    pub(crate) fn new(code: u16, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status,
            details: Vec::new(),
        }
    }

    /// 400 INVALID_ARGUMENT with no details (semantic validation errors).
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", message)
    }

    /// 400 INVALID_ARGUMENT for JSON/proto parsing problems, with a `BadRequest` detail.
    pub fn bad_request(violations: &[Violation]) -> ApiError {
        let message = violations
            .iter()
            .map(|v| v.description.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let field_violations: Vec<Value> = violations
            .iter()
            .map(|v| match &v.field {
                Some(field) => json!({"field": field, "description": v.description}),
                None => json!({"description": v.description}),
            })
            .collect();
        let mut error = ApiError::invalid_argument(message);
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": field_violations,
        }));
        error
    }

    /// 403 for a request that carries no API key at all.
    pub fn missing_key() -> ApiError {
        ApiError::new(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        )
    }

    /// 401 for a request that sends an `Authorization` header instead of an API key.
    pub fn unauthenticated() -> ApiError {
        let mut error = ApiError::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. \
             See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            "domain": "googleapis.com",
            "metadata": {"service": SERVICE, "method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent"},
        }));
        error
    }

    /// 400 API_KEY_INVALID (research 11.7).
    pub fn key_invalid() -> ApiError {
        let message = "API key not valid. Please pass a valid API key.";
        let mut error = ApiError::invalid_argument(message);
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": SERVICE},
        }));
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": message,
        }));
        error
    }

    /// 403 CONSUMER_SUSPENDED. The message deliberately contains the whole key.
    pub fn suspended(key: &str) -> ApiError {
        let message = format!("Permission denied: Consumer 'api_key:{key}' has been suspended.");
        let mut error = ApiError::new(403, "PERMISSION_DENIED", message.clone());
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "CONSUMER_SUSPENDED",
            "domain": "googleapis.com",
            "metadata": {"consumer": format!("projects/{}", project_number(key)), "service": SERVICE},
        }));
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": message,
        }));
        error
    }

    /// 429 for the per-minute free-tier request quota, with `RetryInfo`.
    pub fn rate_limit_per_minute(model: &str, retry_delay: &str) -> ApiError {
        let limit = per_minute_limit(model);
        let mut error = quota_error(
            model,
            limit,
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        );
        error
            .message
            .push_str(&format!("\nPlease retry in {retry_delay}."));
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": retry_delay,
        }));
        error
    }

    /// 429 for the per-day free-tier request quota, without `RetryInfo`.
    pub fn rate_limit_per_day(model: &str) -> ApiError {
        quota_error(
            model,
            per_day_limit(model),
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        )
    }

    /// 429 with no details at all (older and some current answers look like this).
    pub fn rate_limit_bare() -> ApiError {
        ApiError::new(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        )
    }

    /// 503 model overloaded.
    pub fn unavailable() -> ApiError {
        ApiError::new(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        )
    }

    /// 500 internal error.
    pub fn internal() -> ApiError {
        ApiError::new(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
        )
    }

    /// 404 for a model that does not exist or does not support `method`.
    pub fn model_not_found(model: &str, version: &str, method: &str) -> ApiError {
        ApiError::new(
            404,
            "NOT_FOUND",
            format!(
                "models/{model} is not found for API version {version}, or is not supported for \
                 {method}. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
        )
    }

    /// The JSON body `{"error": {...}}`.
    #[cfg(test)]
    pub fn body(&self) -> Value {
        json!({ "error": self })
    }

    /// The HTTP response; `wrap_in_array` mimics `streamGenerateContent` without `alt=sse`.
    pub fn to_response(&self, wrap_in_array: bool, pretty: bool) -> Response {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: &'a ApiError,
        }
        let envelope = Envelope { error: self };
        let bytes = match (wrap_in_array, pretty) {
            (true, true) => serde_json::to_vec_pretty(&[envelope]),
            (true, false) => serde_json::to_vec(&[envelope]),
            (false, true) => serde_json::to_vec_pretty(&envelope),
            (false, false) => serde_json::to_vec(&envelope),
        }
        .unwrap_or_default();
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        with_json_type((status, bytes).into_response())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response(false, true)
    }
}

/// A JSON response with Google's content type; pretty-printed like the real API unless
/// `prettyPrint=false` was asked for.
pub fn json_response(status: StatusCode, body: &Value, pretty: bool) -> Response {
    let bytes = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    }
    .unwrap_or_default();
    with_json_type((status, bytes).into_response())
}

fn with_json_type(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

/// The HTML page Google's front end serves for a path no API owns.
pub fn html_not_found(path: &str) -> Response {
    let escaped = path
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  \
         <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL <code>{escaped}</code> was not \
         found on this server.  <ins>That’s all we know.</ins>\n"
    );
    let mut response = (StatusCode::NOT_FOUND, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    response
}

/// The `google.rpc.Help` detail Google adds to its quota 429s.
pub fn quota_help() -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Learn more about Gemini API quotas", "url": RATE_LIMIT_DOC}],
    })
}

fn quota_error(model: &str, limit: u32, quota_id: &str) -> ApiError {
    let metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
    let message = format!(
        "You exceeded your current quota, please check your plan and billing details. For more \
         information on this error, head to: {RATE_LIMIT_DOC}. To monitor your current usage, head \
         to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: {metric}, limit: \
         {limit}, model: {model}"
    );
    let mut error = ApiError::new(429, "RESOURCE_EXHAUSTED", message);
    error.details.push(json!({
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{
            "quotaMetric": metric,
            "quotaId": quota_id,
            "quotaDimensions": {"location": "global", "model": model},
            "quotaValue": limit.to_string(),
        }],
    }));
    error.details.push(quota_help());
    error
}

/// The free tier's requests per minute the scripted per-minute 429 names for `model`.
fn per_minute_limit(model: &str) -> u32 {
    if model.contains("pro") {
        5
    } else if model.contains("lite") {
        15
    } else {
        10
    }
}

/// The free tier's requests per day the scripted per-day 429 names for `model`.
fn per_day_limit(model: &str) -> u32 {
    if model.contains("pro") {
        100
    } else if model.contains("lite") {
        1000
    } else {
        250
    }
}

/// A stable, made-up Google Cloud project number for a key.
fn project_number(key: &str) -> u64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    100_000_000_000 + hash % 900_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_google_status_shape() {
        let body = ApiError::rate_limit_per_minute("gemini-3.8-flash", "41s").body();
        assert_eq!(body["error"]["code"], 429);
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .ends_with("Please retry in 41s."));
        let details = body["error"]["details"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(details.len(), 3);
        assert_eq!(details[2]["retryDelay"], "41s");
    }

    #[test]
    fn bare_error_has_no_details_key() {
        let body = ApiError::rate_limit_bare().body();
        assert!(body["error"].get("details").is_none());
    }
}
