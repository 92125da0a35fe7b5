//! The request messages of `generativelanguage.googleapis.com/v1beta`, as proto descriptors.
//!
//! Only the fields listed here are accepted; anything else in a request body is an
//! `Unknown name` error, exactly as on the real service. Field names are the proto
//! (snake_case) names; `proto.rs` also accepts their lowerCamel JSON spelling.

use crate::proto::{Card, EnumDesc, Field, Kind, Msg};

macro_rules! url {
    ($name:literal) => {
        concat!(
            "type.googleapis.com/google.ai.generativelanguage.v1beta.",
            $name
        )
    };
}

const fn one(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        card: Card::One,
        oneof: None,
    }
}

const fn many(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        card: Card::Many,
        oneof: None,
    }
}

const fn map(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        card: Card::Map,
        oneof: None,
    }
}

const fn data(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        card: Card::One,
        oneof: Some("data"),
    }
}

/// The `generateContent` / `streamGenerateContent` body (the model comes from the path).
pub static GENERATE_CONTENT_BODY: Msg = Msg {
    type_url: url!("GenerateContentRequest"),
    fields: &[
        many("contents", Kind::Msg(&CONTENT)),
        one("system_instruction", Kind::Msg(&CONTENT)),
        many("tools", Kind::Msg(&TOOL)),
        one("tool_config", Kind::Msg(&TOOL_CONFIG)),
        many("safety_settings", Kind::Msg(&SAFETY_SETTING)),
        one("generation_config", Kind::Msg(&GENERATION_CONFIG)),
        one("cached_content", Kind::Str),
        one("service_tier", Kind::Enum(&SERVICE_TIER)),
    ],
};

/// `serviceTier`: the SDKs send the lower-case names (`flex`, `priority`).
static SERVICE_TIER: EnumDesc = EnumDesc {
    type_url: url!("ServiceTier"),
    values: &["unspecified", "standard", "flex", "priority"],
};

/// A `GenerateContentRequest` nested in `countTokens` (it names its model).
pub static GENERATE_CONTENT_REQUEST: Msg = Msg {
    type_url: url!("GenerateContentRequest"),
    fields: &[
        one("model", Kind::Str),
        many("contents", Kind::Msg(&CONTENT)),
        one("system_instruction", Kind::Msg(&CONTENT)),
        many("tools", Kind::Msg(&TOOL)),
        one("tool_config", Kind::Msg(&TOOL_CONFIG)),
        many("safety_settings", Kind::Msg(&SAFETY_SETTING)),
        one("generation_config", Kind::Msg(&GENERATION_CONFIG)),
        one("cached_content", Kind::Str),
    ],
};

/// The `countTokens` body.
pub static COUNT_TOKENS_BODY: Msg = Msg {
    type_url: url!("CountTokensRequest"),
    fields: &[
        many("contents", Kind::Msg(&CONTENT)),
        one(
            "generate_content_request",
            Kind::Msg(&GENERATE_CONTENT_REQUEST),
        ),
    ],
};

/// The `embedContent` body (the model comes from the path; naming it again is allowed).
pub static EMBED_CONTENT_BODY: Msg = Msg {
    type_url: url!("EmbedContentRequest"),
    fields: &[
        one("model", Kind::Str),
        one("content", Kind::Msg(&CONTENT)),
        one("task_type", Kind::Enum(&TASK_TYPE)),
        one("title", Kind::Str),
        one("output_dimensionality", Kind::I32),
    ],
};

/// The `batchEmbedContents` body: each request names its model.
pub static BATCH_EMBED_CONTENTS_BODY: Msg = Msg {
    type_url: url!("BatchEmbedContentsRequest"),
    fields: &[
        one("model", Kind::Str),
        many("requests", Kind::Msg(&EMBED_CONTENT_BODY)),
    ],
};

static TASK_TYPE: EnumDesc = EnumDesc {
    type_url: url!("TaskType"),
    values: &[
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    ],
};

pub static CONTENT: Msg = Msg {
    type_url: url!("Content"),
    fields: &[one("role", Kind::Str), many("parts", Kind::Msg(&PART))],
};

