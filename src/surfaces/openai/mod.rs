//! The OpenAI surfaces: Chat Completions (the OpenAI SDKs and everything built on them), the
//! Responses API (Codex CLI) and Embeddings, served under `/v1` and under Google's own
//! OpenAI-compatible base path `/v1beta/openai`. Its error dialect is [`OpenAiError`]; the
//! translators are pure functions:
//!
//! - `chat`: [`chat::request::to_generate_content`] → (upstream) →
//!   [`chat::response::completion`], or per stream chunk the [`chat::stream::ChatStream`];
//! - `responses`: [`responses::types::items`] and [`responses::types::tools`] →
//!   [`responses::request::to_generate_content`] → (upstream) → the
//!   [`responses::output::ResponseBuilder`], which writes the stream's events or the final
//!   object;
//! - `embeddings`: [`embeddings::parse`] → [`embeddings::batches`] → (upstream) →
//!   [`embeddings::response`].
//!
//! Model names: see [`models`]. Media given by `http(s)` URL is fetched first (see [`media`]).

mod body;
pub mod chat;
mod compact;
pub mod embeddings;
pub mod errors;
pub mod media;
pub mod models;
mod respond;
pub mod responses;
mod routes;
mod socket;

use axum::Router;

pub use errors::OpenAiError;
pub use media::MediaFetch;
pub use routes::{model_get, models_list, COMMIT_AFTER};

/// The OpenAI surface.
pub struct OpenAi;

impl super::Surface for OpenAi {
    type Dialect = OpenAiError;
    const NAME: &'static str = "openai";

    fn routes(ctx: &super::Context) -> Router {
        routes::routes(ctx)
    }
}
