//! Semantic validation of a parsed `GenerateContentRequest`.
//!
//! After `proto.rs` has accepted the JSON shape, the real service applies rules of its
//! own: non-empty contents and parts, one data field per part, valid roles, function
//! call/response pairing, tool declaration and generation-config limits, thinking rules per
//! model, media in function responses only where the model takes them, built-in tools beside
//! functions only with `includeServerSideToolInvocations`, and (Gemini 3) thought signatures.
//! Each rule answers 400 with Google's wording.
//! Field-level problems are batched as `* GenerateContentRequest.<path>: <message>\n` lines
//! like the real API; structural problems answer with their own message.

use serde_json::{Map, Value};

use crate::descriptors::{GEMINI_HARM_CATEGORIES, PART_DATA_FIELDS};
use crate::errors::ApiError;
use crate::models_catalog::{ModelInfo, Thinking};
use crate::schema::{check_json_schema, check_schema};
use crate::signatures::{check_gemini3, SignatureStore};

const REQUEST: &str = "GenerateContentRequest";

/// Validates a normalised generate request for `model`. Thought signatures are checked
/// (Gemini 3) when `signatures` is given; `countTokens` does not check them.
pub fn check_generate(
    request: &Map<String, Value>,
    model: &ModelInfo,
    signatures: Option<&SignatureStore>,
) -> Result<(), ApiError> {
    let mut lines = Vec::new();
    let contents = array(request.get("contents"));
    if contents.is_empty() {
        lines.push(format!("{REQUEST}.contents: contents is not specified"));
    }
    for (i, content) in contents.iter().enumerate() {
        check_parts(
            content,
            &format!("{REQUEST}.contents[{i}]"),
            "contents",
            &mut lines,
        );
    }
    if let Some(system) = request.get("systemInstruction") {
        let path = format!("{REQUEST}.system_instruction");
        check_parts(system, &path, "system_instruction", &mut lines);
        for (j, part) in array(system.get("parts")).iter().enumerate() {
            if part.get("text").is_none() && has_data(part) {
                lines.push(format!(
                    "{path}.parts[{j}]: only text parts are supported in system_instruction"
                ));
            }
        }
    }
    check_tools(request, &mut lines);
    check_tool_config(request, &mut lines);
    check_safety(request, &mut lines);
    let config = request.get("generationConfig").and_then(Value::as_object);
    if let Some(config) = config {
        check_generation_config(config, &mut lines);
    }
    if !lines.is_empty() {
        let message: String = lines.iter().map(|l| format!("* {l}\n")).collect();
        return Err(ApiError::invalid_argument(message));
    }
    if contents.iter().any(|c| {
        !matches!(
            c.get("role").and_then(Value::as_str),
            None | Some("user" | "model")
        )
    }) {
        return Err(ApiError::invalid_argument(
            "Please use a valid role: user, model.",
        ));
    }
    check_turns(contents)?;
    check_builtin_beside_functions(request)?;
    check_function_response_media(contents, model)?;
    if let Some(config) = config {
        check_model_limits(config, model)?;
    }
    if let Some(signatures) = signatures.filter(|_| model.is_gemini3()) {
        check_gemini3(contents, signatures)?;
    }
    Ok(())
}

