//! Which Claude Code session a request belongs to, so dispatch can keep the session on one key
//! (see `dispatch::affinity`).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderValue;

use crate::surfaces::shared::serving::fallback_allowed;

/// What a Messages request's headers tell the gateway: the session header and whether the
/// client allows another model. Read from the headers where they lie, instead of a copy of
/// the whole map kept for the request's life.
pub struct ClientHints {
    /// `X-Claude-Code-Session-Id` (its value shared with the request's, not copied).
    pub session_header: Option<HeaderValue>,
    /// See `serving::fallback_allowed`.
    pub allow_fallback: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientHints {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientHints {
            session_header: parts.headers.get("x-claude-code-session-id").cloned(),
            allow_fallback: fallback_allowed(&parts.headers),
        })
    }
}

/// The session id of a Claude Code request: the `X-Claude-Code-Session-Id` header, else the
/// `session_id` inside `metadata.user_id` (a JSON string in current Claude Code, or the older
/// `user_…_account_…_session_<uuid>` form).
pub fn session_id(header: Option<&str>, metadata_user_id: Option<&str>) -> Option<String> {
    if let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) {
        return Some(h.to_string());
    }
    let user_id = metadata_user_id?;
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(user_id) {
        if let Some(s) = v
            .get("session_id")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
        {
            return Some(s.to_string());
        }
    }
    user_id
        .rsplit_once("_session_")
        .map(|(_, s)| s.to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_from_header_or_metadata() {
        assert_eq!(session_id(Some("abc"), None).as_deref(), Some("abc"));
        let json_form = r#"{"device_id":"d","account_uuid":"","session_id":"4668b844"}"#;
        assert_eq!(
            session_id(None, Some(json_form)).as_deref(),
            Some("4668b844")
        );
        assert_eq!(
            session_id(Some(" "), Some(json_form)).as_deref(),
            Some("4668b844")
        );
        let old_form = "user_abc_account__session_11111111-2222";
        assert_eq!(
            session_id(None, Some(old_form)).as_deref(),
            Some("11111111-2222")
        );
        assert_eq!(session_id(None, Some("plain-user")), None);
        assert_eq!(session_id(None, None), None);
    }
}