static PART: Msg = Msg {
    type_url: url!("Part"),
    fields: &[
        data("text", Kind::Str),
        data("inline_data", Kind::Msg(&BLOB)),
        data("function_call", Kind::Msg(&FUNCTION_CALL)),
        data("function_response", Kind::Msg(&FUNCTION_RESPONSE)),
        data("file_data", Kind::Msg(&FILE_DATA)),
        data("executable_code", Kind::Msg(&EXECUTABLE_CODE)),
        data("code_execution_result", Kind::Msg(&CODE_EXECUTION_RESULT)),
        data("tool_call", Kind::Msg(&TOOL_CALL)),
        data("tool_response", Kind::Msg(&TOOL_RESPONSE)),
        one("thought", Kind::Bool),
        one("thought_signature", Kind::Bytes),
        Field {
            name: "video_metadata",
            kind: Kind::Msg(&VIDEO_METADATA),
            card: Card::One,
            oneof: Some("metadata"),
        },
        one("part_metadata", Kind::Struct),
        one("media_resolution", Kind::Msg(&PART_MEDIA_RESOLUTION)),
    ],
};

/// The data-carrying members of `Part` (the `data` oneof), in JSON spelling.
pub const PART_DATA_FIELDS: [&str; 9] = [
    "text",
    "inlineData",
    "functionCall",
    "functionResponse",
    "fileData",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
];

static BLOB: Msg = Msg {
    type_url: url!("Blob"),
    fields: &[one("mime_type", Kind::Str), one("data", Kind::Bytes)],
};

static FILE_DATA: Msg = Msg {
    type_url: url!("FileData"),
    fields: &[one("mime_type", Kind::Str), one("file_uri", Kind::Str)],
};

static FUNCTION_CALL: Msg = Msg {
    type_url: url!("FunctionCall"),
    fields: &[
        one("id", Kind::Str),
        one("name", Kind::Str),
        one("args", Kind::Struct),
    ],
};

static FUNCTION_RESPONSE: Msg = Msg {
    type_url: url!("FunctionResponse"),
    fields: &[
        one("id", Kind::Str),
        one("name", Kind::Str),
        one("response", Kind::Struct),
        many("parts", Kind::Msg(&FUNCTION_RESPONSE_PART)),
        one("will_continue", Kind::Bool),
        one("scheduling", Kind::Enum(&SCHEDULING)),
    ],
};

static FUNCTION_RESPONSE_PART: Msg = Msg {
    type_url: url!("FunctionResponsePart"),
    fields: &[data("inline_data", Kind::Msg(&FUNCTION_RESPONSE_BLOB))],
};

static FUNCTION_RESPONSE_BLOB: Msg = Msg {
    type_url: url!("FunctionResponseBlob"),
    fields: &[
        one("mime_type", Kind::Str),
        one("data", Kind::Bytes),
        one("display_name", Kind::Str),
    ],
};

/// A built-in tool's call, as a response shows it with `includeServerSideToolInvocations`
/// (sent back in the history).
static TOOL_CALL: Msg = Msg {
    type_url: url!("ToolCall"),
    fields: &[
        one("id", Kind::Str),
        one("tool_type", Kind::Enum(&TOOL_TYPE)),
        one("args", Kind::Struct),
    ],
};

static TOOL_RESPONSE: Msg = Msg {
    type_url: url!("ToolResponse"),
    fields: &[
        one("id", Kind::Str),
        one("tool_type", Kind::Enum(&TOOL_TYPE)),
        one("response", Kind::Struct),
    ],
};

static TOOL_TYPE: EnumDesc = EnumDesc {
    type_url: url!("ToolType"),
    values: &[
        "TOOL_TYPE_UNSPECIFIED",
        "GOOGLE_SEARCH_WEB",
        "GOOGLE_SEARCH_IMAGE",
        "URL_CONTEXT",
        "GOOGLE_MAPS",
        "FILE_SEARCH",
    ],
};

static SCHEDULING: EnumDesc = EnumDesc {
    type_url: url!("FunctionResponse.Scheduling"),
    values: &["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"],
};

static EXECUTABLE_CODE: Msg = Msg {
    type_url: url!("ExecutableCode"),
    fields: &[
        one("language", Kind::Enum(&LANGUAGE)),
        one("code", Kind::Str),
    ],
};

static LANGUAGE: EnumDesc = EnumDesc {
    type_url: url!("ExecutableCode.Language"),
    values: &["LANGUAGE_UNSPECIFIED", "PYTHON"],
};

static CODE_EXECUTION_RESULT: Msg = Msg {
    type_url: url!("CodeExecutionResult"),
    fields: &[
        one("outcome", Kind::Enum(&OUTCOME)),
        one("output", Kind::Str),
    ],
};

static OUTCOME: EnumDesc = EnumDesc {
    type_url: url!("CodeExecutionResult.Outcome"),
    values: &[
        "OUTCOME_UNSPECIFIED",
        "OUTCOME_OK",
        "OUTCOME_FAILED",
        "OUTCOME_DEADLINE_EXCEEDED",
    ],
};

