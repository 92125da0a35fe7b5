//! Reload without restart: `kill -HUP` makes the gateway read its `.env` and config file again.
//! Under load, keys join and leave with no request failing (a key that leaves finishes what it
//! carries, then gets nothing); client keys and their limits are replaced; settings that need a
//! restart are named in one log line (the environment still wins over `.env`); a file that does
//! not validate changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mock_gemini::MockOptions;
use support::{client, eventually, hello_body, key, model_calls, Gateway, MockGemini};

fn hang_up(gw: &Gateway) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(gw.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Rewrites the gateway's `.env`, sends SIGHUP and waits for the `reloaded` (or refused) line.
async fn reload_with(gw: &Gateway, env_file: &str, done: &str) {
    let before = gw.logs().matches(done).count();
    std::fs::write(gw.dir().join(".env"), env_file).unwrap();
    hang_up(gw);
    eventually("the reload to be logged", || async {
        (gw.logs().matches(done).count() > before).then_some(())
    })
    .await;
}

/// The masked keys `/v1/keys/status` lists.
async fn listed(gw: &Gateway) -> Vec<String> {
    let status = gw.status().await;
    let mut keys: Vec<String> = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

fn masked(indices: &[usize]) -> Vec<String> {
    let mut keys: Vec<String> = indices.iter().map(|&i| support::masked(&key(i))).collect();
    keys.sort();
    keys
}

/// The keys the mock saw on model calls from the `from`-th on.
fn keys_since(mock: &MockGemini, from: usize) -> Vec<String> {
    model_calls(mock)
        .into_iter()
        .skip(from)
        .map(|r| r.api_key.unwrap_or_default())
        .collect()
}

async fn calls_reach(mock: &MockGemini, n: usize) {
    eventually("more model calls", || async {
        (model_calls(mock).len() >= n).then_some(())
    })
    .await;
}

const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_join_and_leave_under_load_without_a_failed_request() {
    // Slow enough answers and streams that every reload lands on requests in flight.
    let mock = MockGemini::start_with(MockOptions {
        response_delay_ms: Some(15),
        chunk_interval_ms: Some(10),
        stream_chunks: Some(4),
    })
    .await
    .unwrap();
    let env_file = |ks: &[usize]| {
        let list: Vec<String> = ks.iter().map(|&i| key(i)).collect();
        format!("GEMINI_API_KEY={}\n", list.join(","))
    };
    let gw = Arc::new(Gateway::start_with_files(&mock, &[(".env", &env_file(&[0, 1]))], &[]).await);
    assert_eq!(listed(&gw).await, masked(&[0, 1]));

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (gw, stop, served) = (gw.clone(), stop.clone(), served.clone());
        workers.push(tokio::spawn(async move {
            let http = client();
            let mut failures = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let streamed = (w + n) % 2 == 0;
                n += 1;
                let path = if streamed {
                    "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
                } else {
                    "/v1beta/models/gemini-3.8-flash:generateContent"
                };
                let outcome = match http.post(gw.url(path)).json(&hello_body()).send().await {
                    Ok(r) => {
                        let status = r.status();
                        match r.text().await {
                            Ok(body) if status == 200 && body.contains("\"finishReason\"") => {
                                Ok(())
                            }
                            Ok(body) => Err(format!("{status}: {body}")),
                            Err(e) => Err(format!("{status}, body cut: {e}")),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(()) => {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(e),
                }
            }
            failures
        }));
    }

    calls_reach(&mock, 30).await;
    // k0 leaves, k2 and k3 join.
    reload_with(&gw, &env_file(&[1, 2, 3]), "reloaded").await;
    assert_eq!(listed(&gw).await, masked(&[1, 2, 3]));
    let first = model_calls(&mock).len();
    calls_reach(&mock, first + 60).await;
    // Everything but k3 leaves.
    reload_with(&gw, &env_file(&[3]), "reloaded").await;
    assert_eq!(listed(&gw).await, masked(&[3]));
    let second = model_calls(&mock).len();
    calls_reach(&mock, second + 60).await;

    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for w in workers {
        failures.extend(w.await.unwrap());
    }
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(served.load(Ordering::Relaxed) >= 150);

    // Each worker may have picked a leaving key just before the reload; after those, a key
    // that left gets nothing and the ones that joined take the traffic.
    let after_first = keys_since(&mock, first + WORKERS);
    let upto_second: Vec<&String> = after_first
        .iter()
        .take(second.saturating_sub(first + WORKERS))
        .collect();
    assert!(!after_first.contains(&key(0)), "k0 used after it left");
    assert!(upto_second.contains(&&key(2)) && upto_second.contains(&&key(3)));
    let after_second = keys_since(&mock, second + WORKERS);
    assert!(
        after_second.iter().all(|k| *k == key(3)),
        "only k3 remains: {after_second:?}"
    );
    let logs = gw.logs();
    assert!(
        !logs.contains(&key(0)) && !logs.contains(&key(3)),
        "a whole key was logged"
    );
}

#[tokio::test]
async fn client_keys_and_limits_are_replaced_and_what_needs_a_restart_is_named() {
    let mock = MockGemini::start().await.unwrap();
    let config = r#"
[[clients]]
name = "flash-only"
key = "sk-reload-flash-only"
models = ["gemini-3.8-flash"]
"#;
    let gw = Gateway::start_with_files(
        &mock,
        &[
            (
                ".env",
                &format!(
                    "GEMINI_API_KEY={}\nGATEWAY_API_KEYS=sk-reload-first\n",
                    key(0)
                ),
            ),
            ("gemini-gateway.toml", config),
        ],
        &[],
    )
    .await;
    let call = |credential: &'static str, model: &'static str| {
        let gw = &gw;
        async move {
            client()
                .post(gw.url(&format!("/v1beta/models/{model}:generateContent")))
                .header("x-goog-api-key", credential)
                .json(&hello_body())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call("sk-reload-first", "gemini-3.1-pro-preview").await, 200);
    assert_eq!(
        call("sk-reload-second", "gemini-3.1-pro-preview").await,
        401
    );
    assert_eq!(
        call("sk-reload-flash-only", "gemini-3.1-pro-preview").await,
        403
    );

    // The first client key is replaced by a second; the flash-only client may now use pro.
    std::fs::write(
        gw.dir().join("gemini-gateway.toml"),
        config.replace(
            r#"["gemini-3.8-flash"]"#,
            r#"["gemini-3.8-flash", "gemini-3.1-pro-preview"]"#,
        ),
    )
    .unwrap();
    // PORT is also given in the environment (port 0), which wins: it is not reported.
    let env_file = format!(
        "GEMINI_API_KEY={}\nGATEWAY_API_KEYS=sk-reload-second\nBIG_MODEL=gemini-3.1-pro-preview\nPORT=1\n",
        key(0)
    );
    reload_with(&gw, &env_file, "reloaded").await;
    assert_eq!(call("sk-reload-first", "gemini-3.1-pro-preview").await, 401);
    assert_eq!(
        call("sk-reload-second", "gemini-3.1-pro-preview").await,
        200
    );
    assert_eq!(
        call("sk-reload-flash-only", "gemini-3.1-pro-preview").await,
        200
    );
    let logs = gw.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("take effect at the next start"))
        .expect("the settings that need a restart are named");
    assert!(
        line.contains("BIG_MODEL") && !line.contains("PORT"),
        "{line}"
    );
    assert!(
        !logs.contains("sk-reload-second"),
        "a client key was logged"
    );

    // A `.env` that does not parse changes nothing.
    reload_with(&gw, "GEMINI_API_KEY=\"unterminated\n", "reload refused").await;
    assert_eq!(
        call("sk-reload-second", "gemini-3.1-pro-preview").await,
        200
    );
    assert_eq!(call("sk-reload-first", "gemini-3.1-pro-preview").await, 401);
}
