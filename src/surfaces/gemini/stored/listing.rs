//! One list over every project: `GET /files`, `/cachedContents` and `/batches` each show only
//! the asking key's project upstream, so the gateway asks one key of each project (any of a
//! declared project's keys; each undeclared key is a project of its own), follows each
//! project's pages, merges the items (each once, by name), writes down who owns each, and pages
//! the whole itself (`pageSize`, `pageToken` of its own). A project none of whose keys can
//! answer now is left out and said so in `x-gateway-partial`; only when no project answers is
//! the list an error.

use std::collections::{BTreeMap, HashSet};

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::learn::owner_of;
use super::{refused, Call};
use crate::dispatch::{Placement, Route};
use crate::resources::{Kind, ResourceName};
use crate::surfaces::gemini::errors::{Code, GoogleError};
use crate::surfaces::gemini::query::gateway_page;
use crate::upstream::UpstreamRequest;

/// Pages asked of one project at most (of [`UPSTREAM_PAGE`] items each).
const MAX_PAGES_PER_PROJECT: usize = 50;
/// The page size asked upstream (Google's maximum for files).
const UPSTREAM_PAGE: usize = 100;
/// The gateway's page when the client asks for none, and its largest.
const DEFAULT_PAGE: usize = 10;
const MAX_PAGE: usize = 1000;

/// The merged list of `call.kind`'s resources, one page of it.
pub(super) async fn list(call: &Call<'_>) -> Response {
    let field = match call.kind {
        Kind::File => "files",
        Kind::Cache => "cachedContents",
        Kind::Batch | Kind::Interaction | Kind::Upload => "operations",
    };
    let Some((start, size)) = gateway_page(call.uri, DEFAULT_PAGE, MAX_PAGE) else {
        return GoogleError::new(Code::InvalidArgument, "Invalid page token.").into_response();
    };
    let pool = call.ctx.dispatcher.pool();
    let mut projects: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, key) in pool.live_keys() {
        let label = pool
            .declared_project(index)
            .map_or_else(|| format!("key {}", key.id()), |p| format!("project {p}"));
        projects.entry(label).or_default().push(index);
    }
    let mut items: Vec<Value> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let (mut missing, mut last_error) = (Vec::new(), None);
    for (label, keys) in projects {
        match list_project(call, field, keys).await {
            Ok(found) => {
                for item in found {
                    let name = item["name"].as_str().unwrap_or_default().to_string();
                    if seen.insert(name) {
                        items.push(item);
                    }
                }
            }
            Err(resp) => {
                missing.push(label);
                last_error = Some(resp);
            }
        }
    }
    if let (true, Some(err)) = (seen.is_empty() && !missing.is_empty(), last_error) {
        return err;
    }
    let page: Vec<&Value> = items.iter().skip(start).take(size).collect();
    let mut body = if page.is_empty() {
        json!({})
    } else {
        json!({ field: page })
    };
    if start + size < items.len() {
        body["nextPageToken"] = json!(format!("gw-{}", start + size));
    }
    let mut resp = axum::Json(body).into_response();
    if !missing.is_empty() {
        let note = format!(
            "{} could not be listed now: {}",
            missing.len(),
            missing.join(", ")
        );
        if let Ok(v) = HeaderValue::from_str(&note) {
            resp.headers_mut().insert("x-gateway-partial", v);
        }
    }
    resp
}

/// Every item one project lists, its pages followed; each item's owner written down.
async fn list_project(
    call: &Call<'_>,
    field: &str,
    keys: Vec<usize>,
) -> Result<Vec<Value>, Response> {
    let dispatcher = &call.ctx.dispatcher;
    let route = Route::resources()
        .with_tally(call.tally.clone())
        .placed(Some(Placement::new(keys)));
    let collection = call.kind.collection();
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES_PER_PROJECT {
        let mut path = format!("/{}/{collection}?pageSize={UPSTREAM_PAGE}", call.version);
        if let Some(t) = &token {
            path.push_str("&pageToken=");
            path.push_str(&percent_encode(t));
        }
        let answer = dispatcher
            .unary(&route, &UpstreamRequest::get(path))
            .await
            .map_err(|e| refused(call.ctx, None, route.name(), e))?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let owner = owner_of(dispatcher.pool(), &answer.lease, call.ctx.owners.now());
        if let Some(found) = body.get(field).and_then(Value::as_array) {
            for item in found {
                if let Some(name) = item["name"].as_str().and_then(ResourceName::parse) {
                    call.ctx.owners.record(&name, owner.clone()).await;
                }
                items.push(item.clone());
            }
        }
        token = body["nextPageToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

/// A page token as a query value (Google's tokens are base64: `+`, `/`, `=` need escaping).
fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
