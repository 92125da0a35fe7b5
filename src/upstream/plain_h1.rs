//! A plain-HTTP/1.1 upstream (`http://`: a local mock, a relay that terminates TLS) read in the
//! request's own task. hyper's pooled client runs each connection as a task of its own and
//! hands a response body over through a channel that holds one chunk: a twenty-event SSE
//! answer that arrived in one read crossed between the two tasks twenty times, each crossing a
//! scheduler turn for both (docs/PERFORMANCE.md, sixteenth step). Here the connection
//! (`hyper::client::conn::http1`, hyper's own HTTP/1.1) is polled by whoever reads the body: when
//! the body has nothing, the connection is driven once, and every chunk already read is taken
//! in the same turn and passed on together.
//!
//! The pool keeps idle connections (LIFO, at most `MAX_IDLE`, none older than `IDLE_TIMEOUT`);
//! an idle connection is not polled, so one taken from the pool is driven once first to learn
//! whether the server closed it meanwhile. A request that a reused connection could not take
//! (hyper gives it back unsent) goes again on a new connection. Over TLS Gemini speaks
//! HTTP/2, whose client buffers every frame for the reader already: `https://` stays with
//! hyper's pooled client ([`super::direct`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use super::coalesce::{Ending, Gathered, GATHER_LIMIT};
use super::TransportError;

/// Idle connections kept (as hyper's pooled client keeps them for a host).
const MAX_IDLE: usize = 1024;
/// An idle connection older than this is closed instead of used.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Driver<B> = Pin<Box<http1::Connection<TokioIo<tokio::net::TcpStream>, B>>>;

/// One connection: the handle requests go in by, and the connection itself, polled by its user.
struct Conn<B: Body + 'static> {
    send: http1::SendRequest<B>,
    driver: Driver<B>,
}

struct Idle<B: Body + 'static> {
    conn: Conn<B>,
    since: Instant,
}

/// The connections to one `http://` origin.
pub(super) struct PlainPool<B: Body + 'static> {
    connector: HttpConnector,
    /// The origin connected to (`http://host:port`).
    origin: Uri,
    /// The `Host` header every request carries.
    host: HeaderValue,
    /// The base URL's path, which every request's goes after (usually empty).
    prefix: String,
    idle: Mutex<Vec<Idle<B>>>,
}

/// Why a base URL is not one this pool serves.
#[derive(Debug)]
pub(super) struct NotPlain;

