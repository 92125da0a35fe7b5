//! Anthropic request parsing and validation, and the top-level Anthropic → Gemini translation.
//! Hostile input (deep nesting, bad base64, absurd counts, dangling tool ids, …) is refused by
//! [`super::validate`] during parsing, before any translation or upstream call.
//!
//! Generation settings (what a model accepts is its row of `crate::models::rules`):
//! * `max_tokens` → `maxOutputTokens`, clamped to the model's limit (the live catalog's, else its
//!   family's), plus the family's thinking headroom (Gemini 4), then held to
//!   [`TranslateOptions::max_tokens_limit`].
//! * `temperature`, `top_p`, `top_k` pass through where the family uses them (`top_k` at most
//!   `i32::MAX`: Gemini's is an int32); Gemini 4 ignores them, so they are dropped.
//!   `stop_sequences`: empty strings are dropped and only the first 5 are kept (Gemini's maximum).
//! * `thinking` → `thinkingConfig` (`includeThoughts` unless `display: "omitted"`):
//!   - a budget family (2.5): disabled/absent → its "off" (Pro cannot disable: 128, its
//!     minimum); enabled → `budget_tokens` clamped (Pro 128..32768, Flash 0..24576, Flash-Lite
//!     512..24576); adaptive → by `output_config.effort` (low 1024, medium 8192, high 24576,
//!     xhigh/max the tier maximum), `-1` (dynamic) without an effort.
//!   - a level family (3.x, 4; never a budget): disabled/absent → the lowest level the model
//!     accepts (3 Pro, Gemini 4: LOW; 3.x Flash: MINIMAL); enabled → ≤1024 LOW, ≤8192 MEDIUM,
//!     below 32768 HIGH, else XHIGH; adaptive → the effort (xhigh/max → XHIGH), the model's
//!     default without one. Levels a model lacks round up, or down to its highest.
//!   - 1.x/2.0: no thinking config. Names no row knows get the newest family's rules.
//! * A conversation ending with an assistant turn (a prefill) is refused with a 400 for a
//!   model that does not continue one (Gemini 4), as Anthropic's newest models refuse it.
//! * `output_config.format` `json_schema` → `responseMimeType: application/json` +
//!   `responseJsonSchema`.
//! * Tools: see `tools` (Anthropic's typed tools in `server_tools`); what is left out is noted
//!   ([`Notes`]) for the response header.
//! * Ignored: `metadata`, `stream` (endpoint choice is the caller's), `service_tier`,
//!   `context_management` (Gemini keeps no context to edit), `container`, `mcp_servers`,
//!   `cache_control`, and any unknown field; so is every `anthropic-beta` value.

use std::ops::Range;
use std::sync::Arc;

use crate::upstream::wire::{
    Content, CountTokensRequest, GenerateContentRequest, GenerationConfig, ThinkingConfig,
    ToolConfig,
};

use super::contents::translate_conversation;
use super::errors::AnthropicError;
use super::tools::translate_tools;
use super::types::{MessagesRequest, ThinkingParam, ToolList};
use super::validate::{check_request, clip_to, shape, MAX_JSON_DEPTH};
use crate::json::literal;
use crate::models::thinking::{thinking, Want};
use crate::models::ModelInfo;
use crate::surfaces::shared::schema;
use crate::surfaces::shared::shape::Shape;

/// Gemini accepts at most this many stop sequences.
pub const MAX_STOP_SEQUENCES: usize = 5;

/// Translation settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranslateOptions {
    /// Operator cap on `maxOutputTokens`.
    pub max_tokens_limit: Option<u32>,
    /// The model's largest `maxOutputTokens`, from the live catalog (else its family's).
    pub output_limit: Option<u32>,
}

/// Parse and validate a `/v1/messages` body (`model`, `messages`, `max_tokens` required).
pub fn parse_messages_request(body: &[u8]) -> Result<MessagesRequest, AnthropicError> {
    let req = parse_body(body)?;
    validate(&req, true)?;
    Ok(req)
}

/// Parse and validate a `/v1/messages/count_tokens` body (no `max_tokens`).
pub fn parse_count_tokens_request(body: &[u8]) -> Result<MessagesRequest, AnthropicError> {
    let req = parse_body(body)?;
    validate(&req, false)?;
    Ok(req)
}

