//! Black-box: several gateway processes sharing one pool through a real `redis-server` —
//! disables and cooldowns learned by one are honoured by the others, round-robin is fair across
//! processes, and a Redis outage costs no client request and heals with a merge.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::redis_server::{self, RedisServer};
use support::*;

const FLASH: &str = "gemini-3.8-flash";

async fn health(gw: &Gateway) -> Value {
    reqwest::get(gw.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls `/health` until the state backend reads as `want` (bounded).
async fn wait_backend(gw: &Gateway, healthy: bool) {
    let want = if healthy {
        "redis (healthy)"
    } else {
        "unreachable"
    };
    eventually(&format!("the backend reads {want}"), || async {
        let backend = health(gw).await["state_backend"].clone();
        backend.as_str().unwrap().contains(want).then_some(())
    })
    .await;
}

async fn pair(mock: &MockGemini, redis: &RedisServer, ks: &[String]) -> (Gateway, Gateway) {
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", "test".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (
        Gateway::start(mock, ks, &env).await,
        Gateway::start(mock, ks, &env).await,
    )
}

#[tokio::test]
async fn a_key_disabled_through_one_gateway_is_never_used_by_another() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let (a, b) = pair(&mock, &redis, &ks).await;
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    mock.script(rule(&ks[1], Some(FLASH), None, per_minute("300s")));
    // A learns both facts (its first requests fail over).
    for _ in 0..3 {
        assert_eq!(generate(&a, FLASH).await.status(), 200);
    }
    let seen_by_a = keys_used(&mock);
    assert_eq!(seen_by_a.iter().filter(|k| **k == ks[0]).count(), 1);
    assert_eq!(seen_by_a.iter().filter(|k| **k == ks[1]).count(), 1);
    mock.clear_requests();
    for _ in 0..20 {
        assert_eq!(generate(&b, FLASH).await.status(), 200);
    }
    assert!(
        keys_used(&mock).iter().all(|k| *k == ks[2]),
        "B used a key A had retired: {:?}",
        keys_used(&mock)
    );

    let status: Value = b.status().await;
    assert_eq!(status["backend"]["backend"], "redis");
    assert_eq!(status["backend"]["healthy"], true);
    assert_eq!(status["summary"]["permanently_disabled"], 1, "{status}");
    let raw = status.to_string();
    assert!(!raw.contains(&ks[0]), "no key in the status");
}

