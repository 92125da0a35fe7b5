//! OpenAI's model names, and the model list in OpenAI's shape. Gemini names (and aliases of
//! them) are resolved by `crate::models`; OpenAI's own names are unknown (a 404
//! `model_not_found`) unless `OPENAI_MODEL_MAP=true`: then `gpt-*`, `o1*`/`o3*`/`o4*`,
//! `chatgpt-*` and `codex-*` stand for the small tier (`SMALL_MODEL`) when their name says
//! `mini` or `nano` and for the big one (`BIG_MODEL`) otherwise, and `text-embedding-*` for
//! `gemini-embedding-001`.

use serde_json::{json, Value};

use crate::models::catalog::Entry;
use crate::models::Tier;

/// The embedding model OpenAI's embedding names map to.
pub const EMBEDDING_MODEL: &str = "gemini-embedding-001";

/// The tier an OpenAI chat or responses model name stands for, when mapped.
pub fn chat_tier(name: &str, map_openai: bool) -> Option<Tier> {
    let lower = name.to_ascii_lowercase();
    let openai = ["gpt-", "o1", "o3", "o4", "chatgpt-", "codex-"]
        .iter()
        .any(|p| lower.starts_with(p));
    (map_openai && openai).then(|| {
        if lower.contains("mini") || lower.contains("nano") {
            Tier::Small
        } else {
            Tier::Big
        }
    })
}

/// The model an OpenAI embedding name stands for, when mapped.
pub fn embedding_tier(name: &str, map_openai: bool) -> Option<Tier> {
    let lower = name.to_ascii_lowercase();
    (map_openai && lower.starts_with("text-embedding-") && !lower.starts_with("text-embedding-00"))
        .then_some(Tier::Fixed(EMBEDDING_MODEL))
}

/// One model as OpenAI lists it.
pub fn model_object(entry: &Entry) -> Value {
    json!({"id": entry.id, "object": "model", "created": 0, "owned_by": "google"})
}

/// Models in OpenAI's shape.
pub fn list_object<'a>(entries: impl Iterator<Item = &'a Entry>) -> Value {
    let data: Vec<Value> = entries.map(model_object).collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_names_map_only_when_asked() {
        assert_eq!(chat_tier("gpt-4o", false), None);
        assert_eq!(chat_tier("gpt-4o", true), Some(Tier::Big));
        assert_eq!(chat_tier("gpt-4o-mini", true), Some(Tier::Small));
        assert_eq!(chat_tier("o4-mini", true), Some(Tier::Small));
        assert_eq!(chat_tier("gemini-3.8-flash", true), None);
        assert_eq!(
            embedding_tier("text-embedding-3-small", true),
            Some(Tier::Fixed(EMBEDDING_MODEL))
        );
        assert_eq!(embedding_tier("text-embedding-3-small", false), None);
        assert_eq!(embedding_tier("text-embedding-004", true), None);
    }

    #[test]
    fn the_list_in_openai_shape() {
        let e = Entry::from_resource(&json!({"name": "models/gemini-3.8-flash"})).unwrap();
        assert_eq!(
            list_object([e].iter()),
            json!({"object": "list", "data": [{"id": "gemini-3.8-flash", "object": "model", "created": 0, "owned_by": "google"}]})
        );
    }
}
