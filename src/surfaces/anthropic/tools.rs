//! Tools: declarations, `tool_choice`, Anthropic's own tool types, deferred tools and function
//! names.
//!
//! * Custom tools → one `Tool` with all `functionDeclarations`; schemas via [`super::schema`]
//!   (`parametersJsonSchema`, or strict `parameters` for legacy models).
//! * `defer_loading: true` tools are hidden until discovered, as on Anthropic: they are declared
//!   only once the conversation references them (a `tool_reference` block from tool search, an
//!   earlier `tool_use` of that name, or `tool_choice` naming them) — or from the start when the
//!   request's tool search was a server tool left out (nothing else could reveal them).
//! * Anthropic's typed tools (see [`super::server_tools`]): client tools (`bash_*`,
//!   `text_editor_*`, `memory_*`, `computer_*`) are declared as functions with their fixed
//!   schema; `web_search_*` becomes Google Search and `web_fetch_*` URL context — alone, or beside
//!   the functions with `toolConfig.includeServerSideToolInvocations` where the model's rules
//!   allow built-in tools beside functions (elsewhere they are left out); every other server tool
//!   is left out. What is left out is named (its type) for the `x-gateway-dropped-tools` header.
//!   A `tool_choice` naming the web search or fetch tool lets the model choose (Gemini cannot
//!   force a built-in tool).
//! * `tool_choice`: absent → no `toolConfig`; auto → AUTO; any → ANY; tool → ANY with
//!   `allowedFunctionNames`; none → NONE (declarations are kept so the history stays valid).
//!   `disable_parallel_tool_use` has no Gemini equivalent and is ignored.
//! * Names: Gemini requires a letter or `_` first; a name starting otherwise is sent with a `_`
//!   prefix and mapped back in responses. A custom tool whose name has other characters than
//!   letters, digits, `_`, `-`, `.`, `:` or is longer than 128 is a 400 (Gemini would refuse it).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::upstream::wire::{
    EncodedDeclarations, FunctionCallingMode, FunctionDeclaration, Tool, ToolConfig,
};

use super::errors::AnthropicError;
use super::server_tools::{kind_of, Kind};
use super::tool_cache::{self, Declared, ToolSet};
use super::types::{
    ContentBlock, Message, MessagesRequest, TextOrBlocks, ToolChoice, ToolDefinition,
    ToolResultContent,
};
use super::validate::clip;
use crate::models::ModelInfo;
pub(crate) use crate::surfaces::shared::names::{from_gemini_name, to_gemini_name};
use crate::surfaces::shared::names::{valid_function_name, MAX_TOOL_NAME};
use crate::surfaces::shared::schema;

/// `tools` and `toolConfig` of the Gemini request, and what was left out of the client's.
#[derive(Debug, Default)]
pub(crate) struct TranslatedTools {
    pub tools: Option<Vec<Tool>>,
    pub tool_config: Option<ToolConfig>,
    /// The types of the tools left out.
    pub left_out: Vec<String>,
}

/// Names of tools the conversation has discovered or used (for deferred tools).
pub(crate) fn referenced_tools(messages: &[Message]) -> HashSet<&str> {
    fn visit<'a>(blocks: &'a [ContentBlock], out: &mut HashSet<&'a str>) {
        for block in blocks {
            match block {
                ContentBlock::ToolUse { name, .. } => {
                    out.insert(name);
                }
                ContentBlock::ToolReference { tool_name } => {
                    out.insert(tool_name);
                }
                ContentBlock::ToolResult {
                    content: Some(ToolResultContent::Blocks(inner)),
                    ..
                } => visit(inner, out),
                _ => {}
            }
        }
    }
    let mut out = HashSet::new();
    for m in messages {
        if let TextOrBlocks::Blocks(blocks) = &m.content {
            visit(blocks, &mut out);
        }
    }
    out
}

