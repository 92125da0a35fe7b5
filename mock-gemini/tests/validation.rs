//! Strict request validation: one test per rejection, with Google's wording, and realistic
//! valid requests that must pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mock_gemini::MockGemini;
use serde_json::{json, Value};

async fn rejects(model: &str, body: Value) -> String {
    let mock = MockGemini::start().await.unwrap();
    let (status, response) = generate(&mock, model, &body).await;
    assert_eq!(status, 400, "expected a rejection, got {response}");
    assert_eq!(response["error"]["status"], "INVALID_ARGUMENT");
    message(&response)
}

async fn accepts(model: &str, body: Value) -> Value {
    let mock = MockGemini::start().await.unwrap();
    let (status, response) = generate(&mock, model, &body).await;
    assert_eq!(status, 200, "expected success, got {response}");
    response
}

fn with_user(extra: Value) -> Value {
    let mut body = hello();
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The translated Claude Code request of research 11.2.
fn realistic() -> Value {
    json!({
      "systemInstruction": {"parts": [{"text": "You are Claude Code, Anthropic's official CLI for Claude."}]},
      "contents": [{"role": "user", "parts": [{"text": "Create approved.txt containing \"Approved content\""}]}],
      "tools": [{"functionDeclarations": [
        {"name": "Write", "description": "Writes a file to the local filesystem.",
         "parametersJsonSchema": {"type": "object",
           "properties": {"file_path": {"type": "string", "description": "The absolute path"}, "content": {"type": "string"}},
           "required": ["file_path", "content"], "additionalProperties": false}},
        {"name": "Read", "description": "Reads a file.",
         "parametersJsonSchema": {"type": "object",
           "properties": {"file_path": {"type": "string"}, "offset": {"type": "integer", "minimum": 1}, "limit": {"type": "integer", "minimum": 1}},
           "required": ["file_path"], "additionalProperties": false}}
      ]}],
      "generationConfig": {"maxOutputTokens": 32000, "thinkingConfig": {"thinkingBudget": 8000, "includeThoughts": true}},
      "safetySettings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"},
        {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"},
        {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "OFF"},
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "OFF"}
      ]
    })
}

