//! Black-box: hostile bodies thrown at the built binary on both surfaces. Thousands of malformed
//! bodies (random bytes, invalid UTF-8, truncated and damaged Claude Code captures, 200-deep
//! nesting, 10 MB strings, wrong types and content types, bad base64, absurd numbers, broken
//! tool references, `$ref` bombs, URL-retargeting model names) all get a 4xx in the caller's
//! shape, nothing reaches the upstream, and the process is still serving afterwards. (Oversized
//! bodies and hang-ups: `hostile_connections.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hostile;
mod support;

use std::time::Instant;

use futures_util::future::join_all;
use hostile::{big_cases, cases, hello_messages, Case, Surface};
use serde_json::Value;
use support::*;

/// Sends `case`; returns a description of what was wrong with the answer, if anything.
async fn check(client: &reqwest::Client, gw: &Gateway, case: &Case) -> Option<String> {
    let mut req = client
        .post(gw.url(&case.path))
        .header("anthropic-version", "2023-06-01")
        .body(case.body.clone());
    if let Some(ct) = case.content_type {
        req = req.header("content-type", ct);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Some(format!("no answer: {e}")),
    };
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    if !(400..500).contains(&status) {
        return Some(format!("status {status}: {}", clip(&text)));
    }
    if text.len() > 10_000 {
        return Some(format!("an error body of {} bytes", text.len()));
    }
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Some(format!("status {status}, not JSON: {}", clip(&text)));
    };
    let shaped = match case.surface {
        Surface::Anthropic => {
            v["type"] == "error"
                && v["error"]["type"].as_str().is_some_and(|t| !t.is_empty())
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
        }
        Surface::Google => {
            v["error"]["code"] == status
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
                && v["error"]["status"].as_str().is_some_and(|s| !s.is_empty())
                && v.get("type").is_none()
        }
    };
    (!shaped).then(|| format!("status {status}, wrong shape: {}", clip(&text)))
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

async fn run_all(gw: &Gateway, cases: &[Case], batch: usize) -> Vec<String> {
    let client = client();
    let mut failures = Vec::new();
    for chunk in cases.chunks(batch) {
        let answers = join_all(chunk.iter().map(|c| check(&client, gw, c))).await;
        for (case, problem) in chunk.iter().zip(answers) {
            if let Some(p) = problem {
                failures.push(format!(
                    "{:?} {} ({} bytes to {}): {p}",
                    case.surface,
                    case.label,
                    case.body.len(),
                    case.path
                ));
            }
        }
    }
    failures
}

async fn assert_still_serving(gw: &Gateway) {
    assert!(process_alive(gw.pid()), "the gateway process died");
    let resp = client()
        .post(gw.url("/v1/messages"))
        .json(&hello_messages())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    let resp = client()
        .post(gw.url("/v1beta/models/gemini-3.8-flash:generateContent"))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["candidates"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_malformed_bodies_get_a_4xx_in_the_callers_shape_and_never_reach_upstream() {
    let Scenario { mock, gw, .. } = Scenario::keys(2).start().await;
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let started = Instant::now();
    let mut all = cases(seed, 3_000);
    all.extend(big_cases());
    let failures = run_all(&gw, &all, 64).await;
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "HOSTILE_SEED={seed}: {} of {} answers were wrong:\n{}",
        failures.len(),
        all.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        model_calls(&mock).is_empty(),
        "HOSTILE_SEED={seed}: upstream saw {:?}",
        model_calls(&mock)
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    assert_still_serving(&gw).await;
    assert_eq!(model_calls(&mock).len(), 2, "only the two normal requests");
    let logs = gw.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    eprintln!(
        "{} hostile requests (seed {seed}) answered in {elapsed:?}",
        all.len()
    );
}