/// Validates a normalised `countTokens` body: exactly one of `contents` and
/// `generateContentRequest`; the inner request must name its model. Counting does not
/// generate, so thought signatures are not checked.
pub fn check_count_tokens(body: &Map<String, Value>, model: &ModelInfo) -> Result<(), ApiError> {
    match (body.get("contents"), body.get("generateContentRequest")) {
        (Some(_), Some(_)) => Err(ApiError::invalid_argument(
            "* CountTokensRequest: Only one of contents or generate_content_request may be set.\n",
        )),
        (None, Some(Value::Object(inner))) => {
            let named = inner
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let valid = named
                .strip_prefix("models/")
                .is_some_and(|id| !id.is_empty() && !id.contains('/'));
            if !valid {
                return Err(ApiError::invalid_argument(
                    "* GenerateContentRequest.model: unexpected model name format\n",
                ));
            }
            check_generate(inner, model, None)
        }
        _ => {
            let mut wrapped = Map::new();
            if let Some(contents) = body.get("contents") {
                wrapped.insert("contents".to_owned(), contents.clone());
            }
            check_generate(&wrapped, model, None)
        }
    }
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn has_data(part: &Value) -> bool {
    PART_DATA_FIELDS.iter().any(|f| part.get(*f).is_some())
}

fn check_parts(content: &Value, path: &str, what: &str, lines: &mut Vec<String>) {
    let parts = array(content.get("parts"));
    if parts.is_empty() {
        lines.push(format!("{path}.parts: {what}.parts must not be empty."));
    }
    for (j, part) in parts.iter().enumerate() {
        let part_path = format!("{path}.parts[{j}]");
        let empty_text = part.get("text").and_then(Value::as_str) == Some("")
            && part.get("thoughtSignature").is_none();
        if !has_data(part) || empty_text {
            lines.push(format!(
                "{part_path}.data: required oneof field 'data' must have one initialized field"
            ));
        }
        if let Some(blob) = part.get("inlineData") {
            if blob
                .get("mimeType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                lines.push(format!(
                    "{part_path}.inline_data.mime_type: mime_type must not be empty."
                ));
            }
        }
        if let Some(file) = part.get("fileData") {
            if file
                .get("fileUri")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                lines.push(format!(
                    "{part_path}.file_data.file_uri: file_uri must not be empty."
                ));
            }
        }
        let media = part
            .get("functionResponse")
            .and_then(|r| r.get("parts"))
            .and_then(Value::as_array);
        for (k, media) in media.into_iter().flatten().enumerate() {
            let media_path = format!("{part_path}.function_response.parts[{k}]");
            match media.get("inlineData") {
                None => lines.push(format!(
                    "{media_path}.data: required oneof field 'data' must have one initialized field"
                )),
                Some(blob) => {
                    if blob
                        .get("mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .is_empty()
                    {
                        lines.push(format!(
                            "{media_path}.inline_data.mime_type: mime_type must not be empty."
                        ));
                    }
                }
            }
        }
        for (key, proto) in [
            ("functionCall", "function_call"),
            ("functionResponse", "function_response"),
        ] {
            if let Some(call) = part.get(key) {
                if call
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .is_empty()
                {
                    lines.push(format!("{part_path}.{proto}.name: Name cannot be empty."));
                }
            }
        }
    }
}

fn valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_tools(request: &Map<String, Value>, lines: &mut Vec<String>) {
    for (t, tool) in array(request.get("tools")).iter().enumerate() {
        for (d, decl) in array(tool.get("functionDeclarations")).iter().enumerate() {
            let path = format!("{REQUEST}.tools[{t}].function_declarations[{d}]");
            let name = decl.get("name").and_then(Value::as_str).unwrap_or_default();
            if !valid_function_name(name) {
                lines.push(format!(
                    "{path}.name: Invalid function name. Must start with a letter or an underscore. \
                     Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.) or dashes (-), \
                     with a maximum length of 64."
                ));
            }
            for (proto, json, proto_name, json_name) in [
                (
                    "parameters",
                    "parametersJsonSchema",
                    "parameters",
                    "parameters_json_schema",
                ),
                (
                    "response",
                    "responseJsonSchema",
                    "response",
                    "response_json_schema",
                ),
            ] {
                if decl.get(proto).is_some() && decl.get(json).is_some() {
                    lines.push(format!(
                        "{path}.{json_name}: {json_name} and {proto_name} are mutually exclusive; set only one of them."
                    ));
                }
                if let Some(schema) = decl.get(proto).and_then(Value::as_object) {
                    check_schema(schema, &format!("{path}.{proto_name}"), lines);
                }
                if let Some(schema) = decl.get(json) {
                    check_json_schema(schema, &format!("{path}.{json_name}"), lines);
                }
            }
        }
    }
}

fn check_tool_config(request: &Map<String, Value>, lines: &mut Vec<String>) {
    let Some(config) = request
        .get("toolConfig")
        .and_then(|c| c.get("functionCallingConfig"))
    else {
        return;
    };
    let mode = config
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("MODE_UNSPECIFIED");
    if !array(config.get("allowedFunctionNames")).is_empty() && !matches!(mode, "ANY" | "VALIDATED")
    {
        lines.push(format!(
            "{REQUEST}.tool_config.function_calling_config.allowed_function_names: \
             allowed_function_names should only be set when the mode is ANY or VALIDATED."
        ));
    }
}

fn check_safety(request: &Map<String, Value>, lines: &mut Vec<String>) {
    for (i, setting) in array(request.get("safetySettings")).iter().enumerate() {
        let category = setting
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or("HARM_CATEGORY_UNSPECIFIED");
        if !GEMINI_HARM_CATEGORIES.contains(&category) {
            lines.push(format!(
                "{REQUEST}.safety_settings[{i}].category: Unsupported harm category: {category}"
            ));
        }
    }
}

