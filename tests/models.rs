//! Black-box: today's Gemini through the built binary against the strict mock — the live
//! catalog and its listings, defaults that follow it, retired and unknown names, aliases,
//! fallbacks across models, Gemini 4's rules on every surface, `v1alpha`, keys whose tier lacks
//! a model, and billing-class refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use mock_gemini::QuotaConfig;
use serde_json::{json, Value};
use support::*;

const FLASH: &str = "gemini-3.8-flash";
const PRO: &str = "gemini-3.1-pro-preview";
const LITE: &str = "gemini-3.5-flash-lite";
const ARGON: &str = "gemini-4-argon";

async fn post(
    gw: &Gateway,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client().post(gw.url(path)).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn messages(gw: &Gateway, body: &Value) -> reqwest::Response {
    post(
        gw,
        "/v1/messages",
        body,
        &[("anthropic-version", "2023-06-01")],
    )
    .await
}

fn claude(model: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]})
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]})
}

/// The models the mock was asked to generate with, in order.
fn models_called(mock: &MockGemini) -> Vec<String> {
    model_calls(mock)
        .into_iter()
        .filter(|r| r.action.as_deref() != Some("get"))
        .filter_map(|r| r.model)
        .collect()
}

async fn metrics(gw: &Gateway) -> String {
    client()
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn defaults_follow_the_live_catalog() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let status = gw.status().await;
    assert_eq!(status["models"]["big_model"]["model"], "gemini-pro-latest");
    assert_eq!(status["models"]["big_model"]["from"], "catalog");
    assert_eq!(
        status["models"]["small_model"]["model"],
        "gemini-flash-latest"
    );
    assert!(
        gw.logs().contains("big_model=gemini-pro-latest"),
        "{}",
        gw.logs()
    );
    let resp = messages(&gw, &claude("claude-sonnet-4-5")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-gateway-served-model"],
        "gemini-pro-latest"
    );
    assert!(
        resp.headers().get("x-gateway-substitution").is_none(),
        "a tier is configuration"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(models_called(&mock), ["gemini-pro-latest"]);
}

#[tokio::test]
async fn the_catalog_is_listed_on_every_surface() {
    let Scenario { gw, .. } = Scenario::keys(1).start().await;
    let get = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let gw = &gw;
        async move {
            let mut req = client().get(gw.url(path));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            resp.json::<Value>().await.unwrap()
        }
    };
    let ids = |list: &Value, field: &str, key: &str| -> Vec<String> {
        list[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m[key]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("models/")
                    .to_string()
            })
            .collect()
    };
    let google = get("/v1beta/models?pageSize=1000", &[]).await;
    let beta = ids(&google, "models", "name");
    assert!(beta.contains(&FLASH.to_string()) && !beta.contains(&ARGON.to_string()));
    assert!(
        !beta.contains(&"gemini-2.5-pro".to_string()),
        "retired ids are not listed"
    );
    let alpha = ids(
        &get("/v1alpha/models?pageSize=1000", &[]).await,
        "models",
        "name",
    );
    assert!(alpha.contains(&ARGON.to_string()));
    let openai = get("/v1/models", &[("authorization", "Bearer sk-x")]).await;
    assert_eq!(ids(&openai, "data", "id"), beta);
    // Claude Code's picker: the tiers, then each model that generates, as a `claude-` id.
    let anthropic = get(
        "/v1/models?limit=1000",
        &[("anthropic-version", "2023-06-01")],
    )
    .await;
    let picked = ids(&anthropic, "data", "id");
    assert_eq!(
        picked[..3],
        [
            "claude-opus-gateway",
            "claude-sonnet-gateway",
            "claude-haiku-gateway"
        ]
    );
    assert!(
        picked.iter().all(|id| id.starts_with("claude-")),
        "{picked:?}"
    );
    assert!(picked.contains(&format!("claude-{FLASH}")), "{picked:?}");
    assert!(
        !picked.iter().any(|id| id.contains("embedding")),
        "{picked:?}"
    );
    assert!(anthropic["data"][2]["display_name"]
        .as_str()
        .unwrap()
        .contains("gemini-"));
    assert_eq!(anthropic["has_more"], false);
    // Google's paging: two at a time, with the gateway's page tokens.
    let page = get("/v1beta/models?pageSize=2", &[]).await;
    assert_eq!(page["models"].as_array().unwrap().len(), 2);
    assert!(page["nextPageToken"].is_string());
    let status = gw.status().await;
    assert!(
        status["models"]["catalog"]["models"]
            .as_array()
            .unwrap()
            .len()
            >= beta.len()
    );
}

