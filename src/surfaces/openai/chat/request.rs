//! A Chat Completions request → Gemini's `GenerateContentRequest`, a pure function.
//!
//! - `system` and `developer` messages (wherever they are) → `systemInstruction`, in order.
//! - `user` content: text; `image_url` (data URLs → `inlineData`; `http(s)` URLs fetched by the
//!   caller beforehand and passed in [`Media`]; `gs://` and Files API URIs → `fileData`);
//!   `input_audio` → `inlineData` `audio/<format>`; `file` with base64 `file_data` (a data URL or
//!   bare base64 of a PDF) → `inlineData`. A `file_id` is a 400 (OpenAI's files are not Gemini's).
//! - `assistant` text and `tool_calls` → a `model` turn (arguments parsed as JSON; the thought
//!   signature from the id or `extra_content`, else the skip sentinel on Gemini 3); `tool`
//!   messages → `functionResponse` parts named after the call their `tool_call_id` answers
//!   (an unknown id is a 400), merged into one `user` turn.
//! - `tools[].function` → `functionDeclarations` (schemas as for Anthropic); `tool_choice` →
//!   `toolConfig`; `response_format` → `responseMimeType`/`responseJsonSchema`; `reasoning_effort`
//!   → thinking; sampling fields one for one; `stop` keeps the first 5.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::types::{
    ChatRequest, ChatTool, Content, ContentPart, Message, ResponseFormat, Stop, ToolChoice,
};
use crate::models::thinking::{thinking, Want};
use crate::models::ModelInfo;
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::names::to_gemini_name;
use crate::surfaces::shared::schema;
use crate::surfaces::shared::signature::{for_family, SKIP_SIGNATURE_SENTINEL};
use crate::upstream::wire::{
    Content as GContent, FileData, FunctionCallingMode, FunctionDeclaration,
    GenerateContentRequest, GenerationConfig, InlineData, Part, Tool, ToolConfig,
};

/// Most stop sequences Gemini takes.
pub const MAX_STOP_SEQUENCES: usize = 5;

/// Media the caller fetched for `http(s)` URLs: url → inline data.
pub type Media = HashMap<String, InlineData>;

/// Output-token limits: the operator's cap (`MAX_TOKENS_LIMIT`) and the model's own (from the
/// live catalog; else its family's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub max_tokens: Option<u32>,
    pub output_limit: Option<u32>,
}

/// The `http(s)` URLs of images to fetch before translating.
pub fn remote_media(req: &ChatRequest) -> Vec<&str> {
    let mut out = Vec::new();
    for m in &req.messages {
        if let Message::User {
            content: Content::Parts(parts),
        } = m
        {
            for p in parts {
                if let ContentPart::ImageUrl { image_url } = p {
                    if is_web_url(&image_url.url) {
                        out.push(image_url.url.as_str());
                    }
                }
            }
        }
    }
    out
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://")) && !is_gemini_file(url)
}

/// A URI Gemini reads itself.
fn is_gemini_file(url: &str) -> bool {
    url.starts_with("gs://")
        || url.starts_with("https://generativelanguage.googleapis.com/")
        || url.starts_with("https://www.youtube.com/")
}

/// Translates `req` for `model`.
pub fn to_generate_content(
    req: &ChatRequest,
    model: &str,
    limits: Limits,
    media: &Media,
) -> Result<GenerateContentRequest, OpenAiError> {
    let info = ModelInfo::from_name(model);
    let family = ModelInfo::signature_family(model);
    let (system, contents) = conversation(req, &info, &family, media)?;
    if contents.is_empty() {
        return Err(OpenAiError::invalid_param(
            "messages",
            "messages must hold at least one user, assistant or tool message with content",
        ));
    }
    if info.rules.refuses_prefill_of(&contents) {
        return Err(OpenAiError::invalid_param(
            "messages",
            format!("{model} does not continue a prefilled assistant message: end the conversation with a user or tool message"),
        ));
    }
    let tools = tools(req.tools.as_deref(), info.is_legacy())?;
    let tool_config = tool_choice(req.tool_choice.as_ref(), tools.is_some())?;
    Ok(GenerateContentRequest {
        contents,
        system_instruction: system,
        tools,
        tool_config,
        generation_config: Some(generation_config(req, &info, limits)?),
        ..GenerateContentRequest::default()
    })
}

type Conversation = (Option<GContent>, Vec<GContent>);

