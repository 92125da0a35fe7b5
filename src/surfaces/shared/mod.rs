//! Translation pieces several surfaces use (not a surface of its own): tool-schema conversion,
//! what a Gemini model's name says about it, thinking settings for an effort, function names,
//! thought signatures carried in ids, and the stream relay.

pub mod model;
pub mod names;
pub mod relay;
pub mod schema;
pub mod signature;
pub mod thinking;