#[tokio::test]
async fn a_claude_id_from_the_picker_is_served_by_its_gemini_model() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let resp = messages(&gw, &claude(&format!("claude-{FLASH}"))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(models_called(&mock), [FLASH]);
    let one = client()
        .get(gw.url(&format!("/v1/models/claude-{FLASH}")))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    assert_eq!(one["id"], format!("claude-{FLASH}"));
}

#[tokio::test]
async fn a_retired_id_is_served_by_its_successor_and_says_so() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    // Native: the path names the successor upstream; the answer says which model served.
    let resp = generate(&gw, "gemini-2.5-pro").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-served-model"], FLASH);
    assert_eq!(resp.headers()["x-gateway-substitution"], "retired");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["modelVersion"], FLASH);
    // Anthropic: the `model` field names the model that served.
    let resp = messages(&gw, &claude("gemini-2.5-flash")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], LITE);
    // OpenAI: the same.
    let resp = post(
        &gw,
        "/v1/chat/completions",
        &chat("gemini-3-pro-preview"),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], PRO);
    assert_eq!(models_called(&mock), [FLASH, LITE, PRO]);
    let m = metrics(&gw).await;
    assert!(
        m.contains(r#"gateway_model_substitutions_total{from="gemini-2.5-pro",to="gemini-3.8-flash",reason="retired"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn a_2_5_era_configuration_still_gets_answers() {
    let Scenario { mock, gw, .. } = Scenario::keys(1)
        .envs(&[
            ("BIG_MODEL", "gemini-2.5-pro"),
            ("SMALL_MODEL", "gemini-2.5-flash"),
        ])
        .start()
        .await;
    for (model, served) in [
        ("claude-opus-4-1", FLASH),
        ("claude-3-5-haiku-latest", LITE),
    ] {
        let resp = messages(&gw, &claude(model)).await;
        assert_eq!(resp.status(), 200, "{model}");
        assert_eq!(resp.headers()["x-gateway-served-model"], served);
    }
    assert_eq!(models_called(&mock), [FLASH, LITE]);
}

#[tokio::test]
async fn an_unknown_name_is_a_404_in_each_dialect_and_touches_no_key() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let before = gw.status().await["keys"].clone();
    let resp = generate(&gw, "gemini-3.8-flsh").await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(FLASH),
        "{v}"
    );
    let resp = messages(&gw, &claude("gemini-9-nonesuch")).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
    let resp = post(&gw, "/v1/chat/completions", &chat("gpt-4o"), &[]).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("closest live models"),
        "{v}"
    );
    assert!(models_called(&mock).is_empty(), "nothing went upstream");
    let after = gw.status().await["keys"].clone();
    assert_eq!(after[0]["state"], before[0]["state"]);
    assert_eq!(after[0]["cooldowns"], json!({}));
}