static VIDEO_METADATA: Msg = Msg {
    type_url: url!("VideoMetadata"),
    fields: &[
        one("start_offset", Kind::Str),
        one("end_offset", Kind::Str),
        one("fps", Kind::Float),
    ],
};

static PART_MEDIA_RESOLUTION: Msg = Msg {
    type_url: url!("Part.MediaResolution"),
    fields: &[one("level", Kind::Enum(&MEDIA_RESOLUTION))],
};

pub static TOOL: Msg = Msg {
    type_url: url!("Tool"),
    fields: &[
        many("function_declarations", Kind::Msg(&FUNCTION_DECLARATION)),
        one(
            "google_search_retrieval",
            Kind::Msg(&GOOGLE_SEARCH_RETRIEVAL),
        ),
        one("code_execution", Kind::Msg(&EMPTY_CODE_EXECUTION)),
        one("google_search", Kind::Msg(&GOOGLE_SEARCH)),
        one("url_context", Kind::Msg(&EMPTY_URL_CONTEXT)),
    ],
};

static FUNCTION_DECLARATION: Msg = Msg {
    type_url: url!("FunctionDeclaration"),
    fields: &[
        one("name", Kind::Str),
        one("description", Kind::Str),
        one("behavior", Kind::Enum(&BEHAVIOR)),
        one("parameters", Kind::Msg(&SCHEMA)),
        one("parameters_json_schema", Kind::Value),
        one("response", Kind::Msg(&SCHEMA)),
        one("response_json_schema", Kind::Value),
    ],
};

static BEHAVIOR: EnumDesc = EnumDesc {
    type_url: url!("FunctionDeclaration.Behavior"),
    values: &["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"],
};

/// The proto `Schema`: the OpenAPI 3.0 subset the legacy `parameters` field accepts.
pub static SCHEMA: Msg = Msg {
    type_url: url!("Schema"),
    fields: &[
        one("type", Kind::Enum(&TYPE)),
        one("format", Kind::Str),
        one("title", Kind::Str),
        one("description", Kind::Str),
        one("nullable", Kind::Bool),
        many("enum", Kind::Str),
        one("max_items", Kind::I64),
        one("min_items", Kind::I64),
        map("properties", Kind::Msg(&SCHEMA)),
        many("required", Kind::Str),
        one("min_properties", Kind::I64),
        one("max_properties", Kind::I64),
        one("min_length", Kind::I64),
        one("max_length", Kind::I64),
        one("pattern", Kind::Str),
        one("example", Kind::Value),
        many("any_of", Kind::Msg(&SCHEMA)),
        many("property_ordering", Kind::Str),
        one("default", Kind::Value),
        one("items", Kind::Msg(&SCHEMA)),
        one("minimum", Kind::Float),
        one("maximum", Kind::Float),
    ],
};

static TYPE: EnumDesc = EnumDesc {
    type_url: url!("Type"),
    values: &[
        "TYPE_UNSPECIFIED",
        "STRING",
        "NUMBER",
        "INTEGER",
        "BOOLEAN",
        "ARRAY",
        "OBJECT",
        "NULL",
    ],
};

static GOOGLE_SEARCH_RETRIEVAL: Msg = Msg {
    type_url: url!("GoogleSearchRetrieval"),
    fields: &[one(
        "dynamic_retrieval_config",
        Kind::Msg(&DYNAMIC_RETRIEVAL_CONFIG),
    )],
};

static DYNAMIC_RETRIEVAL_CONFIG: Msg = Msg {
    type_url: url!("DynamicRetrievalConfig"),
    fields: &[
        one("mode", Kind::Enum(&DYNAMIC_MODE)),
        one("dynamic_threshold", Kind::Float),
    ],
};

static DYNAMIC_MODE: EnumDesc = EnumDesc {
    type_url: url!("DynamicRetrievalConfig.Mode"),
    values: &["MODE_UNSPECIFIED", "MODE_DYNAMIC"],
};

static EMPTY_CODE_EXECUTION: Msg = Msg {
    type_url: url!("CodeExecution"),
    fields: &[],
};

static EMPTY_URL_CONTEXT: Msg = Msg {
    type_url: url!("UrlContext"),
    fields: &[],
};

static GOOGLE_SEARCH: Msg = Msg {
    type_url: url!("Tool.GoogleSearch"),
    fields: &[one("time_range_filter", Kind::Msg(&INTERVAL))],
};

static INTERVAL: Msg = Msg {
    type_url: "type.googleapis.com/google.type.Interval",
    fields: &[one("start_time", Kind::Str), one("end_time", Kind::Str)],
};

