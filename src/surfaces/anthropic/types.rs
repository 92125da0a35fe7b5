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

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Content blocks (request side). Unknown types (`server_tool_use`, `web_search_tool_result`,
/// `redacted_thinking`, `container_upload`, …) deserialize as [`ContentBlock::Other`]. Read by
/// `block_de` (by its `type`, without buffering the block).
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
        content: Option<TextOrBlocks<ContentBlock>>,
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
    Other,
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
/// miss.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ToolList(Box<serde_json::value::RawValue>);

impl ToolList {
    /// The JSON text of the array, as received.
    pub fn raw(&self) -> &str {
        self.0.get()
    }

    /// The definitions; a malformed one is a 400 naming its field (`tools[0].name: …`).
    pub fn definitions(&self) -> Result<Vec<ToolDefinition>, super::errors::AnthropicError> {
        let mut de = serde_json::Deserializer::from_str(self.raw());
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = format!("tools{path}: {}", e.into_inner());
            super::errors::AnthropicError::invalid(super::validate::clip_to(&message, 500))
        })
    }
}

/// A tool: custom (with `input_schema`) or an Anthropic server tool (with a `type` such as
/// `web_search_20250305`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Option<Value>,
    #[serde(default)]
    pub defer_loading: Option<bool>,
}

impl ToolDefinition {
    /// True for Anthropic-hosted tools (`web_search_*`, `bash_*`, `text_editor_*`, …).
    pub fn is_server_tool(&self) -> bool {
        self.kind.as_deref().is_some_and(|k| k != "custom")
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
    /// A block made whole elsewhere (web search's `server_tool_use`, `web_search_tool_result`,
    /// cited text: see `grounding`).
    #[serde(untagged)]
    Made(Value),
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
    /// Server tools used (web searches), when any were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_tool_use: Option<ServerToolUse>,
}

/// `usage.server_tool_use`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerToolUse {
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_blocks_and_fields_are_tolerated() {
        let msg: Message = serde_json::from_value(json!({
            "role": "assistant",
            "content": [
                {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}, "citations": []},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "redacted_thinking", "data": "abc"},
                {"type": "container_upload", "file_id": "f"},
                {"type": "brand_new_block", "x": 1}
            ]
        }))
        .unwrap();
        let TextOrBlocks::Blocks(blocks) = msg.content else {
            panic!("blocks expected")
        };
        assert_eq!(blocks[0], ContentBlock::Text { text: "hi".into() });
        assert!(blocks[1..].iter().all(|b| *b == ContentBlock::Other));
    }

    #[test]
    fn string_content_and_system_role() {
        let msg: Message =
            serde_json::from_value(json!({"role": "system", "content": "env"})).unwrap();
        assert_eq!(msg.role, Role::System);
        assert_eq!(msg.content, TextOrBlocks::Text("env".into()));
    }

    #[test]
    fn tool_choice_ignores_extra_fields() {
        let c: ToolChoice =
            serde_json::from_value(json!({"type": "auto", "disable_parallel_tool_use": true}))
                .unwrap();
        assert_eq!(c, ToolChoice::Auto);
        let c: ToolChoice = serde_json::from_value(
            json!({"type": "tool", "name": "Bash", "disable_parallel_tool_use": false}),
        )
        .unwrap();
        assert_eq!(
            c,
            ToolChoice::Tool {
                name: "Bash".into()
            }
        );
    }

    #[test]
    fn thinking_variants() {
        let t: ThinkingParam =
            serde_json::from_value(json!({"type": "adaptive", "display": "omitted"})).unwrap();
        assert_eq!(
            t,
            ThinkingParam::Adaptive {
                display: Some("omitted".into())
            }
        );
        let t: ThinkingParam =
            serde_json::from_value(json!({"type": "enabled", "budget_tokens": 2048})).unwrap();
        assert!(matches!(
            t,
            ThinkingParam::Enabled {
                budget_tokens: Some(2048),
                ..
            }
        ));
        let t: ThinkingParam = serde_json::from_value(json!({"type": "future"})).unwrap();
        assert_eq!(t, ThinkingParam::Other);
    }

    #[test]
    fn stream_events_serialize_with_type_tag() {
        let ev = StreamEvent::ContentBlockStart {
            index: 2,
            content_block: BlockStart::ToolUse {
                id: "toolu_1",
                name: "Write",
                input: EmptyObject {},
            },
        };
        assert_eq!(ev.name(), "content_block_start");
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"type": "content_block_start", "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}})
        );
        let ev = StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: StopReason::ToolUse,
                stop_sequence: None,
            },
            usage: Usage::default(),
        };
        assert_eq!(
            serde_json::to_value(&ev).unwrap()["delta"],
            json!({"stop_reason": "tool_use", "stop_sequence": null})
        );
        assert_eq!(
            serde_json::to_value(StreamEvent::MessageStop).unwrap(),
            json!({"type": "message_stop"})
        );
    }
}
