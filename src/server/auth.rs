//! Who may use the gateway. Client keys (`GATEWAY_API_KEYS`) guard every model and status
//! endpoint, accepted however real clients send credentials: `x-api-key` and
//! `Authorization: Bearer` (Anthropic and OpenAI SDKs, Claude Code), `x-goog-api-key` and `?key=`
//! (Google's SDKs). The operator key (`ADMIN_API_KEY`) guards `/admin` (see `admin`).

use axum::extract::Request;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::clients::Client;
use super::gate::Gate;
use super::limits::Refusal;
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

/// What the client-key check decides before anything waits.
pub enum Decision {
    /// On to the route.
    Pass(Request),
    /// On to the route once `Client`'s limiter admits it ([`admit`]).
    Admit(Request, Client),
    /// Refused (401 in the surface's dialect), the body read away first.
    Refuse(Box<Refusal>),
}

/// With client keys configured, a request must carry one of them; a refusal is a 401 in
/// dialect `D`. A matching client's name, tier and models go into the request's tally.
pub fn decide<D: Dialect>(gate: &Gate, mut req: Request) -> Decision {
    let clients = gate.clients.load();
    if clients.is_empty() {
        return Decision::Pass(req);
    }
    let creds = presented(req.headers(), req.uri());
    // A resumable upload's chunks come without a key (Google's SDKs send none: the session URL
    // is the credential, handed out only to a client that had one). The upload itself serves
    // only sessions it wrote down.
    if creds.is_empty() && is_upload_session(req.uri()) {
        req.extensions_mut().insert(SessionIsCredential);
        return Decision::Pass(req);
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
        if client.limits.is_some() && gate.limiter.is_some() {
            return Decision::Admit(req, client.clone());
        }
        return Decision::Pass(req);
    }
    let message = if creds.is_empty() {
        "This gateway requires an API key: send one of GATEWAY_API_KEYS as x-api-key, Authorization: Bearer, x-goog-api-key or ?key=."
    } else {
        "The API key is not valid for this gateway."
    };
    let response = D::unauthenticated_for(req.headers(), req.uri(), message).into_response();
    // Read the body away first, so the client gets the 401 rather than a broken pipe.
    let body = req.into_body();
    Decision::Refuse(Box::new(Refusal::new(
        body,
        gate.max_body_bytes,
        gate,
        response,
    )))
}

/// `req` once `client`'s limiter admits it; else the refusal in dialect `D`, the body read
/// away first.
pub async fn admit<D: Dialect>(
    gate: &Gate,
    req: Request,
    client: &Client,
) -> Result<Request, Response> {
    let (Some(limits), Some(limiter)) = (&client.limits, &gate.limiter) else {
        return Ok(req);
    };
    match limiter.admit(&client.name, limits).await {
        Ok(()) => Ok(req),
        Err(refusal) => {
            let response = D::from_dispatch("", refusal).into_response();
            Err(
                Refusal::new(req.into_body(), gate.max_body_bytes, gate, response)
                    .send()
                    .await,
            )
        }
    }
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
