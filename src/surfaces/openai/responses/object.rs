//! The Responses API's `response` object and its stream events as typed, borrowed values: a
//! stream writes the whole object three times (`response.created`, `response.in_progress`,
//! `response.completed`), so it is written straight from the builder's state, with no JSON
//! tree built in between — by hand, its keys and constants as literal runs, serde's derived form
//! kept as the reference the bytes are tested against (and for the stored object).

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::surfaces::shared::event_bytes::{push_str, push_u64};
use crate::upstream::wire::UsageMetadata;

/// One stream event: its `type` and `sequence_number`, then its own fields — serde's form, which
/// [`write_data_event`] writes without serde's flattening (a map, field by field through serde's
/// generic entry path, several times the cost).
#[cfg(test)]
#[derive(Serialize)]
pub struct Event<'a, T: Serialize> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub sequence_number: u64,
    #[serde(flatten)]
    pub data: T,
}

/// `{"response": …}`, the payload of the events that carry the whole response: serde's form,
/// which the bytes [`open_response_event`] begins are tested against.
#[cfg(test)]
#[derive(Serialize)]
pub struct WithResponse<'a> {
    pub response: ResponseObject<'a>,
}

/// The `response` object.
#[derive(Serialize)]
pub struct ResponseObject<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created_at: i64,
    pub status: &'a str,
    pub error: Option<ErrorObject<'a>>,
    pub incomplete_details: Option<Incomplete>,
    pub instructions: (),
    pub max_output_tokens: Option<u32>,
    pub model: &'a str,
    pub output: &'a [Box<RawValue>],
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<&'a str>,
    pub reasoning: &'a Value,
    pub store: bool,
    pub temperature: Option<f64>,
    pub text: TextFormat,
    pub tool_choice: &'a Value,
    pub tools: [(); 0],
    pub top_p: Option<f64>,
    pub truncation: &'static str,
    pub usage: Option<Usage>,
    pub user: (),
    pub metadata: Empty,
}

impl ResponseObject<'_> {
    /// The object's JSON, the bytes serde writes for it: the keys and constants as literal runs,
    /// the caller's values (output items, reasoning, tool choice, floats) through serde.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        push_str(out, self.id);
        out.extend_from_slice(b",\"object\":");
        push_str(out, self.object);
        out.extend_from_slice(b",\"created_at\":");
        write_serde(out, &self.created_at);
        out.extend_from_slice(b",\"status\":");
        push_str(out, self.status);
        out.extend_from_slice(b",\"error\":");
        match &self.error {
            Some(e) => {
                out.extend_from_slice(b"{\"code\":");
                push_str(out, e.code);
                out.extend_from_slice(b",\"message\":");
                push_str(out, e.message);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"incomplete_details\":");
        match &self.incomplete_details {
            Some(i) => {
                out.extend_from_slice(b"{\"reason\":");
                push_str(out, i.reason);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"instructions\":null,\"max_output_tokens\":");
        write_serde(out, &self.max_output_tokens);
        out.extend_from_slice(b",\"model\":");
        push_str(out, self.model);
        out.extend_from_slice(b",\"output\":");
        write_serde(out, self.output);
        out.extend_from_slice(match self.parallel_tool_calls {
            true => b",\"parallel_tool_calls\":true,\"previous_response_id\":",
            false => b",\"parallel_tool_calls\":false,\"previous_response_id\":",
        });
        match self.previous_response_id {
            Some(id) => push_str(out, id),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"reasoning\":");
        write_serde(out, self.reasoning);
        out.extend_from_slice(match self.store {
            true => b",\"store\":true,\"temperature\":",
            false => b",\"store\":false,\"temperature\":",
        });
        write_serde(out, &self.temperature);
        out.extend_from_slice(b",\"text\":{\"format\":{\"type\":");
        push_str(out, self.text.format.kind);
        out.extend_from_slice(b"}},\"tool_choice\":");
        write_serde(out, self.tool_choice);
        out.extend_from_slice(b",\"tools\":[],\"top_p\":");
        write_serde(out, &self.top_p);
        out.extend_from_slice(b",\"truncation\":");
        push_str(out, self.truncation);
        out.extend_from_slice(b",\"usage\":");
        match &self.usage {
            Some(u) => {
                out.extend_from_slice(b"{\"input_tokens\":");
                push_u64(out, u.input_tokens);
                out.extend_from_slice(b",\"input_tokens_details\":{\"cached_tokens\":");
                push_u64(out, u.input_tokens_details.cached_tokens);
                out.extend_from_slice(b"},\"output_tokens\":");
                push_u64(out, u.output_tokens);
                out.extend_from_slice(b",\"output_tokens_details\":{\"reasoning_tokens\":");
                push_u64(out, u.output_tokens_details.reasoning_tokens);
                out.extend_from_slice(b"},\"total_tokens\":");
                push_u64(out, u.total_tokens);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"user\":null,\"metadata\":{}}");
    }
}

/// `value` as serde writes it (`null` should it fail, which these values cannot).
fn write_serde(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

/// A `message` output item: the bytes serde writes for the `json!` object it stands for (a
/// `Value`'s keys, in sorted order), without building one.
#[derive(Serialize)]
pub struct MessageItem<'a> {
    pub content: &'a [OutputText<'a>],
    pub id: &'a str,
    pub role: &'static str,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> MessageItem<'a> {
    /// The assistant's message `id`, `status` (`in_progress`, `completed`) with `content`.
    pub fn new(id: &'a str, status: &'static str, content: &'a [OutputText<'a>]) -> Self {
        MessageItem {
            content,
            id,
            role: "assistant",
            status,
            kind: "message",
        }
    }
}

