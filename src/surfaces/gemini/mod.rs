//! The native Gemini API (`/v1beta/...`, `/v1alpha/...` and `/v1/...`), so Google's SDKs and
//! the Gemini CLI work unchanged. Bodies pass through byte for byte; only the credential changes: the client's
//! `x-goog-api-key` or `?key=` is dropped and a pool key is used. The exceptions are made by
//! `crate::models`: a body served by another model than it named (an alias, a retired name, a
//! fallback), or holding what its model is known to refuse (a thinking budget for Gemini 4), is
//! made acceptable to the model that serves it. Streams are forwarded chunk by
//! chunk.
//!
//! Hostile input is answered here, in Google's error shape ([`GoogleError`]), before any key is
//! spent:
//! * a body over `MAX_BODY_BYTES` → 413 `INVALID_ARGUMENT` "Request payload size exceeds the
//!   limit: N bytes." (Google's own wording and status for an oversized payload; it has no
//!   dedicated canonical code, and `FAILED_PRECONDITION` is for system state, not the request);
//! * a model name or method that is not a plain identifier (`..`, `/`, `?`, `%`, spaces, …: the
//!   path is percent-decoded, so these could otherwise re-target the upstream URL) → 400;
//! * a POST body that is not one valid UTF-8 JSON object nested at most [`MAX_JSON_DEPTH`] deep
//!   → 400 `INVALID_ARGUMENT` ("Invalid JSON payload received. …"). One borrowing parse, no copy
//!   of the body (see [`check_json_body`]).

mod body_check;
mod errors;
pub mod query;
mod routes;
mod stored;

use axum::Router;

pub use body_check::{check_json_body, nests_deeper_than, BodyCheckError, MAX_JSON_DEPTH};
pub use errors::{Code, GoogleError};
pub use routes::{get_model, list_models, path_error};

use super::{Context, Surface};

/// The native surface, under the three API versions.
pub struct Gemini;

impl Surface for Gemini {
    type Dialect = GoogleError;
    const NAME: &'static str = "gemini";

    fn routes(ctx: &Context) -> Router {
        routes::routes("v1beta")
            .merge(routes::routes("v1alpha"))
            .merge(stored::routes("v1beta"))
            .merge(stored::routes("v1alpha"))
            .merge(stored::routes("v1"))
            .merge(routes::routes("v1"))
            .with_state(ctx.clone())
    }
}
