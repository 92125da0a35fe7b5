//! Gemini's answer → a `chat.completion`, a pure function; and the pieces the stream shares with
//! it: finish reasons, tool calls with their signatures, usage.
//!
//! `finish_reason`: `tool_calls` whenever a call was made (Gemini says `STOP` after a call),
//! `length` for `MAX_TOKENS`, `content_filter` for the safety family and a blocked prompt,
//! `stop` otherwise. `MALFORMED_FUNCTION_CALL` and its kin are an error (retried once on another
//! key by dispatch), never a silent `stop`. Thoughts are not part of the message; their tokens
//! are in `completion_tokens_details.reasoning_tokens`.

use serde_json::json;

use super::types::{AssistantMessage, Choice, Completion, FunctionCall, ToolCall, Usage};
use crate::models::ModelInfo;
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::names::from_gemini_name;
use crate::surfaces::shared::signature::{id_carrying, new_id};
use crate::upstream::wire::{GenerateContentResponse, Part};

/// Why Gemini stopped, in OpenAI's words; `Err` for the reasons that mean no usable answer.
pub fn finish_reason(reason: Option<&str>, made_calls: bool) -> Result<&'static str, OpenAiError> {
    Ok(match reason {
        _ if made_calls => "tool_calls",
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY" | "RECITATION" | "PROHIBITED_CONTENT" | "SPII" | "BLOCKLIST" | "IMAGE_SAFETY",
        ) => "content_filter",
        Some(
            r @ ("MALFORMED_FUNCTION_CALL"
            | "UNEXPECTED_TOOL_CALL"
            | "TOO_MANY_TOOL_CALLS"
            | "MISSING_THOUGHT_SIGNATURE"),
        ) => return Err(unusable(r)),
        _ => "stop",
    })
}

/// An answer Gemini could not complete (a retryable 500).
pub fn unusable(reason: &str) -> OpenAiError {
    OpenAiError {
        retryable: true,
        ..OpenAiError::server(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("Gemini could not complete the response ({reason})"),
        )
    }
}

/// A tool call for a Gemini function-call part; its id carries the part's signature.
pub fn tool_call(part: &Part, family: &str) -> Option<ToolCall> {
    let call = part.function_call.as_ref()?;
    let signature = part.thought_signature.as_deref();
    Some(ToolCall {
        id: id_carrying("call_", family, signature),
        kind: "function".into(),
        function: FunctionCall {
            name: from_gemini_name(&call.name).to_string(),
            arguments: call
                .args
                .as_ref()
                .map_or_else(|| "{}".to_string(), |a| a.to_string()),
        },
        extra_content: signature.map(|s| json!({"google": {"thought_signature": s}})),
    })
}

/// The signature family of the model that answered (its `modelVersion`), else the requested one.
pub fn family_of(resp: &GenerateContentResponse, requested: &str) -> String {
    ModelInfo::signature_family(resp.model_version.as_deref().unwrap_or(requested))
}

/// What the answer is for: the client's model name (echoed), the Gemini model, whether calls may
/// come in parallel (`parallel_tool_calls: false` keeps only an answer's first call), and when
/// (`created`, Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    pub client_model: &'a str,
    pub gemini_model: &'a str,
    pub parallel: bool,
    pub created: i64,
}

/// The `chat.completion` for a whole Gemini answer.
pub fn completion(
    resp: &GenerateContentResponse,
    a: Answering<'_>,
) -> Result<Completion, OpenAiError> {
    let (client_model, gemini_model, parallel) = (a.client_model, a.gemini_model, a.parallel);
    if let Some(err) = &resp.error {
        return Err(OpenAiError::server(
            axum::http::StatusCode::BAD_GATEWAY,
            format!("Gemini error: {}", err.message),
        ));
    }
    let family = family_of(resp, gemini_model);
    let mut choices = Vec::new();
    if resp.candidates.is_empty() {
        let Some(reason) = resp
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref())
        else {
            return Err(unusable("no candidates"));
        };
        choices.push(Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                refusal: Some(format!("The prompt was blocked ({reason}).")),
                ..AssistantMessage::default()
            },
            finish_reason: "content_filter",
            logprobs: None,
        });
    }
    for (i, c) in resp.candidates.iter().enumerate() {
        let parts = c.content.iter().flat_map(|c| &c.parts);
        let mut text = String::new();
        let mut calls = Vec::new();
        for p in parts {
            if p.is_thought() {
                continue;
            }
            if let Some(t) = &p.text {
                text.push_str(t);
            }
            if let Some(call) = tool_call(p, &family) {
                if parallel || calls.is_empty() {
                    calls.push(call);
                }
            }
        }
        let finish = finish_reason(c.finish_reason.as_deref(), !calls.is_empty())?;
        choices.push(Choice {
            index: c.index.unwrap_or(i as u32),
            message: AssistantMessage {
                role: "assistant",
                content: (!text.is_empty() || calls.is_empty()).then_some(text),
                tool_calls: calls,
                refusal: None,
            },
            finish_reason: finish,
            logprobs: None,
        });
    }
    Ok(Completion {
        id: new_id("chatcmpl-"),
        object: "chat.completion",
        created: a.created,
        model: client_model.to_string(),
        choices,
        usage: Usage::from_gemini(resp.usage_metadata.as_ref()),
    })
}