#[tokio::test]
async fn realistic_request_passes_and_thinks() {
    let response = accepts("gemini-3.8-flash", realistic()).await;
    let parts = response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts[0]["thought"], true);
    assert!(
        response["usageMetadata"]["thoughtsTokenCount"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn snake_case_and_legacy_parameters_pass() {
    accepts(
        "gemini-3.8-flash",
        json!({
            "system_instruction": {"parts": [{"text": "sys"}]},
            "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}}]}],
            "tools": [{"function_declarations": [{"name": "get_weather", "parameters": {
                "type": "object", "properties": {"city": {"type": "string", "enum": ["Paris"]},
                "days": {"type": "integer", "minimum": 1}, "tags": {"type": "array", "items": {"type": "string"}}},
                "required": ["city"]}}]}],
            "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["get_weather"]}},
            "generation_config": {"max_output_tokens": 100, "stop_sequences": ["END"], "temperature": 0.5}
        }),
    )
    .await;
}

#[tokio::test]
async fn unknown_top_level_field() {
    let msg = rejects("gemini-3.8-flash", with_user(json!({"max_tokens": 10}))).await;
    assert_eq!(
        msg,
        "Invalid JSON payload received. Unknown name \"max_tokens\": Cannot find field."
    );
}

/// POSTs a raw body (member order matters, so no `json!`).
async fn post_raw(mock: &MockGemini, body: &str) -> (u16, Value) {
    let response = client()
        .post(url(mock, "gemini-3.8-flash", "generateContent"))
        .header("x-goog-api-key", KEY)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn unknown_schema_keyword_has_snake_case_path_and_field_violation() {
    let body = r#"{"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"functionDeclarations": [
            {"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}},
            {"name": "b", "parameters": {"type": "object", "properties": {
                "p0": {"type": "string"}, "p1": {"type": "string"}, "p2": {"type": "string"},
                "limit": {"type": "integer", "exclusiveMinimum": 0}}}}]}]}"#;
    let mock = MockGemini::start().await.unwrap();
    let (status, response) = post_raw(&mock, body).await;
    assert_eq!(status, 400);
    let path = "tools[0].function_declarations[1].parameters.properties[3].value";
    let expected = format!("Invalid JSON payload received. Unknown name \"exclusiveMinimum\" at '{path}': Cannot find field.");
    assert_eq!(message(&response), expected);
    let detail = &response["error"]["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert_eq!(detail["fieldViolations"][0]["field"], path);
    assert_eq!(detail["fieldViolations"][0]["description"], expected);
}

#[tokio::test]
async fn schema_keywords_outside_the_openapi_subset() {
    for keyword in [
        "$schema",
        "additionalProperties",
        "const",
        "$ref",
        "oneOf",
        "allOf",
    ] {
        let mut body = hello();
        body["tools"] = json!([{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", keyword: {}}}]}]);
        let msg = rejects("gemini-3.8-flash", body).await;
        assert!(
            msg.contains(&format!(
                "Unknown name \"{keyword}\" at 'tools[0].function_declarations[0].parameters'"
            )),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn parameters_and_parameters_json_schema_together() {
    let mut body = hello();
    body["tools"] = json!([{"functionDeclarations": [{"name": "f",
        "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
        "parametersJsonSchema": {"type": "object"}}]}]);
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.contains("parameters_json_schema and parameters are mutually exclusive"),
        "{msg}"
    );
}

#[tokio::test]
async fn invalid_function_name() {
    let mut body = hello();
    body["tools"] = json!([{"functionDeclarations": [{"name": "1bad name"}]}]);
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(msg.starts_with(
        "* GenerateContentRequest.tools[0].function_declarations[0].name: Invalid function name."
    ));
}

#[tokio::test]
async fn empty_contents() {
    let msg = rejects("gemini-3.8-flash", json!({"contents": []})).await;
    assert_eq!(
        msg,
        "* GenerateContentRequest.contents: contents is not specified\n"
    );
}

#[tokio::test]
async fn empty_parts() {
    let msg = rejects(
        "gemini-3.8-flash",
        json!({"contents": [{"role": "user", "parts": []}]}),
    )
    .await;
    assert_eq!(
        msg,
        "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"
    );
}

#[tokio::test]
async fn part_without_data_and_empty_text() {
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{}]},
        {"role": "user", "parts": [{"text": ""}]}
    ]});
    let msg = rejects("gemini-3.8-flash", body).await;
    assert_eq!(
        msg,
        "* GenerateContentRequest.contents[1].parts[0].data: required oneof field 'data' must have one initialized field\n\
         * GenerateContentRequest.contents[2].parts[0].data: required oneof field 'data' must have one initialized field\n"
    );
}

#[tokio::test]
async fn empty_text_with_a_signature_is_allowed_on_2_5() {
    accepts(
        "gemini-2.5-flash-lite",
        json!({"contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "yo"}, {"text": "", "thoughtSignature": "c2ln"}]},
            {"role": "user", "parts": [{"text": "again"}]}
        ]}),
    )
    .await;
}

#[tokio::test]
async fn two_data_fields_in_one_part() {
    let mock = MockGemini::start().await.unwrap();
    let body = r#"{"contents": [{"role": "user", "parts": [{"text": "hi", "functionCall": {"name": "f", "args": {}}}]}]}"#;
    let (status, response) = post_raw(&mock, body).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&response),
        "Invalid value at 'contents[0].parts[0]' (oneof), oneof field 'data' is already set. Cannot set 'functionCall'"
    );
}

#[tokio::test]
async fn wrong_value_types() {
    let msg = rejects(
        "gemini-3.8-flash",
        json!({"contents": [{"role": "user", "parts": [{"text": 5}]}]}),
    )
    .await;
    assert_eq!(
        msg,
        "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 5"
    );
    let mut body = hello();
    body["tools"] = json!([{"functionDeclarations": [{"name": "f", "parameters": {"type": ["string", "null"]}}]}]);
    let msg = rejects("gemini-3.8-flash", body).await;
    assert_eq!(
        msg,
        "Invalid JSON payload received. Unknown name \"type\" at 'tools[0].function_declarations[0].parameters': \
         Proto field is not repeating, cannot start list."
    );
}