fn parse_body(body: &[u8]) -> Result<MessagesRequest, AnthropicError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(AnthropicError::invalid(
            "request body must be a JSON object",
        ));
    }
    // Claude Code's tools, remembered from an earlier turn, are stepped over unread.
    let mut remembered = None;
    let shape = shape(body, |value| {
        remembered = super::tool_cache::remembered_at(value);
        remembered.as_ref().map(|text| text.len())
    });
    if shape.too_deep {
        return Err(AnthropicError::invalid(format!(
            "request body: JSON nesting is too deep (objects and arrays may be nested at most \
             {MAX_JSON_DEPTH} levels)"
        )));
    }
    // The fast path; only a body that fails is parsed again, tracking the path for the message.
    if let Some(req) = parse_quickly(body, shape, remembered) {
        return Ok(req);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: MessagesRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde quotes offending values (a 10 MB string as `max_tokens`): never echo them whole.
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("request body is not valid JSON: {inner}")
        } else if path == "." {
            format!("request body: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        AnthropicError::invalid(clip_to(&message, MAX_ERROR_MESSAGE))
    })?;
    de.end()
        .map_err(|e| AnthropicError::invalid(format!("request body is not valid JSON: {e}")))?;
    Ok(req)
}

/// The body read with its `tools` taken as the client's text where the scan found them: serde
/// would otherwise scan Claude Code's 32 KB of tool schemas only to find where they end (a fifth
/// of such a request's cost), while they are read only when the tool cache has not seen them
/// ([`ToolList::definitions`]). The rest of the body is parsed as a copy with `null` in their
/// place, so this pays only while the tools are a fair part of the body ([`SKIP_PER_COPY`]).
/// Likewise a tool result's long text (a file, a command's output: most of a long
/// conversation's bytes) is cut out and left as `""`, checked on its own and taken as a slice
/// of the body when the parse reads it there ([`literal::reading_around`]): serde's scan of its
/// escapes is several times the cost of the check. Should another value read an empty string
/// where a text was cut (a block the gateway does not know), the body is parsed whole instead.
/// `None` when the body does not parse: the slow path reads all of it again, tools included,
/// for a message with its position. `remembered` is the tool cache's text the span holds, when
/// it holds one.
fn parse_quickly(
    body: &[u8],
    shape: Shape,
    remembered: Option<Arc<str>>,
) -> Option<MessagesRequest> {
    let cut: usize = shape.long_strings.iter().map(Range::len).sum();
    // What is copied when both the strings and the tools are taken out.
    let rest = body
        .len()
        .saturating_sub(cut + shape.member.as_ref().map_or(0, Range::len));
    let long_strings = if cut * CUT_PER_COPY >= rest && literal::is_lent(body) {
        shape.long_strings
    } else {
        Vec::new()
    };
    let kept = body.len() - long_strings.iter().map(Range::len).sum::<usize>();
    let span = shape
        .member
        .filter(|span| span.len() * SKIP_PER_COPY >= kept.saturating_sub(span.len()));
    if span.is_none() && long_strings.is_empty() {
        return crate::json::from_bytes(body).ok();
    }
    let tools = match (&span, remembered) {
        (None, _) => None,
        (Some(_), Some(text)) => Some(ToolList::remembered(text)),
        (Some(span), None) => Some(ToolList::from_text(
            std::str::from_utf8(&body[span.clone()]).ok()?,
        )),
    };
    let (text, cuts) = rewrite(body, span, long_strings);
    let (req, every_cut_read) =
        literal::reading_around(&text, cuts, || crate::json::from_bytes(&text));
    if !every_cut_read {
        return crate::json::from_bytes(body).ok();
    }
    let mut req: MessagesRequest = req.ok()?;
    if tools.is_some() {
        // A second `tools` would have been refused as a duplicate field.
        req.tools = tools;
    }
    Some(req)
}

