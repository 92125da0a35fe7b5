//! Black-box: what Claude Code and the Anthropic SDKs send now, on the built binary against the
//! strict mock — `web_search_*` becomes Google Search and its findings come back as Anthropic's
//! `server_tool_use`, `web_search_tool_result` and cited text, whole and streamed;
//! `web_fetch_*` becomes URL context; `context_management`, unknown fields and server tools
//! Gemini has no equivalent for are answered, the tools left out named in a header.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

const MODEL: &str = "gemini-3.8-flash";

async fn messages(gw: &Gateway, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/messages?beta=true"))
        .header("x-api-key", "sk-ant-x")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "context-management-2025-06-27,web-fetch-2025-09-10,advisor-tool-2026-03-01",
        )
        .json(body)
        .send()
        .await
        .unwrap()
}

fn search(stream: bool) -> Value {
    json!({"model": MODEL, "max_tokens": 1024, "stream": stream,
        "messages": [{"role": "user", "content": "Perform a web search for the query: rust 2026 edition"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}]})
}

fn kinds(content: &Value) -> Vec<String> {
    content
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_web_search_is_answered_with_search_blocks_and_citations() {
    let s = Scenario::keys(1).start().await;
    let r = messages(&s.gw, &search(false)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        kinds(&body["content"]),
        ["server_tool_use", "web_search_tool_result", "text", "text"],
        "{body}"
    );
    let content = &body["content"];
    assert_eq!(content[0]["name"], "web_search");
    assert!(content[0]["input"]["query"]
        .as_str()
        .unwrap()
        .contains("rust 2026 edition"));
    assert_eq!(content[1]["tool_use_id"], content[0]["id"]);
    assert_eq!(content[1]["content"][0]["type"], "web_search_result");
    let citation = &content[3]["citations"][0];
    assert_eq!(citation["type"], "web_search_result_location");
    assert_eq!(citation["url"], content[1]["content"][0]["url"]);
    assert_eq!(body["usage"]["server_tool_use"]["web_search_requests"], 1);
    // Gemini was asked with its Google Search tool and nothing else.
    let calls = model_calls(&s.mock);
    let tools = &calls[0].body.as_ref().unwrap()["tools"];
    assert_eq!(tools, &json!([{"googleSearch": {}}]));
}

#[tokio::test]
async fn a_streamed_web_search_ends_with_the_search_blocks() {
    let s = Scenario::keys(1).start().await;
    let r = messages(&s.gw, &search(true)).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let starts: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|e| e["type"] == "content_block_start")
        .collect();
    let blocks: Vec<&str> = starts
        .iter()
        .map(|e| e["content_block"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        blocks,
        ["text", "server_tool_use", "web_search_tool_result", "text"],
        "{text}"
    );
    let indexes: Vec<u64> = starts
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    assert!(text.contains(r#""type":"citations_delta""#), "{text}");
    assert!(text.contains("event: message_stop"));
}

#[tokio::test]
async fn context_management_and_unknown_server_tools_are_answered_not_refused() {
    let s = Scenario::keys(1).start().await;
    let body = json!({"model": MODEL, "max_tokens": 1024,
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "some_future_field": {"x": 1},
        "messages": [{"role": "user", "content": "hello there"}],
        "tools": [
            {"name": "Read", "description": "read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
            {"type": "advisor_20260301", "name": "advisor"},
            {"type": "web_search_20250305", "name": "web_search"}]});
    let r = messages(&s.gw, &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        r.headers()["x-gateway-dropped-tools"],
        "advisor_20260301,web_search"
    );
    let calls = model_calls(&s.mock);
    let tools = &calls[0].body.as_ref().unwrap()["tools"];
    assert_eq!(tools.as_array().unwrap().len(), 1);
    assert!(tools[0]["functionDeclarations"].is_array());
    assert!(tools[0].get("googleSearch").is_none());
}

#[tokio::test]
async fn web_fetch_is_url_context_and_past_search_blocks_are_accepted_back() {
    let s = Scenario::keys(1).start().await;
    let first: Value = messages(&s.gw, &search(false)).await.json().await.unwrap();
    let body = json!({"model": MODEL, "max_tokens": 1024,
        "tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}],
        "messages": [
            {"role": "user", "content": "Perform a web search for the query: rust 2026 edition"},
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": "Fetch https://example.com/post and summarise it"}]});
    let r = messages(&s.gw, &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let calls = model_calls(&s.mock);
    let last = calls.last().unwrap().body.clone().unwrap();
    assert_eq!(last["tools"], json!([{"urlContext": {}}]));
    assert!(calls.iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn a_screenshot_in_a_tool_result_reaches_the_model_on_every_generation() {
    let s = Scenario::keys(1).start().await;
    for model in [MODEL, "gemini-2.5-flash-lite"] {
        let body = json!({"model": model, "max_tokens": 1024,
            "tools": [{"name": "Screenshot", "description": "a screenshot", "input_schema": {"type": "object", "properties": {}}}],
            "messages": [
                {"role": "user", "content": "take a screenshot"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Screenshot", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                    {"type": "text", "text": "the screen"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}]});
        let r = messages(&s.gw, &body).await;
        assert_eq!(r.status(), 200, "{model}: {}", r.text().await.unwrap());
        let calls = model_calls(&s.mock);
        let last = calls.last().unwrap().body.clone().unwrap();
        let turn = &last["contents"][2]["parts"];
        let inside = turn[0]["functionResponse"]["parts"][0]["inlineData"]["mimeType"].clone();
        if model == MODEL {
            assert_eq!(inside, "image/png", "{turn}");
        } else {
            assert!(inside.is_null(), "{turn}");
            assert_eq!(turn[1]["inlineData"]["mimeType"], "image/png", "{turn}");
        }
    }
}
