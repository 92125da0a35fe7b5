//! The failover policy, in one place: dispatch owns every choice of key and every retry. A
//! request tries the keys usable for its model one by one — the session's key first while it is
//! usable (affinity), then round-robin — each key at most once and each attempt bounded by
//! `REQUEST_TIMEOUT`. Every outcome is classified once and recorded in the pool, the unusable
//! answers a surface refuses included. A request the client got wrong goes straight back; at most
//! [`MAX_TRANSIENT_ATTEMPTS`] upstream failures and [`MAX_UNUSABLE_ANSWERS`] unusable answers are
//! spent on one request. A stream may switch keys only until its first byte is in hand (see
//! [`stream`]); a surface may ask for a commit deadline, after which it gets the dispatch still
//! under way and keeps its client waiting. When no key can serve now but one returns within
//! `QUEUE_MAX_WAIT`, the request waits for it in its model's line (see [`queue`]) instead of
//! taking a 503; after the wait, the keys it met rate-limited or failing may serve it again (as
//! the pool allows, within the same budgets).

mod affinity;
mod blame;
mod error;
mod evidence;
mod queue;
#[cfg(test)]
mod queue_tests;
mod recovery;
mod route;
mod stream;
#[cfg(test)]
mod tests;
mod tier;

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode};
use tokio::time::timeout;

pub use affinity::Affinity;
pub use error::{no_key_message, retry_after_secs, Cause, DispatchError, Failure, StreamBroken};
pub use queue::Queue;
pub use recovery::{parse_event, EventRead, ParsedEvent, Recovering};
use route::Target;
pub use route::{Placement, Route};
pub use stream::{CommittedStream, PendingStream, StreamStart};

use crate::models::served::Served;
use crate::pool::{KeyPool, Lease};
use crate::store::Backend;
use crate::telemetry::trace::Pick;
use crate::telemetry::{Telemetry, Tokens};
use crate::upstream::classify::{classify, Verdict};
use crate::upstream::status::RpcStatus;
use crate::upstream::{BodyStream, Upstream, UpstreamRequest};
use queue::{Manner, Turn};

/// Upstream failures of the transient kind (5xx, timeouts, connection errors) that one request
/// may meet before giving up; rate limits and rejected keys do not count (they fail over until
/// the keys run out).
pub const MAX_TRANSIENT_ATTEMPTS: usize = 3;

/// Answers a surface may refuse as unusable (Gemini's `MALFORMED_FUNCTION_CALL`) before the last
/// one is returned: the first is retried once, on another key.
pub const MAX_UNUSABLE_ANSWERS: usize = 2;

/// Rate limits one request may meet on keys it got after waiting in its model's line, before it
/// stops waiting: the pool said those keys were back, and Gemini disagreed that often.
pub const MAX_RATE_LIMITS_AFTER_WAITING: usize = 3;

/// How much of an upstream error body is read (they are small; this bounds a hostile one).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A successful non-streaming answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// Headers passed back as they came (the upload protocol's); usually none.
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub lease: Lease,
}

/// What a surface makes of a successful answer.
pub enum Checked<T, E> {
    /// Usable: the request is done.
    Accept(T),
    /// Final: the surface answers with this error, and no other key would do better.
    Refuse(E),
    /// Unusable, but another attempt may succeed (recorded against the key like any failure).
    Retry(E),
}

/// Runs requests against the pool with failover.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pool: Arc<KeyPool>,
    upstream: Arc<dyn Upstream>,
    affinity: Arc<Affinity>,
    attempt_timeout: Duration,
    telemetry: Arc<Telemetry>,
    /// Which model answers each moving alias, as the answers say.
    served: Arc<Served>,
    /// The lines requests wait in for a key (`None`: `QUEUE_MAX_WAIT=0`, a 503 at once).
    queue: Option<Arc<Queue>>,
}

/// How one attempt went wrong.
enum Attempt {
    /// The key or the upstream failed; another key may serve.
    Failed(DispatchError, Verdict),
    /// The request's own fault: answer the client now.
    Client(DispatchError),
}