#[tokio::test]
async fn aliases_map_names_and_patterns() {
    let Scenario { mock, gw, .. } = Scenario::keys(1)
        .env(
            "MODEL_ALIASES",
            "my-coder=gemini-3.1-pro-preview,claude-*-haiku-*=gemini-3.5-flash-lite",
        )
        .start()
        .await;
    let resp = post(&gw, "/v1/chat/completions", &chat("my-coder"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-substitution"], "alias");
    let resp = messages(&gw, &claude("claude-3-5-haiku-20241022")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(models_called(&mock), [PRO, LITE]);
}

#[tokio::test]
async fn with_every_key_resting_for_a_model_the_next_of_its_chain_serves() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2)
        .env("MODEL_FALLBACKS", &format!("{PRO} > {FLASH} > {LITE}"))
        .start()
        .await;
    for k in &ks {
        mock.script(rule(k, Some(PRO), None, per_minute("60s")));
    }
    // Unary, on each surface; the answer says which model served and why.
    let resp = messages(&gw, &claude(PRO)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = post(&gw, "/v1/chat/completions", &chat(PRO), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-served-model"], FLASH);
    assert_eq!(resp.headers()["x-gateway-substitution"], "fallback");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], FLASH);
    let resp = generate(&gw, PRO).await;
    assert_eq!(resp.status(), 200);
    // A stream falls back before its first byte.
    let mut body = claude(PRO);
    body["stream"] = json!(true);
    let resp = messages(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-served-model"], FLASH);
    let text = resp.text().await.unwrap();
    assert!(text.contains("message_stop"), "{text}");
    // A client may refuse a substitute: then the 503 stands.
    let resp = post(
        &gw,
        "/v1/chat/completions",
        &chat(PRO),
        &[("x-gateway-fallback", "off")],
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let m = metrics(&gw).await;
    assert!(
        m.contains(r#"gateway_model_substitutions_total{from="gemini-3.1-pro-preview",to="gemini-3.8-flash",reason="fallback"} 4"#),
        "{m}"
    );
}

#[tokio::test]
async fn gemini_4_through_each_surface_gets_answers_not_400s() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    // Anthropic: a thinking budget (Gemini 4 takes levels only), sampling it ignores.
    let body = json!({"model": ARGON, "max_tokens": 2000, "temperature": 0.3, "top_k": 10,
        "thinking": {"type": "enabled", "budget_tokens": 6000},
        "messages": [{"role": "user", "content": "Hello"}]});
    let resp = messages(&gw, &body).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // OpenAI chat: reasoning_effort minimal (no MINIMAL on Gemini 4), penalties, n: 2.
    let body = json!({"model": ARGON, "reasoning_effort": "minimal", "presence_penalty": 0.5,
        "frequency_penalty": 0.5, "n": 2, "messages": [{"role": "user", "content": "Hello"}]});
    let resp = post(&gw, "/v1/chat/completions", &body, &[]).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // Responses: effort minimal.
    let body = json!({"model": "gemini-4-hydrogen", "input": "Hello", "store": false,
        "reasoning": {"effort": "xhigh"}});
    let resp = post(&gw, "/v1/responses", &body, &[]).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // Native under v1beta: the gateway calls the model under v1alpha, where it is served.
    let resp = generate(&gw, ARGON).await;
    assert_eq!(resp.status(), 200);
    let calls = model_calls(&mock);
    assert_eq!(calls.len(), 4);
    for c in &calls {
        assert!(c.path.starts_with("/v1alpha/"), "{}", c.path);
        assert_eq!(c.status, 200);
        let config = &c.body.as_ref().unwrap()["generationConfig"];
        for refused in [
            "thinkingBudget",
            "presencePenalty",
            "frequencyPenalty",
            "candidateCount",
            "temperature",
        ] {
            assert!(
                !config.to_string().contains(refused),
                "{refused} in {config}"
            );
        }
    }
    assert_eq!(
        calls[2].body.as_ref().unwrap()["generationConfig"]["thinkingConfig"]["thinkingLevel"],
        "XHIGH"
    );
}

#[tokio::test]
async fn the_native_surface_serves_v1alpha() {
    let Scenario { mock, gw, .. } = Scenario::keys(1).start().await;
    let resp = client()
        .post(gw.url(&format!("/v1alpha/models/{ARGON}:generateContent")))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client()
        .get(gw.url(&format!("/v1alpha/models/{ARGON}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["name"], format!("models/{ARGON}"));
    assert_eq!(
        model_calls(&mock)[0].path,
        format!("/v1alpha/models/{ARGON}:generateContent")
    );
}

#[tokio::test]
async fn a_broken_gemini_4_stream_is_never_continued_by_prefill() {
    let mock = MockGemini::start_with(mock_gemini::MockOptions {
        stream_chunks: Some(4),
        ..Default::default()
    })
    .await
    .unwrap();
    let ks = keys(2);
    let gw = Gateway::start(&mock, &ks, &[]).await;
    let break_once = |model: &str| {
        for k in &ks {
            mock.script(rule(
                k,
                Some(model),
                Some(1),
                Behaviour::StreamBreak { after_chunks: 2 },
            ));
        }
    };
    break_once(ARGON);
    let resp = client()
        .post(gw.url(&format!(
            "/v1beta/models/{ARGON}:streamGenerateContent?alt=sse"
        )))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err(), "the broken stream ends broken");
    let calls = model_calls(&mock);
    for c in &calls {
        let contents = c.body.as_ref().unwrap()["contents"].as_array().unwrap();
        assert_ne!(
            contents.last().unwrap()["role"],
            "model",
            "a prefill was sent: {contents:?}"
        );
    }
    // And on a family that continues, the same break is continued on the other key.
    mock.clear_requests();
    break_once(FLASH);
    let resp = client()
        .post(gw.url(&format!(
            "/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
        )))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    let _ = resp.text().await;
    let continued = model_calls(&mock).iter().any(|c| {
        c.body.as_ref().unwrap()["contents"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["role"]
            == "model"
    });
    assert!(continued, "3.x streams are still continued by prefill");
}

#[tokio::test]
async fn a_key_whose_tier_lacks_a_model_is_not_asked_for_it() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(2);
    mock.set_quotas(QuotaConfig {
        tiers: [(ks[0].clone(), "free".to_string())].into(),
        ..QuotaConfig::default()
    });
    let gw = Gateway::start(&mock, &ks, &[]).await;
    mock.clear_requests();
    for _ in 0..4 {
        let resp = post(&gw, "/v1/chat/completions", &chat("gemini-4-carbon"), &[]).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    assert_eq!(keys_used(&mock), vec![ks[1].clone(); 4]);
    // It keeps serving the models it has.
    for _ in 0..2 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    assert!(keys_used(&mock)[4..].contains(&ks[0]));
    let status = gw.status().await;
    let lacking = &key_view(&status, &ks[0])["lacking_models"];
    assert!(
        lacking
            .as_array()
            .unwrap()
            .contains(&json!("gemini-4-carbon")),
        "{status}"
    );
}

#[tokio::test]
async fn a_monthly_spend_cap_rests_the_whole_project_and_the_rest_of_the_pool_serves() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let declared = format!("proj-a:{},proj-a:{},proj-b:{}", ks[0], ks[1], ks[2]);
    let gw = Gateway::start(&mock, &ks, &[("GEMINI_API_KEY", &declared)]).await;
    mock.script(rule(&ks[0], None, None, Behaviour::SpendCapMonthly));
    mock.script(rule(&ks[1], None, None, Behaviour::SpendCapMonthly));
    for model in [FLASH, PRO, FLASH, LITE] {
        let resp = generate(&gw, model).await;
        assert_eq!(resp.status(), 200, "{model}");
    }
    let used = keys_used(&mock);
    // One refusal rests proj-a everywhere: key 1 is never asked, every model goes to key 2.
    assert_eq!(used.iter().filter(|k| **k == ks[0]).count(), 1, "{used:?}");
    assert!(!used.contains(&ks[1]), "{used:?}");
    let status = gw.status().await;
    for k in &ks[..2] {
        let view = key_view(&status, k);
        assert_eq!(view["state"], "billing", "{view}");
        let until = view["billing"]["until"].as_str().unwrap();
        // The first of next month, midnight US Pacific (07:00 or 08:00 UTC).
        assert!(
            until.ends_with("-01T08:00:00Z") || until.ends_with("-01T07:00:00Z"),
            "{until}"
        );
    }
    assert_eq!(
        key_view(&status, &ks[0])["billing"]["reason"],
        "billing_monthly_cap"
    );
    assert_eq!(key_view(&status, &ks[2])["state"], "available");
    let m = metrics(&gw).await;
    assert!(m.contains("gateway_key_billing_rest_seconds{"), "{m}");
}
