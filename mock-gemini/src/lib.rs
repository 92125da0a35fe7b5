//! A strict mock of the Google Gemini API (`generativelanguage.googleapis.com`).
//!
//! The gateway's black-box tests, end-to-end tests and benchmarks run against this server
//! because the real API cannot be reached from the test machines. It is deliberately
//! strict: request bodies are parsed like Google's proto-JSON front end (unknown fields,
//! wrong types, oneof conflicts), then checked against the rules the real service
//! enforces (roles, function call/response pairing, schema subset, model limits, Gemini 3 and 4
//! thought signatures), and every error has Google's status, wording and `details`.
//!
//! It plays the Gemini of December 2026: the 3.x Flash line (`gemini-3.8-flash` …
//! `gemini-3.5-flash`), the Flash-Lites, `gemini-3.1-pro-preview`, `gemini-2.5-flash-lite`,
//! Google's `-latest` aliases (answering as their model), the embeddings, and under `v1alpha`
//! the Gemini 4 previews (`gemini-4-argon`, `-hydrogen`, and on paid-tier projects `-carbon`
//! and `-neon`). Retired ids (`gemini-2.5-pro`, `gemini-2.0-flash`, …) answer Google's 404.
//! Quotas are per project; projects can be on the free tier or over their monthly spending cap,
//! and billing refusals can be scripted like the other failures.
//!
//! Projects also own resources, as on the real service (`resources`): files uploaded through the
//! Files API (resumable, multipart or raw uploads, streamed and hashed, never held whole; up to
//! 2 GB) and files the service generated (downloadable), explicit context caches
//! (`cachedContents`: at least the model's `min_cache_tokens`, not on Gemini 4, one hour unless
//! told otherwise), and the implicit cache of the prompt prefixes each project sent each model in
//! the last five minutes. A key of another project gets Google's 403 for a file or cache (exactly
//! as for one that does not exist), also when `generateContent` references it; a request whose
//! start another request of its project already sent reports those tokens as
//! `cachedContentTokenCount`, so tests can see where a conversation's prefix lives.
//! A translation bug in the gateway therefore fails a test here instead of reaching users.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mock_gemini::{Behaviour, MockGemini, Rule};
//! let mock = MockGemini::start().await?;
//! mock.script(Rule {
//!     key: "AIzaSyA-mock-key-0000000000000000000000".into(),
//!     model: None,
//!     times: Some(1),
//!     behaviour: Behaviour::RateLimitPerMinute { retry_delay: "41s".into() },
//! });
//! let _url = mock.base_url(); // point the gateway here
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod control;
mod descriptors;
mod directives;
mod embed;
mod errors;
mod floor;
mod model;
mod models_catalog;
mod models_table;
mod ordered;
mod proto;
mod quota;
mod refusals;
pub mod relay;
mod request;
mod resources;
mod respond;
mod schema;
mod script;
mod search;
mod server;
mod shaping;
mod signatures;
mod sse;
mod state;
mod tls;
mod validate;

pub use quota::{QuotaConfig, QuotaLimit};
pub use resources::GeneratedFile;
pub use script::{Behaviour, MockOptions, Rule};
pub use server::MockGemini;
pub use state::RecordedRequest;
