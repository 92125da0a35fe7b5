//! Gemini's answer → a Responses API `response`, built item by item as chunks arrive; the same
//! machine writes the stream's events (when streaming) and the final object.
//!
//! Items: thought summaries (when asked for) → a `reasoning` item with `summary_text`; answer
//! text → a `message` with one `output_text`; each function call → a `function_call` (or a
//! `custom_tool_call` for a custom tool, its `input` the call's one string). A call's thought
//! signature goes into the `encrypted_content` of a `reasoning` item just before it and into its
//! `call_id` too. Events, each with its `sequence_number`: `response.created`,
//! `response.in_progress`, then per item `output_item.added` … `output_item.done` with the
//! content events between, and `response.completed` with the usage — or `response.failed`.
//! Status: `completed`; `incomplete` for `MAX_TOKENS` (`max_output_tokens`) and the safety
//! family (`content_filter`); `MALFORMED_FUNCTION_CALL` and its kin fail.

use serde_json::value::RawValue;
use serde_json::{json, Value};

use serde::Serialize;

use super::object::{
    open_response_event, status_of, write_data_event, write_part_event, At, Deltas, Empty,
    ErrorObject, Incomplete, ItemEvent, Kind, MessageItem, OutputText, PartField, ResponseObject,
    Text, TextFormat, TextPart, Usage, RESPONSE_EVENT_END,
};
use super::request::ToolKinds;
use crate::surfaces::openai::chat::response::family_of;
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::relay::{Failure, Translate};
use crate::surfaces::shared::signature::{new_id, sealed};
use crate::surfaces::Dialect;
use crate::upstream::wire::{GenerateContentResponse, UsageMetadata};

/// What the response echoes of its request.
#[derive(Debug, Clone)]
pub struct Echo {
    pub client_model: String,
    pub gemini_model: String,
    pub created: i64,
    pub parallel: bool,
    pub tool_choice: Value,
    pub reasoning: Value,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub kinds: ToolKinds,
    /// `store` as asked (the response is kept when true and the gateway keeps responses).
    pub store: bool,
    pub previous_response_id: Option<String>,
}

/// Told the finished response object (completed or incomplete, never failed), to keep it.
pub type Keeper = std::sync::Arc<dyn Fn(&str, Value) + Send + Sync>;

#[path = "output_calls.rs"]
mod calls;

/// The item being streamed: its id, its text so far, and its text's delta events.
#[derive(Debug)]
enum Open {
    Reasoning {
        id: String,
        text: String,
        deltas: Deltas,
    },
    Message {
        id: String,
        text: String,
        deltas: Deltas,
    },
}

/// One response, being built.
pub struct ResponseBuilder {
    id: String,
    echo: Echo,
    /// Write stream events (else only the final object is wanted).
    streaming: bool,
    seq: u64,
    started: bool,
    /// The items made so far, as JSON: each is written twice (its `output_item.done` event and
    /// the finished object) and never read again.
    output: Vec<Box<RawValue>>,
    open: Option<Open>,
    family: Option<String>,
    usage: Option<UsageMetadata>,
    calls: usize,
    /// `completed`, `incomplete` (with its reason) or `failed` (with its error).
    status: Option<(&'static str, Option<&'static str>)>,
    error: Option<OpenAiError>,
    finished: bool,
    /// Output items made so far (their ids are the response's id and this count).
    items_made: usize,
    keeper: Option<Keeper>,
}

impl ResponseBuilder {
    pub fn new(echo: Echo, streaming: bool) -> ResponseBuilder {
        ResponseBuilder {
            id: new_id("resp_"),
            echo,
            streaming,
            seq: 0,
            started: false,
            output: Vec::new(),
            open: None,
            family: None,
            usage: None,
            calls: 0,
            status: None,
            error: None,
            finished: false,
            items_made: 0,
            keeper: None,
        }
    }

    /// Answers as response `id` (made by the caller, who routes by it).
    pub fn with_id(mut self, id: String) -> ResponseBuilder {
        self.id = id;
        self
    }

