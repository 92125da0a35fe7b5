//! Mid-stream recovery: a stream that breaks after its first byte went to the client is
//! continued on another key, and the continuation spliced into the same client stream.
//!
//! The upstream's SSE is decoded event by event; only whole events go to the client (re-framed
//! exactly as Gemini frames them, `data: {json}\r\n\r\n`; events that arrive so framed go on as
//! the bytes they came in), and the answer so far is kept (see `answer`): its
//! text, merged, and its function calls, whole (they arrive whole). When the stream breaks (a
//! transport error, silence past the idle timeout, or an end without `finishReason`), the same
//! request is sent again ending with a `model` turn holding that answer, and Gemini continues it
//! where it stopped. A break inside the thinking phase (thoughts sent, no answer yet) asks again
//! without a prefill and forwards no more thoughts: the client's thinking ends where it broke and
//! the answer follows. A model whose family does not continue a trailing model turn (Gemini 4,
//! by the rules table), or one that refused it ("Requests ending with a model turn are not
//! supported.", remembered), is never continued by prefill: its broken streams end with an
//! honest error. At most
//! [`MAX_RECOVERIES`] continuations per stream. JSON-array streams (no `alt=sse`) are passed on
//! as they come, without recovery.
//!
//! A surface that translates the stream asks for its events parsed ([`Hand::Parsed`]): each
//! event is then parsed once, into the typed chunk its translator reads, and the answer so far
//! is noted from that; re-framed bytes are for the native surface, which passes them on. Events
//! are parsed as the surface takes them, one at a time, not as they arrive: a burst of twenty
//! parsed together keeps twenty events' allocations alive at once, and the allocator's slow
//! paths cost ~1,000 instructions an event more than reusing one event's memory for the next.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{Cause, Dispatcher, Route, StreamBroken};
use crate::models::served::Served;
use crate::models::Rules;
use crate::telemetry::Tokens;
use crate::upstream::common_event;
use crate::upstream::event_layout::EventReader;
use crate::upstream::sse::SseDecoder;
use crate::upstream::wire::GenerateContentResponse;
use crate::upstream::UpstreamRequest;

mod answer;

use answer::{framed, strip_thoughts, without_thoughts, EventView, LastUsage, Prefix, WholeEvents};

/// Continuations one stream may need.
pub const MAX_RECOVERIES: usize = 2;

/// Largest upstream event accepted (a whole answer with inline images fits).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// Whether a request's stream is SSE (and so can be followed event by event).
pub fn is_sse(req: &UpstreamRequest) -> bool {
    req.path_and_query
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p == "alt=sse"))
}

/// What a followed stream hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hand {
    /// Gemini's events re-framed as SSE bytes (the native surface passes them on).
    Framed,
    /// Gemini's events parsed (a translating surface reads them).
    Parsed,
}

/// One of Gemini's events, parsed; or why it could not be.
pub type ParsedEvent = Result<GenerateContentResponse, String>;

/// One of Gemini's events as [`Recovering::take_events`] hands it on: read, or why not.
pub type EventRead<'a> = Result<&'a GenerateContentResponse, String>;

/// One SSE event's data parsed as a chunk of Gemini's stream: the commonest shape by
/// [`common_event`], the rest by serde.
pub fn parse_event(payload: &[u8]) -> ParsedEvent {
    common_event::answer_from_bytes(payload).map_err(unreadable)
}

/// Why an event could not be read, as the client is told.
fn unreadable(e: serde_json::Error) -> String {
    format!("unreadable Gemini stream event: {e}")
}

/// Events arrived for a translating surface, in order, to be parsed as it takes them.
enum Unparsed {
    /// Whole events framed as Gemini frames them ([`WholeEvents`]), as they came.
    Framed(Bytes),
    /// One event's data, decoded from other framing.
    Data(Vec<u8>),
}

impl Unparsed {
    fn len(&self) -> usize {
        match self {
            Unparsed::Framed(bytes) => bytes.len(),
            Unparsed::Data(payload) => payload.len(),
        }
    }
}

