//! Black-box: what agents send the Messages surface now, through the built binary to the strict
//! mock — web search as Google Search (alone, streamed, beside functions with the flag Gemini
//! requires), server tools Gemini lacks left out and named in a header, images inside tool
//! results as the function response's parts (or a note where the model cannot take them), and
//! earlier searches sent back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

async fn post(gw: &Gateway, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/messages?beta=true"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "web-search-2025-03-05,a-beta-from-2027")
        .header("x-api-key", "anything")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn search_request(model: &str, stream: bool, tools: Value) -> Value {
    json!({"model": model, "max_tokens": 1024, "stream": stream,
        "messages": [{"role": "user", "content": "Perform a web search for the query: rust 2027 edition"}],
        "tools": tools})
}

fn web_search() -> Value {
    json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 8,
        "allowed_domains": ["rust-lang.org"]})
}

/// The body of the one generate call the mock saw.
fn sent(mock: &mock_gemini::MockGemini) -> Value {
    let calls = model_calls(mock);
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls[0].body.clone().unwrap()
}

/// `(event name, data)` of an Anthropic SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            (name.strip_prefix("event: ").unwrap().to_string(), data)
        })
        .collect()
}

#[tokio::test]
async fn a_web_search_request_is_answered_with_searches_sources_and_citations() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let resp = post(
        &gw,
        &search_request("gemini-3.8-flash", false, json!([web_search()])),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-gateway-dropped-tools").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(sent(&mock)["tools"], json!([{"googleSearch": {}}]));
    let content = body["content"].as_array().unwrap();
    assert_eq!(content[0]["type"], "server_tool_use", "{body}");
    assert_eq!(
        content[0]["input"]["query"],
        "Perform a web search for the query: rust 2027 edition"
    );
    assert!(content[0]["id"].as_str().unwrap().starts_with("srvtoolu_"));
    assert_eq!(content[1]["type"], "web_search_tool_result");
    assert_eq!(content[1]["content"][1]["title"], "example.org");
    let cited: Vec<&Value> = content
        .iter()
        .filter(|b| b.get("citations").is_some())
        .collect();
    assert_eq!(cited.len(), 3, "{body}");
    assert_eq!(
        cited[2]["citations"][0]["type"],
        "web_search_result_location"
    );
    assert_eq!(
        body["usage"]["server_tool_use"],
        json!({"web_search_requests": 1})
    );
    assert_eq!(body["stop_reason"], "end_turn");

    // Sent back on the next turn, the answer is taken (told as text), never refused.
    mock.clear_requests();
    let next = json!({"model": "gemini-3.8-flash", "max_tokens": 256,
        "messages": [
            {"role": "user", "content": "Perform a web search for the query: rust 2027 edition"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "Thanks. Summarise."}]});
    let resp = post(&gw, &next).await;
    assert_eq!(resp.status(), 200);
    let model_turn = &sent(&mock)["contents"][1]["parts"];
    assert!(model_turn[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("[Searched the web for"));
}

#[tokio::test]
async fn a_streamed_web_search_ends_with_the_search_blocks_and_cited_text() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let resp = post(
        &gw,
        &search_request("gemini-3.8-flash", true, json!([web_search()])),
    )
    .await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(model_calls(&mock).len(), 1);
    let evs = events(&text);
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| &d["content_block"])
        .collect();
    assert_eq!(starts[0]["type"], "server_tool_use");
    assert_eq!(starts[1]["type"], "web_search_tool_result");
    assert_eq!(
        starts[2],
        &json!({"type": "text", "text": "", "citations": []})
    );
    let citations = evs
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "citations_delta")
        .count();
    assert_eq!(citations, 4);
    let (_, delta) = evs.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(
        delta["usage"]["server_tool_use"],
        json!({"web_search_requests": 1})
    );
    assert_eq!(evs.last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn web_search_beside_functions_goes_with_the_flag_and_other_server_tools_are_named() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let tools = json!([web_search(),
        {"type": "advisor_20260301", "name": "advisor", "model": "claude-opus-5"},
        {"type": "code_execution_20250825", "name": "code_execution"},
        {"type": "bash_20250124", "name": "bash"},
        {"name": "Read", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]);
    for stream in [false, true] {
        mock.clear_requests();
        let resp = post(
            &gw,
            &search_request("gemini-3.8-flash", stream, tools.clone()),
        )
        .await;
        assert_eq!(resp.status(), 200, "stream {stream}");
        assert_eq!(
            resp.headers()["x-gateway-dropped-tools"],
            "advisor_20260301,code_execution_20250825"
        );
        let text = resp.text().await.unwrap();
        assert!(text.contains("web_search_tool_result"), "{text}");
        let body = sent(&mock);
        assert_eq!(
            body["toolConfig"],
            json!({"includeServerSideToolInvocations": true})
        );
        let tool = &body["tools"][0];
        assert_eq!(tool["googleSearch"], json!({}));
        let names: Vec<&str> = tool["functionDeclarations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["bash", "Read"]);
    }
    // count_tokens keeps the flag (Gemini checks the tools there too) and no calling mode.
    mock.clear_requests();
    let resp = client()
        .post(gw.url("/v1/messages/count_tokens"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gemini-3.8-flash", "tools": tools,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        sent(&mock)["generateContentRequest"]["toolConfig"],
        json!({"includeServerSideToolInvocations": true})
    );
}

fn screenshot_turn(model: &str) -> Value {
    json!({"model": model, "max_tokens": 512, "tools": [
            {"name": "Screenshot", "input_schema": {"type": "object", "properties": {}}}],
        "messages": [
            {"role": "user", "content": "take a screenshot"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_s", "name": "Screenshot", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_s", "content": [
                    {"type": "text", "text": "the screen"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}]})
}

#[tokio::test]
async fn an_image_in_a_tool_result_reaches_gemini_3_inside_the_function_response() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let resp = post(&gw, &screenshot_turn("gemini-3.8-flash")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let text = body["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("(with image/png)"), "{body}");
    let response = &sent(&mock)["contents"][2]["parts"][0]["functionResponse"];
    assert_eq!(
        response["parts"],
        json!([{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}])
    );

    // A model that cannot take it is told what was left out (Gemini would refuse the parts).
    mock.clear_requests();
    let resp = post(&gw, &screenshot_turn("gemini-2.5-flash-lite")).await;
    assert_eq!(resp.status(), 200);
    let response = &sent(&mock)["contents"][2]["parts"][0]["functionResponse"];
    assert!(response.get("parts").is_none(), "{response}");
    assert!(response["response"]["output"]
        .as_str()
        .unwrap()
        .contains("[Omitted from the tool result"));
}