#[tokio::test]
async fn invalid_role() {
    let msg = rejects(
        "gemini-3.8-flash",
        json!({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}),
    )
    .await;
    assert_eq!(msg, "Please use a valid role: user, model.");
}

#[tokio::test]
async fn system_instruction_must_be_text() {
    let body = with_user(
        json!({"systemInstruction": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}}),
    );
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.contains("system_instruction.parts[0]: only text parts are supported"),
        "{msg}"
    );
}

fn call_turns(responses: Value) -> Value {
    json!({"contents": [
        {"role": "user", "parts": [{"text": "do two things"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {}}}]},
        {"role": "user", "parts": responses}
    ]})
}

#[tokio::test]
async fn function_response_count_must_match_calls() {
    let body =
        call_turns(json!([{"functionResponse": {"name": "a", "response": {"output": "ok"}}}]));
    let msg = rejects("gemini-2.5-flash-lite", body).await;
    assert_eq!(
        msg,
        "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn."
    );
    let ok = call_turns(json!([
        {"functionResponse": {"name": "a", "response": {"output": "ok"}}},
        {"functionResponse": {"name": "b", "response": {"output": "ok"}}},
        {"text": "<system-reminder>x</system-reminder>"}
    ]));
    let response = accepts("gemini-2.5-flash-lite", ok).await;
    let text = response["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(text, "Tool a returned: ok\nTool b returned: ok");
}

#[tokio::test]
async fn function_response_names_must_match_calls() {
    let body = call_turns(json!([
        {"functionResponse": {"name": "a", "response": {}}},
        {"functionResponse": {"name": "zzz", "response": {}}}
    ]));
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.contains("name of every function response part matches"),
        "{msg}"
    );
}

#[tokio::test]
async fn function_call_turn_order() {
    let body = json!({"contents": [
        {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "a", "response": {}}}]}
    ]});
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(msg
        .starts_with("Please ensure that function call turn comes immediately after a user turn"));
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "a", "response": {}}}]}
    ]});
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(msg.starts_with(
        "Please ensure that function response turn comes immediately after a function call turn"
    ));
}

#[tokio::test]
async fn inline_data_needs_base64_and_mime_type() {
    let body = json!({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}]}]});
    let msg = rejects("gemini-3.8-flash", body).await;
    assert_eq!(
        msg,
        "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"not base64!\""
    );
    let body =
        json!({"contents": [{"role": "user", "parts": [{"inlineData": {"data": "aGVsbG8="}}]}]});
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(msg.contains("inline_data.mime_type"), "{msg}");
}

