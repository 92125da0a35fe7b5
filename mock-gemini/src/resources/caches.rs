//! Explicit context caches, `cachedContents`: a project stores a model's prefix (system
//! instruction, tools, tool config, contents) once and names it in later `generateContent`
//! calls. Creation is checked like Google: the model must exist for the key and API version and
//! allow explicit caching (Gemini 4 does not), the contents must be valid and reference only the
//! project's own files, and the cache must hold at least the model's minimum tokens. A cache
//! lives until its `expireTime` (default one hour; `PATCH` with `ttl` or `expireTime` moves it);
//! expired, deleted or foreign caches all answer Google's 403.

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{new_id, now_ms, page_of, parse_message, parse_timestamp, timestamp, ResourceCall};
use crate::descriptors::{CONTENT, TOOL, TOOL_CONFIG};
use crate::errors::{ApiError, Violation};
use crate::model::prompt_tokens;
use crate::models_catalog::{find_visible, ModelInfo};
use crate::proto::{Card, Field, Kind, Msg};
use crate::request::{check_params, param};
use crate::state::lock;
use crate::validate::check_generate;

/// A cache lives an hour unless told otherwise.
const DEFAULT_TTL_MS: i64 = 3600 * 1000;

const fn field(name: &'static str, kind: Kind, card: Card, oneof: Option<&'static str>) -> Field {
    Field {
        name,
        kind,
        card,
        oneof,
    }
}

/// The `CachedContent` message (the body of create and patch).
static CACHED_CONTENT: Msg = Msg {
    type_url: "type.googleapis.com/google.ai.generativelanguage.v1beta.CachedContent",
    fields: &[
        field("expire_time", Kind::Str, Card::One, Some("expiration")),
        field("ttl", Kind::Str, Card::One, Some("expiration")),
        field("name", Kind::Str, Card::One, None),
        field("display_name", Kind::Str, Card::One, None),
        field("model", Kind::Str, Card::One, None),
        field("system_instruction", Kind::Msg(&CONTENT), Card::One, None),
        field("contents", Kind::Msg(&CONTENT), Card::Many, None),
        field("tools", Kind::Msg(&TOOL), Card::Many, None),
        field("tool_config", Kind::Msg(&TOOL_CONFIG), Card::One, None),
        field("create_time", Kind::Str, Card::One, None),
        field("update_time", Kind::Str, Card::One, None),
        field("usage_metadata", Kind::Struct, Card::One, None),
    ],
};

/// What a cache holds: the prefix every request naming it starts with.
#[derive(Debug)]
pub struct CachedPrefix {
    /// The model id it was made for (without `models/`).
    pub model: String,
    /// Its tokens, by the mock's count.
    pub tokens: u64,
    /// `systemInstruction`, `contents`, `tools`, `toolConfig` as given.
    pub request: Map<String, Value>,
}

/// One stored cache.
#[derive(Debug)]
struct StoredCache {
    project: String,
    display_name: Option<String>,
    created_ms: i64,
    updated_ms: i64,
    expires_ms: i64,
    prefix: Arc<CachedPrefix>,
    seq: u64,
}

/// Every project's caches, by id.
#[derive(Debug, Default)]
pub struct CacheStore {
    caches: HashMap<String, StoredCache>,
    seq: u64,
}

/// Google's 403 for a cache the caller's project does not have (or that does not exist).
pub fn denied() -> ApiError {
    ApiError::new(
        403,
        "PERMISSION_DENIED",
        "CachedContent not found (or permission denied)",
    )
}

/// The id of `cachedContents/{id}` (or a bare id).
pub fn cache_id(name: &str) -> &str {
    name.strip_prefix("cachedContents/").unwrap_or(name)
}

impl CacheStore {
    fn purge(&mut self, now: i64) {
        self.caches.retain(|_, c| c.expires_ms > now);
    }

    fn owned(&mut self, project: &str, id: &str) -> Result<&mut StoredCache, ApiError> {
        self.purge(now_ms());
        self.caches
            .get_mut(id)
            .filter(|c| c.project == project)
            .ok_or_else(denied)
    }

    /// The prefix of `project`'s cache `name`, or Google's 403.
    pub fn prefix(&mut self, project: &str, name: &str) -> Result<Arc<CachedPrefix>, ApiError> {
        Ok(self.owned(project, cache_id(name))?.prefix.clone())
    }
}

