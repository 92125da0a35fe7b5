//! Who may use the gateway. Client keys (`GATEWAY_API_KEYS`) guard every model and status
//! endpoint, accepted however real clients send credentials: `x-api-key` and
//! `Authorization: Bearer` (Anthropic and OpenAI SDKs, Claude Code), `x-goog-api-key` and `?key=`
//! (Google's SDKs). The operator key (`ADMIN_API_KEY`) guards `/admin` (see `admin`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::gate::Gate;
use crate::surfaces::gemini::query::percent_decode;
use crate::surfaces::Dialect;
use crate::telemetry::TallyRef;

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
    let clients = gate.clients.load_full();
    if clients.is_empty() {
        return next.run(req).await;
    }
    let mut req = req;
    let creds = presented(req.headers(), req.uri());
    // A resumable upload's chunks come without a key (Google's SDKs send none: the session URL
    // is the credential, handed out only to a client that had one). The upload itself serves
    // only sessions it wrote down.
    if creds.is_empty() && is_upload_session(req.uri()) {
        req.extensions_mut().insert(SessionIsCredential);
        return next.run(req).await;
    }
    if let Some(client) = clients.matching(&creds) {
        if let Some(t) = req.extensions().get::<TallyRef>() {
            t.0.set_client(client.name.clone());
            // The request's own tier (a header, an OpenAI field) wins over its client's.
            if let (Some(tier), None) = (client.service_tier, t.0.service_tier()) {
                t.0.ask_service_tier(tier);
            }
            if let Some(models) = client.limits.as_ref().and_then(|l| l.models.clone()) {
                t.0.allow_models(models);
            }
        }
        if let (Some(limits), Some(limiter)) = (&client.limits, &gate.limiter) {
            if let Err(refusal) = limiter.admit(&client.name, limits).await {
                super::limits::drain(req.into_body(), gate.max_body_bytes, gate.client_timeout)
                    .await;
                return D::from_dispatch("", refusal).into_response();
            }
        }
        return next.run(req).await;
    }
    let message = if creds.is_empty() {
        "This gateway requires an API key: send one of GATEWAY_API_KEYS as x-api-key, Authorization: Bearer, x-goog-api-key or ?key=."
    } else {
        "The API key is not valid for this gateway."
    };
    let refusal = D::unauthenticated_for(req.headers(), req.uri(), message);
    // Read the body away first, so the client gets the 401 rather than a broken pipe.
    super::limits::drain(req.into_body(), gate.max_body_bytes, gate.client_timeout).await;
    refusal.into_response()
}

/// Marks a keyless upload chunk let through on its session alone.
#[derive(Debug, Clone, Copy)]
pub struct SessionIsCredential;

fn is_upload_session(uri: &axum::http::Uri) -> bool {
    uri.path().starts_with("/upload/")
        && uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("upload_id=")))
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
}
