//! Anthropic's `cache_control` as a real Gemini context cache (`ANTHROPIC_CONTEXT_CACHE=explicit`).
//! By default breakpoints only steer routing (a session keeps its key, and so Gemini's implicit
//! cache). Explicit: when a request carries a breakpoint and its model's family serves explicit
//! caches (the rules table's `explicit_cache_min_tokens`), the stable prefix — the translated
//! system instruction, tools and tool config — is made into a `cachedContents` once per prefix
//! (its hash, kept in the store so every gateway on a Redis and a restarted one find it), above
//! the family's minimum size, and reused while it lives: the request then names
//! `cachedContent`, carries only its turns, and is placed on the cache's owner project through the
//! owners' book like any request naming a stored resource. Gemini reports the cached part as
//! `cachedContentTokenCount`, which the answer gives as `cache_read_input_tokens`. Anything that
//! goes wrong (a refused creation, a cache gone) falls back to the whole request: caching never
//! fails a client. The turns themselves are not cached (Claude Code's breakpoints on recent turns
//! move every turn; a cache per turn would be written once and read never).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::json;
use xxhash_rust::xxh3::Xxh3;

use crate::clock::UnixMillis;
use crate::dispatch::{Dispatcher, Placement, Route};
use crate::models::Rules;
use crate::resources::{self, Kind, Owner, Owners, ResourceName};
use crate::upstream::wire::GenerateContentRequest;
use crate::upstream::UpstreamRequest;

/// A cache is not reused in its last seconds (a request may take that long to reach Gemini).
const MARGIN_MS: i64 = 30_000;

/// The caches made for prefixes, by the prefix's hash.
#[derive(Debug)]
pub struct ContextCaches {
    dispatcher: Dispatcher,
    owners: Arc<Owners>,
    known: Mutex<HashMap<u64, (ResourceName, UnixMillis)>>,
    /// One creation at a time: concurrent requests of one prefix make one cache.
    creating: tokio::sync::Mutex<()>,
}

/// A cache a request now uses: where it must go, and which prefix to forget if it is gone.
#[derive(Debug, Clone)]
pub struct InUse {
    pub placement: Placement,
    pub prefix: u64,
}