impl Dispatcher {
    pub fn new(
        pool: Arc<KeyPool>,
        upstream: Arc<dyn Upstream>,
        attempt_timeout: Duration,
    ) -> Dispatcher {
        let telemetry = Telemetry::new(Backend::Volatile, *pool.clock());
        Dispatcher {
            pool,
            upstream,
            affinity: Arc::new(Affinity::default()),
            attempt_timeout,
            telemetry,
            served: Arc::new(Served::default()),
            queue: None,
        }
    }

    /// Requests that no key can serve now wait up to `max_wait` for one, in lines of at most
    /// `max_length` per model; a zero `max_wait` turns waiting off.
    pub fn with_queue(mut self, max_wait: Duration, max_length: usize) -> Dispatcher {
        self.queue = (!max_wait.is_zero()).then(|| Arc::new(Queue::new(max_wait, max_length)));
        self
    }

    /// The lines requests wait in, when waiting is on.
    pub fn queue(&self) -> Option<&Arc<Queue>> {
        self.queue.as_ref()
    }

    /// Which model answers each moving alias (`gemini-flash-latest`), as answers say.
    pub fn served_models(&self) -> &Arc<Served> {
        &self.served
    }

    /// Records into `telemetry` (the server's) instead of a private one.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Dispatcher {
        self.telemetry = telemetry;
        self
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    pub fn pool(&self) -> &Arc<KeyPool> {
        &self.pool
    }

    /// A non-streaming request: the first success across the usable keys.
    pub async fn unary(
        &self,
        route: &Route,
        req: &UpstreamRequest,
    ) -> Result<Answer, DispatchError> {
        let accepted = self
            .unary_checked(
                route,
                req,
                Checked::<Answer, std::convert::Infallible>::Accept,
            )
            .await?;
        Ok(accepted.unwrap_or_else(|never| match never {}))
    }

    /// A non-streaming request whose successful answers `check` judges: an answer it refuses as
    /// [`Checked::Retry`] costs an attempt and is retried on another key (up to
    /// [`MAX_UNUSABLE_ANSWERS`]); a final refusal, or the last one, comes back as `Ok(Err(e))`.
    pub async fn unary_checked<T, E>(
        &self,
        route: &Route,
        req: &UpstreamRequest,
        check: impl FnMut(Answer) -> Checked<T, E>,
    ) -> Result<Result<T, E>, DispatchError> {
        let mut check = check;
        let tiered = tier::tiered(&self.telemetry.pricing(), route, req);
        let req = tiered.as_ref().unwrap_or(req);
        self.with_failover(
            route,
            tokens_of(req),
            (&[], route.manner()),
            |lease| self.unary_attempt(lease, req),
            |answer: Answer| {
                if let Target::Model(m) = &route.target {
                    if Served::wants(m) {
                        if let Some(version) = model_version_of(&answer.body) {
                            self.served.learn(m, version);
                        }
                    }
                }
                tier::note_served(route, &answer.headers);
                if let Some(tokens) = usage_of(&answer.body) {
                    let key = answer.lease.key.shared_id();
                    self.telemetry
                        .tokens(route.tally(), route.label(), key, tokens);
                }
                check(answer)
            },
        )
        .await
    }

    /// One non-streaming attempt with `lease`, bounded by the attempt timeout.
    async fn unary_attempt(&self, lease: Lease, req: &UpstreamRequest) -> Result<Answer, Attempt> {
        let attempt = async {
            let resp = self.upstream.send(&lease.key, req).await?;
            if !resp.status.is_success() {
                return Ok(Err((resp.status, read_error_body(resp.body).await)));
            }
            let body = collect(resp.body).await?;
            let head = (resp.status, resp.content_type, resp.headers);
            Ok::<_, crate::upstream::TransportError>(Ok((head, body)))
        };
        match timeout(self.attempt_timeout, attempt).await {
            Ok(Ok(Ok(((status, content_type, headers), body)))) => Ok(Answer {
                status,
                content_type,
                headers,
                body,
                lease,
            }),
            Ok(Ok(Err((status, body)))) => Err(judge(status, body)),
            Ok(Err(e)) => Err(failed(Failure::Transport(e))),
            Err(_) => Err(failed(Failure::NoAnswerInTime)),
        }
    }

