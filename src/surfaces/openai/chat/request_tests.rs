//! Chat Completions → Gemini: one test per mapping (messages, content parts, tools, tool choice,
//! response formats, reasoning, sampling fields, signatures), requests written as the JSON
//! clients send.

use serde_json::{json, Value};

use super::request::{to_generate_content, Limits, Media};
use super::types::ChatRequest;
use crate::surfaces::openai::body::parse_json;
use crate::surfaces::openai::errors::OpenAiError;
use crate::surfaces::shared::signature::{id_carrying, SKIP_SIGNATURE_SENTINEL};
use crate::upstream::wire::InlineData;

fn parse(body: Value) -> ChatRequest {
    parse_json(body.to_string().as_bytes()).unwrap()
}

fn try_gemini(body: Value, model: &str) -> Result<Value, OpenAiError> {
    let req = parse(body);
    let out = to_generate_content(&req, model, Limits::default(), &Media::new())?;
    Ok(serde_json::to_value(out).unwrap())
}

fn gemini(body: Value, model: &str) -> Value {
    try_gemini(body, model).unwrap()
}

fn chat(messages: Value) -> Value {
    json!({"model": "gemini-2.5-flash", "messages": messages})
}

const PNG_B64: &str = "iVBORw0KGgo=";

#[test]
fn system_and_developer_messages_become_the_system_instruction_in_order() {
    let g = gemini(
        chat(json!([
            {"role": "system", "content": "one"},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "two"}]},
        ])),
        "gemini-2.5-flash",
    );
    assert_eq!(
        g["systemInstruction"],
        json!({"parts": [{"text": "one"}, {"text": "two"}]})
    );
    assert_eq!(
        g["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}]}])
    );
}

#[test]
fn user_parts_text_images_audio_and_pdfs() {
    let req = parse(chat(json!([{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}"), "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/dog.png"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "b.pdf"}},
    ]}])));
    let mut media = Media::new();
    media.insert(
        "https://example.com/cat.jpg".into(),
        InlineData {
            mime_type: "image/jpeg".into(),
            data: "Y2F0".into(),
        },
    );
    let g = serde_json::to_value(
        to_generate_content(&req, "gemini-2.5-flash", Limits::default(), &media).unwrap(),
    )
    .unwrap();
    assert_eq!(
        g["contents"][0]["parts"],
        json!([
            {"text": "look"},
            {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
            {"inlineData": {"mimeType": "image/jpeg", "data": "Y2F0"}},
            {"fileData": {"fileUri": "gs://bucket/dog.png"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        ])
    );
}

#[test]
fn what_gemini_cannot_read_is_a_400_naming_the_part() {
    let file_id = try_gemini(
        chat(json!([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}])),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(file_id.status, 400);
    assert_eq!(
        file_id.param.as_deref(),
        Some("messages[0].content[0].file.file_id")
    );
    let unfetched = try_gemini(
        chat(json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}])),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(unfetched.status, 400);
    let bad_audio = try_gemini(
        chat(json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "not base64!", "format": "mp3"}}]}])),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(bad_audio.status, 400);
    let empty = try_gemini(
        chat(json!([{"role": "system", "content": "only"}])),
        "gemini-2.5-flash",
    );
    assert_eq!(empty.unwrap_err().param.as_deref(), Some("messages"));
}

#[test]
fn assistant_calls_and_tool_results_pair_up_by_id() {
    let g = gemini(
        chat(json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "time", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "c2", "content": "noon"},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "sunny"}]},
        ])),
        "gemini-2.5-flash",
    );
    assert_eq!(
        g["contents"][1],
        json!({"role": "model", "parts": [
            {"text": "Checking."},
            {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}},
            {"functionCall": {"name": "time", "args": {}}},
        ]})
    );
    // Both results in one user turn, each named after the call its id answers.
    assert_eq!(
        g["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "time", "response": {"output": "noon"}}},
            {"functionResponse": {"name": "weather", "response": {"output": "sunny"}}},
        ]})
    );
    let unknown = try_gemini(
        chat(json!([
            {"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "nope", "content": "r"},
        ])),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(unknown.param.as_deref(), Some("messages[1].tool_call_id"));
    let bad_args = try_gemini(
        chat(json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]},
        ])),
        "gemini-2.5-flash",
    )
    .unwrap_err();
    assert_eq!(
        bad_args.param.as_deref(),
        Some("messages[1].tool_calls[0].function.arguments")
    );
}