/// A message's `output_text` content part, its keys in a `Value`'s order.
#[derive(Serialize)]
pub struct OutputText<'a> {
    pub annotations: [(); 0],
    pub text: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> OutputText<'a> {
    pub fn of(text: &'a str) -> Self {
        OutputText {
            annotations: [],
            text,
            kind: "output_text",
        }
    }
}

#[derive(Serialize)]
pub struct ErrorObject<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

#[derive(Serialize)]
pub struct Incomplete {
    pub reason: &'static str,
}

#[derive(Serialize)]
pub struct TextFormat {
    pub format: Kind,
}

#[derive(Serialize)]
pub struct Kind {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct Empty {}

/// Token counts in the Responses API's terms: thoughts are part of the output.
#[derive(Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub input_tokens_details: CachedTokens,
    pub output_tokens: u64,
    pub output_tokens_details: ReasoningTokens,
    pub total_tokens: u64,
}

#[derive(Serialize)]
pub struct CachedTokens {
    pub cached_tokens: u64,
}

#[derive(Serialize)]
pub struct ReasoningTokens {
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn from_gemini(u: &UsageMetadata) -> Usage {
        let input = u.prompt_token_count.unwrap_or(0) + u.tool_use_prompt_token_count.unwrap_or(0);
        let reasoning = u.thoughts_token_count.unwrap_or(0);
        let output = u.candidates_token_count.unwrap_or(0) + reasoning;
        Usage {
            input_tokens: input,
            input_tokens_details: CachedTokens {
                cached_tokens: u.cached_content_token_count.unwrap_or(0),
            },
            output_tokens: output,
            output_tokens_details: ReasoningTokens {
                reasoning_tokens: reasoning,
            },
            total_tokens: input + output,
        }
    }
}

/// Where in an item an event points: its content part, or its summary part.
#[derive(Clone, Copy)]
pub enum At {
    Content,
    Summary,
}

/// The events about one part of an item (its content part or its summary part): where it is,
/// then the event's own field (`delta`, `text` or `part`) — serde's form, which
/// [`write_part_event`] and [`Deltas`] write by hand.
#[cfg(test)]
#[derive(Serialize)]
pub struct PartEvent<'a, T: Serialize> {
    pub item_id: &'a str,
    pub output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_index: Option<u32>,
    #[serde(flatten)]
    pub payload: T,
}

