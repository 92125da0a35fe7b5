//! What a followed stream's events say, and the answer so far they add up to.
//!
//! A followed stream keeps the answer the client has (its text merged, other parts whole, and
//! whether it is finished) so that a break can be continued; it reads that from each event,
//! framed or parsed, and strips thoughts from a continuation's events. Events that arrive framed
//! exactly as Gemini frames them are recognised in place, so the native surface can pass their
//! bytes on without a copy.

use std::borrow::Cow;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::upstream::wire::{GenerateContentResponse, Part, UsageMetadata};

/// The answer the client has so far.
#[derive(Debug, Default)]
pub(super) struct Prefix {
    /// Text parts merged, and other parts (function calls, …) whole, in order — but for the
    /// text being merged at the end, in `text`.
    parts: Vec<Value>,
    /// The texts since the last whole part, merged as they come (every event adds one: kept as
    /// a string, not probed for in the last part's JSON each time).
    text: String,
    pub(super) saw_thoughts: bool,
    pub(super) finished: bool,
}

impl Prefix {
    /// A parsed part: text merged, a thought noted, anything else kept whole.
    pub(super) fn add_part(&mut self, part: &Part) {
        match (&part.text, part.thought) {
            (_, Some(true)) => self.saw_thoughts = true,
            (Some(text), _) => self.add_text(text),
            (None, _) => self.add_whole(serde_json::to_value(part).ok()),
        }
    }

    fn add_text(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// A part kept whole, after the text merged before it.
    fn add_whole(&mut self, part: Option<Value>) {
        self.end_text();
        self.parts.extend(part);
    }

    /// The text merged so far as a part of its own.
    fn end_text(&mut self) {
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            self.parts.push(json!({ "text": text }));
        }
    }

    /// Whether the client has no part of the answer yet.
    pub(super) fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.text.is_empty()
    }

    /// The answer's parts so far, in order (a copy: the text goes on being merged).
    pub(super) fn parts(&self) -> Vec<Value> {
        let mut parts = self.parts.clone();
        if !self.text.is_empty() {
            parts.push(json!({ "text": self.text }));
        }
        parts
    }

    /// A part as it came: read as [`Prefix::add`] reads it, without building the JSON tree
    /// unless it is kept whole (text and thoughts, nearly every part, are only probed).
    pub(super) fn add_raw(&mut self, part: &RawValue) {
        match serde_json::from_str::<PartProbe>(part.get()) {
            Ok(PartProbe {
                thought: Some(true),
                ..
            }) => self.saw_thoughts = true,
            Ok(PartProbe {
                text: Some(text), ..
            }) => self.add_text(&text),
            // Anything else — a call, a text that is not a string, a duplicated field — is read
            // the general way.
            _ => {
                if let Ok(part) = serde_json::from_str::<Value>(part.get()) {
                    self.add(&part);
                }
            }
        }
    }

    pub(super) fn add(&mut self, part: &Value) {
        if part.get("thought") == Some(&Value::Bool(true)) {
            self.saw_thoughts = true;
            return;
        }
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            self.add_text(text);
            return;
        }
        self.add_whole(Some(part.clone()));
    }
}

/// The two fields of a part that decide what the prefix does with it.
#[derive(Deserialize)]
struct PartProbe<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: Option<bool>,
}

/// What the prefix and the usage read of an event; its parts are left as the bytes they are
/// until [`Prefix::add_raw`] reads them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventView<'a> {
    #[serde(borrow, default)]
    pub(super) candidates: Vec<CandidateView<'a>>,
    /// Left as its text: only the last event's is ever read ([`LastUsage`]).
    #[serde(borrow, default)]
    pub(super) usage_metadata: Option<&'a RawValue>,
    /// The model that answers (for a moving alias, the one it points at).
    #[serde(borrow, default)]
    pub(super) model_version: Option<std::borrow::Cow<'a, str>>,
}

