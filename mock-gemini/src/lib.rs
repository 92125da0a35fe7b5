//! Strict mock of the Gemini API.
