//! The resources a Google Cloud project owns on the Gemini API: uploaded and generated files (the
//! Files API), context caches (`cachedContents`), batches, interactions and the implicit cache of recent prompt
//! prefixes. Each belongs to the **project** of the key that created it (`Quotas::project_of`):
//! a key of another project is answered Google's 403, exactly as when the id does not exist
//! (Google cannot tell them apart). This is what lets the gateway's tests see which project a
//! file, a cache or a conversation's prefix lives in.
//!
//! This module routes `/upload/{v}/files`, `/download/{v}/files/…`, `/{v}/files…`,
//! `/{v}/cachedContents…`, `/{v}/batches…`, `models/{m}:batchGenerateContent` and
//! `/{v}/interactions…` (`v1`, `v1beta`, `v1alpha`: the SDKs now default to `v1`), authenticates, records every call in the request
//! log (with an `action` such as `files.upload` or `cachedContents.get`) and holds the store. The
//! routes themselves live in `files`, `upload`, `multipart` and `caches`; what generation draws
//! from the store (file references, `cachedContent`, implicit hits) lives in `generation`.

mod batches;
mod caches;
mod files;
mod generation;
mod implicit_cache;
mod interactions;
mod multipart;
mod upload;

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::errors::{json_response, ApiError};
use crate::ordered::Json;
use crate::proto::{self, Msg};
use crate::request::{authenticate, check_params, credentials, pretty, query_params, MAX_BODY};
use crate::state::{lock, Entry, State};

pub use files::GeneratedFile;
pub use generation::ResourceUse;

/// Everything the projects own, behind one lock in `State`.
#[derive(Default)]
pub struct Resources {
    files: files::FileStore,
    uploads: upload::Sessions,
    caches: caches::CacheStore,
    batches: batches::BatchStore,
    interactions: interactions::InteractionStore,
    implicit: implicit_cache::ImplicitCache,
}

/// A call on a project resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceRoute {
    /// `POST /upload/{v}/files`: start or continue a resumable upload, or a multipart/raw one.
    Upload {
        version: String,
    },
    FileList {
        version: String,
    },
    FileGet {
        version: String,
        id: String,
    },
    FileDelete {
        version: String,
        id: String,
    },
    /// `GET /{v}/files/{id}:download` or `/download/{v}/files/{id}:download`.
    FileDownload {
        version: String,
        id: String,
    },
    CacheCreate {
        version: String,
    },
    CacheList {
        version: String,
    },
    CacheGet {
        version: String,
        id: String,
    },
    CachePatch {
        version: String,
        id: String,
    },
    CacheDelete {
        version: String,
        id: String,
    },
    /// `POST /{v}/models/{model}:batchGenerateContent`.
    BatchCreate {
        version: String,
        model: String,
    },
    BatchList {
        version: String,
    },
    BatchGet {
        version: String,
        id: String,
    },
    BatchCancel {
        version: String,
        id: String,
    },
    BatchDelete {
        version: String,
        id: String,
    },
    InteractionCreate {
        version: String,
    },
    InteractionGet {
        version: String,
        id: String,
    },
    InteractionCancel {
        version: String,
        id: String,
    },
    InteractionDelete {
        version: String,
        id: String,
    },
}