pub static TOOL_CONFIG: Msg = Msg {
    type_url: url!("ToolConfig"),
    fields: &[
        one(
            "function_calling_config",
            Kind::Msg(&FUNCTION_CALLING_CONFIG),
        ),
        one("retrieval_config", Kind::Msg(&RETRIEVAL_CONFIG)),
        one("include_server_side_tool_invocations", Kind::Bool),
    ],
};

static FUNCTION_CALLING_CONFIG: Msg = Msg {
    type_url: url!("FunctionCallingConfig"),
    fields: &[
        one("mode", Kind::Enum(&FUNCTION_CALLING_MODE)),
        many("allowed_function_names", Kind::Str),
    ],
};

static FUNCTION_CALLING_MODE: EnumDesc = EnumDesc {
    type_url: url!("FunctionCallingConfig.Mode"),
    values: &["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"],
};

static RETRIEVAL_CONFIG: Msg = Msg {
    type_url: url!("RetrievalConfig"),
    fields: &[
        one("lat_lng", Kind::Msg(&LAT_LNG)),
        one("language_code", Kind::Str),
    ],
};

static LAT_LNG: Msg = Msg {
    type_url: "type.googleapis.com/google.type.LatLng",
    fields: &[one("latitude", Kind::Float), one("longitude", Kind::Float)],
};

static SAFETY_SETTING: Msg = Msg {
    type_url: url!("SafetySetting"),
    fields: &[
        one("category", Kind::Enum(&HARM_CATEGORY)),
        one("threshold", Kind::Enum(&HARM_BLOCK_THRESHOLD)),
    ],
};

static HARM_CATEGORY: EnumDesc = EnumDesc {
    type_url: url!("HarmCategory"),
    values: &[
        "HARM_CATEGORY_UNSPECIFIED",
        "HARM_CATEGORY_DEROGATORY",
        "HARM_CATEGORY_TOXICITY",
        "HARM_CATEGORY_VIOLENCE",
        "HARM_CATEGORY_SEXUAL",
        "HARM_CATEGORY_MEDICAL",
        "HARM_CATEGORY_DANGEROUS",
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
    ],
};

/// The harm categories Gemini models accept in `safetySettings`.
pub const GEMINI_HARM_CATEGORIES: [&str; 5] = [
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
];

static HARM_BLOCK_THRESHOLD: EnumDesc = EnumDesc {
    type_url: url!("SafetySetting.HarmBlockThreshold"),
    values: &[
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
        "BLOCK_LOW_AND_ABOVE",
        "BLOCK_MEDIUM_AND_ABOVE",
        "BLOCK_ONLY_HIGH",
        "BLOCK_NONE",
        "OFF",
    ],
};

static GENERATION_CONFIG: Msg = Msg {
    type_url: url!("GenerationConfig"),
    fields: &[
        many("stop_sequences", Kind::Str),
        one("response_mime_type", Kind::Str),
        one("response_schema", Kind::Msg(&SCHEMA)),
        one("response_json_schema", Kind::Value),
        many("response_modalities", Kind::Enum(&MODALITY)),
        one("candidate_count", Kind::I32),
        one("max_output_tokens", Kind::I32),
        one("temperature", Kind::Float),
        one("top_p", Kind::Float),
        one("top_k", Kind::I32),
        one("seed", Kind::I32),
        one("presence_penalty", Kind::Float),
        one("frequency_penalty", Kind::Float),
        one("response_logprobs", Kind::Bool),
        one("logprobs", Kind::I32),
        one("enable_enhanced_civic_answers", Kind::Bool),
        one("speech_config", Kind::Struct),
        one("image_config", Kind::Struct),
        one("thinking_config", Kind::Msg(&THINKING_CONFIG)),
        one("media_resolution", Kind::Enum(&MEDIA_RESOLUTION)),
    ],
};

static MODALITY: EnumDesc = EnumDesc {
    type_url: url!("GenerationConfig.Modality"),
    values: &["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"],
};

static MEDIA_RESOLUTION: EnumDesc = EnumDesc {
    type_url: url!("MediaResolution"),
    values: &[
        "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW",
        "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH",
    ],
};

static THINKING_CONFIG: Msg = Msg {
    type_url: url!("ThinkingConfig"),
    fields: &[
        one("include_thoughts", Kind::Bool),
        one("thinking_budget", Kind::I32),
        one("thinking_level", Kind::Enum(&THINKING_LEVEL)),
    ],
};

static THINKING_LEVEL: EnumDesc = EnumDesc {
    type_url: url!("ThinkingConfig.ThinkingLevel"),
    values: &[
        "THINKING_LEVEL_UNSPECIFIED",
        "MINIMAL",
        "LOW",
        "MEDIUM",
        "HIGH",
        "XHIGH",
    ],
};
