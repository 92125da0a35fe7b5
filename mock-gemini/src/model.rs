//! The fake model: deterministic answers and token counts.
//!
//! Given a validated request it decides what "the model" says: an echo of the last user
//! text, a function call when the user asks to `run` a backquoted command or to `call` a
//! declared function (its required string parameters filled with the request's first quoted
//! text), a summary of function responses (and of the media they carry), a
//! grounded answer when Google Search is on (see `search`), optional thoughts, and usage
//! numbers (≈ 4 characters per token) that `countTokens` reproduces exactly. The result
//! is a `Plan` that `respond.rs` turns into a response or a stream.

use serde_json::{json, Map, Value};

use crate::directives::{
    declared_functions, next_requested, quoted_args, requested_calls, requested_command, shell_call,
};
use crate::models_catalog::{ModelInfo, Thinking};
use crate::shaping::shape_text;

/// What the model answers, before it is framed as JSON or SSE.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Thought summary shown to the client (only with `includeThoughts`).
    pub thought: Option<String>,
    /// Tokens spent thinking (reported even when thoughts are hidden).
    pub thoughts_tokens: u64,
    /// The visible answer text (may be empty).
    pub text: String,
    /// Function calls: name and args.
    pub calls: Vec<(String, Value)>,
    /// `STOP` or `MAX_TOKENS`.
    pub finish_reason: &'static str,
    /// Prompt tokens (same as `countTokens`).
    pub prompt_tokens: u64,
    /// Output tokens of text and calls.
    pub candidates_tokens: u64,
    /// Whether the model signs its function calls / final text (thinking models).
    pub signs: bool,
    /// Gemini 4 spent the whole `maxOutputTokens` thinking: the candidate has no parts at all
    /// (not even a thought summary), `finishReason: MAX_TOKENS`.
    pub exhausted: bool,
    /// The text was found by Google Search for this query: the answer carries its metadata.
    pub searched: Option<String>,
    /// The search is shown as `toolCall` / `toolResponse` parts.
    pub shows_search: bool,
}

impl Plan {
    /// The rest of this answer after `prefill`, a trailing `model` turn the request ends with:
    /// its text is continued where it stops (when it is the start of this answer), and the
    /// function calls it already holds are not made again. Continuations think no more.
    pub fn continued(mut self, prefill: &Value) -> Plan {
        let parts = prefill.get("parts").and_then(Value::as_array);
        let text: String = parts
            .into_iter()
            .flatten()
            .filter(|p| p.get("thought") != Some(&Value::Bool(true)))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        if let Some(rest) = self.text.strip_prefix(text.as_str()) {
            self.text = rest.to_string();
        }
        let made: Vec<&str> = parts
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("functionCall")?.get("name")?.as_str())
            .collect();
        for name in made {
            if let Some(i) = self.calls.iter().position(|(n, _)| n == name) {
                self.calls.remove(i);
            }
        }
        self.thought = None;
        self.thoughts_tokens = 0;
        self
    }
}

/// The trailing `model` turn a request ends with, if it does.
pub fn prefill(request: &Map<String, Value>) -> Option<&Value> {
    request
        .get("contents")
        .and_then(Value::as_array)?
        .last()
        .filter(|c| c.get("role").and_then(Value::as_str) == Some("model"))
}

