//! `gemini-gateway check-keys`: asks Gemini about every key, a few at a time, and says which
//! work. Each key gets the model list (free; says whether the key is known and which models it
//! may call) and, when that answers, a one-token `generateContent` on the checked model (the
//! only way to learn its quota state; it costs one request of the key's quota). Nothing is
//! written to the state store, and keys appear masked and by id only.

pub mod report;
pub mod verdict;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use http::Method;
use serde::Serialize;

use crate::models::{names, Catalog};
use crate::secret::{self, ApiKey};
use crate::upstream::status::RpcStatus;
use crate::upstream::{Upstream, UpstreamRequest};
pub use verdict::Verdict;

/// How the check runs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The model the one-token generation asks (after the model list); `None`: the newest
    /// flash-tier model the key lists.
    pub model: Option<String>,
    /// Keys checked at once.
    pub concurrency: usize,
    /// Longest wait for each of a key's two answers.
    pub timeout: Duration,
}

/// What the check found for one key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// Masked: first 6 characters, `...`, last 4.
    pub key: String,
    /// The key's id (as `/v1/keys/status` shows it).
    pub id: String,
    pub verdict: Verdict,
    /// Usable now for the checked model.
    pub usable: bool,
    /// The HTTP status of the answer the verdict rests on (none when unreachable).
    pub status: Option<u16>,
    /// Gemini's message (or the transport's), redacted of every key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Models the key may call `generateContent` on (from the model list).
    pub models: Vec<String>,
}

/// Largest answer read from Gemini per call.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// Checks every key, `concurrency` at a time; `done` is called as each key finishes. The
/// reports come back in the keys' order.
pub async fn check_all<U: Upstream>(
    upstream: &U,
    keys: &[ApiKey],
    opts: &CheckOptions,
    done: impl Fn(&KeyReport),
) -> Vec<KeyReport> {
    let mut reports: Vec<(usize, KeyReport)> = stream::iter(keys.iter().enumerate())
        .map(|(i, key)| async move { (i, check_one(upstream, key, opts).await) })
        .buffer_unordered(opts.concurrency.max(1))
        .inspect(|(_, r)| done(r))
        .collect()
        .await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// One answer: its status and body, or why there was none.
async fn ask<U: Upstream>(
    upstream: &U,
    key: &ApiKey,
    req: &UpstreamRequest,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    let call = async {
        let resp = upstream.send(key, req).await.map_err(|e| e.to_string())?;
        let mut body = resp.body;
        let mut all = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            if all.len() + chunk.len() > MAX_ANSWER {
                break;
            }
            all.extend_from_slice(&chunk);
        }
        Ok((resp.status.as_u16(), all.freeze()))
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
    }
}

async fn check_one<U: Upstream>(upstream: &U, key: &ApiKey, opts: &CheckOptions) -> KeyReport {
    let mut report = KeyReport {
        key: key.masked().to_string(),
        id: key.id().to_string(),
        verdict: Verdict::Unreachable,
        usable: false,
        status: None,
        detail: None,
        models: Vec::new(),
    };
    let list = UpstreamRequest {
        method: Method::GET,
        path_and_query: "/v1beta/models?pageSize=1000".into(),
        body: None,
        extra: None,
    };
    let mut model = opts.model.clone();
    match ask(upstream, key, &list, opts.timeout).await {
        Err(why) => {
            report.detail = Some(secret::redact(&why).into_owned());
            return report;
        }
        Ok((200, body)) => {
            report.models = generating_models(&body);
            model = model.or_else(|| newest_flash(&body));
        }
        Ok((status, body)) => {
            let verdict = verdict::of_error(status, &body);
            if matches!(verdict, Verdict::Invalid | Verdict::Suspended) {
                return finish(report, verdict, Some(status), &body);
            }
        }
    }
    let generate = UpstreamRequest {
        method: Method::POST,
        path_and_query: format!(
            "/v1beta/models/{}:generateContent",
            model.as_deref().unwrap_or(names::FLASH_LATEST)
        ),
        body: Some(Bytes::from_static(
            br#"{"contents":[{"role":"user","parts":[{"text":"Say OK."}]}],"generationConfig":{"maxOutputTokens":1}}"#,
        )),
        extra: None,
    };
    match ask(upstream, key, &generate, opts.timeout).await {
        Err(why) => {
            report.detail = Some(secret::redact(&why).into_owned());
            report
        }
        Ok((200, _)) => finish(report, Verdict::Valid, Some(200), b""),
        Ok((status, body)) => {
            let verdict = verdict::of_error(status, &body);
            finish(report, verdict, Some(status), &body)
        }
    }
}

fn finish(mut report: KeyReport, verdict: Verdict, status: Option<u16>, body: &[u8]) -> KeyReport {
    report.verdict = verdict;
    report.usable = verdict.usable();
    report.status = status;
    report.detail = error_message(body).map(|m| secret::redact(&m).into_owned());
    report
}

/// `error.message` of a Google error body.
fn error_message(body: &[u8]) -> Option<String> {
    RpcStatus::parse(body).map(|s| s.message)
}

/// The newest flash-tier model of a model list (Google's `gemini-flash-latest` when listed).
fn newest_flash(body: &[u8]) -> Option<String> {
    let list: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut catalog = Catalog::default();
    catalog.add_listing("", "v1beta", list.get("models")?.as_array()?);
    catalog
        .newest("flash", names::FLASH_LATEST)
        .map(str::to_string)
}

/// The models of a model list that support `generateContent`, without `models/`.
fn generating_models(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let Some(models) = v.get("models").and_then(|m| m.as_array()) else {
        return Vec::new();
    };
    models
        .iter()
        .filter(|m| {
            m.get("supportedGenerationMethods")
                .and_then(|s| s.as_array())
                .is_some_and(|s| s.iter().any(|x| x == "generateContent"))
        })
        .filter_map(|m| m.get("name")?.as_str())
        .map(|n| n.strip_prefix("models/").unwrap_or(n).to_string())
        .collect()
}

/// The exit status: 0 when every key is usable, 1 when some are not, 2 when no key could be
/// reached at all (a network error, not a verdict about the keys).
pub fn exit_status(reports: &[KeyReport]) -> u8 {
    if !reports.is_empty() && reports.iter().all(|r| r.verdict == Verdict::Unreachable) {
        2
    } else if reports.iter().all(|r| r.usable) {
        0
    } else {
        1
    }
}

/// Keys from a file's text: one per line (commas and spaces also separate), `#` starts a
/// comment; each entry read as `GEMINI_API_KEY` reads one.
pub fn keys_from_text(text: &str) -> Vec<ApiKey> {
    let entries: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split([',', ' ', '\t']))
        .collect();
    crate::config::key_list(&entries.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_allow_comments_commas_and_duplicates() {
        let keys = keys_from_text("# team keys\nAIzaSyA1111111111111111111111111111111 \n\nAIzaSyB2,AIzaSyC3 # spare\nAIzaSyB2\n");
        let masked: Vec<&str> = keys.iter().map(|k| k.masked()).collect();
        assert_eq!(masked.len(), 3, "{masked:?}");
    }

    #[test]
    fn the_model_list_gives_the_generating_models() {
        let body = br#"{"models":[{"name":"models/gemini-2.5-flash","supportedGenerationMethods":["generateContent","countTokens"]},
            {"name":"models/gemini-embedding-001","supportedGenerationMethods":["embedContent"]}]}"#;
        assert_eq!(generating_models(body), ["gemini-2.5-flash"]);
    }
}
