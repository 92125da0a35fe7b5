//! Black-box: the built binary against the strict mock, one test per row of the classification
//! table, the per-model scope, both failover policies and the exhausted pool; streams in
//! `failover_streams/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod failover_streams;
mod support;

use serde_json::Value;
use support::*;

const FLASH: &str = "gemini-3.8-flash";
const PRO: &str = "gemini-3.1-pro-preview";

fn secs_until(iso: &str) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(iso).unwrap();
    (t.timestamp_millis() - wall_clock_ms()) as f64 / 1000.0
}

#[tokio::test]
async fn per_minute_429_cools_that_model_for_the_retry_delay_and_fails_over() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    mock.script(rule(&ks[0], Some(FLASH), None, per_minute("41s")));
    mock.script(rule(&ks[1], Some(FLASH), Some(0), Behaviour::Ok));

    for _ in 0..4 {
        let resp = generate(&gw, FLASH).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    // Key 0 was tried once, rested; every success came from key 1.
    let used = keys_used(&mock);
    assert_eq!(used.iter().filter(|k| **k == ks[0]).count(), 1, "{used:?}");
    assert_eq!(used.iter().filter(|k| **k == ks[1]).count(), 4);

    let status = gw.status().await;
    let cooldown = key_view(&status, &ks[0])["cooldowns"][FLASH]
        .as_str()
        .unwrap()
        .to_string();
    let left = secs_until(&cooldown);
    assert!((38.0..=42.0).contains(&left), "cooldown ends in {left}s");
    assert_eq!(key_view(&status, &ks[0])["last_error"], "rate_limited");
    // Only flash has been asked for so far: in the seed's view the key is temporarily out.
    assert!(
        status["temporarily_disabled_keys"][masked(&ks[0])].is_string(),
        "{status}"
    );

    // Another model still uses key 0.
    mock.clear_requests();
    for _ in 0..2 {
        assert_eq!(generate(&gw, PRO).await.status(), 200);
    }
    assert!(
        keys_used(&mock).contains(&ks[0]),
        "a flash rate limit must not take key 0 away from pro"
    );
    // Now that pro is served too, the key cooling for flash only is listed as available.
    let status = gw.status().await;
    assert!(
        status["available_keys"]
            .as_array()
            .unwrap()
            .contains(&Value::from(masked(&ks[0]))),
        "{status}"
    );
    assert!(key_view(&status, &ks[0])["cooldowns"][FLASH].is_string());
}

#[tokio::test]
async fn per_day_429_cools_until_pacific_midnight() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    mock.script(rule(&ks[0], None, None, Behaviour::RateLimitPerDay));
    mock.script(rule(&ks[1], None, None, Behaviour::RateLimitPerDay));

    let resp = generate(&gw, FLASH).await;
    assert_eq!(resp.status(), 503);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = chrono_tz_reset_secs();
    assert!(
        (retry_after as f64 - expected).abs() < 5.0,
        "retry-after {retry_after} vs {expected}"
    );

    let status = gw.status().await;
    assert_eq!(status["summary"]["temporarily_disabled"], 2);
    let until = status["temporarily_disabled_keys"][masked(&ks[0])]
        .as_str()
        .unwrap();
    assert!((secs_until(until) - expected).abs() < 5.0);
    assert_eq!(
        key_view(&status, &ks[0])["last_error"],
        "rate_limited_daily"
    );
}

/// Seconds until the next midnight in America/Los_Angeles.
fn chrono_tz_reset_secs() -> f64 {
    let now = wall_clock_ms();
    (gemini_gateway::pool::next_daily_reset(now) - now) as f64 / 1000.0
}

#[tokio::test]
async fn a_429_without_hints_cools_for_key_cooldown_minutes() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2)
        .envs(&[("KEY_COOLDOWN_MINUTES", "5")])
        .start()
        .await;
    mock.script(rule(&ks[0], None, None, Behaviour::RateLimitBare));
    for _ in 0..2 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    let status = gw.status().await;
    let left = secs_until(
        key_view(&status, &ks[0])["cooldowns"][FLASH]
            .as_str()
            .unwrap(),
    );
    assert!((295.0..=301.0).contains(&left), "{left}");
}

#[tokio::test]
async fn invalid_and_suspended_keys_are_disabled_for_good_and_never_used_again() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(3).start().await;
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    mock.script(rule(&ks[1], None, None, Behaviour::Suspended));

    for _ in 0..6 {
        let resp = generate(&gw, FLASH).await;
        assert_eq!(resp.status(), 200);
    }
    for model in [PRO, FLASH] {
        assert_eq!(generate(&gw, model).await.status(), 200);
    }
    let used = keys_used(&mock);
    assert_eq!(used.iter().filter(|k| **k == ks[0]).count(), 1, "{used:?}");
    assert_eq!(used.iter().filter(|k| **k == ks[1]).count(), 1);

    let status = gw.status().await;
    let disabled: Vec<&str> = status["permanently_disabled_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(disabled.len(), 2);
    assert!(
        disabled.contains(&masked(&ks[0]).as_str()) && disabled.contains(&masked(&ks[1]).as_str())
    );
    assert_eq!(key_view(&status, &ks[0])["disabled_reason"], "key_invalid");
    assert_eq!(
        key_view(&status, &ks[1])["disabled_reason"],
        "permission_denied"
    );
    assert_eq!(status["summary"]["available"], 1);
}

