//! What a `generateContent`, `streamGenerateContent` or `countTokens` request draws from its
//! project's resources: the files its `fileData.fileUri`s name (the project's own, else Google's
//! 403 before anything is generated), the context cache its `cachedContent` names (the
//! project's, for the same model, and the request may not set `systemInstruction`, `tools` or
//! `toolConfig` itself), and implicit cache hits. The answer's `usageMetadata` then reports the
//! cached tokens (`cachedContentTokenCount`), and `promptTokenCount` includes an explicit
//! cache's tokens.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::caches::CachedPrefix;
use super::files::file_id;
use super::implicit_cache::prefixes;
use crate::errors::ApiError;
use crate::models_catalog::ModelInfo;
use crate::state::{lock, State};

/// What one request draws from its project's resources.
#[derive(Debug, Default)]
pub struct ResourceUse {
    /// The explicit cache the request names.
    explicit: Option<Arc<CachedPrefix>>,
    /// Tokens served from a cache (explicit or implicit).
    cached_tokens: u64,
}

/// The files (`fileData.fileUri`) `request`'s contents reference.
fn referenced_files(request: &Map<String, Value>) -> impl Iterator<Item = &str> {
    request
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|content| content.get("parts").and_then(Value::as_array))
        .flatten()
        .filter_map(|part| part.get("fileData")?.get("fileUri")?.as_str())
        .filter_map(file_id)
}

/// Every Files API file `request` references must be `project`'s, else Google's 403.
pub fn check_files(
    state: &State,
    project: &str,
    request: &Map<String, Value>,
) -> Result<(), ApiError> {
    let mut files = referenced_files(request).peekable();
    if files.peek().is_none() {
        return Ok(());
    }
    let mut resources = lock(&state.resources);
    for id in files {
        resources.files.owned(project, id)?;
    }
    Ok(())
}

fn project_of(state: &State, key: &str) -> String {
    lock(&state.quotas).project_of(key).to_owned()
}

impl ResourceUse {
    /// Checks the files and the cached content `request` names against `key`'s project, for
    /// `model` (the model the URL names).
    pub fn check(
        state: &State,
        key: &str,
        model: &ModelInfo,
        request: &Map<String, Value>,
    ) -> Result<ResourceUse, ApiError> {
        let mut uses = ResourceUse::default();
        let cached = request
            .get("cachedContent")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty());
        let Some(name) = cached else {
            if referenced_files(request).next().is_some() {
                check_files(state, &project_of(state, key), request)?;
            }
            return Ok(uses);
        };
        if ["systemInstruction", "tools", "toolConfig"]
            .iter()
            .any(|field| request.contains_key(*field))
        {
            return Err(ApiError::invalid_argument(
                "CachedContent can not be used with GenerateContent request setting \
                 system_instruction, tools or tool_config.\n\nProposed fix: move those values to \
                 CachedContent from GenerateContent request.",
            ));
        }
        let project = project_of(state, key);
        let prefix = lock(&state.resources).caches.prefix(&project, name)?;
        if prefix.model != model.id {
            return Err(ApiError::invalid_argument(format!(
                "Model used by GenerateContent request (models/{}) and CachedContent (models/{}) \
                 has to be the same.",
                model.id, prefix.model
            )));
        }
        check_files(state, &project, request)?;
        uses.cached_tokens = prefix.tokens;
        uses.explicit = Some(prefix);
        Ok(uses)
    }

    /// The prompt tokens an explicit cache adds.
    pub fn explicit_tokens(&self) -> u64 {
        self.explicit.as_ref().map_or(0, |prefix| prefix.tokens)
    }

    /// The request the model answers: an explicit cache's prefix, then `request`'s contents.
    pub fn planned<'a>(&self, request: &'a Map<String, Value>) -> Cow<'a, Map<String, Value>> {
        let Some(prefix) = &self.explicit else {
            return Cow::Borrowed(request);
        };
        let mut merged = request.clone();
        for (key, value) in &prefix.request {
            if key != "contents" {
                merged.insert(key.clone(), value.clone());
            }
        }
        let mut contents: Vec<Value> = prefix
            .request
            .get("contents")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        contents.extend(
            request
                .get("contents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .cloned(),
        );
        merged.insert("contents".to_owned(), Value::Array(contents));
        Cow::Owned(merged)
    }

    /// Implicit caching, for a request of `prompt` tokens by `key` that is being served (not
    /// with an explicit cache): the longest prefix its project sent `serving` in the last
    /// minutes counts as cached, and its own prefixes are remembered.
    pub fn remember_implicit(
        &mut self,
        state: &State,
        key: &str,
        serving: &ModelInfo,
        request: &Map<String, Value>,
        prompt: u64,
    ) {
        let minimum = u64::from(serving.min_cache_tokens);
        if self.explicit.is_some() || minimum == 0 || prompt < minimum {
            return;
        }
        let project = project_of(state, key);
        let prefixes = prefixes(&project, serving.id, request, minimum);
        if !prefixes.is_empty() {
            let hit = lock(&state.resources)
                .implicit
                .serve(&prefixes, Instant::now());
            self.cached_tokens = hit;
        }
    }

    /// Adds the cached tokens to a response's (or streamed chunk's) `usageMetadata`.
    pub fn annotate(&self, response: &mut Value) {
        if self.cached_tokens == 0 {
            return;
        }
        if let Some(usage) = response
            .get_mut("usageMetadata")
            .and_then(Value::as_object_mut)
        {
            usage.insert(
                "cachedContentTokenCount".to_owned(),
                json!(self.cached_tokens),
            );
            usage.insert(
                "cacheTokensDetails".to_owned(),
                json!([{"modality": "TEXT", "tokenCount": self.cached_tokens}]),
            );
        }
    }

    /// Adds an explicit cache's tokens to a `countTokens` answer.
    pub fn annotate_count(&self, answer: &mut Value) {
        if let Some(prefix) = &self.explicit {
            answer["cachedContentTokenCount"] = json!(prefix.tokens);
        }
    }
}
