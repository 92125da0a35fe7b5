//! The Anthropic stream relay: Gemini's SSE bytes in, Anthropic's events out, one upstream
//! chunk at a time through [`SseDecoder`] and the [`StreamTranslator`] state machine, with a
//! `ping` every [`PING_INTERVAL`] of upstream silence. A relay may start before dispatch has
//! committed (its commit deadline passed): the client then gets `message_start` and pings while
//! keys are still being tried. A stream that breaks ends with an `error` event, never a clean stop.

use std::time::Duration;

use axum::body::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::errors::{ApiError, ErrorType};
use super::stream::{write_ping, StreamTranslator};
use crate::dispatch::{CommittedStream, DispatchError, PendingStream, StreamBroken, StreamStart};
use crate::surfaces::Dialect;
use crate::upstream::sse::SseDecoder;
use crate::upstream::wire::GenerateContentResponse;

/// Keep-alive while Gemini is silent (it thinks without sending thoughts); Claude Code treats a
/// stream idle for 180 s as dead.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// Largest single upstream SSE event accepted (a whole answer with inline images fits).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// Where the relay reads from.
enum Upstream {
    /// The dispatch is still failing over; the client already has its headers.
    Pending(PendingStream),
    /// The committed upstream body.
    Body(BoxStream<'static, Result<Bytes, StreamBroken>>),
}

/// What waiting on the upstream produced.
enum Step {
    Silence,
    Committed(CommittedStream),
    Failed(DispatchError),
    Chunk(Bytes),
    Broken(StreamBroken),
    End,
}

/// Turns the Gemini stream into Anthropic SSE bytes, one upstream chunk at a time.
pub struct Relay {
    translator: StreamTranslator,
    decoder: SseDecoder,
    first: Option<Bytes>,
    upstream: Upstream,
    /// The Gemini model, for error messages.
    model: String,
    done: bool,
}

impl Relay {
    /// A relay of `start`: the stream committed in time, or the dispatch still under way.
    pub fn new(client_model: &str, model: String, start: StreamStart) -> Relay {
        let (first, upstream) = match start {
            StreamStart::Committed(c) => (c.first, Upstream::Body(c.rest)),
            StreamStart::Pending(p) => (Bytes::new(), Upstream::Pending(p)),
        };
        Relay {
            translator: StreamTranslator::new(client_model),
            decoder: SseDecoder::new(MAX_EVENT_BYTES),
            first: Some(first),
            upstream,
            model,
            done: false,
        }
    }

    /// The next bytes to send, or `None` when the stream is over.
    pub async fn next_bytes(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut out = Vec::new();
        if let Some(first) = self.first.take() {
            if first.is_empty() {
                // Committed before Gemini's first chunk: open the message and keep the line warm.
                self.translator.start(&mut out);
                write_ping(&mut out);
            } else {
                self.feed(&first, &mut out);
            }
            if !out.is_empty() {
                return Some(out);
            }
        }
        loop {
            let step = match &mut self.upstream {
                Upstream::Pending(dispatch) => {
                    match tokio::time::timeout(PING_INTERVAL, dispatch.as_mut()).await {
                        Err(_) => Step::Silence,
                        Ok(Ok(committed)) => Step::Committed(committed),
                        Ok(Err(e)) => Step::Failed(e),
                    }
                }
                Upstream::Body(rest) => {
                    match tokio::time::timeout(PING_INTERVAL, rest.next()).await {
                        Err(_) => Step::Silence,
                        Ok(Some(Ok(chunk))) => Step::Chunk(chunk),
                        Ok(Some(Err(broken))) => Step::Broken(broken),
                        Ok(None) => Step::End,
                    }
                }
            };
            match step {
                Step::Silence => {
                    self.translator.start(&mut out);
                    write_ping(&mut out);
                }
                Step::Committed(committed) => {
                    self.upstream = Upstream::Body(committed.rest);
                    self.feed(&committed.first, &mut out);
                }
                Step::Failed(e) => {
                    let e = ApiError::from_dispatch(&self.model, e);
                    self.translator.start(&mut out);
                    self.translator.fail(e.kind, &e.message, &mut out);
                    self.done = true;
                }
                Step::Chunk(chunk) => self.feed(&chunk, &mut out),
                // Cut short without a finish: the translator says so, as for a clean end.
                Step::Broken(StreamBroken::Truncated) => self.end(&mut out),
                Step::Broken(broken) => {
                    self.translator.start(&mut out);
                    self.translator.fail(
                        ErrorType::Overloaded,
                        &format!("The Gemini stream broke: {broken}"),
                        &mut out,
                    );
                    self.done = true;
                }
                Step::End => self.end(&mut out),
            }
            if self.translator.is_finished() {
                self.done = true;
            }
            if !out.is_empty() || self.done {
                return Some(out);
            }
        }
    }

