//! Everything about talking to Gemini: the [`Upstream`] seam and its HTTP client, Gemini's wire
//! types and SSE framing, its structured errors, and what those errors mean for a key.

pub mod billing;
pub mod classify;
pub mod client;
pub mod coalesce;
pub mod common_event;
mod direct;
pub mod event_layout;
mod http_upstream;
mod plain_h1;
#[cfg(test)]
pub mod scripted;
pub mod sse;
pub mod status;
pub mod wire;
pub mod wire_answer;
pub mod wire_json;
mod wire_tools;

pub use client::{
    kept_header, BodyStream, Extra, StreamedBody, TransportError, Upstream, UpstreamRequest,
    UpstreamResponse,
};
pub use http_upstream::{ClientError, HttpUpstream};
