//! Streams: an attempt succeeds once its response headers *and its first body chunk* are in
//! hand; until then every failure fails over like a unary request. The caller commits by sending
//! that first chunk. After it, the rest of the body is forwarded chunk by chunk (never buffered)
//! with an idle timeout per chunk; a failure is recorded once and surfaces as
//! [`StreamBroken`] — the client sees a broken stream, never a clean truncated end.
//!
//! A stream waits in its model's line (see `queue`) only before its first byte: the
//! continuation of a stream already answering never does. A wait counts against the commit
//! deadline like failover does.
//!
//! With a commit deadline (counted from the request's start, failover included), a dispatch
//! still under way when it passes is handed over as [`StreamStart::Pending`], so the surface can
//! send its client response headers and keep-alives while keys are still being tried (Claude
//! Code gives up on a request with no response headers after 60 s).

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode};
use tokio::time::timeout;

use super::queue::Manner;
use super::recovery::{is_sse, Hand, Recovering};
use super::{failed, judge, read_error_body, Attempt, Checked, Dispatcher, Route};
use super::{DispatchError, Failure, StreamBroken};
use crate::pool::Lease;
use crate::upstream::classify::Verdict;
use crate::upstream::{BodyStream, UpstreamRequest};

/// A stream whose first chunk has arrived: committing means sending `first`.
pub struct CommittedStream {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// Empty when the commit deadline came before Gemini's first chunk.
    pub first: Bytes,
    /// The rest of the upstream body, each chunk bounded by the idle timeout. An `Err` means the
    /// stream broke after commit (already recorded in the pool).
    pub rest: BoxStream<'static, Result<Bytes, StreamBroken>>,
    /// A followed SSE stream asked for as events (by a translating surface): the follower,
    /// which hands them on parsed; `first` and `rest` are then empty.
    pub events: Option<Box<Recovering>>,
    pub lease: Lease,
}

/// A dispatch still failing over after the commit deadline.
pub type PendingStream = BoxFuture<'static, Result<CommittedStream, DispatchError>>;

/// How a streaming dispatch began.
pub enum StreamStart {
    /// A key answered in time.
    Committed(CommittedStream),
    /// The commit deadline passed first: commit to the client now, and await this.
    Pending(PendingStream),
}

impl Dispatcher {
    /// A streaming request: fails over until a first chunk arrives (awaited up to the attempt
    /// timeout), then hands the stream over.
    pub async fn stream(
        &self,
        route: &Route,
        req: &UpstreamRequest,
    ) -> Result<CommittedStream, DispatchError> {
        self.stream_attempts(route, req, None, Hand::Framed).await
    }

    /// A streaming request under a commit deadline: the whole dispatch, failover included, gets
    /// `commit_after`; past it the caller gets [`StreamStart::Pending`]. An attempt whose
    /// headers arrived but whose first chunk has not is handed over with an empty `first` once
    /// `commit_after` has passed since the attempt began. For a surface that translates: an SSE
    /// stream comes as `events`, parsed.
    pub async fn stream_with_deadline(
        &self,
        route: Route,
        req: UpstreamRequest,
        commit_after: Duration,
    ) -> Result<StreamStart, DispatchError> {
        let me = self.clone();
        let mut pending: PendingStream = Box::pin(async move {
            me.stream_attempts(&route, &req, Some(commit_after), Hand::Parsed)
                .await
        });
        match timeout(commit_after, &mut pending).await {
            Ok(done) => done.map(StreamStart::Committed),
            Err(_) => Ok(StreamStart::Pending(pending)),
        }
    }

    /// Fails over until a stream commits; an SSE stream is then followed, so that a break
    /// after commit is continued on another key (see `recovery`).
    async fn stream_attempts(
        &self,
        route: &Route,
        req: &UpstreamRequest,
        commit_after: Option<Duration>,
        hand: Hand,
    ) -> Result<CommittedStream, DispatchError> {
        let tiered = super::tier::tiered(&self.telemetry.pricing(), route, req);
        let req = tiered.as_ref().unwrap_or(req);
        let committed = self
            .attempts(route, req, commit_after, (&[], route.manner()))
            .await?;
        if !is_sse(req) {
            return Ok(committed);
        }
        let mut following = Recovering::new(
            self.clone(),
            route.clone(),
            req.clone(),
            (committed.lease.index, committed.lease.key.shared_id()),
            (committed.first, committed.rest),
            hand,
        );
        Ok(match hand {
            Hand::Framed => CommittedStream {
                first: following.take_ready(),
                rest: following.into_stream(),
                ..committed
            },
            Hand::Parsed => CommittedStream {
                first: Bytes::new(),
                rest: futures_util::stream::empty().boxed(),
                events: Some(Box::new(following)),
                ..committed
            },
        })
    }

