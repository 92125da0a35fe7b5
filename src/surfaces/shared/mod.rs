//! Translation pieces several surfaces use (not a surface of its own): tool-schema conversion,
//! function names, thought signatures carried in ids, the stream relay, the text delta written as
//! bytes, one scan of a body's nesting and of a member's place, and serving a resolved model (fallbacks, the served-model marks). What a model accepts is `crate::models`'.

pub mod event_bytes;
pub mod names;
pub mod prefix;
pub mod relay;
pub mod schema;
pub mod serving;
pub mod shape;
pub mod signature;