impl StoredCache {
    fn resource(&self, id: &str) -> Value {
        let mut cache = json!({
            "name": format!("cachedContents/{id}"),
            "model": format!("models/{}", self.prefix.model),
            "createTime": timestamp(self.created_ms),
            "updateTime": timestamp(self.updated_ms),
            "expireTime": timestamp(self.expires_ms),
            "usageMetadata": {"totalTokenCount": self.prefix.tokens},
        });
        if let Some(name) = &self.display_name {
            cache["displayName"] = json!(name);
        }
        cache
    }
}

/// The expiry a body's `ttl` or `expireTime` asks for, from `now` (`None`: neither is set).
fn expiry(body: &Map<String, Value>, now: i64) -> Result<Option<i64>, ApiError> {
    if let Some(ttl) = body.get("ttl").and_then(Value::as_str) {
        let seconds = ttl
            .strip_suffix('s')
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite());
        let Some(seconds) = seconds else {
            return Err(ApiError::bad_request(&[Violation {
                field: Some("cached_content.ttl".into()),
                description: format!(
                    "Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), \"{ttl}\""
                ),
            }]));
        };
        if seconds <= 0.0 {
            return Err(ApiError::invalid_argument(
                "* CachedContent.ttl: ttl must be positive.\n",
            ));
        }
        return Ok(Some(now.saturating_add((seconds * 1000.0) as i64)));
    }
    if let Some(text) = body.get("expireTime").and_then(Value::as_str) {
        let Some(at) = parse_timestamp(text) else {
            return Err(ApiError::bad_request(&[Violation {
                field: Some("cached_content.expire_time".into()),
                description: format!(
                    "Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp), \"{text}\""
                ),
            }]));
        };
        if at <= now {
            return Err(ApiError::invalid_argument(
                "* CachedContent.expire_time: expire_time must be in the future.\n",
            ));
        }
        return Ok(Some(at));
    }
    Ok(None)
}

/// The model a cache is made for, as the key's tier and the API version see it.
fn cache_model(
    call: &ResourceCall<'_>,
    version: &str,
    body: &Map<String, Value>,
) -> Result<&'static ModelInfo, ApiError> {
    let named = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(id) = named
        .strip_prefix("models/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
    else {
        return Err(ApiError::invalid_argument(if named.is_empty() {
            "* CreateCachedContentRequest.cached_content.model: model is required.\n"
        } else {
            "* CreateCachedContentRequest.cached_content.model: unexpected model name format\n"
        }));
    };
    let paid = lock(&call.state.quotas).paid(call.key()?);
    let model = find_visible(id, version, paid)
        .filter(|m| m.generates)
        .ok_or_else(|| ApiError::model_not_found(id, version, "createCachedContent"))?;
    if model.is_gemini4() {
        return Err(ApiError::invalid_argument(format!(
            "Explicit context caching is not supported for models/{id}. Gemini 4 models cache \
             prompts implicitly."
        )));
    }
    Ok(model)
}

/// `POST /{v}/cachedContents`.
pub fn create(
    call: &mut ResourceCall<'_>,
    project: &str,
    version: &str,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let body = parse_message(bytes, &CACHED_CONTENT)?;
    let model = cache_model(call, version, &body)?;
    call.model = Some(model.id.to_owned());
    let mut request = Map::new();
    for key in ["systemInstruction", "contents", "tools", "toolConfig"] {
        if let Some(value) = body.get(key) {
            request.insert(key.to_owned(), value.clone());
        }
    }
    if request
        .get("contents")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty())
    {
        check_generate(&request, model.serving(), None)?;
    }
    super::generation::check_files(call.state, project, &request)?;
    let tokens = if request.is_empty() {
        0
    } else {
        prompt_tokens(&request)
    };
    let minimum = u64::from(model.serving().min_cache_tokens);
    if tokens < minimum {
        return Err(ApiError::invalid_argument(format!(
            "Cached content is too small. total_token_count={tokens}, min_total_token_count={minimum}"
        )));
    }
    let now = now_ms();
    let expires_ms = expiry(&body, now)?.unwrap_or(now + DEFAULT_TTL_MS);
    let id = new_id(call.state);
    let cache = StoredCache {
        project: project.to_owned(),
        display_name: body
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_ms: now,
        updated_ms: now,
        expires_ms,
        prefix: Arc::new(CachedPrefix {
            model: model.id.to_owned(),
            tokens,
            request,
        }),
        seq: 0,
    };
    let resource = cache.resource(&id);
    let mut resources = lock(&call.state.resources);
    let store = &mut resources.caches;
    store.seq += 1;
    store.caches.insert(
        id,
        StoredCache {
            seq: store.seq,
            ..cache
        },
    );
    Ok(call.answer(&resource))
}