/// `…delta`: the text added (written by [`Deltas`]; this is its reference in tests).
#[cfg(test)]
#[derive(Serialize)]
pub struct Delta<'a> {
    pub delta: &'a str,
}

/// `…text.done`: the part's whole text.
#[derive(Serialize)]
pub struct Text<'a> {
    pub text: &'a str,
}

/// `…part.added` / `…part.done`: the part itself.
#[derive(Serialize)]
pub struct PartField<'a> {
    pub part: TextPart<'a>,
}

/// An `output_text` or `summary_text` part.
#[derive(Serialize)]
pub struct TextPart<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<[(); 0]>,
}

impl<'a> TextPart<'a> {
    pub fn of(at: At, text: &'a str) -> TextPart<'a> {
        match at {
            At::Content => TextPart {
                kind: "output_text",
                text,
                annotations: Some([]),
            },
            At::Summary => TextPart {
                kind: "summary_text",
                text,
                annotations: None,
            },
        }
    }
}

/// `(content_index, summary_index)` for `at`: the first part of either.
#[cfg(test)]
pub fn indexes(at: At) -> (Option<u32>, Option<u32>) {
    match at {
        At::Content => (Some(0), None),
        At::Summary => (None, Some(0)),
    }
}

/// The `output_item.added` / `.done` events.
#[derive(Serialize)]
pub struct ItemEvent<I: Serialize> {
    pub output_index: usize,
    pub item: I,
}

/// `event: KIND` and the event's JSON as `data:` (serde's way, the reference the events written
/// here are tested against).
#[cfg(test)]
pub fn write_event(out: &mut Vec<u8>, kind: &str, event: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut *out, event).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// The start of an event carrying the whole response, up to where its object goes: with the
/// object and [`RESPONSE_EVENT_END`] after it, the bytes [`write_event`] writes for an [`Event`]
/// of a [`WithResponse`] (serde's flattened form is a map, slower to write; and a stream's first
/// two events carry the same object, written once and copied).
pub fn open_response_event(out: &mut Vec<u8>, kind: &str, sequence_number: u64) {
    open_event(out, kind, sequence_number);
    out.extend_from_slice(b",\"response\":");
}

/// How every event written here by hand begins: its name, then its data's `type` and
/// `sequence_number`.
fn open_event(out: &mut Vec<u8>, kind: &str, sequence_number: u64) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":");
    push_str(out, kind);
    out.extend_from_slice(b",\"sequence_number\":");
    push_u64(out, sequence_number);
}

/// What follows the object in an event [`open_response_event`] began.
pub const RESPONSE_EVENT_END: &[u8] = b"}\n\n";

/// An event of `data`'s fields: the bytes [`write_event`] writes for an [`Event`] of it. `data`
/// must serialize as a JSON object (a struct or a map); its fields follow the `type` and
/// `sequence_number` written by hand.
pub fn write_data_event(
    out: &mut Vec<u8>,
    (kind, sequence_number): (&str, u64),
    data: &impl Serialize,
) {
    open_event(out, kind, sequence_number);
    splice_fields(out, data);
    out.extend_from_slice(b"\n\n");
}

/// Where an event about a part begins: its name, `type`, `sequence_number`, the item's id and
/// index, and the part's index.
fn open_part_event(
    out: &mut Vec<u8>,
    (kind, sequence_number): (&str, u64),
    part: (At, &str, usize),
) {
    let (at, item_id, output_index) = part;
    open_event(out, kind, sequence_number);
    out.extend_from_slice(b",\"item_id\":");
    push_str(out, item_id);
    out.extend_from_slice(b",\"output_index\":");
    push_u64(out, output_index as u64);
    out.extend_from_slice(match at {
        At::Content => b",\"content_index\":0",
        At::Summary => b",\"summary_index\":0",
    });
}

