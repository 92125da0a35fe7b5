//! Anthropic Messages API serde types: request, response and SSE events.
//!
//! Requests are parsed leniently: unknown fields (`cache_control`, `citations`,
//! `context_management`, `output_config.task_budget`, …) are ignored, and unknown content block
//! or source types become [`ContentBlock::Other`] / [`Source::Other`] so that new Anthropic
//! features never turn into a parse error. Known blocks with wrong field types are errors.
//! Stream events borrow their text so the encoder writes them without copies.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::literal::{without_position, JsonString};

/// `POST /v1/messages` (and `/v1/messages/count_tokens`, which has no `max_tokens`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessagesRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Required for `/v1/messages`; checked by [`super::parse_messages_request`].
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub system: Option<TextOrBlocks<ContentBlock>>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_k: Option<u32>,
    #[serde(default)]
    pub tools: Option<ToolList>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub thinking: Option<ThinkingParam>,
    #[serde(default)]
    pub output_config: Option<OutputConfig>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// One conversation message. Claude Code also sends `role: "system"` entries.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: TextOrBlocks<ContentBlock>,
}

/// Message roles accepted from clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
}

/// A string, or an array of blocks (`content`, `system`, `tool_result.content`).
#[derive(Debug, Clone, PartialEq)]
pub enum TextOrBlocks<T> {
    Text(String),
    Blocks(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TextOrBlocks<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = TextOrBlocks<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TextOrBlocks::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TextOrBlocks::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(TextOrBlocks::Blocks)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// Content blocks (request side). Unknown types (`redacted_thinking`, `container_upload`,
/// `web_fetch_tool_result`, …) deserialize as [`ContentBlock::Other`]. Read by `block_de` (by
/// its `type`, without buffering the block).
#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    Text {
        text: String,
    },
    Image {
        source: Source,
    },
    Document {
        source: Source,
        title: Option<String>,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Option<ToolResultContent>,
        is_error: Option<bool>,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    SearchResult {
        source: String,
        title: String,
        content: Vec<ContentBlock>,
    },
    ToolReference {
        tool_name: String,
    },
    /// A server tool's call an earlier answer carried (a search the gateway reported).
    ServerToolUse {
        name: String,
        input: Value,
    },
    /// What a search found (a list of results, or an error object), as an earlier answer
    /// carried it.
    WebSearchToolResult {
        content: Value,
    },
    Other,
}

/// A tool result's `content`: a text, kept as the client's JSON literal (a tool's output is most
/// of a long agent conversation's bytes, and passes to Gemini as it came: `json::literal`), or
/// content blocks.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolResultContent {
    Text(JsonString),
    Blocks(Vec<ContentBlock>),
}

impl<'de> Deserialize<'de> for ToolResultContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&serde_json::value::RawValue>::deserialize(deserializer)?.get();
        if !raw.starts_with('[') {
            return JsonString::from_literal(raw)
                .map(Self::Text)
                .map_err(|refused| refused.error("a string or an array of content blocks"));
        }
        // The blocks are read from the captured text: serde has no way to look at a value's
        // kind before reading it, and a tool result's blocks are the rarer case.
        serde_json::from_str(raw)
            .map(Self::Blocks)
            .map_err(|e| de::Error::custom(without_position(&e)))
    }
}

/// Media / document sources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// Plain-text document.
    Text {
        #[serde(default)]
        media_type: Option<String>,
        data: String,
    },
    /// Document made of content blocks.
    Content {
        content: TextOrBlocks<ContentBlock>,
    },
    /// Anthropic Files API reference.
    File {
        file_id: String,
    },
    #[serde(other)]
    Other,
}

/// `tools`, kept as the client wrote it: Claude Code sends the same tools on every turn, so
/// their translation is cached by this text (see `tool_cache`) and they are parsed only on a
/// miss. The text is either serde's capture of the value or, on the common path, the span the
/// body scan found (`request::parse_body`); either way it is read, and so validated, by
/// [`ToolList::definitions`] before its first translation is remembered. A list the cache
/// remembers is that text itself, shared, not a copy of it.
#[derive(Debug, Clone)]
pub struct ToolList(Arc<str>);

impl<'de> Deserialize<'de> for ToolList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<serde_json::value::RawValue>::deserialize(deserializer)
            .map(|raw| Self(Box::<str>::from(raw).into()))
    }
}

impl ToolList {
    /// The list as the client's JSON text of it, not yet read.
    pub fn from_text(text: &str) -> Self {
        Self(text.into())
    }

    /// A list whose text the tool cache remembers (read and translated before).
    pub fn remembered(text: Arc<str>) -> Self {
        Self(text)
    }

    /// The text, to be remembered by the tool cache.
    pub(crate) fn text(&self) -> &Arc<str> {
        &self.0
    }