impl ResourceRoute {
    /// The resource call `method` and `uri` name, if any (other paths are the model routes').
    pub fn parse(method: &Method, uri: &Uri) -> Option<ResourceRoute> {
        // Model calls (the hot path) are told apart without allocating.
        let p = uri.path();
        if !p.contains("/files")
            && !p.contains("/cachedContents")
            && !p.contains("/batches")
            && !p.contains("batchGenerateContent")
            && !p.contains("/interactions")
        {
            return None;
        }
        let path = uri.path().replace("%3A", ":").replace("%3a", ":");
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let version = |v: &str| matches!(v, "v1" | "v1beta" | "v1alpha").then(|| v.to_owned());
        let id = |s: &str| (!s.is_empty() && !s.contains(':')).then(|| s.to_owned());
        let route = match (method, segments.as_slice()) {
            (&Method::POST, ["upload", v, "files"]) => ResourceRoute::Upload {
                version: version(v)?,
            },
            (&Method::GET, ["download", v, "files", rest]) => ResourceRoute::FileDownload {
                version: version(v)?,
                id: id(rest.strip_suffix(":download")?)?,
            },
            (&Method::GET, [v, "files"]) => ResourceRoute::FileList {
                version: version(v)?,
            },
            (&Method::GET, [v, "files", rest]) => match rest.strip_suffix(":download") {
                Some(name) => ResourceRoute::FileDownload {
                    version: version(v)?,
                    id: id(name)?,
                },
                None => ResourceRoute::FileGet {
                    version: version(v)?,
                    id: id(rest)?,
                },
            },
            (&Method::DELETE, [v, "files", rest]) => ResourceRoute::FileDelete {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::POST, [v, "cachedContents"]) => ResourceRoute::CacheCreate {
                version: version(v)?,
            },
            (&Method::GET, [v, "cachedContents"]) => ResourceRoute::CacheList {
                version: version(v)?,
            },
            (&Method::GET, [v, "cachedContents", rest]) => ResourceRoute::CacheGet {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::PATCH, [v, "cachedContents", rest]) => ResourceRoute::CachePatch {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::DELETE, [v, "cachedContents", rest]) => ResourceRoute::CacheDelete {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::POST, [v, "models", rest]) => ResourceRoute::BatchCreate {
                version: version(v)?,
                model: id(rest.strip_suffix(":batchGenerateContent")?)?,
            },
            (&Method::GET, [v, "batches"]) => ResourceRoute::BatchList {
                version: version(v)?,
            },
            (&Method::GET, [v, "batches", rest]) => ResourceRoute::BatchGet {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::POST, [v, "batches", rest]) => ResourceRoute::BatchCancel {
                version: version(v)?,
                id: id(rest.strip_suffix(":cancel")?)?,
            },
            (&Method::DELETE, [v, "batches", rest]) => ResourceRoute::BatchDelete {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::POST, [v, "interactions"]) => ResourceRoute::InteractionCreate {
                version: version(v)?,
            },
            (&Method::GET, [v, "interactions", rest]) => ResourceRoute::InteractionGet {
                version: version(v)?,
                id: id(rest)?,
            },
            (&Method::POST, [v, "interactions", rest, "cancel"]) => {
                ResourceRoute::InteractionCancel {
                    version: version(v)?,
                    id: id(rest)?,
                }
            }
            (&Method::DELETE, [v, "interactions", rest]) => ResourceRoute::InteractionDelete {
                version: version(v)?,
                id: id(rest)?,
            },
            _ => return None,
        };
        Some(route)
    }

    /// The request log's `action` for this call.
    pub fn action(&self) -> &'static str {
        match self {
            ResourceRoute::Upload { .. } => "files.upload",
            ResourceRoute::FileList { .. } => "files.list",
            ResourceRoute::FileGet { .. } => "files.get",
            ResourceRoute::FileDelete { .. } => "files.delete",
            ResourceRoute::FileDownload { .. } => "files.download",
            ResourceRoute::CacheCreate { .. } => "cachedContents.create",
            ResourceRoute::CacheList { .. } => "cachedContents.list",
            ResourceRoute::CacheGet { .. } => "cachedContents.get",
            ResourceRoute::CachePatch { .. } => "cachedContents.patch",
            ResourceRoute::CacheDelete { .. } => "cachedContents.delete",
            ResourceRoute::BatchCreate { .. } => "batches.create",
            ResourceRoute::BatchList { .. } => "batches.list",
            ResourceRoute::BatchGet { .. } => "batches.get",
            ResourceRoute::BatchCancel { .. } => "batches.cancel",
            ResourceRoute::BatchDelete { .. } => "batches.delete",
            ResourceRoute::InteractionCreate { .. } => "interactions.create",
            ResourceRoute::InteractionGet { .. } => "interactions.get",
            ResourceRoute::InteractionCancel { .. } => "interactions.cancel",
            ResourceRoute::InteractionDelete { .. } => "interactions.delete",
        }
    }
}

/// One resource call being served: what the handlers read, and what the log records.
pub(crate) struct ResourceCall<'a> {
    pub state: &'a Arc<State>,
    pub headers: &'a HeaderMap,
    pub params: &'a [(String, String)],
    api_key: Option<&'a str>,
    host: Option<String>,
    /// The body (or upload metadata) the request log keeps.
    pub logged: Bytes,
    /// The model the call concerns, for the log.
    pub model: Option<String>,
}

/// Serves a resource call and records it in the request log.
pub async fn handle(state: Arc<State>, route: ResourceRoute, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let params = query_params(&parts.uri);
    let (api_key, key_in_query) = credentials(&parts.headers, &params);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    let mut call = ResourceCall {
        state: &state,
        headers: &parts.headers,
        params: &params,
        api_key: api_key.as_deref(),
        host,
        logged: Bytes::new(),
        model: None,
    };
    let response = match call.serve(&route, body).await {
        Ok(response) => response,
        Err(error) => error.to_response(false, pretty(&params)),
    };
    let (logged, model) = (call.logged, call.model);
    state.record(Entry {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        api_key,
        key_in_query,
        model,
        action: Some(route.action().to_owned()),
        body: logged,
        status: response.status().as_u16(),
        http_version: parts.version,
    });
    response
}

