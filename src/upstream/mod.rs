//! Everything about talking to Gemini: the HTTP client, its structured errors, and what those
//! errors mean for a key.

pub mod classify;
pub mod client;
pub mod sse;
pub mod status;
pub mod wire;
