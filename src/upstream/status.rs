//! Gemini's structured error body, `google.rpc.Status`: `{"error": {code, message, status,
//! details: [...]}}`, sometimes wrapped in a one-element array. Classification reads the typed
//! details (`ErrorInfo.reason`, `QuotaFailure.violations[].quotaId`, `RetryInfo.retryDelay`)
//! rather than matching English text.

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

/// Google's canonical error codes (`google.rpc.Code`) as the `status` string of an error body
/// names them, each with the HTTP status Google answers it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    FailedPrecondition,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    ResourceExhausted,
    Internal,
    Unavailable,
    DeadlineExceeded,
}

impl Code {
    /// The wire name, e.g. `INVALID_ARGUMENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        }
    }

    /// The HTTP status Google pairs with this code.
    pub fn http_status(self) -> StatusCode {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// The parts of a `google.rpc.Status` the gateway acts on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RpcStatus {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub details: Vec<Value>,
}

#[derive(Deserialize)]
struct Envelope {
    error: RpcStatus,
}

impl RpcStatus {
    /// Parses an upstream error body; `None` when it is not a Google error.
    pub fn parse(body: &[u8]) -> Option<RpcStatus> {
        // Checked first: serde would read `[x]` as a struct in sequence form.
        if body.trim_ascii_start().starts_with(b"[") {
            let mut list: Vec<Envelope> = serde_json::from_slice(body).ok()?;
            return (list.len() == 1).then(|| list.remove(0).error);
        }
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|env| env.error)
    }

    fn details_of<'a>(&'a self, type_suffix: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.details.iter().filter(move |d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with(type_suffix))
        })
    }

    /// `ErrorInfo.reason` values, e.g. `API_KEY_INVALID`.
    pub fn reasons(&self) -> impl Iterator<Item = &str> {
        self.details_of("google.rpc.ErrorInfo")
            .filter_map(|d| d.get("reason").and_then(Value::as_str))
    }

    /// `QuotaFailure.violations[].quotaId` values.
    pub fn quota_ids(&self) -> impl Iterator<Item = &str> {
        self.details_of("google.rpc.QuotaFailure")
            .filter_map(|d| d.get("violations").and_then(Value::as_array))
            .flatten()
            .filter_map(|v| v.get("quotaId").and_then(Value::as_str))
    }

    /// `QuotaFailure.violations[].quotaMetric` values.
    pub fn quota_metrics(&self) -> impl Iterator<Item = &str> {
        self.details_of("google.rpc.QuotaFailure")
            .filter_map(|d| d.get("violations").and_then(Value::as_array))
            .flatten()
            .filter_map(|v| v.get("quotaMetric").and_then(Value::as_str))
    }

    /// `QuotaFailure.violations[]` as (`quotaId`, `quotaValue` when it is a number,
    /// `quotaMetric` when given).
    pub fn violations(&self) -> impl Iterator<Item = (&str, Option<u64>, Option<&str>)> {
        self.details_of("google.rpc.QuotaFailure")
            .filter_map(|d| d.get("violations").and_then(Value::as_array))
            .flatten()
            .filter_map(|v| {
                let id = v.get("quotaId").and_then(Value::as_str)?;
                let value = match v.get("quotaValue") {
                    Some(Value::String(s)) => s.parse().ok(),
                    Some(other) => other.as_u64(),
                    None => None,
                };
                Some((id, value, v.get("quotaMetric").and_then(Value::as_str)))
            })
    }

    /// `RetryInfo.retryDelay`, a protobuf Duration in JSON form (`"41s"`, `"52.454646382s"`).
    pub fn retry_delay(&self) -> Option<Duration> {
        self.details_of("google.rpc.RetryInfo")
            .filter_map(|d| d.get("retryDelay"))
            .find_map(parse_proto_duration)
    }
}

/// Longest retry delay believed; anything longer (or absurd) is capped to this.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A protobuf `Duration` in JSON: a string of seconds with an `s` suffix, or `{seconds, nanos}`.
/// Never panics on hostile values; capped at [`MAX_RETRY_DELAY`].
fn parse_proto_duration(v: &Value) -> Option<Duration> {
    let d = match v {
        Value::String(s) => {
            let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
            if !(secs.is_finite() && secs >= 0.0) {
                return None;
            }
            Duration::try_from_secs_f64(secs).unwrap_or(MAX_RETRY_DELAY)
        }
        Value::Object(o) => {
            let secs = o.get("seconds").and_then(|s| match s {
                Value::String(s) => s.parse::<u64>().ok(),
                other => other.as_u64(),
            })?;
            let nanos = o.get("nanos").and_then(Value::as_u64).unwrap_or(0);
            Duration::from_secs(secs)
                .checked_add(Duration::from_nanos(nanos))
                .unwrap_or(MAX_RETRY_DELAY)
        }
        _ => return None,
    };
    Some(d.min(MAX_RETRY_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_typed_details() {
        let body = json!({"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"},
                {"quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "52.454646382s"}
        ]}});
        let s = RpcStatus::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(s.status, "RESOURCE_EXHAUSTED");
        assert_eq!(s.quota_ids().count(), 2);
        assert_eq!(s.retry_delay(), Some(Duration::from_secs_f64(52.454646382)));
    }

    #[test]
    fn accepts_array_wrapped_errors_and_object_durations() {
        let body = json!([{"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": {"seconds": "3", "nanos": 500000000}}
        ]}}]);
        let s = RpcStatus::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(s.reasons().collect::<Vec<_>>(), ["API_KEY_INVALID"]);
        assert_eq!(s.retry_delay(), Some(Duration::from_millis(3500)));
    }

    #[test]
    fn absurd_delays_are_capped_not_a_panic() {
        let delay = |d: serde_json::Value| {
            let body = json!({"error": {"code": 429, "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": d}]}});
            RpcStatus::parse(body.to_string().as_bytes())
                .unwrap()
                .retry_delay()
        };
        assert_eq!(delay(json!("1e20s")), Some(MAX_RETRY_DELAY));
        assert_eq!(
            delay(json!({"seconds": u64::MAX, "nanos": 2_000_000_000u64})),
            Some(MAX_RETRY_DELAY)
        );
        assert_eq!(delay(json!("-5s")), None);
        assert_eq!(delay(json!("NaNs")), None);
        assert_eq!(delay(json!("90s")), Some(Duration::from_secs(90)));
    }

    #[test]
    fn non_google_bodies_are_none() {
        assert!(RpcStatus::parse(b"<html>502</html>").is_none());
        assert!(RpcStatus::parse(b"[]").is_none());
        assert!(RpcStatus::parse(b"{\"error\": \"x\"}").is_none());
    }
}
