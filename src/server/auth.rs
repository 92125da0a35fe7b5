//! Who may use the gateway. Client keys (`GATEWAY_API_KEYS`) guard every model and status
//! endpoint, accepted however real clients send credentials: `x-api-key` and
//! `Authorization: Bearer` (Anthropic and OpenAI SDKs, Claude Code), `x-goog-api-key` and `?key=`
//! (Google's SDKs). The operator key (`ADMIN_API_KEY`) guards `/admin`. Comparisons are constant
//! time over SHA-256 digests, so neither a key's content nor its length leaks through timing.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::surfaces::anthropic::errors::ErrorType;
use crate::surfaces::anthropic::http::error_response;
use crate::surfaces::gemini::google_error;

/// A set of accepted secrets, kept only as digests.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    digests: Vec<[u8; 32]>,
}

impl Secrets {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a String>) -> Secrets {
        Secrets {
            digests: secrets.into_iter().map(|s| digest(s)).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether any presented credential is one of the secrets. Every comparison runs.
    pub fn accepts(&self, presented: &[String]) -> bool {
        let mut ok = subtle::Choice::from(0u8);
        for p in presented {
            let d = digest(p);
            for known in &self.digests {
                ok |= d.ct_eq(known);
            }
        }
        ok.into()
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Every credential the request carries, in any of the accepted places.
pub fn presented(headers: &HeaderMap, uri: &Uri) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["x-api-key", "x-goog-api-key"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            out.push(v.trim().to_string());
        }
    }
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v);
        out.push(token.trim().to_string());
    }
    if let Some(q) = uri.query() {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("key=") {
                out.push(percent_decode(v));
            }
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// Minimal `%XX` and `+` decoding for a query value (never panics on odd input).
pub fn percent_decode(v: &str) -> String {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers 401 in the shape of the API the caller used.
pub fn unauthorized(uri: &Uri, message: &str) -> Response {
    if uri.path().starts_with("/v1/messages") {
        error_response(ErrorType::Authentication, 401, message)
    } else {
        google_error(StatusCode::UNAUTHORIZED, message, "UNAUTHENTICATED")
    }
}

/// Middleware: with client keys configured, a request must carry one of them.
pub async fn require_client_key(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if app.client_keys.is_empty() {
        return next.run(req).await;
    }
    let creds = presented(req.headers(), req.uri());
    if app.client_keys.accepts(&creds) {
        return next.run(req).await;
    }
    let message = if creds.is_empty() {
        "This gateway requires an API key: send one of GATEWAY_API_KEYS as x-api-key, Authorization: Bearer, x-goog-api-key or ?key=."
    } else {
        "The API key is not valid for this gateway."
    };
    let uri = req.uri().clone();
    // Read the body away first, so the client gets the 401 rather than a broken pipe.
    super::limits::drain(
        req.into_body(),
        app.config.max_body_bytes,
        app.config.client_timeout,
    )
    .await;
    unauthorized(&uri, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_style_is_read() {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "a".parse().unwrap());
        h.insert("x-goog-api-key", "b".parse().unwrap());
        h.insert("authorization", "Bearer c".parse().unwrap());
        let uri: Uri = "/v1beta/models?alt=sse&key=d%2Be".parse().unwrap();
        assert_eq!(presented(&h, &uri), ["a", "b", "c", "d+e"]);
        assert!(presented(&HeaderMap::new(), &"/x".parse().unwrap()).is_empty());
        assert_eq!(percent_decode("%é%4"), "%é%4");
        assert_eq!(percent_decode("a%20b+c%zz"), "a b c%zz");
    }

    #[test]
    fn secrets_match_exactly() {
        let s = Secrets::new(&["alpha".to_string(), "beta".to_string()]);
        assert!(s.accepts(&["beta".into()]));
        assert!(s.accepts(&["nope".into(), "alpha".into()]));
        assert!(!s.accepts(&["alph".into(), "alphaa".into(), String::new()]));
        assert!(!s.accepts(&[]));
        assert!(Secrets::default().is_empty());
    }
}
