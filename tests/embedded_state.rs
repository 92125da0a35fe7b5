//! Black-box: with no settings the pool's state lives in an embedded database, so a restart or
//! a `kill -9` loses no disable and no cooldown; changed key lists and broken files are handled.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::*;

const FLASH: &str = "gemini-3.8-flash";

/// Drives traffic until key 0 is disabled and key 1 cools for flash (learned from the upstream).
async fn learn(mock: &MockGemini, gw: &Gateway, ks: &[String]) -> (String, String) {
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    mock.script(rule(&ks[1], Some(FLASH), None, per_minute("600s")));
    for _ in 0..4 {
        assert_eq!(generate(gw, FLASH).await.status(), 200);
    }
    let s = gw.status().await;
    assert_eq!(key_view(&s, &ks[0])["state"], "disabled");
    let until = key_view(&s, &ks[1])["cooldowns"][FLASH]
        .as_str()
        .unwrap()
        .to_string();
    (
        key_view(&s, &ks[0])["disabled_since"]
            .as_str()
            .unwrap()
            .to_string(),
        until,
    )
}

#[tokio::test]
async fn a_restart_keeps_disables_and_cooldowns() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let gw = Gateway::start(&mock, &ks, &[("STATE_PATH", state)]).await;
    let (since, until) = learn(&mock, &gw, &ks).await;
    assert_eq!(gw.terminate(), Some(0));

    mock.clear_rules();
    mock.clear_requests();
    let gw = Gateway::start(&mock, &ks, &[("STATE_PATH", state)]).await;
    let s = gw.status().await;
    assert_eq!(key_view(&s, &ks[0])["state"], "disabled");
    assert_eq!(key_view(&s, &ks[0])["disabled_reason"], "key_invalid");
    assert_eq!(key_view(&s, &ks[0])["disabled_since"], since.as_str());
    assert_eq!(
        key_view(&s, &ks[1])["cooldowns"][FLASH],
        until.as_str(),
        "the same absolute deadline"
    );
    assert!(
        key_view(&s, &ks[0])["requests"].as_u64().unwrap() >= 1,
        "counters survive a clean stop"
    );
    for _ in 0..4 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    let used: Vec<String> = model_calls(&mock)
        .into_iter()
        .map(|r| r.api_key.unwrap())
        .collect();
    assert!(
        used.iter().all(|k| *k == ks[2]),
        "only the healthy key is used after the restart: {used:?}"
    );
}

#[tokio::test]
async fn kill_9_mid_traffic_loses_nothing() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let gw = Gateway::start(&mock, &ks, &[("STATE_PATH", state)]).await;
    // Background traffic keeps flowing while the process is killed.
    let url = gw.url(&format!("/v1beta/models/{FLASH}:generateContent"));
    let traffic = tokio::spawn(async move {
        let c = client();
        for _ in 0..10_000 {
            if c.post(&url).json(&hello_body()).send().await.is_err() {
                break;
            }
        }
    });
    let (since, until) = learn(&mock, &gw, &ks).await;
    gw.kill9();
    traffic.await.unwrap();

    let gw = Gateway::start(&mock, &ks, &[("STATE_PATH", state)]).await;
    let s = gw.status().await;
    assert_eq!(key_view(&s, &ks[0])["state"], "disabled");
    assert_eq!(key_view(&s, &ks[0])["disabled_since"], since.as_str());
    assert_eq!(key_view(&s, &ks[1])["cooldowns"][FLASH], until.as_str());
}

#[tokio::test]
async fn removed_keys_drop_out_and_new_keys_join_available() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(4);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let gw = Gateway::start(&mock, &ks[..3], &[("STATE_PATH", state)]).await;
    let (_, until) = learn(&mock, &gw, &ks).await;
    assert_eq!(gw.terminate(), Some(0));

    // Key 0 is removed from the configuration, key 3 is new.
    let now = vec![ks[1].clone(), ks[2].clone(), ks[3].clone()];
    let gw = Gateway::start(&mock, &now, &[("STATE_PATH", state)]).await;
    let s = gw.status().await;
    assert_eq!(s["summary"]["total"], 3);
    assert!(!s.to_string().contains(&masked(&ks[0])));
    assert_eq!(key_view(&s, &ks[1])["cooldowns"][FLASH], until.as_str());
    assert_eq!(key_view(&s, &ks[3])["state"], "available");
    assert_eq!(s["backend"]["backend"], "embedded");
    assert_eq!(s["backend"]["healthy"], true);
}

#[tokio::test]
async fn a_corrupted_state_file_stops_startup_with_a_message_naming_it() {
    let mock = MockGemini::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pool.redb"), vec![0x42u8; 8192]).unwrap();
    let env: Vec<(String, String)> = [
        ("GEMINI_API_KEY", key(0)),
        ("GEMINI_BASE_URL", mock.base_url()),
        ("PORT", "0".into()),
        ("STATE_PATH", dir.path().to_str().unwrap().into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let Err((code, out)) = Gateway::spawn(&env).await else {
        panic!("started on a corrupted state file");
    };
    assert!(matches!(code, Some(c) if c != 0));
    assert!(
        out.contains("pool.redb"),
        "the message names the file: {out}"
    );
    assert!(!out.contains(&key(0)));
}
