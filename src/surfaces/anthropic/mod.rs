//! The Anthropic Messages API surface (Claude Code, the Anthropic SDKs): its routes
//! (`routes`, the stream `relay`), its error dialect ([`ApiError`]) and pure translations
//! between Anthropic requests/responses and the Gemini wire format, with no I/O.
//!
//! Flow for `POST /v1/messages`:
//! [`parse_messages_request`] → the model (`crate::models`, with [`claude_tier`]) → [`to_generate_content`] → (upstream call) →
//! [`from_generate_content`], or per stream chunk [`StreamTranslator::on_chunk`] then
//! [`StreamTranslator::finish`]. For `/v1/messages/count_tokens`:
//! [`parse_count_tokens_request`] → [`to_count_tokens`] → [`from_count_tokens`].
//! Every translation failure is an [`AnthropicError`]; over HTTP it is an [`ApiError`].

mod block_de;
mod blocks;
mod contents;
mod context_cache;
pub mod errors;
mod grounding;
pub mod models;
mod plain_events;
mod relay;
pub mod request;
pub mod response;
mod routes;
pub use routes::COMMIT_AFTER;
mod server_tools;
mod session;
pub mod signatures;
pub mod stream;
mod tool_cache;
mod tools;
pub mod types;
pub mod validate;

use axum::Router;

pub use crate::surfaces::shared::schema::downgrade_to_parameters;
pub use errors::{error_body, AnthropicError, ApiError, ErrorType};
pub use models::claude_tier;
pub use request::{
    parse_count_tokens_request, parse_messages_request, to_count_tokens, to_generate_content,
    to_generate_content_noted, Notes, TranslateOptions, MAX_STOP_SEQUENCES,
};
pub use response::{from_count_tokens, from_generate_content};
pub use signatures::SKIP_SIGNATURE_SENTINEL;
pub use stream::{write_error, write_event, write_ping, StreamTranslator};
pub use types::{CountTokensResponse, MessagesRequest, MessagesResponse, StopReason, StreamEvent};

/// The Messages surface.
pub struct Anthropic;

impl super::Surface for Anthropic {
    type Dialect = ApiError;
    const NAME: &'static str = "anthropic";

    fn routes(ctx: &super::Context) -> Router {
        routes::routes(ctx)
    }
}
