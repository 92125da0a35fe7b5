//! Black-box: the OpenAI surfaces of the built binary against the strict mock — the same pool
//! as `/v1/messages` (failover, the malformed-call retry, affinity, client keys, body limits),
//! errors in OpenAI's shape, streams that end properly or with an error, the Codex captures,
//! embeddings (OpenAI's and the native pass-through), the model list in each caller's shape, and
//! Google's `/v1beta/openai` base path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/openai/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .bearer_auth("sk-anything")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hello gateway"}]})
}

/// The `data:` payloads of an SSE body (`[DONE]` as a string).
fn data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| json!(d)))
        .collect()
}

/// Event names of a Responses stream.
fn event_names(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("event: ")))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn chat_completions_fail_over_like_every_surface() {
    let s = Scenario::keys(2).start().await;
    s.mock
        .script(rule(&s.keys[0], None, Some(1), per_minute("30s")));
    let r = post(
        &s.gw,
        "/v1/chat/completions",
        &chat("gemini-3.8-flash", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(keys_used(&s.mock), [s.keys[0].clone(), s.keys[1].clone()]);
    let status = s.gw.status().await;
    assert_eq!(key_view(&status, &s.keys[0])["last_error"], "rate_limited");
    assert!(key_view(&status, &s.keys[0])["cooldowns"]["gemini-3.8-flash"].is_string());
}

#[tokio::test]
async fn a_malformed_function_call_is_retried_once_on_another_key() {
    let s = Scenario::keys(2).start().await;
    s.mock.script(rule(
        &s.keys[0],
        None,
        Some(1),
        Behaviour::MalformedFunctionCall,
    ));
    let r = post(
        &s.gw,
        "/v1/chat/completions",
        &chat("gemini-3.8-flash", false),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(keys_used(&s.mock).len(), 2);
    // Every key malformed: a 500 in OpenAI's shape, not a silent stop.
    s.mock.clear_rules();
    for k in &s.keys {
        s.mock
            .script(rule(k, None, None, Behaviour::MalformedFunctionCall));
    }
    let r = post(
        &s.gw,
        "/v1/responses",
        &json!({"model": "gemini-3.8-flash", "input": "x"}),
    )
    .await;
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("MALFORMED_FUNCTION_CALL"));
}

#[tokio::test]
async fn an_exhausted_pool_is_a_503_with_retry_after_in_openai_shape() {
    let s = Scenario::keys(2).start().await;
    for k in &s.keys {
        s.mock.script(rule(k, None, None, per_minute("40s")));
    }
    for (path, body) in [
        ("/v1/chat/completions", chat("gemini-3.8-flash", true)),
        (
            "/v1/responses",
            json!({"model": "gemini-3.8-flash", "input": "x", "stream": true}),
        ),
        (
            "/v1/embeddings",
            json!({"model": "gemini-embedding-001", "input": "x"}),
        ),
    ] {
        let r = post(&s.gw, path, &body).await;
        assert_eq!(r.status(), 503, "{path}");
        let after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=40).contains(&after), "{path}: {after}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["type"], "rate_limit_error", "{path}");
        assert_eq!(e["error"]["code"], "rate_limit_exceeded");
    }
}

#[tokio::test]
async fn client_keys_and_body_limits_answer_in_openai_shape() {
    let s = Scenario::keys(1)
        .envs(&[
            ("GATEWAY_API_KEYS", "gw-secret"),
            ("MAX_BODY_BYTES", "2048"),
        ])
        .start()
        .await;
    let r = post(
        &s.gw,
        "/v1/chat/completions",
        &chat("gemini-3.8-flash", false),
    )
    .await;
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "invalid_api_key");
    let big = json!({"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    let r = client()
        .post(s.gw.url("/v1beta/openai/chat/completions"))
        .bearer_auth("gw-secret")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    let ok = client()
        .post(s.gw.url("/v1/chat/completions"))
        .bearer_auth("gw-secret")
        .json(&chat("gemini-3.8-flash", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(s
        .mock
        .requests()
        .iter()
        .all(|r| r.api_key.as_deref() != Some("gw-secret")));
}

#[tokio::test]
async fn bad_requests_are_a_400_before_any_key_is_spent() {
    let s = Scenario::keys(1).start().await;
    for (path, body, param) in [
        (
            "/v1/chat/completions",
            json!({"model": "gemini-3.8-flash", "messages": [], "n": "x"}),
            "n",
        ),
        (
            "/v1/chat/completions",
            json!({"model": "gemini-3.8-flash", "messages": [{"role": "wizard", "content": "x"}]}),
            "messages[0]",
        ),
        (
            "/v1/responses",
            json!({"model": "gemini-3.8-flash", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input[0]",
        ),
        (
            "/v1/responses",
            json!({"model": "gemini-3.8-flash", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            "/v1/embeddings",
            json!({"model": "gemini-embedding-001", "input": [[1, 2]]}),
            "input",
        ),
    ] {
        let r = post(&s.gw, path, &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["type"], "invalid_request_error", "{body}");
        assert!(
            e["error"]["param"]
                .as_str()
                .unwrap_or("")
                .starts_with(param),
            "{body}: {e}"
        );
    }
    let r = post(&s.gw, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
    assert!(model_calls(&s.mock).is_empty());
}

#[tokio::test]
async fn openai_model_names_map_only_when_the_setting_says_so() {
    let s = Scenario::keys(1)
        .envs(&[
            ("OPENAI_MODEL_MAP", "true"),
            ("BIG_MODEL", "gemini-3.1-pro-preview"),
            ("SMALL_MODEL", "gemini-3.8-flash"),
        ])
        .start()
        .await;
    for (asked, sent) in [
        ("gpt-4o", "gemini-3.1-pro-preview"),
        ("gpt-4o-mini", "gemini-3.8-flash"),
        ("o3", "gemini-3.1-pro-preview"),
    ] {
        let r = post(&s.gw, "/v1/chat/completions", &chat(asked, false)).await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["model"], asked);
        assert_eq!(
            model_calls(&s.mock).last().unwrap().model.as_deref(),
            Some(sent)
        );
    }
}

#[tokio::test]
async fn streams_end_with_done_or_with_an_error_never_a_fake_stop() {
    let s = Scenario::keys(2).start().await;
    let r = post(
        &s.gw,
        "/v1/chat/completions",
        &chat("gemini-3.8-flash", true),
    )
    .await;
    assert_eq!(
        r.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let d = data(&r.text().await.unwrap());
    assert_eq!(d.last().unwrap(), &json!("[DONE]"));
    // Every key breaks its stream after the first event: the recovery gives up, and the client
    // gets an error payload and no [DONE].
    for k in &s.keys {
        s.mock.script(rule(
            k,
            None,
            None,
            Behaviour::StreamBreak { after_chunks: 1 },
        ));
    }
    let text = post(
        &s.gw,
        "/v1/chat/completions",
        &chat("gemini-3.8-flash", true),
    )
    .await
    .text()
    .await
    .unwrap();
    let d = data(&text);
    assert!(d.last().unwrap().get("error").is_some(), "{text}");
    assert!(
        !text.contains("[DONE]") && !text.contains("\"finish_reason\":\"stop\""),
        "{text}"
    );
    let text = post(
        &s.gw,
        "/v1/responses",
        &json!({"model": "gemini-3.8-flash", "input": "x", "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    let names = event_names(&text);
    assert_eq!(
        names.last().map(String::as_str),
        Some("response.failed"),
        "{text}"
    );
    assert!(!names.iter().any(|n| n == "response.completed"));
}

#[tokio::test]
async fn a_stream_broken_once_is_continued_on_another_key() {
    let s = Scenario::keys(2).start().await;
    s.mock.script(rule(
        &s.keys[0],
        None,
        Some(1),
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    let text = post(
        &s.gw,
        "/v1/chat/completions",
        &chat("gemini-3.8-flash", true),
    )
    .await
    .text()
    .await
    .unwrap();
    let d = data(&text);
    assert_eq!(d.last().unwrap(), &json!("[DONE]"), "{text}");
    let said: String = d
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(said.contains("Hello gateway"), "{said}");
    assert_eq!(keys_used(&s.mock).len(), 2);
}

#[tokio::test]
async fn codex_captures_stream_through_the_responses_api() {
    let s = Scenario::keys(1).start().await;
    let mut turn1 = fixture("codex-turn1.json");
    turn1["model"] = json!("gemini-3.1-pro-preview");
    let r = client()
        .post(s.gw.url("/v1/responses"))
        .bearer_auth("sk-x")
        .header("session-id", "codex-session")
        .json(&turn1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let names = event_names(&text);
    assert_eq!(names[..2], ["response.created", "response.in_progress"]);
    assert_eq!(
        names.last().map(String::as_str),
        Some("response.completed"),
        "{text}"
    );
    assert!(
        names
            .iter()
            .any(|n| n == "response.function_call_arguments.done"),
        "{names:?}"
    );
    assert!(
        text.contains("exec_command") && text.contains("echo hi"),
        "{text}"
    );
    let mut turn2 = fixture("codex-tool-result-turn.json");
    turn2["model"] = json!("gemini-3.1-pro-preview");
    let r = post(&s.gw, "/v1/responses", &turn2).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("Tool exec_command returned"), "{text}");
    assert!(model_calls(&s.mock).iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn a_plain_get_of_responses_is_told_to_upgrade_or_post() {
    let s = Scenario::keys(1).start().await;
    let r = client()
        .get(s.gw.url("/v1/responses"))
        .bearer_auth("sk-x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 426);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("POST"));
    assert!(model_calls(&s.mock).is_empty());
}

#[tokio::test]
async fn a_conversation_stays_on_one_key_by_its_cache_key() {
    let s = Scenario::keys(3).start().await;
    let mut body = json!({"model": "gemini-3.8-flash", "input": "x", "prompt_cache_key": "conv-1"});
    for _ in 0..3 {
        assert_eq!(post(&s.gw, "/v1/responses", &body).await.status(), 200);
    }
    body["prompt_cache_key"] = Value::Null;
    let used = keys_used(&s.mock);
    assert!(used.iter().all(|k| k == &used[0]), "{used:?}");
    for _ in 0..2 {
        post(
            &s.gw,
            "/v1/chat/completions",
            &chat("gemini-3.8-flash", false),
        )
        .await;
    }
    let used = keys_used(&s.mock);
    assert_ne!(used[3], used[4], "requests without a session rotate");
}

#[tokio::test]
async fn embeddings_in_batches_of_a_hundred_and_the_native_calls_pass_through() {
    let s = Scenario::keys(2).start().await;
    let inputs: Vec<String> = (0..230).map(|i| format!("text {i}")).collect();
    let r = post(
        &s.gw,
        "/v1/embeddings",
        &json!({"model": "gemini-embedding-001", "input": inputs, "dimensions": 16}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 230);
    assert!(data
        .iter()
        .enumerate()
        .all(|(i, d)| d["index"] == i && d["embedding"].as_array().unwrap().len() == 16));
    let batches: Vec<usize> = s
        .mock
        .requests()
        .iter()
        .filter(|r| r.action.as_deref() == Some("batchEmbedContents"))
        .map(|r| {
            r.body.as_ref().unwrap()["requests"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    let mut sorted = batches.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [30, 100, 100]);
    // Native embedContent through the pool, and Google's validation relayed as Google wrote it.
    let r = client()
        .post(s.gw.url("/v1beta/models/gemini-embedding-001:embedContent"))
        .json(&json!({"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 8}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 8);
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": i.to_string()}]}}))
        .collect();
    let r = client()
        .post(s.gw.url("/v1/models/gemini-embedding-001:batchEmbedContents"))
        .json(&json!({"requests": too_many}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 100 requests"));
    // Embedding with a generative model: Google's 404, in OpenAI's shape.
    let r = post(
        &s.gw,
        "/v1/embeddings",
        &json!({"model": "gemini-3.8-flash", "input": "x"}),
    )
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_model_list_answers_in_the_callers_shape() {
    let s = Scenario::keys(1).start().await;
    let get = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let mut req = client().get(s.gw.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let openai = get("/v1/models", &[("authorization", "Bearer sk-x")]).await;
    assert_eq!(openai["object"], "list");
    assert!(openai["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "gemini-3.8-flash" && m["owned_by"] == "google"));
    let anthropic = get(
        "/v1/models",
        &[("anthropic-version", "2023-06-01"), ("x-api-key", "k")],
    )
    .await;
    assert_eq!(anthropic["has_more"], false);
    assert!(anthropic["first_id"].is_string());
    assert_eq!(anthropic["data"][0]["type"], "model");
    let google = get("/v1/models", &[("x-goog-api-key", "k")]).await;
    assert!(google["models"][0]["name"]
        .as_str()
        .unwrap()
        .starts_with("models/"));
    let plain = get("/v1/models", &[]).await;
    assert!(plain.get("models").is_some());
    let one = get(
        "/v1/models/gemini-3.1-pro-preview",
        &[("authorization", "Bearer sk-x")],
    )
    .await;
    assert_eq!(
        (one["id"].clone(), one["object"].clone()),
        (json!("gemini-3.1-pro-preview"), json!("model"))
    );
    let one = get(
        "/v1/models/gemini-3.1-pro-preview",
        &[("anthropic-version", "2023-06-01")],
    )
    .await;
    assert_eq!(one["type"], "model");
    let one = get("/v1/models/gemini-3.1-pro-preview", &[]).await;
    assert_eq!(one["name"], "models/gemini-3.1-pro-preview");
    let google_path = get("/v1beta/openai/models", &[("x-goog-api-key", "k")]).await;
    assert_eq!(google_path["object"], "list");
    // The native POST on /v1/models/{model}:method still works beside the shared GET.
    let r = client()
        .post(s.gw.url("/v1/models/gemini-3.8-flash:generateContent"))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_refused_model_list_answers_in_the_callers_dialect() {
    let s = Scenario::keys(1)
        .env("GATEWAY_API_KEYS", "gw-secret")
        .start()
        .await;
    let refuse = |headers: &'static [(&'static str, &'static str)]| {
        let mut req = client().get(s.gw.url("/v1/models"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401);
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        refuse(&[("authorization", "Bearer nope")]).await["error"]["code"],
        "invalid_api_key"
    );
    assert_eq!(
        refuse(&[("anthropic-version", "2023-06-01"), ("x-api-key", "nope")]).await["type"],
        "error"
    );
    assert_eq!(
        refuse(&[("x-goog-api-key", "nope")]).await["error"]["status"],
        "UNAUTHENTICATED"
    );
}