    /// The failover loop shared by every kind of request: `attempt` runs one key, `check`
    /// judges what a successful attempt brought. `start` is the keys already tried (a stream's
    /// continuation) and how the request stands towards its model's line.
    async fn with_failover<T, U, E, F, Fut>(
        &self,
        route: &Route,
        req_tokens: u64,
        start: (&[usize], Manner),
        mut attempt: F,
        mut check: impl FnMut(T) -> Checked<U, E>,
    ) -> Result<Result<U, E>, DispatchError>
    where
        F: FnMut(Lease) -> Fut,
        Fut: Future<Output = Result<T, Attempt>>,
    {
        if let (Some(t), Target::Model(m)) = (route.tally(), &route.target) {
            if !t.0.may_use(m) {
                return Err(DispatchError::model_not_allowed(m));
            }
        }
        let (already_tried, manner) = start;
        let scope = route.scope();
        let tokens = req_tokens;
        let placement = route.placement();
        let preferred = match placement {
            Some(p) => p.first(),
            None => self.affinity.preferred(route.session.as_deref()),
        };
        let mut tried: Vec<usize> = already_tried.to_vec();
        // A placed request: every key outside its placement counts as tried from the start.
        if let Some(p) = placement {
            tried.extend((0..self.pool.slots()).filter(|&i| !p.admits(i)));
        }
        // Keys this request met rate-limited or failing: after a wait they may serve again
        // (the budgets still count), as the pool allows — a rest over, an ejection's probe.
        let mut rested: Vec<usize> = Vec::new();
        let (mut transient, mut unusable, mut limited_after_wait) = (0, 0, 0);
        let mut last: Option<DispatchError> = None;
        let mut last_unusable: Option<E> = None;
        let mut blame = blame::Blame::default();
        // A key said its tier lacks the model: if none can serve, that answer is the client's.
        let mut lacking: Option<DispatchError> = None;
        let exhausted = |retry_after| {
            if let Some(t) = route.tally() {
                t.0.exhausted();
            }
            Err(DispatchError::no_key_because(
                retry_after,
                self.pool.unserved(scope, tokens),
            ))
        };
        // This request's place in its model's line, once it has had to wait.
        let mut waiting = match self.behind_those_waiting(route, tokens, manner).await {
            Ok(waited) => waited,
            Err(retry_after) => return exhausted(retry_after),
        };
        loop {
            let mut spent = false;
            while let Some(lease) = self.pool.pick(scope, &tried, preferred, tokens).await {
                if let Some(w) = waiting.as_mut() {
                    w.step_out();
                }
                tried.push(lease.index);
                self.telemetry.trace_pick(route.tally(), || Pick {
                    key_id: lease.key.shared_id().clone(),
                    group: self.pool.group_name(lease.index),
                    model: route.label().clone(),
                    reason: Pick::reason(lease.index, preferred, placement.is_some()),
                    probe: lease.probe,
                    after_wait: waiting.is_some(),
                    continuation: !already_tried.is_empty(),
                });
                // The key (shared, not copied) is kept only to name it in a failure's log line.
                let (index, key, probe) = (lease.index, lease.key.clone(), lease.probe);
                let (verdict, because) = match attempt(lease).await {
                    Ok(answer) => match check(answer) {
                        Checked::Accept(done) => {
                            self.observe(route, key.shared_id(), None);
                            self.served(route, index).await;
                            blame.served(&self.pool, scope).await;
                            return Ok(Ok(done));
                        }
                        Checked::Refuse(e) => {
                            self.observe(route, key.shared_id(), None);
                            self.served(route, index).await;
                            blame.served(&self.pool, scope).await;
                            return Ok(Err(e));
                        }
                        Checked::Retry(e) => {
                            self.pool.record_success(index, scope).await;
                            unusable += 1;
                            last_unusable = Some(e);
                            let verdict = Verdict::UnusableAnswer;
                            let because = evidence::of_label(route, &verdict);
                            (verdict, because)
                        }
                    },
                    Err(Attempt::Client(err)) => {
                        self.observe(route, key.shared_id(), Some(&Verdict::ClientFault));
                        self.pool
                            .record_failure(index, scope, &Verdict::ClientFault)
                            .await;
                        blame.failed(&self.pool, scope).await;
                        return Err(err);
                    }
                    Err(Attempt::Failed(err, Verdict::ModelLacking)) => {
                        let because = evidence::of_error(route, &err);
                        lacking = Some(err);
                        (Verdict::ModelLacking, because)
                    }
                    Err(Attempt::Failed(err, verdict)) => {
                        // A probe of a key (or model) known to be failing tells nothing new
                        // about this request's chances: it spends no budget.
                        if verdict.is_transient() && !probe {
                            transient += 1;
                        }
                        if verdict.is_transient() {
                            rested.push(index);
                        }
                        if matches!(verdict, Verdict::RateLimited(_)) {
                            rested.push(index);
                            limited_after_wait += usize::from(waiting.is_some());
                        }
                        let because = evidence::of_error(route, &err);
                        last = Some(err);
                        (verdict, because)
                    }
                };
                self.observe(route, key.shared_id(), Some(&verdict));
                tracing::warn!(key = %key.id(), model = route.name(), outcome = verdict.label(), probe, "upstream attempt failed; failing over");
                if blame::Blame::holds(&verdict) {
                    blame.hold(index, because);
                } else {
                    // Another key answered otherwise: the failures held were their keys'.
                    std::mem::take(&mut blame).served(&self.pool, scope).await;
                    self.pool
                        .record_failure_because(index, scope, &verdict, &because)
                        .await;
                }
                if unusable >= MAX_UNUSABLE_ANSWERS
                    || transient >= MAX_TRANSIENT_ATTEMPTS
                    || placement.is_some_and(|p| p.once)
                {
                    spent = true;
                    break;
                }
            }
            // This round's transient failures are settled before any wait: charged to a key
            // alone, to none when they followed the request over several.
            std::mem::take(&mut blame).failed(&self.pool, scope).await;
            if let Some(e) = last_unusable {
                return Ok(Err(e));
            }
            if let (Some(e), None) = (lacking.take(), &last) {
                // Every key tried said its tier lacks the model: Google's own "not found".
                if self.pool.retry_after(scope, tokens).await.is_none() {
                    if let Some(w) = waiting.as_mut() {
                        w.finish(false);
                    }
                    return Err(e);
                }
            }
            let mut retry_after = self.pool.retry_after(scope, tokens).await;
            // No key now, one back soon enough: wait for it (while the budgets last).
            if !spent
                && limited_after_wait < MAX_RATE_LIMITS_AFTER_WAITING
                && manner == Manner::Waits
            {
                match self.wait_for_key(route, &mut waiting, retry_after).await {
                    Some(Turn::Pick) => {
                        tried.retain(|i| !rested.contains(i));
                        rested.clear();
                        continue;
                    }
                    // Its allowance ran out in the line: when keys return, as of now.
                    Some(Turn::TimedOut) => {
                        retry_after = self.pool.retry_after(scope, tokens).await
                    }
                    None => {}
                }
            }
            let end = match retry_after {
                // A key is usable now: every usable key was tried (the last error says why),
                // or — after a rate limit — a slot freed in between: the client may come right
                // back.
                Some(d) if d.is_zero() => match last {
                    Some(e) if e.status != StatusCode::TOO_MANY_REQUESTS => Err(e),
                    _ => exhausted(Some(d)),
                },
                retry_after => exhausted(retry_after),
            };
            if let Some(w) = waiting.as_mut() {
                let refused = end
                    .as_ref()
                    .is_err_and(|e| matches!(e.cause, Cause::NoKeyAvailable { .. }));
                w.finish(refused);
            }
            return end;
        }
    }

