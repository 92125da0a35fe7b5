//! Gemini stream chunks → `chat.completion.chunk` SSE, as a state machine the shared relay
//! drives. Per choice: a first delta with `role: "assistant"`, text deltas as they come, each
//! tool call in one delta of its own (its own `index`, its `id`, name and whole arguments),
//! then a last chunk with the `finish_reason` (`tool_calls` stays sticky once a call was made).
//! With `stream_options.include_usage`, a final chunk with `choices: []` and the usage. The
//! stream ends with `data: [DONE]`; a stream that fails ends with `data: {"error": …}` and no
//! `[DONE]`, so no client mistakes it for a finished answer. Keep-alives are SSE comments.

use serde::Serialize;
use serde_json::{json, Value};

use super::response::{family_of, finish_reason, tool_call, Answering};
use super::types::Usage;
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::event_bytes::{push_str, push_u64};
use crate::surfaces::shared::relay::{Failure, Translate};
use crate::surfaces::shared::signature::new_id;
use crate::surfaces::Dialect;
use crate::upstream::wire::{GenerateContentResponse, UsageMetadata};

#[derive(Debug, Default)]
struct ChoiceState {
    started: bool,
    calls: u32,
    finished: bool,
}

/// The stream of one chat completion.
pub struct ChatStream {
    /// Every chunk's opening, the same for the whole stream (see [`head`]).
    head: Vec<u8>,
    gemini_model: String,
    parallel: bool,
    include_usage: bool,
    choices: Vec<ChoiceState>,
    family: Option<String>,
    usage: Option<UsageMetadata>,
    finished: bool,
}

impl ChatStream {
    pub fn new(a: Answering<'_>, include_usage: bool) -> ChatStream {
        ChatStream {
            head: head(&new_id("chatcmpl-"), a.created, a.client_model),
            gemini_model: a.gemini_model.to_string(),
            parallel: a.parallel,
            include_usage,
            choices: Vec::new(),
            family: None,
            usage: None,
            finished: false,
        }
    }

    /// One chunk: the bytes `data(out, &Chunk { … })` writes, with the head written once.
    fn write(&self, out: &mut Vec<u8>, choices: impl Serialize, usage: Option<Usage>) {
        out.extend_from_slice(&self.head);
        if serde_json::to_writer(&mut *out, &choices).is_err() {
            out.extend_from_slice(b"[]");
        }
        if let Some(usage) = usage {
            out.extend_from_slice(b",\"usage\":");
            if serde_json::to_writer(&mut *out, &usage).is_err() {
                out.extend_from_slice(b"{}");
            }
        }
        out.extend_from_slice(b"}\n\n");
    }

    /// A chunk with one choice's text: what [`ChatStream::delta`] writes for
    /// `Delta { content: Some(text), .. }`, with only the text encoded per event.
    fn text(&self, out: &mut Vec<u8>, index: u32, text: &str) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"[{\"index\":");
        push_u64(out, index.into());
        out.extend_from_slice(b",\"delta\":{\"content\":");
        push_str(out, text);
        out.extend_from_slice(b"},\"finish_reason\":null,\"logprobs\":null}]}\n\n");
    }

    fn delta(&self, out: &mut Vec<u8>, index: u32, delta: Delta<'_>, finish: Option<&str>) {
        let choice = ChoiceDelta {
            index,
            delta,
            finish_reason: finish,
            logprobs: (),
        };
        self.write(out, [choice], None);
    }

    fn choice(&mut self, index: u32) -> &mut ChoiceState {
        let i = index as usize;
        if self.choices.len() <= i {
            self.choices.resize_with(i + 1, ChoiceState::default);
        }
        &mut self.choices[i]
    }

    fn error(&mut self, e: OpenAiError, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        data(out, &e.body());
        self.finished = true;
    }
}

/// One `chat.completion.chunk`.
#[derive(Serialize)]
struct Chunk<'a, C: Serialize> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: C,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

/// A choice's delta: only the fields it carries.
#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[Value; 1]>,
}

#[derive(Serialize)]
struct ChoiceDelta<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'a str>,
    logprobs: (),
}

/// `data: {"id":…,"object":…,"created":…,"model":…,"choices":` — a [`Chunk`] as serde writes it,
/// up to its choices.
fn head(id: &str, created: i64, model: &str) -> Vec<u8> {
    let chunk = Chunk {
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: (),
        usage: None,
    };
    let mut head = Vec::with_capacity(128);
    data(&mut head, &chunk);
    let opening = head.len() - b"null}\n\n".len();
    head.truncate(opening);
    head
}

