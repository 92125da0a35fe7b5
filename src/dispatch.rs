//! The failover policy, in one place. A request tries the keys usable for its model one by one,
//! each at most once and each attempt bounded by `REQUEST_TIMEOUT`; every failure is classified
//! once and recorded in the pool. A request that the client got wrong goes straight back. A
//! stream may switch keys only until its first byte is in hand: [`Dispatcher::stream`] returns
//! that first chunk together with the rest, and the caller commits by sending it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::time::timeout;

use crate::pool::{KeyPool, Lease};
use crate::upstream::classify::{classify, Verdict};
use crate::upstream::client::{UpstreamClient, UpstreamRequest};
use crate::upstream::status::RpcStatus;

/// Upstream failures of the transient kind (5xx, timeouts, connection errors) that one request
/// may meet before giving up; rate limits and rejected keys do not count (they fail over until
/// the keys run out).
pub const MAX_TRANSIENT_ATTEMPTS: usize = 3;

/// How much of an upstream error body is read (they are small; this bounds a hostile one).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Why a request could not be served.
#[derive(Debug)]
pub enum DispatchError {
    /// No key can serve the model now; `retry_after` is when the first comes back, `None` if
    /// none will by itself.
    NoKeyAvailable { retry_after: Option<Duration> },
    /// Gemini's own answer, to hand to the client (its fault, or the last transient failure).
    /// The body is already redacted.
    Upstream {
        status: u16,
        body: Bytes,
        rpc: Option<RpcStatus>,
    },
    /// No answer at all from the last attempt.
    Unreachable { timed_out: bool, message: String },
}

/// A successful non-streaming answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub lease: Lease,
}

/// A stream whose first chunk has arrived: committing means sending `first`.
pub struct CommittedStream {
    pub status: u16,
    pub content_type: Option<String>,
    pub first: Bytes,
    /// The rest of the upstream body, each chunk bounded by the idle timeout. An `Err` means the
    /// stream broke after commit (already recorded in the pool).
    pub rest: BoxStream<'static, Result<Bytes, StreamBroken>>,
    pub lease: Lease,
}

/// The upstream stream failed after the first byte.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StreamBroken(pub String);

/// Runs requests against the pool with failover.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub pool: Arc<KeyPool>,
    client: UpstreamClient,
    attempt_timeout: Duration,
}

enum Attempt {
    Failed(DispatchError, Verdict),
    Client(DispatchError),
}

impl Dispatcher {
    pub fn new(pool: Arc<KeyPool>, client: UpstreamClient, attempt_timeout: Duration) -> Self {
        Dispatcher {
            pool,
            client,
            attempt_timeout,
        }
    }

    /// A non-streaming request: the first success across the usable keys.
    pub async fn unary(
        &self,
        model: &str,
        req: &UpstreamRequest,
        preferred: Option<usize>,
    ) -> Result<Answer, DispatchError> {
        self.with_failover(model, preferred, |lease| async move {
            let started = timeout(self.attempt_timeout, async {
                let resp = self.client.send(&lease.key, req).await?;
                let status = resp.status().as_u16();
                let content_type = content_type(&resp);
                if !resp.status().is_success() {
                    return Ok(Err((status, read_error_body(resp).await)));
                }
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>(Ok((status, content_type, body)))
            })
            .await;
            match started {
                Ok(Ok(Ok((status, content_type, body)))) => Ok(Answer {
                    status,
                    content_type,
                    body,
                    lease,
                }),
                Ok(Ok(Err((status, body)))) => Err(self.judge(status, body)),
                Ok(Err(e)) => Err(self.unreachable(false, &e)),
                Err(_) => Err(self.unreachable(true, &"no answer in time")),
            }
        })
        .await
    }

    /// A streaming request: fails over until a first chunk arrives, then hands the stream over.
    ///
    /// With `commit_after`, a stream whose headers arrived but whose first chunk has not come
    /// within that time is handed over anyway with an empty `first` (the caller commits and keeps
    /// the client waiting with keep-alives — Claude Code gives up on a request with no response
    /// headers after 60 s). Without it, the first chunk is awaited up to the attempt timeout.
    pub async fn stream(
        &self,
        model: &str,
        req: &UpstreamRequest,
        preferred: Option<usize>,
        commit_after: Option<Duration>,
    ) -> Result<CommittedStream, DispatchError> {
        let first_wait = commit_after.map_or(self.attempt_timeout, |c| c.min(self.attempt_timeout));
        self.with_failover(model, preferred, |lease| async move {
            let resp = match timeout(self.attempt_timeout, self.client.send(&lease.key, req)).await
            {
                Ok(Ok(resp)) => resp,
                Ok(Err(e)) => return Err(self.unreachable(false, &e)),
                Err(_) => return Err(self.unreachable(true, &"no response headers in time")),
            };
            let status = resp.status().as_u16();
            if !resp.status().is_success() {
                let body = timeout(self.attempt_timeout, read_error_body(resp))
                    .await
                    .unwrap_or_default();
                return Err(self.judge(status, body));
            }
            let content_type = content_type(&resp);
            let mut body = resp.bytes_stream();
            let first = loop {
                match timeout(first_wait, body.next()).await {
                    Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
                    Ok(Some(Ok(chunk))) => break chunk,
                    Ok(Some(Err(e))) => return Err(self.unreachable(false, &e)),
                    Ok(None) => {
                        return Err(self.unreachable(false, &"stream ended before any data"))
                    }
                    Err(_) if commit_after.is_some() => break Bytes::new(),
                    Err(_) => return Err(self.unreachable(true, &"no stream data in time")),
                }
            };
            let rest = self.guard_rest(body, &lease, model);
            Ok(CommittedStream {
                status,
                content_type,
                first,
                rest,
                lease,
            })
        })
        .await
    }

