//! The seam between dispatch and the network: [`Upstream`] sends one attempt with one key and
//! answers with the response head and a body stream. [`HttpUpstream`] is the real one — one
//! connection pool for the process, TCP_NODELAY, keys only in the `x-goog-api-key` header (never
//! in a URL, where they would leak into logs and errors). Tests put a scripted upstream in its
//! place to drive dispatch and the router in-process under a paused clock.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderName, HeaderValue, Method, StatusCode};

use crate::secret::{ApiKey, Secret};

/// What to send upstream, independent of which key sends it.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// Path and query, e.g. `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`.
    /// Never contains a key.
    pub path_and_query: String,
    pub body: Option<Bytes>,
    /// What only some calls need (the resources' headers, an upload's streamed body).
    pub extra: Option<Box<Extra>>,
}

/// The rarer parts of a request: headers besides the key (`X-Goog-Upload-*`,
/// `Api-Revision`), a content type other than JSON, and a body streamed through once instead of
/// held whole (an upload).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub content_type: Option<HeaderValue>,
    pub streamed: Option<StreamedBody>,
}

/// A body that can be sent once: the first attempt takes it; a second finds it gone.
#[derive(Clone, Default)]
pub struct StreamedBody(Arc<Mutex<Option<BodyStream>>>);

impl StreamedBody {
    pub fn new(body: BodyStream) -> StreamedBody {
        StreamedBody(Arc::new(Mutex::new(Some(body))))
    }

    /// The body, unless an attempt already took it.
    pub fn take(&self) -> Option<BodyStream> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamedBody")
    }
}

impl UpstreamRequest {
    /// A request with no body.
    pub fn get(path_and_query: String) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::GET,
            path_and_query,
            body: None,
            extra: None,
        }
    }

    /// A POST of a JSON body.
    pub fn post(path_and_query: String, body: Bytes) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::POST,
            path_and_query,
            body: Some(body),
            extra: None,
        }
    }

    /// The headers that go along, besides the key.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        self.extra.as_deref().map_or(&[], |e| &e.headers)
    }

    /// The body's content type: JSON unless told otherwise.
    pub fn content_type(&self) -> HeaderValue {
        self.extra
            .as_deref()
            .and_then(|e| e.content_type.clone())
            .unwrap_or(HeaderValue::from_static("application/json"))
    }
}

/// The header a key goes in (never the URL).
pub const KEY_HEADER: &str = "x-goog-api-key";

/// `key` as that header's value, marked sensitive: HTTP/2 never indexes it in HPACK tables, and
/// debug output hides it.
pub fn key_header(key: &ApiKey) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(key.expose()).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Response headers passed back to the client as they came: the upload protocol's and
/// Gemini's own (`x-gemini-service-tier`); the rest are the gateway's to set.
pub fn kept_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("x-goog-upload-") || n.starts_with("x-gemini-")
}

/// An upstream body, chunk by chunk as it arrives.
pub type BodyStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// The response head, and the body still to come.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// The headers passed back as they came (see [`kept_header`]); usually none.
    pub headers: Vec<(HeaderName, HeaderValue)>,
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
    transport: Transport,
    base_url: String,
}

/// How requests reach Gemini: hyper's client directly, or reqwest when a proxy is in the way.
#[derive(Debug, Clone)]
enum Transport {
    Direct(Box<super::direct::DirectClient>),
    Proxied(reqwest::Client),
}

/// The variables reqwest reads for a proxy (each also in lower case).
const PROXY_VARIABLES: [&str; 3] = ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY"];

/// Whether any `*_PROXY` variable is set (`NO_PROXY` is left to reqwest, which reads it).
fn proxy_in_environment() -> bool {
    PROXY_VARIABLES.iter().any(|name| {
        [name.to_string(), name.to_lowercase()]
            .iter()
            .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
    })
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
        let base_url = base_url.trim_end_matches('/').to_string();
        if proxy.is_none() && !proxy_in_environment() {
            let pem =
                match ca_file {
                    Some(path) => Some(std::fs::read(path).map_err(|e| {
                        ClientError::CaFile(path.display().to_string(), e.to_string())
                    })?),
                    None => None,
                };
            let direct = super::direct::DirectClient::new(pem.as_deref()).map_err(|e| {
                let path = ca_file.map(|p| p.display().to_string()).unwrap_or_default();
                ClientError::CaFile(path, e.0)
            })?;
            return Ok(HttpUpstream {
                transport: Transport::Direct(Box::new(direct)),
                base_url,
            });
        }
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
            transport: Transport::Proxied(http),
            base_url,
        })
    }
}

impl Upstream for HttpUpstream {
    fn send<'a>(
        &'a self,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        match &self.transport {
            Transport::Direct(direct) => direct.send(&self.base_url, key, req),
            Transport::Proxied(http) => self.send_by_reqwest(http, key, req),
        }
    }
}

impl HttpUpstream {
    fn send_by_reqwest<'a>(
        &'a self,
        http: &'a reqwest::Client,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        let url = format!("{}{}", self.base_url, req.path_and_query);
        let mut builder = http.request(req.method.clone(), url);
        if let Some(value) = key_header(key) {
            builder = builder.header(KEY_HEADER, value);
        }
        let extra = req.extra.as_deref();
        let content_type = req.content_type();
        if let Some(body) = &req.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, content_type.clone())
                .body(body.clone());
        }
        if let Some(extra) = extra {
            for (name, value) in &extra.headers {
                builder = builder.header(name, value);
            }
            if let Some(streamed) = &extra.streamed {
                let Some(body) = streamed.take() else {
                    return Box::pin(async {
                        Err(TransportError::new(
                            "the upload's body was already sent to another key",
                        ))
                    });
                };
                builder = builder
                    .header(http::header::CONTENT_TYPE, content_type)
                    .body(reqwest::Body::wrap_stream(body));
            }
        }
        Box::pin(async move {
            let resp = builder.send().await.map_err(TransportError::new)?;
            let headers = resp
                .headers()
                .iter()
                .filter(|(n, _)| kept_header(n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            Ok(UpstreamResponse {
                status: resp.status(),
                content_type: resp.headers().get(http::header::CONTENT_TYPE).cloned(),
                headers,
                body: resp.bytes_stream().map_err(TransportError::new).boxed(),
            })
        })
    }
}
