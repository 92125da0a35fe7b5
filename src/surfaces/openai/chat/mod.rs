//! Chat Completions: the wire types, the request translation, the whole answer and the stream.

pub mod request;
pub mod response;
pub mod stream;
pub mod types;

#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod response_tests;
