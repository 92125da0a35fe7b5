//! The seam between dispatch and the network: [`Upstream`] sends one attempt with one key and
//! answers with the response head and a body stream. What every client shares lives here too:
//! the request and response types, the key header (keys go only in `x-goog-api-key`, never in a
//! URL, where they would leak into logs and errors) and which response headers are kept. The
//! real one is [`super::HttpUpstream`]; tests put a scripted upstream in its place to drive
//! dispatch and the router in-process under a paused clock.

use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use http::{HeaderName, HeaderValue, Method, StatusCode};

use crate::secret::ApiKey;

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

/// An upstream body, chunk by chunk as it arrives: chunks that arrived together are handed on
/// as one (each transport sees to it: [`super::coalesce`], [`super::plain_h1`]).
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
