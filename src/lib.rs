//! gemini-gateway: serves the native Gemini API (and, next, the Anthropic Messages API) from a
//! pool of Gemini API keys, rotating and protecting the keys as Gemini answers.
//!
//! One request's story is told in `docs/ARCHITECTURE.md`: `server` → a `surfaces` module →
//! `dispatch` (failover) → `pool` (which key) + `upstream` (call, classify) → back out.

pub mod affinity;
pub mod config;
pub mod dispatch;
pub mod pool;
pub mod server;
pub mod store;
pub mod surfaces;
pub mod telemetry;
pub mod upstream;
