//! Black-box: configuration errors, the native surface's credential handling, the status and
//! health views, secret hygiene in logs, and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::*;

const FLASH: &str = "gemini-3.8-flash";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn bad_settings_stop_startup_with_one_line_naming_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "GEMINI_API_KEY"),
        (&[("GEMINI_API_KEY", " , ")], "GEMINI_API_KEY"),
        (&[("GEMINI_API_KEY", "k"), ("PORT", "99999")], "PORT"),
        (
            &[("GEMINI_API_KEY", "k"), ("KEY_COOLDOWN_MINUTES", "often")],
            "KEY_COOLDOWN_MINUTES",
        ),
        (
            &[("GEMINI_API_KEY", "k"), ("REQUEST_TIMEOUT", "-3")],
            "REQUEST_TIMEOUT",
        ),
        (&[("GEMINI_API_KEY", "k"), ("HOST", "localhost:80")], "HOST"),
    ];
    for (vars, name) in cases {
        let Err((code, out)) = Gateway::spawn(&env(vars)).await else {
            panic!("started with {vars:?}");
        };
        assert!(matches!(code, Some(c) if c != 0), "{vars:?}: exit {code:?}");
        let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {out}");
        assert!(lines[0].contains(name), "{name} not named in {out:?}");
    }
}

#[tokio::test]
#[expect(
    clippy::zombie_processes,
    reason = "killed and waited for below; a panic before that ends the test anyway"
)]
async fn a_dotenv_file_is_read_and_the_environment_wins() {
    let mock = MockGemini::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let k = key(7);
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "GEMINI_API_KEY={k}\nPORT=1\nGEMINI_BASE_URL={}\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gemini-gateway"))
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", "0")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("listening on"))
    })
    .await
    .unwrap()
    .unwrap();
    let _ = child.kill();
    assert!(
        !line.contains(":1 ") && !line.ends_with(":1"),
        "PORT from the environment wins: {line}"
    );
}

/// The seed proxy's `.env`, as its users have it: quoted values, inline comments, its variable
/// names and `LOG_LEVEL=WARNING`.
fn seed_dotenv(keys: &[String], base_url: &str, host: &str) -> String {
    format!(
        "# Gemini API keys, comma separated\n\
         GEMINI_API_KEY=\"{}\"  # the pool\n\
         BIG_MODEL=\"gemini-3.1-pro-preview\" # sonnet and opus\n\
         SMALL_MODEL=gemini-3.8-flash\n\
         HOST=\"{host}\"\n\
         PORT=0\n\
         LOG_LEVEL=\"WARNING\"\n\
         MAX_TOKENS_LIMIT=8192\n\
         REQUEST_TIMEOUT=90\n\
         KEY_COOLDOWN_MINUTES=5\n\
         GEMINI_BASE_URL={base_url}\n",
        keys.join(",")
    )
}

#[tokio::test]
async fn the_seed_proxys_dotenv_starts_the_gateway_unchanged() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        seed_dotenv(&ks, &mock.base_url(), "127.0.0.1"),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gemini-gateway"))
        .current_dir(dir.path())
        .env_clear()
        .env("STATE_PATH", dir.path().join("state"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let below_warning = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok);
        let listening = lines.by_ref().find(|l| l.contains("listening on"));
        let _ = tx.send(listening);
        // WARNING level: nothing below a warning is logged afterwards.
        lines
            .filter(|l| l.contains(" INFO ") || l.contains(" DEBUG "))
            .count()
    });
    let line = rx
        .await
        .unwrap()
        .expect("the gateway started on the seed's .env");
    let url = line.rsplit(' ').next().unwrap().to_string();
    let r = client()
        .post(format!("{url}/v1/messages"))
        .json(
            &serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 100000,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = model_calls(&mock);
    assert_eq!(
        sent[0].model.as_deref(),
        Some("gemini-3.1-pro-preview"),
        "BIG_MODEL read"
    );
    let config = &sent[0].body.as_ref().unwrap()["generationConfig"];
    assert_eq!(config["maxOutputTokens"], 8192, "MAX_TOKENS_LIMIT read");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(below_warning.join().unwrap(), 0, "LOG_LEVEL=WARNING read");
    // The same file with the seed's HOST=0.0.0.0 stops with one line saying what to set.
    std::fs::write(
        dir.path().join(".env"),
        seed_dotenv(&ks, &mock.base_url(), "0.0.0.0"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gemini-gateway"))
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GATEWAY_API_KEYS") && err.contains("ALLOW_UNAUTHENTICATED"),
        "{err}"
    );
}

#[tokio::test]
async fn the_client_credential_is_never_forwarded_and_the_pool_key_travels_only_in_the_header() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(1).start().await;
    let resp = client()
        .post(gw.url(&format!(
            "/v1beta/models/{FLASH}:generateContent?key=client-secret-in-query"
        )))
        .header("x-goog-api-key", "client-secret-in-header")
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["candidates"][0]["content"]["parts"][0]["text"].is_string());
    let reqs = model_calls(&mock);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].api_key.as_deref(), Some(ks[0].as_str()));
    assert!(!reqs[0].key_in_query);
    assert!(!reqs[0].query.clone().unwrap_or_default().contains("secret"));
}

