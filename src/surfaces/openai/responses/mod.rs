//! The Responses API: the request and its items, the conversation they continue (stored
//! responses), the translation to Gemini, and the output builder that writes both the stream's
//! events and the final `response` object.

pub mod compaction;
pub mod conversation;
mod object;
pub mod output;
pub mod request;
pub mod stored;
pub mod types;

#[cfg(test)]
mod output_tests;
#[cfg(test)]
mod request_tests;
