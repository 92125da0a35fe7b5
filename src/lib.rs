//! gemini-gateway: serves the native Gemini API and the Anthropic Messages API from a pool of
//! Gemini API keys, rotating and protecting the keys as Gemini answers.
//!
//! One request's story is told in `docs/ARCHITECTURE.md`: `server` (layers, the list of
//! surfaces) → a `surfaces` plug-in (parse, translate, its error dialect) → `dispatch` (every
//! choice of key and every retry) → `pool` (which key; its facts kept by a `store` backend) and
//! `upstream` (call, classify) → back out through the surface. `secret`, `clock`, `json` and
//! `caches` are leaves every layer may use.

pub mod caches;
pub mod check;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod glob;
pub mod json;
pub mod models;
pub mod pool;
pub mod resources;
pub mod secret;
pub mod server;
#[cfg(test)]
mod snapshot;
pub mod store;
pub mod surfaces;
pub mod telemetry;
pub mod upstream;
