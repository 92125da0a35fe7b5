//! Today's money refusals and tiers: each billing behaviour's whole body, the "limit: 0" 429
//! that names its limit only in the message, projects over their monthly spending cap, free-tier
//! projects that neither see nor reach the paid-only previews, and all of it set through the
//! control API's JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;
use mock_gemini::{Behaviour, MockGemini, QuotaConfig, Rule};
use serde_json::{json, Value};

const DOC: &str = "https://ai.google.dev/gemini-api/docs/rate-limits";

fn once(behaviour: Behaviour) -> Rule {
    Rule {
        key: KEY.into(),
        model: None,
        times: Some(1),
        behaviour,
    }
}

fn billing_help() -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Learn more about Gemini API billing and spend caps",
                   "url": "https://ai.google.dev/gemini-api/docs/billing"}],
    })
}

fn quota_help() -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Learn more about Gemini API quotas", "url": DOC}],
    })
}

fn error(message: &str, details: Value) -> Value {
    json!({"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED",
                     "details": details}})
}

#[tokio::test]
async fn each_billing_refusal_has_googles_whole_body() {
    let mock = MockGemini::start().await.unwrap();
    let cases = [
        (
            Behaviour::SpendCapMonthly,
            error(
                &format!(
                    "Your billing account has exceeded its monthly spending cap. To keep using \
                     the Gemini API, raise the cap for your usage tier in Google AI Studio or wait \
                     until it resets at the start of the next billing month. For more information \
                     on this error, head to: {DOC}."
                ),
                json!([billing_help()]),
            ),
        ),
        (
            Behaviour::ProjectSpendCap,
            error(
                &format!(
                    "Your project has exceeded the spend cap set for it. An owner of the project \
                     can raise or remove the cap in Google AI Studio. For more information on this \
                     error, head to: {DOC}."
                ),
                json!([billing_help()]),
            ),
        ),
        (
            Behaviour::PrepaymentDepleted,
            error(
                &format!(
                    "Your prepayment credits are depleted. Purchase more credits in Google AI \
                     Studio to continue using the Gemini API. For more information on this error, \
                     head to: {DOC}."
                ),
                json!([billing_help()]),
            ),
        ),
        (
            Behaviour::SpendBasedLimit {
                retry_delay: "312s".into(),
            },
            error(
                &format!(
                    "You exceeded your current spend-based limit for your usage tier. For more \
                     information on this error, head to: {DOC}. \n* Quota exceeded for metric: \
                     generativelanguage.googleapis.com/spend_based_limit\nPlease retry in 312s."
                ),
                json!([
                    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                        "quotaMetric": "generativelanguage.googleapis.com/spend_based_limit",
                        "quotaId": "SpendBasedLimitPerTenMinutesPerProjectPerTier",
                        "quotaDimensions": {"location": "global"}}]},
                    quota_help(),
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "312s"},
                ]),
            ),
        ),
    ];
    for (behaviour, expected) in cases {
        for action in ["generateContent", "streamGenerateContent", "countTokens"] {
            mock.script(once(behaviour.clone()));
            let (status, body) = post(&mock, "gemini-3.8-flash", action, &hello()).await;
            assert_eq!(status, 429, "{behaviour:?} {action}");
            let body = match body {
                Value::Array(mut events) => events.remove(0),
                other => other,
            };
            assert_eq!(body, expected, "{behaviour:?} {action}");
        }
        mock.script(once(behaviour.clone()));
        let embed = json!({"content": {"parts": [{"text": "x"}]}});
        let (status, _) = post(&mock, "gemini-embedding-001", "embedContent", &embed).await;
        assert_eq!(status, 429, "{behaviour:?} embedContent");
    }
    // Listing is not a model call: a billing rule waits for one.
    mock.script(once(Behaviour::SpendCapMonthly));
    let listing = client()
        .get(format!("{}/v1beta/models", mock.base_url()))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 200);
    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 429);
}

