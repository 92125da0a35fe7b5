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
    id: String,
    model: String,
    gemini_model: String,
    created: i64,
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
            id: new_id("chatcmpl-"),
            model: a.client_model.to_string(),
            gemini_model: a.gemini_model.to_string(),
            created: a.created,
            parallel: a.parallel,
            include_usage,
            choices: Vec::new(),
            family: None,
            usage: None,
            finished: false,
        }
    }

    fn write(&self, out: &mut Vec<u8>, choices: impl Serialize, usage: Option<Usage>) {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        data(out, &chunk);
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
        let family = self
            .family
            .get_or_insert_with(|| family_of(chunk, &self.gemini_model))
            .clone();
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
                    let text = Delta {
                        content: Some(t),
                        ..Delta::default()
                    };
                    self.delta(out, index, text, None);
                }
                if let Some(call) = tool_call(p, &family) {
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
