//! Black-box: what the gateway tells about itself — `/metrics` counters and token totals that
//! change by exactly what was sent and what Gemini reported (streamed and not), usage totals in
//! `/v1/usage` (JSON and CSV) that survive a restart and add up across two gateways on Redis,
//! request ids that round-trip, `LOG_FORMAT=json`, the dashboard page — and no key anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::redis_server::RedisServer;
use support::*;

const FLASH: &str = "gemini-3.8-flash";

async fn usage(gw: &Gateway, query: &str) -> Value {
    let r = client()
        .get(gw.url(&format!("/v1/usage{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Gemini's `promptTokenCount` and `candidatesTokenCount` (+ thoughts) in an answer.
fn reported(usage: &Value) -> (u64, u64, u64) {
    let n = |k: &str| usage[k].as_u64().unwrap_or(0);
    (
        n("promptTokenCount"),
        n("candidatesTokenCount"),
        n("thoughtsTokenCount"),
    )
}

async fn generate_unary(gw: &Gateway) -> (u64, u64, u64) {
    let r = generate(gw, FLASH).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    reported(&body["usageMetadata"])
}

async fn generate_stream(gw: &Gateway) -> (u64, u64, u64) {
    let r = client()
        .post(gw.url(&format!(
            "/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
        )))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let last = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v.get("usageMetadata").is_some())
        .last()
        .unwrap();
    reported(&last["usageMetadata"])
}

fn add(a: (u64, u64, u64), b: (u64, u64, u64)) -> (u64, u64, u64) {
    (a.0 + b.0, a.1 + b.1, a.2 + b.2)
}

#[tokio::test]
async fn counters_and_tokens_change_by_exactly_what_was_sent_and_reported() {
    let s = Scenario::keys(2).start().await;
    let mut sent = (0, 0, 0);
    for _ in 0..3 {
        sent = add(sent, generate_unary(&s.gw).await);
    }
    for _ in 0..2 {
        sent = add(sent, generate_stream(&s.gw).await);
    }
    let m = text(&s.gw, "/metrics").await;
    let ok = format!(
        r#"gateway_requests_total{{surface="gemini",model="{FLASH}",status="200",client="anonymous"}}"#
    );
    assert_eq!(metric(&m, &ok), 5.0, "{m}");
    let tokens = |kind: &str| {
        metric(
            &m,
            &format!(r#"gateway_tokens_total{{model="{FLASH}",client="anonymous",kind="{kind}"}}"#),
        ) as u64
    };
    assert_eq!(
        (tokens("input"), tokens("output"), tokens("thought")),
        sent,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            &format!(r#"gateway_upstream_attempts_total{{model="{FLASH}",outcome="ok"}}"#)
        ),
        5.0
    );
    assert_eq!(metric(&m, r#"gateway_keys{state="available"}"#), 2.0);
    assert!(m.contains("gateway_request_duration_seconds_bucket"), "{m}");
    // The same totals in the usage book, per client and summed over the keys.
    let u = usage(&s.gw, &format!("?model={FLASH}")).await;
    let client = &u["clients"][0];
    assert_eq!(client["client"], "anonymous");
    assert_eq!(client["requests"], 5);
    assert_eq!(client["input_tokens"], sent.0);
    assert_eq!(client["output_tokens"], sent.1);
    let per_key: u64 = u["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_key, 5);
    let key_tokens: u64 = u["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["input_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(key_tokens, sent.0);
    for k in &s.keys {
        assert!(!m.contains(k.as_str()) && !u.to_string().contains(k.as_str()));
    }
}

#[tokio::test]
async fn failures_and_rate_limits_are_counted_per_key_and_outcome() {
    let s = Scenario::keys(2).start().await;
    s.mock
        .script(rule(&s.keys[0], None, Some(1), per_minute("30s")));
    assert_eq!(generate(&s.gw, FLASH).await.status(), 200);
    let m = text(&s.gw, "/metrics").await;
    assert_eq!(
        metric(
            &m,
            &format!(
                r#"gateway_upstream_attempts_total{{model="{FLASH}",outcome="rate_limited"}}"#
            )
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            &format!(r#"gateway_failovers_total{{model="{FLASH}"}}"#)
        ),
        1.0
    );
    let id = key_view(&s.gw.status().await, &s.keys[0])["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        metric(
            &m,
            &format!(r#"gateway_key_cooldown_seconds{{key="{id}",model="{FLASH}"}}"#)
        ) > 0.0,
        "{m}"
    );
    let u = usage(&s.gw, &format!("?key={id}")).await;
    assert_eq!(u["keys"][0]["rate_limited"], 1);
    assert_eq!(u["keys"][0]["failures"], 1);
    assert!(
        u["clients"].as_array().unwrap().is_empty(),
        "a key filter shows keys only"
    );
    let csv = text(&s.gw, "/v1/usage?format=csv").await;
    assert!(csv.starts_with("day,scope,name,model,requests,"), "{csv}");
    assert!(csv.contains(&format!(",key,{id},{FLASH},1,1,1,")), "{csv}");
    let bad = client()
        .get(s.gw.url("/v1/usage?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn request_ids_round_trip_into_headers_error_bodies_and_log_lines() {
    let s = Scenario::keys(1).start().await;
    let r = client()
        .post(s.gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .header("x-request-id", "trace-abc-123")
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(r.headers()["request-id"], "trace-abc-123");
    let r = client()
        .post(s.gw.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gpt-4o", "max_tokens": 10, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_"), "{id}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["type"], "error", "the dialect is kept");
    let logs = eventually("the request's log lines", || async {
        let logs = s.gw.logs();
        logs.contains("trace-abc-123").then_some(logs)
    })
    .await;
    let tagged: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("request{id=trace-abc-123}"))
        .collect();
    assert!(
        tagged.iter().any(|l| l.contains("request finished")),
        "{logs}"
    );
    assert!(!logs.contains(&s.keys[0]));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let s = Scenario::keys(1)
        .envs(&[("LOG_FORMAT", "json"), ("LOG_LEVEL", "debug")])
        .start()
        .await;
    generate(&s.gw, FLASH).await;
    let logs = eventually("a finished request in the log", || async {
        let logs = s.gw.logs();
        logs.contains("request finished").then_some(logs)
    })
    .await;
    for line in logs.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.is_object(), "{line}");
    }
    let listening: Value =
        serde_json::from_str(logs.lines().find(|l| l.contains("listening")).unwrap()).unwrap();
    assert!(listening["address"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let finished: Value = serde_json::from_str(
        logs.lines()
            .find(|l| l.contains("request finished"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(finished["model"], FLASH);
    assert!(
        finished.to_string().contains("req_"),
        "the request span carries the id: {finished}"
    );
}

#[tokio::test]
async fn the_views_are_protected_like_the_status_and_the_page_holds_no_data() {
    let s = Scenario::keys(1)
        .env("GATEWAY_API_KEYS", "gw-secret")
        .start()
        .await;
    for path in ["/metrics", "/v1/usage", "/v1/requests", "/v1/keys/status"] {
        let r = client().get(s.gw.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = client()
            .get(s.gw.url(path))
            .header("x-api-key", "gw-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let page = client().get(s.gw.url("/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/v1/keys/status") && !html.contains("AIza"));
    // A client request is counted under its client's name, never its key.
    client()
        .post(s.gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .header("x-goog-api-key", "gw-secret")
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    let m = client()
        .get(s.gw.url("/metrics"))
        .header("x-api-key", "gw-secret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains(r#"client="client-"#), "{m}");
    assert!(!m.contains("gw-secret"));
    let recent: Value = client()
        .get(s.gw.url("/v1/requests"))
        .header("x-api-key", "gw-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = &recent["requests"][0];
    assert_eq!(
        (last["surface"].as_str(), last["status"].as_u64()),
        (Some("gemini"), Some(200))
    );
    assert!(last["request_id"].as_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn usage_survives_a_restart() {
    let mock = MockGemini::start().await.unwrap();
    let keys = keys(1);
    let state = tempfile::tempdir().unwrap();
    let path = state.path().to_str().unwrap().to_string();
    let gw = Gateway::start(&mock, &keys, &[("STATE_PATH", &path)]).await;
    for _ in 0..3 {
        generate_unary(&gw).await;
    }
    assert_eq!(gw.terminate(), Some(0), "a clean stop flushes the book");
    let gw = Gateway::start(&mock, &keys, &[("STATE_PATH", &path)]).await;
    generate_unary(&gw).await;
    let u = usage(&gw, "").await;
    assert_eq!(u["clients"][0]["requests"], 4, "{u}");
    assert_eq!(u["keys"][0]["requests"], 4, "{u}");
}

#[tokio::test]
async fn usage_adds_up_across_two_gateways_on_redis() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let keys = keys(2);
    let env = [("REDIS_URL", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Gateway::start(&mock, &keys, &env).await;
    let b = Gateway::start(&mock, &keys, &env).await;
    for _ in 0..3 {
        generate_unary(&a).await;
    }
    for _ in 0..2 {
        generate_unary(&b).await;
    }
    // Each gateway flushes about once a second; the other's share shows once it has.
    for gw in [&a, &b] {
        eventually("both gateways' usage in Redis", || async {
            let u = usage(gw, "").await;
            (u["clients"][0]["requests"] == 5).then_some(())
        })
        .await;
    }
    let u = usage(&a, "").await;
    let per_key: u64 = u["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_key, 5);
}