/// `GET /{v}/cachedContents`: the project's caches, newest first.
pub fn list(call: &ResourceCall<'_>) -> Result<Response, ApiError> {
    let project = call.project()?;
    let (size, start) = call.page_request(10, 1000)?;
    let mut resources = lock(&call.state.resources);
    let store = &mut resources.caches;
    store.purge(now_ms());
    let mut mine: Vec<(&String, &StoredCache)> = store
        .caches
        .iter()
        .filter(|(_, c)| c.project == project)
        .collect();
    mine.sort_by_key(|(_, cache)| std::cmp::Reverse(cache.seq));
    let all: Vec<Value> = mine.into_iter().map(|(id, c)| c.resource(id)).collect();
    drop(resources);
    let (page, next) = page_of(all, size, start);
    let mut answer = json!({});
    if !page.is_empty() {
        answer["cachedContents"] = json!(page);
    }
    if let Some(token) = next {
        answer["nextPageToken"] = json!(token);
    }
    Ok(call.answer(&answer))
}

/// `GET /{v}/cachedContents/{id}`.
pub fn get(call: &mut ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    check_params(call.params, &[])?;
    let mut resources = lock(&call.state.resources);
    let cache = resources.caches.owned(&project, id)?;
    call.model = Some(cache.prefix.model.clone());
    let resource = cache.resource(id);
    drop(resources);
    Ok(call.answer(&resource))
}

/// `PATCH /{v}/cachedContents/{id}?updateMask=ttl`: a new `ttl` or `expireTime`.
pub fn patch(
    call: &mut ResourceCall<'_>,
    project: &str,
    id: &str,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let body = parse_message(bytes, &CACHED_CONTENT)?;
    if let Some(mask) = param(call.params, "updateMask") {
        for path in mask.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !matches!(path, "ttl" | "expireTime" | "expire_time") {
                return Err(ApiError::invalid_argument(format!(
                    "* UpdateCachedContentRequest.update_mask: field \"{path}\" can not be \
                     updated; only ttl and expire_time can.\n"
                )));
            }
        }
    }
    let now = now_ms();
    let Some(expires_ms) = expiry(&body, now)? else {
        return Err(ApiError::invalid_argument(
            "* UpdateCachedContentRequest.cached_content: ttl or expire_time must be set.\n",
        ));
    };
    let mut resources = lock(&call.state.resources);
    let cache = resources.caches.owned(project, id)?;
    cache.expires_ms = expires_ms;
    cache.updated_ms = now;
    call.model = Some(cache.prefix.model.clone());
    let resource = cache.resource(id);
    drop(resources);
    Ok(call.answer(&resource))
}

/// `DELETE /{v}/cachedContents/{id}`: `{}`.
pub fn delete(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    check_params(call.params, &[])?;
    let mut resources = lock(&call.state.resources);
    resources.caches.owned(&project, id)?;
    resources.caches.caches.remove(id);
    drop(resources);
    Ok(call.answer(&json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn expiry_reads_ttl_and_expire_time() {
        assert_eq!(
            expiry(&body(json!({"ttl": "300s"})), 1000).unwrap(),
            Some(301_000)
        );
        assert_eq!(
            expiry(&body(json!({"ttl": "1.5s"})), 0).unwrap(),
            Some(1500)
        );
        assert_eq!(
            expiry(&body(json!({"expireTime": "1970-01-01T00:00:10Z"})), 0).unwrap(),
            Some(10_000)
        );
        assert_eq!(expiry(&body(json!({})), 0).unwrap(), None);
        assert_eq!(
            expiry(&body(json!({"ttl": "5m"})), 0).unwrap_err().code,
            400
        );
        assert_eq!(
            expiry(&body(json!({"ttl": "-1s"})), 0).unwrap_err().code,
            400
        );
        assert_eq!(
            expiry(&body(json!({"expireTime": "1970-01-01T00:00:10Z"})), 20_000)
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(cache_id("cachedContents/abc"), "abc");
    }
}