#[tokio::test]
async fn no_quota_in_message_names_its_limit_only_in_the_message() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(once(Behaviour::NoQuotaInMessage {
        retry_delay: "3.2s".into(),
    }));
    let (status, body) = generate(&mock, "gemini-3.1-pro-preview", &hello()).await;
    assert_eq!(status, 429);
    let metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
    let expected = error(
        &format!(
            "You exceeded your current quota, please check your plan and billing details. For \
             more information on this error, head to: {DOC}. To monitor your current usage, head \
             to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: {metric}, \
             limit: 0, model: gemini-3.1-pro-preview\nPlease retry in 3.2s."
        ),
        json!([
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                "quotaMetric": metric,
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                "quotaDimensions": {"location": "global", "model": "gemini-3.1-pro-preview"}}]},
            quota_help(),
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.2s"},
        ]),
    );
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_spend_capped_project_is_refused_on_every_model_call_of_every_key() {
    let mock = MockGemini::start().await.unwrap();
    const OTHER: &str = "AIzaSyC-mock-key-2222222222222222222222";
    mock.set_quotas(QuotaConfig {
        projects: HashMap::from([(KEY.into(), "p".into()), (KEY2.into(), "p".into())]),
        spend_capped: vec!["p".into()],
        ..QuotaConfig::default()
    });
    let embed = json!({"content": {"parts": [{"text": "x"}]}});
    for key in [KEY, KEY2] {
        for (model, action, body) in [
            ("gemini-3.8-flash", "generateContent", hello()),
            ("gemini-3.1-pro-preview", "streamGenerateContent", hello()),
            ("gemini-2.5-flash-lite", "countTokens", hello()),
            ("gemini-embedding-2", "embedContent", embed.clone()),
            ("gemini-4-argon", "generateContent", hello()),
        ] {
            let (status, answer) = post_as(&mock, key, model, action, &body).await;
            assert_eq!(status, 429, "{model} {action}");
            let answer = match answer {
                Value::Array(mut events) => events.remove(0),
                other => other,
            };
            assert!(message(&answer)
                .starts_with("Your billing account has exceeded its monthly spending cap."));
        }
        let model = client()
            .get(format!(
                "{}/v1beta/models/gemini-3.8-flash",
                mock.base_url()
            ))
            .header("x-goog-api-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(model.status(), 200, "models.get still works");
    }
    let (status, _) = post_as(
        &mock,
        OTHER,
        "gemini-3.8-flash",
        "generateContent",
        &hello(),
    )
    .await;
    assert_eq!(status, 200, "another project");
    // An unmapped key is a project of its own, named by the key.
    mock.set_quotas(QuotaConfig {
        spend_capped: vec![OTHER.into()],
        ..QuotaConfig::default()
    });
    let (status, _) = post_as(
        &mock,
        OTHER,
        "gemini-3.8-flash",
        "generateContent",
        &hello(),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 200);
}

async fn get_json(url: &str) -> Value {
    let text = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn alpha_ids(mock: &MockGemini, key: &str) -> Vec<String> {
    let text = client()
        .get(format!("{}/v1alpha/models?pageSize=1000", mock.base_url()))
        .header("x-goog-api-key", key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    model_ids(&body)
}

#[tokio::test]
async fn free_tier_projects_neither_see_nor_reach_carbon_and_neon() {
    let mock = MockGemini::start().await.unwrap();
    mock.set_quotas(QuotaConfig {
        projects: HashMap::from([(KEY.into(), "free-project".into())]),
        tiers: HashMap::from([
            ("free-project".into(), "free".into()),
            (KEY2.into(), "paid".into()),
        ]),
        ..QuotaConfig::default()
    });
    let free = alpha_ids(&mock, KEY).await;
    let paid = alpha_ids(&mock, KEY2).await;
    for id in ["gemini-4-carbon", "gemini-4-neon"] {
        assert!(!free.contains(&id.to_owned()), "{id}");
        assert!(paid.contains(&id.to_owned()), "{id}");
        for action in ["generateContent", "streamGenerateContent", "countTokens"] {
            let (status, answer) = post_as(&mock, KEY, id, action, &hello()).await;
            let answer = match answer {
                Value::Array(mut events) => events.remove(0),
                other => other,
            };
            assert_eq!(status, 404, "{id} {action}");
            assert_eq!(answer["error"]["status"], "NOT_FOUND");
            let method = if action == "countTokens" {
                "countTokens"
            } else {
                "generateContent"
            };
            assert_eq!(
                message(&answer),
                format!(
                    "models/{id} is not found for API version v1alpha, or is not supported for \
                     {method}. Call ListModels to see the list of available models and their \
                     supported methods."
                )
            );
            assert_eq!(post_as(&mock, KEY2, id, action, &hello()).await.0, 200);
        }
        let get = |key: &'static str| {
            client()
                .get(format!("{}/v1alpha/models/{id}", mock.base_url()))
                .header("x-goog-api-key", key)
                .send()
        };
        assert_eq!(get(KEY).await.unwrap().status(), 404);
        assert_eq!(get(KEY2).await.unwrap().status(), 200);
    }
    // Free keys keep every other model, Gemini 4 Argon and Hydrogen included.
    assert_eq!(free.len() + 2, paid.len());
    for id in ["gemini-4-argon", "gemini-4-hydrogen", "gemini-3.8-flash"] {
        assert!(free.contains(&id.to_owned()), "{id}");
        assert_eq!(
            post_as(&mock, KEY, id, "generateContent", &hello()).await.0,
            200
        );
    }
}

#[tokio::test]
async fn the_control_api_takes_the_new_behaviours_and_quota_fields_as_json() {
    let mock = MockGemini::start().await.unwrap();
    let base = mock.base_url();
    for (behaviour, words) in [
        (json!({"type": "spend_cap_monthly"}), "monthly spending cap"),
        (json!({"type": "project_spend_cap"}), "spend cap set for it"),
        (
            json!({"type": "prepayment_depleted"}),
            "prepayment credits are depleted",
        ),
        (
            json!({"type": "spend_based_limit", "retry_delay": "30s"}),
            "Please retry in 30s.",
        ),
        (
            json!({"type": "no_quota_in_message", "retry_delay": "3.2s"}),
            "limit: 0, model: gemini-3.8-flash\nPlease retry in 3.2s.",
        ),
    ] {
        let rule = json!({"key": KEY, "times": 1, "behaviour": behaviour});
        let added = client()
            .post(format!("{base}/_mock/rules"))
            .body(rule.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), 200, "{behaviour}");
        let listed = get_json(&format!("{base}/_mock/rules")).await;
        assert_eq!(listed[0]["behaviour"], behaviour, "round trip");
        let (status, body) = generate(&mock, "gemini-3.8-flash", &hello()).await;
        assert_eq!(status, 429);
        assert!(message(&body).contains(words), "{body}");
    }
    let quotas = json!({
        "projects": {KEY: "p", KEY2: "q"},
        "tiers": {"p": "free"},
        "spend_capped": ["q"],
    });
    let set = client()
        .post(format!("{base}/_mock/quotas"))
        .body(quotas.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let read = get_json(&format!("{base}/_mock/quotas")).await;
    assert_eq!(read["tiers"], json!({"p": "free"}));
    assert_eq!(read["spend_capped"], json!(["q"]));
    assert_eq!(
        post_as(&mock, KEY, "gemini-4-neon", "generateContent", &hello())
            .await
            .0,
        404
    );
    assert_eq!(
        post_as(&mock, KEY2, "gemini-4-neon", "generateContent", &hello())
            .await
            .0,
        429
    );
}
