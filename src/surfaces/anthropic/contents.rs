//! Anthropic `system` + `messages` → Gemini `systemInstruction` + `contents`.
//!
//! * System text (top-level `system`, then every `role: "system"` message in order) becomes the
//!   parts of `systemInstruction`. Mid-conversation system messages are hoisted there because
//!   Gemini has no in-conversation system role; as user text the model would take them for user
//!   speech. Blocks starting with `x-anthropic-billing-header:` are dropped (a per-request nonce
//!   that would defeat Gemini's implicit prefix caching).
//! * Consecutive messages of the same role are merged; `assistant` → `model`.
//! * `tool_use` → `functionCall` (no `id`); the next user turn gets exactly one `functionResponse`
//!   per call, in call order (`{"output": …}`, or `{"error": …}` when `is_error`), named from the
//!   matching `tool_use`; a missing result is synthesized as an error response; a `tool_result`
//!   matching no call of the previous turn (but one earlier in the conversation) becomes text —
//!   one matching no `tool_use` at all is a 400 (`validate.rs`). Images and PDFs inside a tool
//!   result become the function response's own `parts` (inline data) for a model whose rules
//!   take media in function responses (Gemini 3 and later); for others, and for media Gemini
//!   does not take there (URLs, other types), the output says what was omitted. Media in a
//!   result that became text follows it as sibling parts. A conversation ending with unanswered
//!   tool calls, or opening with an assistant message that calls tools, is a 400.
//! * Images: base64 → `inlineData` (`image/jpg` → `image/jpeg`; formats Gemini rejects, e.g. GIF,
//!   become a text note); URL → `fileData`. Documents: base64 (PDF) → `inlineData`, plain text and
//!   content sources → text (title first), URL → `fileData`. Files API ids → a text note.
//! * `search_result` → text. `thinking` → signatures only (see [`super::signatures`]).
//!   An earlier answer's `server_tool_use` and `web_search_tool_result` (the gateway's account of
//!   a Google Search) → text saying what was searched and found (Gemini's own record of the
//!   search is not kept by the client). `redacted_thinking`, `container_upload` and unknown
//!   blocks are dropped. Empty text is never sent; contents left without parts are dropped and
//!   the neighbours merged.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{json, Value};

use crate::json::literal::JsonString;
use crate::upstream::wire::{Content, FunctionAnswer, FunctionResponsePart, Part};

use super::errors::AnthropicError;
use super::signatures::{self, Replay};
use super::tools::to_gemini_name;
use super::types::{ContentBlock, MessagesRequest, Role, Source, TextOrBlocks, ToolResultContent};
use super::validate::clip;
use crate::models::ModelInfo;

const BILLING_HEADER: &str = "x-anthropic-billing-header:";
const GEMINI_IMAGE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/heic",
    "image/heif",
];

/// The translated conversation.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    pub system: Vec<Part>,
    pub contents: Vec<Content>,
}

/// One item of a turn, with its position for error messages.
#[derive(Clone, Copy)]
struct Item<'a> {
    msg: usize,
    block: usize,
    kind: ItemKind<'a>,
}

#[derive(Clone, Copy)]
enum ItemKind<'a> {
    Text(&'a str),
    Block(&'a ContentBlock),
}

struct Turn<'a> {
    role: Role,
    items: Vec<Item<'a>>,
}

