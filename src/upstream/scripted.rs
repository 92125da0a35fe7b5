//! A scripted stand-in for Gemini behind the [`Upstream`] seam (tests only): each key answers
//! from its own queue of [`Reply`]s (then with a plain success), delays run on tokio's clock (so
//! a paused clock makes them instant and exact), and every call is recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

use super::{TransportError, Upstream, UpstreamRequest, UpstreamResponse};
use crate::secret::ApiKey;

/// A generateContent answer saying `Hi`.
pub const HI: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}}"#;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status and JSON body at once.
    Answer(StatusCode, String),
    /// The reply after a delay.
    After(Duration, Box<Reply>),
    /// The response headers never come.
    Hang,
    /// The connection is refused.
    Refused,
    /// 200 and SSE events, each after its delay; then the end, a break, or silence.
    Stream {
        events: Vec<(Duration, String)>,
        then: StreamEnd,
    },
}

/// How a scripted stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    Close,
    Break,
    Hang,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Answer(StatusCode::OK, HI.to_string())
    }

    /// A Google error body with `details`.
    pub fn error(status: u16, rpc_status: &str, details: serde_json::Value) -> Reply {
        let body = serde_json::json!({"error": {"code": status, "message": format!("scripted {rpc_status}"), "status": rpc_status, "details": details}});
        Reply::Answer(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body.to_string(),
        )
    }

    /// A per-minute 429 with a retry delay.
    pub fn rate_limited(delay_secs: u64) -> Reply {
        Reply::error(
            429,
            "RESOURCE_EXHAUSTED",
            serde_json::json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                    {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{delay_secs}s")}
            ]),
        )
    }

    pub fn unavailable() -> Reply {
        Reply::error(503, "UNAVAILABLE", serde_json::json!([]))
    }

    pub fn after(delay: Duration, reply: Reply) -> Reply {
        Reply::After(delay, Box::new(reply))
    }

    /// A stream of `events` JSON payloads, one right after the other, ending cleanly.
    pub fn stream(events: &[&str]) -> Reply {
        Reply::Stream {
            events: events
                .iter()
                .map(|e| (Duration::ZERO, e.to_string()))
                .collect(),
            then: StreamEnd::Close,
        }
    }
}

/// One call the upstream received.
#[derive(Debug, Clone)]
pub struct Call {
    pub key: ApiKey,
    pub path: String,
    pub at: Instant,
}

/// The scripted upstream.
#[derive(Debug, Default)]
pub struct Scripted {
    replies: Mutex<HashMap<String, VecDeque<Reply>>>,
    calls: Mutex<Vec<Call>>,
}

impl Scripted {
    /// `key` answers with `replies` in turn, then with [`Reply::ok`].
    pub fn on(&self, key: &ApiKey, replies: impl IntoIterator<Item = Reply>) -> &Self {
        self.replies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.id().to_string())
            .or_default()
            .extend(replies);
        self
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The ids of the keys called, in order.
    pub fn keys_called(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c.key.id().to_string())
            .collect()
    }

    fn next_reply(&self, key: &ApiKey) -> Reply {
        self.replies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(key.id())
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(Reply::ok)
    }
}

impl Upstream for Scripted {
    fn send<'a>(
        &'a self,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Call {
                key: key.clone(),
                path: req.path_and_query.clone(),
                at: Instant::now(),
            });
        let reply = self.next_reply(key);
        Box::pin(play(reply))
    }
}

async fn play(mut reply: Reply) -> Result<UpstreamResponse, TransportError> {
    loop {
        match reply {
            Reply::After(delay, next) => {
                tokio::time::sleep(delay).await;
                reply = *next;
            }
            Reply::Hang => std::future::pending::<()>().await,
            Reply::Refused => return Err(TransportError::new("connection refused (scripted)")),
            Reply::Answer(status, body) => {
                return Ok(UpstreamResponse {
                    status,
                    content_type: Some(HeaderValue::from_static("application/json; charset=UTF-8")),
                    body: futures_util::stream::once(async move { Ok(Bytes::from(body)) }).boxed(),
                    headers: Vec::new(),
                })
            }
            Reply::Stream { events, then } => {
                let chunks = futures_util::stream::iter(events).then(|(delay, event)| async move {
                    tokio::time::sleep(delay).await;
                    Ok(Bytes::from(format!("data: {event}\r\n\r\n")))
                });
                let end = futures_util::stream::once(async move {
                    match then {
                        StreamEnd::Close => None,
                        StreamEnd::Break => {
                            Some(Err(TransportError::new("connection reset (scripted)")))
                        }
                        StreamEnd::Hang => std::future::pending().await,
                    }
                })
                .filter_map(|x| async move { x });
                return Ok(UpstreamResponse {
                    status: StatusCode::OK,
                    content_type: Some(HeaderValue::from_static("text/event-stream")),
                    body: super::coalesce::coalesced(chunks.chain(end).boxed()),
                    headers: Vec::new(),
                });
            }
        }
    }
}
