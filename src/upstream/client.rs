//! The seam between dispatch and the network: [`Upstream`] sends one attempt with one key and
//! answers with the response head and a body stream. [`HttpUpstream`] is the real one — one
//! connection pool for the process, TCP_NODELAY, keys only in the `x-goog-api-key` header (never
//! in a URL, where they would leak into logs and errors). Tests put a scripted upstream in its
//! place to drive dispatch and the router in-process under a paused clock.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderValue, Method, StatusCode};

use crate::secret::{ApiKey, Secret};

/// What to send upstream, independent of which key sends it.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// Path and query, e.g. `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`.
    /// Never contains a key.
    pub path_and_query: String,
    pub body: Option<Bytes>,
}

/// An upstream body, chunk by chunk as it arrives.
pub type BodyStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// The response head, and the body still to come.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: BodyStream,
}

impl fmt::Debug for UpstreamResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// The connection failed, or broke while the body was read. Its text is redacted of every
/// secret the process knows.
#[derive(Debug)]
pub struct TransportError(Box<dyn std::error::Error + Send + Sync>);

impl TransportError {
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> TransportError {
        TransportError(e.into())
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::secret::redact(&self.0.to_string()))
    }
}

impl std::error::Error for TransportError {}

/// Sends one attempt with one key; resolves when the response headers arrive.
pub trait Upstream: Send + Sync + fmt::Debug {
    fn send<'a>(
        &'a self,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>>;
}

/// Why the HTTP client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("UPSTREAM_PROXY cannot be used: {0}")]
    Proxy(reqwest::Error),
    #[error("UPSTREAM_CA_FILE {0}: {1}")]
    CaFile(String, String),
    #[error("{0}")]
    Build(reqwest::Error),
}

/// The real upstream: HTTP to `GEMINI_BASE_URL`.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    http: reqwest::Client,
    base_url: String,
}

impl HttpUpstream {
    /// A client for `base_url`, through `proxy` when one is given (else through the standard
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, minus `NO_PROXY`, when those are set), trusting
    /// the certificates in `ca_file` besides the usual roots.
    pub fn new(
        base_url: &str,
        proxy: Option<&Secret>,
        ca_file: Option<&Path>,
    ) -> Result<HttpUpstream, ClientError> {
        let mut builder = reqwest::Client::builder();
        if let Some(proxy) = proxy {
            builder =
                builder.proxy(reqwest::Proxy::all(proxy.expose()).map_err(ClientError::Proxy)?);
        }
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| ClientError::CaFile(path.display().to_string(), e.to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ClientError::CaFile(path.display().to_string(), e.to_string()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("gemini-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(HttpUpstream {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }
}

impl Upstream for HttpUpstream {
    fn send<'a>(
        &'a self,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        let url = format!("{}{}", self.base_url, req.path_and_query);
        let mut builder = self.http.request(req.method.clone(), url);
        if let Ok(mut value) = HeaderValue::from_str(key.expose()) {
            // Sensitive: HTTP/2 never indexes it in HPACK tables, and debug output hides it.
            value.set_sensitive(true);
            builder = builder.header("x-goog-api-key", value);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        Box::pin(async move {
            let resp = builder.send().await.map_err(TransportError::new)?;
            Ok(UpstreamResponse {
                status: resp.status(),
                content_type: resp.headers().get(http::header::CONTENT_TYPE).cloned(),
                body: resp.bytes_stream().map_err(TransportError::new).boxed(),
            })
        })
    }
}