/// Translate `system` and `messages` for the Gemini model `gemini_model`.
pub(crate) fn translate_conversation(
    req: &MessagesRequest,
    gemini_model: &str,
) -> Result<Conversation, AnthropicError> {
    let target = ModelInfo::from_name(gemini_model);
    let family = ModelInfo::signature_family(gemini_model);
    let mut system = Vec::new();
    if let Some(sys) = &req.system {
        push_system(sys, &mut system);
    }
    let mut turns: Vec<Turn<'_>> = Vec::new();
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (msg, m) in req.messages.iter().enumerate() {
        if m.role == Role::System {
            push_system(&m.content, &mut system);
            continue;
        }
        let items: Vec<Item<'_>> = match &m.content {
            TextOrBlocks::Text(t) => vec![Item {
                msg,
                block: 0,
                kind: ItemKind::Text(t),
            }],
            TextOrBlocks::Blocks(blocks) => blocks
                .iter()
                .enumerate()
                .map(|(block, b)| Item {
                    msg,
                    block,
                    kind: ItemKind::Block(b),
                })
                .collect(),
        };
        if m.role == Role::Assistant {
            for it in &items {
                if let ItemKind::Block(ContentBlock::ToolUse { id, name, .. }) = it.kind {
                    call_names.entry(id).or_insert(name);
                }
            }
        }
        match turns.last_mut() {
            Some(last) if last.role == m.role => last.items.extend(items),
            _ => turns.push(Turn {
                role: m.role,
                items,
            }),
        }
    }

    let mut contents: Vec<Content> = Vec::with_capacity(turns.len());
    let mut pending: Vec<(&str, &str)> = Vec::new();
    let mut last_assistant_msg = 0;
    for turn in &turns {
        if turn.role == Role::Assistant {
            let mut replay = Replay::new(&family, &target);
            let (parts, calls) = model_parts(&turn.items, &mut replay)?;
            pending = calls;
            last_assistant_msg = turn.items.first().map_or(0, |i| i.msg);
            contents.push(Content::new("model", parts));
        } else {
            let media = target.rules.media_in_function_responses;
            let parts = user_parts(&turn.items, &pending, &call_names, media);
            pending.clear();
            contents.push(Content::new("user", parts));
        }
    }
    if !pending.is_empty() {
        let mut ids: Vec<String> = pending.iter().take(10).map(|(id, _)| clip(id)).collect();
        if pending.len() > ids.len() {
            ids.push(format!("and {} more", pending.len() - ids.len()));
        }
        return Err(AnthropicError::invalid(format!(
            "messages.{last_assistant_msg}: tool_use ids were found without tool_result blocks \
             immediately after: {}",
            ids.join(", ")
        )));
    }
    let mut contents = merge_adjacent(contents);
    if contents.is_empty() {
        return Err(AnthropicError::invalid(
            "messages: at least one message with non-empty content is required",
        ));
    }
    // Gemini wants every function-call turn right after a user turn.
    if contents.first().is_some_and(|c| {
        c.role.as_deref() == Some("model") && c.parts.iter().any(|p| p.function_call.is_some())
    }) {
        return Err(AnthropicError::invalid(
            "messages: an assistant message with tool_use blocks must follow a user message",
        ));
    }
    signatures::apply_sentinels(&mut contents, &target);
    Ok(Conversation { system, contents })
}

fn push_system(sys: &TextOrBlocks<ContentBlock>, out: &mut Vec<Part>) {
    let mut push = |t: &str| {
        if !t.is_empty() && !t.trim_start().starts_with(BILLING_HEADER) {
            out.push(Part::text(t));
        }
    };
    match sys {
        TextOrBlocks::Text(t) => push(t),
        TextOrBlocks::Blocks(blocks) => {
            for b in blocks {
                if let ContentBlock::Text { text } = b {
                    push(text);
                }
            }
        }
    }
}

/// Tool calls of a model turn: (tool_use id, Anthropic name).
type Calls<'a> = Vec<(&'a str, &'a str)>;

/// Parts of an assistant turn, and the tool calls it makes.
fn model_parts<'a>(
    items: &[Item<'a>],
    replay: &mut Replay<'a>,
) -> Result<(Vec<Part>, Calls<'a>), AnthropicError> {
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for it in items {
        let block = match it.kind {
            ItemKind::Text(t) => {
                push_text(&mut parts, t, replay.take_text());
                continue;
            }
            ItemKind::Block(b) => b,
        };
        match block {
            ContentBlock::Text { text } => push_text(&mut parts, text, replay.take_text()),
            ContentBlock::Thinking { signature, .. } => replay.on_thinking(signature, &mut parts),
            ContentBlock::ToolUse { id, name, input } => {
                let args = match input {
                    Value::Object(_) => input.clone(),
                    Value::Null => json!({}),
                    _ => {
                        return Err(AnthropicError::invalid(format!(
                            "messages.{}.content.{}.input: must be an object",
                            it.msg, it.block
                        )))
                    }
                };
                parts.push(Part {
                    thought_signature: replay.take_call(),
                    ..Part::function_call(to_gemini_name(name), args)
                });
                calls.push((id.as_str(), name.as_str()));
            }
            other => parts.extend(block_parts(other)),
        }
    }
    Ok((parts, calls))
}

fn push_text(parts: &mut Vec<Part>, text: &str, signature: Option<String>) {
    if !text.is_empty() {
        parts.push(Part {
            thought_signature: signature,
            ..Part::text(text)
        });
    }
}

