//! What every surface does around dispatch for a model: falling back along `MODEL_FALLBACKS`
//! when no key can serve the model now (every key resting, lacking or ejected for it, or the
//! model overloaded) — before any byte went to the client, and unless the client refused with
//! `x-gateway-fallback: off`; a request waits for a key (`QUEUE_MAX_WAIT`) only on the last
//! model it may go to — and saying on the response which model served when it is not the one
//! named (`x-gateway-served-model`, `x-gateway-substitution`, and the substitution
//! metric).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::dispatch::{Cause, DispatchError};
use crate::models::{Models, Resolved};
use crate::telemetry::Telemetry;

/// A client sends `off` here to refuse being served by a fallback model.
pub const FALLBACK_HEADER: &str = "x-gateway-fallback";
/// [`FALLBACK_HEADER`] parsed once.
static FALLBACK: HeaderName = HeaderName::from_static(FALLBACK_HEADER);
/// The model that served, when it is not the name the client sent.
pub const SERVED_HEADER: &str = "x-gateway-served-model";
/// Why another model served: `alias`, `retired` or `fallback`.
pub const SUBSTITUTION_HEADER: &str = "x-gateway-substitution";

/// Whether the client lets another model serve its request.
pub fn fallback_allowed(headers: &HeaderMap) -> bool {
    !headers
        .get(&FALLBACK)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            ["off", "false", "0", "none", "no"]
                .iter()
                .any(|w| v.trim().eq_ignore_ascii_case(w))
        })
}

/// [`fallback_allowed`] as an extractor: it reads the request's headers where they lie, for
/// a handler that needs nothing else from them (taking a `HeaderMap` copies them all).
pub struct FallbackAllowed(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for FallbackAllowed {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(FallbackAllowed(fallback_allowed(&parts.headers)))
    }
}

/// Whether a failure says the model cannot serve now, so that another model may: no key
/// could (resting, lacking it, ejected), or Gemini said the model is overloaded.
pub fn model_exhausted(e: &DispatchError) -> bool {
    match &e.cause {
        Cause::NoKeyAvailable { .. } => true,
        Cause::Upstream { .. } => e.status == StatusCode::SERVICE_UNAVAILABLE,
        Cause::NoAnswer(_) | Cause::ClientRefused { .. } => false,
    }
}

/// A request's walk along its model's fallback chain: try [`Fallbacks::model`], then ask
/// [`Fallbacks::next_after`] whether another model should be tried — while the model cannot
/// serve now, the client allows it and the chain goes on. A model Gemini says does not exist
/// makes the catalog be read again.
pub struct Fallbacks<'a> {
    models: &'a Arc<Models>,
    current: Resolved,
    allowed: bool,
}

impl<'a> Fallbacks<'a> {
    pub fn new(models: &'a Arc<Models>, first: Resolved, allowed: bool) -> Fallbacks<'a> {
        Fallbacks {
            models,
            current: first,
            allowed,
        }
    }

    /// The model to try now.
    pub fn model(&self) -> &Resolved {
        &self.current
    }

    /// Whether the model to try now is the last the request may go to — the end of its chain,
    /// or the client refused fallbacks. Only there may it wait for a key (`QUEUE_MAX_WAIT`):
    /// before, the next model serves at once.
    pub fn is_last(&self) -> bool {
        !self.allowed || !self.models.has_fallback(&self.current.model)
    }

    /// Whether another model should be tried after `result` (then it is [`Fallbacks::model`]).
    pub fn next_after<T>(&mut self, result: &Result<T, DispatchError>) -> bool {
        match result {
            Err(e) if self.allowed && model_exhausted(e) => {
                match self.models.fallback(&self.current) {
                    Some(next) => {
                        tracing::info!(from = %self.current.model, to = %next.model, "no key can serve the model now; falling back");
                        self.current = next;
                        true
                    }
                    None => false,
                }
            }
            Err(e)
                if e.status == StatusCode::NOT_FOUND
                    && matches!(e.cause, Cause::Upstream { .. }) =>
            {
                self.models.model_missing();
                false
            }
            _ => false,
        }
    }

    /// The model that answered (or failed last).
    pub fn served(self) -> Resolved {
        self.current
    }
}

/// The model name a response shows: the one that served when it was substituted, else the
/// name the client asked for.
pub fn shown<'a>(resolved: &'a Resolved, requested: &'a str) -> &'a str {
    if resolved.via.substitution().is_some() {
        &resolved.model
    } else {
        requested
    }
}

/// Names in `header` (and the log) what the translation of a request left out (`what`: tools,
/// input items), so a client learns of it instead of losing it silently.
pub fn name_left_out(
    mut resp: Response,
    header: &'static str,
    what: &str,
    left_out: &[String],
) -> Response {
    if left_out.is_empty() {
        return resp;
    }
    let names = left_out.join(",");
    tracing::warn!(left_out = %names, "{what} Gemini has no counterpart for were left out");
    let clipped: String = names.chars().take(1000).collect();
    if let Ok(value) = HeaderValue::from_str(&clipped) {
        resp.headers_mut().insert(header, value);
    }
    resp
}

/// Marks `resp` with the model that served, when it is not `requested`, and counts a
/// substitution.
pub fn mark(
    mut resp: Response,
    resolved: &Resolved,
    requested: &str,
    telemetry: &Telemetry,
) -> Response {
    let requested = requested.trim();
    let requested = requested.strip_prefix("models/").unwrap_or(requested);
    if *resolved.model == *requested {
        return resp;
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&resolved.model) {
        headers.insert(SERVED_HEADER, v);
    }
    if let Some(reason) = resolved.via.substitution() {
        headers.insert(SUBSTITUTION_HEADER, HeaderValue::from_static(reason));
        let from = resolved.from.clone().unwrap_or_else(|| requested.into());
        telemetry
            .metrics
            .substitution(&from, &resolved.model, reason);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_may_refuse_fallbacks() {
        let mut h = HeaderMap::new();
        assert!(fallback_allowed(&h));
        h.insert(FALLBACK_HEADER, HeaderValue::from_static("Off"));
        assert!(!fallback_allowed(&h));
        h.insert(FALLBACK_HEADER, HeaderValue::from_static("on"));
        assert!(fallback_allowed(&h));
    }

    #[test]
    fn only_an_exhausted_model_falls_back() {
        let no_key = DispatchError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            cause: Cause::NoKeyAvailable {
                retry_after: None,
                why: Default::default(),
            },
        };
        assert!(model_exhausted(&no_key));
        let overloaded = DispatchError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            cause: Cause::Upstream {
                body: bytes::Bytes::new(),
                rpc: None,
            },
        };
        assert!(model_exhausted(&overloaded));
        let bad_request = DispatchError {
            status: StatusCode::BAD_REQUEST,
            ..overloaded
        };
        assert!(!model_exhausted(&bad_request));
    }
}