fn number(config: &Map<String, Value>, key: &str) -> Option<f64> {
    config.get(key).and_then(Value::as_f64)
}

fn check_generation_config(config: &Map<String, Value>, lines: &mut Vec<String>) {
    let path = format!("{REQUEST}.generation_config");
    if array(config.get("stopSequences")).len() > 5 {
        lines.push(format!(
            "{path}.stop_sequences: The maximum number of stop sequences is 5."
        ));
    }
    if let Some(t) = number(config, "temperature") {
        if !(0.0..=2.0).contains(&t) {
            lines.push(format!(
                "{path}.temperature: temperature must be in the range [0.0, 2.0]."
            ));
        }
    }
    if let Some(p) = number(config, "topP") {
        if !(0.0..=1.0).contains(&p) {
            lines.push(format!(
                "{path}.top_p: top_p must be in the range [0.0, 1.0]."
            ));
        }
    }
    if number(config, "topK").is_some_and(|k| k < 0.0) {
        lines.push(format!("{path}.top_k: top_k must be non-negative."));
    }
    if number(config, "maxOutputTokens").is_some_and(|m| m < 0.0) {
        lines.push(format!(
            "{path}.max_output_tokens: max_output_tokens must be positive."
        ));
    }
    if number(config, "candidateCount").is_some_and(|c| !(0.0..=8.0).contains(&c)) {
        lines.push(format!(
            "{path}.candidate_count: candidate_count must be between 1 and 8."
        ));
    }
    let mime = config.get("responseMimeType").and_then(Value::as_str);
    if let Some(mime) = mime {
        const ALLOWED: [&str; 5] = [
            "text/plain",
            "application/json",
            "application/xml",
            "application/yaml",
            "text/x.enum",
        ];
        if !ALLOWED.contains(&mime) {
            lines.push(format!(
                "{path}.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, \
                 `application/xml`, `application/yaml` and `text/x.enum`."
            ));
        }
    }
    let has_schema = config.contains_key("responseSchema");
    let has_json_schema = config.contains_key("responseJsonSchema");
    if has_schema && has_json_schema {
        lines.push(format!(
            "{path}.response_json_schema: response_json_schema and response_schema are mutually exclusive; set only one of them."
        ));
    }
    if (has_schema || has_json_schema) && !matches!(mime, Some("application/json" | "text/x.enum"))
    {
        lines.push(format!(
            "{path}.response_mime_type: When a response schema is set, response_mime_type must be \
             one of: application/json, text/x.enum."
        ));
    }
    if let Some(schema) = config.get("responseSchema").and_then(Value::as_object) {
        check_schema(schema, &format!("{path}.response_schema"), lines);
    }
    if let Some(schema) = config.get("responseJsonSchema") {
        check_json_schema(schema, &format!("{path}.response_json_schema"), lines);
    }
}

/// Output-token and thinking limits that depend on the model.
fn check_model_limits(config: &Map<String, Value>, model: &ModelInfo) -> Result<(), ApiError> {
    if let Some(max) = number(config, "maxOutputTokens") {
        if max > f64::from(model.output_limit) {
            return Err(ApiError::invalid_argument(format!(
                "Unable to submit request because it has a maxOutputTokens value of {max} but the \
                 supported range is from 1 (inclusive) to {} (exclusive). Update the value and try again.",
                u64::from(model.output_limit) + 1
            )));
        }
    }
    if model.is_gemini4() {
        crate::refusals::check_gemini4(config)?;
    }
    let Some(thinking) = config.get("thinkingConfig") else {
        return Ok(());
    };
    let budget = thinking.get("thinkingBudget").and_then(Value::as_i64);
    // The enum's zero value is the field left unset (proto3): Gemini CLI's forks send it.
    let level = thinking
        .get("thinkingLevel")
        .and_then(Value::as_str)
        .filter(|l| *l != "THINKING_LEVEL_UNSPECIFIED");
    if model.thinking == Thinking::None
        && (budget.is_some()
            || level.is_some()
            || thinking.get("includeThoughts") == Some(&Value::Bool(true)))
    {
        return Err(ApiError::invalid_argument(
            "Thinking is not supported for this model.",
        ));
    }
    if budget.is_some() && level.is_some() {
        return Err(ApiError::invalid_argument(
            "You can only set either thinking_budget or thinking_level, not both.",
        ));
    }
    if let Some(level) = level {
        if model.levels.is_empty() {
            return Err(ApiError::invalid_argument(
                "Thinking level is not supported for this model.",
            ));
        }
        if !model.levels.contains(&level) {
            return Err(ApiError::invalid_argument(format!(
                "Thinking level {level} is not supported for this model."
            )));
        }
    }
    match budget {
        Some(0) if model.thinking == Thinking::Always => Err(ApiError::invalid_argument(
            "Budget 0 is invalid. This model only works in thinking mode.",
        )),
        Some(b) if b != 0 && b != -1 && !model.is_gemini3() => {
            let (low, high) = model.budget_range;
            if (low..=high).contains(&b) {
                Ok(())
            } else {
                Err(ApiError::invalid_argument(format!(
                    "The thinking budget {b} is invalid. Please choose a value between {low} and {high}."
                )))
            }
        }
        _ => Ok(()),
    }
}