/// Parts of a user turn answering `pending` calls of the previous model turn; `media_in_responses`
/// when the model takes media in function responses.
fn user_parts(
    items: &[Item<'_>],
    pending: &[(&str, &str)],
    call_names: &HashMap<&str, &str>,
    media_in_responses: bool,
) -> Vec<Part> {
    let mut responses: Vec<Option<Part>> = vec![None; pending.len()];
    let mut others = Vec::new();
    for it in items {
        let block = match it.kind {
            ItemKind::Text(t) => {
                push_text(&mut others, t, None);
                continue;
            }
            ItemKind::Block(b) => b,
        };
        let ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } = block
        else {
            others.extend(block_parts(block));
            continue;
        };
        let (text, extra) = tool_result_content(content.as_ref());
        let slot = pending
            .iter()
            .position(|(id, _)| *id == tool_use_id)
            .filter(|&i| responses[i].is_none());
        match slot {
            Some(i) => {
                let key = if *is_error == Some(true) {
                    "error"
                } else {
                    "output"
                };
                let (attached, text) = attach(extra, text, media_in_responses);
                let answer = match text {
                    ResultText::Literal(text) => FunctionAnswer::Text {
                        key,
                        text: text.clone(),
                    },
                    ResultText::Plain(text) => FunctionAnswer::Object(json!({ key: text })),
                };
                let mut part = Part::function_response(to_gemini_name(pending[i].1), answer);
                if let Some(response) = part.function_response.as_mut() {
                    response.parts = (!attached.is_empty()).then_some(attached);
                }
                responses[i] = Some(part);
            }
            None => {
                let name = call_names
                    .get(tool_use_id.as_str())
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let label = if *is_error == Some(true) {
                    "Error from"
                } else {
                    "Result of"
                };
                others.push(Part::text(format!(
                    "[{label} tool call {tool_use_id}{name}]\n{}",
                    text.plain()
                )));
                others.extend(extra);
            }
        }
    }
    let mut parts: Vec<Part> = responses
        .into_iter()
        .zip(pending)
        .map(|(r, (_, name))| {
            r.unwrap_or_else(|| {
                Part::function_response(
                    to_gemini_name(name),
                    json!({"error": "No result was provided for this tool call."}),
                )
            })
        })
        .collect();
    parts.extend(others);
    parts
}

/// Media types a function response may carry (Google's list for multimodal function
/// responses: images, PDF and plain text).
const RESPONSE_MEDIA: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "application/pdf",
    "text/plain",
];

/// A tool result's text: the client's JSON literal of it (a string `content`, passed to Gemini
/// as it came), or text put together from its blocks.
enum ResultText<'a> {
    Literal(&'a JsonString),
    Plain(String),
}

impl ResultText<'_> {
    fn plain(&self) -> Cow<'_, str> {
        match self {
            Self::Literal(text) => text.plain(),
            Self::Plain(text) => Cow::Borrowed(text),
        }
    }
}

/// A tool result's media as the function response's parts, where the model takes them; the
/// rest is named in the output text, which is returned.
fn attach<'a>(
    media: Vec<Part>,
    text: ResultText<'a>,
    allowed: bool,
) -> (Vec<FunctionResponsePart>, ResultText<'a>) {
    let mut attached = Vec::new();
    let mut omitted = Vec::new();
    for part in media {
        match (part.inline_data, part.file_data) {
            (Some(blob), _) if allowed && RESPONSE_MEDIA.contains(&blob.mime_type.as_str()) => {
                attached.push(FunctionResponsePart::inline(blob.mime_type, blob.data));
            }
            (Some(blob), _) => omitted.push(blob.mime_type),
            (None, Some(file)) => omitted.push(file.file_uri),
            (None, None) => {}
        }
    }
    if !omitted.is_empty() {
        let why = if allowed {
            "Gemini does not take it in a tool result"
        } else {
            "this model does not take images or documents in tool results"
        };
        let mut text = text.plain().into_owned();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "[Omitted from the tool result ({why}): {}]",
            omitted.join(", ")
        ));
        return (attached, ResultText::Plain(text));
    }
    (attached, text)
}

/// Text of a tool result, and its media parts.
fn tool_result_content(content: Option<&ToolResultContent>) -> (ResultText<'_>, Vec<Part>) {
    let blocks = match content {
        None => return (ResultText::Plain(String::new()), Vec::new()),
        Some(ToolResultContent::Text(t)) => return (ResultText::Literal(t), Vec::new()),
        Some(ToolResultContent::Blocks(b)) => b,
    };
    let mut texts: Vec<String> = Vec::new();
    let mut media = Vec::new();
    for b in blocks {
        if let ContentBlock::ToolReference { tool_name } = b {
            texts.push(format!("Tool loaded: {tool_name}"));
            continue;
        }
        for p in block_parts(b) {
            match p.text {
                Some(t) => texts.push(t),
                None => media.push(p),
            }
        }
    }
    (ResultText::Plain(texts.join("\n")), media)
}

