//! Who may use the gateway. Client keys (`GATEWAY_API_KEYS`) guard every model and status
//! endpoint, accepted however real clients send credentials: `x-api-key` and
//! `Authorization: Bearer` (Anthropic and OpenAI SDKs, Claude Code), `x-goog-api-key` and `?key=`
//! (Google's SDKs). The operator key (`ADMIN_API_KEY`) guards `/admin`. Comparisons are constant
//! time over SHA-256 digests, so neither a key's content nor its length leaks through timing.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::secret::Secret;
use crate::surfaces::gemini::query::percent_decode;
use crate::surfaces::Dialect;

/// The door: who may come in, and how long a refused body may take to be read away.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `GATEWAY_API_KEYS`, as digests; empty means open.
    pub client_keys: Arc<Secrets>,
    /// `ADMIN_API_KEY`, as a digest; empty means the admin API is off.
    pub admin_key: Arc<Secrets>,
    pub max_body_bytes: usize,
    pub client_timeout: Duration,
}

impl Gate {
    pub fn new(config: &Config) -> Gate {
        Gate {
            client_keys: Arc::new(Secrets::new(&config.gateway_api_keys)),
            admin_key: Arc::new(Secrets::new(&config.admin_api_key)),
            max_body_bytes: config.max_body_bytes,
            client_timeout: config.client_timeout,
        }
    }
}

/// A set of accepted secrets, kept only as digests.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    digests: Vec<[u8; 32]>,
}

impl Secrets {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Secrets {
        Secrets {
            digests: secrets.into_iter().map(|s| digest(s.expose())).collect(),
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

/// Middleware: with client keys configured, a request must carry one of them; a refusal is a
/// 401 in dialect `D`.
pub async fn require_client_key<D: Dialect>(
    State(gate): State<Gate>,
    req: Request,
    next: Next,
) -> Response {
    if gate.client_keys.is_empty() {
        return next.run(req).await;
    }
    let creds = presented(req.headers(), req.uri());
    if gate.client_keys.accepts(&creds) {
        return next.run(req).await;
    }
    let message = if creds.is_empty() {
        "This gateway requires an API key: send one of GATEWAY_API_KEYS as x-api-key, Authorization: Bearer, x-goog-api-key or ?key=."
    } else {
        "The API key is not valid for this gateway."
    };
    // Read the body away first, so the client gets the 401 rather than a broken pipe.
    super::limits::drain(req.into_body(), gate.max_body_bytes, gate.client_timeout).await;
    D::unauthenticated(message).into_response()
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
    }

    #[test]
    fn secrets_match_exactly() {
        let s = Secrets::new(&[Secret::new("alpha"), Secret::new("beta")]);
        assert!(s.accepts(&["beta".into()]));
        assert!(s.accepts(&["nope".into(), "alpha".into()]));
        assert!(!s.accepts(&["alph".into(), "alphaa".into(), String::new()]));
        assert!(!s.accepts(&[]));
        assert!(Secrets::default().is_empty());
    }
}
