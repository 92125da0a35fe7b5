//! The stream relay every translated surface uses: Gemini's SSE bytes in, the surface's events
//! out, one upstream chunk at a time through [`SseDecoder`] and the surface's [`Translate`] state
//! machine, with a keep-alive every [`KEEP_ALIVE`] of upstream silence. A relay may start before
//! dispatch has committed (its commit deadline passed): the client then gets its stream's
//! opening and keep-alives while keys are still being tried. A stream that breaks ends with the
//! surface's error event, never a clean stop.

use std::time::Duration;

use axum::body::{Body, Bytes};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use crate::dispatch::{
    parse_event, CommittedStream, DispatchError, EventRead, PendingStream, Recovering,
    StreamBroken, StreamStart,
};
use crate::upstream::sse::SseDecoder;
use crate::upstream::wire::GenerateContentResponse;

/// Keep-alive while Gemini is silent (it thinks without sending thoughts); Claude Code treats a
/// stream idle for 180 s as dead, Codex after 300 s.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Largest single upstream SSE event accepted (a whole answer with inline images fits).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// Room the client's bytes start with for one upstream read: a stream's opening and a few text
/// deltas fit, so a read's events are written without the buffer growing from empty (five
/// reallocations for a 150-byte event).
const OUT_START: usize = 512;

/// What went wrong after the client got its response headers.
#[derive(Debug)]
pub enum Failure<'a> {
    /// Dispatch gave up (every key failed) after the commit deadline.
    Dispatch {
        model: &'a str,
        error: DispatchError,
    },
    /// The upstream stream broke and could not be continued.
    Broken(&'a StreamBroken),
    /// The upstream sent something that is not a Gemini stream.
    Garbled(String),
}

/// A surface's stream state machine: parsed Gemini chunks in, the client's event bytes out.
pub trait Translate: Send + 'static {
    /// Opens the client's stream, if it is not open yet.
    fn start(&mut self, out: &mut Vec<u8>);
    /// One Gemini chunk.
    fn chunk(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<u8>);
    /// The upstream ended: close the stream properly, or with an error when the answer was cut
    /// short (no `finishReason`).
    fn end(&mut self, out: &mut Vec<u8>);
    /// Ends the stream with an error event.
    fn fail(&mut self, failure: Failure<'_>, out: &mut Vec<u8>);
    /// Keeps an idle connection warm.
    fn keep_alive(&mut self, out: &mut Vec<u8>);
    /// Whether the stream has ended (nothing more is written).
    fn is_finished(&self) -> bool;
}

/// Where the relay reads from.
enum Upstream {
    /// The dispatch is still failing over; the client already has its headers.
    Pending(PendingStream),
    /// The committed upstream body.
    Body(BoxStream<'static, Result<Bytes, StreamBroken>>),
    /// The committed stream's follower, handing on Gemini's events parsed.
    Events(Box<Recovering>),
}

/// What a committed stream opens with: bytes to decode, or the events its follower has.
enum Opening {
    Bytes(Bytes),
    Events,
}

/// A committed stream's opening, and where the rest comes from.
fn committed(c: CommittedStream) -> (Opening, Upstream) {
    match c.events {
        Some(follower) => (Opening::Events, Upstream::Events(follower)),
        None => (Opening::Bytes(c.first), Upstream::Body(c.rest)),
    }
}

/// What waiting on the upstream produced.
enum Step {
    Silence,
    Committed(CommittedStream),
    Failed(DispatchError),
    Chunk(Bytes),
    Events,
    Broken(StreamBroken),
    End,
}

/// Turns the Gemini stream into a surface's stream.
pub struct Relay<T> {
    translator: T,
    decoder: SseDecoder,
    first: Option<Opening>,
    upstream: Upstream,
    /// The Gemini model, for error messages.
    model: String,
    done: bool,
}

impl<T: Translate> Relay<T> {
    /// A relay of `start`: the stream committed in time, or the dispatch still under way.
    pub fn new(translator: T, model: String, start: StreamStart) -> Relay<T> {
        let (first, upstream) = match start {
            StreamStart::Committed(c) => committed(c),
            StreamStart::Pending(p) => (Opening::Bytes(Bytes::new()), Upstream::Pending(p)),
        };
        Relay {
            translator,
            decoder: SseDecoder::new(MAX_EVENT_BYTES),
            first: Some(first),
            upstream,
            model,
            done: false,
        }
    }

    /// The client's response body.
    pub fn into_body(self) -> Body {
        Body::from_stream(futures_util::stream::unfold(self, |mut relay| async move {
            let out = relay.next_bytes().await?;
            Some((Ok::<_, std::convert::Infallible>(Bytes::from(out)), relay))
        }))
    }

