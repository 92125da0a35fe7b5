//! The APIs clients speak to the gateway. A surface is a plug-in: one folder holding its routes,
//! its error dialect and its pure translators. It parses its own dialect, hands a Gemini request
//! to dispatch, and answers in its own shape, errors included.
//!
//! The house's shared layers (client keys, body limits) and dispatch's failures (no key
//! available, Gemini's own errors, no answer) reach the client in the route's own shape because
//! each surface names its [`Dialect`]: the server mounts every [`Surface`] with layers generic
//! over it. Adding a surface is a folder here and one line in the server's list.

pub mod anthropic;
pub mod catalog;
pub mod gemini;
pub mod listing;
pub mod openai;
pub mod shared;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::config::Config;
use crate::dispatch::{retry_after_secs, DispatchError, Dispatcher};
use crate::models::{Models, Unresolved};
use crate::resources::Owners;
use crate::telemetry::TallyRef;

/// What every surface is given to build its routes.
#[derive(Debug, Clone)]
pub struct Context {
    pub dispatcher: Dispatcher,
    pub config: Arc<Config>,
    /// Which models exist, and what a requested name resolves to.
    pub models: Arc<Models>,
    /// Who made each of Gemini's stored resources (files, caches, batches, interactions).
    pub owners: Arc<Owners>,
}

/// An API the gateway serves.
pub trait Surface {
    /// Its name in metrics and logs.
    const NAME: &'static str;

    /// Its error shape, for everything that answers on its routes.
    type Dialect: Dialect;

    /// Its routes, state included.
    fn routes(ctx: &Context) -> Router;
}

/// An API's error shape: a typed error that answers as that API does, for the failures the
/// house's shared layers and dispatch produce.
pub trait Dialect: IntoResponse + Sized + Send + 'static {
    /// 401: the request carries no valid client key.
    fn unauthenticated(message: &str) -> Self;
    /// 401 for this request: a route shared by several APIs answers in the caller's.
    fn unauthenticated_for(
        _headers: &axum::http::HeaderMap,
        _uri: &axum::http::Uri,
        message: &str,
    ) -> Self {
        Self::unauthenticated(message)
    }
    /// 413: the body is larger than `MAX_BODY_BYTES`.
    fn too_large(max_body_bytes: usize) -> Self;
    /// 400: the body could not be read.
    fn unreadable_body(detail: &str) -> Self;
    /// Dispatch gave up on a request for `model`: no key available (503 with `Retry-After`),
    /// Gemini's own error, or no answer at all.
    fn from_dispatch(model: &str, e: DispatchError) -> Self;
    /// No model serves the name asked for: 404 naming the closest live models (400 for a name
    /// that is not a model id at all).
    fn unknown_model(why: &Unresolved) -> Self;
}

/// The words every surface uses for a name no model serves.
pub fn unknown_model_message(why: &Unresolved) -> String {
    match why {
        Unresolved::Invalid(name) => format!(
            "Invalid model name \"{name}\": a model name contains only letters, digits, '.', '-' and '_'."
        ),
        Unresolved::Unknown { name, closest } if closest.is_empty() => {
            format!("The model {name} is not a live Gemini model (nor an alias of one).")
        }
        Unresolved::Unknown { name, closest } => format!(
            "The model {name} is not a live Gemini model (nor an alias of one). The closest live models: {}.",
            closest.join(", ")
        ),
    }
}

/// The request's tally, when the house observes it: an extractor that never fails (a handler
/// hands it to dispatch with the route).
#[derive(Debug, Clone)]
pub struct Tallied(pub Option<TallyRef>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Tallied {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Tallied(parts.extensions.get::<TallyRef>().cloned()))
    }
}

/// Bodies up to this size are copied out of the connection's read buffer: a body that arrived
/// with its headers is a slice of hyper's 8 KiB buffer, and a request kept for its whole stream
/// (to retry or resume it) would keep that buffer alive beside the one hyper reads on with.
const DETACHED_UP_TO: usize = 4 * 1024;

/// The request body, or the response refusing it in dialect `D` (a body too large also closes
/// the connection: its rest was never read).
pub fn read_body<D: Dialect>(
    body: Result<Bytes, BytesRejection>,
    max_body_bytes: usize,
) -> Result<Bytes, Box<Response>> {
    body.map(detached).map_err(|e| {
        Box::new(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            closing(D::too_large(max_body_bytes).into_response())
        } else {
            D::unreadable_body(&e.body_text()).into_response()
        })
    })
}

/// `body` in an allocation of its own when it is small (see [`DETACHED_UP_TO`]).
fn detached(body: Bytes) -> Bytes {
    if body.len() <= DETACHED_UP_TO {
        Bytes::copy_from_slice(&body)
    } else {
        body
    }
}

/// `resp` with `Connection: close`.
pub fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// `resp` with `Retry-After` when there is a time to give.
pub fn with_retry_after(mut resp: Response, after: Option<std::time::Duration>) -> Response {
    if let Some(d) = after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_body_leaves_the_connections_buffer_and_a_big_one_is_not_copied() {
        let buffer = Bytes::from(vec![b'x'; 8 * 1024]);
        let within = |b: &Bytes| {
            let range = buffer.as_ptr_range();
            range.contains(&b.as_ptr())
        };
        let small = detached(buffer.slice(100..400));
        assert!(!within(&small));
        assert_eq!(small, buffer.slice(100..400));
        let big = detached(buffer.slice(..DETACHED_UP_TO + 1));
        assert!(within(&big));
    }
}