    /// A continuation's stream: like any stream attempt, on a key not in `tried`, not followed.
    pub(super) async fn stream_raw(
        &self,
        route: &Route,
        req: &UpstreamRequest,
        tried: &[usize],
    ) -> Result<CommittedStream, DispatchError> {
        // Bytes already went to the client: a continuation does not wait in the line.
        self.attempts(route, req, None, (tried, Manner::Skips))
            .await
    }

    /// Fails over until a stream's first chunk is in hand; `start` as for `with_failover`.
    async fn attempts(
        &self,
        route: &Route,
        req: &UpstreamRequest,
        commit_after: Option<Duration>,
        start: (&[usize], Manner),
    ) -> Result<CommittedStream, DispatchError> {
        let first_wait = commit_after.map_or(self.attempt_timeout, |c| c.min(self.attempt_timeout));
        let accepted = self
            .with_failover(
                route,
                super::tokens_of(req),
                start,
                |lease| self.stream_attempt(lease, route, req, first_wait, commit_after.is_some()),
                Checked::<CommittedStream, std::convert::Infallible>::Accept,
            )
            .await?;
        Ok(accepted.unwrap_or_else(|never| match never {}))
    }

    /// One streaming attempt: headers within the attempt timeout, then the first chunk within
    /// `first_wait` (or, when `commit_empty`, an empty first chunk after it).
    async fn stream_attempt(
        &self,
        lease: Lease,
        route: &Route,
        req: &UpstreamRequest,
        first_wait: Duration,
        commit_empty: bool,
    ) -> Result<CommittedStream, Attempt> {
        let resp = match timeout(self.attempt_timeout, self.upstream.send(&lease.key, req)).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => return Err(failed(Failure::Transport(e))),
            Err(_) => return Err(failed(Failure::NoHeadersInTime)),
        };
        if !resp.status.is_success() {
            let body = timeout(self.attempt_timeout, read_error_body(resp.body))
                .await
                .unwrap_or_default();
            return Err(judge(resp.status, body));
        }
        super::tier::note_served(route, &resp.headers);
        let mut body = resp.body;
        let first = loop {
            match timeout(first_wait, body.next()).await {
                Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Ok(Some(Ok(chunk))) => break chunk,
                Ok(Some(Err(e))) => return Err(failed(Failure::Transport(e))),
                Ok(None) => return Err(failed(Failure::EndedBeforeData)),
                Err(_) if commit_empty => break Bytes::new(),
                Err(_) => return Err(failed(Failure::NoDataInTime)),
            }
        };
        Ok(CommittedStream {
            status: resp.status,
            content_type: resp.content_type,
            first,
            rest: self.guard_rest(body, &lease, route),
            events: None,
            lease,
        })
    }

    /// Wraps the body after commit: an idle timeout per chunk, and a failure recorded once.
    fn guard_rest(
        &self,
        body: BodyStream,
        lease: &Lease,
        route: &Route,
    ) -> BoxStream<'static, Result<Bytes, StreamBroken>> {
        let pool = self.pool.clone();
        let idle = self.attempt_timeout;
        let index = lease.index;
        let state = (body, Some((pool, route.clone())));
        futures_util::stream::unfold(state, move |(mut body, guard)| async move {
            let (pool, route) = guard?;
            let broken = match timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => return Some((Ok(chunk), (body, Some((pool, route))))),
                Ok(None) => return None,
                Ok(Some(Err(e))) => StreamBroken::Transport(e),
                Err(_) => StreamBroken::WentSilent,
            };
            // Boxed: the record is this future's largest state, and every open stream holds it.
            Box::pin(pool.record_failure(index, route.scope(), &Verdict::Transient)).await;
            tracing::warn!(model = route.name(), error = %broken, "upstream stream broke after the first byte");
            Some((Err(broken), (body, None)))
        })
        .boxed()
    }
}