/// A stream being followed, and what it takes to continue it.
pub struct Recovering {
    dispatcher: Dispatcher,
    route: Route,
    req: UpstreamRequest,
    tried: Vec<usize>,
    inner: BoxStream<'static, Result<Bytes, StreamBroken>>,
    decoder: SseDecoder,
    prefix: Prefix,
    ready: VecDeque<Bytes>,
    /// With [`Hand::Parsed`]: the events arrived, not yet parsed and handed on.
    unparsed: Option<VecDeque<Unparsed>>,
    /// Thoughts of a continuation are not forwarded (its thinking restarted).
    drop_thoughts: bool,
    recoveries: usize,
    /// The attempt's body ended: finished or cut short, as its last events (once taken) say.
    ended: bool,
    done: bool,
    /// The key of the attempt being read, and the tokens its events last reported (Gemini's
    /// counts are cumulative): recorded when the attempt ends.
    key_id: Arc<str>,
    tokens: Tokens,
    /// A framed stream's last usage, read when the attempt ends (see [`LastUsage`]).
    usage: LastUsage,
    /// The rules of the model that answers: its name's, or — for a name the table does not
    /// know — those of the model its events say answers it.
    rules: &'static Rules,
    /// Whether the events named the model that answers.
    answered_by_known: bool,
    /// Each event is read into this one ([`Hand::Parsed`], and a framed stream's view of its
    /// events), its lists' room used again and the event before's layout compared first
    /// (taken while it is read and handed on).
    event: Option<Box<EventReader>>,
}