/// The last `usageMetadata` a framed stream's events carried, kept as its text in one buffer
/// reused from event to event. Gemini repeats the usage so far on every event and only the last
/// counts; reading each into numbers was a sixth of a native event's reading.
#[derive(Debug, Default)]
pub(super) struct LastUsage(String);

impl LastUsage {
    /// Remembers `text` (a `usageMetadata`) in place of the one before.
    pub(super) fn note(&mut self, text: &str) {
        self.0.clear();
        self.0.push_str(text);
    }

    /// Forgets the usage noted (a later one was read into counts).
    pub(super) fn forget(&mut self) {
        self.0.clear();
    }

    /// The counts of the last usage noted (all absent if they do not read as counts), forgetting
    /// it; `None` when none was noted since.
    pub(super) fn take(&mut self) -> Option<UsageMetadata> {
        if self.0.is_empty() {
            return None;
        }
        let counts = serde_json::from_str(&self.0).unwrap_or_default();
        self.0.clear();
        Some(counts)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CandidateView<'a> {
    #[serde(borrow)]
    pub(super) content: Option<ContentView<'a>>,
    /// Only whether there is one.
    pub(super) finish_reason: Option<IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct ContentView<'a> {
    #[serde(borrow, default)]
    pub(super) parts: Vec<&'a RawValue>,
}

/// The leading whole events of a chunk framed exactly as Gemini frames them, and as
/// [`super::Recovering`] re-frames them (`data: {json}\r\n\r\n`): with nothing to strip, their
/// bytes go to the client as they came, without a copy. Anything else (a partial event, LF or
/// multi-line framing, comments) ends them and goes through the decoder.
pub(super) struct WholeEvents<'a> {
    chunk: &'a [u8],
    /// Bytes of the events yielded so far.
    pub(super) taken: usize,
}

/// How Gemini opens and closes an event's data.
const DATA: &[u8] = b"data: ";
const END: &[u8] = b"\r\n\r\n";

impl<'a> WholeEvents<'a> {
    pub(super) fn of(chunk: &'a [u8]) -> WholeEvents<'a> {
        WholeEvents { chunk, taken: 0 }
    }
}

impl<'a> Iterator for WholeEvents<'a> {
    /// One event's data.
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.chunk[self.taken..].strip_prefix(DATA)?;
        let end = memchr::memchr2(b'\r', b'\n', rest)?;
        if !rest[end..].starts_with(END) {
            return None;
        }
        self.taken += DATA.len() + end + END.len();
        Some(&rest[..end])
    }
}

/// One event's data framed as Gemini frames it: what [`WholeEvents`] recognises.
pub(super) fn framed(payload: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(DATA.len() + payload.len() + END.len());
    framed.extend_from_slice(DATA);
    framed.extend_from_slice(payload);
    framed.extend_from_slice(END);
    Bytes::from(framed)
}

/// The event without thought parts; `None` when nothing else is left in it.
pub(super) fn without_thoughts(payload: &[u8]) -> Option<Bytes> {
    let mut v: Value = serde_json::from_slice(payload).ok()?;
    let parts = v
        .get_mut("candidates")
        .and_then(|c| c.get_mut(0))
        .and_then(|c| c.get_mut("content"))
        .and_then(|c| c.get_mut("parts"))
        .and_then(Value::as_array_mut);
    if let Some(parts) = parts {
        parts.retain(|p| p.get("thought") != Some(&Value::Bool(true)));
    }
    let candidate = &v["candidates"][0];
    let empty = candidate["content"]["parts"]
        .as_array()
        .is_none_or(Vec::is_empty)
        && candidate.get("finishReason").is_none();
    if empty {
        return None;
    }
    serde_json::to_vec(&v).ok().map(Bytes::from)
}

/// [`without_thoughts`] for a parsed event: false when nothing else is left in it.
pub(super) fn strip_thoughts(chunk: &mut GenerateContentResponse) -> bool {
    let Some(candidate) = chunk.candidates.first_mut() else {
        return false;
    };
    if let Some(content) = &mut candidate.content {
        content.parts.retain(|p| p.thought != Some(true));
    }
    let no_parts = candidate
        .content
        .as_ref()
        .is_none_or(|c| c.parts.is_empty());
    !(no_parts && candidate.finish_reason.is_none())
}

