//! Stream state machine: parsed Gemini stream chunks → Anthropic SSE event bytes.
//!
//! Output per stream: `message_start` (on the first chunk, or [`StreamTranslator::start`] when
//! the caller commits early), then per block `content_block_start` / `content_block_delta`* /
//! `content_block_stop` (indices contiguous from 0, one block open at a time, no empty
//! pre-opened text block, a tool_use's whole argument JSON in one `input_json_delta`), then
//! `message_delta` (stop_reason, final cumulative usage) and `message_stop`. Or, instead of the
//! ending, a single `error` event: when the upstream ended without a `finishReason`, finished
//! with a malformed-call reason, sent an `{"error": …}` chunk, or the caller reports a failure
//! through [`StreamTranslator::fail`]. Nothing is written after the ending.
//!
//! A stream that may search ([`StreamTranslator::grounded`]) holds its blocks until the end:
//! Gemini says what Google Search found only with the last chunk, and Anthropic's web search
//! blocks go before the answer, whose text blocks carry citations (see `grounding`). Held blocks
//! are then written whole: a text block's `citations_delta`s before its text, a search result
//! complete in its `content_block_start`.
//!
//! Events are written straight into a caller-provided `Vec<u8>` as
//! `event: <type>\ndata: <json>\n\n` ([`write_event`]); pings ([`write_ping`]) are the caller's
//! to time.

use std::borrow::Cow;

use crate::surfaces::shared::event_bytes::{push_str, push_u64};
use crate::upstream::wire::{GenerateContentResponse, UsageMetadata};

use super::blocks::{new_id, BlockMachine, BlockOp, OpenKind};
use super::errors::{AnthropicError, ErrorType};
use super::grounding::ground;
use super::response::{
    apply, prompt_blocked_note, refusal_note, stop_reason, usage_from, with_searches,
};
use super::types::{
    BlockStart, Delta, EmptyObject, ErrorDetail, MessageDeltaBody, MessagesResponse, ResponseBlock,
    StopReason, StreamEvent, Usage,
};
use crate::upstream::wire::GroundingMetadata;

/// Append one SSE event (`event: <type>\ndata: <json>\n\n`) to `out`.
pub fn write_event(out: &mut Vec<u8>, event: &StreamEvent<'_>) {
    if super::plain_events::write(out, event) {
        return;
    }
    let start = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.name().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut *out, event).is_err() {
        // Our event types always serialize; never leave half an event behind.
        out.truncate(start);
        return;
    }
    out.extend_from_slice(b"\n\n");
}

/// A text delta's `type` and the field its text goes in.
type DeltaKind = (&'static str, &'static str);
const TEXT: DeltaKind = ("text_delta", "text");
const THINKING: DeltaKind = ("thinking_delta", "thinking");

/// Append a `content_block_delta` of text or thinking: the bytes [`write_event`] writes for
/// [`Delta::TextDelta`] and [`Delta::ThinkingDelta`], with only the text encoded per event.
fn write_text_delta(out: &mut Vec<u8>, index: u32, (kind, field): DeltaKind, text: &str) {
    out.extend_from_slice(
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
    );
    push_u64(out, index.into());
    out.extend_from_slice(b",\"delta\":{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    push_str(out, text);
    out.extend_from_slice(b"}}\n\n");
}

/// Append a `ping` event.
pub fn write_ping(out: &mut Vec<u8>) {
    write_event(out, &StreamEvent::Ping);
}

/// Append an `error` event (`{"type":"error","error":{"type":…,"message":…}}`).
pub fn write_error(out: &mut Vec<u8>, kind: ErrorType, message: &str) {
    write_event(
        out,
        &StreamEvent::Error {
            error: ErrorDetail {
                kind: kind.as_str(),
                message,
            },
        },
    );
}

/// Block indices and the open block.
#[derive(Debug, Default)]
struct Emitter {
    next_index: u32,
    open_index: Option<u32>,
}

impl Emitter {
    fn write(&mut self, op: BlockOp<'_>, out: &mut Vec<u8>) {
        let current = self.open_index.unwrap_or(self.next_index);
        let delta = |out: &mut Vec<u8>, delta: Delta<'_>| {
            write_event(
                out,
                &StreamEvent::ContentBlockDelta {
                    index: current,
                    delta,
                },
            )
        };
        match op {
            BlockOp::Open(kind) => {
                let content_block = match kind {
                    OpenKind::Text => BlockStart::Text { text: "" },
                    OpenKind::Thinking => BlockStart::Thinking {
                        thinking: "",
                        signature: "",
                    },
                };
                self.open_index = Some(self.next_index);
                write_event(
                    out,
                    &StreamEvent::ContentBlockStart {
                        index: self.next_index,
                        content_block,
                    },
                );
            }
            BlockOp::Text(text) => write_text_delta(out, current, TEXT, text),
            BlockOp::Thinking(thinking) => write_text_delta(out, current, THINKING, thinking),
            BlockOp::Signature(signature) => delta(
                out,
                Delta::SignatureDelta {
                    signature: &signature,
                },
            ),
            BlockOp::Close => {
                if self.open_index.take().is_some() {
                    write_event(out, &StreamEvent::ContentBlockStop { index: current });
                    self.next_index += 1;
                }
            }
            BlockOp::ToolUse { id, name, input } => {
                let index = self.next_index;
                write_event(
                    out,
                    &StreamEvent::ContentBlockStart {
                        index,
                        content_block: BlockStart::ToolUse {
                            id: &id,
                            name,
                            input: EmptyObject {},
                        },
                    },
                );
                let json = input
                    .and_then(|v| serde_json::to_string(v).ok())
                    .unwrap_or_else(|| "{}".to_owned());
                write_event(
                    out,
                    &StreamEvent::ContentBlockDelta {
                        index,
                        delta: Delta::InputJsonDelta {
                            partial_json: Cow::Owned(json),
                        },
                    },
                );
                write_event(out, &StreamEvent::ContentBlockStop { index });
                self.next_index += 1;
            }
        }
    }
}

