//! The whole router in-process (`oneshot`), on a scripted upstream under tokio's paused clock:
//! each refusal in the dialect of the route's surface, dispatch's retries as the client and the
//! status page see them, the stream commit deadline — timed exactly, with no real waiting.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceExt;

use super::router;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::pool::{Clock, KeyPool};
use crate::secret::ApiKey;
use crate::store::Backend;
use crate::upstream::scripted::{Reply, Scripted, StreamEnd, HI};

struct House {
    router: Router,
    keys: Vec<ApiKey>,
    upstream: Arc<Scripted>,
}

async fn house(n: usize, extra: &[(&str, &str)]) -> House {
    let secrets: Vec<String> = (0..n)
        .map(|i| format!("AIzaSyRouterTestKey{i:02}xxxxxxxxxxxxxxxxx"))
        .collect();
    let mut vars: HashMap<String, String> = HashMap::from([
        ("GEMINI_API_KEY".to_string(), secrets.join(",")),
        ("REQUEST_TIMEOUT".to_string(), "30".to_string()),
        ("SMALL_MODEL".to_string(), "gemini-3.8-flash".to_string()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_vars(&vars).unwrap();
    let keys = config.keys.clone();
    let pool = KeyPool::open(
        keys.clone(),
        &config.quota,
        config.key_cooldown,
        Clock::starting_at(1_780_000_000_000),
        Backend::Volatile,
    )
    .await
    .unwrap();
    let upstream = Arc::new(Scripted::default());
    let dispatcher = Dispatcher::new(Arc::new(pool), upstream.clone(), config.request_timeout)
        .with_queue(config.queue_max_wait, config.queue_max_length);
    House {
        router: router(Arc::new(config), dispatcher),
        keys,
        upstream,
    }
}

impl House {
    async fn send(&self, req: Request<Body>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (parts.status, parts.headers, bytes)
    }

    async fn json(&self, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
        let (status, headers, body) = self.send(req).await;
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, headers, v)
    }

    async fn status(&self) -> Value {
        self.json(get("/v1/keys/status")).await.2
    }
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn messages(stream: bool) -> Value {
    json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 100, "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}]})
}

fn native() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
}

fn chat(stream: bool) -> Value {
    json!({"model": "gemini-3.8-flash", "stream": stream,
           "messages": [{"role": "user", "content": "Hello"}]})
}

const GENERATE: &str = "/v1beta/models/gemini-3.8-flash:generateContent";

#[tokio::test(start_paused = true)]
async fn refusals_come_in_the_dialect_of_the_route() {
    let h = house(1, &[("GATEWAY_API_KEYS", "client-key-0001")]).await;
    let (status, _, v) = h.json(post("/v1/messages", messages(false))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    let (status, _, v) = h.json(post(GENERATE, native())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(v["error"]["code"], 401);
    let (status, _, v) = h.json(post("/v1/chat/completions", chat(false))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (status, _, v) = h.json(get("/v1/keys/status")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    assert!(h.upstream.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_declared_oversize_body_is_a_413_in_each_dialect() {
    let h = house(1, &[("MAX_BODY_BYTES", "2048")]).await;
    let big = |path: &str| {
        Request::post(path)
            .header("content-type", "application/json")
            .header("content-length", "4096")
            .body(Body::from(vec![b' '; 4096]))
            .unwrap()
    };
    let (status, headers, v) = h.json(big("/v1/messages")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error"]["type"], "request_too_large");
    assert_eq!(headers["connection"], "close");
    let (status, headers, mut v) = h.json(big(GENERATE)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Every error body names its request.
    let id = v.as_object_mut().unwrap().remove("request_id").unwrap();
    assert_eq!(id, headers["x-request-id"].to_str().unwrap());
    assert_eq!(
        v,
        json!({"error": {"code": 413, "status": "INVALID_ARGUMENT",
            "message": "Request payload size exceeds the limit: 2048 bytes."}})
    );
    for path in [
        "/v1/chat/completions",
        "/v1/responses",
        "/v1beta/openai/embeddings",
    ] {
        let (status, headers, v) = h.json(big(path)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{path}");
        assert_eq!(headers["connection"], "close");
    }
    let (status, _, _) = h.json(big("/no/such/path")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(start_paused = true)]
async fn no_key_available_is_a_503_with_retry_after_in_each_dialect() {
    let h = house(1, &[]).await;
    h.upstream.on(&h.keys[0], [Reply::rate_limited(41)]);
    let (status, headers, v) = h.json(post(GENERATE, native())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "41");
    assert_eq!(v["error"]["status"], "UNAVAILABLE");
    // /v1/messages with a haiku name maps to SMALL_MODEL, gemini-3.8-flash: the same key rests.
    let (status, headers, v) = h.json(post("/v1/messages", messages(false))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "41");
    assert_eq!(v["error"]["type"], "overloaded_error");
    let (status, headers, v) = h.json(post("/v1/chat/completions", chat(true))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "41");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(
        h.upstream.calls().len(),
        1,
        "no call while the only key rests"
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_function_call_is_retried_on_another_key_and_recorded() {
    let h = house(2, &[]).await;
    let malformed = json!({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL",
        "finishMessage": "Malformed function call: print("}]});
    for k in &h.keys {
        h.upstream
            .on(k, [Reply::Answer(StatusCode::OK, malformed.to_string())]);
    }
    let (status, _, v) = h.json(post("/v1/messages", messages(false))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["error"]["type"], "api_error");
    let called = h.upstream.keys_called();
    assert_eq!(called.len(), 2);
    assert_ne!(called[0], called[1], "the retry goes to another key");
    let status = h.status().await;
    for key in status["keys"].as_array().unwrap() {
        assert_eq!(key["failures"], 1, "{key}");
        assert_eq!(key["last_error"], "unusable_answer");
        assert_eq!(key["state"], "available");
    }
    // A malformed answer then a good one: the client gets the good one.
    h.upstream.on(
        &h.keys[0],
        [Reply::Answer(StatusCode::OK, malformed.to_string())],
    );
    let (status, _, v) = h.json(post("/v1/messages", messages(false))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["content"][0]["text"], "Hi");
}

#[tokio::test(start_paused = true)]
async fn listing_models_does_not_make_a_resting_key_look_available() {
    let h = house(1, &[]).await;
    h.upstream.on(&h.keys[0], [Reply::rate_limited(60)]);
    let (status, _, _) = h.json(post(GENERATE, native())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    h.upstream.on(
        &h.keys[0],
        [Reply::Answer(
            StatusCode::OK,
            json!({"models": []}).to_string(),
        )],
    );
    let (status, _, _) = h.json(get("/v1beta/models")).await;
    assert_eq!(status, StatusCode::OK);
    let status = h.status().await;
    assert_eq!(status["summary"]["temporarily_disabled"], 1, "{status}");
    assert_eq!(status["available_keys"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn a_slow_stream_gets_its_headers_at_the_commit_deadline_then_its_answer() {
    let h = house(1, &[]).await;
    h.upstream.on(
        &h.keys[0],
        [Reply::after(
            Duration::from_secs(25),
            Reply::Stream {
                events: vec![(Duration::ZERO, HI.to_string())],
                then: StreamEnd::Close,
            },
        )],
    );
    let started = Instant::now();
    let resp = h
        .router
        .clone()
        .oneshot(post("/v1/messages", messages(true)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        started.elapsed(),
        crate::surfaces::anthropic::COMMIT_AFTER,
        "headers at the commit deadline"
    );
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(first.starts_with("event: message_start"), "{first}");
    assert!(first.contains("event: ping"), "{first}");
    let rest = body.collect().await.unwrap().to_bytes();
    let rest = String::from_utf8_lossy(&rest);
    assert_eq!(started.elapsed(), Duration::from_secs(25));
    assert!(rest.contains("\"text\":\"Hi\""), "{rest}");
    assert!(rest.contains("message_stop"), "{rest}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_openai_stream_opens_at_the_commit_deadline_and_keeps_warm() {
    let h = house(1, &[]).await;
    let slow = || {
        Reply::after(
            Duration::from_secs(25),
            Reply::Stream {
                events: vec![(Duration::ZERO, HI.to_string())],
                then: StreamEnd::Close,
            },
        )
    };
    h.upstream.on(&h.keys[0], [slow(), slow()]);
    let started = Instant::now();
    let resp = h
        .router
        .clone()
        .oneshot(post("/v1/chat/completions", chat(true)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(started.elapsed(), crate::surfaces::openai::COMMIT_AFTER);
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b": keep-alive\n\n");
    let rest = body.collect().await.unwrap().to_bytes();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("\"content\":\"Hi\""), "{rest}");
    assert!(rest.ends_with("data: [DONE]\n\n"), "{rest}");
    // The Responses API opens its stream (created, in_progress) while it waits.
    let started = Instant::now();
    let body = json!({"model": "gemini-3.8-flash", "input": "Hello", "stream": true});
    let resp = h
        .router
        .clone()
        .oneshot(post("/v1/responses", body))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), crate::surfaces::openai::COMMIT_AFTER);
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(first.starts_with("event: response.created"), "{first}");
    assert!(first.contains("event: response.in_progress"), "{first}");
    let rest = body.collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&rest).contains("event: response.completed"));
}

#[tokio::test(start_paused = true)]
async fn a_key_resting_briefly_is_waited_for_on_each_surface() {
    let h = house(1, &[]).await;
    let mut started = Instant::now();
    for (path, body, answer) in [
        (GENERATE, native(), Reply::ok()),
        ("/v1/messages", messages(false), Reply::ok()),
        ("/v1/chat/completions", chat(true), Reply::stream(&[HI])),
    ] {
        h.upstream.on(&h.keys[0], [Reply::rate_limited(2), answer]);
        let (status, _, body) = h.send(post(path, body)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(String::from_utf8_lossy(&body).contains("Hi"), "{path}");
        assert_eq!(started.elapsed(), Duration::from_secs(2), "{path}");
        started = Instant::now();
    }
    assert_eq!(h.upstream.calls().len(), 6, "a 429, then the answer");
    let (_, _, recent) = h.json(get("/v1/requests")).await;
    assert_eq!(recent["requests"][0]["waited_ms"], 2000, "{recent}");
    assert_eq!(recent["requests"][0]["status"], 200);
}

#[tokio::test(start_paused = true)]
async fn a_request_with_a_fallback_is_served_by_it_at_once_and_only_the_last_model_waits() {
    let chain = "gemini-3.8-flash > gemini-3.5-flash-lite";
    let h = house(1, &[("MODEL_FALLBACKS", chain)]).await;
    h.upstream.on(&h.keys[0], [Reply::rate_limited(2)]);
    let started = Instant::now();
    let anthropic = json!({"model": "gemini-3.8-flash", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}]});
    for (path, body) in [
        (GENERATE, native()),
        ("/v1/chat/completions", chat(false)),
        ("/v1/messages", anthropic),
    ] {
        let (status, headers, _) = h.send(post(path, body)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["x-gateway-served-model"], "gemini-3.5-flash-lite");
        assert_eq!(started.elapsed(), Duration::ZERO, "{path}: no wait");
    }
    // A client that refuses a substitute waits for its own model instead of the 503.
    let mut req = post(GENERATE, native());
    req.headers_mut()
        .insert("x-gateway-fallback", "off".parse().unwrap());
    let (status, headers, _) = h.send(req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("x-gateway-served-model"));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let paths: Vec<String> = h.upstream.calls().into_iter().map(|c| c.path).collect();
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert!(paths[1..4]
        .iter()
        .all(|p| p.contains("gemini-3.5-flash-lite")));
    assert!(paths[4].contains("gemini-3.8-flash"));
}