    /// The JSON text of the array, as received.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// The definitions; a malformed one is a 400 naming its field (`tools[0].name: …`), and
    /// text that is not one JSON value a 400 saying so.
    pub fn definitions(&self) -> Result<Vec<ToolDefinition>, super::errors::AnthropicError> {
        let invalid = |message: String| {
            super::errors::AnthropicError::invalid(super::validate::clip_to(&message, 500))
        };
        let mut de = serde_json::Deserializer::from_str(self.raw());
        let definitions = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return invalid(format!("tools: not valid JSON: {inner}"));
            }
            let path = if path == "." { String::new() } else { path };
            invalid(format!("tools{path}: {inner}"))
        })?;
        de.end()
            .map_err(|e| invalid(format!("tools: not valid JSON: {e}")))?;
        Ok(definitions)
    }
}

/// A tool: custom (with `input_schema`) or one of Anthropic's own types (`web_search_20250305`,
/// `bash_20250124`, …; see `server_tools`). Only custom tools must have a name (an MCP toolset
/// has none).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolDefinition {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Option<Value>,
    #[serde(default)]
    pub defer_loading: Option<bool>,
    /// The computer tool's screen.
    #[serde(default)]
    pub display_width_px: Option<u64>,
    #[serde(default)]
    pub display_height_px: Option<u64>,
}

impl ToolDefinition {
    /// The Anthropic tool type, for a tool that is not a custom one.
    pub fn typed(&self) -> Option<&str> {
        self.kind.as_deref().filter(|k| *k != "custom")
    }
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    Auto,
    Any,
    Tool { name: String },
    None,
}

/// `thinking`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingParam {
    Enabled {
        #[serde(default)]
        budget_tokens: Option<u32>,
        #[serde(default)]
        display: Option<String>,
    },
    Adaptive {
        #[serde(default)]
        display: Option<String>,
    },
    Disabled,
    #[serde(other)]
    Other,
}

/// `output_config` (`effort`, structured output `format`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OutputConfig {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub format: Option<OutputFormat>,
}

/// `output_config.format`: `{"type":"json_schema","schema":{…}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub schema: Option<Value>,
}

/// `metadata` (Claude Code puts a session id in `user_id`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub user_id: Option<String>,
}

/// A non-streaming Messages response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub role: String,
    pub model: String,
    pub content: Vec<ResponseBlock>,
    pub stop_reason: Option<StopReason>,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// Content blocks we produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseBlock {
    Text {
        text: String,
        /// The sources a grounded stretch of the answer cites.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        citations: Option<Vec<Citation>>,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// A search Gemini ran (`input: {"query": …}`).
    ServerToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// What a search found.
    WebSearchToolResult {
        tool_use_id: String,
        content: Vec<WebSearchResult>,
    },
}

impl ResponseBlock {
    /// A text block without citations.
    pub fn text(text: impl Into<String>) -> Self {
        ResponseBlock::Text {
            text: text.into(),
            citations: None,
        }
    }
}

/// One search result (`type: "web_search_result"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSearchResult {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub title: String,
    pub encrypted_content: String,
    pub page_age: Option<String>,
}

/// A cited search result (`type: "web_search_result_location"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub title: String,
    pub cited_text: String,
    pub encrypted_index: String,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    PauseTurn,
    Refusal,
}

/// Token usage (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
    /// Searches run on the server's side, when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_tool_use: Option<ServerToolUsage>,
}

/// `usage.server_tool_use`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerToolUsage {
    pub web_search_requests: u64,
}

/// `/v1/messages/count_tokens` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountTokensResponse {
    pub input_tokens: u64,
}

/// One Anthropic SSE event; written as `event: <name>\ndata: <json>\n\n`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent<'a> {
    MessageStart {
        message: &'a MessagesResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: BlockStart<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        usage: Usage,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorDetail<'a>,
    },
}

impl StreamEvent<'_> {
    /// The SSE `event:` name (equal to the `type` field).
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Ping => "ping",
            Self::Error { .. } => "error",
        }
    }
}

/// `content_block_start.content_block`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockStart<'a> {
    Text {
        text: &'a str,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
    /// A cited text block opens with an empty citation list; `citations_delta`s fill it.
    #[serde(rename = "text")]
    CitedText {
        text: &'a str,
        citations: [(); 0],
    },
    ServerToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
    /// Complete at its start, as Anthropic streams it.
    WebSearchToolResult {
        tool_use_id: &'a str,
        content: &'a [WebSearchResult],
    },
}

/// Serializes as `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EmptyObject {}

/// `content_block_delta.delta`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta<'a> {
    TextDelta { text: &'a str },
    ThinkingDelta { thinking: &'a str },
    SignatureDelta { signature: &'a str },
    InputJsonDelta { partial_json: Cow<'a, str> },
    CitationsDelta { citation: &'a Citation },
}

/// `message_delta.delta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MessageDeltaBody {
    pub stop_reason: StopReason,
    pub stop_sequence: Option<()>,
}

/// `error` event payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub message: &'a str,
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