fn conversation(
    req: &ChatRequest,
    info: &ModelInfo,
    family: &str,
    media: &Media,
) -> Result<Conversation, OpenAiError> {
    let mut system: Vec<Part> = Vec::new();
    let mut contents: Vec<GContent> = Vec::new();
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, m) in req.messages.iter().enumerate() {
        match m {
            Message::System { content } | Message::Developer { content } => {
                system.extend(text_parts(content))
            }
            Message::User { content } => {
                push(&mut contents, "user", user_parts(content, media, i)?);
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut parts: Vec<Part> = content.iter().flat_map(text_parts).collect();
                for (j, call) in tool_calls.iter().flatten().enumerate() {
                    call_names.insert(&call.id, &call.function.name);
                    let args = parse_arguments(&call.function.arguments).ok_or_else(|| {
                        OpenAiError::invalid_param(
                            &format!("messages[{i}].tool_calls[{j}].function.arguments"),
                            "tool call arguments must be a JSON object",
                        )
                    })?;
                    let mut part = Part::function_call(to_gemini_name(&call.function.name), args);
                    let given = call
                        .extra_content
                        .as_ref()
                        .and_then(|e| e["google"]["thought_signature"].as_str());
                    part.thought_signature =
                        for_family(family, &call.id, given).map(str::to_string);
                    parts.push(part);
                }
                if info.needs_signatures() {
                    if let Some(first) = parts.iter_mut().find(|p| p.function_call.is_some()) {
                        first
                            .thought_signature
                            .get_or_insert_with(|| SKIP_SIGNATURE_SENTINEL.to_string());
                    }
                }
                push(&mut contents, "model", parts);
            }
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let name = call_names.get(tool_call_id.as_str()).ok_or_else(|| {
                    OpenAiError::invalid_param(
                        &format!("messages[{i}].tool_call_id"),
                        format!(
                            "tool message answers no tool call of an earlier assistant message (id {})",
                            crate::surfaces::anthropic::validate::clip(tool_call_id)
                        ),
                    )
                })?;
                let part = function_response(name, content);
                push(&mut contents, "user", vec![part]);
            }
            Message::Function { content, name } => {
                let part = function_response(
                    name,
                    content.as_ref().unwrap_or(&Content::Text(String::new())),
                );
                push(&mut contents, "user", vec![part]);
            }
        }
    }
    let system = (!system.is_empty()).then_some(GContent {
        role: None,
        parts: system,
    });
    Ok((system, contents))
}

/// Appends parts as a turn of `role`, joining the previous turn when it has the same role.
fn push(contents: &mut Vec<GContent>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(GContent::new(role, parts)),
    }
}