#[tokio::test]
async fn round_robin_is_fair_across_processes() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let (a, b) = pair(&mock, &redis, &ks).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let url = if i % 2 == 0 { a.url("") } else { b.url("") };
        tasks.push(tokio::spawn(async move {
            client()
                .post(format!("{url}/v1beta/models/{FLASH}:generateContent"))
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
    let u = keys_used(&mock);
    for k in &ks {
        assert_eq!(u.iter().filter(|x| *x == k).count(), 20, "{u:?}");
    }
}

#[tokio::test]
async fn a_redis_outage_costs_no_request_and_heals_with_a_merge() {
    let mut redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let (a, b) = pair(&mock, &redis, &ks).await;
    for gw in [&a, &b] {
        assert_eq!(generate(gw, FLASH).await.status(), 200);
    }

    // Redis dies mid-traffic: every client request still succeeds.
    let traffic = {
        let (ua, ub) = (a.url(""), b.url(""));
        tokio::spawn(async move {
            let c = client();
            let mut statuses = Vec::new();
            for i in 0..200 {
                let base = if i % 2 == 0 { &ua } else { &ub };
                let resp = c
                    .post(format!("{base}/v1beta/models/{FLASH}:generateContent"))
                    .json(&hello_body())
                    .send()
                    .await
                    .unwrap();
                statuses.push(resp.status().as_u16());
            }
            statuses
        })
    };
    redis.kill();
    let statuses = traffic.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    wait_backend(&a, false).await;
    let status = a.status().await;
    assert_eq!(status["backend"]["healthy"], false);

    // While Redis is away, A learns that key 0 is dead; B does not know.
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    for _ in 0..3 {
        assert_eq!(generate(&a, FLASH).await.status(), 200);
    }
    assert_eq!(a.status().await["summary"]["permanently_disabled"], 1);

    // Redis returns (empty): both reconnect, A merges what it learned, B follows.
    redis.restart();
    wait_backend(&a, true).await;
    wait_backend(&b, true).await;
    mock.clear_requests();
    for _ in 0..12 {
        assert_eq!(generate(&b, FLASH).await.status(), 200);
    }
    assert!(
        !keys_used(&mock).contains(&ks[0]),
        "B learned A's disable through the merge: {:?}",
        keys_used(&mock)
    );
    let logs = a.logs();
    assert_eq!(
        logs.matches("state backend unreachable").count(),
        1,
        "warned once: {logs}"
    );
}

/// Every key and value in the Redis keyspace, as text.
async fn dump(redis: &RedisServer) -> String {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    let mut out = String::new();
    for n in names {
        let kind: String = redis::cmd("TYPE")
            .arg(&n)
            .query_async(&mut c)
            .await
            .unwrap();
        let value: Vec<String> = match kind.as_str() {
            "hash" => redis::cmd("HGETALL")
                .arg(&n)
                .query_async(&mut c)
                .await
                .unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&n)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
                .unwrap(),
            _ => vec![redis::cmd("GET")
                .arg(&n)
                .query_async::<Option<String>>(&mut c)
                .await
                .unwrap()
                .unwrap_or_default()],
        };
        out.push_str(&format!("{n} {value:?}\n"));
    }
    out
}

#[tokio::test]
async fn keys_added_or_removed_by_an_operator_reach_every_gateway_sealed() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let env = [
        ("REDIS_URL", redis.url()),
        ("ADMIN_API_KEY", "the-admin".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Gateway::start(&mock, &ks[..2], &env).await;
    let b = Gateway::start(&mock, &ks[..2], &env).await;
    let resp = client()
        .post(a.url("/admin/keys"))
        .header("x-api-key", "the-admin")
        .json(&serde_json::json!({"key": ks[2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // B picks it up from Redis within its sync interval.
    eventually("B sees the added key", || async {
        (b.status().await["summary"]["total"] == 3).then_some(())
    })
    .await;
    mock.clear_requests();
    for _ in 0..6 {
        assert_eq!(generate(&b, FLASH).await.status(), 200);
    }
    assert!(
        keys_used(&mock).contains(&ks[2]),
        "B serves with the key added through A"
    );
    let keyspace = dump(&redis).await;
    for k in &ks {
        assert!(
            !keyspace.contains(k.as_str()),
            "a key in clear text in Redis:\n{keyspace}"
        );
    }

    // Removed through B: A stops using it.
    let resp = client()
        .delete(b.url(&format!("/admin/keys/{id}")))
        .header("x-api-key", "the-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    eventually("A sees the removal", || async {
        (a.status().await["summary"]["total"] == 2).then_some(())
    })
    .await;
    mock.clear_requests();
    for _ in 0..6 {
        assert_eq!(generate(&a, FLASH).await.status(), 200);
    }
    assert!(!keys_used(&mock).contains(&ks[2]));
}

#[tokio::test]
async fn a_gateway_starts_while_redis_is_down_and_joins_when_it_comes() {
    let port = redis_server::free_port();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(2);
    let url = format!("redis://127.0.0.1:{port}/");
    let gw = Gateway::start(&mock, &ks, &[("REDIS_URL", &url)]).await;
    // Serving on its own view, and saying so.
    assert_eq!(generate(&gw, FLASH).await.status(), 200);
    wait_backend(&gw, false).await;
    assert!(gw.logs().contains("unreachable at startup"));
    mock.script(rule(&ks[0], None, None, Behaviour::KeyInvalid));
    for _ in 0..3 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    // Redis arrives: the gateway connects and shares what it learned.
    let redis = RedisServer::start_on(port);
    wait_backend(&gw, true).await;
    let other = Gateway::start(&mock, &ks, &[("REDIS_URL", &redis.url())]).await;
    assert_eq!(other.status().await["summary"]["permanently_disabled"], 1);
}

#[tokio::test]
async fn the_model_catalog_one_gateway_read_serves_another() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(1);
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", "test".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Gateway::start(&mock, &ks, &env).await;
    assert!(a.status().await["models"]["catalog"]["read_at"].is_string());
    // B cannot reach Gemini at all (nothing listens there): it serves the catalog A read.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut b_env = env.clone();
    b_env.push(("GEMINI_BASE_URL", nowhere.as_str()));
    let b = Gateway::start(&mock, &ks, &b_env).await;
    let list: Value = client()
        .get(b.url("/v1/models"))
        .header("authorization", "Bearer sk-x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&FLASH), "{list}");
    let status = b.status().await;
    assert_eq!(
        status["models"]["small_model"]["model"],
        "gemini-flash-latest"
    );
    // A name the shared catalog lacks is a 404 at B too, without asking Gemini.
    let resp = generate(&b, "gemini-2.0-flash-thinking-exp").await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_file_uploaded_through_one_gateway_is_used_on_its_owner_through_another() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let (a, b) = pair(&mock, &redis, &ks).await;
    let start = client()
        .post(a.url("/upload/v1beta/files"))
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .header("X-Goog-Upload-Header-Content-Length", "5")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let url = start.headers()["x-goog-upload-url"]
        .to_str()
        .unwrap()
        .to_string();
    // The session is B's to take as well: the book is shared.
    let on_b = url.replace(&a.url(""), &b.url(""));
    let done: Value = client()
        .post(&on_b)
        .header("X-Goog-Upload-Command", "upload, finalize")
        .header("X-Goog-Upload-Offset", "0")
        .body("hello")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = done["file"]["name"].as_str().unwrap().to_string();
    let owner = mock
        .requests()
        .into_iter()
        .find(|r| r.action.as_deref() == Some("files.upload"))
        .and_then(|r| r.api_key)
        .unwrap();
    mock.clear_requests();
    let body = serde_json::json!({"contents": [{"role": "user", "parts": [
        {"text": "Read it"}, {"fileData": {"fileUri": file, "mimeType": "text/plain"}}]}]});
    for gw in [&b, &a, &b] {
        let resp = client()
            .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    }
    assert_eq!(keys_used(&mock), vec![owner; 3]);
}

#[tokio::test]
async fn a_context_cache_made_through_one_gateway_is_read_through_another() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", "test".to_string()),
        ("ANTHROPIC_CONTEXT_CACHE", "explicit".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (a, b) = (
        Gateway::start(&mock, &ks, &env).await,
        Gateway::start(&mock, &ks, &env).await,
    );
    let system = "Answer in one line. ".repeat(1200);
    for gw in [&a, &b, &a, &b] {
        let resp = client()
            .post(gw.url("/v1/messages"))
            .json(&serde_json::json!({"model": FLASH, "max_tokens": 64,
                "messages": [{"role": "user", "content": "Hi"}],
                "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
        let answer: Value = resp.json().await.unwrap();
        assert!(answer["usage"]["cache_read_input_tokens"].as_u64().unwrap() > 0);
    }
    let made = mock
        .requests()
        .into_iter()
        .filter(|r| r.action.as_deref() == Some("cachedContents.create"))
        .count();
    assert_eq!(made, 1, "one cache for both gateways");
}
