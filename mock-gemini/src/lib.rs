//! A strict mock of the Google Gemini API (`generativelanguage.googleapis.com`).
//!
//! The gateway's black-box tests, end-to-end tests and benchmarks run against this server
//! because the real API cannot be reached from the test machines. It is deliberately
//! strict: request bodies are parsed like Google's proto-JSON front end (unknown fields,
//! wrong types, oneof conflicts), then checked against the rules the real service
//! enforces (roles, function call/response pairing, schema subset, model limits, Gemini 3
//! thought signatures), and every error has Google's status, wording and `details`.
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
mod respond;
mod schema;
mod script;
mod server;
mod signatures;
mod sse;
mod state;
mod tls;
mod validate;

pub use quota::{QuotaConfig, QuotaLimit};
pub use script::{Behaviour, MockOptions, Rule};
pub use server::MockGemini;
pub use state::RecordedRequest;