#[cfg(test)]
mod tests {
    use super::super::parse_event;
    use super::*;

    #[test]
    fn the_last_usage_noted_is_read_once() {
        let mut last = LastUsage::default();
        assert_eq!(last.take(), None);
        last.note(r#"{"promptTokenCount":3,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}],"candidatesTokenCount":1}"#);
        last.note(r#"{"promptTokenCount":3,"candidatesTokenCount":9}"#);
        let counts = last.take().unwrap();
        assert_eq!(
            (counts.prompt_token_count, counts.candidates_token_count),
            (Some(3), Some(9))
        );
        assert_eq!(last.take(), None, "read once");
        last.note(r#"{"promptTokenCount":"many"}"#);
        assert_eq!(last.take(), Some(UsageMetadata::default()));
    }

    #[test]
    fn the_prefix_merges_text_and_keeps_calls_and_no_thoughts() {
        let mut p = Prefix::default();
        p.add(&json!({"text": "Thinking…", "thought": true}));
        p.add(&json!({"text": "Hel"}));
        p.add(&json!({"text": "lo"}));
        p.add(&json!({"functionCall": {"name": "Bash", "args": {}}, "thoughtSignature": "s"}));
        p.add(&json!({"text": " after"}));
        assert!(p.saw_thoughts);
        assert_eq!(
            p.parts(),
            [
                json!({"text": "Hello"}),
                json!({"functionCall": {"name": "Bash", "args": {}}, "thoughtSignature": "s"}),
                json!({"text": " after"})
            ]
        );
        // A continuation's text goes on the same part (the prefix was read for it, not closed).
        p.add(&json!({"text": " more"}));
        assert_eq!(p.parts()[2], json!({"text": " after more"}));
    }

    #[test]
    fn a_part_as_it_came_adds_to_the_prefix_as_its_json_tree_would() {
        let parts = [
            r#"{"text": "Thinking…", "thought": true}"#,
            r#"{"text": "Hel"}"#,
            r#"{"text": "l\u00f6", "thought": false, "thoughtSignature": "t"}"#,
            r#"{"functionCall": {"name": "Bash", "args": {"c": 1}}, "thoughtSignature": "s"}"#,
            r#"{"text": " after", "thought": null}"#,
            r#"{"text": null}"#,
            r#"{"text": 5}"#,
            r#"{"text": "a", "text": "b"}"#,
            r#"{"thought": "yes", "text": "c"}"#,
            r#"{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}"#,
            r#"{"text": ""}"#,
            r#"{"text": "end"}"#,
        ];
        let (mut raw, mut tree) = (Prefix::default(), Prefix::default());
        for part in parts {
            raw.add_raw(&RawValue::from_string(part.to_string()).unwrap());
            tree.add(&serde_json::from_str(part).unwrap());
            assert_eq!(raw.parts(), tree.parts(), "after {part}");
            assert_eq!(raw.saw_thoughts, tree.saw_thoughts, "after {part}");
        }
        assert!(raw.saw_thoughts);
        let expected = [
            json!({"text": "Hellö"}),
            json!({"functionCall": {"name": "Bash", "args": {"c": 1}}, "thoughtSignature": "s"}),
            json!({"text": " after"}),
            json!({"text": null}),
            json!({"text": 5}),
            json!({"text": "bc"}),
            json!({"inlineData": {"mimeType": "image/png", "data": "AAAA"}}),
            json!({"text": "end"}),
        ];
        assert_eq!(raw.parts(), expected);
    }

    #[test]
    fn thoughts_are_stripped_and_emptied_events_dropped() {
        let thought = br#"{"candidates":[{"content":{"parts":[{"text":"t","thought":true}],"role":"model"}}]}"#;
        assert_eq!(without_thoughts(thought), None);
        let mixed = br#"{"candidates":[{"content":{"parts":[{"text":"t","thought":true},{"text":"a"}],"role":"model"}}]}"#;
        let clean = without_thoughts(mixed).unwrap();
        assert!(!String::from_utf8_lossy(&clean).contains("thought"));
        let last = br#"{"candidates":[{"content":{"parts":[{"text":"t","thought":true}],"role":"model"},"finishReason":"STOP"}]}"#;
        assert!(without_thoughts(last).is_some(), "the finish stays");
    }

    #[test]
    fn a_parsed_event_adds_to_the_prefix_as_its_json_would() {
        let (mut typed, mut raw) = (Prefix::default(), Prefix::default());
        let parts = [
            json!({"text": "Thinking…", "thought": true}),
            json!({"text": "Hel"}),
            json!({"text": "lo", "thoughtSignature": "t"}),
            json!({"functionCall": {"name": "Bash", "args": {"c": 1}}, "thoughtSignature": "s"}),
            json!({"text": " after"}),
        ];
        for part in &parts {
            typed.add_part(&serde_json::from_value(part.clone()).unwrap());
            raw.add(part);
        }
        assert_eq!(typed.parts(), raw.parts());
        assert!(typed.saw_thoughts);
    }

    #[test]
    fn a_parsed_event_loses_its_thoughts_as_a_framed_one_does() {
        let parse = |json: &[u8]| parse_event(json).unwrap();
        let thought = br#"{"candidates":[{"content":{"parts":[{"text":"t","thought":true}],"role":"model"}}]}"#;
        assert!(!strip_thoughts(&mut parse(thought)));
        let mixed = br#"{"candidates":[{"content":{"parts":[{"text":"t","thought":true},{"text":"a"}],"role":"model"}}]}"#;
        let mut clean = parse(mixed);
        assert!(strip_thoughts(&mut clean));
        let parts = &clean.candidates[0].content.as_ref().unwrap().parts;
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].text.as_deref(), Some("a"));
        let last = br#"{"candidates":[{"content":{"parts":[{"text":"t","thought":true}],"role":"model"},"finishReason":"STOP"}]}"#;
        assert!(strip_thoughts(&mut parse(last)), "the finish stays");
        assert!(parse_event(b"{not json").is_err());
    }

    #[test]
    fn whole_events_are_the_leading_ones_framed_as_gemini_frames_them() {
        let events = |chunk: &'static [u8]| {
            let mut whole = WholeEvents::of(chunk);
            let data: Vec<&[u8]> = whole.by_ref().collect();
            (data, whole.taken)
        };
        let two = b"data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n";
        assert_eq!(
            events(two),
            (vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]], two.len())
        );
        // A partial event, split even inside its blank line, is left to the decoder.
        assert_eq!(
            events(b"data: {\"a\":1}\r\n\r\ndata: {\"b\""),
            (vec![&b"{\"a\":1}"[..]], 17)
        );
        assert_eq!(events(b"data: {\"a\":1}\r\n\r"), (vec![], 0));
        // Framing the re-framing would change is not passed on as it came.
        assert_eq!(events(b"data: {\"a\":1}\n\n"), (vec![], 0));
        assert_eq!(events(b"data:{\"a\":1}\r\n\r\n"), (vec![], 0));
        assert_eq!(events(b"data: {\"a\":\r\ndata: 1}\r\n\r\n"), (vec![], 0));
        assert_eq!(events(b": keep-alive\r\n\r\n"), (vec![], 0));
    }

    #[test]
    fn an_event_re_framed_is_one_that_passes_as_it_came() {
        let payload = br#"{"candidates":[{"content":{"parts":[{"text":"a\u2028b"}]}}]}"#;
        let bytes = framed(payload);
        let mut whole = WholeEvents::of(&bytes);
        assert_eq!(whole.next(), Some(&payload[..]));
        assert_eq!((whole.next(), whole.taken), (None, bytes.len()));
    }
}