fn with_tools(extra: Value) -> Value {
    let mut body = chat(json!([{"role": "user", "content": "go"}]));
    body["tools"] = json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "strict": true,
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                        "required": ["city"], "additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#"}}},
        {"type": "function", "function": {"name": "9lives", "parameters": {"type": "object", "properties": {}}}},
    ]);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[test]
fn tools_become_function_declarations_with_clean_schemas() {
    let g = gemini(with_tools(json!({})), "gemini-2.5-flash");
    let decls = &g["tools"][0]["functionDeclarations"];
    assert_eq!(decls[0]["name"], "get_weather");
    assert_eq!(decls[0]["description"], "Weather.");
    let schema = &decls[0]["parametersJsonSchema"];
    assert!(schema.get("$schema").is_none(), "{schema}");
    assert_eq!(schema["properties"]["city"], json!({"type": "string"}));
    // A name Gemini would refuse gets a reversible prefix.
    assert_eq!(decls[1]["name"], "_9lives");
    // Legacy models get the OpenAPI subset in `parameters`.
    let legacy = gemini(with_tools(json!({})), "gemini-2.0-flash");
    let d = &legacy["tools"][0]["functionDeclarations"][0];
    assert!(d.get("parametersJsonSchema").is_none());
    assert_eq!(d["parameters"]["properties"]["city"]["type"], "STRING");
}

#[test]
fn tool_choice_maps_to_function_calling_modes() {
    let mode = |choice: Value| {
        let g = gemini(
            with_tools(json!({"tool_choice": choice})),
            "gemini-2.5-flash",
        );
        g["toolConfig"]["functionCallingConfig"].clone()
    };
    assert_eq!(mode(json!("auto")), json!({"mode": "AUTO"}));
    assert_eq!(mode(json!("none")), json!({"mode": "NONE"}));
    assert_eq!(mode(json!("required")), json!({"mode": "ANY"}));
    assert_eq!(
        mode(json!({"type": "function", "function": {"name": "get_weather"}})),
        json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})
    );
    let bad = try_gemini(
        with_tools(json!({"tool_choice": "sometimes"})),
        "gemini-2.5-flash",
    );
    assert_eq!(bad.unwrap_err().param.as_deref(), Some("tool_choice"));
    // Without tools a choice means nothing to Gemini (it would refuse a toolConfig).
    let g = gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
        "gemini-2.5-flash",
    );
    assert!(g.get("toolConfig").is_none());
}

#[test]
fn response_formats_become_json_mode_and_the_schema_without_strict() {
    let g = gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
               "response_format": {"type": "json_object"}}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        g["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let g = gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "p", "strict": true,
                 "schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": false}}}}),
        "gemini-2.5-flash",
    );
    let c = &g["generationConfig"];
    assert_eq!(c["responseMimeType"], "application/json");
    assert_eq!(
        c["responseJsonSchema"]["properties"]["a"],
        json!({"type": "integer"})
    );
    assert!(c.get("strict").is_none() && c["responseJsonSchema"].get("strict").is_none());
    let text = gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
        "gemini-2.5-flash",
    );
    assert_eq!(text["generationConfig"], json!({}));
}

#[test]
fn reasoning_effort_becomes_a_budget_on_2_5_and_a_level_on_3() {
    let config = |model: &str, effort: &str| {
        let g = gemini(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}),
            model,
        );
        g["generationConfig"]["thinkingConfig"].clone()
    };
    let low = config("gemini-2.5-flash", "low")["thinkingBudget"]
        .as_i64()
        .unwrap();
    let high = config("gemini-2.5-flash", "high")["thinkingBudget"]
        .as_i64()
        .unwrap();
    assert!(0 < low && low < high, "{low} {high}");
    assert_eq!(
        config("gemini-2.5-flash", "none"),
        json!({"thinkingBudget": 0})
    );
    // 2.5 Pro cannot turn thinking off: its minimum.
    assert_eq!(
        config("gemini-2.5-pro", "none"),
        json!({"thinkingBudget": 128})
    );
    assert_eq!(
        config("gemini-3-pro-preview", "high"),
        json!({"thinkingLevel": "HIGH"})
    );
    // Gemini 3 Pro knows only low and high: medium rounds up.
    assert_eq!(
        config("gemini-3-pro-preview", "medium"),
        json!({"thinkingLevel": "HIGH"})
    );
    assert_eq!(
        config("gemini-3-flash-preview", "minimal"),
        json!({"thinkingLevel": "MINIMAL"})
    );
    let bad = try_gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max!"}),
        "gemini-2.5-flash",
    );
    assert_eq!(bad.unwrap_err().param.as_deref(), Some("reasoning_effort"));
}

