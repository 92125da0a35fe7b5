//! The Responses API, stateless: the request and its items, the translation to Gemini, and the
//! output builder that writes both the stream's events and the final `response` object.

mod object;
pub mod output;
pub mod request;
pub mod types;

#[cfg(test)]
mod output_tests;
#[cfg(test)]
mod request_tests;