impl Recovering {
    /// Follows a committed stream of `req` served by key `index`: `first` is its first chunk.
    pub fn new(
        dispatcher: Dispatcher,
        route: Route,
        req: UpstreamRequest,
        (index, key_id): (usize, &Arc<str>),
        (first, inner): (Bytes, BoxStream<'static, Result<Bytes, StreamBroken>>),
        hand: Hand,
    ) -> Recovering {
        let rules = dispatcher.served_models().rules(route.name());
        let mut r = Recovering {
            dispatcher,
            route,
            req,
            tried: vec![index],
            inner,
            decoder: SseDecoder::new(MAX_EVENT_BYTES),
            prefix: Prefix::default(),
            ready: VecDeque::new(),
            unparsed: (hand == Hand::Parsed).then(VecDeque::new),
            drop_thoughts: false,
            recoveries: 0,
            ended: false,
            done: false,
            key_id: key_id.clone(),
            tokens: Tokens::default(),
            usage: LastUsage::default(),
            rules,
            answered_by_known: false,
            event: None,
        };
        r.feed(first);
        r
    }

    /// The whole events decoded so far, framed (the stream's first bytes): when they are one
    /// piece (a first read of whole events, passed on as it came), that piece itself.
    pub fn take_ready(&mut self) -> Bytes {
        if self.ready.len() == 1 {
            return self.ready.pop_front().unwrap_or_default();
        }
        let mut all = Vec::new();
        for e in self.ready.drain(..) {
            all.extend_from_slice(&e);
        }
        Bytes::from(all)
    }

    /// Hands every event arrived so far to `on` ([`Hand::Parsed`]), each parsed and noted, one
    /// at a time: the next is read once `on` has returned (and the one before dropped). After a
    /// restart of the thinking, events left with nothing but thoughts are skipped.
    pub fn take_events(&mut self, mut on: impl FnMut(EventRead<'_>)) {
        while let Some(unparsed) = self.unparsed.as_mut().and_then(VecDeque::pop_front) {
            match unparsed {
                Unparsed::Framed(bytes) => {
                    for payload in WholeEvents::of(&bytes) {
                        self.parsed_event(payload, &mut on);
                    }
                }
                Unparsed::Data(payload) => self.parsed_event(&payload, &mut on),
            }
        }
    }

    /// The client's stream from here on ([`Hand::Framed`]).
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, StreamBroken>> {
        futures_util::stream::unfold(self, |mut r| async move {
            let next = match r.fill().await? {
                Ok(()) => Ok(r.ready.pop_front().unwrap_or_default()),
                Err(broken) => Err(broken),
            };
            Some((next, r))
        })
        .boxed()
    }

    /// Waits for more events ([`Hand::Parsed`], taken with [`Recovering::take_events`]);
    /// `None` once the stream is over.
    pub async fn more_events(&mut self) -> Option<Result<(), StreamBroken>> {
        self.fill().await
    }

    /// Whether events have arrived that [`Recovering::take_events`] has not yet handed on.
    pub fn has_events(&self) -> bool {
        self.unparsed.as_ref().is_some_and(|u| !u.is_empty())
    }

    /// The bytes of the events [`Recovering::take_events`] would hand on now.
    pub fn events_len(&self) -> usize {
        self.unparsed.iter().flatten().map(Unparsed::len).sum()
    }

    fn has_ready(&self) -> bool {
        !self.ready.is_empty() || self.has_events()
    }

    /// Reads on (continuing a broken stream when it can) until something is ready to hand on:
    /// `Ok` then, the break that could not be mended, or `None` at the end.
    async fn fill(&mut self) -> Option<Result<(), StreamBroken>> {
        loop {
            if self.has_ready() {
                return Some(Ok(()));
            }
            if self.done {
                return None;
            }
            let broken = if std::mem::take(&mut self.ended) {
                // Every event of the ended body has been taken (and noted): it finished or
                // was cut short.
                if self.prefix.finished {
                    self.done = true;
                    self.report();
                    continue;
                }
                StreamBroken::Truncated
            } else {
                match self.inner.next().await {
                    Some(Ok(chunk)) => {
                        self.feed(chunk);
                        continue;
                    }
                    Some(Err(broken)) => broken,
                    None => {
                        match self.decoder.finish() {
                            Ok(Some(event)) => self.event(&event),
                            Ok(None) => {}
                            Err(_) => self.prefix.finished = false,
                        }
                        self.ended = true;
                        continue;
                    }
                }
            };
            self.report();
            // Boxed: a continuation's dispatch is most of this future's size, and every open
            // stream holds the future while it waits for its next chunk.
            if !Box::pin(self.recover()).await {
                self.done = true;
                return Some(Err(broken));
            }
        }
    }

    fn feed(&mut self, mut bytes: Bytes) {
        // Whole events framed as Gemini frames them are read where they lie: kept to be parsed
        // for a translating surface, or noted and passed on as they came (when no thought must
        // go).
        let parsing = self.unparsed.is_some();
        if (parsing || !self.drop_thoughts) && self.decoder.is_idle() {
            let mut events = WholeEvents::of(&bytes);
            for payload in events.by_ref() {
                if !parsing {
                    self.view(payload);
                }
            }
            let taken = bytes.split_to(events.taken);
            if !taken.is_empty() {
                if parsing {
                    self.hand_on(Unparsed::Framed(taken));
                } else {
                    self.ready.push_back(taken);
                }
            }
        }
        if bytes.is_empty() {
            return;
        }
        self.decoder.push(&bytes);
        while let Ok(Some(event)) = self.decoder.next_event() {
            self.event(&event);
        }
    }

    /// Notes what a framed event says; false when it is not a readable event. The common event
    /// is read into the one read before, as a translated stream's are: a new one every event
    /// cost a native stream four allocations an event.
    fn view(&mut self, payload: &[u8]) -> bool {
        let mut events = self.event.take().unwrap_or_default();
        let read = events.read(payload);
        if read {
            self.noted(events.value());
        }
        self.event = Some(events);
        if read {
            return true;
        }
        let Ok(view) = crate::json::from_bytes::<EventView>(payload) else {
            return false;
        };
        self.note(view.model_version.as_deref());
        if let Some(usage) = view.usage_metadata {
            self.usage.note(usage.get());
        }
        if let Some(c) = view.candidates.first() {
            for part in c.content.iter().flat_map(|c| &c.parts) {
                self.prefix.add_raw(part);
            }
            if c.finish_reason.is_some() {
                self.prefix.finished = true;
            }
        }
        true
    }

    /// Notes one event's parts and queues it for the client.
    fn event(&mut self, payload: &[u8]) {
        if self.unparsed.is_some() {
            return self.hand_on(Unparsed::Data(payload.to_vec()));
        }
        let clean;
        let mut payload = payload;
        if self.view(payload) && self.drop_thoughts {
            match without_thoughts(payload) {
                Some(without) => {
                    clean = without;
                    payload = &clean;
                }
                None => return,
            }
        }
        self.ready.push_back(framed(payload));
    }

    /// One event parsed for a translating surface, noted like a framed one and handed to `on`
    /// (unless nothing is left of it once its thoughts are dropped).
    fn parsed_event(&mut self, payload: &[u8], on: &mut impl FnMut(EventRead<'_>)) {
        let mut events = self.event.take().unwrap_or_default();
        match events.read_or_serde(payload) {
            Ok(()) => {
                self.noted(events.value());
                if !self.drop_thoughts || strip_thoughts(events.value_mut()) {
                    on(Ok(events.value()));
                }
            }
            Err(e) => on(Err(unreadable(e))),
        }
        self.event = Some(events);
    }

    /// Notes what a read event says: the model that answers, the usage so far (in place of any
    /// noted as text before) and the answer's parts.
    fn noted(&mut self, chunk: &GenerateContentResponse) {
        self.note(chunk.model_version.as_deref());
        if let Some(usage) = &chunk.usage_metadata {
            self.tokens = Tokens::from_usage(usage);
            self.usage.forget();
        }
        if let Some(c) = chunk.candidates.first() {
            for part in c.content.iter().flat_map(|c| &c.parts) {
                self.prefix.add_part(part);
            }
            if c.finish_reason.is_some() {
                self.prefix.finished = true;
            }
        }
    }

    fn hand_on(&mut self, event: Unparsed) {
        if let Some(unparsed) = &mut self.unparsed {
            unparsed.push_back(event);
        }
    }

    /// The model that answers, as the first event that names it says (learnt once).
    fn note(&mut self, model_version: Option<&str>) {
        if !self.answered_by_known {
            if let Some(version) = model_version {
                self.answered_by_known = true;
                let model = self.route.name();
                if Served::wants(model) {
                    self.dispatcher.served_models().learn(model, version);
                    self.rules = Rules::of(version);
                }
            }
        }
    }

    /// Records the tokens the attempt being read reported.
    fn report(&mut self) {
        let tokens = self.last_tokens();
        self.dispatcher.telemetry().tokens(
            self.route.tally(),
            self.route.label(),
            &self.key_id,
            tokens,
        );
    }

    /// The tokens the attempt's last usage reported, whichever reader read it (events not yet
    /// taken are read for it: a client that left early still pays for them); forgotten.
    fn last_tokens(&mut self) -> Tokens {
        self.take_events(|_| {});
        let read = std::mem::take(&mut self.tokens);
        match self.usage.take() {
            Some(usage) => Tokens::from_usage(&usage),
            None => read,
        }
    }

    /// Asks another key for the rest; true when a continuation is streaming.
    async fn recover(&mut self) -> bool {
        if self.recoveries >= MAX_RECOVERIES || self.prefix.finished {
            return false;
        }
        let model = self.route.name().to_string();
        // Continuing an answer already begun needs a prefill: never on a model whose family does
        // not take one (Gemini 4), nor on one learned to refuse it. A break before any answer
        // (while thinking) is asked again from the start, which every model takes.
        let prefill = !self.prefix.is_empty();
        if prefill && !(self.rules.prefill && self.dispatcher.pool().accepts_prefill(&model)) {
            return false;
        }
        let Some(req) = self.continuation() else {
            return false;
        };
        self.recoveries += 1;
        match self
            .dispatcher
            .stream_raw(&self.route, &req, &self.tried)
            .await
        {
            Ok(c) => {
                tracing::info!(model, key = %c.lease.key.id(), "stream continued on another key");
                self.tried.push(c.lease.index);
                self.key_id = c.lease.key.shared_id().clone();
                self.decoder = SseDecoder::new(MAX_EVENT_BYTES);
                self.inner = c.rest;
                self.feed(c.first);
                true
            }
            Err(e) => {
                if refuses_prefill(&e) {
                    tracing::info!(
                        model,
                        "the model refuses a trailing model turn: its streams are not continued"
                    );
                    self.dispatcher.pool().refuse_prefill(&model);
                }
                false
            }
        }
    }

    /// The request again, ending with the answer so far as a `model` turn (or, when the break
    /// came while it was thinking, without one).
    fn continuation(&mut self) -> Option<UpstreamRequest> {
        let mut body: Value = serde_json::from_slice(self.req.body.as_deref()?).ok()?;
        if self.prefix.is_empty() {
            self.drop_thoughts = self.drop_thoughts || self.prefix.saw_thoughts;
        } else {
            body.get_mut("contents")?
                .as_array_mut()?
                .push(json!({"role": "model", "parts": self.prefix.parts()}));
        }
        Some(UpstreamRequest {
            method: self.req.method.clone(),
            path_and_query: self.req.path_and_query.clone(),
            body: Some(Bytes::from(serde_json::to_vec(&body).ok()?)),
            extra: None,
        })
    }
}

impl Drop for Recovering {
    /// A stream the client left early: what Gemini reported so far still counts.
    fn drop(&mut self) {
        self.report();
    }
}

/// Google's answer to a request ending with a model turn on a model that does not take one.
fn refuses_prefill(e: &super::DispatchError) -> bool {
    match &e.cause {
        Cause::Upstream { rpc: Some(r), .. } => {
            e.status.as_u16() == 400 && r.message.contains("ending with a model turn")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
