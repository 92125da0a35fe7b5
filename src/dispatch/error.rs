//! Why a dispatched request could not be served, typed: each failure carries the HTTP status it
//! stands for and its cause, and each surface turns it into its own error dialect.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use crate::pool::Unserved;
use crate::upstream::status::RpcStatus;
use crate::upstream::TransportError;

/// A request dispatch gave up on.
#[derive(Debug)]
pub struct DispatchError {
    /// The status this failure stands for: 503 when no key can serve, Gemini's own status for
    /// its answer, 504 when the last attempt timed out, 502 when it got no answer at all.
    pub status: StatusCode,
    pub cause: Cause,
}

/// What made dispatch give up.
#[derive(Debug)]
pub enum Cause {
    /// No key can serve the request now; `retry_after` is when the first comes back, `None` if
    /// none will by itself.
    NoKeyAvailable {
        retry_after: Option<Duration>,
        /// What holds each key back.
        why: Unserved,
    },
    /// Gemini's own answer, to hand to the client (its fault, or the last transient failure).
    /// The body is already redacted.
    Upstream { body: Bytes, rpc: Option<RpcStatus> },
    /// No answer from the last attempt.
    NoAnswer(Failure),
    /// The client's own limits refuse the request before any key is spent: 429 (over its
    /// requests per minute or tokens per day; `retry_after` when it may come back) or 403 (a
    /// model it may not use).
    ClientRefused {
        message: String,
        retry_after: Option<Duration>,
    },
}

/// Why one attempt got no usable answer from Gemini.
#[derive(Debug)]
pub enum Failure {
    /// The connection failed or broke.
    Transport(TransportError),
    /// A non-streaming answer did not come whole within `REQUEST_TIMEOUT`.
    NoAnswerInTime,
    /// A stream's response headers did not come within `REQUEST_TIMEOUT`.
    NoHeadersInTime,
    /// A stream's first data did not come within `REQUEST_TIMEOUT`.
    NoDataInTime,
    /// A stream ended before sending any data.
    EndedBeforeData,
}

impl Failure {
    /// Whether the attempt ran out of time (504) rather than failing (502).
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            Failure::NoAnswerInTime | Failure::NoHeadersInTime | Failure::NoDataInTime
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Transport(e) => e.fmt(f),
            Failure::NoAnswerInTime => f.write_str("no answer in time"),
            Failure::NoHeadersInTime => f.write_str("no response headers in time"),
            Failure::NoDataInTime => f.write_str("no stream data in time"),
            Failure::EndedBeforeData => f.write_str("stream ended before any data"),
        }
    }
}

impl DispatchError {
    /// 429: the client is over one of its limits.
    pub fn client_limited(message: String, retry_after: Option<Duration>) -> DispatchError {
        DispatchError {
            status: StatusCode::TOO_MANY_REQUESTS,
            cause: Cause::ClientRefused {
                message,
                retry_after,
            },
        }
    }

    /// 403: the client may not use `model`.
    pub fn model_not_allowed(model: &str) -> DispatchError {
        DispatchError {
            status: StatusCode::FORBIDDEN,
            cause: Cause::ClientRefused {
                message: format!("This client key may not use the model {model}."),
                retry_after: None,
            },
        }
    }

    /// 503: no key serves now, for the reasons `why` counts.
    pub fn no_key_because(retry_after: Option<Duration>, why: Unserved) -> DispatchError {
        DispatchError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            cause: Cause::NoKeyAvailable { retry_after, why },
        }
    }

    pub(super) fn no_answer(failure: Failure) -> DispatchError {
        let status = if failure.timed_out() {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::BAD_GATEWAY
        };
        DispatchError {
            status,
            cause: Cause::NoAnswer(failure),
        }
    }

    /// When to try again, for a `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.cause {
            Cause::NoKeyAvailable { retry_after, .. } => retry_after,
            _ => None,
        }
    }
}

/// The upstream stream failed after its first byte went to the client.
#[derive(Debug, thiserror::Error)]
pub enum StreamBroken {
    #[error("{0}")]
    Transport(TransportError),
    #[error("upstream stream went silent")]
    WentSilent,
    /// It ended without a `finishReason`: the answer was cut short.
    #[error("the upstream stream ended before the answer was finished")]
    Truncated,
}

/// The words every surface uses when no key can serve `model`, for the reasons `why` counts.
pub fn no_key_message(model: &str, retry_after: Option<Duration>, why: &Unserved) -> String {
    let mut message = format!(
        "No Gemini API key is available for {model}: {}",
        why.describe()
    );
    if let Some(d) = retry_after {
        message.push_str(&format!(" Retry in {}s.", retry_after_secs(d)));
    }
    message
}

/// Whole seconds, rounded up, at least 1 (a `Retry-After` value).
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(41_200)), 42);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn each_failure_has_its_status() {
        let s = |f| DispatchError::no_answer(f).status;
        assert_eq!(s(Failure::NoHeadersInTime), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(s(Failure::EndedBeforeData), StatusCode::BAD_GATEWAY);
        assert_eq!(
            DispatchError::no_key_because(None, Unserved::default()).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn a_503_says_what_holds_the_keys_back_and_nothing_else() {
        let m = |why: Unserved| no_key_message("gemini-3.8-flash", None, &why);
        let limited = Unserved {
            rate_limited: 2,
            disabled: 1,
            ..Unserved::default()
        };
        assert!(m(limited).ends_with("every key is rate-limited or disabled."));
        let ejected = Unserved {
            rate_limited: 1,
            ejected: 1,
            lacking: 2,
            ..Unserved::default()
        };
        assert_eq!(
            m(ejected),
            "No Gemini API key is available for gemini-3.8-flash: of its keys, 1 rate-limited, \
             1 resting after upstream errors, 2 without access to the model."
        );
        let overloaded = Unserved {
            ejected: 2,
            model_overloaded: true,
            ..Unserved::default()
        };
        assert!(m(overloaded).contains("overloaded"));
        assert!(!m(overloaded).contains("rate-limited"));
    }
}
