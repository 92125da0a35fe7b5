//! The Gemini 4 previews: served and listed only under `v1alpha`, each of their 400s with its
//! exact message, XHIGH on Hydrogen only, thought signatures as on Gemini 3, and thinking that
//! uses up `maxOutputTokens` (a whole answer, and a stream of one event).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mock_gemini::MockGemini;
use serde_json::{json, Value};

const GEMINI_4: [&str; 4] = [
    "gemini-4-argon",
    "gemini-4-hydrogen",
    "gemini-4-carbon",
    "gemini-4-neon",
];

fn with_config(config: Value) -> Value {
    let mut body = hello();
    body["generationConfig"] = config;
    body
}

fn level(level: &str) -> Value {
    with_config(json!({"thinkingConfig": {"thinkingLevel": level}}))
}

async fn get(mock: &MockGemini, path: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path}", mock.base_url()))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

async fn listed(mock: &MockGemini, version: &str) -> Vec<String> {
    let (status, body) = get(mock, &format!("/{version}/models?pageSize=1000")).await;
    assert_eq!(status, 200);
    model_ids(&body)
}

#[tokio::test]
async fn v1alpha_lists_everything_v1beta_lists_and_gemini_4() {
    let mock = MockGemini::start().await.unwrap();
    let beta = listed(&mock, "v1beta").await;
    let v1 = listed(&mock, "v1").await;
    let alpha = listed(&mock, "v1alpha").await;
    assert_eq!(beta, v1);
    assert!(
        beta.iter().all(|id| !id.starts_with("gemini-4")),
        "{beta:?}"
    );
    assert!(beta.iter().all(|id| alpha.contains(id)));
    for id in GEMINI_4 {
        assert!(alpha.contains(&id.to_owned()), "{id}");
    }
    assert_eq!(alpha.len(), beta.len() + GEMINI_4.len());
    let (status, hydrogen) = get(&mock, "/v1alpha/models/gemini-4-hydrogen").await;
    assert_eq!(status, 200);
    assert_eq!(hydrogen["inputTokenLimit"], 1_048_576);
    assert_eq!(hydrogen["outputTokenLimit"], 65_536);
    assert_eq!(hydrogen["thinking"], true);
    assert_eq!(hydrogen["displayName"], "Gemini 4 Hydrogen");
}

#[tokio::test]
async fn gemini_4_under_v1beta_or_v1_is_not_found_for_that_version() {
    let mock = MockGemini::start().await.unwrap();
    for version in ["v1beta", "v1"] {
        for id in GEMINI_4 {
            let response = client()
                .post(format!(
                    "{}/{version}/models/{id}:generateContent",
                    mock.base_url()
                ))
                .header("x-goog-api-key", KEY)
                .body(hello().to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404);
            let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
            assert_eq!(body["error"]["status"], "NOT_FOUND");
            assert_eq!(
                message(&body),
                format!(
                    "models/{id} is not found for API version {version}, or is not supported for \
                     generateContent. Call ListModels to see the list of available models and \
                     their supported methods."
                )
            );
            let (status, _) = get(&mock, &format!("/{version}/models/{id}")).await;
            assert_eq!(status, 404, "{version} {id}");
        }
    }
    let (status, _) = post(&mock, "gemini-4-argon", "countTokens", &hello()).await;
    assert_eq!(status, 200, "countTokens under v1alpha");
}

#[tokio::test]
async fn each_gemini_4_refusal_has_its_message() {
    let mock = MockGemini::start().await.unwrap();
    let cases = [
        (
            with_config(json!({"thinkingConfig": {"thinkingBudget": 1024}})),
            "thinking_budget is not supported for this model. Use thinking_level instead.",
        ),
        (
            with_config(json!({"thinkingConfig": {"thinkingBudget": -1, "thinkingLevel": "LOW"}})),
            "thinking_budget is not supported for this model. Use thinking_level instead.",
        ),
        (
            level("MINIMAL"),
            "Thinking level MINIMAL is not supported for this model.",
        ),
        (
            with_config(json!({"frequencyPenalty": 0.5})),
            "frequency_penalty is not supported for this model.",
        ),
        (
            with_config(json!({"presencePenalty": -0.5})),
            "presence_penalty is not supported for this model.",
        ),
        (
            with_config(json!({"candidateCount": 2})),
            "candidate_count must be 1 for this model, but the request asked for 2.",
        ),
        (
            json!({"contents": [
                {"role": "user", "parts": [{"text": "Write a haiku"}]},
                {"role": "model", "parts": [{"text": "Autumn"}]}]}),
            "Prefilling the model's response is not supported for this model: the last content \
             must have the role user.",
        ),
    ];
    for id in GEMINI_4 {
        for (body, expected) in &cases {
            let (status, answer) = generate(&mock, id, body).await;
            assert_eq!(status, 400, "{id}: {answer}");
            assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
            assert_eq!(message(&answer), *expected, "{id}");
        }
        // Sampling fields are accepted and ignored; one candidate is fine.
        let sampling =
            with_config(json!({"temperature": 0.2, "topP": 0.5, "topK": 3, "candidateCount": 1}));
        let (status, answer) = generate(&mock, id, &sampling).await;
        assert_eq!(status, 200, "{id}: {answer}");
        assert_eq!(answer["modelVersion"], id);
    }
    // The Flash-Lite family words its prefill refusal differently.
    let prefill = &cases[6].0;
    let (status, answer) = generate(&mock, "gemini-3.5-flash-lite", prefill).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&answer),
        "Requests ending with a model turn are not supported."
    );
}

