//! The Anthropic stream state machine as the shared relay drives it: failures become one
//! Anthropic `error` event — `overloaded_error` for a broken stream (Claude Code retries it),
//! the dispatch failure's own type when every key failed after commit, `api_error` for
//! something unreadable — and a `ping` keeps an idle stream warm.

use super::errors::{ApiError, ErrorType};
use super::stream::{write_ping, StreamTranslator};
use crate::surfaces::shared::relay::{Failure, Translate};
use crate::surfaces::Dialect;
use crate::upstream::wire::GenerateContentResponse;

impl Translate for StreamTranslator {
    fn start(&mut self, out: &mut Vec<u8>) {
        StreamTranslator::start(self, out);
    }

    fn chunk(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<u8>) {
        self.on_chunk(chunk, out);
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if !self.is_finished() {
            let _ = self.finish(out);
        }
    }

    fn fail(&mut self, failure: Failure<'_>, out: &mut Vec<u8>) {
        match failure {
            Failure::Dispatch { model, error } => {
                let e = ApiError::from_dispatch(model, error);
                StreamTranslator::fail(self, e.kind, &e.message, out);
            }
            Failure::Broken(broken) => StreamTranslator::fail(
                self,
                ErrorType::Overloaded,
                &format!("The Gemini stream broke: {broken}"),
                out,
            ),
            Failure::Garbled(message) => {
                StreamTranslator::fail(self, ErrorType::Api, &message, out)
            }
        }
    }

    fn keep_alive(&mut self, out: &mut Vec<u8>) {
        write_ping(out);
    }

    fn is_finished(&self) -> bool {
        StreamTranslator::is_finished(self)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Bytes;
    use futures_util::stream::BoxStream;
    use futures_util::StreamExt;

    use super::*;
    use crate::dispatch::{
        CommittedStream, DispatchError, PendingStream, StreamBroken, StreamStart,
    };
    use crate::surfaces::shared::relay::{Relay, KEEP_ALIVE as PING_INTERVAL};

    type AnthropicRelay = Relay<StreamTranslator>;

    fn relay_from(start: StreamStart) -> AnthropicRelay {
        Relay::new(
            StreamTranslator::new("claude-sonnet-4-5"),
            "gemini-2.5-pro".into(),
            start,
        )
    }

    fn lease() -> crate::pool::Lease {
        crate::pool::Lease {
            index: 0,
            key: crate::secret::ApiKey::new("AIzaSyTestxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            probe: false,
        }
    }

    fn relay(
        first: Bytes,
        rest: BoxStream<'static, Result<Bytes, StreamBroken>>,
    ) -> AnthropicRelay {
        relay_from(StreamStart::Committed(CommittedStream {
            status: axum::http::StatusCode::OK,
            content_type: None,
            first,
            rest,
            events: None,
            lease: lease(),
        }))
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
                events: None,
                lease: lease(),
            })
        });
        let mut r = relay_from(StreamStart::Pending(late));
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
                    why: Default::default(),
                },
            })
        });
        let mut r = relay_from(StreamStart::Pending(failing));
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
    async fn the_ping_interval_counts_from_the_last_chunk() {
        let chunk = Bytes::from_static(
            b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"}}]}\r\n\r\n",
        );
        let late = async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(chunk)
        };
        let rest = futures_util::stream::once(late)
            .chain(futures_util::stream::pending())
            .boxed();
        let mut r = relay(Bytes::new(), rest);
        let started = tokio::time::Instant::now();
        text(r.next_bytes().await);
        assert!(text(r.next_bytes().await).contains("\"text\":\"Hi\""));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        let ping = text(r.next_bytes().await);
        assert_eq!(ping.matches("event: ping").count(), 1, "{ping}");
        assert_eq!(started.elapsed(), Duration::from_secs(10) + PING_INTERVAL);
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
