//! A Responses API request → Gemini's `GenerateContentRequest`, a pure function.
//!
//! - `instructions` and `system`/`developer` messages → `systemInstruction`; `user` messages →
//!   `user` turns; `assistant` messages, `function_call` and `custom_tool_call` items → `model`
//!   turns; `function_call_output` / `custom_tool_call_output` → `functionResponse` parts named
//!   after the call their `call_id` answers (an unknown `call_id` is a 400).
//! - A `reasoning` item's `encrypted_content` carries the thought signature of the call after
//!   it; the call's `call_id` carries it too (for clients that drop reasoning items). On Gemini 3
//!   a turn's first call without one gets the skip sentinel.
//! - Function tools → function declarations (namespaced ones as `namespace.name`, reversibly);
//!   a custom tool → a function taking one string, `input`, its grammar in the description;
//!   `web_search` → Google Search when no function is declared (Gemini does not take both in one
//!   request), otherwise dropped.
//! - `reasoning.effort` → thinking; `reasoning.summary` → thought summaries; `text.format`
//!   (`json_object`, `json_schema`) → JSON output; `max_output_tokens`, `temperature`, `top_p`.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::types::{InputPart, Item, ResponsesRequest, ToolDef};
use crate::models::thinking::{thinking, Want};
use crate::models::ModelInfo;
use crate::surfaces::openai::chat::request::{data_url, Limits, Media};
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::names::to_gemini_name;
use crate::surfaces::shared::schema;
use crate::surfaces::shared::signature::{for_family, unsealed, SKIP_SIGNATURE_SENTINEL};
use crate::upstream::wire::{
    Content, FileData, FunctionCallingMode, FunctionDeclaration, GenerateContentRequest,
    GenerationConfig, Part, Tool, ToolConfig,
};

/// The parameter custom tools take.
pub const CUSTOM_INPUT: &str = "input";

/// What the translation learned about the tools, for the way back.
#[derive(Debug, Clone, Default)]
pub struct ToolKinds {
    /// Gemini function name → the client's custom tool name (its calls are `custom_tool_call`s).
    pub custom: HashMap<String, String>,
    /// Gemini function name → (namespace, name) of a function declared inside a namespace.
    pub namespaced: HashMap<String, (String, String)>,
}

/// The `http(s)` URLs of images and files to fetch before translating.
pub fn remote_media(items: &[Item]) -> Vec<&str> {
    let mut out = Vec::new();
    for item in items {
        if let Item::Message { parts, .. } = item {
            for p in parts {
                if let InputPart::Media { url, .. } = p {
                    let web = url.starts_with("http://") || url.starts_with("https://");
                    if web && !url.starts_with("https://generativelanguage.googleapis.com/") {
                        out.push(url.as_str());
                    }
                }
            }
        }
    }
    out
}

