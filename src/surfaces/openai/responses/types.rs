//! Responses API request types. The top level is typed (a field of the wrong type is a 400
//! naming it; unknown fields are ignored); `input` items and `tools` are read one by one from
//! JSON, because their kinds are many and new ones keep coming: an item or tool of a kind the
//! gateway does not serve is skipped (Codex sends `tool_search`, `web_search_call` and more),
//! one of a known kind but the wrong shape is a 400.

use serde::Deserialize;
use serde_json::Value;

use crate::surfaces::openai::errors::OpenAiError;

/// `POST /v1/responses`.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
    #[serde(default)]
    pub text: Option<TextConfig>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// `false`: make the response without the model (Codex warms a WebSocket up with it).
    #[serde(default)]
    pub generate: Option<bool>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// `flex`, `priority`, `default`; `auto` leaves it to the client key or the model.
    #[serde(default)]
    pub service_tier: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct Reasoning {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextConfig {
    #[serde(default)]
    pub format: Option<Value>,
}

/// One input item, as far as the translation cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A message; `role` is `user`, `assistant`, `system` or `developer`.
    Message {
        role: String,
        parts: Vec<InputPart>,
    },
    FunctionCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
    CustomToolCall {
        call_id: String,
        name: String,
        input: String,
    },
    CustomToolCallOutput {
        call_id: String,
        output: String,
    },
    /// A reasoning item; its `encrypted_content` may carry a thought signature.
    Reasoning {
        encrypted_content: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputPart {
    Text(String),
    /// An image or file: a data URL, an `http(s)` URL, or a Gemini file URI.
    Media {
        url: String,
        filename: Option<String>,
    },
}

/// `input` as a list of items (a plain string is one user message).
pub fn input_list(input: Option<Value>) -> Result<Vec<Value>, OpenAiError> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![
            serde_json::json!({"type": "message", "role": "user", "content": s}),
        ]),
        Some(Value::Array(list)) => Ok(list),
        Some(_) => Err(OpenAiError::invalid_param(
            "input",
            "input is a string or a list of items",
        )),
    }
}

/// The input's items as the translation reads them, and the kinds of item it left out.
#[derive(Debug, Default)]
pub struct Items {
    pub list: Vec<Item>,
    /// Item types the gateway does not translate (each once), for the client to be told.
    pub dropped: Vec<String>,
}

