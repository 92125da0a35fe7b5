//! OpenAI model names → Gemini models, and the OpenAI model list.
//!
//! `gemini-*` names (optionally `models/…`) pass through as they are. OpenAI's own names are a
//! 404 `model_not_found` unless `OPENAI_MODEL_MAP=true`: then `gpt-*`, `o1*`/`o3*`/`o4*`,
//! `chatgpt-*` and `codex-*` go to `SMALL_MODEL` when their name says `mini` or `nano` and to
//! `BIG_MODEL` otherwise, and `text-embedding-*` to `gemini-embedding-001`.

use serde_json::{json, Value};

use super::errors::OpenAiError;

/// The embedding model OpenAI's embedding names map to.
pub const EMBEDDING_MODEL: &str = "gemini-embedding-001";

/// Longest model name passed through (it goes into the upstream URL).
const MAX_MODEL_NAME: usize = 256;

/// How OpenAI names are treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNames {
    pub map_openai: bool,
    pub big: String,
    pub small: String,
}

fn gemini_id(name: &str) -> Option<&str> {
    let bare = name.trim().strip_prefix("models/").unwrap_or(name.trim());
    let plain = !bare.is_empty()
        && bare.len() <= MAX_MODEL_NAME
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    (plain && bare.to_ascii_lowercase().starts_with("gemini-")).then_some(bare)
}

/// The Gemini model for a chat or responses request.
pub fn resolve_chat(name: &str, names: &ModelNames) -> Result<String, OpenAiError> {
    if let Some(id) = gemini_id(name) {
        return Ok(id.to_string());
    }
    let lower = name.to_ascii_lowercase();
    let openai = ["gpt-", "o1", "o3", "o4", "chatgpt-", "codex-"]
        .iter()
        .any(|p| lower.starts_with(p));
    if names.map_openai && openai {
        let small = lower.contains("mini") || lower.contains("nano");
        return Ok(if small { &names.small } else { &names.big }.clone());
    }
    Err(OpenAiError::model_not_found(&clip(name)))
}

/// The Gemini model id a `models/{id}` lookup names, if it is a plain id.
pub fn catalog_id(id: &str) -> Option<&str> {
    let bare = id.trim().strip_prefix("models/").unwrap_or(id.trim());
    let plain = !bare.is_empty()
        && bare.len() <= MAX_MODEL_NAME
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    plain.then_some(bare)
}

/// The Gemini model for an embeddings request.
pub fn resolve_embedding(name: &str, names: &ModelNames) -> Result<String, OpenAiError> {
    let bare = name.trim().strip_prefix("models/").unwrap_or(name.trim());
    let plain = bare
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let lower = bare.to_ascii_lowercase();
    if plain
        && (lower.starts_with("gemini-")
            || lower.starts_with("text-embedding-00")
            || lower == "embedding-001")
    {
        return Ok(bare.to_string());
    }
    if names.map_openai && lower.starts_with("text-embedding-") {
        return Ok(EMBEDDING_MODEL.to_string());
    }
    Err(OpenAiError::model_not_found(&clip(name)))
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

/// One model as OpenAI lists it.
pub fn model_object(gemini: &Value) -> Option<Value> {
    let id = gemini
        .get("name")
        .and_then(Value::as_str)?
        .trim_start_matches("models/");
    Some(json!({"id": id, "object": "model", "created": 0, "owned_by": "google"}))
}

/// Gemini's model list in OpenAI's shape.
pub fn list_object(gemini: &Value) -> Value {
    let data: Vec<Value> = gemini
        .get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(model_object)
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(map: bool) -> ModelNames {
        ModelNames {
            map_openai: map,
            big: "gemini-2.5-pro".into(),
            small: "gemini-2.5-flash".into(),
        }
    }

    #[test]
    fn gemini_names_pass_and_openai_names_map_only_when_asked() {
        assert_eq!(
            resolve_chat("gemini-3-pro-preview", &names(false)).unwrap(),
            "gemini-3-pro-preview"
        );
        assert_eq!(
            resolve_chat("models/gemini-2.5-flash", &names(false)).unwrap(),
            "gemini-2.5-flash"
        );
        let e = resolve_chat("gpt-4o", &names(false)).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
        assert_eq!(e.code, Some("model_not_found"));
        assert_eq!(
            resolve_chat("gpt-4o", &names(true)).unwrap(),
            "gemini-2.5-pro"
        );
        assert_eq!(
            resolve_chat("gpt-4o-mini", &names(true)).unwrap(),
            "gemini-2.5-flash"
        );
        assert_eq!(
            resolve_chat("o4-mini", &names(true)).unwrap(),
            "gemini-2.5-flash"
        );
        assert!(resolve_chat("gemini-../x", &names(true)).is_err());
        assert_eq!(
            resolve_embedding("text-embedding-3-small", &names(true)).unwrap(),
            EMBEDDING_MODEL
        );
        assert!(resolve_embedding("text-embedding-3-small", &names(false)).is_err());
        assert_eq!(
            resolve_embedding("gemini-embedding-001", &names(false)).unwrap(),
            "gemini-embedding-001"
        );
    }

    #[test]
    fn the_list_in_openai_shape() {
        let g = json!({"models": [{"name": "models/gemini-2.5-pro", "displayName": "x"}]});
        assert_eq!(
            list_object(&g),
            json!({"object": "list", "data": [{"id": "gemini-2.5-pro", "object": "model", "created": 0, "owned_by": "google"}]})
        );
    }
}
