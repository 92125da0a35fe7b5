//! Gemini `generateContent` / `countTokens` responses → Anthropic responses (non-streaming),
//! plus the finish-reason and usage mappings shared with the stream translator.
//!
//! * finishReason → stop_reason: `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`,
//!   `TOO_MANY_TOOL_CALLS`, `MALFORMED_RESPONSE`, `MISSING_THOUGHT_SIGNATURE` → a retryable
//!   [`AnthropicError::MalformedResponse`] (never an empty success); otherwise `tool_use` when a
//!   tool_use block was produced; `STOP` → `end_turn`; `MAX_TOKENS` (and `CONTINUATION`) →
//!   `max_tokens`; `SAFETY`, `RECITATION`, `LANGUAGE`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`,
//!   `IMAGE_*`, `MODEL_ARMOR`, `PUP_LIMITED_DISABLED` → `refusal`; anything else (`OTHER`,
//!   unknown, absent) → `end_turn`. A refusal with no content gets a one-line text block naming
//!   the reason, so the user sees why.
//! * `promptFeedback.blockReason` without candidates → a `refusal` message with such a note; no
//!   candidates and no block reason → [`AnthropicError::EmptyResponse`] (retryable).
//! * usage: `input_tokens` = prompt − cached, `cache_read_input_tokens` = cached,
//!   `cache_creation_input_tokens` = 0, `output_tokens` = candidates + thoughts (absent counts
//!   are 0). `stop_sequence` is always null: Gemini does not say which sequence matched.

use serde_json::json;

use crate::upstream::wire::{self, GenerateContentResponse, UsageMetadata};

use super::blocks::{new_id, BlockMachine, BlockOp, OpenKind};
use super::errors::{AnthropicError, ErrorType};
use super::grounding;
use super::types::{
    CountTokensResponse, MessagesResponse, ResponseBlock, ServerToolUse, StopReason, Usage,
};

/// Translate a non-streaming Gemini response. `client_model` is echoed as `model`.
pub fn from_generate_content(
    resp: &GenerateContentResponse,
    client_model: &str,
) -> Result<MessagesResponse, AnthropicError> {
    if let Some(err) = &resp.error {
        return Err(AnthropicError::Other {
            kind: ErrorType::for_midstream_status(err.code.unwrap_or(500)),
            message: format!("Gemini error: {}", err.message),
        });
    }
    let mut content = Vec::new();
    let mut searched = None;
    let stop = match resp.candidates.first() {
        None => {
            let Some(reason) = resp
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_deref())
            else {
                return Err(AnthropicError::EmptyResponse);
            };
            let message = resp
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason_message.as_deref());
            content.push(ResponseBlock::Text {
                text: prompt_blocked_note(reason, message),
            });
            StopReason::Refusal
        }
        Some(candidate) => {
            let mut machine = BlockMachine::default();
            machine.observe_model(resp.model_version.as_deref());
            let mut fold = |op: BlockOp<'_>| apply(&mut content, op);
            for part in candidate.content.iter().flat_map(|c| &c.parts) {
                machine.on_part(part, &mut fold);
            }
            machine.close(&mut fold);
            let stop = stop_reason(
                candidate.finish_reason.as_deref(),
                machine.tool_uses(),
                candidate.finish_message.as_deref(),
            )?;
            if stop == StopReason::Refusal && content.is_empty() {
                content.push(ResponseBlock::Text {
                    text: refusal_note(candidate.finish_reason.as_deref().unwrap_or("")),
                });
            }
            searched = candidate
                .grounding_metadata
                .as_ref()
                .and_then(grounding::found);
            stop
        }
    };
    let mut usage = usage_from(resp.usage_metadata.as_ref());
    if let Some(found) = searched {
        // The search first (its use and result), the answer, then the cited sources.
        let mut blocks = found.blocks.into_iter().map(ResponseBlock::Made);
        let head: Vec<ResponseBlock> = blocks.by_ref().take(2).collect();
        content.splice(0..0, head);
        content.extend(blocks);
        usage.server_tool_use = Some(ServerToolUse {
            web_search_requests: found.requests,
        });
    }
    Ok(MessagesResponse {
        id: new_id("msg_"),
        kind: "message".into(),
        role: "assistant".into(),
        model: client_model.to_owned(),
        content,
        stop_reason: Some(stop),
        stop_sequence: None,
        usage,
    })
}

