//! Black-box: the built binary against the strict mock, waiting for a key instead of a 503 —
//! served when the only key's short rest ends, the 503 at once when the rest is longer than
//! `QUEUE_MAX_WAIT`, and a client that hangs up while waiting spends no key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const FLASH: &str = "gemini-3.8-flash";

/// A generateContent call for flash whose text names it, so the mock's record says whose it was.
async fn ask(gw: &Gateway, tag: &str) -> reqwest::Response {
    let body = json!({"contents": [{"role": "user", "parts": [{"text": tag}]}]});
    client()
        .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The texts of the model calls the mock saw, in order.
fn asked(mock: &MockGemini) -> Vec<String> {
    model_calls(mock)
        .iter()
        .map(|r| {
            let body = r.body.clone().unwrap_or(Value::Null);
            body["contents"][0]["parts"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::test]
async fn a_request_made_while_the_only_key_rests_is_served_when_it_returns() {
    let Scenario { mock, keys, gw } = Scenario::keys(1).env("QUEUE_MAX_WAIT", "5").start().await;
    mock.script(rule(&keys[0], Some(FLASH), Some(1), per_minute("2s")));
    let started = Instant::now();
    // The first request meets the 429 that rests the key for 2 s, and waits for it.
    let first = tokio::spawn({
        let url = gw.url("");
        async move {
            let body = json!({"contents": [{"role": "user", "parts": [{"text": "first"}]}]});
            let resp = client()
                .post(format!("{url}/v1beta/models/{FLASH}:generateContent"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status(), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One made meanwhile is answered in about the remaining 1.5 s, not with a 503.
    let during = Instant::now();
    let resp = ask(&gw, "second").await;
    let waited = during.elapsed();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert!((1.2..3.0).contains(&secs(waited)), "waited {waited:?}");
    let (status, took) = first.await.unwrap();
    assert_eq!(status, 200);
    assert!((1.8..3.5).contains(&secs(took)), "took {took:?}");
    // Both pick the returned key one after the other (the line's order is proven in the
    // dispatcher's own tests); which of their two calls reaches the mock first is a race.
    let mut calls = asked(&mock);
    assert_eq!(
        calls.first().map(String::as_str),
        Some("first"),
        "{calls:?}"
    );
    calls[1..].sort();
    assert_eq!(calls, ["first", "first", "second"]);
    let metrics = client()
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            r#"gateway_queue_waits_total{{model="{FLASH}",outcome="served"}} 2"#
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_rest_longer_than_queue_max_wait_is_a_503_at_once() {
    let Scenario { mock, keys, gw } = Scenario::keys(1).env("QUEUE_MAX_WAIT", "1").start().await;
    mock.script(rule(&keys[0], Some(FLASH), Some(1), per_minute("3s")));
    for tag in ["first", "second"] {
        let started = Instant::now();
        let resp = ask(&gw, tag).await;
        assert!(started.elapsed() < Duration::from_millis(900), "at once");
        assert_eq!(resp.status(), 503);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((2..=3).contains(&retry), "retry-after {retry}");
    }
    assert_eq!(asked(&mock), ["first"], "no call while the key rests");
}

#[tokio::test]
async fn a_client_that_hangs_up_while_waiting_spends_no_key() {
    let Scenario { mock, keys, gw } = Scenario::keys(1).start().await;
    mock.script(rule(&keys[0], Some(FLASH), Some(1), per_minute("3s")));
    let first = tokio::spawn({
        let url = gw.url("");
        async move {
            let body = json!({"contents": [{"role": "user", "parts": [{"text": "first"}]}]});
            client()
                .post(format!("{url}/v1beta/models/{FLASH}:generateContent"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The second waits behind the first, and gives up after half a second.
    let gave_up = tokio::time::timeout(Duration::from_millis(500), ask(&gw, "gone")).await;
    assert!(gave_up.is_err(), "still waiting when it hung up");
    let hung_up = format!(r#"gateway_queue_waits_total{{model="{FLASH}",outcome="hung_up"}} 1"#);
    eventually("the gateway saw the hang-up", || async {
        let m = client().get(gw.url("/metrics")).send().await.ok()?;
        m.text().await.ok()?.contains(&hung_up).then_some(())
    })
    .await;
    assert_eq!(first.await.unwrap(), 200);
    // One made after the first was served goes straight through.
    assert_eq!(ask(&gw, "third").await.status(), 200);
    assert_eq!(
        asked(&mock),
        ["first", "first", "third"],
        "none from the one that left"
    );
}