/// Parts for a content block that is neither a tool call/result nor thinking.
fn block_parts(block: &ContentBlock) -> Vec<Part> {
    match block {
        ContentBlock::Text { text } if !text.is_empty() => vec![Part::text(text)],
        ContentBlock::ServerToolUse { name, input } => {
            vec![Part::text(server_call_text(name, input))]
        }
        ContentBlock::WebSearchToolResult { content } => {
            vec![Part::text(search_result_text(content))]
        }
        ContentBlock::Image { source } => image_part(source).into_iter().collect(),
        ContentBlock::Document { source, title } => document_parts(source, title.as_deref()),
        ContentBlock::SearchResult {
            source,
            title,
            content,
        } => {
            let body: Vec<&str> = content
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            vec![Part::text(format!(
                "{title}\n{source}\n\n{}",
                body.join("\n")
            ))]
        }
        _ => Vec::new(),
    }
}

/// An earlier server tool call, told: `[Searched the web for "…"]`.
fn server_call_text(name: &str, input: &Value) -> String {
    match input.get("query").and_then(Value::as_str) {
        Some(query) => format!("[Searched the web for \"{}\"]", clip(query)),
        None => format!(
            "[Used the {} tool: {}]",
            clip(name),
            clip(&input.to_string())
        ),
    }
}

/// What an earlier search found, told: one line per result (title and address), or its error.
fn search_result_text(content: &Value) -> String {
    let Some(results) = content.as_array() else {
        let code = content
            .get("error_code")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        return format!("[The web search failed: {}]", clip(code));
    };
    if results.is_empty() {
        return "[The web search found nothing]".to_owned();
    }
    let mut out = "[Web search results:".to_owned();
    for r in results.iter().take(50) {
        let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
        out.push_str(&format!(
            "\n- {} ({})",
            clip(field("title")),
            clip(field("url"))
        ));
    }
    out.push(']');
    out
}

fn image_part(source: &Source) -> Option<Part> {
    match source {
        Source::Base64 { media_type, data } => {
            let mut mime = media_type.trim().to_ascii_lowercase();
            if mime == "image/jpg" {
                mime = "image/jpeg".into();
            }
            Some(if GEMINI_IMAGE_TYPES.contains(&mime.as_str()) {
                Part::inline_data(mime, data.as_str())
            } else {
                Part::text(format!(
                    "[An image of type {mime} was omitted: Gemini does not accept this format]"
                ))
            })
        }
        Source::Url { url } => Some(Part::file_data(url.as_str(), guess_mime(url))),
        Source::File { file_id } => Some(files_api_note(file_id)),
        _ => None,
    }
}

fn document_parts(source: &Source, title: Option<&str>) -> Vec<Part> {
    let titled = |body: &str| match title {
        Some(t) if !t.is_empty() => format!("{t}\n\n{body}"),
        _ => body.to_owned(),
    };
    match source {
        Source::Base64 { media_type, data } => {
            vec![Part::inline_data(media_type.as_str(), data.as_str())]
        }
        Source::Text { data, .. } if !data.is_empty() => vec![Part::text(titled(data))],
        Source::Content { content } => match content {
            TextOrBlocks::Text(t) if !t.is_empty() => vec![Part::text(titled(t))],
            TextOrBlocks::Text(_) => Vec::new(),
            TextOrBlocks::Blocks(blocks) => blocks.iter().flat_map(block_parts).collect(),
        },
        Source::Url { url } => vec![Part::file_data(
            url.as_str(),
            guess_mime(url).or_else(|| Some("application/pdf".into())),
        )],
        Source::File { file_id } => vec![files_api_note(file_id)],
        _ => Vec::new(),
    }
}

fn files_api_note(file_id: &str) -> Part {
    Part::text(format!(
        "[File {file_id} was omitted: Anthropic Files API references are not supported]"
    ))
}

fn guess_mime(url: &str) -> Option<String> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    let mime = match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => return None,
    };
    Some(mime.to_owned())
}

/// Merge neighbouring contents of the same role (parts are concatenated, never their texts)
/// and drop empty ones.
fn merge_adjacent(contents: Vec<Content>) -> Vec<Content> {
    let mut out: Vec<Content> = Vec::with_capacity(contents.len());
    for c in contents {
        if c.parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == c.role => last.parts.extend(c.parts),
            _ => out.push(c),
        }
    }
    out
}