    /// Has the finished response handed to `keeper`.
    pub fn with_keeper(mut self, keeper: Option<Keeper>) -> ResponseBuilder {
        self.keeper = keeper;
        self
    }

    /// The response's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A new output item's id, made from the response's own (`msg_<R>3` belongs to
    /// `resp_<R>`: a later `item_reference` finds its response by it).
    fn item_id(&mut self, prefix: &str) -> String {
        self.items_made += 1;
        let random = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}{random}{}", self.items_made)
    }

    /// Writes a stream event (its data is built only when streaming).
    fn event<T: Serialize>(&mut self, out: &mut Vec<u8>, kind: &str, data: impl FnOnce() -> T) {
        if !self.streaming {
            return;
        }
        write_data_event(out, (kind, self.seq), &data());
        self.seq += 1;
    }

    /// Writes the events that carry the whole response as it stands with `status`, one after
    /// another (the object is encoded once, then copied).
    fn response_events(&mut self, out: &mut Vec<u8>, kinds: &[&str], status: &'static str) {
        if !self.streaming {
            return;
        }
        let mut written: Option<std::ops::Range<usize>> = None;
        for kind in kinds {
            open_response_event(out, kind, self.seq);
            match written.clone() {
                Some(object) => out.extend_from_within(object),
                None => {
                    let start = out.len();
                    self.object(status).write(out);
                    written = Some(start..out.len());
                }
            }
            out.extend_from_slice(RESPONSE_EVENT_END);
            self.seq += 1;
        }
    }

    /// The `response` object as it stands.
    pub fn object(&self, status: &'static str) -> ResponseObject<'_> {
        let e = &self.echo;
        ResponseObject {
            id: &self.id,
            object: "response",
            created_at: e.created,
            status,
            error: self
                .error
                .as_ref()
                .filter(|_| status == "failed")
                .map(|e| ErrorObject {
                    code: e.code.unwrap_or("server_error"),
                    message: &e.message,
                }),
            incomplete_details: self
                .status
                .and_then(|(_, reason)| reason)
                .filter(|_| status == "incomplete")
                .map(|reason| Incomplete { reason }),
            instructions: (),
            max_output_tokens: e.max_output_tokens,
            model: &e.client_model,
            output: &self.output,
            parallel_tool_calls: e.parallel,
            previous_response_id: e.previous_response_id.as_deref(),
            reasoning: &e.reasoning,
            store: e.store,
            temperature: e.temperature,
            text: TextFormat {
                format: Kind { kind: "text" },
            },
            tool_choice: &e.tool_choice,
            tools: [],
            top_p: e.top_p,
            truncation: "disabled",
            usage: self.usage.as_ref().map(Usage::from_gemini),
            user: (),
            metadata: Empty {},
        }
    }

    fn open_stream(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let opening = ["response.created", "response.in_progress"];
        self.response_events(out, &opening, "in_progress");
    }

    fn close_open(&mut self, out: &mut Vec<u8>, signature: Option<&str>) {
        let index = self.output.len();
        let item = match self.open.take() {
            None => return,
            Some(Open::Reasoning { id, text, .. }) => {
                let part = json!({"type": "summary_text", "text": text});
                let summary = if text.is_empty() {
                    json!([])
                } else {
                    json!([part])
                };
                if !text.is_empty() {
                    self.text_done(out, At::Summary, &id, index, &text);
                }
                let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
                if let Some(sig) = signature {
                    item["encrypted_content"] =
                        json!(sealed(self.family.as_deref().unwrap_or(""), sig));
                }
                raw_item(&item)
            }
            Some(Open::Message { id, text, .. }) => {
                self.text_done(out, At::Content, &id, index, &text);
                let content = [OutputText::of(&text)];
                raw_item(&MessageItem::new(&id, "completed", &content))
            }
        };
        self.item_done(out, index, item);
    }

    /// An item's `output_item.done` event, and the item put in the response's output.
    fn item_done(&mut self, out: &mut Vec<u8>, index: usize, item: Box<RawValue>) {
        self.event(out, "response.output_item.done", || ItemEvent {
            output_index: index,
            item: &*item,
        });
        self.output.push(item);
    }

    /// An event about part `at` of item `id`.
    fn part_event<T: Serialize>(
        &mut self,
        out: &mut Vec<u8>,
        kind: &str,
        (at, id, index): (At, &str, usize),
        payload: T,
    ) {
        if !self.streaming {
            return;
        }
        write_part_event(out, (kind, self.seq), (at, id, index), &payload);
        self.seq += 1;
    }

    /// The events that close a text part: its whole text, then the part.
    fn text_done(&mut self, out: &mut Vec<u8>, at: At, id: &str, index: usize, text: &str) {
        let (done, part_done) = match at {
            At::Content => ("response.output_text.done", "response.content_part.done"),
            At::Summary => (
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
            ),
        };
        self.part_event(out, done, (at, id, index), Text { text });
        let part = TextPart::of(at, text);
        self.part_event(out, part_done, (at, id, index), PartField { part });
    }

    /// A text part opens, empty.
    fn part_added(&mut self, out: &mut Vec<u8>, at: At, id: &str, index: usize) {
        let kind = match at {
            At::Content => "response.content_part.added",
            At::Summary => "response.reasoning_summary_part.added",
        };
        let part = TextPart::of(at, "");
        self.part_event(out, kind, (at, id, index), PartField { part });
    }

    /// Text added to a part.
    /// The open item's text grows by `delta`, and a `…text.delta` event says so.
    fn delta(&mut self, out: &mut Vec<u8>, at: At, delta: &str) {
        let ((At::Content, Some(Open::Message { text, deltas, .. }))
        | (At::Summary, Some(Open::Reasoning { text, deltas, .. }))) = (at, &mut self.open)
        else {
            return;
        };
        text.push_str(delta);
        if self.streaming {
            deltas.write(out, self.seq, delta);
            self.seq += 1;
        }
    }

    fn thought(&mut self, text: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close_open(out, None);
            let id = self.item_id("rs_");
            let index = self.output.len();
            self.event(out, "response.output_item.added", || ItemEvent {
                output_index: index,
                item: json!({"type": "reasoning", "id": id, "summary": []}),
            });
            self.part_added(out, At::Summary, &id, index);
            self.open = Some(Open::Reasoning {
                deltas: Deltas::new(At::Summary, &id, index),
                id,
                text: String::new(),
            });
        }
        self.delta(out, At::Summary, text);
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Message { .. })) {
            self.close_open(out, None);
            let id = self.item_id("msg_");
            let index = self.output.len();
            self.event(out, "response.output_item.added", || ItemEvent {
                output_index: index,
                item: MessageItem::new(&id, "in_progress", &[]),
            });
            self.part_added(out, At::Content, &id, index);
            self.open = Some(Open::Message {
                deltas: Deltas::new(At::Content, &id, index),
                id,
                text: String::new(),
            });
        }
        self.delta(out, At::Content, text);
    }

    /// A whole item made without the model's stream (a compaction), and the answer's usage:
    /// the response is complete once [`Translate::end`] closes it.
    pub fn whole_item(&mut self, mut item: Value, usage: Option<UsageMetadata>, out: &mut Vec<u8>) {
        self.open_stream(out);
        item["id"] = json!(self.item_id("cmp_"));
        let index = self.output.len();
        let item = raw_item(&item);
        self.event(out, "response.output_item.added", || ItemEvent {
            output_index: index,
            item: &*item,
        });
        self.item_done(out, index, item);
        self.usage = usage;
        self.status = Some(("completed", None));
    }

    /// A response with no output, on purpose (`generate: false`).
    pub fn nothing(&mut self, out: &mut Vec<u8>) {
        self.open_stream(out);
        self.status = Some(("completed", None));
    }

    fn failed(&mut self, e: OpenAiError, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.open_stream(out);
        self.close_open(out, None);
        self.error = Some(e);
        self.response_events(out, &["response.failed"], "failed");
        self.finished = true;
    }

    /// The final object of a whole (non-streamed) answer, as its JSON, or the error it amounts
    /// to. Written as a stream writes it, not built as a `Value` and then serialized: those two
    /// steps and the tree's drop were a third of a whole answer's cost.
    pub fn finish_object(mut self) -> Result<ObjectJson, OpenAiError> {
        let mut sink = Vec::new();
        self.end(&mut sink);
        match (self.error.take(), self.status) {
            (Some(e), _) => Err(e),
            (None, Some((status, _))) => {
                let mut json = Vec::with_capacity(1024);
                self.object(status).write(&mut json);
                Ok(ObjectJson(json))
            }
            (None, None) => Err(OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                "Gemini's answer had no finish",
            )),
        }
    }
}

