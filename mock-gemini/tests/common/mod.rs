//! Helpers shared by the integration tests: a valid-looking key, a plain HTTP client and
//! small wrappers that return `(status, json)`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mock_gemini::MockGemini;
use serde_json::{json, Value};

/// A key of the real format (`AIza` + 35 characters).
pub const KEY: &str = "AIzaSyA-mock-key-0000000000000000000000";
/// A second valid-format key.
pub const KEY2: &str = "AIzaSyB-mock-key-1111111111111111111111";

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// A model call's URL, under the API version that serves the model (`v1alpha` for Gemini 4).
pub fn url(mock: &MockGemini, model: &str, action: &str) -> String {
    let version = if model.starts_with("gemini-4") {
        "v1alpha"
    } else {
        "v1beta"
    };
    format!("{}/{version}/models/{model}:{action}", mock.base_url())
}

/// POSTs `body` with `key` in the header; returns status and parsed JSON.
pub async fn post_as(
    mock: &MockGemini,
    key: &str,
    model: &str,
    action: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client()
        .post(url(mock, model, action))
        .header("x-goog-api-key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn post(mock: &MockGemini, model: &str, action: &str, body: &Value) -> (u16, Value) {
    post_as(mock, KEY, model, action, body).await
}

pub async fn generate(mock: &MockGemini, model: &str, body: &Value) -> (u16, Value) {
    post(mock, model, "generateContent", body).await
}

/// A minimal valid request.
pub fn hello() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]})
}

/// The error message of an error body.
pub fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Streams with `?alt=sse` and returns the raw body text.
pub async fn stream_sse(mock: &MockGemini, model: &str, body: &Value) -> (u16, String, String) {
    let response = client()
        .post(format!(
            "{}?alt=sse",
            url(mock, model, "streamGenerateContent")
        ))
        .header("x-goog-api-key", KEY)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Parses SSE text (CRLF framing) into the JSON of each `data:` event.
pub fn sse_events(text: &str) -> Vec<Value> {
    text.split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect("data: prefix")).unwrap())
        .collect()
}

/// The model ids (without `models/`) a `models.list` page names.
pub fn model_ids(page: &Value) -> Vec<String> {
    page["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["name"]
                .as_str()
                .unwrap()
                .trim_start_matches("models/")
                .to_owned()
        })
        .collect()
}