fn text_of(content: &Content) -> String {
    match content {
        Content::Text(t) => t.clone(),
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text.as_str()),
                ContentPart::Refusal { refusal } => Some(refusal.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn text_parts(content: &Content) -> Vec<Part> {
    let text = text_of(content);
    if text.is_empty() {
        Vec::new()
    } else {
        vec![Part::text(text)]
    }
}

fn function_response(name: &str, content: &Content) -> Part {
    Part::function_response(to_gemini_name(name), json!({ "output": text_of(content) }))
}

/// `{}` for empty arguments; `None` when they are not a JSON object.
fn parse_arguments(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(json!({}));
    }
    serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
}

fn user_parts(content: &Content, media: &Media, i: usize) -> Result<Vec<Part>, OpenAiError> {
    let parts = match content {
        Content::Text(t) if t.is_empty() => return Ok(Vec::new()),
        Content::Text(t) => return Ok(vec![Part::text(t.clone())]),
        Content::Parts(parts) => parts,
    };
    let mut out = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].content[{j}].{field}");
        match p {
            ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                if !text.is_empty() {
                    out.push(Part::text(text.clone()));
                }
            }
            ContentPart::ImageUrl { image_url } => {
                let url = image_url.url.as_str();
                if let Some((mime, data)) = data_url(url) {
                    out.push(Part::inline_data(mime, data));
                } else if let Some(inline) = media.get(url) {
                    out.push(Part {
                        inline_data: Some(Box::new(inline.clone())),
                        ..Part::default()
                    });
                } else if is_gemini_file(url) {
                    out.push(Part {
                        file_data: Some(Box::new(FileData {
                            mime_type: None,
                            file_uri: url.to_string(),
                        })),
                        ..Part::default()
                    });
                } else {
                    return Err(OpenAiError::invalid_param(
                        &at("image_url.url"),
                        "an image URL must be a data URL, or an http(s) URL that can be fetched",
                    ));
                }
            }
            ContentPart::InputAudio { input_audio } => {
                let format = input_audio.format.to_ascii_lowercase();
                if !is_base64(&input_audio.data) {
                    return Err(OpenAiError::invalid_param(
                        &at("input_audio.data"),
                        "audio data must be base64",
                    ));
                }
                out.push(Part::inline_data(
                    format!("audio/{format}"),
                    input_audio.data.clone(),
                ));
            }
            ContentPart::File { file } => {
                if let Some(data) = &file.file_data {
                    let (mime, data) = match data_url(data) {
                        Some((mime, data)) => (mime, data),
                        None if is_base64(data) => {
                            (mime_of(file.filename.as_deref()), data.clone())
                        }
                        None => {
                            return Err(OpenAiError::invalid_param(
                                &at("file.file_data"),
                                "file_data must be base64 or a data URL",
                            ))
                        }
                    };
                    out.push(Part::inline_data(mime, data));
                } else {
                    return Err(OpenAiError::invalid_param(
                        &at("file.file_id"),
                        "files uploaded to OpenAI cannot be read by Gemini: send the file as file_data",
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// `data:<mime>;base64,<data>` → (mime, data).
pub fn data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    let mime = if mime.is_empty() {
        "application/octet-stream"
    } else {
        mime
    };
    is_base64(data).then(|| (mime.to_string(), data.to_string()))
}

fn is_base64(data: &str) -> bool {
    crate::surfaces::anthropic::validate::is_standard_base64(data)
}

fn mime_of(filename: Option<&str>) -> String {
    let lower = filename.unwrap_or("").to_ascii_lowercase();
    let mime = match lower.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("txt") => "text/plain",
        Some("md") => "text/markdown",
        Some("csv") => "text/csv",
        Some("html") => "text/html",
        _ => "application/pdf",
    };
    mime.to_string()
}

fn tools(tools: Option<&[ChatTool]>, legacy: bool) -> Result<Option<Vec<Tool>>, OpenAiError> {
    let mut declarations = Vec::new();
    for (i, t) in tools.unwrap_or_default().iter().enumerate() {
        let Some(f) = t.function.as_ref().filter(|_| t.kind == "function") else {
            continue;
        };
        if f.name.is_empty() {
            return Err(OpenAiError::invalid_param(
                &format!("tools[{i}].function.name"),
                "a function needs a name",
            ));
        }
        let schema = f.parameters.as_ref();
        let (parameters, parameters_json_schema) = if legacy {
            (schema.and_then(schema::strict_parameters), None)
        } else {
            (None, schema.and_then(schema::json_schema_parameters))
        };
        declarations.push(FunctionDeclaration {
            name: to_gemini_name(&f.name).into_owned(),
            description: f.description.clone().filter(|d| !d.is_empty()),
            parameters,
            parameters_json_schema,
        });
    }
    Ok((!declarations.is_empty()).then(|| {
        vec![Tool {
            function_declarations: Some(declarations),
            ..Tool::default()
        }]
    }))
}

fn tool_choice(
    choice: Option<&ToolChoice>,
    has_tools: bool,
) -> Result<Option<ToolConfig>, OpenAiError> {
    let config = |mode, names| Some(ToolConfig::calling(mode, names));
    Ok(match choice {
        None => None,
        Some(_) if !has_tools => None,
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => config(FunctionCallingMode::Auto, None),
            "none" => config(FunctionCallingMode::None, None),
            "required" => config(FunctionCallingMode::Any, None),
            _ => {
                return Err(OpenAiError::invalid_param(
                    "tool_choice",
                    "tool_choice is none, auto, required, or a function",
                ))
            }
        },
        Some(ToolChoice::Named { function }) => config(
            FunctionCallingMode::Any,
            Some(vec![to_gemini_name(&function.name).into_owned()]),
        ),
    })
}

fn generation_config(
    req: &ChatRequest,
    info: &ModelInfo,
    limits: Limits,
) -> Result<GenerationConfig, OpenAiError> {
    let stop = match &req.stop {
        None => None,
        Some(Stop::One(s)) => Some(vec![s.clone()]),
        Some(Stop::Many(v)) => Some(v.iter().take(MAX_STOP_SEQUENCES).cloned().collect()),
    }
    .filter(|v: &Vec<String>| !v.is_empty());
    let (mime, schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json".to_string()), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            Some("application/json".to_string()),
            json_schema
                .schema
                .as_ref()
                .map(schema::response_json_schema),
        ),
    };
    let max = req.max_completion_tokens.or(req.max_tokens);
    let want = match req.reasoning_effort.as_deref() {
        None => None,
        Some("none") => Some(Want::Off),
        Some(e @ ("minimal" | "low" | "medium" | "high" | "xhigh")) => {
            Some(Want::Adaptive(Some(e)))
        }
        Some(_) => {
            return Err(OpenAiError::invalid_param(
                "reasoning_effort",
                "reasoning_effort is none, minimal, low, medium or high",
            ))
        }
    };
    let n = req.n.filter(|n| *n > 1);
    let mut config = GenerationConfig {
        stop_sequences: stop,
        response_mime_type: mime,
        response_json_schema: schema,
        candidate_count: n,
        max_output_tokens: max,
        temperature: req.temperature,
        top_p: req.top_p,
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_logprobs: req.logprobs.filter(|l| *l),
        logprobs: req.top_logprobs.filter(|_| req.logprobs == Some(true)),
        thinking_config: want.and_then(|w| thinking(info, w, false)),
        ..GenerationConfig::default()
    };
    let output_limit = limits
        .output_limit
        .unwrap_or_else(|| info.max_output_tokens());
    info.rules
        .conform(&mut config, output_limit, limits.max_tokens);
    Ok(config)
}
