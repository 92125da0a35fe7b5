//! Request translation tests: one per contract item, plus snapshots of the Claude Code captures.
//! The shared helpers are here; the tests, by area, in `conversation` (validation, captures,
//! system, content, tools, signatures), `config` (generation config, count_tokens, hostile
//! input) and `agents` (what agents send now: media in tool results, earlier searches echoed).

mod agents;
mod config;
mod conversation;
mod long_texts;

use super::*;
use crate::surfaces::anthropic::signatures::SKIP_SIGNATURE_SENTINEL;
use serde_json::{json, Value};

const FIRST_TURN: &str =
    include_str!("../../../../tests/fixtures/anthropic/claude-code-first-turn.json");
const TOOL_RESULT_TURN: &str =
    include_str!("../../../../tests/fixtures/anthropic/claude-code-tool-result-turn.json");

fn opts() -> TranslateOptions {
    TranslateOptions::default()
}

/// The names these tests resolve Claude's names with.
fn naming() -> crate::models::Naming {
    crate::models::Naming {
        big: Some("gemini-2.5-pro".into()),
        small: Some("gemini-2.5-flash".into()),
        retired_aliases: false,
        ..crate::models::Naming::default()
    }
}

fn resolve(client: &str) -> Result<String, crate::models::Unresolved> {
    crate::models::names::resolve(
        &naming(),
        None,
        client,
        crate::surfaces::anthropic::claude_tier,
    )
    .map(|r| r.model.to_string())
}

fn parse(body: Value) -> MessagesRequest {
    parse_messages_request(body.to_string().as_bytes()).unwrap()
}

/// Translate `body` for `model` and return the Gemini body as JSON.
fn gemini(body: Value, model: &str) -> Value {
    let req = parse(body);
    serde_json::to_value(to_generate_content(&req, model, &opts()).unwrap()).unwrap()
}

fn body(messages: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages})
}

fn invalid(body: &str) -> String {
    let err = parse_messages_request(body.as_bytes()).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert_eq!(err.body()["error"]["type"], "invalid_request_error");
    err.to_string()
}

fn snapshot(name: &str, actual: &Value) {
    crate::snapshot::assert_snapshot("anthropic", name, actual);
}

fn resolve_model_for_test(client: &str) -> String {
    resolve(client).unwrap()
}
