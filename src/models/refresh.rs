//! Reads the live catalog: every key lists the models under each API version (`models.list`,
//! paged; free of quota), a few keys at a time, each call bounded in time. A key whose listing
//! fails is left out of what is known (it lacks nothing we know of); one Google refuses as a
//! key (invalid, revoked) is reported, for the pool to disable.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use http::Method;
use serde_json::Value;

use super::catalog::{Catalog, VERSIONS};
use crate::clock::UnixMillis;
use crate::secret::ApiKey;
use crate::upstream::classify::{classify, Verdict};
use crate::upstream::status::RpcStatus;
use crate::upstream::{Upstream, UpstreamRequest};

/// Keys listing at once.
const CONCURRENCY: usize = 4;

/// Pages one listing may take (1000 models each: a bound, not an expectation).
const MAX_PAGES: usize = 10;

/// Largest listing page read.
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// What one reading found.
#[derive(Debug, Default)]
pub struct Reading {
    pub catalog: Catalog,
    /// Keys whose listing Google refused as a key problem: (pool index, verdict).
    pub rejected: Vec<(usize, Verdict)>,
    /// Keys whose listing failed otherwise (unreachable, 5xx, …).
    pub failed: usize,
}

/// Lists the models of every key in `keys` (pool index, key) at `now`.
pub async fn read(
    upstream: &dyn Upstream,
    keys: &[(usize, ApiKey)],
    timeout: Duration,
    now: UnixMillis,
) -> Reading {
    let listings: Vec<_> = futures_util::stream::iter(keys.iter().cloned())
        .map(|(index, key)| async move {
            let listing = list_key(upstream, &key, timeout).await;
            (index, key, listing)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut reading = Reading::default();
    reading.catalog.fetched_at = now;
    for (index, key, listing) in listings {
        match listing {
            Ok(by_version) => {
                for (version, models) in by_version {
                    reading.catalog.add_listing(key.id(), version, &models);
                }
            }
            Err(Some(verdict @ Verdict::KeyRejected(_))) => reading.rejected.push((index, verdict)),
            Err(_) => reading.failed += 1,
        }
    }
    reading
}

/// One key's models under each version; `Err(Some(verdict))` when Google answered an error,
/// `Err(None)` when it did not answer.
async fn list_key(
    upstream: &dyn Upstream,
    key: &ApiKey,
    timeout: Duration,
) -> Result<Vec<(&'static str, Vec<Value>)>, Option<Verdict>> {
    let mut out = Vec::with_capacity(VERSIONS.len());
    for version in VERSIONS {
        let mut models = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = match &token {
                Some(t) => format!(
                    "&pageToken={}",
                    percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC)
                ),
                None => String::new(),
            };
            let req = UpstreamRequest {
                method: Method::GET,
                path_and_query: format!("/{version}/models?pageSize=1000{page}"),
                body: None,
                extra: None,
            };
            let (status, body) = tokio::time::timeout(timeout, fetch(upstream, key, &req))
                .await
                .map_err(|_| None)?
                .ok_or(None)?;
            if status != 200 {
                // A version this key cannot list (or that does not exist) only says nothing
                // about it, unless the refusal is about the key.
                let verdict = classify(status, RpcStatus::parse(&body).as_ref());
                if matches!(verdict, Verdict::KeyRejected(_)) || version == VERSIONS[0] {
                    return Err(Some(verdict));
                }
                break;
            }
            let page: Value = serde_json::from_slice(&body).map_err(|_| None)?;
            if let Some(list) = page.get("models").and_then(Value::as_array) {
                models.extend(list.iter().cloned());
            }
            token = page
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                out.push((version, models));
                break;
            }
        }
    }
    Ok(out)
}

/// The status and (bounded) body of one GET; `None` when the connection failed.
async fn fetch(
    upstream: &dyn Upstream,
    key: &ApiKey,
    req: &UpstreamRequest,
) -> Option<(u16, bytes::Bytes)> {
    let resp = upstream.send(key, req).await.ok()?;
    let mut body = resp.body;
    let mut all = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.ok()?;
        if all.len() + chunk.len() > MAX_PAGE_BYTES {
            return None;
        }
        all.extend_from_slice(&chunk);
    }
    Some((resp.status.as_u16(), all.freeze()))
}
