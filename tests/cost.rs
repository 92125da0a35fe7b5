//! Black-box: what requests cost. For a mix of models (3.8 Flash, 3.1 Pro streamed), thinking,
//! implicitly cached input and the flex tier, the cost this file works out from each answer's
//! `usageMetadata` and the published rates equals what the gateway reports — in `/v1/usage`
//! (per client, per key, per project group, the period's total), on `/metrics`
//! (`gateway_cost_usd_total`) and in `/v1/requests` — and stays so across a restart and across
//! two gateways on one Redis. A flex request is sent to Gemini as `serviceTier: "flex"`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::redis_server::RedisServer;
use support::*;

const FLASH: &str = "gemini-3.8-flash";
const PRO: &str = "gemini-3.1-pro-preview";

/// Dollars per million tokens: input, output (thinking too), cached input.
fn rates(model: &str) -> (f64, f64, f64) {
    match model {
        FLASH => (1.5, 9.0, 0.15),
        PRO => (2.0, 12.0, 0.2),
        other => panic!("no rates for {other}"),
    }
}

/// What an answer's usage costs at `factor` (flex: 0.5).
fn cost(model: &str, usage: &Value, factor: f64) -> f64 {
    let n = |k: &str| usage[k].as_u64().unwrap_or(0) as f64;
    let (input, output, cached) = rates(model);
    let prompt = n("promptTokenCount");
    let hit = n("cachedContentTokenCount");
    ((prompt - hit) * input
        + hit * cached
        + (n("candidatesTokenCount") + n("thoughtsTokenCount")) * output)
        * factor
        / 1e6
}

/// A conversation with a system prompt large enough for the mock's implicit cache (≈ 6,000
/// tokens) and thinking on: its first turn, or (`again`) the first turn, an answer and a second
/// turn — whose prefix the first one left cached.
fn big_body(again: bool) -> Value {
    let mut contents = vec![json!({"role": "user", "parts": [{"text": "one"}]})];
    if again {
        contents.push(json!({"role": "model", "parts": [{"text": "yes"}]}));
        contents.push(json!({"role": "user", "parts": [{"text": "two"}]}));
    }
    json!({
        "systemInstruction": {"parts": [{"text": "You are a careful assistant. ".repeat(850)}]},
        "contents": contents,
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": true}},
    })
}

async fn unary(gw: &Gateway, model: &str, body: &Value, tier: Option<&str>) -> Value {
    let mut req = client()
        .post(gw.url(&format!("/v1beta/models/{model}:generateContent")))
        .json(body);
    if let Some(t) = tier {
        req = req.header("x-gemini-service-tier", t);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["usageMetadata"].clone()
}

async fn streamed(gw: &Gateway, model: &str, body: &Value) -> Value {
    let r = client()
        .post(gw.url(&format!(
            "/v1beta/models/{model}:streamGenerateContent?alt=sse"
        )))
        .json(body)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    text.split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v.get("usageMetadata").cloned())
        .last()
        .unwrap()
}

