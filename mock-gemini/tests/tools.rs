//! Built-in tools and media in function responses, as Google enforces and answers them:
//! Google Search beside functions only with `includeServerSideToolInvocations`, a searched
//! answer's `groundingMetadata` (whole and streamed), the search shown as `toolCall` /
//! `toolResponse` parts when asked for, and `functionResponse.parts` only on Gemini 3 and later.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mock_gemini::MockGemini;
use serde_json::{json, Value};

fn search(flag: Option<bool>, functions: bool) -> Value {
    let mut tool = json!({"googleSearch": {}});
    if functions {
        tool["functionDeclarations"] = json!([{"name": "Read",
            "parametersJsonSchema": {"type": "object", "properties": {"path": {"type": "string"}}}}]);
    }
    let mut body = json!({"contents": [{"role": "user", "parts": [{"text": "Weather in Zürich?"}]}],
        "tools": [tool]});
    if let Some(flag) = flag {
        body["toolConfig"] = json!({"includeServerSideToolInvocations": flag});
    }
    body
}

#[tokio::test]
async fn built_in_tools_beside_functions_need_the_flag() {
    let mock = MockGemini::start().await.unwrap();
    for body in [search(None, true), search(Some(false), true)] {
        let (status, response) = generate(&mock, "gemini-3.8-flash", &body).await;
        assert_eq!(status, 400, "{response}");
        assert_eq!(
            message(&response),
            "Please enable tool_config.include_server_side_tool_invocations to use Built-in tools with Function calling."
        );
    }
    // Separate Tool entries count alike.
    let mut split = search(None, false);
    split["tools"]
        .as_array_mut()
        .unwrap()
        .push(json!({"functionDeclarations": [{"name": "Read"}]}));
    let (status, _) = generate(&mock, "gemini-3.8-flash", &split).await;
    assert_eq!(status, 400);
    for body in [search(Some(true), true), search(None, false)] {
        let (status, response) = generate(&mock, "gemini-3.8-flash", &body).await;
        assert_eq!(status, 200, "{response}");
    }
}

#[tokio::test]
async fn a_searched_answer_carries_grounding_metadata() {
    let mock = MockGemini::start().await.unwrap();
    let (status, response) = generate(&mock, "gemini-3.8-flash", &search(None, false)).await;
    assert_eq!(status, 200, "{response}");
    let candidate = &response["candidates"][0];
    let text = candidate["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect::<String>();
    assert!(
        text.starts_with("Mock search answer from gemini-3.8-flash"),
        "{text}"
    );
    let meta = &candidate["groundingMetadata"];
    assert_eq!(meta["webSearchQueries"], json!(["Weather in Zürich?"]));
    assert!(meta["groundingChunks"][0]["web"]["uri"]
        .as_str()
        .unwrap()
        .starts_with("https://vertexaisearch.cloud.google.com/grounding-api-redirect/"));
    for support in meta["groundingSupports"].as_array().unwrap() {
        let segment = &support["segment"];
        let start = segment["startIndex"].as_u64().unwrap_or(0) as usize;
        let end = segment["endIndex"].as_u64().unwrap() as usize;
        assert_eq!(&text[start..end], segment["text"].as_str().unwrap());
    }
    // Not shown unless asked for.
    assert!(!response.to_string().contains("toolCall"));
}

#[tokio::test]
async fn a_streamed_search_grounds_the_last_chunk_and_shows_the_search_when_asked() {
    let mock = MockGemini::start().await.unwrap();
    let (status, _, text) = stream_sse(&mock, "gemini-3.8-flash", &search(Some(true), true)).await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let last = events.last().unwrap();
    assert!(last["candidates"][0]["finishReason"].is_string());
    assert!(last["candidates"][0]["groundingMetadata"]["groundingSupports"].is_array());
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| e["candidates"][0].get("groundingMetadata").is_none()));
    let shown = &events[0]["candidates"][0]["content"]["parts"];
    assert_eq!(shown[0]["toolCall"]["toolType"], "GOOGLE_SEARCH_WEB");
    assert_eq!(
        shown[0]["toolCall"]["args"]["queries"],
        json!(["Weather in Zürich?"])
    );
    assert_eq!(shown[1]["toolResponse"]["id"], shown[0]["toolCall"]["id"]);
    // The shown parts may come back in the history.
    let mut next = search(Some(true), true);
    let turns = next["contents"].as_array_mut().unwrap();
    turns.push(json!({"role": "model", "parts": [shown[0], shown[1], {"text": "It is sunny."}]}));
    turns.push(json!({"role": "user", "parts": [{"text": "And tomorrow?"}]}));
    let (status, response) = generate(&mock, "gemini-3.8-flash", &next).await;
    assert_eq!(status, 200, "{response}");
}

fn with_media(model_call: &str) -> Value {
    json!({"contents": [
        {"role": "user", "parts": [{"text": "read the screenshot"}]},
        {"role": "model", "parts": [{"functionCall": {"name": model_call, "args": {}},
            "thoughtSignature": "skip_thought_signature_validator"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": model_call,
            "response": {"output": "a screenshot"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}]}}]}
    ], "tools": [{"functionDeclarations": [{"name": model_call}]}]})
}

#[tokio::test]
async fn media_in_a_function_response_only_where_the_model_takes_it() {
    let mock = MockGemini::start().await.unwrap();
    let (status, response) = generate(&mock, "gemini-3.8-flash", &with_media("Read")).await;
    assert_eq!(status, 200, "{response}");
    let text = response["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("(with image/png)"), "{text}");
    let (status, response) = generate(&mock, "gemini-2.5-flash-lite", &with_media("Read")).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(
        message(&response),
        "Unable to submit request because `function_response.parts` is not supported for this model. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/function-calling"
    );
    // Each part needs its data, with a type.
    let mut empty = with_media("Read");
    empty["contents"][2]["parts"][0]["functionResponse"]["parts"] =
        json!([{}, {"inlineData": {"mimeType": "", "data": "AAAA"}}]);
    let (status, response) = generate(&mock, "gemini-3.8-flash", &empty).await;
    assert_eq!(status, 400);
    let m = message(&response);
    assert!(m.contains("function_response.parts[0].data: required oneof field 'data' must have one initialized field"), "{m}");
    assert!(
        m.contains(
            "function_response.parts[1].inline_data.mime_type: mime_type must not be empty."
        ),
        "{m}"
    );
    // Unknown fields inside are refused as anywhere else.
    let mut unknown = with_media("Read");
    unknown["contents"][2]["parts"][0]["functionResponse"]["parts"][0]["inlineData"]["colour"] =
        json!("red");
    let (status, response) = generate(&mock, "gemini-3.8-flash", &unknown).await;
    assert_eq!(status, 400);
    assert!(
        message(&response).contains("Unknown name \"colour\""),
        "{response}"
    );
}

#[tokio::test]
async fn a_streamed_search_alone_is_grounded_too() {
    let mock = MockGemini::start().await.unwrap();
    let mut body = search(None, false);
    body["contents"][0]["parts"][0]["text"] =
        json!("Perform a web search for the query: rust 2027 edition");
    body["generationConfig"] =
        json!({"maxOutputTokens": 1024, "thinkingConfig": {"thinkingLevel": "MINIMAL"}});
    let (status, _, text) = stream_sse(&mock, "gemini-3.8-flash", &body).await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    assert!(events.last().unwrap()["candidates"][0]["groundingMetadata"].is_object());
}