impl Emitter {
    /// One whole block as its events.
    fn write_block(&mut self, block: &ResponseBlock, out: &mut Vec<u8>) {
        let index = self.next_index;
        let start = |out: &mut Vec<u8>, content_block| {
            write_event(
                out,
                &StreamEvent::ContentBlockStart {
                    index,
                    content_block,
                },
            );
        };
        let delta = |out: &mut Vec<u8>, delta| {
            write_event(out, &StreamEvent::ContentBlockDelta { index, delta });
        };
        match block {
            ResponseBlock::Text { text, citations } => {
                match citations {
                    Some(citations) => {
                        start(
                            out,
                            BlockStart::CitedText {
                                text: "",
                                citations: [],
                            },
                        );
                        for citation in citations {
                            delta(out, Delta::CitationsDelta { citation });
                        }
                    }
                    None => start(out, BlockStart::Text { text: "" }),
                }
                if !text.is_empty() {
                    delta(out, Delta::TextDelta { text });
                }
            }
            ResponseBlock::Thinking {
                thinking,
                signature,
            } => {
                start(
                    out,
                    BlockStart::Thinking {
                        thinking: "",
                        signature: "",
                    },
                );
                if !thinking.is_empty() {
                    delta(out, Delta::ThinkingDelta { thinking });
                }
                if !signature.is_empty() {
                    delta(out, Delta::SignatureDelta { signature });
                }
            }
            ResponseBlock::ToolUse { id, name, input }
            | ResponseBlock::ServerToolUse { id, name, input } => {
                let content_block = if matches!(block, ResponseBlock::ToolUse { .. }) {
                    BlockStart::ToolUse {
                        id,
                        name,
                        input: EmptyObject {},
                    }
                } else {
                    BlockStart::ServerToolUse {
                        id,
                        name,
                        input: EmptyObject {},
                    }
                };
                start(out, content_block);
                let json = serde_json::to_string(input).unwrap_or_else(|_| "{}".to_owned());
                delta(
                    out,
                    Delta::InputJsonDelta {
                        partial_json: Cow::Owned(json),
                    },
                );
            }
            ResponseBlock::WebSearchToolResult {
                tool_use_id,
                content,
            } => start(
                out,
                BlockStart::WebSearchToolResult {
                    tool_use_id,
                    content,
                },
            ),
        }
        write_event(out, &StreamEvent::ContentBlockStop { index });
        self.next_index += 1;
    }
}

/// Translates one Gemini stream into Anthropic SSE events.
#[derive(Debug)]
pub struct StreamTranslator {
    client_model: String,
    message_id: String,
    machine: BlockMachine,
    emitter: Emitter,
    usage: Option<UsageMetadata>,
    finish_reason: Option<String>,
    finish_message: Option<String>,
    block_reason: Option<(String, Option<String>)>,
    started: bool,
    finished: bool,
    /// Blocks held until the end (a stream that may search), and what the search found.
    held: Option<Vec<ResponseBlock>>,
    grounding: Option<GroundingMetadata>,
    searches: u64,
}

impl StreamTranslator {
    /// A translator answering as `client_model` (the name the client sent).
    pub fn new(client_model: &str) -> Self {
        Self {
            client_model: client_model.to_owned(),
            message_id: new_id("msg_"),
            machine: BlockMachine::default(),
            emitter: Emitter::default(),
            usage: None,
            finish_reason: None,
            finish_message: None,
            block_reason: None,
            started: false,
            finished: false,
            held: None,
            grounding: None,
            searches: 0,
        }
    }

    /// When `searching` (the request has Google Search or URL context), the blocks are held
    /// until the end, to be written with what the search found.
    pub fn grounded(mut self, searching: bool) -> Self {
        self.held = searching.then(Vec::new);
        self
    }

    /// The `msg_…` id of this message.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// True once `message_start` has been written.
    pub fn has_started(&self) -> bool {
        self.started
    }

    /// True once a content block has been written (after that, retrying upstream would
    /// duplicate output even if the bytes were still buffered).
    pub fn has_content(&self) -> bool {
        self.machine.blocks() > 0
    }

