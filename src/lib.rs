//! gemini-gateway: serves the Anthropic Messages API and the native Gemini API from a pool of
//! Gemini API keys, rotating and protecting the keys as Gemini answers.