#[tokio::test]
async fn v1_paths_models_and_count_tokens_are_served() {
    let Scenario {
        mock: _mock, gw, ..
    } = Scenario::keys(2).start().await;
    let c = client();
    for v in ["v1beta", "v1"] {
        let list: Value = c
            .get(gw.url(&format!("/{v}/models")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(list["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "models/gemini-3.8-flash"));
        let one: Value = c
            .get(gw.url(&format!("/{v}/models/{FLASH}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(one["name"], "models/gemini-3.8-flash");
        let resp = c
            .post(gw.url(&format!("/{v}/models/{FLASH}:countTokens")))
            .json(&hello_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let count: Value = resp.json().await.unwrap();
        assert!(count["totalTokens"].as_u64().unwrap() > 0);
        let resp = c
            .post(gw.url(&format!("/{v}/models/{FLASH}:generateContent")))
            .json(&hello_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn status_has_the_seed_shape_with_masked_keys_and_health_reveals_no_key() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(3).start().await;
    mock.script(rule(&ks[2], None, None, Behaviour::KeyInvalid));
    for _ in 0..3 {
        assert_eq!(
            client()
                .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
                .json(&hello_body())
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let raw = reqwest::get(gw.url("/v1/keys/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for k in &ks {
        assert!(!raw.contains(k.as_str()), "whole key in status");
    }
    let s: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        s["summary"],
        serde_json::json!({"total": 3, "available": 2, "temporarily_disabled": 0, "permanently_disabled": 1})
    );
    assert_eq!(
        s["available_keys"],
        serde_json::json!([masked(&ks[0]), masked(&ks[1])])
    );
    assert_eq!(
        s["permanently_disabled_keys"],
        serde_json::json!([masked(&ks[2])])
    );
    assert!(s["temporarily_disabled_keys"]
        .as_object()
        .unwrap()
        .is_empty());
    assert_eq!(
        masked(&ks[0]),
        format!("{}...{}", &ks[0][..6], &ks[0][35..])
    );
    let ids: Vec<&str> = s["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id.len() == 12));
    assert_eq!(s["keys"][2]["state"], "disabled");
    assert!(s["keys"][0]["requests"].as_u64().unwrap() >= 1);

    let health = reqwest::get(gw.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let h = health.text().await.unwrap();
    assert!(h.contains("2 of 3 keys available"), "{h}");
    for k in &ks {
        assert!(!h.contains(&k[..10]), "no key material in /health");
    }
}

#[tokio::test]
async fn no_whole_key_appears_in_any_log_line_or_response_at_debug() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(6);
    let gw = Gateway::start(
        &mock,
        &ks,
        &[("LOG_LEVEL", "debug"), ("REQUEST_TIMEOUT", "0.5")],
    )
    .await;
    let behaviours = [
        per_minute("30s"),
        Behaviour::RateLimitPerDay,
        Behaviour::KeyInvalid,
        Behaviour::Suspended,
        Behaviour::Unavailable,
        Behaviour::Hang,
    ];
    for (k, b) in ks.iter().zip(behaviours) {
        mock.script(rule(k, None, Some(1), b));
    }
    let mut responses = String::new();
    for path in [
        "generateContent",
        "streamGenerateContent?alt=sse",
        "generateContent",
        "countTokens",
    ] {
        for _ in 0..3 {
            let resp = client()
                .post(gw.url(&format!("/v1beta/models/{FLASH}:{path}")))
                .json(&hello_body())
                .send()
                .await
                .unwrap();
            responses.push_str(&format!("{:?}", resp.headers()));
            responses.push_str(&resp.text().await.unwrap_or_default());
        }
    }
    // Everything suspended: its upstream message names the whole key and must come back redacted.
    for k in &ks {
        mock.script(rule(k, None, None, Behaviour::Suspended));
    }
    let resp = client()
        .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    responses.push_str(&resp.text().await.unwrap());
    responses.push_str(&gw.status().await.to_string());
    let logs = gw.logs();
    assert!(logs.lines().count() > 5, "debug logging is on: {logs}");
    for k in &ks {
        assert!(
            !logs.contains(k.as_str()),
            "whole key in a log line:\n{logs}"
        );
        assert!(
            !responses.contains(k.as_str()),
            "whole key in a response:\n{responses}"
        );
    }
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(1).start().await;
    mock.script(rule(&ks[0], None, None, Behaviour::Delay { ms: 800 }));
    let url = gw.url(&format!("/v1beta/models/{FLASH}:generateContent"));
    let in_flight = tokio::spawn(async move {
        client()
            .post(url)
            .json(&hello_body())
            .send()
            .await
            .unwrap()
            .status()
    });
    // Wait until the request has reached the upstream, then ask the gateway to stop.
    eventually("the request reaches the upstream", || async {
        (!model_calls(&mock).is_empty()).then_some(())
    })
    .await;
    let code = tokio::task::spawn_blocking(move || gw.terminate())
        .await
        .unwrap();
    assert_eq!(in_flight.await.unwrap(), 200);
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Scenario { mock, gw, .. } = Scenario::keys(1)
        .envs(&[("CLIENT_TIMEOUT", "0.5")])
        .start()
        .await;
    let closes_within = |secs: u64, mut s: tokio::net::TcpStream| async move {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(secs),
            s.read_to_end(&mut buf),
        )
        .await;
        assert!(read.is_ok(), "the gateway kept a stalled connection open");
        String::from_utf8_lossy(&buf).into_owned()
    };
    // A connection opened and left silent.
    let s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    assert_eq!(closes_within(5, s).await, "");
    // Headers that never finish (slowloris).
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    closes_within(5, s).await;
    // A body that stalls half-way.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"model\":").await.unwrap();
    let answer = closes_within(5, s).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
    // An idle keep-alive connection after a complete request.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = closes_within(5, s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Nothing reached the upstream, and the gateway still serves, over HTTP/2 too (a client
    // that knows beforehand: cleartext has no negotiation).
    assert!(model_calls(&mock).is_empty());
    assert_eq!(reqwest::get(gw.url("/health")).await.unwrap().status(), 200);
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(
        (resp.status(), resp.version()),
        (reqwest::StatusCode::OK, reqwest::Version::HTTP_2)
    );
}

#[tokio::test]
async fn big_refused_bodies_still_get_their_answer_not_a_broken_pipe() {
    let mock = MockGemini::start().await.unwrap();
    let big = serde_json::json!({"model": "claude-haiku-4-5", "max_tokens": 10,
        "messages": [{"role": "user", "content": "x".repeat(24 * 1024 * 1024)}]});
    let small_limit = Gateway::start(
        &mock,
        &keys(1),
        &[("MAX_BODY_BYTES", "65536"), ("GATEWAY_API_KEYS", "k")],
    )
    .await;
    for (path, anthropic) in [
        ("/v1/messages", true),
        ("/v1beta/models/gemini-3.8-flash:generateContent", false),
    ] {
        let resp = client()
            .post(small_limit.url(path))
            .header("x-api-key", "k")
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
        let err: Value = resp.json().await.unwrap();
        if anthropic {
            assert_eq!(err["error"]["type"], "request_too_large");
        } else {
            assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
        }
    }
    let default_limit = Gateway::start(&mock, &keys(1), &[("GATEWAY_API_KEYS", "k")]).await;
    let resp = client()
        .post(default_limit.url("/v1/messages"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    assert!(model_calls(&mock).is_empty());
}

/// `gemini-gateway health` (a container's HEALTHCHECK): exit 0 when the gateway on HOST:PORT
/// answers /health, 1 when nothing listens there.
#[tokio::test]
async fn the_health_subcommand_asks_the_local_gateway() {
    let mock = MockGemini::start().await.unwrap();
    let gw = Gateway::start(&mock, &keys(1), &[]).await;
    let health = |host: &str, port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gemini-gateway"))
            .arg("health")
            .current_dir(gw.dir())
            .env_clear()
            .env("HOST", host)
            .env("PORT", port.to_string())
            .output()
            .unwrap()
    };
    let up = health("0.0.0.0", gw.addr.port());
    assert_eq!(up.status.code(), Some(0), "{up:?}");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = free.local_addr().unwrap().port();
    drop(free);
    let down = health("127.0.0.1", nobody);
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("/health"));
}