impl ResourceCall<'_> {
    async fn serve(&mut self, route: &ResourceRoute, body: Body) -> Result<Response, ApiError> {
        match route {
            ResourceRoute::Upload { version } => upload::serve(self, version, body).await,
            ResourceRoute::FileList { .. } => files::list(self),
            ResourceRoute::FileGet { id, .. } => files::get(self, id),
            ResourceRoute::FileDelete { id, .. } => files::delete(self, id),
            ResourceRoute::FileDownload { id, .. } => files::download(self, id),
            ResourceRoute::CacheCreate { version } => {
                let project = self.project()?;
                check_params(self.params, &[])?;
                let body = self.json_body(body).await?;
                caches::create(self, &project, version, &body)
            }
            ResourceRoute::CacheList { .. } => caches::list(self),
            ResourceRoute::CacheGet { id, .. } => caches::get(self, id),
            ResourceRoute::CachePatch { id, .. } => {
                let project = self.project()?;
                check_params(self.params, &["updateMask"])?;
                let body = self.json_body(body).await?;
                caches::patch(self, &project, id, &body)
            }
            ResourceRoute::CacheDelete { id, .. } => caches::delete(self, id),
            ResourceRoute::BatchCreate { model, .. } => {
                let project = self.project()?;
                check_params(self.params, &[])?;
                self.model = Some(model.clone());
                let body = self.json_body(body).await?;
                batches::create(self, &project, model, &body)
            }
            ResourceRoute::BatchList { .. } => batches::list(self),
            ResourceRoute::BatchGet { id, .. } => batches::get(self, id),
            ResourceRoute::BatchCancel { id, .. } => batches::cancel(self, id),
            ResourceRoute::BatchDelete { id, .. } => batches::delete(self, id),
            ResourceRoute::InteractionCreate { .. } => {
                let project = self.project()?;
                let body = self.json_body(body).await?;
                interactions::create(self, &project, &body)
            }
            ResourceRoute::InteractionGet { id, .. } => interactions::get(self, id),
            ResourceRoute::InteractionCancel { id, .. } => interactions::cancel(self, id),
            ResourceRoute::InteractionDelete { id, .. } => interactions::delete(self, id),
        }
    }

    /// The calling key (authenticated like every Gemini call).
    pub fn key(&self) -> Result<&str, ApiError> {
        authenticate(self.api_key, self.headers)
    }

    /// Whether the call carries a key at all.
    pub fn has_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The project of the calling key.
    pub fn project(&self) -> Result<String, ApiError> {
        let key = self.key()?;
        Ok(lock(&self.state.quotas).project_of(key).to_owned())
    }

    /// `http://{Host}` of this request (Google's own host when there is none).
    pub fn origin(&self) -> String {
        match &self.host {
            Some(host) => format!("http://{host}"),
            None => "https://generativelanguage.googleapis.com".to_owned(),
        }
    }

    /// Reads a JSON body whole (at most the API's 20 MB) and keeps it for the log.
    async fn json_body(&mut self, body: Body) -> Result<Bytes, ApiError> {
        let bytes = match to_bytes(body, MAX_BODY + 1).await {
            Ok(bytes) if bytes.len() <= MAX_BODY => bytes,
            _ => {
                return Err(ApiError::invalid_argument(format!(
                    "Request payload size exceeds the limit: {MAX_BODY} bytes."
                )))
            }
        };
        self.logged = bytes.clone();
        Ok(bytes)
    }

    /// A 200 JSON answer, pretty unless `prettyPrint=false`.
    pub fn answer(&self, body: &Value) -> Response {
        json_response(StatusCode::OK, body, pretty(self.params))
    }

    /// The `pageSize` and `pageToken` of a list call (`default` and `max` page sizes).
    pub fn page_request(&self, default: usize, max: usize) -> Result<(usize, usize), ApiError> {
        check_params(self.params, &["pageSize", "pageToken"])?;
        let size = match crate::request::param(self.params, "pageSize").map(str::parse::<i64>) {
            None => default,
            Some(Ok(n)) if n <= 0 => default,
            Some(Ok(n)) => usize::try_from(n).unwrap_or(max).min(max),
            Some(Err(_)) => {
                return Err(ApiError::invalid_argument(
                    "Invalid value at 'page_size' (TYPE_INT32)",
                ))
            }
        };
        let start = match crate::request::param(self.params, "pageToken") {
            None | Some("") => 0,
            Some(token) => URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|text| text.strip_prefix("offset:")?.parse().ok())
                .ok_or_else(|| ApiError::invalid_argument("Invalid page token."))?,
        };
        Ok((size, start))
    }
}