/// An event about a part with `payload`'s field (its `text` or its `part`): the bytes
/// [`write_event`] writes for an [`Event`] of a [`PartEvent`] of it.
pub fn write_part_event(
    out: &mut Vec<u8>,
    event: (&str, u64),
    part: (At, &str, usize),
    payload: &impl Serialize,
) {
    open_part_event(out, event, part);
    splice_fields(out, payload);
    out.extend_from_slice(b"\n\n");
}

/// `data`'s fields after fields already written, and the object's closing brace: `data` is
/// serialized whole and its opening brace becomes a comma. `{}` adds nothing; a value that is
/// not an object (or fails) closes the object as it stands.
fn splice_fields(out: &mut Vec<u8>, data: &impl Serialize) {
    let start = out.len();
    let written = serde_json::to_writer(&mut *out, data).is_ok();
    match out.get(start..) {
        Some(b"{}") => {}
        Some([b'{', ..]) if written => {
            out[start] = b',';
            return;
        }
        _ => {}
    }
    out.truncate(start);
    out.push(b'}');
}

/// The `…text.delta` events of one open part: the bytes [`write_event`] writes for an [`Event`]
/// of a [`PartEvent`] of a [`Delta`]. All but the sequence number and the text are the same for
/// every delta of the part, so they are written once, when it opens.
#[derive(Debug)]
pub struct Deltas {
    /// Up to the sequence number: the event's name and `type`.
    head: &'static [u8],
    /// From the item's id to the text's key.
    tail: Vec<u8>,
}

const CONTENT_DELTA_HEAD: &[u8] = b"event: response.output_text.delta\ndata: \
    {\"type\":\"response.output_text.delta\",\"sequence_number\":";
const SUMMARY_DELTA_HEAD: &[u8] = b"event: response.reasoning_summary_text.delta\ndata: \
    {\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":";

impl Deltas {
    /// The deltas of part `at` of item `item_id`, the response's `output_index`th.
    pub fn new(at: At, item_id: &str, output_index: usize) -> Deltas {
        let (head, part_index): (_, &[u8]) = match at {
            At::Content => (CONTENT_DELTA_HEAD, b",\"content_index\":0,\"delta\":"),
            At::Summary => (SUMMARY_DELTA_HEAD, b",\"summary_index\":0,\"delta\":"),
        };
        let mut tail = Vec::with_capacity(item_id.len() + 64);
        tail.extend_from_slice(b",\"item_id\":");
        push_str(&mut tail, item_id);
        tail.extend_from_slice(b",\"output_index\":");
        push_u64(&mut tail, output_index as u64);
        tail.extend_from_slice(part_index);
        Deltas { head, tail }
    }

    /// The event adding `delta` to the part.
    pub fn write(&self, out: &mut Vec<u8>, sequence_number: u64, delta: &str) {
        out.extend_from_slice(self.head);
        push_u64(out, sequence_number);
        out.extend_from_slice(&self.tail);
        push_str(out, delta);
        out.extend_from_slice(b"}\n\n");
    }
}

/// The status for Gemini's finish reason; `Err` for the reasons that leave no usable answer.
pub fn status_of(reason: &str) -> Result<(&'static str, Option<&'static str>), String> {
    Ok(match reason {
        "MAX_TOKENS" => ("incomplete", Some("max_output_tokens")),
        "SAFETY" | "RECITATION" | "PROHIBITED_CONTENT" | "SPII" | "BLOCKLIST" | "IMAGE_SAFETY" => {
            ("incomplete", Some("content_filter"))
        }
        "MALFORMED_FUNCTION_CALL"
        | "UNEXPECTED_TOOL_CALL"
        | "TOO_MANY_TOOL_CALLS"
        | "MISSING_THOUGHT_SIGNATURE" => return Err(reason.to_string()),
        _ => ("completed", None),
    })
}
