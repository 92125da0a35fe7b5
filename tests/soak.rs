//! Black-box soak: 16 clients for 30 s against a gateway whose keys fail in every way at once —
//! invalid, suspended, out of its daily quota, hung, streams that break mid-way, one healthy key
//! that goes down and comes back, two keys of a project at its per-minute quota — while healthy
//! keys exist. Both surfaces, streamed and not. The clients must see no failure, no broken
//! stream, and p99 under 1 s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_gemini::{QuotaConfig, QuotaLimit};
use serde_json::{json, Value};
use support::*;

const FLASH: &str = "gemini-3.8-flash";
const CLIENTS: usize = 16;
const FOR: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
enum Kind {
    NativeUnary,
    NativeStream,
    MessagesUnary,
    MessagesStream,
}

/// Sends one request of `kind`; `Err` describes what the client saw go wrong.
async fn one(gw: &Gateway, kind: Kind) -> Result<(), String> {
    let c = client();
    let resp = match kind {
        Kind::NativeUnary => c
            .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
            .json(&hello_body()),
        Kind::NativeStream => c
            .post(gw.url(&format!(
                "/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
            )))
            .json(&hello_body()),
        Kind::MessagesUnary | Kind::MessagesStream => c
            .post(gw.url("/v1/messages"))
            .header("anthropic-version", "2023-06-01")
            .json(
                &json!({"model": "claude-3-5-haiku-latest", "max_tokens": 200,
                "stream": matches!(kind, Kind::MessagesStream),
                "messages": [{"role": "user", "content": "Hello soak"}]}),
            ),
    }
    .send()
    .await
    .map_err(|e| format!("{kind:?}: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("{kind:?}: broken body: {e}"))?;
    if status != 200 {
        return Err(format!("{kind:?}: {status} {body}"));
    }
    let whole = match kind {
        Kind::NativeUnary => body.contains("finishReason"),
        Kind::NativeStream => body.contains("\"finishReason\""),
        Kind::MessagesUnary => {
            serde_json::from_str::<Value>(&body).is_ok_and(|v| v["type"] == "message")
        }
        Kind::MessagesStream => {
            body.contains("event: message_stop") && !body.contains("event: error")
        }
    };
    if whole {
        Ok(())
    } else {
        Err(format!("{kind:?}: incomplete answer: {body}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_costs_the_clients_nothing() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(12);
    let env = [("REQUEST_TIMEOUT", "2")];
    mock.set_quotas(QuotaConfig {
        projects: [
            (ks[6].clone(), "busy".to_string()),
            (ks[7].clone(), "busy".to_string()),
        ]
        .into_iter()
        .collect(),
        limits: vec![QuotaLimit {
            project: "busy".into(),
            model: FLASH.into(),
            rpm: Some(5),
            tpm: None,
            rpd: None,
        }],
        ..QuotaConfig::default()
    });
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    mock.script(rule(&ks[1], None, None, Behaviour::Suspended));
    mock.script(rule(&ks[2], None, None, Behaviour::RateLimitPerDay));
    mock.script(rule(&ks[3], None, None, Behaviour::Hang));
    mock.script(rule(
        &ks[4],
        None,
        None,
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    let gw = Gateway::start(&mock, &ks, &env).await;

    let latencies = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let gw = Arc::new(gw);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (gw, latencies, failures) = (gw.clone(), latencies.clone(), failures.clone());
        clients.push(tokio::spawn(async move {
            let kinds = [
                Kind::NativeUnary,
                Kind::NativeStream,
                Kind::MessagesUnary,
                Kind::MessagesStream,
            ];
            let mut n = c;
            while started.elapsed() < FOR {
                let kind = kinds[n % kinds.len()];
                n += 1;
                let sent = Instant::now();
                let result = one(&gw, kind).await;
                latencies.lock().unwrap().push(sent.elapsed());
                if let Err(e) = result {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{:.1}s {e}", started.elapsed().as_secs_f64()));
                }
            }
        }));
    }
    // A healthy key goes down for ten seconds, then comes back.
    let down = ks[5].clone();
    let mock = Arc::new(mock);
    let flipper = {
        let mock = mock.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(8)).await;
            mock.script(rule(&down, None, None, Behaviour::Internal));
            tokio::time::sleep(Duration::from_secs(10)).await;
            mock.script(rule(&down, None, None, Behaviour::Ok));
        })
    };
    for c in clients {
        c.await.unwrap();
    }
    flipper.await.unwrap();

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let failures = failures.lock().unwrap().clone();
    let statuses: Vec<u16> = mock.requests().iter().map(|r| r.status).collect();
    eprintln!(
        "{} requests in {:?}: p50 {:?}, p99 {:?}, max {:?}; {} failures; of the last {} upstream calls: {} hung, {} 429, {} 5xx",
        lat.len(),
        FOR,
        p(0.5),
        p(0.99),
        lat.last().unwrap(),
        failures.len(),
        statuses.len(),
        statuses.iter().filter(|s| **s == 0).count(),
        statuses.iter().filter(|s| **s == 429).count(),
        statuses.iter().filter(|s| **s >= 500).count(),
    );
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert!(p(0.99) < Duration::from_secs(1), "p99 {:?}", p(0.99));
    assert!(lat.len() > 1_000, "only {} requests", lat.len());
    let status = gw.status().await;
    assert_eq!(status["summary"]["permanently_disabled"], 2, "{status}");
    assert!(
        key_view(&status, &ks[5])["ejections"]
            .as_object()
            .unwrap()
            .is_empty(),
        "the key that came back is in rotation again"
    );
}
