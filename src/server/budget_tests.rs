//! Client budgets and project caps in-process (`oneshot`, paused clock): a client with a $0.01
//! daily budget is served until its spend reaches it, then refused — a 429 in the shape of the
//! API it called, saying it is a budget and when it renews — and served again the next UTC
//! day; a project group at its own monthly cap rests like one Google capped, and the rest of
//! the pool serves.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::router;
use crate::config::{file, Config};
use crate::dispatch::Dispatcher;
use crate::pool::{Clock, KeyPool};
use crate::store::Backend;
use crate::upstream::scripted::{Reply, Scripted};

/// 2026-12-05T12:00:00Z.
const NOON: i64 = 1_796_472_000_000;

/// 1,000 output tokens of 3.8 Flash: $0.009 by the built-in table.
fn costly() -> Reply {
    Reply::Answer(
        StatusCode::OK,
        json!({"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"},
                "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 1000}})
        .to_string(),
    )
}

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn with_key(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("x-api-key", "sk-team-budget")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn native() -> Request<Body> {
    with_key(
        "/v1beta/models/gemini-3.8-flash:generateContent",
        json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}),
    )
}

/// A gateway in-process: the config file `toml` (with `vars`), its clock at [`NOON`], every
/// key answering [`costly`] ten times.
struct House {
    config: Config,
    app: axum::Router,
    pool: Arc<KeyPool>,
    telemetry: Arc<crate::telemetry::Telemetry>,
    upstream: Arc<Scripted>,
}

async fn house(vars: &[(&str, &str)], toml: &str) -> House {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_parts(&vars, file::parse(toml).unwrap()).unwrap();
    let pool = Arc::new(
        KeyPool::open(
            config.keys.clone(),
            &config.quota,
            config.key_cooldown,
            Clock::starting_at(NOON),
            Backend::Volatile,
        )
        .await
        .unwrap(),
    );
    let upstream = Arc::new(Scripted::default());
    for key in &config.keys {
        upstream.on(key, (0..10).map(|_| costly()));
    }
    let dispatcher = Dispatcher::new(pool.clone(), upstream.clone(), config.request_timeout);
    let telemetry = dispatcher.telemetry().clone();
    let app = router(Arc::new(config.clone()), dispatcher);
    House {
        config,
        app,
        pool,
        telemetry,
        upstream,
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_over_its_daily_budget_is_refused_in_its_apis_shape_until_the_next_utc_day() {
    let House { app, upstream, .. } = house(
        &[("GEMINI_API_KEY", "AIzaSyBudgetTestKey00xxxxxxxxxxxxxxxxxxx")],
        r#"
        [[clients]]
        name = "team"
        key = "sk-team-budget"
        budget_usd_per_day = 0.01
        "#,
    )
    .await;
    // $0.009, then $0.018: the request that crosses the budget is served.
    for _ in 0..2 {
        assert_eq!(send(&app, native()).await.0, StatusCode::OK);
        tokio::time::advance(Duration::from_millis(1100)).await;
    }
    let calls = upstream.calls().len();
    let (status, headers, body) = send(&app, native()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("$0.0100 budget for today (UTC)")
            && message.contains("2026-12-06T00:00:00"),
        "{message}"
    );
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (12 * 3600 - 5..=12 * 3600).contains(&retry),
        "until midnight UTC: {retry}"
    );
    // The same refusal in Anthropic's and OpenAI's shapes.
    let (status, _, body) = send(
        &app,
        with_key(
            "/v1/messages",
            json!({"model": "gemini-3.8-flash", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "Hello"}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["type"], "error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget"),
        "{body}"
    );
    let (status, _, body) = send(
        &app,
        with_key(
            "/v1/chat/completions",
            json!({"model": "gemini-3.8-flash",
                   "messages": [{"role": "user", "content": "Hello"}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget"),
        "{body}"
    );
    assert_eq!(
        upstream.calls().len(),
        calls,
        "no key was spent on a refusal"
    );
    // The next UTC day it is served again.
    tokio::time::advance(Duration::from_secs(12 * 3600)).await;
    assert_eq!(send(&app, native()).await.0, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_project_at_its_own_cap_rests_and_the_rest_of_the_pool_serves() {
    let House {
        config,
        app,
        pool,
        telemetry,
        upstream,
    } = house(
        &[],
        r#"
        keys = ["paid:AIzaSyCapTestKeyPaid0xxxxxxxxxxxxxxxxxx", "paid:AIzaSyCapTestKeyPaid1xxxxxxxxxxxxxxxxxx",
                "AIzaSyCapTestKeyFree0xxxxxxxxxxxxxxxxxx"]

        [[projects]]
        name = "paid"
        spend_cap_usd_per_month = 0.01
        "#,
    )
    .await;
    let caps = super::spend_caps::SpendCaps::new(config.money.project_caps.clone());
    // One request per key: $0.009 on each; the paid project's two keys $0.018 together.
    for _ in 0..3 {
        assert_eq!(send(&app, native()).await.0, StatusCode::OK);
    }
    caps.enforce(&pool, &telemetry).await;
    let (_, _, status) = send(
        &app,
        Request::get("/v1/keys/status").body(Body::empty()).unwrap(),
    )
    .await;
    let states: Vec<(&str, &str)> = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["group"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states
            .iter()
            .filter(|(g, s)| *g == "paid" && *s == "billing")
            .count(),
        2,
        "{states:?}"
    );
    let why = status.to_string();
    assert!(
        why.contains("the gateway's spend cap for project paid"),
        "{why}"
    );
    // The free key serves everything from now on.
    let free = config.keys[2].id().to_string();
    let before = upstream.calls().len();
    for _ in 0..3 {
        assert_eq!(send(&app, native()).await.0, StatusCode::OK);
    }
    let called = upstream.keys_called();
    assert!(called[before..].iter().all(|k| *k == free), "{called:?}");
}
