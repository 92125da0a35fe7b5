//! The Responses API's `response` object and its stream events as typed, borrowed values: a
//! stream writes the whole object three times (`response.created`, `response.in_progress`,
//! `response.completed`), so it is serialized straight from the builder's state, with no JSON
//! tree built in between.

use serde::Serialize;
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
    pub output: &'a [Value],
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
/// [`write_part_event`] and [`write_delta`] write by hand.
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

/// `…delta`: the text added (written by [`write_delta`]; this is its reference in tests).
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

/// A `…text.delta` event: the bytes [`write_event`] writes for an [`Event`] of a [`PartEvent`]
/// of a [`Delta`], with only the item id and the text encoded per event.
pub fn write_delta(out: &mut Vec<u8>, event: (&str, u64), part: (At, &str, usize), delta: &str) {
    open_part_event(out, event, part);
    out.extend_from_slice(b",\"delta\":");
    push_str(out, delta);
    out.extend_from_slice(b"}\n\n");
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
