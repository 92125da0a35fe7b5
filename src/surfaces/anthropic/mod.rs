//! The Anthropic Messages API surface: pure translations between Anthropic requests/responses
//! and the Gemini wire format, with no I/O.
//!
//! Flow for `POST /v1/messages`:
//! [`parse_messages_request`] → [`resolve_model`] → [`to_generate_content`] → (upstream call) →
//! [`from_generate_content`], or per stream chunk [`StreamTranslator::on_chunk`] then
//! [`StreamTranslator::finish`]. For `/v1/messages/count_tokens`:
//! [`parse_count_tokens_request`] → [`to_count_tokens`] → [`from_count_tokens`].
//! Every failure is an [`AnthropicError`] with its HTTP status and Anthropic error body.

mod blocks;
mod contents;
pub mod errors;
pub mod http;
pub mod models;
pub mod request;
pub mod response;
pub mod schema;
pub mod signatures;
pub mod stream;
mod tools;
pub mod types;
pub mod validate;

pub use errors::{error_body, AnthropicError, ErrorType};
pub use models::{resolve_model, ModelMap};
pub use request::{
    parse_count_tokens_request, parse_messages_request, to_count_tokens, to_generate_content,
    TranslateOptions, MAX_STOP_SEQUENCES,
};
pub use response::{from_count_tokens, from_generate_content};
pub use schema::downgrade_to_parameters;
pub use signatures::SKIP_SIGNATURE_SENTINEL;
pub use stream::{write_error, write_event, write_ping, StreamTranslator};
pub use types::{CountTokensResponse, MessagesRequest, MessagesResponse, StopReason, StreamEvent};