    /// One attempt's outcome, for the metrics, the usage book and the request's tally.
    fn observe(&self, route: &Route, key_id: &Arc<str>, verdict: Option<&Verdict>) {
        let failed_over = verdict.is_some_and(Verdict::may_fail_over);
        self.telemetry
            .attempt(route.tally(), route.label(), key_id, verdict, failed_over);
    }

    /// A key served: affinity remembers it, and the pool closes what was open about it.
    async fn served(&self, route: &Route, index: usize) {
        self.affinity.remember(route.session.as_deref(), index);
        self.pool.record_success(index, route.scope()).await;
        if let Some(q) = &self.queue {
            q.nudge(route.scope().name());
        }
    }
}

/// Classifies a non-2xx answer; the body is redacted before it goes anywhere.
fn judge(status: StatusCode, body: Bytes) -> Attempt {
    let rpc = RpcStatus::parse(&body);
    let verdict = classify(status.as_u16(), rpc.as_ref());
    let body = match crate::secret::redact(&String::from_utf8_lossy(&body)) {
        std::borrow::Cow::Owned(clean) => Bytes::from(clean),
        std::borrow::Cow::Borrowed(_) => body,
    };
    let rpc = rpc.map(|mut r| {
        r.message = crate::secret::redact(&r.message).into_owned();
        r
    });
    let err = DispatchError {
        status,
        cause: Cause::Upstream { body, rpc },
    };
    if verdict.may_fail_over() {
        Attempt::Failed(err, verdict)
    } else {
        Attempt::Client(err)
    }
}

