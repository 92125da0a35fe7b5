//! Implicit caching as Google does it: the prompt prefixes a project sends a model stay cached for
//! a few minutes, and a later request of the same project and model whose start matches one is
//! billed that prefix as cached (`usageMetadata.cachedContentTokenCount`). A prefix is
//! `systemInstruction + tools + contents[..k]`; only prefixes of at least the model's minimum
//! (`min_cache_tokens`) count, so small prompts cost nothing here. Another project never hits
//! them, which is how the gateway's tests see whether a conversation keeps reaching one project.
//!
//! Only 64-bit hashes (seeded with project and model) and token counts are kept, for five
//! minutes, and at most 100,000 of them.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::model::{content_chars, json_chars, tokens_for_chars};

/// How long a prefix stays cached after it was last sent.
const REMEMBERED_FOR: Duration = Duration::from_secs(300);
/// At most this many prefixes are remembered (the oldest go first).
const MAX_PREFIXES: usize = 100_000;

/// The remembered prefixes of every project and model.
#[derive(Debug, Default)]
pub struct ImplicitCache {
    /// Prefix hash → its tokens and when it is forgotten.
    remembered: HashMap<u64, (u64, Instant)>,
    /// Insertions, oldest first (a refreshed prefix appears again later).
    order: VecDeque<(Instant, u64)>,
}

impl ImplicitCache {
    /// The tokens of the longest of `prefixes` (shortest first, as `(hash, tokens)`) that is
    /// remembered (0 when none is); then remembers them all for the next five minutes.
    pub fn serve(&mut self, prefixes: &[(u64, u64)], now: Instant) -> u64 {
        while self.order.front().is_some_and(|(until, _)| *until <= now) {
            self.drop_oldest();
        }
        let hit = prefixes
            .iter()
            .rev()
            .find(|(hash, _)| self.remembered.contains_key(hash))
            .map_or(0, |(_, tokens)| *tokens);
        let until = now + REMEMBERED_FOR;
        for &(hash, tokens) in prefixes {
            self.remembered.insert(hash, (tokens, until));
            self.order.push_back((until, hash));
        }
        while self.order.len() > MAX_PREFIXES {
            self.drop_oldest();
        }
        hit
    }

    /// Drops the oldest insertion, and its prefix unless it was sent again since.
    fn drop_oldest(&mut self) {
        if let Some((until, hash)) = self.order.pop_front() {
            if self.remembered.get(&hash).is_some_and(|(_, u)| *u == until) {
                self.remembered.remove(&hash);
            }
        }
    }
}

/// The hashes and tokens of `request`'s prefixes of at least `min` tokens, shortest first, for
/// `project` and `model`.
pub fn prefixes(
    project: &str,
    model: &str,
    request: &Map<String, Value>,
    min: u64,
) -> Vec<(u64, u64)> {
    let mut hasher = DefaultHasher::new();
    (project, model).hash(&mut hasher);
    let mut chars = 0;
    for key in ["systemInstruction", "tools"] {
        match request.get(key) {
            Some(value) => {
                feed(value, &mut hasher);
                chars += if key == "tools" {
                    json_chars(value)
                } else {
                    content_chars(value)
                };
            }
            None => 0_u8.hash(&mut hasher),
        }
    }
    let mut out = Vec::new();
    for content in request
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        feed(content, &mut hasher);
        chars += content_chars(content);
        let tokens = tokens_for_chars(chars);
        if tokens >= min {
            out.push((hasher.finish(), tokens));
        }
    }
    out
}

/// Hashes a JSON value without serializing it.
fn feed(value: &Value, hasher: &mut DefaultHasher) {
    match value {
        Value::Null => 0_u8.hash(hasher),
        Value::Bool(b) => (1_u8, b).hash(hasher),
        Value::Number(n) => {
            2_u8.hash(hasher);
            match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.hash(hasher),
                (None, Some(u)) => u.hash(hasher),
                (None, None) => n.as_f64().map(f64::to_bits).hash(hasher),
            }
        }
        Value::String(s) => (3_u8, s).hash(hasher),
        Value::Array(items) => {
            (4_u8, items.len()).hash(hasher);
            items.iter().for_each(|item| feed(item, hasher));
        }
        Value::Object(map) => {
            (5_u8, map.len()).hash(hasher);
            for (key, item) in map {
                key.hash(hasher);
                feed(item, hasher);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(turns: usize) -> Map<String, Value> {
        let contents: Vec<Value> = (0..turns)
            .map(|i| {
                json!({"role": if i % 2 == 0 { "user" } else { "model" },
                            "parts": [{"text": "x".repeat(400)}]})
            })
            .collect();
        json!({"systemInstruction": {"parts": [{"text": "be brief"}]}, "contents": contents})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn a_growing_conversation_hits_its_longest_prefix_in_its_project_only() {
        let mut cache = ImplicitCache::default();
        let now = Instant::now();
        let first = prefixes("p1", "m", &request(3), 200);
        assert_eq!(
            first.len(),
            2,
            "prefixes of 102 tokens are below the minimum"
        );
        assert_eq!(cache.serve(&first, now), 0);
        let second = prefixes("p1", "m", &request(5), 200);
        assert_eq!(cache.serve(&second, now), first[1].1);
        let elsewhere = prefixes("p2", "m", &request(5), 200);
        assert_eq!(cache.serve(&elsewhere, now), 0);
        let other_model = prefixes("p1", "n", &request(5), 200);
        assert_eq!(cache.serve(&other_model, now), 0);
        let later = now + REMEMBERED_FOR + Duration::from_secs(1);
        assert_eq!(
            cache.serve(&second, later),
            0,
            "forgotten after five minutes"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut cache = ImplicitCache::default();
        let now = Instant::now();
        let many: Vec<(u64, u64)> = (0..MAX_PREFIXES as u64 + 10).map(|h| (h, 1)).collect();
        cache.serve(&many, now);
        assert_eq!(cache.order.len(), MAX_PREFIXES);
        assert_eq!(cache.remembered.len(), MAX_PREFIXES);
        assert!(!cache.remembered.contains_key(&0));
    }
}