/// `body` with the tools' span read as `null` and each long string as `""` (the scan notes
/// none inside the tools): the text to parse, and where in it each string was left.
fn rewrite(
    body: &[u8],
    tools: Option<Range<usize>>,
    long_strings: Vec<Range<usize>>,
) -> (Vec<u8>, Vec<literal::Cut>) {
    let mut spans: Vec<(Range<usize>, bool)> = long_strings
        .into_iter()
        .map(|string| (string, true))
        .chain(tools.map(|tools| (tools, false)))
        .collect();
    spans.sort_by_key(|(span, _)| span.start);
    let written = |cut: bool| if cut { &b"\"\""[..] } else { &b"null"[..] };
    let removed: usize = spans.iter().map(|(span, _)| span.len()).sum();
    let added: usize = spans.iter().map(|(_, cut)| written(*cut).len()).sum();
    let mut text = Vec::with_capacity(body.len() + added - removed);
    let mut cuts = Vec::with_capacity(spans.len());
    let mut from = 0;
    for (span, cut) in spans {
        text.extend_from_slice(&body[from..span.start]);
        if cut {
            cuts.push(literal::Cut::new(text.len(), span.clone()));
        }
        text.extend_from_slice(written(cut));
        from = span.end;
    }
    text.extend_from_slice(&body[from..]);
    (text, cuts)
}

/// About how many bytes of the rest of a body can be copied for the cost of serde scanning one
/// byte of its tools (instructions: Claude Code's first turn, 32 KB of tools and 21 KB besides,
/// −15.6 % taking them as text; a 500 KB conversation with the same tools +2.9 %).
const SKIP_PER_COPY: usize = 8;

/// The same for a long string cut out and checked on its own ([`literal::reading_around`]):
/// the same trade (the rest copied against serde's scan saved), its value taken from tools'
/// rather than measured apart. The 500 KB conversation's strings are 96 % of its bytes.
const CUT_PER_COPY: usize = 8;

/// Longest parse error message (serde quotes the offending value).
const MAX_ERROR_MESSAGE: usize = 500;

fn validate(req: &MessagesRequest, require_max_tokens: bool) -> Result<(), AnthropicError> {
    if req.model.trim().is_empty() {
        return Err(AnthropicError::invalid("model: field required"));
    }
    if req.messages.is_empty() {
        return Err(AnthropicError::invalid(
            "messages: field required (at least one message)",
        ));
    }
    match req.max_tokens {
        None if require_max_tokens => {
            return Err(AnthropicError::invalid("max_tokens: field required"))
        }
        Some(0) => return Err(AnthropicError::invalid("max_tokens: must be at least 1")),
        _ => {}
    }
    let in_range =
        |v: Option<f64>, max: f64| v.is_none_or(|v| v.is_finite() && (0.0..=max).contains(&v));
    if !in_range(req.temperature, 2.0) {
        return Err(AnthropicError::invalid(
            "temperature: must be between 0 and 2",
        ));
    }
    if !in_range(req.top_p, 1.0) {
        return Err(AnthropicError::invalid("top_p: must be between 0 and 1"));
    }
    // Gemini's topK is an int32.
    if req.top_k.is_some_and(|k| i32::try_from(k).is_err()) {
        return Err(AnthropicError::invalid(format!(
            "top_k: must be at most {}",
            i32::MAX
        )));
    }
    check_request(req)
}

/// What the response needs to know of a translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// The types of the tools left out (named in `x-gateway-dropped-tools`).
    pub left_out: Vec<String>,
    /// Google Search or URL context is on: the answer may carry what they found.
    pub searching: bool,
}

/// The Gemini `generateContent` body for a validated request.
pub fn to_generate_content(
    req: &MessagesRequest,
    gemini_model: &str,
    opts: &TranslateOptions,
) -> Result<GenerateContentRequest, AnthropicError> {
    to_generate_content_noted(req, gemini_model, opts).map(|(out, _)| out)
}

