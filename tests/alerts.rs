//! Black-box: webhook alerts. A key Google rejects while the gateway is under load (40 requests,
//! eight at a time) produces exactly one `key_disabled` call, and re-enabling it one recovery
//! call; a slow or failing webhook never holds a request up (the calls are retried with backoff
//! from a background queue). The receiver is a small server this test starts on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Router;
use futures_util::future::join_all;
use serde_json::Value;
use support::*;

const FLASH: &str = "gemini-3.8-flash";

/// A webhook receiver: every body it got, in order; it answers 500 to the first `fail_first`.
async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = Arc::new(Mutex::new(0usize));
    let (store, count) = (got.clone(), seen.clone());
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| async move {
            let mut n = count.lock().unwrap();
            *n += 1;
            if *n <= fail_first {
                return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            store
                .lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap());
            axum::http::StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn of_kind(got: &Mutex<Vec<Value>>, kind: &str) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_key_disabled_under_load_alerts_once_and_its_recovery_once_more() {
    // The first delivery fails: the alert is retried, not lost and not doubled.
    let (url, got) = receiver(1).await;
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let gw = Gateway::start(
        &mock,
        &ks,
        &[
            ("ALERT_WEBHOOK_URL", &url),
            ("ALERT_WEBHOOK_FORMAT", "json"),
            ("ADMIN_API_KEY", "admin-alerts-test"),
        ],
    )
    .await;
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    for _ in 0..5 {
        let answers = join_all((0..8).map(|_| generate(&gw, FLASH))).await;
        assert!(answers.iter().all(|r| r.status() == 200));
    }
    let raised = eventually("the key_disabled alert", || async {
        let a = of_kind(&got, "key_disabled");
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(raised[0]["state"], "raised");
    let id = raised[0]["subject"].as_str().unwrap().to_string();
    assert!(raised[0]["message"].as_str().unwrap().contains("disabled"));
    for k in &ks {
        let text = raised[0].to_string();
        assert!(
            !text.contains(k.as_str()),
            "a whole key in an alert: {text}"
        );
    }

    // More load: nothing new to say.
    for _ in 0..2 {
        join_all((0..8).map(|_| generate(&gw, FLASH))).await;
    }
    // The key comes back: one recovery.
    mock.clear_rules();
    let r = client()
        .post(gw.url(&format!("/admin/keys/{id}/enable")))
        .header("x-api-key", "admin-alerts-test")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let both = eventually("the recovery", || async {
        let a = of_kind(&got, "key_disabled");
        (a.len() >= 2).then_some(a)
    })
    .await;
    assert_eq!(both[1]["state"], "recovered");
    assert_eq!(both[1]["subject"], id.as_str());
    // The key serves again, and more load says nothing more.
    join_all((0..8).map(|_| generate(&gw, FLASH))).await;
    assert!(keys_used(&mock).iter().rev().take(8).any(|k| *k == ks[0]));
    assert_eq!(
        of_kind(&got, "key_disabled").len(),
        2,
        "exactly one call each way"
    );
}
