//! The APIs clients speak to the gateway. Each surface parses its own dialect, hands a Gemini
//! request to dispatch, and answers in its own shape, errors included.

pub mod anthropic;
pub mod gemini;
