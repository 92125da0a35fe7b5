//! Gemini API (v1beta) wire types.
//!
//! Requests serialize in camelCase and skip every `None`, so only fields we set reach Gemini
//! (its proto-JSON parser rejects unknown names). Response types accept unknown fields and missing
//! ones (e.g. `content: {}` on a `MALFORMED_FUNCTION_CALL` candidate, no `candidatesTokenCount` on
//! a `MAX_TOKENS` finish), because Gemini adds fields over time.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::wire_answer::FunctionAnswer;
use crate::json::Skipped;

pub use super::wire_tools::{
    FunctionResponseBlob, FunctionResponsePart, GroundingChunk, GroundingMetadata,
    GroundingSupport, Segment, WebSource,
};

/// Body of `models/{model}:generateContent` and `:streamGenerateContent`.
///
/// `model` is only set inside a [`CountTokensRequest`] (`"models/<name>"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default)]
    pub contents: Vec<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_settings: Option<Vec<SafetySetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content: Option<String>,
}

/// One turn: a role (`user` or `model`; absent in `systemInstruction`) and its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Gemini's two roles are read without an allocation (every streamed event names one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::json::known_word")]
    pub role: Option<Cow<'static, str>>,
    #[serde(default, deserialize_with = "crate::json::few")]
    pub parts: Vec<Part>,
}

impl Content {
    /// A content with the given role and parts.
    pub fn new(role: &str, parts: Vec<Part>) -> Self {
        Self {
            role: Some(Cow::Owned(role.to_owned())),
            parts,
        }
    }
}

/// One part. Exactly one data field (`text`, `inlineData`, `fileData`, `functionCall`,
/// `functionResponse`, …) must be set; `thought` and `thoughtSignature` are metadata siblings.
/// Payloads other than text are boxed: a part is built and moved for every streamed event, and
/// nearly all of them are text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Box<InlineData>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<Box<FileData>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<Box<FunctionCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<Box<FunctionResponse>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable_code: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_execution_result: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

impl Part {
    /// A plain text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// An inline (base64) data part.
    pub fn inline_data(mime_type: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            inline_data: Some(Box::new(InlineData {
                mime_type: mime_type.into(),
                data: data.into(),
            })),
            ..Self::default()
        }
    }

    /// A URI reference part.
    pub fn file_data(file_uri: impl Into<String>, mime_type: Option<String>) -> Self {
        Self {
            file_data: Some(Box::new(FileData {
                mime_type,
                file_uri: file_uri.into(),
            })),
            ..Self::default()
        }
    }

    /// A function call part (no `id`: the Gemini Developer API rejects it on older models).
    pub fn function_call(name: impl Into<String>, args: Value) -> Self {
        Self {
            function_call: Some(Box::new(FunctionCall {
                id: None,
                name: name.into(),
                args: Some(args),
            })),
            ..Self::default()
        }
    }

    /// A function response part.
    pub fn function_response(name: impl Into<String>, response: impl Into<FunctionAnswer>) -> Self {
        Self {
            function_response: Some(Box::new(FunctionResponse {
                id: None,
                name: name.into(),
                response: response.into(),
                parts: None,
            })),
            ..Self::default()
        }
    }

    /// True when the part is a thought summary (`thought: true`).
    pub fn is_thought(&self) -> bool {
        self.thought == Some(true)
    }
}

/// Base64 data with its MIME type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineData {
    pub mime_type: String,
    pub data: String,
}

/// A URI-based data reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    pub file_uri: String,
}

/// A function call predicted by the model (or replayed from history).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// The result of a function call; `response` must be a JSON object
/// (`{"output": …}` or `{"error": …}` by Gemini's convention).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub response: FunctionAnswer,
    /// Media the function returned (images, PDFs; Gemini 3 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<FunctionResponsePart>>,
}

/// A tool: function declarations, or a built-in tool such as Google Search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_declarations: Option<Vec<FunctionDeclaration>>,
    /// Declarations already encoded (a cached translation), sent as `functionDeclarations`;
    /// set instead of `function_declarations`, never with it.
    #[serde(
        skip_deserializing,
        rename = "functionDeclarations",
        skip_serializing_if = "Option::is_none"
    )]
    pub encoded_declarations: Option<EncodedDeclarations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_search: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_execution: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_context: Option<Value>,
}

