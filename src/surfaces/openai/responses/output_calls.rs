//! A function call in Gemini's answer → the Responses API's items: a `function_call` (or a
//! `custom_tool_call` for a custom tool, its `input` the call's one string, or a namespaced
//! function as the client declared it), with its signature in a `reasoning` item just before it
//! and in its `call_id`. Part of the [`ResponseBuilder`]'s machine, kept apart for its size.

use serde_json::{json, Value};

use super::super::object::ItemEvent;
use super::super::request::CUSTOM_INPUT;
use super::{raw_item, Open, ResponseBuilder};
use crate::surfaces::shared::names::from_gemini_name;
use crate::surfaces::shared::signature::{id_carrying, sealed};
use crate::upstream::wire::Part;

/// The delta and done events of a custom tool's input, and of a function's arguments.
const CUSTOM_INPUT_EVENTS: [&str; 2] = [
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
];
const ARGUMENTS_EVENTS: [&str; 2] = [
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
];

impl ResponseBuilder {
    /// A call's text told at once: one delta event with all of it, then the done event with it
    /// again as `field`.
    fn told_whole(
        &mut self,
        out: &mut Vec<u8>,
        [delta, done]: [&str; 2],
        id: &str,
        index: usize,
        field: &str,
        text: &str,
    ) {
        self.event(
            out,
            delta,
            || json!({"item_id": id, "output_index": index, "delta": text}),
        );
        self.event(out, done, || {
            let mut event = json!({"item_id": id, "output_index": index});
            event[field] = json!(text);
            event
        });
    }

    pub(super) fn call(&mut self, part: &Part, out: &mut Vec<u8>) {
        let Some(call) = &part.function_call else {
            return;
        };
        if !self.echo.parallel && self.calls > 0 {
            return;
        }
        self.calls += 1;
        let family = self.family.clone().unwrap_or_default();
        let signature = part.thought_signature.as_deref();
        // The signature rides in a reasoning item right before the call (a thought summary
        // still open takes it; else an empty one).
        if let Some(sig) = signature {
            if !matches!(self.open, Some(Open::Reasoning { .. })) {
                self.close_open(out, None);
                let index = self.output.len();
                let item = json!({"type": "reasoning", "id": self.item_id("rs_"), "summary": [], "encrypted_content": sealed(&family, sig)});
                let item = raw_item(&item);
                self.event(out, "response.output_item.added", || ItemEvent {
                    output_index: index,
                    item: &*item,
                });
                self.item_done(out, index, item);
            } else {
                self.close_open(out, Some(sig));
            }
        } else {
            self.close_open(out, None);
        }
        let call_id = id_carrying("call_", &family, signature);
        let index = self.output.len();
        let args = call.args.clone().unwrap_or_else(|| json!({}));
        let item = match self.echo.kinds.custom.get(&call.name).cloned() {
            Some(name) => {
                let input = args
                    .get(CUSTOM_INPUT)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let id = self.item_id("ctc_");
                self.event(out, "response.output_item.added", || json!({"output_index": index, "item": {"type": "custom_tool_call", "id": id, "call_id": call_id, "name": name, "input": ""}}));
                self.told_whole(out, CUSTOM_INPUT_EVENTS, &id, index, "input", &input);
                json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": name, "input": input, "status": "completed"})
            }
            None => {
                let full = from_gemini_name(&call.name);
                let arguments = args.to_string();
                let id = self.item_id("fc_");
                let mut item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": full, "arguments": "", "status": "in_progress"});
                if let Some((ns, name)) = self.echo.kinds.namespaced.get(&call.name) {
                    item["namespace"] = json!(ns);
                    item["name"] = json!(name);
                }
                self.event(out, "response.output_item.added", || ItemEvent {
                    output_index: index,
                    item: &item,
                });
                self.told_whole(out, ARGUMENTS_EVENTS, &id, index, "arguments", &arguments);
                item["arguments"] = json!(arguments);
                item["status"] = json!("completed");
                item
            }
        };
        self.item_done(out, index, raw_item(&item));
    }
}
