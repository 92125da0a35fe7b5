//! What every Gemini request is read for before it is served, model calls and resources alike:
//! its query parameters (only Google's system parameters and the method's own may be bound),
//! its key (header or `?key=`, Google's answers for a missing or malformed one), the JSON body
//! limit, and `prettyPrint`. Apart from `api` so the resource routes need not reach into it.

use axum::extract::Query;
use axum::http::HeaderMap;

use crate::errors::{ApiError, Violation};

/// The real API's request size limit (JSON bodies; uploads stream, see `resources`).
pub(crate) const MAX_BODY: usize = 20 * 1024 * 1024;

/// Query parameters every Google API accepts.
const SYSTEM_PARAMS: [&str; 12] = [
    "key",
    "alt",
    "$alt",
    "prettyPrint",
    "$prettyPrint",
    "fields",
    "$fields",
    "quotaUser",
    "$.xgafv",
    "callback",
    "upload_protocol",
    "uploadType",
];

/// The query parameters of `uri`, in order.
pub(crate) fn query_params(uri: &axum::http::Uri) -> Vec<(String, String)> {
    Query::try_from_uri(uri)
        .map(|Query(p)| p)
        .unwrap_or_default()
}

/// The API key (from `x-goog-api-key`, else `?key=`) and whether `?key=` was present.
pub(crate) fn credentials(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> (Option<String>, bool) {
    let header_key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let query_key = params
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.clone());
    let key_in_query = query_key.is_some();
    (header_key.or(query_key), key_in_query)
}

/// The API key, or Google's answer for a missing or malformed one.
pub(crate) fn authenticate<'a>(
    api_key: Option<&'a str>,
    headers: &HeaderMap,
) -> Result<&'a str, ApiError> {
    let Some(key) = api_key else {
        return Err(if headers.contains_key("authorization") {
            ApiError::unauthenticated()
        } else {
            ApiError::missing_key()
        });
    };
    if !key.starts_with("AIza") || key.len() != 39 {
        return Err(ApiError::key_invalid());
    }
    Ok(key)
}

/// Unknown query parameters cannot be bound to the request message: every parameter must be a
/// system parameter or one of the method's own (`allowed`).
pub(crate) fn check_params(params: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    let violations: Vec<Violation> = params
        .iter()
        .filter(|(name, _)| {
            !SYSTEM_PARAMS.contains(&name.as_str()) && !allowed.contains(&name.as_str())
        })
        .map(|(name, _)| Violation {
            field: None,
            description: format!(
                "Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter. \
                 Field '{name}' could not be found in request message."
            ),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(&violations))
    }
}

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn pretty(params: &[(String, String)]) -> bool {
    param(params, "prettyPrint").or_else(|| param(params, "$prettyPrint")) != Some("false")
}