#[tokio::test]
async fn client_mistakes_go_straight_back_and_cost_no_key() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;

    // An unknown field: the strict upstream answers 400 INVALID_ARGUMENT.
    let resp = client()
        .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .json(&serde_json::json!({"contents": [{"parts": [{"text": "hi"}]}], "bogusField": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bogusField"));

    // An unknown model: 404 from the gateway (the live catalog lacks it), nothing upstream.
    assert_eq!(generate(&gw, "gemini-0-nonexistent").await.status(), 404);

    assert_eq!(
        model_calls(&mock).len(),
        1,
        "one upstream call, no failover"
    );
    let status = gw.status().await;
    assert_eq!(status["summary"]["available"], 3);
    assert!(status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["cooldowns"].as_object().unwrap().is_empty()));
}

#[tokio::test]
async fn server_errors_retry_on_the_next_key_a_bounded_number_of_times() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(5).start().await;
    // 500s: a 503 from most keys would be the model's overload, answered without spending
    // keys (`a_model_most_keys_call_overloaded_is_rested_everywhere`).
    for k in &ks {
        mock.script(rule(k, None, None, Behaviour::Internal));
    }
    let resp = generate(&gw, FLASH).await;
    assert!(resp.status().is_server_error());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INTERNAL");
    let used = keys_used(&mock);
    assert_eq!(
        used.len(),
        3,
        "bounded at three transient attempts: {used:?}"
    );
    let mut distinct = used.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "each on a different key");
    let status = gw.status().await;
    assert_eq!(status["summary"]["available"], 5, "5xx never costs a key");

    // One-shot 500s on every key, then success.
    mock.script(rule(&ks[0], None, None, Behaviour::Ok));
    mock.script(rule(&ks[1], None, None, Behaviour::Ok));
    mock.script(rule(&ks[2], None, None, Behaviour::Ok));
    mock.script(rule(&ks[3], None, None, Behaviour::Ok));
    mock.script(rule(&ks[4], None, None, Behaviour::Ok));
    for k in &ks {
        mock.script(rule(k, None, Some(1), Behaviour::Internal));
    }
    mock.clear_requests();
    let resp = generate(&gw, FLASH).await;
    assert_eq!(resp.status(), 500, "three 500s in a row exhaust the bound");
    let resp = generate(&gw, FLASH).await;
    assert_eq!(
        resp.status(),
        200,
        "the keys that failed once answer again (two keys rest, ejected, since part one)"
    );
}

#[tokio::test]
async fn a_hanging_key_times_out_and_the_next_key_answers() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2)
        .envs(&[("REQUEST_TIMEOUT", "0.5")])
        .start()
        .await;
    mock.script(rule(&ks[0], None, None, Behaviour::Hang));
    mock.script(rule(&ks[1], None, None, Behaviour::Ok));
    for _ in 0..2 {
        let resp = generate(&gw, FLASH).await;
        assert_eq!(resp.status(), 200);
    }
    let status = gw.status().await;
    assert_eq!(
        key_view(&status, &ks[0])["last_error"],
        "upstream_unavailable"
    );
    assert_eq!(
        status["summary"]["available"], 2,
        "a timeout is not the key's fault"
    );

    // Only hanging keys: 504 in Google's shape.
    mock.script(rule(&ks[1], None, None, Behaviour::Hang));
    let resp = generate(&gw, FLASH).await;
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_with_retry_after_of_the_earliest_return() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    mock.script(rule(&ks[0], None, None, per_minute("30s")));
    mock.script(rule(&ks[1], None, None, per_minute("12.5s")));
    let resp = generate(&gw, FLASH).await;
    assert_eq!(resp.status(), 503);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((12..=13).contains(&retry), "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 503);
    assert_eq!(body["error"]["status"], "UNAVAILABLE");

    // No further upstream call while every key rests.
    mock.clear_requests();
    assert_eq!(generate(&gw, FLASH).await.status(), 503);
    assert!(model_calls(&mock).is_empty());

    // All keys disabled: no Retry-After, nothing comes back by itself.
    let ks = keys(2);
    let mock2 = MockGemini::start().await.unwrap();
    let gw2 = Gateway::start(&mock2, &ks, &[]).await;
    mock2.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    mock2.script(rule(&ks[1], None, None, Behaviour::KeyInvalid));
    let resp = generate(&gw2, FLASH).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_none());
}

#[tokio::test]
async fn round_robin_spreads_requests_evenly() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(4).start().await;
    let c = client();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let c = c.clone();
        let url = gw.url(&format!("/v1beta/models/{FLASH}:generateContent"));
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .json(&hello_body())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let used = keys_used(&mock);
    for k in &ks {
        assert_eq!(used.iter().filter(|u| *u == k).count(), 10);
    }
}

#[tokio::test]
async fn each_model_rotates_over_every_key_whatever_the_others_do() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    for _ in 0..4 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
        assert_eq!(generate(&gw, PRO).await.status(), 200);
    }
    for model in [FLASH, PRO] {
        let used: Vec<String> = model_calls(&mock)
            .into_iter()
            .filter(|r| r.model.as_deref() == Some(model))
            .map(|r| r.api_key.unwrap_or_default())
            .collect();
        for k in &ks {
            assert_eq!(used.iter().filter(|u| *u == k).count(), 2, "{model}");
        }
    }
}

#[tokio::test]
async fn listing_models_does_not_count_as_a_model_requested() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(1).start().await;
    mock.script(rule(&ks[0], Some(FLASH), None, per_minute("60s")));
    assert_eq!(generate(&gw, FLASH).await.status(), 503);
    let list = client().get(gw.url("/v1beta/models")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let status = gw.status().await;
    assert_eq!(status["summary"]["temporarily_disabled"], 1, "{status}");
    assert!(status["temporarily_disabled_keys"][masked(&ks[0])].is_string());
    assert_eq!(status["available_keys"], serde_json::json!([]));
}