fn data(out: &mut Vec<u8>, v: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

impl Translate for ChatStream {
    fn start(&mut self, _out: &mut Vec<u8>) {
        // Chat streams open with their first delta; nothing to send before it.
    }

    fn chunk(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        if let Some(err) = &chunk.error {
            let e = OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("Gemini error: {}", err.message),
            );
            return self.error(e, out);
        }
        if chunk.usage_metadata.is_some() {
            self.usage = chunk.usage_metadata;
        }
        if self.family.is_none() {
            self.family = Some(family_of(chunk, &self.gemini_model));
        }
        let blocked = chunk
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref());
        if let (true, Some(reason)) = (chunk.candidates.is_empty(), blocked) {
            // A blocked prompt: the refusal, and a `content_filter` finish.
            self.choice(0).started = true;
            self.choice(0).finished = true;
            let refusal = format!("The prompt was blocked ({reason}).");
            let opening = Delta {
                role: Some("assistant"),
                refusal: Some(&refusal),
                ..Delta::default()
            };
            self.delta(out, 0, opening, None);
            self.delta(out, 0, Delta::default(), Some("content_filter"));
            return;
        }
        for (i, c) in chunk.candidates.iter().enumerate() {
            let index = c.index.unwrap_or(i as u32);
            if self.choice(index).finished {
                continue;
            }
            if !self.choice(index).started {
                self.choice(index).started = true;
                let opening = Delta {
                    role: Some("assistant"),
                    content: Some(""),
                    ..Delta::default()
                };
                self.delta(out, index, opening, None);
            }
            for p in c.content.iter().flat_map(|c| &c.parts) {
                if p.is_thought() {
                    continue;
                }
                if let Some(t) = p.text.as_deref().filter(|t| !t.is_empty()) {
                    self.text(out, index, t);
                }
                let family = self.family.as_deref().unwrap_or_default();
                if let Some(call) = tool_call(p, family) {
                    let n = self.choice(index).calls;
                    if !self.parallel && n > 0 {
                        continue;
                    }
                    self.choice(index).calls += 1;
                    let mut entry = json!({"index": n, "id": call.id, "type": "function",
                        "function": {"name": call.function.name, "arguments": call.function.arguments}});
                    if let Some(extra) = call.extra_content {
                        entry["extra_content"] = extra;
                    }
                    let calls = Delta {
                        tool_calls: Some([entry]),
                        ..Delta::default()
                    };
                    self.delta(out, index, calls, None);
                }
            }
            if let Some(reason) = c.finish_reason.as_deref() {
                let made_calls = self.choice(index).calls > 0;
                match finish_reason(Some(reason), made_calls) {
                    Ok(finish) => {
                        self.choice(index).finished = true;
                        self.delta(out, index, Delta::default(), Some(finish));
                    }
                    Err(e) => return self.error(e, out),
                }
            }
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        if self.choices.is_empty() || self.choices.iter().any(|c| !c.finished) {
            let e = OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                "the Gemini stream ended before the answer was finished",
            );
            return self.error(e, out);
        }
        if self.include_usage {
            let usage = Usage::from_gemini(self.usage.as_ref());
            self.write(out, [(); 0], Some(usage));
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.finished = true;
    }

    fn fail(&mut self, failure: Failure<'_>, out: &mut Vec<u8>) {
        let e = match failure {
            Failure::Dispatch { model, error } => OpenAiError::from_dispatch(model, error),
            Failure::Broken(broken) => OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("The Gemini stream broke: {broken}"),
            ),
            Failure::Garbled(message) => {
                OpenAiError::server(axum::http::StatusCode::BAD_GATEWAY, message)
            }
        };
        self.error(e, out);
    }

    fn keep_alive(&mut self, out: &mut Vec<u8>) {
        if !self.finished {
            out.extend_from_slice(b": keep-alive\n\n");
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk as serde writes it whole: the reference for [`ChatStream::write`].
    fn reference(model: &str, choices: impl Serialize, usage: Option<Usage>) -> String {
        let chunk = Chunk {
            id: "chatcmpl-1",
            object: "chat.completion.chunk",
            created: 1_765_000_000,
            model,
            choices,
            usage,
        };
        let mut out = Vec::new();
        data(&mut out, &chunk);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn chunks_written_from_the_head_are_the_bytes_serde_writes() {
        let model = "gemini \"odd\" \\ name";
        let mut s = ChatStream::new(
            Answering {
                client_model: model,
                gemini_model: "gemini-3.8-flash",
                parallel: true,
                created: 0,
            },
            true,
        );
        s.head = head("chatcmpl-1", 1_765_000_000, model);
        let written = |f: &dyn Fn(&ChatStream, &mut Vec<u8>)| {
            let mut out = Vec::new();
            f(&s, &mut out);
            String::from_utf8(out).unwrap()
        };
        for index in [0, 2, u32::MAX] {
            for t in ["Mo", "a \"quote\", a \\ and\na newline", "\u{1} é 🦀"] {
                let delta = || Delta {
                    content: Some(t),
                    ..Delta::default()
                };
                let choice = ChoiceDelta {
                    index,
                    delta: delta(),
                    finish_reason: None,
                    logprobs: (),
                };
                let expected = reference(model, [choice], None);
                assert_eq!(written(&|s, out| s.text(out, index, t)), expected);
                assert_eq!(
                    written(&|s, out| s.delta(out, index, delta(), None)),
                    expected
                );
            }
        }
        let usage = || Usage::from_gemini(None);
        assert_eq!(
            written(&|s, out| s.write(out, [(); 0], Some(usage()))),
            reference(model, [(); 0], Some(usage()))
        );
    }
}