/// [`to_generate_content`], and what the response needs to know of it.
pub fn to_generate_content_noted(
    req: &MessagesRequest,
    gemini_model: &str,
    opts: &TranslateOptions,
) -> Result<(GenerateContentRequest, Notes), AnthropicError> {
    let max_tokens = req
        .max_tokens
        .ok_or_else(|| AnthropicError::invalid("max_tokens: field required"))?;
    let info = ModelInfo::from_name(gemini_model);
    let (mut out, notes) = base_request(req, gemini_model, &info)?;
    if info.rules.refuses_prefill_of(&out.contents) {
        return Err(AnthropicError::invalid(format!(
            "messages: {gemini_model} does not continue a prefilled assistant turn: end the conversation with a user message"
        )));
    }
    let stop_sequences: Vec<String> = req
        .stop_sequences
        .iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .take(MAX_STOP_SEQUENCES)
        .cloned()
        .collect();
    let format = req
        .output_config
        .as_ref()
        .and_then(|o| o.format.as_ref())
        .filter(|f| f.kind == "json_schema");
    let mut budget = schema::SCHEMA_BUDGET;
    let response_json_schema = match format.and_then(|f| f.schema.as_ref()) {
        None => None,
        Some(s) => Some(schema::response_json_schema_within(s, &mut budget).map_err(
            |(_, e)| AnthropicError::invalid(format!("output_config.format.schema: {e}")),
        )?),
    };
    let mut config = GenerationConfig {
        max_output_tokens: Some(max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop_sequences: (!stop_sequences.is_empty()).then_some(stop_sequences),
        thinking_config: thinking_config(req, &info),
        response_mime_type: format.map(|_| "application/json".to_owned()),
        response_json_schema,
        ..GenerationConfig::default()
    };
    let output_limit = opts
        .output_limit
        .unwrap_or_else(|| info.max_output_tokens());
    info.rules
        .conform(&mut config, output_limit, opts.max_tokens_limit);
    out.generation_config = Some(config);
    Ok((out, notes))
}

/// The Gemini `countTokens` body: `generateContentRequest` with the model, contents, system
/// instruction and tools, so all of them are counted. `max_tokens` is not needed.
pub fn to_count_tokens(
    req: &MessagesRequest,
    gemini_model: &str,
    _opts: &TranslateOptions,
) -> Result<CountTokensRequest, AnthropicError> {
    let info = ModelInfo::from_name(gemini_model);
    let (mut inner, _) = base_request(req, gemini_model, &info)?;
    // Nothing is generated, so no calling mode; built-in tools beside functions still need
    // their flag.
    inner.tool_config = inner
        .tool_config
        .and_then(|c| c.include_server_side_tool_invocations)
        .map(|flag| ToolConfig {
            include_server_side_tool_invocations: Some(flag),
            ..ToolConfig::default()
        });
    let bare = gemini_model.strip_prefix("models/").unwrap_or(gemini_model);
    inner.model = Some(format!("models/{bare}"));
    Ok(CountTokensRequest {
        contents: None,
        generate_content_request: Some(inner),
    })
}

/// Contents, system instruction, tools and tool config, and the notes on them.
fn base_request(
    req: &MessagesRequest,
    gemini_model: &str,
    info: &ModelInfo,
) -> Result<(GenerateContentRequest, Notes), AnthropicError> {
    let conversation = translate_conversation(req, gemini_model)?;
    let tools = translate_tools(req, info)?;
    let searching = tools
        .tools
        .iter()
        .flatten()
        .any(|t| t.google_search.is_some() || t.url_context.is_some());
    let out = GenerateContentRequest {
        contents: conversation.contents,
        system_instruction: (!conversation.system.is_empty()).then_some(Content {
            role: None,
            parts: conversation.system,
        }),
        tools: tools.tools,
        tool_config: tools.tool_config,
        ..GenerateContentRequest::default()
    };
    let notes = Notes {
        left_out: tools.left_out,
        searching,
    };
    Ok((out, notes))
}

fn thinking_config(req: &MessagesRequest, info: &ModelInfo) -> Option<ThinkingConfig> {
    let effort = req.output_config.as_ref().and_then(|o| o.effort.as_deref());
    let shown = |display: &Option<String>| display.as_deref() != Some("omitted");
    let (want, show) = match &req.thinking {
        Some(ThinkingParam::Enabled {
            budget_tokens,
            display,
        }) => (Want::Budget(budget_tokens.unwrap_or(8192)), shown(display)),
        Some(ThinkingParam::Adaptive { display }) => (Want::Adaptive(effort), shown(display)),
        _ => (Want::Off, false),
    };
    thinking(info, want, show)
}

#[cfg(test)]
#[path = "request_tests/mod.rs"]
mod tests;