/// Translate `tools` and `tool_choice` for the model `info` describes (strict schemas for
/// legacy models). A tool list is translated once and then taken from [`tool_cache`]; which
/// deferred tools are declared is decided per request.
pub(crate) fn translate_tools(
    req: &MessagesRequest,
    info: &ModelInfo,
) -> Result<TranslatedTools, AnthropicError> {
    let strict = info.is_legacy();
    let Some(list) = &req.tools else {
        return Ok(TranslatedTools::default());
    };
    let set = match tool_cache::get(list.raw(), strict) {
        Some(set) => set,
        None => {
            let defs = list.definitions()?;
            match convert(&defs, strict, |_| true) {
                Ok(set) => {
                    let set = Arc::new(set);
                    tool_cache::put(list.text(), strict, set.clone());
                    set
                }
                // Hidden deferred tools may be what used the schema budget up: translate only
                // what this request shows (not remembered).
                Err(e) if !defs.iter().any(|d| d.defer_loading == Some(true)) => return Err(e),
                Err(_) => {
                    let referenced = referenced_tools(&req.messages);
                    let forced = forced_name(req);
                    Arc::new(convert(&defs, strict, |d| {
                        referenced.contains(d.name.as_str()) || forced == Some(&d.name)
                    })?)
                }
            }
        }
    };
    // Naming the web search or fetch tool lets the model choose: a built-in tool is not forced.
    let forced = forced_name(req).filter(|n| !set.builtin.iter().any(|(b, _)| b == n));
    let referenced = (!set.search_dropped() && set.declarations.iter().any(|d| d.deferred))
        .then(|| referenced_tools(&req.messages));
    let shown: Vec<&Declared> = set
        .declarations
        .iter()
        .filter(|d| {
            !d.deferred
                || set.search_dropped()
                || forced == Some(d.name.as_str())
                || referenced
                    .as_ref()
                    .is_some_and(|r| r.contains(d.name.as_str()))
        })
        .collect();
    let builtin = !set.builtin.is_empty();
    let beside = builtin && (shown.is_empty() || info.rules.builtin_tools_with_functions);
    let mut left_out = set.dropped.clone();
    if builtin && !beside {
        left_out.extend(set.builtin.iter().map(|(_, t)| t.clone()));
    }
    let mut tool = Tool {
        google_search: (beside && set.web_search).then(|| json!({})),
        url_context: (beside && set.web_fetch).then(|| json!({})),
        ..Tool::default()
    };
    if shown.is_empty() {
        if let Some(name) = forced {
            return Err(unknown_forced_tool(name));
        }
        return Ok(TranslatedTools {
            tools: beside.then(|| vec![tool]),
            tool_config: None,
            left_out,
        });
    }
    let config = |mode, allowed| Some(ToolConfig::calling(mode, allowed));
    let mut tool_config = match (&req.tool_choice, forced) {
        (_, Some(name)) => {
            let gemini = to_gemini_name(name);
            if !shown.iter().any(|d| d.gemini_name == gemini) {
                return Err(unknown_forced_tool(name));
            }
            config(FunctionCallingMode::Any, Some(vec![gemini.into_owned()]))
        }
        (None | Some(ToolChoice::Tool { .. }), None) => None,
        (Some(ToolChoice::Auto), None) => config(FunctionCallingMode::Auto, None),
        (Some(ToolChoice::Any), None) => config(FunctionCallingMode::Any, None),
        (Some(ToolChoice::None), None) => config(FunctionCallingMode::None, None),
    };
    if beside {
        tool_config
            .get_or_insert_with(ToolConfig::default)
            .include_server_side_tool_invocations = Some(true);
    }
    tool.encoded_declarations = Some(EncodedDeclarations(
        shown.iter().map(|d| d.encoded.clone()).collect(),
    ));
    Ok(TranslatedTools {
        tools: Some(vec![tool]),
        tool_config,
        left_out,
    })
}

/// The name `tool_choice` forces, if any.
fn forced_name(req: &MessagesRequest) -> Option<&str> {
    match &req.tool_choice {
        Some(ToolChoice::Tool { name }) => Some(name.as_str()),
        _ => None,
    }
}

/// The functions of `defs` (custom tools, and client tools with their fixed schemas),
/// converted and encoded in order with one schema budget for all; deferred ones only if
/// `shown` keeps them (and marked deferred); and the server tools, sorted.
fn convert(
    defs: &[ToolDefinition],
    strict: bool,
    shown: impl Fn(&ToolDefinition) -> bool,
) -> Result<ToolSet, AnthropicError> {
    let mut set = ToolSet::default();
    let mut budget = schema::SCHEMA_BUDGET;
    for (i, def) in defs.iter().enumerate() {
        let mut fixed = None;
        if let Some(tool_type) = def.typed() {
            let display = def.display_width_px.zip(def.display_height_px);
            match kind_of(tool_type, display) {
                Kind::Client {
                    description,
                    schema,
                } => fixed = Some((description, schema)),
                Kind::Unmatched => {
                    set.dropped.push(tool_type.to_owned());
                    continue;
                }
                web => {
                    set.web_search |= web == Kind::WebSearch;
                    set.web_fetch |= web == Kind::WebFetch;
                    set.builtin.push((def.name.clone(), tool_type.to_owned()));
                    continue;
                }
            }
        }
        if def.name.is_empty() {
            return Err(AnthropicError::invalid(format!(
                "tools.{i}.name: must not be empty"
            )));
        }
        if !valid_function_name(&to_gemini_name(&def.name)) {
            return Err(AnthropicError::invalid(format!(
                "tools.{i}.name: '{}' is not a valid tool name: use letters, digits, '_', '-', \
                 '.' or ':', at most {MAX_TOOL_NAME} characters",
                clip(&def.name)
            )));
        }
        let deferred = def.defer_loading == Some(true);
        if deferred && !shown(def) {
            continue;
        }
        let (description, input_schema) = match &fixed {
            Some((description, schema)) => (Some((*description).to_owned()), Some(schema)),
            None => (
                def.description.clone().filter(|d| !d.is_empty()),
                def.input_schema.as_ref(),
            ),
        };
        let params = match input_schema {
            None => None,
            Some(s) => if strict {
                schema::strict_parameters_within(s, &mut budget)
            } else {
                schema::json_schema_parameters_within(s, &mut budget)
            }
            .map_err(|(_, e)| AnthropicError::invalid(format!("tools.{i}.input_schema: {e}")))?,
        };
        let (parameters, parameters_json_schema) = if strict {
            (params, None)
        } else {
            (None, params)
        };
        let declaration = FunctionDeclaration {
            name: to_gemini_name(&def.name).into_owned(),
            description,
            parameters,
            parameters_json_schema,
        };
        let encoded = serde_json::value::to_raw_value(&declaration)
            .map_err(|_| AnthropicError::invalid(format!("tools.{i}: cannot be encoded")))?;
        set.declarations.push(Declared {
            name: def.name.clone(),
            gemini_name: declaration.name,
            deferred,
            encoded: Arc::from(encoded),
        });
    }
    Ok(set)
}

fn unknown_forced_tool(name: &str) -> AnthropicError {
    AnthropicError::invalid(format!(
        "tool_choice.name: no tool named '{}' is defined in tools",
        clip(name)
    ))
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
