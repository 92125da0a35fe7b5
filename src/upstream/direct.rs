//! The connection to Gemini when no proxy stands in the way: hyper's own pooled client (the
//! one reqwest wraps), used directly. Every request pays reqwest's layers otherwise — its URL
//! parse, a header map built and moved twice, its boxed body and response wrappers — for
//! features only a proxy needs; through a proxy, [`super::HttpUpstream`] still goes by reqwest,
//! which speaks HTTP CONNECT and SOCKS and reads the `*_PROXY` variables.
//!
//! Same wire as reqwest's: TLS by rustls (ring) with the WebPKI roots plus `UPSTREAM_CA_FILE`,
//! HTTP/2 when the server offers it by ALPN, else HTTP/1.1 (plain `http://` for a local mock),
//! TCP_NODELAY, keep-alive probes, a 10 s connect timeout, idle connections kept 90 s.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Request};
use http_body_util::{BodyDataStream, Either, Full, StreamBody};
use hyper::body::Frame;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::client::{
    kept_header, key_header, TransportError, UpstreamRequest, UpstreamResponse, KEY_HEADER,
};
use super::coalesce::coalesced;
use super::plain_h1::PlainPool;
use crate::secret::ApiKey;

/// A request body: held whole (JSON), or an upload streamed through once.
type RequestBody =
    Either<Full<Bytes>, StreamBody<futures_util::stream::BoxStream<'static, FrameResult>>>;
type FrameResult = Result<Frame<Bytes>, TransportError>;

/// hyper's pooled client over rustls, for one base URL; for an `http://` one, connections read
/// in the request's own task ([`super::plain_h1`]).
#[derive(Clone)]
pub(super) struct DirectClient {
    http: Client<HttpsConnector<HttpConnector>, RequestBody>,
    plain: Option<Arc<PlainPool<RequestBody>>>,
    user_agent: HeaderValue,
}

impl fmt::Debug for DirectClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DirectClient")
    }
}

/// Why the direct client could not be made: a CA file that is not PEM certificates, or a
/// certificate rustls refuses.
#[derive(Debug)]
pub(super) struct CaError(pub String);

impl DirectClient {
    /// A client for `base_url` trusting the WebPKI roots and the PEM certificates in
    /// `extra_ca`.
    pub(super) fn new(base_url: &str, extra_ca: Option<&[u8]>) -> Result<DirectClient, CaError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = extra_ca {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| CaError(e.to_string()))?;
                roots.add(cert).map_err(|e| CaError(e.to_string()))?;
                any = true;
            }
            if !any {
                return Err(CaError("no PEM certificate in it".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(30)));
        tcp.set_connect_timeout(Some(Duration::from_secs(10)));
        let plain = PlainPool::new(base_url, tcp.clone()).ok().map(Arc::new);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(tcp);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(DirectClient {
            http,
            plain,
            user_agent: HeaderValue::from_static(concat!(
                "gemini-gateway/",
                env!("CARGO_PKG_VERSION")
            )),
        })
    }

    /// Sends `req` to `base_url` with `key`; resolves when the response head arrives.
    pub(super) fn send<'a>(
        &'a self,
        base_url: &str,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        if let Some(plain) = &self.plain {
            let path = format!("{}{}", plain.path_prefix(), req.path_and_query);
            let request = match self.request(path, Some(plain.host()), key, req) {
                Ok(request) => request,
                Err(e) => return Box::pin(async move { Err(e) }),
            };
            return Box::pin(async move {
                let (head, body) = plain.send(request).await?.into_parts();
                Ok(response(head, body.boxed()))
            });
        }
        let mut uri = String::with_capacity(base_url.len() + req.path_and_query.len());
        uri.push_str(base_url);
        uri.push_str(&req.path_and_query);
        let request = match self.request(uri, None, key, req) {
            Ok(request) => request,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let pending = self.http.request(request);
        Box::pin(async move {
            let resp = pending.await.map_err(|e| TransportError::new(chain(&e)))?;
            let (head, body) = resp.into_parts();
            let body = BodyDataStream::new(body)
                .map_err(|e| TransportError::new(chain(&e)))
                .boxed();
            Ok(response(head, coalesced(body)))
        })
    }

    /// The request to `uri` (absolute, or origin-form with its `host`).
    fn request(
        &self,
        uri: String,
        host: Option<&HeaderValue>,
        key: &ApiKey,
        req: &UpstreamRequest,
    ) -> Result<Request<RequestBody>, TransportError> {
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(uri)
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(host) = host {
            builder = builder.header(HOST, host.clone());
        }
        if let Some(value) = key_header(key) {
            builder = builder.header(KEY_HEADER, value);
        }
        let extra = req.extra.as_deref();
        let content_type = req.content_type();
        let mut body = Either::Left(Full::new(Bytes::new()));
        if let Some(whole) = &req.body {
            builder = builder.header(CONTENT_TYPE, content_type.clone());
            body = Either::Left(Full::new(whole.clone()));
        }
        if let Some(extra) = extra {
            for (name, value) in &extra.headers {
                builder = builder.header(name, value);
            }
            if let Some(streamed) = &extra.streamed {
                let stream = streamed.take().ok_or_else(|| {
                    TransportError::new("the upload's body was already sent to another key")
                })?;
                builder = builder.header(CONTENT_TYPE, content_type);
                body = Either::Right(StreamBody::new(stream.map_ok(Frame::data).boxed()));
            }
        }
        builder
            .body(body)
            .map_err(|e| TransportError::new(e.to_string()))
    }
}

/// The response head and body as the upstream seam hands them on.
fn response(head: http::response::Parts, body: super::BodyStream) -> UpstreamResponse {
    let headers = head
        .headers
        .iter()
        .filter(|(n, _)| kept_header(n))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    UpstreamResponse {
        status: head.status,
        content_type: head.headers.get(CONTENT_TYPE).cloned(),
        headers,
        body,
    }
}

/// An error and its causes, one line: hyper's own text ("client error (Connect)") says where,
/// its sources say what ("tcp connect error: Connection refused (os error 111)").
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        assert!(DirectClient::new("https://example.com", Some(b"not a certificate")).is_err());
        assert!(DirectClient::new("https://example.com", None).is_ok());
    }

    #[test]
    fn an_error_reads_with_its_causes() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = TransportError::new(inner);
        assert_eq!(chain(&outer), "refused");
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("tcp connect error"));
        assert_eq!(chain(&e), "client error (Connect): tcp connect error");
    }
}