    /// The upstream ended: whatever is left is decoded, and the translator finishes (with an
    /// error when the answer had no finish).
    fn end(&mut self, out: &mut Vec<u8>) {
        match self.decoder.finish() {
            Ok(Some(event)) => self.on_event(&event, out),
            Ok(None) => {}
            Err(e) => self.translator.fail(ErrorType::Api, &e.to_string(), out),
        }
        if !self.translator.is_finished() {
            let _ = self.translator.finish(out);
        }
        self.done = true;
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.decoder.push(bytes);
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => self.on_event(&event, out),
                Ok(None) => break,
                Err(e) => {
                    self.translator.fail(ErrorType::Api, &e.to_string(), out);
                    break;
                }
            }
        }
    }

    fn on_event(&mut self, event: &[u8], out: &mut Vec<u8>) {
        match serde_json::from_slice::<GenerateContentResponse>(event) {
            Ok(chunk) => self.translator.on_chunk(&chunk, out),
            Err(e) => {
                self.translator.start(out);
                self.translator.fail(
                    ErrorType::Api,
                    &format!("unreadable Gemini stream event: {e}"),
                    out,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay_from(first: Bytes, upstream: Upstream) -> Relay {
        Relay {
            translator: StreamTranslator::new("claude-sonnet-4-5"),
            decoder: SseDecoder::new(MAX_EVENT_BYTES),
            first: Some(first),
            upstream,
            model: "gemini-2.5-pro".into(),
            done: false,
        }
    }

    fn relay(first: Bytes, rest: BoxStream<'static, Result<Bytes, StreamBroken>>) -> Relay {
        relay_from(first, Upstream::Body(rest))
    }

    const HI: &[u8] = b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5}}\r\n\r\n";

    #[tokio::test(start_paused = true)]
    async fn a_dispatch_still_failing_over_keeps_the_client_warm_then_streams() {
        let started = tokio::time::Instant::now();
        let late: PendingStream = Box::pin(async {
            tokio::time::sleep(Duration::from_secs(40)).await;
            Ok(CommittedStream {
                status: axum::http::StatusCode::OK,
                content_type: None,
                first: Bytes::from_static(HI),
                rest: futures_util::stream::empty().boxed(),
                lease: crate::pool::Lease {
                    index: 0,
                    key: crate::secret::ApiKey::new("AIzaSyTestxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                    probe: false,
                },
            })
        });
        let mut r = relay_from(Bytes::new(), Upstream::Pending(late));
        let first = text(r.next_bytes().await);
        assert!(first.starts_with("event: message_start") && first.contains("event: ping"));
        assert_eq!(text(r.next_bytes().await).matches("event: ping").count(), 1);
        assert_eq!(started.elapsed(), PING_INTERVAL);
        assert_eq!(text(r.next_bytes().await).matches("event: ping").count(), 1);
        let answer = text(r.next_bytes().await);
        assert_eq!(started.elapsed(), Duration::from_secs(40));
        assert!(answer.contains("\"text\":\"Hi\""), "{answer}");
        let end = text(r.next_bytes().await);
        assert!(end.contains("message_stop"), "{end}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dispatch_that_fails_after_commit_ends_with_an_error_event() {
        let failing: PendingStream = Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Err(DispatchError {
                status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                cause: crate::dispatch::Cause::NoKeyAvailable {
                    retry_after: Some(Duration::from_secs(30)),
                },
            })
        });
        let mut r = relay_from(Bytes::new(), Upstream::Pending(failing));
        text(r.next_bytes().await);
        let last = text(r.next_bytes().await);
        assert!(
            last.contains("event: error") && last.contains("overloaded_error"),
            "{last}"
        );
        assert!(r.next_bytes().await.is_none());
    }

    fn text(bytes: Option<Vec<u8>>) -> String {
        String::from_utf8(bytes.unwrap()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_gets_message_start_then_a_ping_every_interval() {
        let mut r = relay(Bytes::new(), futures_util::stream::pending().boxed());
        let started = tokio::time::Instant::now();
        let first = text(r.next_bytes().await);
        assert!(first.starts_with("event: message_start\n"), "{first}");
        assert!(first.contains("event: ping"), "{first}");
        assert_eq!(started.elapsed(), Duration::ZERO, "committed at once");
        for n in 1..=3 {
            let ping = text(r.next_bytes().await);
            assert_eq!(ping.matches("event: ping").count(), 1, "{ping}");
            assert!(!ping.contains("message_start"));
            assert_eq!(started.elapsed(), PING_INTERVAL * n);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_are_translated_as_they_arrive_and_a_break_ends_with_an_error_event() {
        let chunk = Bytes::from_static(
            b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"}}],\"usageMetadata\":{\"promptTokenCount\":5}}\r\n\r\n",
        );
        let rest = futures_util::stream::iter(vec![Err(StreamBroken::Transport(
            crate::upstream::TransportError::new("connection reset"),
        ))])
        .boxed();
        let mut r = relay(chunk, rest);
        let first = text(r.next_bytes().await);
        assert!(
            first.contains("message_start") && first.contains("\"text\":\"Hi\""),
            "{first}"
        );
        let last = text(r.next_bytes().await);
        assert!(
            last.contains("event: error") && last.contains("overloaded_error"),
            "{last}"
        );
        assert!(r.next_bytes().await.is_none());
    }
}
