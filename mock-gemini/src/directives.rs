//! What the fake model reads in a user's words: the functions the request declares, a `run`
//! of a backquoted command (a call on the agent's shell tool, its arguments named as that tool's
//! schema names them), and `call <name>` of declared functions (their required string
//! parameters filled with the quoted text after the directive). The calls an agent asks for are
//! made one turn after another: a function declared only later (a deferred tool, revealed by a
//! tool search) is called once it is declared, after the responses of the earlier ones.

use serde_json::{json, Map, Value};

pub fn declared_functions(request: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    for tool in request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for decl in tool
            .get("functionDeclarations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = decl.get("name").and_then(Value::as_str) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Shell tools as the coding agents name them, most specific first.
const SHELL_TOOLS: [&str; 5] = [
    "Bash",
    "run_shell_command",
    "exec_command",
    "shell",
    "local_shell",
];

/// The call that runs `command`: on the agent's shell tool (else the first declared function),
/// its arguments named as that tool's schema names them (`command` or `cmd`, and a
/// `description` where the schema has one).
pub fn shell_call(
    request: &Map<String, Value>,
    declared: &[String],
    command: &str,
) -> (String, Value) {
    let target = SHELL_TOOLS
        .iter()
        .find(|t| declared.iter().any(|d| d == *t))
        .map_or_else(|| declared[0].clone(), |t| (*t).to_owned());
    let properties = declaration(request, &target)
        .and_then(|d| {
            d.get("parametersJsonSchema")
                .or_else(|| d.get("parameters"))
        })
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if properties.is_empty() {
        return (
            target,
            json!({"command": command, "description": "Run the requested command"}),
        );
    }
    let mut args = Map::new();
    let name = if properties.contains_key("cmd") {
        "cmd"
    } else {
        "command"
    };
    args.insert(name.to_owned(), json!(command));
    if properties.contains_key("description") {
        args.insert("description".to_owned(), json!("Run the requested command"));
    }
    (target, Value::Object(args))
}

/// The declaration of function `name`.
fn declaration<'a>(request: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .find(|d| d.get("name").and_then(Value::as_str) == Some(name))
}

/// The backquoted command after the word "run", if any.
pub fn requested_command(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut search = 0;
    while let Some(found) = lower[search..].find("run") {
        let at = search + found;
        let before_ok = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after_ok = lower
            .as_bytes()
            .get(at + 3)
            .is_none_or(|b| !b.is_ascii_alphanumeric());
        if before_ok && after_ok {
            let rest = &text[at + 3..];
            if let Some(open) = rest.find('`') {
                let body = &rest[open + 1..];
                if let Some(close) = body.find('`') {
                    return Some(body[..close].to_owned());
                }
            }
        }
        search = at + 3;
    }
    None
}

/// The arguments of a requested call: each required string parameter of the function's schema
/// gets the first double-quoted text after `call <name>` (`call WebSearch for "rust 2027"`).
pub fn quoted_args(request: &Map<String, Value>, name: &str, text: &str) -> Value {
    let directive = format!("call {}", name.to_ascii_lowercase());
    let from = text.to_ascii_lowercase().find(&directive).unwrap_or(0);
    let quoted = text
        .get(from..)
        .and_then(|rest| rest.split_once('"'))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(inside, _)| inside);
    let schema = declaration(request, name).and_then(|d| {
        d.get("parametersJsonSchema")
            .or_else(|| d.get("parameters"))
    });
    let mut args = Map::new();
    if let (Some(quoted), Some(schema)) = (quoted, schema) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let Some(field) = required.as_str() else {
                continue;
            };
            let kind = schema["properties"][field]["type"]
                .as_str()
                .unwrap_or_default();
            if kind.eq_ignore_ascii_case("string") {
                args.insert(field.to_owned(), json!(quoted));
            }
        }
    }
    Value::Object(args)
}

/// After function responses: the next call the user asked for (`call <name>`) that no model
/// turn has made yet, among the functions declared now.
pub fn next_requested(
    request: &Map<String, Value>,
    declared: &[String],
) -> Option<(String, Value)> {
    let contents = request.get("contents").and_then(Value::as_array)?;
    let mut asked = Vec::new();
    let mut made = Vec::new();
    for content in contents {
        let parts = content
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        if content.get("role").and_then(Value::as_str) == Some("model") {
            made.extend(parts.filter_map(|p| p["functionCall"]["name"].as_str()));
        } else {
            asked.extend(parts.filter_map(|p| p.get("text").and_then(Value::as_str)));
        }
    }
    let asked = asked.join("\n");
    let name = requested_calls(&asked, declared)
        .into_iter()
        .find(|n| !made.contains(&n.as_str()))?;
    let args = quoted_args(request, &name, &asked);
    Some((name, args))
}

/// Every `call <name>` that names a declared function, in order.
pub fn requested_calls(text: &str, declared: &[String]) -> Vec<String> {
    let mut calls = Vec::new();
    let mut words = text.split_whitespace().peekable();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("call") {
            if let Some(next) = words.peek() {
                let name = next.trim_matches(|c: char| {
                    !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                });
                if declared.iter().any(|d| d == name) {
                    calls.push(name.to_owned());
                }
            }
        }
    }
    calls
}
