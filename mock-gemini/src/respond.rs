//! Turns the fake model's `Plan` into `GenerateContentResponse` JSON: one complete
//! response for `generateContent`, or the sequence of partial responses the real API
//! streams (thoughts first, text in chunks, function calls whole, cumulative usage, only
//! the last event with `finishReason` — and with `groundingMetadata` when the answer was
//! searched).

use serde_json::{json, Value};

use crate::model::{tokens_for_chars, Plan};
use crate::models_catalog::ModelInfo;
use crate::state::State;

fn usage(prompt: u64, candidates: u64, thoughts: u64) -> Value {
    let mut usage = json!({
        "promptTokenCount": prompt,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    });
    if candidates > 0 {
        usage["candidatesTokenCount"] = json!(candidates);
    }
    if thoughts > 0 {
        usage["thoughtsTokenCount"] = json!(thoughts);
    }
    usage
}

fn envelope(
    parts: Vec<Value>,
    finish: Option<&str>,
    usage: Value,
    model: &ModelInfo,
    id: &str,
) -> Value {
    let content = if parts.is_empty() {
        json!({"role": "model"})
    } else {
        json!({"parts": parts, "role": "model"})
    };
    let mut candidate = json!({"content": content, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model.served_id(),
        "responseId": id,
    })
}

fn call_parts(plan: &Plan, state: &State) -> Vec<Value> {
    plan.calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| {
            let mut part = json!({"functionCall": {"name": name, "args": args}});
            if i == 0 && plan.signs {
                part["thoughtSignature"] = json!(state.issue_signature());
            }
            part
        })
        .collect()
}

fn thought_part(thought: &str) -> Value {
    json!({"text": thought, "thought": true})
}

/// Gemini 3 signs the last part of a text-only answer.
fn signs_text(plan: &Plan, model: &ModelInfo) -> bool {
    model.is_gemini3() && plan.signs && plan.calls.is_empty()
}

/// What a searched answer carries: its metadata on the candidate of `event`.
fn ground(event: &mut Value, plan: &Plan) {
    if let (Some(query), Some(candidate)) = (&plan.searched, event["candidates"][0].as_object_mut())
    {
        candidate.insert(
            "groundingMetadata".to_owned(),
            crate::search::metadata(query, &plan.text),
        );
    }
}

/// The parts that show the search, when asked for.
fn search_parts(plan: &Plan) -> Vec<Value> {
    match &plan.searched {
        Some(query) if plan.shows_search => crate::search::invocation_parts(query),
        _ => Vec::new(),
    }
}

/// The complete `generateContent` response.
pub fn full_response(plan: &Plan, model: &ModelInfo, state: &State) -> Value {
    let mut parts = Vec::new();
    if let Some(thought) = &plan.thought {
        parts.push(thought_part(thought));
    }
    parts.extend(search_parts(plan));
    if !plan.text.is_empty() {
        let mut part = json!({"text": plan.text});
        if signs_text(plan, model) {
            part["thoughtSignature"] = json!(state.issue_signature());
        }
        parts.push(part);
    }
    parts.extend(call_parts(plan, state));
    let usage = usage(
        plan.prompt_tokens,
        plan.candidates_tokens,
        plan.thoughts_tokens,
    );
    let mut answer = envelope(
        parts,
        Some(plan.finish_reason),
        usage,
        model,
        &state.response_id(),
    );
    ground(&mut answer, plan);
    answer
}

/// What Gemini answers when the model wrote a function call it could not encode: no content,
/// `finishReason: MALFORMED_FUNCTION_CALL` and a `finishMessage` quoting the attempt.
pub fn malformed_function_call(plan: &Plan, model: &ModelInfo, state: &State) -> Value {
    let mut answer = envelope(
        Vec::new(),
        Some("MALFORMED_FUNCTION_CALL"),
        usage(plan.prompt_tokens, 0, 0),
        model,
        &state.response_id(),
    );
    answer["candidates"][0]["finishMessage"] =
        json!("Malformed function call: print(default_api.run(command='ls'");
    answer
}

/// Splits `text` into at most `n` non-empty pieces of similar length (by characters).
pub fn split_text(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let n = n.clamp(1, chars.len());
    let size = chars.len().div_ceil(n);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// The streamed responses, in order; only the last one has `finishReason`.
pub fn stream_events(plan: &Plan, model: &ModelInfo, state: &State) -> Vec<Value> {
    let id = state.response_id();
    let prompt = plan.prompt_tokens;
    let thoughts = plan.thoughts_tokens;
    let mut events = Vec::new();
    let mut out_chars = 0usize;
    if let Some(thought) = &plan.thought {
        events.push(envelope(
            vec![thought_part(thought)],
            None,
            usage(prompt, 0, thoughts),
            model,
            &id,
        ));
    }
    let shown = search_parts(plan);
    if !shown.is_empty() {
        events.push(envelope(
            shown,
            None,
            usage(prompt, 0, thoughts),
            model,
            &id,
        ));
    }
    for piece in split_text(&plan.text, state.stream_chunks) {
        out_chars += piece.chars().count();
        let usage = usage(prompt, tokens_for_chars(out_chars), thoughts);
        events.push(envelope(
            vec![json!({"text": piece})],
            None,
            usage,
            model,
            &id,
        ));
    }
    if !plan.calls.is_empty() {
        let final_usage = usage(prompt, plan.candidates_tokens, thoughts);
        events.push(envelope(
            call_parts(plan, state),
            None,
            final_usage,
            model,
            &id,
        ));
    }
    let final_usage = usage(prompt, plan.candidates_tokens, thoughts);
    let separate_final = !plan.calls.is_empty() || plan.text.is_empty() || signs_text(plan, model);
    match events.last_mut() {
        Some(last) if !separate_final => {
            last["candidates"][0]["finishReason"] = json!(plan.finish_reason);
            last["usageMetadata"] = final_usage;
        }
        _ => {
            let mut part = json!({"text": ""});
            if signs_text(plan, model) && !plan.text.is_empty() {
                part["thoughtSignature"] = json!(state.issue_signature());
            }
            // Thinking that used up the output leaves one event whose content has no parts.
            let parts = if plan.exhausted {
                Vec::new()
            } else {
                vec![part]
            };
            events.push(envelope(
                parts,
                Some(plan.finish_reason),
                final_usage,
                model,
                &id,
            ));
        }
    }
    if let Some(last) = events.last_mut() {
        ground(last, plan);
    }
    events
}

/// Removes every `finishReason` (for `StreamNoFinish`).
pub fn strip_finish(events: &mut [Value]) {
    for event in events {
        if let Some(candidate) = event["candidates"][0].as_object_mut() {
            candidate.remove("finishReason");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_text_makes_non_empty_pieces() {
        assert_eq!(split_text("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(split_text("ab", 5), vec!["a", "b"]);
        assert!(split_text("", 3).is_empty());
        assert_eq!(split_text("héllo", 1), vec!["héllo"]);
    }
}