impl<B> PlainPool<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// A pool for `base_url` when it is `http://`.
    pub(super) fn new(base_url: &str, connector: HttpConnector) -> Result<Self, NotPlain> {
        let uri: Uri = base_url.parse().map_err(|_| NotPlain)?;
        let authority = uri.authority().ok_or(NotPlain)?.clone();
        if uri.scheme_str() != Some("http") {
            return Err(NotPlain);
        }
        let origin = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|_| NotPlain)?;
        Ok(PlainPool {
            connector,
            origin,
            host: HeaderValue::from_str(authority.as_str()).map_err(|_| NotPlain)?,
            prefix: uri.path().trim_end_matches('/').to_string(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The `Host` header's value for this origin.
    pub(super) fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The base URL's path, before every request's own.
    pub(super) fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// Sends `request` (origin-form URI, `Host` set); resolves with the response head, its body
    /// read by the caller's task.
    pub(super) async fn send(
        self: &Arc<Self>,
        request: Request<B>,
    ) -> Result<Response<PlainBody<B>>, TransportError> {
        match self.checkout() {
            Some(conn) => self.send_on(conn, true, request).await,
            None => self.send_on(self.connect().await?, false, request).await,
        }
    }

    /// Sends `request` on `conn` (`reused`: taken from the pool), or on a new connection when a
    /// reused one gives it back unsent.
    async fn send_on(
        self: &Arc<Self>,
        mut conn: Conn<B>,
        mut reused: bool,
        mut request: Request<B>,
    ) -> Result<Response<PlainBody<B>>, TransportError> {
        loop {
            let pending = conn.send.try_send_request(request);
            let mut slot = Some(conn);
            match drive_until(&mut slot, pending).await {
                Ok(response) => {
                    let pool = Arc::clone(self);
                    return Ok(response.map(|body| PlainBody::new(body, slot, pool)));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => {
                        request = unsent;
                        conn = self.connect().await?;
                        reused = false;
                    }
                    _ => return Err(TransportError::new(super::direct::chain(e.error()))),
                },
            }
        }
    }

    /// An idle connection the server has not closed, if there is one.
    fn checkout(&self) -> Option<Conn<B>> {
        loop {
            let Idle { mut conn, since } =
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if since.elapsed() >= IDLE_TIMEOUT {
                continue;
            }
            // Not polled while idle: a close or a stray byte is found now.
            let mut cx = Context::from_waker(Waker::noop());
            if conn.driver.as_mut().poll(&mut cx).is_pending() && conn.send.is_ready() {
                return Some(conn);
            }
        }
    }

    /// Back to the pool: a connection whose response was read to its end.
    fn checkin(&self, conn: Conn<B>) {
        if conn.send.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let expired = idle
            .iter()
            .take_while(|i| i.since.elapsed() >= IDLE_TIMEOUT)
            .count();
        idle.drain(..expired);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<Conn<B>, TransportError> {
        let io = self
            .connector
            .clone()
            .oneshot(self.origin.clone())
            .await
            .map_err(|e| TransportError::new(super::direct::chain(&e)))?;
        let (send, driver) = http1::handshake(io)
            .await
            .map_err(|e| TransportError::new(super::direct::chain(&e)))?;
        Ok(Conn {
            send,
            driver: Box::pin(driver),
        })
    }
}

/// `pending` (a response on `conn`), with the connection driven meanwhile. A connection that
/// ends is dropped, which fails a request it still holds: `pending` always resolves.
async fn drive_until<B, F>(conn: &mut Option<Conn<B>>, pending: F) -> F::Output
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: Future,
{
    let mut pending = std::pin::pin!(pending);
    std::future::poll_fn(|cx| {
        if let Some(c) = conn {
            if c.driver.as_mut().poll(cx).is_ready() {
                *conn = None;
            }
        }
        pending.as_mut().poll(cx)
    })
    .await
}

/// A response body read by its reader's task, the connection driven as it goes; back to the
/// pool when read to its end, closed when dropped before.
pub(super) struct PlainBody<B: Body + 'static> {
    body: Incoming,
    conn: Option<Conn<B>>,
    pool: Arc<PlainPool<B>>,
    ending: Ending,
}

impl<B: Body + 'static> PlainBody<B> {
    fn new(body: Incoming, conn: Option<Conn<B>>, pool: Arc<PlainPool<B>>) -> Self {
        PlainBody {
            body,
            conn,
            pool,
            ending: Ending::default(),
        }
    }
}

impl<B> Stream for PlainBody<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(answer) = this.ending.before_reading() {
            return answer;
        }
        let mut gathered = Gathered::default();
        let mut driven = false;
        loop {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        gathered.add(data);
                        driven = false;
                        if gathered.len() >= GATHER_LIMIT {
                            return Poll::Ready(gathered.take().map(Ok));
                        }
                    }
                }
                Poll::Ready(end) => {
                    let error = end.and_then(Result::err).map(|e| {
                        this.conn = None;
                        TransportError::new(super::direct::chain(&e))
                    });
                    if let Some(conn) = this.conn.take() {
                        this.pool.checkin(conn);
                    }
                    return this.ending.end(gathered.take(), error);
                }
                Poll::Pending => match &mut this.conn {
                    Some(conn) if !driven => {
                        driven = true;
                        if conn.driver.as_mut().poll(cx).is_ready() {
                            // Ended: the body hears why (or its end) from hyper.
                            this.conn = None;
                        }
                    }
                    _ => {
                        return match gathered.take() {
                            Some(bytes) => Poll::Ready(Some(Ok(bytes))),
                            None => Poll::Pending,
                        }
                    }
                },
            }
        }
    }
}

#[cfg(test)]
#[path = "plain_h1_tests.rs"]
mod tests;