/// `{"input_tokens": totalTokens}`.
pub fn from_count_tokens(resp: &wire::CountTokensResponse) -> CountTokensResponse {
    CountTokensResponse {
        input_tokens: resp.total_tokens,
    }
}

fn apply(content: &mut Vec<ResponseBlock>, op: BlockOp<'_>) {
    match op {
        BlockOp::Open(OpenKind::Text) => content.push(ResponseBlock::Text {
            text: String::new(),
        }),
        BlockOp::Open(OpenKind::Thinking) => content.push(ResponseBlock::Thinking {
            thinking: String::new(),
            signature: String::new(),
        }),
        BlockOp::Text(t) => {
            if let Some(ResponseBlock::Text { text }) = content.last_mut() {
                text.push_str(t);
            }
        }
        BlockOp::Thinking(t) => {
            if let Some(ResponseBlock::Thinking { thinking, .. }) = content.last_mut() {
                thinking.push_str(t);
            }
        }
        BlockOp::Signature(s) => {
            if let Some(ResponseBlock::Thinking { signature, .. }) = content.last_mut() {
                *signature = s;
            }
        }
        BlockOp::Close => {}
        BlockOp::ToolUse { id, name, input } => content.push(ResponseBlock::ToolUse {
            id,
            name: name.to_owned(),
            input: input.cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// Map a Gemini finish reason; `tool_uses` is the number of tool_use blocks produced.
pub(crate) fn stop_reason(
    finish_reason: Option<&str>,
    tool_uses: usize,
    finish_message: Option<&str>,
) -> Result<StopReason, AnthropicError> {
    let reason = finish_reason.unwrap_or("");
    if matches!(
        reason,
        "MALFORMED_FUNCTION_CALL"
            | "UNEXPECTED_TOOL_CALL"
            | "TOO_MANY_TOOL_CALLS"
            | "MALFORMED_RESPONSE"
            | "MISSING_THOUGHT_SIGNATURE"
    ) {
        return Err(AnthropicError::MalformedResponse {
            reason: reason.to_owned(),
            detail: finish_message.map(str::to_owned),
        });
    }
    if tool_uses > 0 {
        return Ok(StopReason::ToolUse);
    }
    Ok(match reason {
        "MAX_TOKENS" | "CONTINUATION" => StopReason::MaxTokens,
        r if is_refusal(r) => StopReason::Refusal,
        _ => StopReason::EndTurn,
    })
}

fn is_refusal(reason: &str) -> bool {
    matches!(
        reason,
        "SAFETY"
            | "RECITATION"
            | "LANGUAGE"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "MODEL_ARMOR"
            | "PUP_LIMITED_DISABLED"
    ) || reason.starts_with("IMAGE_")
}

/// Text shown when Gemini stopped for a safety-type reason without any content.
pub(crate) fn refusal_note(reason: &str) -> String {
    format!("[Gemini stopped the response: {reason}]")
}

/// Text shown when Gemini blocked the prompt.
pub(crate) fn prompt_blocked_note(reason: &str, message: Option<&str>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!("[Gemini blocked the prompt: {reason}. {m}]"),
        _ => format!("[Gemini blocked the prompt: {reason}]"),
    }
}

/// Anthropic usage from Gemini's cumulative usage metadata.
pub(crate) fn usage_from(meta: Option<&UsageMetadata>) -> Usage {
    let Some(m) = meta else {
        return Usage::default();
    };
    let prompt = m.prompt_token_count.unwrap_or(0);
    let cached = m.cached_content_token_count.unwrap_or(0);
    Usage {
        input_tokens: prompt.saturating_sub(cached),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
        output_tokens: m
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(m.thoughts_token_count.unwrap_or(0)),
        server_tool_use: None,
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