    /// The client's response: an event stream of the relay.
    pub fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue};
        let mut resp = axum::response::Response::new(self.into_body());
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        resp
    }

    /// The next bytes to send, or `None` when the stream is over.
    pub async fn next_bytes(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(OUT_START);
        if let Some(first) = self.first.take() {
            let empty = match &first {
                Opening::Bytes(b) => b.is_empty(),
                Opening::Events => !matches!(&self.upstream, Upstream::Events(f) if f.has_events()),
            };
            if empty {
                // Committed before Gemini's first chunk: open the stream and keep it warm.
                self.translator.start(&mut out);
                self.translator.keep_alive(&mut out);
            } else {
                self.open(first, &mut out);
            }
            if !out.is_empty() {
                return Some(out);
            }
        }
        loop {
            let step = match &mut self.upstream {
                Upstream::Pending(dispatch) => {
                    match tokio::time::timeout(KEEP_ALIVE, dispatch.as_mut()).await {
                        Err(_) => Step::Silence,
                        Ok(Ok(committed)) => Step::Committed(committed),
                        Ok(Err(e)) => Step::Failed(e),
                    }
                }
                Upstream::Body(rest) => match tokio::time::timeout(KEEP_ALIVE, rest.next()).await {
                    Err(_) => Step::Silence,
                    Ok(Some(Ok(chunk))) => Step::Chunk(chunk),
                    Ok(Some(Err(broken))) => Step::Broken(broken),
                    Ok(None) => Step::End,
                },
                Upstream::Events(follower) => {
                    match tokio::time::timeout(KEEP_ALIVE, follower.more_events()).await {
                        Err(_) => Step::Silence,
                        Ok(Some(Ok(()))) => Step::Events,
                        Ok(Some(Err(broken))) => Step::Broken(broken),
                        Ok(None) => Step::End,
                    }
                }
            };
            match step {
                Step::Silence => {
                    self.translator.start(&mut out);
                    self.translator.keep_alive(&mut out);
                }
                Step::Committed(c) => {
                    let (opening, upstream) = committed(c);
                    self.upstream = upstream;
                    self.open(opening, &mut out);
                }
                Step::Failed(error) => {
                    self.translator.start(&mut out);
                    let failure = Failure::Dispatch {
                        model: &self.model,
                        error,
                    };
                    self.translator.fail(failure, &mut out);
                    self.done = true;
                }
                Step::Chunk(chunk) => self.feed(&chunk, &mut out),
                Step::Events => self.on_events(&mut out),
                // Cut short without a finish: the translator says so, as for a clean end.
                Step::Broken(StreamBroken::Truncated) | Step::End => self.end(&mut out),
                Step::Broken(broken) => {
                    self.translator.start(&mut out);
                    self.translator.fail(Failure::Broken(&broken), &mut out);
                    self.done = true;
                }
            }
            if self.translator.is_finished() {
                self.done = true;
            }
            if !out.is_empty() || self.done {
                return Some(out);
            }
        }
    }

    /// The upstream ended: whatever is left is decoded, and the translator ends the stream.
    fn end(&mut self, out: &mut Vec<u8>) {
        match self.decoder.finish() {
            Ok(Some(event)) => self.on_event(&event, out),
            Ok(None) => {}
            Err(e) => self.translator.fail(Failure::Garbled(e.to_string()), out),
        }
        if !self.translator.is_finished() {
            self.translator.end(out);
        }
        self.done = true;
    }

    fn open(&mut self, opening: Opening, out: &mut Vec<u8>) {
        match opening {
            Opening::Bytes(bytes) => self.feed(&bytes, out),
            Opening::Events => self.on_events(out),
        }
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.decoder.push(bytes);
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => self.on_event(&event, out),
                Ok(None) => break,
                Err(e) => {
                    self.translator.fail(Failure::Garbled(e.to_string()), out);
                    break;
                }
            }
        }
    }

    fn on_event(&mut self, event: &[u8], out: &mut Vec<u8>) {
        match parse_event(event) {
            Ok(chunk) => told(&mut self.translator, Ok(&chunk), out),
            Err(unreadable) => told(&mut self.translator, Err(unreadable), out),
        }
    }

    /// Every event the follower has, each translated (and dropped) before the next is read.
    fn on_events(&mut self, out: &mut Vec<u8>) {
        if let Upstream::Events(follower) = &mut self.upstream {
            // Room for the client's events at once (they are about as long as Gemini's): a
            // read of many events is written without the buffer growing step by step.
            out.reserve(follower.events_len());
            let translator = &mut self.translator;
            follower.take_events(|event| told(translator, event, out));
        }
    }
}

/// One of Gemini's events told to the translator, or why it could not be read.
fn told<T: Translate>(translator: &mut T, event: EventRead<'_>, out: &mut Vec<u8>) {
    match event {
        Ok(chunk) => translator.chunk(chunk, out),
        Err(unreadable) => {
            translator.start(out);
            translator.fail(Failure::Garbled(unreadable), out);
        }
    }
}