#[tokio::test]
async fn tool_config_and_safety_rules() {
    let body = with_user(
        json!({"toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}}),
    );
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.contains("allowed_function_names should only be set when the mode is ANY or VALIDATED"),
        "{msg}"
    );
    let body = with_user(json!({"toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}));
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.starts_with("Invalid value at 'tool_config.function_calling_config.mode'"),
        "{msg}"
    );
    let body = with_user(
        json!({"safetySettings": [{"category": "HARM_CATEGORY_NOPE", "threshold": "OFF"}]}),
    );
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.starts_with("Invalid value at 'safety_settings[0].category'"),
        "{msg}"
    );
}

#[tokio::test]
async fn generation_config_limits() {
    let body =
        with_user(json!({"generationConfig": {"stopSequences": ["1", "2", "3", "4", "5", "6"]}}));
    assert!(rejects("gemini-3.8-flash", body)
        .await
        .contains("stop_sequences"));
    let body = with_user(json!({"generationConfig": {"maxOutputTokens": 128000}}));
    let msg = rejects("gemini-3.8-flash", body).await;
    assert!(
        msg.contains("maxOutputTokens value of 128000") && msg.contains("65537 (exclusive)"),
        "{msg}"
    );
    let body = with_user(json!({"generationConfig": {"temperature": 2.5}}));
    assert!(rejects("gemini-3.8-flash", body)
        .await
        .contains("temperature"));
    let body = with_user(json!({"generationConfig": {"unknownKnob": 1}}));
    assert!(rejects("gemini-3.8-flash", body)
        .await
        .contains("Unknown name \"unknownKnob\" at 'generation_config'"));
}

#[tokio::test]
async fn thinking_rules() {
    let body = with_user(json!({"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}));
    assert_eq!(
        rejects("gemini-3.1-pro-preview", body.clone()).await,
        "Budget 0 is invalid. This model only works in thinking mode."
    );
    accepts("gemini-2.5-flash-lite", body).await;
    let body = with_user(
        json!({"generationConfig": {"thinkingConfig": {"thinkingLevel": "low", "thinkingBudget": 1024}}}),
    );
    assert!(rejects("gemini-3.1-pro-preview", body)
        .await
        .contains("thinking_budget or thinking_level"));
    let body =
        with_user(json!({"generationConfig": {"thinkingConfig": {"thinkingLevel": "high"}}}));
    accepts("gemini-3.1-pro-preview", body.clone()).await;
    assert!(rejects("gemini-2.5-flash-lite", body)
        .await
        .contains("Thinking level is not supported"));
    // Each 3.x model takes its own levels: 3.1 Pro has no MINIMAL, the Flash line has.
    let minimal =
        with_user(json!({"generationConfig": {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}}));
    assert_eq!(
        rejects("gemini-3.1-pro-preview", minimal.clone()).await,
        "Thinking level MINIMAL is not supported for this model."
    );
    accepts("gemini-3.8-flash", minimal).await;
}

#[tokio::test]
async fn not_json_and_not_an_object() {
    let mock = MockGemini::start().await.unwrap();
    let response = client()
        .post(url(&mock, "gemini-3.8-flash", "generateContent"))
        .header("x-goog-api-key", KEY)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        message(&body).starts_with("Invalid JSON payload received. Unexpected token.\nhello\n^"),
        "{body}"
    );
    let (status, body) = generate(&mock, "gemini-3.8-flash", &json!([1])).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "Invalid JSON payload received. Unknown name \"\": Root element must be a message."
    );
}

#[tokio::test]
async fn unknown_query_parameter() {
    let mock = MockGemini::start().await.unwrap();
    let response = client()
        .post(format!(
            "{}?beta=true",
            url(&mock, "gemini-3.8-flash", "generateContent")
        ))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(message(&body).contains("Unknown name \"beta\": Cannot bind query parameter."));
}

#[tokio::test]
async fn count_tokens_forms() {
    let mock = MockGemini::start().await.unwrap();
    let (status, a) = post(&mock, "gemini-3.8-flash", "countTokens", &hello()).await;
    assert_eq!(status, 200);
    assert_eq!(a["totalTokens"], 2);
    assert_eq!(a["promptTokensDetails"][0]["tokenCount"], 2);
    let mut inner = realistic();
    inner["model"] = json!("models/gemini-3.8-flash");
    let (status, b) = post(
        &mock,
        "gemini-3.8-flash",
        "countTokens",
        &json!({"generateContentRequest": inner}),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let (_, generated) = generate(&mock, "gemini-3.8-flash", &realistic()).await;
    assert_eq!(
        b["totalTokens"],
        generated["usageMetadata"]["promptTokenCount"]
    );
    let both = json!({"contents": hello()["contents"], "generateContentRequest": inner});
    let (status, c) = post(&mock, "gemini-3.8-flash", "countTokens", &both).await;
    assert_eq!(status, 400, "{c}");
    let mut unnamed = realistic();
    unnamed["model"] = json!("gemini-3.8-flash");
    let (status, d) = post(
        &mock,
        "gemini-3.8-flash",
        "countTokens",
        &json!({"generateContentRequest": unnamed}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&d).contains("unexpected model name format"));
    let bad_inner = json!({"generateContentRequest": {"model": "models/gemini-3.8-flash", "contents": [{"role": "user", "parts": []}]}});
    assert_eq!(
        post(&mock, "gemini-3.8-flash", "countTokens", &bad_inner)
            .await
            .0,
        400
    );
}