async fn get(gw: &Gateway, path: &str) -> Value {
    client()
        .get(gw.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn sum(rows: &Value, field: &str) -> f64 {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_f64().unwrap())
        .sum()
}

fn close(a: f64, b: f64) -> bool {
    // Each attempt's cost is rounded to a nano-dollar.
    (a - b).abs() < 1e-8
}

/// The mix: returns the cost it should have, per model.
async fn the_mix(gw: &Gateway) -> (f64, f64) {
    let mut flash = 0.0;
    let first = unary(gw, FLASH, &big_body(false), None).await;
    flash += cost(FLASH, &first, 1.0);
    let second = unary(gw, FLASH, &big_body(true), None).await;
    assert!(
        second["cachedContentTokenCount"].as_u64().unwrap_or(0) > 0,
        "the mix has cached input: {second}"
    );
    assert!(
        second["thoughtsTokenCount"].as_u64().unwrap_or(0) > 0,
        "the mix has thinking: {second}"
    );
    flash += cost(FLASH, &second, 1.0);
    let flex = unary(gw, FLASH, &hello_body(), Some("flex")).await;
    flash += cost(FLASH, &flex, 0.5);
    let pro = cost(PRO, &streamed(gw, PRO, &big_body(false)).await, 1.0);
    (flash, pro)
}

#[tokio::test]
async fn cost_matches_the_price_table_in_usage_metrics_and_recent_requests_and_survives_a_restart()
{
    let mock = MockGemini::start().await.unwrap();
    let keys = keys(1);
    let state = tempfile::tempdir().unwrap();
    let path = state.path().to_str().unwrap().to_string();
    let gw = Gateway::start(&mock, &keys, &[("STATE_PATH", &path)]).await;
    let (flash, pro) = the_mix(&gw).await;
    let total = flash + pro;

    let u = get(&gw, "/v1/usage").await;
    assert!(
        close(u["cost_usd"].as_f64().unwrap(), total),
        "{u} vs {total}"
    );
    assert!(close(sum(&u["clients"], "cost_usd"), total), "{u}");
    assert!(close(sum(&u["keys"], "cost_usd"), total), "{u}");
    assert!(close(sum(&u["projects"], "cost_usd"), total), "{u}");
    let per_model = |rows: &Value, model: &str| -> f64 {
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["model"] == model)
            .map(|r| r["cost_usd"].as_f64().unwrap())
            .sum()
    };
    assert!(close(per_model(&u["clients"], FLASH), flash), "{u}");
    assert!(close(per_model(&u["clients"], PRO), pro), "{u}");
    assert_eq!(u["unpriced"], json!([]));
    let csv = text(&gw, "/v1/usage?format=csv").await;
    assert!(csv.lines().next().unwrap().ends_with(",cost_usd"), "{csv}");

    let m = text(&gw, "/metrics").await;
    for (model, want) in [(FLASH, flash), (PRO, pro)] {
        let series = format!(r#"gateway_cost_usd_total{{model="{model}",client="anonymous"}}"#);
        assert!(close(metric(&m, &series), want), "{series} in {m}");
    }

    let recent = get(&gw, "/v1/requests").await;
    assert!(
        close(sum(&recent["requests"], "cost_usd"), total),
        "{recent}"
    );
    let tiers: Vec<&str> = recent["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["service_tier"].as_str())
        .collect();
    assert_eq!(tiers, ["flex"], "the served tier, Gemini's word: {recent}");
    let asked: Vec<Value> = model_calls(&mock)
        .into_iter()
        .filter_map(|r| r.body?.get("serviceTier").cloned())
        .collect();
    assert_eq!(asked, [json!("flex")], "the tier went to Gemini once");

    // A restart (embedded state): the same totals.
    assert_eq!(gw.terminate(), Some(0));
    let gw = Gateway::start(&mock, &keys, &[("STATE_PATH", &path)]).await;
    let u = get(&gw, "/v1/usage").await;
    assert!(close(u["cost_usd"].as_f64().unwrap(), total), "{u}");
    assert!(close(sum(&u["keys"], "cost_usd"), total), "{u}");
}

#[tokio::test]
async fn cost_adds_up_across_two_gateways_on_redis() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    // One key: the mix's cached turn must reach the project that cached its prefix.
    let keys = keys(1);
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    let a = Gateway::start(&mock, &keys, &env).await;
    let b = Gateway::start(&mock, &keys, &env).await;
    let (flash, pro) = the_mix(&a).await;
    let more = cost(FLASH, &unary(&b, FLASH, &hello_body(), None).await, 1.0);
    let total = flash + pro + more;
    for gw in [&a, &b] {
        eventually("both gateways' cost in Redis", || async {
            let u = get(gw, "/v1/usage").await;
            close(u["cost_usd"].as_f64().unwrap(), total).then_some(())
        })
        .await;
    }
    let u = get(&b, "/v1/usage").await;
    assert!(close(sum(&u["keys"], "cost_usd"), total), "{u}");
}
