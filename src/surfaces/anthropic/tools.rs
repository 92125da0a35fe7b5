//! Tools: declarations, `tool_choice`, server tools, deferred tools and function names.
//!
//! * Custom tools → one `Tool` with all `functionDeclarations`; schemas via [`super::schema`]
//!   (`parametersJsonSchema`, or strict `parameters` for legacy models).
//! * `defer_loading: true` tools are hidden until discovered, as on Anthropic: they are declared
//!   only once the conversation references them (a `tool_reference` block from tool search, an
//!   earlier `tool_use` of that name, or `tool_choice` naming them).
//! * Server tools (`type` such as `web_search_20250305`, `web_fetch_*`, `code_execution_*`,
//!   `advisor_*`) run on Anthropic's side. A request whose only tools are `web_search_*` and
//!   `web_fetch_*` gets Gemini's `googleSearch` and `urlContext` (Claude Code's WebSearch runs as
//!   such a request; what the search found comes back as Anthropic's web search blocks, see
//!   `grounding`); beside custom functions, and every other server tool, they are left out and
//!   named in the `x-gateway-dropped-tools` response header (never a 400).
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
use super::tool_cache::{self, Declared, ToolSet};
use super::types::{
    ContentBlock, Message, MessagesRequest, TextOrBlocks, ToolChoice, ToolDefinition,
};
use super::validate::clip;
pub(crate) use crate::surfaces::shared::names::{from_gemini_name, to_gemini_name};
use crate::surfaces::shared::names::{valid_function_name, MAX_TOOL_NAME};
use crate::surfaces::shared::schema;

/// `tools` and `toolConfig` of the Gemini request.
#[derive(Debug, Default)]
pub(crate) struct TranslatedTools {
    pub tools: Option<Vec<Tool>>,
    pub tool_config: Option<ToolConfig>,
    /// Server tools left out (their types).
    pub dropped: Vec<String>,
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
                    content: Some(TextOrBlocks::Blocks(inner)),
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

/// Translate `tools` and `tool_choice`. `strict` selects `parameters` instead of
/// `parametersJsonSchema`. A tool list is translated once and then taken from [`tool_cache`];
/// which deferred tools are declared is decided per request.
pub(crate) fn translate_tools(
    req: &MessagesRequest,
    strict: bool,
) -> Result<TranslatedTools, AnthropicError> {
    let Some(list) = &req.tools else {
        return Ok(TranslatedTools::default());
    };
    let forced = match &req.tool_choice {
        Some(ToolChoice::Tool { name }) => Some(name.as_str()),
        _ => None,
    };
    let set = match tool_cache::get(list.raw(), strict) {
        Some(set) => set,
        None => {
            let defs = list.definitions()?;
            match convert(&defs, strict, |_| true) {
                Ok(set) => {
                    let set = Arc::new(set);
                    tool_cache::put(list.raw(), strict, set.clone());
                    set
                }
                // Hidden deferred tools may be what used the schema budget up: translate only
                // what this request shows (not remembered).
                Err(e) if !defs.iter().any(|d| d.defer_loading == Some(true)) => return Err(e),
                Err(_) => {
                    let referenced = referenced_tools(&req.messages);
                    Arc::new(convert(&defs, strict, |d| {
                        referenced.contains(d.name.as_str()) || forced == Some(&d.name)
                    })?)
                }
            }
        }
    };
    let referenced = set
        .declarations
        .iter()
        .any(|d| d.deferred)
        .then(|| referenced_tools(&req.messages));
    let shown: Vec<&Declared> = set
        .declarations
        .iter()
        .filter(|d| {
            !d.deferred
                || forced == Some(d.name.as_str())
                || referenced
                    .as_ref()
                    .is_some_and(|r| r.contains(d.name.as_str()))
        })
        .collect();
    if shown.is_empty() {
        if let Some(name) = forced {
            return Err(unknown_forced_tool(name));
        }
        let tools = (set.web_search || set.web_fetch).then(|| {
            vec![Tool {
                google_search: set.web_search.then(|| json!({})),
                url_context: set.web_fetch.then(|| json!({})),
                ..Tool::default()
            }]
        });
        return Ok(TranslatedTools {
            tools,
            tool_config: None,
            dropped: set.dropped.clone(),
        });
    }
    let config = |mode, allowed| Some(ToolConfig::calling(mode, allowed));
    let tool_config = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => config(FunctionCallingMode::Auto, None),
        Some(ToolChoice::Any) => config(FunctionCallingMode::Any, None),
        Some(ToolChoice::None) => config(FunctionCallingMode::None, None),
        Some(ToolChoice::Tool { name }) => {
            let gemini = to_gemini_name(name);
            if !shown.iter().any(|d| d.gemini_name == gemini) {
                return Err(unknown_forced_tool(name));
            }
            config(FunctionCallingMode::Any, Some(vec![gemini.into_owned()]))
        }
    };
    Ok(TranslatedTools {
        tools: Some(vec![Tool {
            encoded_declarations: Some(EncodedDeclarations(
                shown.iter().map(|d| d.encoded.clone()).collect(),
            )),
            ..Tool::default()
        }]),
        tool_config,
        dropped: web_beside_functions(&set),
    })
}

