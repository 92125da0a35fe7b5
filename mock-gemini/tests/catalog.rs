//! Today's catalog: what `v1beta`/`v1` list and serve, the retired ids that answer Google's 404
//! and are not listed, and the `-latest` aliases that are listed like models but answered by
//! their target (its rules, its `modelVersion`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mock_gemini::MockGemini;
use serde_json::{json, Value};

const SERVED: [&str; 13] = [
    "gemini-3.8-flash",
    "gemini-3.7-flash",
    "gemini-3.6-flash",
    "gemini-3.5-flash",
    "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite",
    "gemini-3.1-pro-preview",
    "gemini-2.5-flash-lite",
    "gemini-flash-latest",
    "gemini-flash-lite-latest",
    "gemini-pro-latest",
    "gemini-embedding-001",
    "gemini-embedding-2",
];

const RETIRED: [&str; 12] = [
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-3-pro-preview",
    "gemini-3-flash-preview",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "gemini-1.5-flash-8b",
    "text-embedding-004",
    "embedding-001",
    "gemini-pro",
];

async fn list(mock: &MockGemini, version: &str) -> Vec<Value> {
    let text = client()
        .get(format!(
            "{}/{version}/models?pageSize=1000",
            mock.base_url()
        ))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    body["models"].as_array().unwrap().clone()
}

fn with_level(level: &str) -> Value {
    let mut body = hello();
    body["generationConfig"] = json!({"thinkingConfig": {"thinkingLevel": level}});
    body
}

#[tokio::test]
async fn v1beta_and_v1_list_exactly_todays_models() {
    let mock = MockGemini::start().await.unwrap();
    for version in ["v1beta", "v1"] {
        let models = list(&mock, version).await;
        let ids: Vec<&str> = models
            .iter()
            .map(|m| m["name"].as_str().unwrap().trim_start_matches("models/"))
            .collect();
        assert_eq!(ids, SERVED, "{version}");
        for model in &models {
            let generates = model["supportedGenerationMethods"]
                .as_array()
                .unwrap()
                .contains(&json!("generateContent"));
            if generates {
                assert_eq!(model["inputTokenLimit"], 1_048_576, "{model}");
                assert_eq!(model["outputTokenLimit"], 65_536, "{model}");
                assert_eq!(model["thinking"], true, "{model}");
            } else {
                assert!(model.get("thinking").is_none());
                assert!(model["supportedGenerationMethods"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("embedContent")));
            }
            assert!(model["version"].is_string() && model["description"].is_string());
        }
    }
    let names: Vec<Value> = list(&mock, "v1beta").await;
    let flash_latest = names
        .iter()
        .find(|m| m["name"] == "models/gemini-flash-latest")
        .unwrap();
    assert_eq!(flash_latest["displayName"], "Gemini Flash Latest");
}

#[tokio::test]
async fn retired_ids_answer_googles_404_and_are_not_listed() {
    let mock = MockGemini::start().await.unwrap();
    let listed: Vec<String> = list(&mock, "v1alpha")
        .await
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    for id in RETIRED {
        assert!(!listed.contains(&format!("models/{id}")), "{id}");
        let method = if id.contains("embedding") {
            "embedContent"
        } else {
            "generateContent"
        };
        let body = if method == "embedContent" {
            json!({"content": {"parts": [{"text": "x"}]}})
        } else {
            hello()
        };
        let (status, answer) = post(&mock, id, method, &body).await;
        assert_eq!(status, 404, "{id}");
        assert_eq!(answer["error"]["code"], 404);
        assert_eq!(answer["error"]["status"], "NOT_FOUND");
        assert_eq!(
            message(&answer),
            format!(
                "models/{id} is not found for API version v1beta, or is not supported for \
                 {method}. Call ListModels to see the list of available models and their \
                 supported methods."
            )
        );
    }
}

#[tokio::test]
async fn latest_aliases_answer_as_their_target() {
    let mock = MockGemini::start().await.unwrap();
    for (alias, target) in [
        ("gemini-flash-latest", "gemini-3.8-flash"),
        ("gemini-flash-lite-latest", "gemini-3.5-flash-lite"),
        ("gemini-pro-latest", "gemini-3.1-pro-preview"),
    ] {
        let (status, answer) = generate(&mock, alias, &hello()).await;
        assert_eq!(status, 200, "{alias}: {answer}");
        assert_eq!(answer["modelVersion"], target);
        let text = answer["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.starts_with(&format!("Mock reply from {target}")),
            "{text}"
        );
        let (_, _, sse) = stream_sse(&mock, alias, &hello()).await;
        assert!(sse_events(&sse)
            .iter()
            .all(|event| event["modelVersion"] == target));
    }
    // The target's rules: 3.1 Pro has no MINIMAL, Flash-Lite refuses a prefill.
    let (status, answer) = generate(&mock, "gemini-pro-latest", &with_level("MINIMAL")).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&answer),
        "Thinking level MINIMAL is not supported for this model."
    );
    assert_eq!(
        generate(&mock, "gemini-flash-latest", &with_level("MINIMAL"))
            .await
            .0,
        200
    );
    let prefill = json!({"contents": [
        {"role": "user", "parts": [{"text": "Say hi"}]},
        {"role": "model", "parts": [{"text": "Hi"}]}]});
    let (status, answer) = generate(&mock, "gemini-flash-lite-latest", &prefill).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&answer),
        "Requests ending with a model turn are not supported."
    );
    assert_eq!(
        generate(&mock, "gemini-flash-latest", &prefill).await.0,
        200
    );
}

#[tokio::test]
async fn three_x_thinking_rules() {
    let mock = MockGemini::start().await.unwrap();
    for id in [
        "gemini-3.8-flash",
        "gemini-3.7-flash",
        "gemini-3.6-flash",
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-flash-lite",
    ] {
        for level in ["MINIMAL", "LOW", "MEDIUM", "HIGH"] {
            assert_eq!(
                generate(&mock, id, &with_level(level)).await.0,
                200,
                "{id} {level}"
            );
        }
    }
    for level in ["LOW", "MEDIUM", "HIGH"] {
        let (status, _) = generate(&mock, "gemini-3.1-pro-preview", &with_level(level)).await;
        assert_eq!(status, 200, "{level}");
    }
    let mut both = with_level("LOW");
    both["generationConfig"]["thinkingConfig"]["thinkingBudget"] = json!(1024);
    for id in [
        "gemini-3.8-flash",
        "gemini-3.1-flash-lite",
        "gemini-pro-latest",
    ] {
        let (status, answer) = generate(&mock, id, &both).await;
        assert_eq!(status, 400);
        assert_eq!(
            message(&answer),
            "You can only set either thinking_budget or thinking_level, not both."
        );
    }
    // 2.5 Flash-Lite: an opt-in budget of 512..24576, no levels.
    let budget = |b: i64| {
        let mut body = hello();
        body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": b}});
        body
    };
    let (_, answer) = generate(&mock, "gemini-2.5-flash-lite", &hello()).await;
    assert!(answer["usageMetadata"].get("thoughtsTokenCount").is_none());
    let (status, answer) = generate(&mock, "gemini-2.5-flash-lite", &budget(1024)).await;
    assert_eq!(status, 200);
    assert!(
        answer["usageMetadata"]["thoughtsTokenCount"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (status, answer) = generate(&mock, "gemini-2.5-flash-lite", &budget(100)).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&answer),
        "The thinking budget 100 is invalid. Please choose a value between 512 and 24576."
    );
}