/// Translates the request for `model`.
pub fn to_generate_content(
    req: &ResponsesRequest,
    items: Vec<Item>,
    tools: &[ToolDef],
    model: &str,
    limits: Limits,
    media: &Media,
) -> Result<(GenerateContentRequest, ToolKinds), OpenAiError> {
    let info = ModelInfo::from_name(model);
    let family = ModelInfo::signature_family(model);
    let mut system: Vec<Part> = req
        .instructions
        .iter()
        .filter(|i| !i.is_empty())
        .map(|i| Part::text(i.clone()))
        .collect();
    let mut contents: Vec<Content> = Vec::new();
    // call_id → the function's name, for the outputs that answer it.
    let mut calls: HashMap<String, String> = HashMap::new();
    let mut pending_signature: Option<String> = None;
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Item::Message { role, parts } => {
                let parts = message_parts(parts, media, i)?;
                match role.as_str() {
                    "system" | "developer" => system.extend(parts),
                    "assistant" => push(&mut contents, "model", parts),
                    _ => push(&mut contents, "user", parts),
                }
            }
            Item::Reasoning { encrypted_content } => {
                pending_signature = encrypted_content
                    .as_deref()
                    .and_then(unsealed)
                    .filter(|(f, _)| *f == family)
                    .map(|(_, s)| s.to_string());
            }
            Item::FunctionCall {
                call_id,
                name,
                arguments,
            } => {
                let args = serde_json::from_str::<Value>(if arguments.trim().is_empty() {
                    "{}"
                } else {
                    &arguments
                })
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    OpenAiError::invalid_param(
                        &format!("input[{i}].arguments"),
                        "function call arguments must be a JSON object",
                    )
                })?;
                let mut part = Part::function_call(to_gemini_name(&name), args);
                part.thought_signature = signature(&family, &call_id, pending_signature.take());
                push(&mut contents, "model", vec![part]);
                calls.insert(call_id, name);
            }
            Item::CustomToolCall {
                call_id,
                name,
                input,
            } => {
                let mut part =
                    Part::function_call(to_gemini_name(&name), json!({ CUSTOM_INPUT: input }));
                part.thought_signature = signature(&family, &call_id, pending_signature.take());
                push(&mut contents, "model", vec![part]);
                calls.insert(call_id, name);
            }
            Item::FunctionCallOutput { call_id, output }
            | Item::CustomToolCallOutput { call_id, output } => {
                let name = calls.get(call_id.as_str()).ok_or_else(|| {
                    OpenAiError::invalid_param(
                        &format!("input[{i}].call_id"),
                        "this output answers no call of an earlier item",
                    )
                })?;
                let part =
                    Part::function_response(to_gemini_name(name), json!({ "output": output }));
                push(&mut contents, "user", vec![part]);
            }
        }
    }
    if info.needs_signatures() {
        for c in contents
            .iter_mut()
            .filter(|c| c.role.as_deref() == Some("model"))
        {
            if let Some(first) = c.parts.iter_mut().find(|p| p.function_call.is_some()) {
                first
                    .thought_signature
                    .get_or_insert_with(|| SKIP_SIGNATURE_SENTINEL.to_string());
            }
        }
    }
    if contents.is_empty() {
        return Err(OpenAiError::invalid_param(
            "input",
            "input must hold at least one user message, call or output",
        ));
    }
    if info.rules.refuses_prefill_of(&contents) {
        return Err(OpenAiError::invalid_param(
            "input",
            format!("{model} does not continue a prefilled assistant message: end the input with a user message or a call's output"),
        ));
    }
    let (tools, kinds) = declarations(tools, info.is_legacy());
    let tool_config = tool_choice(req.tool_choice.as_ref(), tools.is_some())?;
    let request = GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        tools,
        tool_config,
        generation_config: Some(generation_config(req, &info, limits)?),
        ..GenerateContentRequest::default()
    };
    Ok((request, kinds))
}

/// The signature for a replayed call: from the reasoning item before it, else its `call_id`.
fn signature(family: &str, call_id: &str, from_reasoning: Option<String>) -> Option<String> {
    from_reasoning.or_else(|| for_family(family, call_id, None).map(str::to_string))
}

fn push(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content::new(role, parts)),
    }
}