/// The items of `list`, taken out of the parsed JSON (strings are moved, not copied: Codex
/// sends 40 KB of them on every step). `item_reference`s must have been resolved before.
pub fn items(list: Vec<Value>) -> Result<Items, OpenAiError> {
    let mut out = Items {
        list: Vec::with_capacity(list.len()),
        dropped: Vec::new(),
    };
    for (i, v) in list.into_iter().enumerate() {
        match item(v, i)? {
            Ok(item) => out.list.push(item),
            Err(kind) if !out.dropped.contains(&kind) => out.dropped.push(kind),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// Field `field` of `v` as a string, moved out.
fn take_str(v: &mut Value, field: &str) -> Option<String> {
    match v.get_mut(field).map(Value::take) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn text_field(v: &mut Value, field: &str, i: usize) -> Result<String, OpenAiError> {
    take_str(v, field).ok_or_else(|| {
        OpenAiError::invalid_param(
            &format!("input[{i}].{field}"),
            format!("{field} must be a string"),
        )
    })
}

/// An output given as a string, or as a list of `input_text`/`output_text` parts.
fn output_text(v: &mut Value, i: usize) -> Result<String, OpenAiError> {
    match v.get_mut("output").map(Value::take) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")),
        _ => Err(OpenAiError::invalid_param(
            &format!("input[{i}].output"),
            "output must be a string or a list of text parts",
        )),
    }
}

/// One item; `Ok(Err(kind))` for a kind the gateway does not translate.
fn item(mut v: Value, i: usize) -> Result<Result<Item, String>, OpenAiError> {
    let kind = take_str(&mut v, "type").unwrap_or_else(|| "message".into());
    let v = &mut v;
    Ok(Ok(match kind.as_str() {
        "message" => Item::Message {
            role: text_field(v, "role", i)?,
            parts: message_parts(v.get_mut("content").map(Value::take), i)?,
        },
        "function_call" => {
            let name = text_field(v, "name", i)?;
            let name = match v.get("namespace").and_then(Value::as_str) {
                Some(ns) if !name.starts_with(&format!("{ns}.")) => format!("{ns}.{name}"),
                _ => name,
            };
            Item::FunctionCall {
                call_id: text_field(v, "call_id", i)?,
                name,
                arguments: take_str(v, "arguments").unwrap_or_else(|| "{}".into()),
            }
        }
        "function_call_output" => Item::FunctionCallOutput {
            call_id: text_field(v, "call_id", i)?,
            output: output_text(v, i)?,
        },
        "custom_tool_call" => Item::CustomToolCall {
            call_id: text_field(v, "call_id", i)?,
            name: text_field(v, "name", i)?,
            input: take_str(v, "input").unwrap_or_default(),
        },
        "custom_tool_call_output" => Item::CustomToolCallOutput {
            call_id: text_field(v, "call_id", i)?,
            output: output_text(v, i)?,
        },
        "reasoning" => Item::Reasoning {
            encrypted_content: take_str(v, "encrypted_content"),
        },
        "compaction" | "compaction_summary" => {
            let opened = take_str(v, "encrypted_content")
                .as_deref()
                .and_then(super::compaction::opened);
            match opened {
                Some(summary) => Item::Message {
                    role: "user".into(),
                    parts: vec![InputPart::Text(summary)],
                },
                None => return Ok(Err(format!("{kind} (not made by this gateway)"))),
            }
        }
        "item_reference" => return Err(OpenAiError::invalid_param(
            &format!("input[{i}]"),
            "an item_reference must name an item of a response this gateway stored (store: true)",
        )),
        _ => return Ok(Err(kind)),
    }))
}

fn message_parts(content: Option<Value>, i: usize) -> Result<Vec<InputPart>, OpenAiError> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(vec![InputPart::Text(s)]),
        Some(Value::Array(parts)) => parts,
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(_) => {
            return Err(OpenAiError::invalid_param(
                &format!("input[{i}].content"),
                "content is a string or a list of parts",
            ))
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, mut p) in parts.into_iter().enumerate() {
        let at = |f: &str| format!("input[{i}].content[{j}].{f}");
        let kind = take_str(&mut p, "type").unwrap_or_default();
        match kind.as_str() {
            "input_text" | "output_text" | "text" | "refusal" => {
                let text = take_str(&mut p, "text")
                    .or_else(|| take_str(&mut p, "refusal"))
                    .ok_or_else(|| {
                        OpenAiError::invalid_param(&at("text"), "text must be a string")
                    })?;
                out.push(InputPart::Text(text));
            }
            "input_image" => {
                let url = take_str(&mut p, "image_url").ok_or_else(|| {
                    OpenAiError::invalid_param(
                        &at("image_url"),
                        "an input_image needs an image_url (file ids are OpenAI's, not Gemini's)",
                    )
                })?;
                out.push(InputPart::Media {
                    url,
                    filename: None,
                });
            }
            "input_file" => {
                let url = take_str(&mut p, "file_data")
                    .or_else(|| take_str(&mut p, "file_url"))
                    .ok_or_else(|| {
                        OpenAiError::invalid_param(
                            &at("file_data"),
                            "an input_file needs file_data or a file_url",
                        )
                    })?;
                out.push(InputPart::Media {
                    url,
                    filename: take_str(&mut p, "filename"),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// One tool the model may use.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolDef {
    /// A function (a namespaced one's name is `namespace.name`).
    Function {
        name: String,
        namespace: Option<String>,
        description: Option<String>,
        parameters: Option<Value>,
    },
    /// A free-form tool: its input is one string (described by `format`, e.g. a grammar).
    Custom {
        name: String,
        description: Option<String>,
        format: Option<String>,
    },
    /// Web search (Gemini's Google Search where it can go with the rest).
    WebSearch,
}

/// The tools of the request; kinds the gateway does not serve are left out.
pub fn tools(tools: Option<Vec<Value>>) -> Result<Vec<ToolDef>, OpenAiError> {
    let mut out = Vec::new();
    for (i, mut t) in tools.unwrap_or_default().into_iter().enumerate() {
        tool(&mut t, None, &format!("tools[{i}]"), &mut out)?;
    }
    Ok(out)
}

fn tool(
    t: &mut Value,
    namespace: Option<&str>,
    at: &str,
    out: &mut Vec<ToolDef>,
) -> Result<(), OpenAiError> {
    let name = |t: &Value| -> Result<String, OpenAiError> {
        let n = t
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                OpenAiError::invalid_param(&format!("{at}.name"), "a tool needs a name")
            })?;
        Ok(match namespace {
            Some(ns) => format!("{ns}.{n}"),
            None => n.to_string(),
        })
    };
    let description = take_str(t, "description").filter(|d| !d.is_empty());
    match t.get("type").and_then(Value::as_str).unwrap_or("") {
        "function" => out.push(ToolDef::Function {
            name: name(t)?,
            namespace: namespace.map(str::to_string),
            description,
            parameters: t.get_mut("parameters").map(Value::take),
        }),
        "custom" => {
            let format = t.get("format").and_then(|f| {
                f.get("definition")
                    .and_then(Value::as_str)
                    .map(|d| format!("{} grammar:\n{d}", f["syntax"].as_str().unwrap_or("a")))
            });
            out.push(ToolDef::Custom {
                name: name(t)?,
                description,
                format,
            });
        }
        "namespace" => {
            let ns = name(t)?;
            if let Some(Value::Array(inner)) = t.get_mut("tools") {
                for (j, inner) in inner.iter_mut().enumerate() {
                    tool(inner, Some(&ns), &format!("{at}.tools[{j}]"), out)?;
                }
            }
        }
        "web_search" | "web_search_preview" => out.push(ToolDef::WebSearch),
        _ => {}
    }
    Ok(())
}