impl Tool {
    /// Every function declaration, the encoded ones decoded (for tests and rewrites).
    pub fn declarations(&self) -> Vec<FunctionDeclaration> {
        let mut out = self.function_declarations.clone().unwrap_or_default();
        for d in self.encoded_declarations.iter().flat_map(|e| e.0.iter()) {
            out.extend(serde_json::from_str::<FunctionDeclaration>(d.get()).ok());
        }
        out
    }

    /// The encoded declarations, decoded into `function_declarations` (before a rewrite).
    pub fn decode_declarations(&mut self) {
        if self.encoded_declarations.is_some() {
            self.function_declarations = Some(self.declarations());
            self.encoded_declarations = None;
        }
    }
}

/// Function declarations as JSON, each shared with the cache that made it.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct EncodedDeclarations(pub Vec<std::sync::Arc<serde_json::value::RawValue>>);

impl PartialEq for EncodedDeclarations {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|(a, b)| a.get() == b.get())
    }
}

/// A function the model may call. `parameters` (OpenAPI subset) and `parametersJsonSchema`
/// (JSON Schema) are mutually exclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<Value>,
}

/// Tool configuration shared by all tools of the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_calling_config: Option<FunctionCallingConfig>,
    /// Built-in tools (Google Search, URL context) beside function declarations: Gemini
    /// requires this `true` for the two together, and then shows its own tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_server_side_tool_invocations: Option<bool>,
}

impl ToolConfig {
    /// Function calling in `mode`, limited to `allowed` names when given.
    pub fn calling(mode: FunctionCallingMode, allowed: Option<Vec<String>>) -> ToolConfig {
        ToolConfig {
            function_calling_config: Some(FunctionCallingConfig {
                mode: Some(mode),
                allowed_function_names: allowed,
            }),
            include_server_side_tool_invocations: None,
        }
    }
}

/// How the model may call functions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FunctionCallingMode>,
    /// Only valid with mode `ANY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<String>>,
}

/// Function calling modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FunctionCallingMode {
    Auto,
    Any,
    None,
    Validated,
}

/// Sampling and output settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_logprobs: Option<bool>,
    /// Top candidates' log probabilities per step (with `responseLogprobs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

/// Thinking settings. Never set both `thinkingBudget` and `thinkingLevel` (Gemini answers 400).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_thoughts: Option<bool>,
    /// Token budget (Gemini 2.5): `0` disables, `-1` is dynamic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<i32>,
    /// Discrete level (Gemini 3 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<ThinkingLevel>,
}

/// Thinking levels of Gemini 3 and later (proto enum names), lowest first; which ones a model
/// accepts is in `models::rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ThinkingLevel {
    Minimal,
    Low,
    Medium,
    High,
    /// Above high (Gemini 4 Hydrogen).
    Xhigh,
}

/// One safety threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafetySetting {
    pub category: String,
    pub threshold: String,
}

/// A `generateContent` response, or one chunk of a stream (then only the new parts, and a
/// cumulative `usageMetadata`). A streamed chunk may instead carry `error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    #[serde(default, deserialize_with = "crate::json::few")]
    pub candidates: Vec<Candidate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    // `responseId` is not read: nothing the gateway answers carries Gemini's id, and skipping it
    // spares every streamed event an allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcStatus>,
}

/// One candidate answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// `STOP`, `MAX_TOKENS`, `SAFETY`, `MALFORMED_FUNCTION_CALL`, … (kept as text: the list grows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// What Google Search found, when it ran (on the last chunk of a stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounding_metadata: Option<GroundingMetadata>,
}

/// Why a prompt was blocked (then there are no candidates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason_message: Option<String>,
}

/// Token accounting; every count may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Includes the cached tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_prompt_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_token_count: Option<u64>,
    // The per-modality counts, on every streamed event and not read: passed over without the
    // allocation serde_json's own skipping makes for a list of objects.
    #[serde(default, skip_serializing)]
    prompt_tokens_details: Skipped,
    #[serde(default, skip_serializing)]
    candidates_tokens_details: Skipped,
    #[serde(default, skip_serializing)]
    cache_tokens_details: Skipped,
    #[serde(default, skip_serializing)]
    tool_use_prompt_tokens_details: Skipped,
}

/// A `google.rpc.Status` error, as found in `{"error": …}` bodies and stream chunks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Value>>,
}

/// Body of `models/{model}:countTokens`: either `contents` or `generateContentRequest` (which
/// also counts the system instruction and the tools).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<Content>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_content_request: Option<GenerateContentRequest>,
}

/// Reply of `countTokens`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensResponse {
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