    /// True once the stream has ended (`message_stop` or `error` written).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Write `message_start` now if it has not been written (e.g. the caller commits before the
    /// first chunk arrives); usage is whatever is known so far.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.started || self.finished {
            return;
        }
        self.started = true;
        let usage = Usage {
            output_tokens: 0,
            ..usage_from(self.usage.as_ref())
        };
        let message = MessagesResponse {
            id: self.message_id.clone(),
            kind: "message".into(),
            role: "assistant".into(),
            model: self.client_model.clone(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage,
        };
        write_event(out, &StreamEvent::MessageStart { message: &message });
    }

    /// Feed one parsed chunk.
    pub fn on_chunk(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        if let Some(err) = &chunk.error {
            let kind = ErrorType::for_midstream_status(err.code.unwrap_or(500));
            self.fail(kind, &err.message, out);
            return;
        }
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage);
        }
        self.machine.observe_model(chunk.model_version.as_deref());
        self.start(out);
        if let Some(reason) = chunk
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.clone())
        {
            let message = chunk
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason_message.clone());
            self.block_reason = Some((reason, message));
        }
        let Some(candidate) = chunk.candidates.first() else {
            return;
        };
        let Self {
            machine,
            emitter,
            held,
            ..
        } = self;
        for part in candidate.content.iter().flat_map(|c| &c.parts) {
            match held {
                Some(held) => machine.on_part(part, &mut |op| apply(held, op)),
                None => machine.on_part(part, &mut |op| emitter.write(op, out)),
            }
        }
        if self.held.is_some() && candidate.grounding_metadata.is_some() {
            self.grounding = candidate.grounding_metadata.clone();
        }
        if let Some(reason) = &candidate.finish_reason {
            self.finish_reason = Some(reason.clone());
            self.finish_message = candidate.finish_message.clone();
        }
    }

    /// End of the upstream stream: writes `message_delta` + `message_stop`, or an `error`
    /// event when the stream cannot be completed (no finish reason, malformed call). Returns
    /// the stop reason, or the error that was written.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<StopReason, AnthropicError> {
        if self.finished {
            return Err(AnthropicError::Other {
                kind: ErrorType::Api,
                message: "stream already ended".into(),
            });
        }
        self.release(out);
        let blocked = match (&self.finish_reason, &self.block_reason) {
            (None, Some(block)) if !self.has_content() => Some(block.clone()),
            _ => None,
        };
        let outcome = if let Some((reason, message)) = blocked {
            let note = prompt_blocked_note(&reason, message.as_deref());
            self.note(&note, out);
            Ok(StopReason::Refusal)
        } else if let Some(reason) = &self.finish_reason {
            stop_reason(
                Some(reason),
                self.machine.tool_uses(),
                self.finish_message.as_deref(),
            )
        } else {
            Err(AnthropicError::Other {
                kind: ErrorType::Api,
                message: "Gemini stream ended without a finish reason (truncated response)".into(),
            })
        };
        match outcome {
            Ok(stop) => {
                if stop == StopReason::Refusal && !self.has_content() {
                    let note = refusal_note(self.finish_reason.as_deref().unwrap_or(""));
                    self.note(&note, out);
                }
                self.start(out);
                write_event(
                    out,
                    &StreamEvent::MessageDelta {
                        delta: MessageDeltaBody {
                            stop_reason: stop,
                            stop_sequence: None,
                        },
                        usage: with_searches(usage_from(self.usage.as_ref()), self.searches),
                    },
                );
                write_event(out, &StreamEvent::MessageStop);
                self.finished = true;
                Ok(stop)
            }
            Err(e) => {
                self.fail(e.kind(), &e.to_string(), out);
                Err(e)
            }
        }
    }

    /// Report a failure (upstream error, timeout, …): writes one `error` event and ends the
    /// stream. Use [`ErrorType::for_midstream_status`] for upstream HTTP statuses.
    pub fn fail(&mut self, kind: ErrorType, message: &str, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.finished = true;
        write_error(out, kind, message);
    }

    /// Closes the open block; a held stream's blocks are written now, with what the search
    /// found.
    fn release(&mut self, out: &mut Vec<u8>) {
        let Self {
            machine,
            emitter,
            held,
            ..
        } = self;
        match held {
            Some(held) => machine.close(&mut |op| apply(held, op)),
            None => machine.close(&mut |op| emitter.write(op, out)),
        }
        let Some(mut blocks) = self.held.take() else {
            return;
        };
        if let Some(meta) = self.grounding.take() {
            (blocks, self.searches) = ground(blocks, &meta);
        }
        if !blocks.is_empty() {
            self.start(out);
        }
        for block in &blocks {
            self.emitter.write_block(block, out);
        }
    }

    /// A complete text block with `text` (refusal notes).
    fn note(&mut self, text: &str, out: &mut Vec<u8>) {
        self.start(out);
        let Self {
            machine, emitter, ..
        } = self;
        let part = crate::upstream::wire::Part::text(text);
        machine.on_part(&part, &mut |op| emitter.write(op, out));
        machine.close(&mut |op| emitter.write(op, out));
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
