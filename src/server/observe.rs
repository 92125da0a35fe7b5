//! Two layers that see every request: [`RequestIdLayer`] (every route) takes the client's
//! `x-request-id` or makes one, echoes it as `x-request-id` and `request-id` on the response,
//! adds it to JSON error bodies as `request_id`, and runs the request — its response body
//! included — inside a `request` span carrying it, so every log line of the request names it.
//! [`ObserveLayer`] (every surface) gives the request its [`Tally`], and when the response has been
//! sent, or the client left, records it once with [`Telemetry::finish`]. Both are typed tower
//! layers: a request passes them without a boxed future or a cloned service stack.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::surfaces::shared::signature::new_id;
use crate::telemetry::prices::SERVICE_TIER_HEADER;
use crate::telemetry::{Finished, ServiceTier, Tally, TallyRef, Telemetry};

/// The request's id, for the layers and handlers that name it.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Longest client-given request id kept (longer ones are replaced).
const MAX_REQUEST_ID: usize = 128;

/// Largest error body the id is added to (errors are small; a larger body passes untouched).
const MAX_ERROR_BODY: usize = 64 * 1024;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

fn client_id(headers: &HeaderMap) -> Option<&str> {
    let id = headers.get(&X_REQUEST_ID)?.to_str().ok()?.trim();
    let plain = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    plain.then_some(id)
}

/// Layer: the request id, on the request, the response and the logs (every route).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = WithRequestId<S>;

    fn layer(&self, inner: S) -> WithRequestId<S> {
        WithRequestId { inner }
    }
}

/// The service [`RequestIdLayer`] makes: a typed future, nothing boxed on the way in.
#[derive(Debug, Clone)]
pub struct WithRequestId<S> {
    inner: S,
}

impl<S> Service<Request> for WithRequestId<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let id: Arc<str> = match client_id(req.headers()) {
            Some(id) => id.into(),
            None => new_id("req_").into(),
        };
        req.extensions_mut().insert(RequestId(id.clone()));
        let span = tracing::info_span!("request", id = %id);
        let inner = span.in_scope(|| self.inner.call(req));
        RequestIdFuture {
            state: IdState::Inner { inner },
            id,
            span,
        }
    }
}

type Rewrite = Pin<Box<dyn Future<Output = Response> + Send>>;

pin_project! {
    #[project = IdStateProj]
    enum IdState<F> {
        Inner { #[pin] inner: F },
        /// An error body being rewritten with the id (rare: boxed).
        Rewriting { rewrite: Rewrite },
    }
}

pin_project! {
    /// The response of a request with an id: the id echoed, added to JSON error bodies, the
    /// body polled inside the request's span.
    pub struct RequestIdFuture<F> {
        #[pin]
        state: IdState<F>,
        id: Arc<str>,
        span: tracing::Span,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for RequestIdFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let (mut parts, body) = match this.state.as_mut().project() {
                IdStateProj::Inner { inner } => {
                    let _entered = this.span.enter();
                    let Ok(resp) = ready!(inner.poll(cx));
                    resp.into_parts()
                }
                IdStateProj::Rewriting { rewrite } => {
                    let resp = ready!(rewrite.as_mut().poll(cx));
                    return Poll::Ready(Ok(in_span(resp, this.span)));
                }
            };
            if let Ok(v) = HeaderValue::from_str(this.id) {
                parts.headers.insert(X_REQUEST_ID.clone(), v.clone());
                parts.headers.insert(REQUEST_ID.clone(), v);
            }
            if parts.status.as_u16() < 400 || !is_json(&parts.headers) {
                return Poll::Ready(Ok(in_span(Response::from_parts(parts, body), this.span)));
            }
            let id = this.id.clone();
            let rewrite: Rewrite = Box::pin(async move {
                let mut parts = parts;
                let body = with_request_id(body, &id, &mut parts.headers).await;
                Response::from_parts(parts, body)
            });
            this.state.set(IdState::Rewriting { rewrite });
        }
    }
}