/// A whole answer's `response` object as the JSON [`ResponseObject::write`] wrote (tested equal
/// to serde's), answered as it is: not parsed again to be checked.
#[derive(Debug)]
pub struct ObjectJson(pub Vec<u8>);

impl axum::response::IntoResponse for ObjectJson {
    fn into_response(self) -> axum::response::Response {
        let mut resp = axum::response::Response::new(axum::body::Body::from(self.0));
        resp.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// `item` as raw JSON for the response's output (`null` should it not serialize, which an item
/// cannot).
fn raw_item(item: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(item).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

impl Translate for ResponseBuilder {
    fn start(&mut self, out: &mut Vec<u8>) {
        self.open_stream(out);
    }

    fn chunk(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.open_stream(out);
        if let Some(err) = &chunk.error {
            let e = OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("Gemini error: {}", err.message),
            );
            return self.failed(e, out);
        }
        if chunk.usage_metadata.is_some() {
            self.usage = chunk.usage_metadata;
        }
        if self.family.is_none() {
            self.family = Some(family_of(chunk, &self.echo.gemini_model));
        }
        if chunk.candidates.is_empty() {
            if let Some(reason) = chunk
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.clone())
            {
                self.text(&format!("The prompt was blocked ({reason})."), out);
                self.status = Some(("incomplete", Some("content_filter")));
            }
        }
        let Some(c) = chunk.candidates.first() else {
            return;
        };
        for p in c.content.iter().flat_map(|c| &c.parts) {
            if p.is_thought() {
                if let Some(t) = p.text.as_deref().filter(|t| !t.is_empty()) {
                    self.thought(t, out);
                }
            } else if p.function_call.is_some() {
                self.call(p, out);
            } else if let Some(t) = p.text.as_deref().filter(|t| !t.is_empty()) {
                self.text(t, out);
            }
        }
        if let Some(reason) = c.finish_reason.as_deref() {
            match status_of(reason) {
                Ok(s) => self.status = Some(s),
                Err(r) => self.failed(crate::surfaces::openai::chat::response::unusable(&r), out),
            }
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        let Some((status, _)) = self.status else {
            let e = OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                "the Gemini stream ended before the answer was finished",
            );
            return self.failed(e, out);
        };
        self.open_stream(out);
        self.close_open(out, None);
        if let Some(keep) = self.keeper.take() {
            keep(
                &self.id,
                serde_json::to_value(self.object(status)).unwrap_or_default(),
            );
        }
        self.response_events(out, &["response.completed"], status);
        self.finished = true;
    }

    fn fail(&mut self, failure: Failure<'_>, out: &mut Vec<u8>) {
        let e = match failure {
            Failure::Dispatch { model, error } => OpenAiError::from_dispatch(model, error),
            Failure::Broken(broken) => OpenAiError::server(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("The Gemini stream broke: {broken}"),
            ),
            Failure::Garbled(m) => OpenAiError::server(axum::http::StatusCode::BAD_GATEWAY, m),
        };
        self.failed(e, out);
    }

    fn keep_alive(&mut self, out: &mut Vec<u8>) {
        if !self.finished && self.streaming {
            out.extend_from_slice(b": keep-alive\n\n");
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}