/// What is left out when custom functions are declared: the other server tools, and web
/// search and fetch (Gemini takes built-in tools beside functions only with
/// `includeServerSideToolInvocations`, whose `toolCall`/`toolResponse` parts would have to come
/// back in the history, which Anthropic's blocks cannot carry).
fn web_beside_functions(set: &ToolSet) -> Vec<String> {
    let mut dropped = set.dropped.clone();
    if set.web_search {
        dropped.push("web_search".into());
    }
    if set.web_fetch {
        dropped.push("web_fetch".into());
    }
    dropped
}

/// The custom tools of `defs`, converted and encoded in order with one schema budget for all;
/// deferred ones only if `shown` keeps them (and marked deferred); whether web search was asked
/// for.
fn convert(
    defs: &[ToolDefinition],
    strict: bool,
    shown: impl Fn(&ToolDefinition) -> bool,
) -> Result<ToolSet, AnthropicError> {
    let mut set = ToolSet::default();
    let mut budget = schema::SCHEMA_BUDGET;
    for (i, def) in defs.iter().enumerate() {
        if def.is_server_tool() {
            let kind = def.kind.as_deref().unwrap_or_default();
            if kind.starts_with("web_search") {
                set.web_search = true;
            } else if kind.starts_with("web_fetch") {
                set.web_fetch = true;
            } else if !set.dropped.iter().any(|d| d == kind) {
                set.dropped.push(kind.to_string());
            }
            continue;
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
        let params = match &def.input_schema {
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
            description: def.description.clone().filter(|d| !d.is_empty()),
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
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn request(body: Value) -> MessagesRequest {
        serde_json::from_value(body).unwrap()
    }

    fn tool(name: &str) -> Value {
        json!({"name": name, "description": "d",
            "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}})
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(to_gemini_name("Bash"), "Bash");
        assert_eq!(to_gemini_name("mcp__srv__tool"), "mcp__srv__tool");
        assert_eq!(to_gemini_name("1password"), "_1password");
        assert_eq!(to_gemini_name("-x"), "_-x");
        for n in ["Bash", "_private", "1password", "-x", "mcp__a__b"] {
            assert_eq!(from_gemini_name(&to_gemini_name(n)), n);
        }
    }

    #[test]
    fn tool_choice_modes() {
        let cases = [
            (json!(null), None),
            (json!({"type": "auto"}), Some(json!({"mode": "AUTO"}))),
            (json!({"type": "any"}), Some(json!({"mode": "ANY"}))),
            (json!({"type": "none"}), Some(json!({"mode": "NONE"}))),
            (
                json!({"type": "tool", "name": "Read"}),
                Some(json!({"mode": "ANY", "allowedFunctionNames": ["Read"]})),
            ),
        ];
        for (choice, expected) in cases {
            let req = request(json!({"model": "m", "messages": [],
                "tools": [tool("Bash"), tool("Read")], "tool_choice": choice}));
            let out = translate_tools(&req, false).unwrap();
            let got = out
                .tool_config
                .map(|c| serde_json::to_value(c.function_calling_config).unwrap());
            assert_eq!(got, expected);
            assert_eq!(out.tools.unwrap()[0].declarations().len(), 2);
        }
    }

    #[test]
    fn forcing_an_unknown_tool_is_invalid() {
        let req = request(
            json!({"model": "m", "messages": [], "tools": [tool("Bash")],
            "tool_choice": {"type": "tool", "name": "Nope"}}),
        );
        let err = translate_tools(&req, false).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("Nope"));
    }

    #[test]
    fn deferred_tools_appear_once_referenced() {
        let mut deferred = tool("Later");
        deferred["defer_loading"] = json!(true);
        let hidden = request(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"}], "tools": [tool("Bash"), deferred.clone()]}));
        let out = translate_tools(&hidden, false).unwrap();
        let decls = out.tools.unwrap()[0].declarations();
        assert_eq!(
            decls.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["Bash"]
        );

        let found = request(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                "content": [{"type": "tool_reference", "tool_name": "Later"}]}]}],
            "tools": [tool("Bash"), deferred]}));
        let out = translate_tools(&found, false).unwrap();
        let decls = out.tools.unwrap()[0].declarations();
        assert_eq!(decls.len(), 2);
    }

    #[test]
    fn server_tools_dropped_or_mapped_to_google_search() {
        let only_search = request(json!({"model": "m", "messages": [],
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}]}));
        let out = translate_tools(&only_search, false).unwrap();
        assert_eq!(
            serde_json::to_value(out.tools.unwrap()).unwrap(),
            json!([{"googleSearch": {}}])
        );
        let mixed = request(json!({"model": "m", "messages": [],
            "tools": [{"type": "web_search_20250305", "name": "web_search"},
                      {"type": "bash_20250124", "name": "bash"}, tool("Read")]}));
        let out = translate_tools(&mixed, false).unwrap();
        assert_eq!(
            serde_json::to_value(out.tools.unwrap()).unwrap(),
            json!([{"functionDeclarations": [{"name": "Read", "description": "d",
                "parametersJsonSchema": {"type": "object", "properties": {"a": {"type": "string"}}}}]}])
        );
    }

    #[test]
    fn strict_mode_uses_parameters() {
        let req = request(json!({"model": "m", "messages": [], "tools": [tool("Read"),
            {"name": "NoArgs", "input_schema": {"type": "object", "properties": {}}}]}));
        let out = translate_tools(&req, true).unwrap();
        assert_eq!(
            serde_json::to_value(out.tools.unwrap()).unwrap(),
            json!([{"functionDeclarations": [
                {"name": "Read", "description": "d",
                 "parameters": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}},
                {"name": "NoArgs"}]}])
        );
    }

    #[test]
    fn a_remembered_tool_list_translates_as_the_first_time_and_a_bad_one_names_its_field() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [tool("CacheProbeRead"), tool("CacheProbeWrite")],
            "tool_choice": {"type": "tool", "name": "CacheProbeWrite"}});
        let first = translate_tools(&request(body.clone()), false).unwrap();
        let again = translate_tools(&request(body.clone()), false).unwrap();
        assert_eq!(first.tools, again.tools);
        assert_eq!(first.tool_config, again.tool_config);
        assert_eq!(
            serde_json::to_value(&again.tools).unwrap()[0]["functionDeclarations"][1]["name"],
            "CacheProbeWrite"
        );
        // The forced name is checked on a hit too.
        let mut other = body.clone();
        other["tool_choice"]["name"] = json!("Missing");
        assert!(translate_tools(&request(other), false).is_err());
        let bad = request(json!({"model": "m", "messages": [],
            "tools": [tool("Ok"), {"description": "no name"}]}));
        let e = translate_tools(&bad, false).unwrap_err().to_string();
        assert!(e.contains("tools[1]") && e.contains("name"), "{e}");
    }
}