    /// The failover loop shared by both kinds of request.
    async fn with_failover<T, F, Fut>(
        &self,
        model: &str,
        preferred: Option<usize>,
        mut attempt: F,
    ) -> Result<T, DispatchError>
    where
        F: FnMut(Lease) -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let mut tried: Vec<usize> = Vec::new();
        let mut transient = 0;
        let mut last: Option<DispatchError> = None;
        while let Some(lease) = self.pool.pick(model, &tried, preferred).await {
            tried.push(lease.index);
            // The key (shared, not copied) is kept only to name it in a failure's log line.
            let (index, key) = (lease.index, lease.key.clone());
            match attempt(lease).await {
                Ok(done) => return Ok(done),
                Err(Attempt::Client(err)) => {
                    self.pool
                        .record_failure(index, model, &Verdict::ClientFault)
                        .await;
                    return Err(err);
                }
                Err(Attempt::Failed(err, verdict)) => {
                    tracing::warn!(key = %key.id(), model, outcome = verdict.label(), "upstream attempt failed; failing over");
                    self.pool.record_failure(index, model, &verdict).await;
                    if verdict == Verdict::Transient {
                        transient += 1;
                    }
                    last = Some(err);
                    if transient >= MAX_TRANSIENT_ATTEMPTS {
                        break;
                    }
                }
            }
        }
        match self.pool.retry_after(model).await {
            Some(d) if d.is_zero() => {
                Err(last.unwrap_or(DispatchError::NoKeyAvailable { retry_after: None }))
            }
            retry_after => Err(DispatchError::NoKeyAvailable { retry_after }),
        }
    }

    fn judge(&self, status: u16, body: Bytes) -> Attempt {
        let rpc = RpcStatus::parse(&body);
        let verdict = classify(status, rpc.as_ref());
        let body = match self.pool.redact(&String::from_utf8_lossy(&body)) {
            std::borrow::Cow::Owned(clean) => Bytes::from(clean),
            std::borrow::Cow::Borrowed(_) => body,
        };
        let rpc = rpc.map(|mut r| {
            r.message = self.pool.redact(&r.message).into_owned();
            r
        });
        let err = DispatchError::Upstream { status, body, rpc };
        if verdict.may_fail_over() {
            Attempt::Failed(err, verdict)
        } else {
            Attempt::Client(err)
        }
    }

    fn unreachable(&self, timed_out: bool, e: &dyn std::fmt::Display) -> Attempt {
        let message = self.pool.redact(&e.to_string()).into_owned();
        Attempt::Failed(
            DispatchError::Unreachable { timed_out, message },
            Verdict::Transient,
        )
    }

    /// Wraps the body after commit: an idle timeout per chunk, and a failure recorded once.
    fn guard_rest(
        &self,
        body: impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
        lease: &Lease,
        model: &str,
    ) -> BoxStream<'static, Result<Bytes, StreamBroken>> {
        let pool = self.pool.clone();
        let idle = self.attempt_timeout;
        let index = lease.index;
        let model = model.to_string();
        let state = (Box::pin(body), Some((pool, model)));
        futures_util::stream::unfold(state, move |(mut body, guard)| async move {
            let (pool, model) = guard?;
            let problem = match timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => return Some((Ok(chunk), (body, Some((pool, model))))),
                Ok(None) => return None,
                Ok(Some(Err(e))) => e.to_string(),
                Err(_) => "upstream stream went silent".to_string(),
            };
            pool.record_failure(index, &model, &Verdict::Transient)
                .await;
            let msg = pool.redact(&problem).into_owned();
            tracing::warn!(model, error = %msg, "upstream stream broke after the first byte");
            Some((Err(StreamBroken(msg)), (body, None)))
        })
        .boxed()
    }
}

fn content_type(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error answer; a broken body reads as empty.
async fn read_error_body(resp: reqwest::Response) -> Bytes {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = MAX_ERROR_BODY.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Bytes::from(out)
}