#[test]
fn sampling_fields_map_one_for_one() {
    let g = gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
               "max_tokens": 100, "temperature": 0.2, "top_p": 0.8, "stop": ["1", "2", "3", "4", "5", "6"],
               "seed": 42, "n": 2, "presence_penalty": 0.5, "frequency_penalty": -0.5,
               "logprobs": true, "top_logprobs": 3, "user": "u", "metadata": {"x": 1}, "store": true,
               "service_tier": "auto", "modalities": ["text"], "prediction": null}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        g["generationConfig"],
        json!({"stopSequences": ["1", "2", "3", "4", "5"], "candidateCount": 2, "maxOutputTokens": 100,
               "temperature": 0.2, "topP": 0.8, "seed": 42, "presencePenalty": 0.5,
               "frequencyPenalty": -0.5, "responseLogprobs": true, "logprobs": 3})
    );
    let one_stop = gemini(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": "END", "n": 1,
               "max_completion_tokens": 1000000}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        one_stop["generationConfig"],
        json!({"stopSequences": ["END"], "maxOutputTokens": 65536})
    );
    let capped = to_generate_content(
        &parse(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5000})),
        "gemini-2.5-flash",
        Limits {
            max_tokens: Some(1000),
            output_limit: None,
        },
        &Media::new(),
    )
    .unwrap();
    assert_eq!(
        capped.generation_config.unwrap().max_output_tokens,
        Some(1000)
    );
}

#[test]
fn wrong_types_are_a_400_naming_the_field() {
    for (body, param) in [
        (
            json!({"model": "m", "messages": [], "temperature": "hot"}),
            "temperature",
        ),
        (json!({"model": "m", "messages": "hi"}), "messages"),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}),
            "max_tokens",
        ),
        (json!({"messages": []}), "."),
    ] {
        let e = parse_json::<ChatRequest>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.status, 400, "{body}");
        assert_eq!(e.kind, "invalid_request_error");
        if param != "." {
            assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
        }
    }
}

fn gemini3_replay(call: Value) -> Value {
    let g = gemini(
        json!({"model": "m", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [call,
                {"id": "second", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": call["id"], "content": "ok"},
            {"role": "tool", "tool_call_id": "second", "content": "ok"},
        ]}),
        "gemini-3-pro-preview",
    );
    g["contents"][1]["parts"].clone()
}

#[test]
fn gemini3_signatures_come_back_from_the_id_the_extra_content_or_the_sentinel() {
    let family = crate::models::ModelInfo::signature_family("gemini-3-pro-preview");
    // A client that keeps only id, name and arguments: the id carries the signature.
    let id = id_carrying("call_", &family, Some("c2lnLW9uZQ=="));
    let parts = gemini3_replay(
        json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}}),
    );
    assert_eq!(parts[0]["thoughtSignature"], "c2lnLW9uZQ==");
    // Only the first call of a step carries one.
    assert!(parts[1].get("thoughtSignature").is_none());
    // A client that echoes Google's extra_content.
    let parts = gemini3_replay(
        json!({"id": "call_plain", "type": "function", "function": {"name": "f", "arguments": "{}"},
        "extra_content": {"google": {"thought_signature": "c2lnLXR3bw=="}}}),
    );
    assert_eq!(parts[0]["thoughtSignature"], "c2lnLXR3bw==");
    // History from elsewhere (or another model family): the documented sentinel, never a 400.
    let parts = gemini3_replay(
        json!({"id": "call_from_gpt", "type": "function", "function": {"name": "f", "arguments": "{}"}}),
    );
    assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE_SENTINEL);
    let foreign = id_carrying("call_", "2.5", Some("b2xk"));
    let parts = gemini3_replay(
        json!({"id": foreign, "type": "function", "function": {"name": "f", "arguments": "{}"}}),
    );
    assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE_SENTINEL);
    // On 2.5 nothing is invented.
    let g = gemini(
        json!({"model": "m", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "tool_calls": [{"id": "x", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "x", "content": "ok"}]}),
        "gemini-2.5-flash",
    );
    assert!(g["contents"][1]["parts"][0]
        .get("thoughtSignature")
        .is_none());
}