impl ContextCaches {
    pub fn new(dispatcher: Dispatcher, owners: Arc<Owners>) -> ContextCaches {
        ContextCaches {
            dispatcher,
            owners,
            known: Mutex::new(HashMap::new()),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (ResourceName, UnixMillis)>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves `gemini`'s stable prefix into a cache of `model` (made now if none lives) and points
    /// the request at it; `None` (the request untouched) when the family has no explicit caches,
    /// the prefix is below its minimum, or the cache cannot be made or placed.
    pub async fn apply(
        &self,
        model: &str,
        rules_name: &str,
        gemini: &mut GenerateContentRequest,
        ttl_secs: u32,
    ) -> Option<InUse> {
        let min = Rules::of(rules_name).explicit_cache_min_tokens?;
        let mut prefix = json!({});
        if let Some(system) = &gemini.system_instruction {
            prefix["systemInstruction"] = json!(system);
        }
        if let Some(tools) = &gemini.tools {
            prefix["tools"] = json!(tools);
        }
        if let Some(config) = &gemini.tool_config {
            prefix["toolConfig"] = json!(config);
        }
        let bytes = serde_json::to_vec(&prefix).ok()?;
        if (bytes.len() / 4) < min as usize {
            return None;
        }
        let mut h = Xxh3::new();
        h.update(model.as_bytes());
        h.update(&bytes);
        let hash = h.digest();
        let name = match self.live(hash).await {
            Some(name) => name,
            None => {
                let _one = self.creating.lock().await;
                match self.live(hash).await {
                    Some(name) => name,
                    None => self.create(model, hash, prefix, ttl_secs).await?,
                }
            }
        };
        let placed = resources::place(
            &self.owners,
            self.dispatcher.pool(),
            std::slice::from_ref(&name),
        )
        .await
        .ok()??;
        gemini.cached_content = Some(name.as_str().to_string());
        gemini.system_instruction = None;
        gemini.tools = None;
        gemini.tool_config = None;
        Some(InUse {
            placement: placed.placement,
            prefix: hash,
        })
    }

    /// The cache made for `hash`, while it lives: this gateway's memory, else the store (where
    /// another gateway on the same Redis, or this one before a restart, wrote it down).
    async fn live(&self, hash: u64) -> Option<ResourceName> {
        let now = self.owners.now();
        let fresh = |until: UnixMillis| until > now + MARGIN_MS;
        if let Some((name, _)) = self.known().get(&hash).filter(|(_, u)| fresh(*u)) {
            return Some(name.clone());
        }
        let backend = self.dispatcher.pool().backend();
        let doc = backend.get_document(&doc_name(hash), now).await.ok()??;
        let (name, until): (String, UnixMillis) = serde_json::from_slice(&doc).ok()?;
        let name = ResourceName::parse(&name).filter(|_| fresh(until))?;
        self.known().insert(hash, (name.clone(), until));
        Some(name)
    }

    /// Forgets the cache of a prefix (Gemini no longer has it).
    pub async fn forget(&self, hash: u64) {
        self.known().remove(&hash);
        let _ = self
            .dispatcher
            .pool()
            .backend()
            .delete_document(&doc_name(hash))
            .await;
    }

    async fn create(
        &self,
        model: &str,
        hash: u64,
        mut prefix: serde_json::Value,
        ttl_secs: u32,
    ) -> Option<ResourceName> {
        prefix["model"] = json!(format!("models/{model}"));
        prefix["ttl"] = json!(format!("{ttl_secs}s"));
        let body = serde_json::to_vec(&prefix).ok()?;
        let req = UpstreamRequest::post("/v1beta/cachedContents".into(), body.into());
        let answer = match self.dispatcher.unary(&Route::model(model), &req).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(model, status = %e.status, "could not make a context cache; sending the whole request");
                return None;
            }
        };
        #[derive(Deserialize)]
        struct Made {
            name: String,
        }
        let made: Made = serde_json::from_slice(&answer.body).ok()?;
        let name = ResourceName::parse(&made.name).filter(|n| n.kind() == Kind::Cache)?;
        let now = self.owners.now();
        let until = now + i64::from(ttl_secs) * 1000;
        let owner = Owner {
            key: answer.lease.key.id().to_string(),
            project: self.dispatcher.pool().declared_project(answer.lease.index),
            expires_at: until,
        };
        self.owners.record(&name, owner).await;
        self.known().insert(hash, (name.clone(), until));
        let doc = serde_json::to_vec(&(name.as_str(), until)).unwrap_or_default();
        let backend = self.dispatcher.pool().backend();
        if let Err(e) = backend
            .put_document(&doc_name(hash), doc, Some(until))
            .await
        {
            tracing::warn!(error = %e, "could not keep a context cache's name in the store");
        }
        tracing::info!(
            model,
            cache = name.as_str(),
            ttl_secs,
            "made a context cache for a prompt prefix"
        );
        Some(name)
    }
}

/// The store's name for the cache of a prefix.
fn doc_name(hash: u64) -> String {
    format!("context-cache/{hash:016x}")
}

/// The TTL a request's breakpoints ask for: an hour when one says `"ttl": "1h"`, else
/// Anthropic's five minutes.
pub fn ttl_of(body: &[u8]) -> u32 {
    let hour = memchr::memmem::find(body, b"\"1h\"").is_some();
    if hour {
        3600
    } else {
        300
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakpoints_ask_for_five_minutes_unless_an_hour() {
        assert_eq!(ttl_of(br#"{"cache_control":{"type":"ephemeral"}}"#), 300);
        assert_eq!(
            ttl_of(br#"{"cache_control":{"type":"ephemeral","ttl":"1h"}}"#),
            3600
        );
    }

    #[test]
    fn only_families_with_explicit_caches_have_a_minimum() {
        assert_eq!(
            Rules::of("gemini-3.8-flash").explicit_cache_min_tokens,
            Some(4096)
        );
        assert_eq!(
            Rules::of("gemini-4-hydrogen").explicit_cache_min_tokens,
            None
        );
    }
}