/// ≈ 4 characters per token, rounded up.
pub fn tokens_for_chars(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

pub(crate) fn json_chars(value: &Value) -> usize {
    serde_json::to_string(value).map(|s| chars(&s)).unwrap_or(0)
}

fn parts(content: &Value) -> &[Value] {
    content
        .get("parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn part_chars(part: &Value) -> usize {
    if let Some(text) = part.get("text").and_then(Value::as_str) {
        return chars(text);
    }
    if let Some(call) = part.get("functionCall") {
        return chars(call["name"].as_str().unwrap_or_default()) + json_chars(&call["args"]);
    }
    if let Some(response) = part.get("functionResponse") {
        return chars(response["name"].as_str().unwrap_or_default())
            + json_chars(&response["response"]);
    }
    if part.get("inlineData").is_some() || part.get("fileData").is_some() {
        return 258 * 4;
    }
    json_chars(part)
}

/// The characters one `Content` counts for.
pub(crate) fn content_chars(content: &Value) -> usize {
    parts(content).iter().map(part_chars).sum()
}

/// Prompt tokens of a normalised generate request: text, calls, responses, media and tools.
pub fn prompt_tokens(request: &Map<String, Value>) -> u64 {
    let mut total = 0;
    if let Some(system) = request.get("systemInstruction") {
        total += content_chars(system);
    }
    for content in request
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        total += content_chars(content);
    }
    if let Some(tools) = request.get("tools") {
        total += json_chars(tools);
    }
    tokens_for_chars(total).max(1)
}

fn response_summary(response: &Value) -> String {
    let payload = &response["response"];
    let inner = ["output", "content", "result"]
        .iter()
        .find_map(|k| payload.get(*k))
        .unwrap_or(payload);
    let text = match inner {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    let mut summary: String = text.chars().take(200).collect();
    // What the model saw besides the JSON: the media the function returned.
    let media: Vec<&str> = response["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["inlineData"]["mimeType"].as_str())
        .collect();
    if !media.is_empty() {
        summary.push_str(&format!(" (with {})", media.join(", ")));
    }
    summary
}

fn thinking_active(model: &ModelInfo, budget: Option<i64>) -> bool {
    match model.thinking {
        Thinking::None => false,
        Thinking::Always => true,
        Thinking::OptIn => budget.is_some_and(|b| b != 0),
    }
}

/// Decides the answer to a validated, normalised generate request.
pub fn plan(request: &Map<String, Value>, model: &ModelInfo) -> Plan {
    let contents = request
        .get("contents")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let last_user = contents
        .iter()
        .rev()
        .find(|c| c.get("role").and_then(Value::as_str) != Some("model"));
    let user_parts = last_user.map_or(&[][..], parts);
    let texts: Vec<&str> = user_parts
        .iter()
        .filter(|p| p.get("thought") != Some(&Value::Bool(true)))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    let last_text = texts.last().copied().unwrap_or_default();
    let responses: Vec<&Value> = user_parts
        .iter()
        .filter_map(|p| p.get("functionResponse"))
        .collect();

    let config = request
        .get("generationConfig")
        .cloned()
        .unwrap_or(Value::Null);
    let mode = request
        .get("toolConfig")
        .and_then(|c| c.get("functionCallingConfig"))
        .and_then(|c| c.get("mode"))
        .and_then(Value::as_str)
        .unwrap_or("AUTO");
    let mut declared = declared_functions(request);
    let allowed: Vec<String> = request
        .get("toolConfig")
        .and_then(|c| {
            c["functionCallingConfig"]["allowedFunctionNames"]
                .as_array()
                .cloned()
        })
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if !allowed.is_empty() {
        declared.retain(|d| allowed.contains(d));
    }
    if mode == "NONE" {
        declared.clear();
    }

    let mut text = String::new();
    let mut calls = Vec::new();
    let mut searched = None;
    if let Some(call) = (!responses.is_empty())
        .then(|| next_requested(request, &declared))
        .flatten()
    {
        calls.push(call);
    } else if !responses.is_empty() {
        text = responses
            .iter()
            .map(|r| {
                format!(
                    "Tool {} returned: {}",
                    r["name"].as_str().unwrap_or_default(),
                    response_summary(r)
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
    } else {
        let joined = texts.join("\n");
        if !declared.is_empty() {
            // The user's own words come last (agents put reminders before them, which may quote
            // commands of their own).
            if let Some(command) = texts.iter().rev().find_map(|t| requested_command(t)) {
                calls.push(shell_call(request, &declared, &command));
            } else {
                for name in requested_calls(&joined, &declared) {
                    let args = quoted_args(request, &name, &joined);
                    calls.push((name, args));
                }
            }
            if calls.is_empty() && mode == "ANY" {
                calls.push((declared[0].clone(), json!({})));
            }
        }
        if calls.is_empty() {
            let snippet: String = last_text.chars().take(80).collect();
            if crate::search::searches(request) {
                text = crate::search::answer(model.served_id(), &snippet);
                searched = Some(snippet);
            } else {
                text = format!("Mock reply from {}: {snippet}", model.served_id());
            }
        }
    }

    if calls.is_empty() {
        text = shape_text(text, &config);
    }

    let thinking = config.get("thinkingConfig");
    let budget = thinking
        .and_then(|t| t.get("thinkingBudget"))
        .and_then(Value::as_i64);
    let include = thinking.and_then(|t| t.get("includeThoughts")) == Some(&Value::Bool(true));
    let active = thinking_active(model, budget);
    let mut thought_text = if active {
        let subject = calls.first().map_or_else(
            || "I will answer the request directly.".to_owned(),
            |(name, _)| format!("I will call the `{name}` tool."),
        );
        format!("**Considering the request**\n\nThe user wrote a message of {} characters. {subject}\n\n", chars(last_text))
    } else {
        String::new()
    };

    let max = config
        .get("maxOutputTokens")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0)
        .unwrap_or(u64::from(model.output_limit));
    // Gemini 4 thinks a fixed amount per level, and that counts against `maxOutputTokens`: a
    // limit no larger than that cost leaves an answer with no parts.
    let mut thoughts_tokens = if model.is_gemini4() {
        let level = config
            .get("thinkingConfig")
            .and_then(|t| t.get("thinkingLevel"))
            .and_then(Value::as_str);
        model.thinking_cost(level)
    } else {
        tokens_for_chars(chars(&thought_text))
    };
    let exhausted = model.is_gemini4() && thoughts_tokens >= max;
    if thoughts_tokens > max {
        thoughts_tokens = max;
        thought_text = thought_text.chars().take((max * 4) as usize).collect();
    }
    let budget_left = max - thoughts_tokens;
    let call_chars: usize = calls.iter().map(|(n, a)| chars(n) + json_chars(a)).sum();
    let mut finish_reason = "STOP";
    if tokens_for_chars(call_chars) > budget_left {
        calls.clear();
        finish_reason = "MAX_TOKENS";
    }
    if tokens_for_chars(chars(&text)) > budget_left {
        text = text.chars().take((budget_left * 4) as usize).collect();
        finish_reason = "MAX_TOKENS";
    }
    let candidates_tokens = tokens_for_chars(
        chars(&text)
            + calls
                .iter()
                .map(|(n, a)| chars(n) + json_chars(a))
                .sum::<usize>(),
    );

    Plan {
        thought: (include && active && !exhausted && !thought_text.is_empty())
            .then_some(thought_text),
        thoughts_tokens: if active { thoughts_tokens } else { 0 },
        text,
        calls,
        finish_reason,
        prompt_tokens: prompt_tokens(request),
        candidates_tokens,
        signs: active,
        exhausted,
        shows_search: searched.is_some() && crate::search::shows_invocations(request),
        searched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models_catalog::find;

    fn request(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn run_directive_uses_each_agents_shell_tool_and_its_argument_names() {
        let codex = request(json!({
            "contents": [{"role": "user", "parts": [{"text": "run `echo hi` with the shell tool"}]}],
            "tools": [{"functionDeclarations": [
                {"name": "write_stdin", "parametersJsonSchema": {"type": "object", "properties": {"chars": {"type": "string"}}}},
                {"name": "exec_command", "parametersJsonSchema": {"type": "object", "properties": {"cmd": {"type": "string"}}}}]}]
        }));
        let p = plan(&codex, find("gemini-3.8-flash").unwrap());
        assert_eq!(
            (p.calls[0].0.as_str(), &p.calls[0].1),
            ("exec_command", &json!({"cmd": "echo hi"}))
        );
        let gemini_cli = request(json!({
            "contents": [{"role": "user", "parts": [{"text": "run `echo hi`"}]}],
            "tools": [{"functionDeclarations": [
                {"name": "read_file", "parametersJsonSchema": {"type": "object", "properties": {"path": {"type": "string"}}}},
                {"name": "run_shell_command", "parametersJsonSchema": {"type": "object", "properties": {
                    "command": {"type": "string"}, "description": {"type": "string"}}}}]}]
        }));
        let p = plan(&gemini_cli, find("gemini-3.8-flash").unwrap());
        assert_eq!(p.calls[0].0, "run_shell_command");
        assert_eq!(
            p.calls[0].1,
            json!({"command": "echo hi", "description": "Run the requested command"})
        );
    }

    #[test]
    fn run_directive_calls_bash() {
        let req = request(json!({
            "contents": [{"role": "user", "parts": [{"text": "Please run `echo hello` with Bash"}]}],
            "tools": [{"functionDeclarations": [{"name": "Read"}, {"name": "Bash"}]}]
        }));
        let plan = plan(&req, find("gemini-3.8-flash").unwrap());
        assert_eq!(plan.calls.len(), 1);
        assert_eq!(plan.calls[0].0, "Bash");
        assert_eq!(plan.calls[0].1["command"], "echo hello");
        assert!(plan.text.is_empty());
    }

    #[test]
    fn echo_and_function_response_answers() {
        let req =
            request(json!({"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}));
        let p = plan(&req, find("gemini-2.5-flash-lite").unwrap());
        assert_eq!(p.text, "Mock reply from gemini-2.5-flash-lite: hello there");
        assert_eq!(p.thoughts_tokens, 0);
        let req = request(json!({"contents": [
            {"role": "user", "parts": [{"text": "x"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "Bash", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {"output": "hello"}}}]}
        ]}));
        let p = plan(&req, find("gemini-3.8-flash").unwrap());
        assert_eq!(p.text, "Tool Bash returned: hello");
    }

    #[test]
    fn small_max_output_tokens_truncates() {
        let req = request(json!({
            "contents": [{"parts": [{"text": "a fairly long question that produces a long echo"}]}],
            "generationConfig": {"maxOutputTokens": 3}
        }));
        let p = plan(&req, find("gemini-2.5-flash-lite").unwrap());
        assert_eq!(p.finish_reason, "MAX_TOKENS");
        assert_eq!(p.text.chars().count(), 12);
        assert_eq!(p.candidates_tokens, 3);
    }

    #[test]
    fn calls_asked_for_are_made_one_turn_after_another_once_declared() {
        let tool = |name: &str| {
            json!({"name": name, "parametersJsonSchema": {"type": "object",
            "properties": {"query": {"type": "string"}}, "required": ["query"]}})
        };
        let ask = "call Lookup for \"select:Search\" then call Search for \"rust\"";
        // Search is not declared yet: only Lookup is called.
        let first = request(
            json!({"contents": [{"role": "user", "parts": [{"text": ask}]}],
            "tools": [{"functionDeclarations": [tool("Lookup")]}]}),
        );
        let p = plan(&first, find("gemini-3.8-flash").unwrap());
        assert_eq!(
            p.calls,
            vec![("Lookup".to_owned(), json!({"query": "select:Search"}))]
        );
        // Its response came, and Search is declared now: Search is called next.
        let second = request(json!({"contents": [
            {"role": "user", "parts": [{"text": ask}]},
            {"role": "model", "parts": [{"functionCall": {"name": "Lookup", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "Lookup", "response": {}}}]}],
            "tools": [{"functionDeclarations": [tool("Lookup"), tool("Search")]}]}));
        let p = plan(&second, find("gemini-2.5-flash-lite").unwrap());
        assert_eq!(
            p.calls,
            vec![("Search".to_owned(), json!({"query": "rust"}))]
        );
        // Then nothing is left to call: the answer sums the responses up.
        let mut third = second.clone();
        let turns = third.get_mut("contents").unwrap().as_array_mut().unwrap();
        turns.push(
            json!({"role": "model", "parts": [{"functionCall": {"name": "Search", "args": {}}}]}),
        );
        turns.push(json!({"role": "user", "parts": [{"functionResponse": {"name": "Search", "response": {"output": "found"}}}]}));
        let p = plan(&third, find("gemini-2.5-flash-lite").unwrap());
        assert!(p.calls.is_empty());
        assert_eq!(p.text, "Tool Search returned: found");
    }

    #[test]
    fn call_directive_names_declared_functions() {
        assert_eq!(
            requested_calls("please call Read and call Nope", &["Read".to_owned()]),
            vec!["Read"]
        );
        assert_eq!(
            requested_command("Run `ls -la` now").as_deref(),
            Some("ls -la")
        );
        assert_eq!(requested_command("the runner `x`"), None);
        let req = request(json!({"contents": [], "tools": [{"functionDeclarations": [
            {"name": "WebSearch", "parametersJsonSchema": {"type": "object",
                "properties": {"query": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["query", "n"]}}]}]}));
        let text = "call ToolSearch for \"select:WebSearch\" then call WebSearch for \"rust 2027\"";
        assert_eq!(
            quoted_args(&req, "WebSearch", text),
            json!({"query": "rust 2027"})
        );
        assert_eq!(quoted_args(&req, "WebSearch", "call WebSearch"), json!({}));
    }
}