/// The response with its body polled inside `span` (untouched when the span records nothing).
fn in_span(resp: Response, span: &tracing::Span) -> Response {
    if span.is_disabled() {
        return resp;
    }
    resp.map(|inner| {
        Body::new(InSpan {
            inner,
            span: span.clone(),
        })
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A JSON error object with `request_id` added at its top level.
async fn with_request_id(body: Body, id: &str, headers: &mut HeaderMap) -> Body {
    let small = body
        .size_hint()
        .exact()
        .is_some_and(|n| n as usize <= MAX_ERROR_BODY);
    if !small {
        return body;
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Body::empty();
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(serde_json::Value::Object(map)) => serde_json::Value::Object(map),
        _ => return Body::from(bytes),
    };
    value["request_id"] = serde_json::Value::String(id.to_string());
    let out = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    headers.remove(header::CONTENT_LENGTH);
    Body::from(out)
}

/// A response body polled inside its request's span.
struct InSpan {
    inner: Body,
    span: tracing::Span,
}

impl http_body::Body for InSpan {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for InSpan {
    /// The body's own drop (the request's tally is recorded then) happens inside the span too.
    fn drop(&mut self) {
        let _entered = self.span.enter();
        drop(std::mem::replace(&mut self.inner, Body::empty()));
    }
}

/// What the observing layer knows of the surface it wraps.
#[derive(Debug, Clone)]
pub struct Observing {
    pub telemetry: Arc<Telemetry>,
    pub surface: &'static str,
}

/// Layer: the request's tally, recorded once its response is out (every surface's routes).
#[derive(Debug, Clone)]
pub struct ObserveLayer(pub Observing);

impl<S> Layer<S> for ObserveLayer {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            observing: self.0.clone(),
        }
    }
}

/// The service [`ObserveLayer`] makes.
#[derive(Debug, Clone)]
pub struct Observed<S> {
    inner: S,
    observing: Observing,
}

impl<S> Service<Request> for Observed<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ObservedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| Arc::from(""));
        let tally = Tally::of_request(request_id.clone());
        if let Some(tier) = req
            .headers()
            .get(SERVICE_TIER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(ServiceTier::parse)
        {
            tally.ask_service_tier(tier);
        }
        self.observing.telemetry.trace_request(&tally, &req);
        req.extensions_mut().insert(TallyRef(tally.clone()));
        ObservedFuture {
            inner: self.inner.call(req),
            pending: Some(Pending {
                observing: self.observing.clone(),
                tally,
                request_id,
                started,
                status: 0,
            }),
        }
    }
}

pin_project! {
    /// A surface's response, its body wrapped to record the request when it is done.
    pub struct ObservedFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for ObservedFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(resp) = ready!(this.inner.poll(cx));
        let Some(mut pending) = this.pending.take() else {
            return Poll::Ready(Ok(resp));
        };
        pending.status = resp.status().as_u16();
        Poll::Ready(Ok(resp.map(|inner| {
            Body::new(Recorded {
                inner,
                first_byte: None,
                pending: Some(pending),
                ended: false,
            })
        })))
    }
}

/// What is recorded of a request once its body is done.
struct Pending {
    observing: Observing,
    tally: Arc<Tally>,
    request_id: Arc<str>,
    started: Instant,
    status: u16,
}

impl Pending {
    fn finish(self, first_byte: Option<Duration>, completed: bool) {
        let total = self.started.elapsed();
        self.observing.telemetry.finish(Finished {
            request_id: self.request_id,
            surface: self.observing.surface,
            status: self.status,
            first_byte: first_byte.unwrap_or(total),
            total,
            tally: self.tally.snapshot(),
            completed,
        });
    }
}

/// A response body that records its request when it is done (or dropped unfinished).
struct Recorded {
    inner: Body,
    first_byte: Option<Duration>,
    pending: Option<Pending>,
    ended: bool,
}

impl http_body::Body for Recorded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) if frame.is_data() && this.first_byte.is_none() => {
                this.first_byte = this.pending.as_ref().map(|p| p.started.elapsed());
            }
            Poll::Ready(None) => this.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            let completed = self.ended || self.inner.is_end_stream();
            pending.finish(self.first_byte, completed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_only_when_plain() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123_x.y:z"));
        assert_eq!(client_id(&h), Some("abc-123_x.y:z"));
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_eq!(client_id(&h), None);
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        h.insert("x-request-id", HeaderValue::from_str(&long).unwrap());
        assert_eq!(client_id(&h), None);
    }
}