#[tokio::test]
async fn xhigh_only_on_hydrogen() {
    let mock = MockGemini::start().await.unwrap();
    for id in GEMINI_4 {
        let (status, answer) = generate(&mock, id, &level("XHIGH")).await;
        if id == "gemini-4-hydrogen" {
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["usageMetadata"]["thoughtsTokenCount"], 4096);
        } else {
            assert_eq!(status, 400, "{id}");
            assert_eq!(
                message(&answer),
                "Thinking level XHIGH is not supported for this model."
            );
        }
        for accepted in ["LOW", "MEDIUM", "HIGH"] {
            assert_eq!(
                generate(&mock, id, &level(accepted)).await.0,
                200,
                "{id} {accepted}"
            );
        }
    }
    // No 3.x model knows XHIGH.
    let (status, answer) = generate(&mock, "gemini-3.8-flash", &level("XHIGH")).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&answer),
        "Thinking level XHIGH is not supported for this model."
    );
}

#[tokio::test]
async fn thinking_costs_its_level_and_can_leave_an_empty_answer() {
    let mock = MockGemini::start().await.unwrap();
    // Each model's default level when none is given.
    for (id, cost) in [
        ("gemini-4-argon", 1024),
        ("gemini-4-hydrogen", 2048),
        ("gemini-4-carbon", 2048),
        ("gemini-4-neon", 2048),
    ] {
        let (status, answer) = generate(&mock, id, &hello()).await;
        assert_eq!(status, 200);
        assert_eq!(answer["usageMetadata"]["thoughtsTokenCount"], cost, "{id}");
        assert_eq!(answer["candidates"][0]["finishReason"], "STOP");
    }
    for (lvl, cost) in [("LOW", 256), ("MEDIUM", 1024), ("HIGH", 2048)] {
        let body = with_config(json!({
            "maxOutputTokens": cost,
            "thinkingConfig": {"thinkingLevel": lvl, "includeThoughts": true},
        }));
        let (status, answer) = generate(&mock, "gemini-4-argon", &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert_eq!(answer["candidates"][0]["content"], json!({"role": "model"}));
        let usage = &answer["usageMetadata"];
        assert_eq!(usage["thoughtsTokenCount"], cost);
        assert!(usage.get("candidatesTokenCount").is_none(), "{usage}");
        assert_eq!(
            usage["totalTokenCount"].as_u64().unwrap(),
            usage["promptTokenCount"].as_u64().unwrap() + cost
        );
        // One token more leaves room for a (truncated) answer.
        let mut more = body.clone();
        more["generationConfig"]["maxOutputTokens"] = json!(cost + 1);
        let (_, answer) = generate(&mock, "gemini-4-argon", &more).await;
        assert_eq!(answer["usageMetadata"]["candidatesTokenCount"], 1);
        assert_eq!(answer["candidates"][0]["finishReason"], "MAX_TOKENS");
    }
    let small = with_config(json!({"maxOutputTokens": 100}));
    let (_, answer) = generate(&mock, "gemini-4-hydrogen", &small).await;
    assert_eq!(answer["usageMetadata"]["thoughtsTokenCount"], 100);
    assert_eq!(answer["candidates"][0]["content"], json!({"role": "model"}));

    let (status, _, text) = stream_sse(&mock, "gemini-4-hydrogen", &small).await;
    assert_eq!(status, 200);
    let events = sse_events(&text);
    assert_eq!(events.len(), 1, "{text}");
    let candidate = &events[0]["candidates"][0];
    assert_eq!(candidate["finishReason"], "MAX_TOKENS");
    assert_eq!(candidate["content"], json!({"role": "model"}));
    assert_eq!(events[0]["usageMetadata"]["thoughtsTokenCount"], 100);
    assert!(events[0]["usageMetadata"]
        .get("candidatesTokenCount")
        .is_none());
    assert_eq!(events[0]["modelVersion"], "gemini-4-hydrogen");
}

#[tokio::test]
async fn gemini_4_checks_thought_signatures_like_gemini_3() {
    let mock = MockGemini::start().await.unwrap();
    let model = "gemini-4-hydrogen";
    let first = json!({
        "contents": [{"role": "user", "parts": [{"text": "Please run `ls` with Bash"}]}],
        "tools": [{"functionDeclarations": [{"name": "Bash"}]}]
    });
    let (status, answer) = generate(&mock, model, &first).await;
    assert_eq!(status, 200, "{answer}");
    let call = answer["candidates"][0]["content"]["parts"][0].clone();
    assert!(call["thoughtSignature"].is_string(), "{answer}");
    let next = |part: Value| {
        let mut body = first.clone();
        body["contents"] = json!([
            first["contents"][0],
            {"role": "model", "parts": [part]},
            {"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {"output": "a"}}}]}
        ]);
        body
    };
    let (status, answer) = generate(&mock, model, &next(call.clone())).await;
    assert_eq!(status, 200, "{answer}");
    let parts = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert!(parts.last().unwrap()["thoughtSignature"].is_string());
    let mut unsigned = call.clone();
    unsigned.as_object_mut().unwrap().remove("thoughtSignature");
    let (status, answer) = generate(&mock, model, &next(unsigned)).await;
    assert_eq!(status, 400);
    assert!(message(&answer).starts_with("Function call is missing a thought_signature"));
    let mut forged = call;
    forged["thoughtSignature"] = json!("c29tZSBmYWtlIHNpZ25hdHVyZQ==");
    let (status, answer) = generate(&mock, model, &next(forged)).await;
    assert_eq!(status, 400);
    assert_eq!(message(&answer), "Corrupted thought signature.");
}
