//! The Gemini of December 2026: `v1alpha` and the Gemini 4 previews with their 400s, thinking
//! that uses up `maxOutputTokens`, retired ids, Google's moving `-latest` aliases, paid-only
//! previews, and the billing refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use mock_gemini::{Behaviour, MockGemini, QuotaConfig, Rule};
use serde_json::{json, Value};

fn with_config(config: Value) -> Value {
    let mut body = hello();
    body["generationConfig"] = config;
    body
}

#[tokio::test]
async fn gemini_4_answers_400_where_google_does() {
    let mock = MockGemini::start().await.unwrap();
    let refused = |model: &'static str, config: Value| {
        let mock = &mock;
        async move {
            let (status, body) = generate(mock, model, &with_config(config)).await;
            assert_eq!(status, 400, "{body}");
            message(&body)
        }
    };
    let argon = "gemini-4-argon";
    assert!(
        refused(argon, json!({"thinkingConfig": {"thinkingBudget": 1024}}))
            .await
            .contains("thinking_budget is not supported")
    );
    assert_eq!(
        refused(
            argon,
            json!({"thinkingConfig": {"thinkingLevel": "MINIMAL"}})
        )
        .await,
        "Thinking level MINIMAL is not supported for this model."
    );
    assert!(
        refused(argon, json!({"thinkingConfig": {"thinkingLevel": "XHIGH"}}))
            .await
            .contains("XHIGH")
    );
    assert!(refused(argon, json!({"presencePenalty": 0.5}))
        .await
        .contains("presence_penalty"));
    assert!(refused(argon, json!({"frequencyPenalty": 0.5}))
        .await
        .contains("frequency_penalty"));
    assert!(refused(argon, json!({"candidateCount": 2}))
        .await
        .contains("candidate_count"));
    let prefill = json!({"contents": [
        {"role": "user", "parts": [{"text": "Write a haiku"}]},
        {"role": "model", "parts": [{"text": "Autumn"}]}]});
    let (status, body) = generate(&mock, argon, &prefill).await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("Prefilling"), "{body}");
    // Accepted: its levels, XHIGH on Hydrogen, sampling fields (ignored).
    for (model, config) in [
        (
            argon,
            json!({"temperature": 0.2, "topK": 3, "thinkingConfig": {"thinkingLevel": "LOW"}}),
        ),
        (
            "gemini-4-hydrogen",
            json!({"thinkingConfig": {"thinkingLevel": "XHIGH"}}),
        ),
    ] {
        let (status, body) = generate(&mock, model, &with_config(config)).await;
        assert_eq!(status, 200, "{model}: {body}");
        assert_eq!(body["modelVersion"], model);
    }
}

#[tokio::test]
async fn gemini_4_is_served_under_v1alpha_only() {
    let mock = MockGemini::start().await.unwrap();
    let beta = format!(
        "{}/v1beta/models/gemini-4-argon:generateContent",
        mock.base_url()
    );
    let response = client()
        .post(beta)
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        message(&body).contains("not found for API version v1beta"),
        "{body}"
    );
}

#[tokio::test]
async fn thinking_can_use_up_max_output_tokens_on_gemini_4() {
    let mock = MockGemini::start().await.unwrap();
    let (status, body) = generate(
        &mock,
        "gemini-4-argon",
        &with_config(json!({"maxOutputTokens": 1000})),
    )
    .await;
    assert_eq!(status, 200);
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["finishReason"], "MAX_TOKENS");
    assert_eq!(candidate["content"], json!({"role": "model"}));
    assert_eq!(body["usageMetadata"]["thoughtsTokenCount"], 1000);
    // With room past its thinking, an answer.
    let (_, body) = generate(
        &mock,
        "gemini-4-argon",
        &with_config(json!({"maxOutputTokens": 5000})),
    )
    .await;
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        body["usageMetadata"]["thoughtsTokenCount"], 1024,
        "MEDIUM is Argon's default"
    );
}

#[tokio::test]
async fn retired_ids_are_not_found_and_latest_aliases_name_their_model() {
    let mock = MockGemini::start().await.unwrap();
    for retired in [
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-3-pro-preview",
        "gemini-2.0-flash",
    ] {
        let (status, body) = generate(&mock, retired, &hello()).await;
        assert_eq!(status, 404, "{retired}");
        assert_eq!(
            message(&body),
            format!("models/{retired} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.")
        );
    }
    let (status, body) = generate(&mock, "gemini-flash-latest", &hello()).await;
    assert_eq!(status, 200);
    assert_eq!(body["modelVersion"], "gemini-3.8-flash");
}

#[tokio::test]
async fn paid_only_previews_are_invisible_to_free_keys() {
    let mock = MockGemini::start().await.unwrap();
    mock.set_quotas(QuotaConfig {
        tiers: HashMap::from([(KEY.to_string(), "free".to_string())]),
        ..QuotaConfig::default()
    });
    let (status, _) = post_as(&mock, KEY, "gemini-4-carbon", "generateContent", &hello()).await;
    assert_eq!(status, 404);
    let (status, _) = post_as(&mock, KEY2, "gemini-4-carbon", "generateContent", &hello()).await;
    assert_eq!(status, 200);
    let list = |key: &'static str| {
        let url = format!("{}/v1alpha/models?pageSize=1000", mock.base_url());
        async move {
            let text = client()
                .get(url)
                .header("x-goog-api-key", key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let body: Value = serde_json::from_str(&text).unwrap();
            body["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(!list(KEY)
        .await
        .contains(&"models/gemini-4-neon".to_string()));
    assert!(list(KEY2)
        .await
        .contains(&"models/gemini-4-neon".to_string()));
}

#[tokio::test]
async fn billing_refusals_in_googles_words() {
    let mock = MockGemini::start().await.unwrap();
    let cases = [
        (Behaviour::SpendCapMonthly, "monthly spending cap"),
        (Behaviour::ProjectSpendCap, "spend cap set for it"),
        (
            Behaviour::PrepaymentDepleted,
            "prepayment credits are depleted",
        ),
        (
            Behaviour::SpendBasedLimit {
                retry_delay: "312s".into(),
            },
            "spend-based limit",
        ),
        (
            Behaviour::NoQuotaInMessage {
                retry_delay: "3.2s".into(),
            },
            "limit: 0, model: gemini-3.8-flash",
        ),
    ];
    for (behaviour, words) in cases {
        mock.script(Rule {
            key: KEY.into(),
            model: None,
            times: Some(1),
            behaviour,
        });
        let (status, body) = generate(&mock, "gemini-3.8-flash", &hello()).await;
        assert_eq!(status, 429);
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert!(message(&body).contains(words), "{body}");
    }
    // A whole project over its monthly cap: every key of it, every model; listing still works.
    mock.set_quotas(QuotaConfig {
        projects: HashMap::from([
            (KEY.to_string(), "p".to_string()),
            (KEY2.to_string(), "p".to_string()),
        ]),
        spend_capped: vec!["p".into()],
        ..QuotaConfig::default()
    });
    for key in [KEY, KEY2] {
        let (status, body) = post_as(
            &mock,
            key,
            "gemini-3.1-pro-preview",
            "generateContent",
            &hello(),
        )
        .await;
        assert_eq!(status, 429);
        assert!(message(&body).contains("monthly spending cap"));
    }
    let listing = client()
        .get(format!("{}/v1beta/models", mock.base_url()))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 200);
}