/// About how many input tokens a request is (a quarter of its body's bytes: JSON overhead
/// makes this an overestimate, which errs on the side of headroom).
pub fn tokens_of(req: &UpstreamRequest) -> u64 {
    req.body.as_ref().map_or(0, |b| b.len() as u64 / 4)
}

/// The tokens a whole Gemini answer reports in its `usageMetadata` (found without parsing the
/// rest of the body; read by the stream's event reader, serde when it declines).
pub fn usage_of(body: &[u8]) -> Option<Tokens> {
    // Built once: `memmem::rfind` builds its searcher anew on every call, which cost more than
    // the search.
    static USAGE_KEY: LazyLock<memchr::memmem::FinderRev<'static>> =
        LazyLock::new(|| memchr::memmem::FinderRev::new(b"\"usageMetadata\""));
    let at = USAGE_KEY.rfind(body)?;
    let rest = &body[at + b"\"usageMetadata\"".len()..];
    let colon = rest.iter().position(|b| *b == b':')?;
    let value = &rest[colon + 1..];
    if let Some(u) = std::str::from_utf8(value)
        .ok()
        .and_then(crate::upstream::common_event::read_usage)
    {
        return Some(Tokens::from_usage(&u));
    }
    let mut values = serde_json::Deserializer::from_slice(value)
        .into_iter::<crate::upstream::wire::UsageMetadata>();
    values.next()?.ok().map(|u| Tokens::from_usage(&u))
}

/// The `modelVersion` a whole Gemini answer names (found without parsing the rest).
fn model_version_of(body: &[u8]) -> Option<&str> {
    let at = memchr::memmem::find(body, b"\"modelVersion\"")?;
    let rest = &body[at + b"\"modelVersion\"".len()..];
    let open = rest.iter().position(|b| *b == b'"')?;
    let value = &rest[open + 1..];
    let close = value.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&value[..close]).ok()
}

/// An attempt that got no answer: transient.
fn failed(failure: Failure) -> Attempt {
    Attempt::Failed(DispatchError::no_answer(failure), Verdict::Transient)
}

impl From<crate::upstream::TransportError> for Attempt {
    fn from(e: crate::upstream::TransportError) -> Self {
        failed(Failure::Transport(e))
    }
}

/// A whole body; a body of one chunk is not copied.
async fn collect(mut body: BodyStream) -> Result<Bytes, crate::upstream::TransportError> {
    let Some(first) = body.next().await.transpose()? else {
        return Ok(Bytes::new());
    };
    let Some(second) = body.next().await.transpose()? else {
        return Ok(first);
    };
    let mut all = BytesMut::with_capacity(first.len() + second.len());
    all.extend_from_slice(&first);
    all.extend_from_slice(&second);
    while let Some(chunk) = body.next().await.transpose()? {
        all.extend_from_slice(&chunk);
    }
    Ok(all.freeze())
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error answer; a broken body reads as empty.
async fn read_error_body(mut body: BodyStream) -> Bytes {
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        let room = MAX_ERROR_BODY.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Bytes::from(out)
}