/// One page of `items` from `start`: the page and the token of the next one.
pub fn page_of<T>(items: Vec<T>, size: usize, start: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let page: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    let next = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    (page, next)
}

/// Parses `bytes` (empty: `{}`) as proto JSON message `msg`, or Google's 400.
pub fn parse_message(bytes: &[u8], msg: &'static Msg) -> Result<Map<String, Value>, ApiError> {
    let raw: Json = if bytes.iter().all(u8::is_ascii_whitespace) {
        Json::Object(Vec::new())
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::invalid_argument(format!(
                "Invalid JSON payload received. {}",
                if e.is_eof() {
                    "Unexpected end of string."
                } else {
                    "Unexpected token."
                }
            ))
        })?
    };
    let (normalised, violations) = proto::parse(&raw, msg);
    if !violations.is_empty() {
        return Err(ApiError::bad_request(&violations));
    }
    Ok(match normalised {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

/// A fresh resource id: 12 lowercase letters and digits, like Google's.
pub fn new_id(state: &State) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut seed = state.nonce();
    (0..12)
        .map(|_| {
            let n = crate::signatures::splitmix(&mut seed) % ALPHABET.len() as u64;
            char::from(ALPHABET[n as usize])
        })
        .collect()
}

/// Now, in Unix milliseconds (Google's clock).
pub fn now_ms() -> i64 {
    crate::quota::wall_ms()
}

/// A timestamp as Google writes it: `2026-12-01T09:30:12.123456Z`.
pub fn timestamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp to Unix milliseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Adds `name: value` to a response's headers (values the mock makes are always valid).
pub fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> Option<ResourceRoute> {
        ResourceRoute::parse(&method, &path.parse::<Uri>().unwrap())
    }

    #[test]
    fn routes_files_caches_and_leaves_models_alone() {
        assert_eq!(
            route(Method::GET, "/v1beta/files/abc%3Adownload?alt=media"),
            Some(ResourceRoute::FileDownload {
                version: "v1beta".into(),
                id: "abc".into()
            })
        );
        assert_eq!(
            route(Method::GET, "/download/v1alpha/files/abc:download"),
            Some(ResourceRoute::FileDownload {
                version: "v1alpha".into(),
                id: "abc".into()
            })
        );
        assert_eq!(
            route(Method::PATCH, "/v1beta/cachedContents/x1").map(|r| r.action()),
            Some("cachedContents.patch")
        );
        assert_eq!(
            route(Method::GET, "/v1/files"),
            Some(ResourceRoute::FileList {
                version: "v1".into()
            })
        );
        assert_eq!(
            route(
                Method::POST,
                "/v1beta/models/gemini-3.8-flash:batchGenerateContent"
            )
            .map(|r| r.action()),
            Some("batches.create")
        );
        assert_eq!(
            route(
                Method::POST,
                "/v1beta/models/gemini-3.8-flash:generateContent"
            ),
            None
        );
        assert_eq!(
            route(Method::POST, "/v1/batches/abc:cancel").map(|r| r.action()),
            Some("batches.cancel")
        );
        assert_eq!(route(Method::PUT, "/v1beta/files/abc"), None);
        assert_eq!(route(Method::GET, "/v1beta/models/gemini-3.8-flash"), None);
        assert_eq!(route(Method::GET, "/v1beta/files/"), None);
    }

    #[test]
    fn pages_hand_out_opaque_tokens() {
        let (page, next) = page_of((0..25).collect(), 10, 0);
        assert_eq!(page.len(), 10);
        let token = next.unwrap();
        let start: usize = String::from_utf8(URL_SAFE_NO_PAD.decode(&token).unwrap())
            .unwrap()
            .strip_prefix("offset:")
            .unwrap()
            .parse()
            .unwrap();
        let (page, next) = page_of((0..25).collect(), 10, start);
        assert_eq!(page, (10..20).collect::<Vec<_>>());
        assert!(next.is_some());
        let (page, next) = page_of((0..25).collect(), 10, 20);
        assert_eq!((page.len(), next), (5, None));
        assert!(page_of::<u8>(Vec::new(), 10, 40).0.is_empty());
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1000));
    }
}