fn role_is_model(content: &Value) -> bool {
    content.get("role").and_then(Value::as_str) == Some("model")
}

fn count(content: &Value, key: &str) -> usize {
    array(content.get("parts"))
        .iter()
        .filter(|p| p.get(key).is_some())
        .count()
}

fn names<'a>(content: &'a Value, key: &str) -> Vec<&'a str> {
    array(content.get("parts"))
        .iter()
        .filter_map(|p| {
            p.get(key)
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
        })
        .collect()
}

/// Built-in tools Gemini runs itself (the `Tool` fields other than function declarations).
const BUILT_IN_TOOLS: [&str; 4] = [
    "googleSearch",
    "urlContext",
    "codeExecution",
    "googleSearchRetrieval",
];

/// Built-in tools and function declarations together need
/// `toolConfig.includeServerSideToolInvocations: true`.
fn check_builtin_beside_functions(request: &Map<String, Value>) -> Result<(), ApiError> {
    let tools = array(request.get("tools"));
    let built_in = tools
        .iter()
        .any(|t| BUILT_IN_TOOLS.iter().any(|k| t.get(*k).is_some()));
    let functions = tools
        .iter()
        .any(|t| !array(t.get("functionDeclarations")).is_empty());
    let shown = request
        .get("toolConfig")
        .and_then(|c| c.get("includeServerSideToolInvocations"))
        == Some(&Value::Bool(true));
    if built_in && functions && !shown {
        return Err(ApiError::invalid_argument(
            "Please enable tool_config.include_server_side_tool_invocations to use Built-in tools with Function calling.",
        ));
    }
    Ok(())
}

/// Media inside a function response (`functionResponse.parts`) only for models that take it.
fn check_function_response_media(contents: &[Value], model: &ModelInfo) -> Result<(), ApiError> {
    if model.takes_media_in_function_responses() {
        return Ok(());
    }
    let carried = contents
        .iter()
        .flat_map(|c| array(c.get("parts")))
        .any(|p| {
            p.get("functionResponse")
                .is_some_and(|r| !array(r.get("parts")).is_empty())
        });
    if carried {
        return Err(ApiError::invalid_argument(
            "Unable to submit request because `function_response.parts` is not supported for this model. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/function-calling",
        ));
    }
    Ok(())
}

/// Function call / function response pairing rules.
fn check_turns(contents: &[Value]) -> Result<(), ApiError> {
    for (i, content) in contents.iter().enumerate() {
        let previous = i.checked_sub(1).and_then(|p| contents.get(p));
        if role_is_model(content) && count(content, "functionCall") > 0 {
            if previous.is_none_or(role_is_model) {
                return Err(ApiError::invalid_argument(
                    "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
                ));
            }
            let calls = names(content, "functionCall");
            if i + 1 == contents.len() {
                // A trailing model turn is a prefill: the answer continues it.
                continue;
            }
            let next = contents.get(i + 1).filter(|n| !role_is_model(n));
            let responses = next
                .map(|n| names(n, "functionResponse"))
                .unwrap_or_default();
            if responses.len() != calls.len() {
                return Err(ApiError::invalid_argument(
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
                ));
            }
            if responses.iter().any(|r| !calls.contains(r)) {
                return Err(ApiError::invalid_argument(
                    "Please ensure that the name of every function response part matches the name of a function call part of the function call turn.",
                ));
            }
        }
        if !role_is_model(content) && count(content, "functionResponse") > 0 {
            let follows_call =
                previous.is_some_and(|p| role_is_model(p) && count(p, "functionCall") > 0);
            if !follows_call {
                return Err(ApiError::invalid_argument(
                    "Please ensure that function response turn comes immediately after a function call turn.",
                ));
            }
        }
    }
    Ok(())
}