fn message_parts(parts: Vec<InputPart>, media: &Media, i: usize) -> Result<Vec<Part>, OpenAiError> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            InputPart::Text(t) if t.is_empty() => {}
            InputPart::Text(t) => out.push(Part::text(t)),
            InputPart::Media { url, filename } => {
                if let Some((mime, data)) = data_url(&url) {
                    out.push(Part::inline_data(mime, data));
                } else if let Some(inline) = media.get(url.as_str()) {
                    out.push(Part {
                        inline_data: Some(Box::new(inline.clone())),
                        ..Part::default()
                    });
                } else if url.starts_with("gs://")
                    || url.starts_with("https://generativelanguage.googleapis.com/")
                {
                    out.push(Part {
                        file_data: Some(Box::new(FileData {
                            mime_type: None,
                            file_uri: url,
                        })),
                        ..Part::default()
                    });
                } else if filename.is_some()
                    && crate::surfaces::anthropic::validate::is_standard_base64(&url)
                {
                    out.push(Part::inline_data("application/pdf", url));
                } else {
                    return Err(OpenAiError::invalid_param(
                        &format!("input[{i}].content"),
                        "an image or file must be a data URL, base64 file_data, or an http(s) URL that can be fetched",
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn declarations(tools: &[ToolDef], legacy: bool) -> (Option<Vec<Tool>>, ToolKinds) {
    let mut kinds = ToolKinds::default();
    let mut declared = Vec::new();
    let mut search = false;
    for t in tools {
        match t {
            ToolDef::Function {
                name,
                namespace,
                description,
                parameters,
            } => {
                if let Some(ns) = namespace {
                    let short = name.strip_prefix(&format!("{ns}.")).unwrap_or(name);
                    kinds.namespaced.insert(
                        to_gemini_name(name).into_owned(),
                        (ns.clone(), short.to_string()),
                    );
                }
                let (p, pjs) = match parameters.as_ref() {
                    Some(s) if legacy => (schema::strict_parameters(s), None),
                    Some(s) => (None, schema::json_schema_parameters(s)),
                    None => (None, None),
                };
                declared.push(FunctionDeclaration {
                    name: to_gemini_name(name).into_owned(),
                    description: description.clone(),
                    parameters: p,
                    parameters_json_schema: pjs,
                });
            }
            ToolDef::Custom {
                name,
                description,
                format,
            } => {
                let gemini = to_gemini_name(name).into_owned();
                kinds.custom.insert(gemini.clone(), name.clone());
                let text = |d: &Option<String>| d.clone().unwrap_or_default();
                let about = format!(
                    "{}\n\nFree-form input: pass the whole input as the string `{CUSTOM_INPUT}`, exactly as it should be given.{}",
                    text(description),
                    format.as_ref().map(|f| format!("\nIt follows this {f}")).unwrap_or_default()
                );
                let params = json!({"type": "object", "properties": {CUSTOM_INPUT: {"type": "string", "description": "The tool's whole input."}}, "required": [CUSTOM_INPUT]});
                let (p, pjs) = if legacy {
                    (schema::strict_parameters(&params), None)
                } else {
                    (None, schema::json_schema_parameters(&params))
                };
                declared.push(FunctionDeclaration {
                    name: gemini,
                    description: Some(about.trim().to_string()),
                    parameters: p,
                    parameters_json_schema: pjs,
                });
            }
            ToolDef::WebSearch => search = true,
        }
    }
    let tools = if !declared.is_empty() {
        Some(vec![Tool {
            function_declarations: Some(declared),
            ..Tool::default()
        }])
    } else if search {
        Some(vec![Tool {
            google_search: Some(json!({})),
            ..Tool::default()
        }])
    } else {
        None
    };
    (tools, kinds)
}

fn tool_choice(choice: Option<&Value>, has_tools: bool) -> Result<Option<ToolConfig>, OpenAiError> {
    let config = |mode, names| Some(ToolConfig::calling(mode, names));
    Ok(match choice {
        None | Some(Value::Null) => None,
        Some(_) if !has_tools => None,
        Some(Value::String(m)) => match m.as_str() {
            "auto" => None,
            "none" => config(FunctionCallingMode::None, None),
            "required" => config(FunctionCallingMode::Any, None),
            _ => {
                return Err(OpenAiError::invalid_param(
                    "tool_choice",
                    "tool_choice is none, auto, required, or a tool",
                ))
            }
        },
        Some(v) => match v.get("name").and_then(Value::as_str) {
            Some(name) => config(
                FunctionCallingMode::Any,
                Some(vec![to_gemini_name(name).into_owned()]),
            ),
            // `{"type": "web_search"}` and the like: let the model choose.
            None => None,
        },
    })
}

fn generation_config(
    req: &ResponsesRequest,
    info: &ModelInfo,
    limits: Limits,
) -> Result<GenerationConfig, OpenAiError> {
    let format = req.text.as_ref().and_then(|t| t.format.as_ref());
    let (mime, json_schema) = match format.and_then(|f| f.get("type")).and_then(Value::as_str) {
        Some("json_object") => (Some("application/json".to_string()), None),
        Some("json_schema") => (
            Some("application/json".to_string()),
            format
                .and_then(|f| f.get("schema"))
                .map(schema::response_json_schema),
        ),
        _ => (None, None),
    };
    let reasoning = req.reasoning.as_ref();
    let show = reasoning
        .and_then(|r| r.summary.as_deref())
        .is_some_and(|s| s != "none");
    let want = match reasoning.and_then(|r| r.effort.as_deref()) {
        None => show.then_some(Want::Adaptive(None)),
        Some("none") => Some(Want::Off),
        Some(e @ ("minimal" | "low" | "medium" | "high" | "xhigh")) => {
            Some(Want::Adaptive(Some(e)))
        }
        Some(_) => {
            return Err(OpenAiError::invalid_param(
                "reasoning.effort",
                "reasoning.effort is none, minimal, low, medium or high",
            ))
        }
    };
    let mut config = GenerationConfig {
        response_mime_type: mime,
        response_json_schema: json_schema,
        max_output_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        thinking_config: want.and_then(|w| thinking(info, w, show)),
        ..GenerationConfig::default()
    };
    let output_limit = limits
        .output_limit
        .unwrap_or_else(|| info.max_output_tokens());
    info.rules
        .conform(&mut config, output_limit, limits.max_tokens);
    Ok(config)
}
