//! Context caches and implicit caching as the gateway meets them: a cache is created, used,
//! extended, listed and deleted by its project; it must be big enough and made for the model that
//! uses it; another project's key gets Google's 403; and a conversation that keeps reaching one
//! project hits that project's implicit cache, never another's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use mock_gemini::{MockGemini, QuotaConfig};
use serde_json::{json, Value};

/// A key of the first key's project.
const KEY3: &str = "AIzaSyC-mock-key-2222222222222222222222";

/// KEY and KEY3 in project `p1`, KEY2 in `p2`.
fn two_projects(mock: &MockGemini) {
    mock.set_quotas(QuotaConfig {
        projects: HashMap::from([
            (KEY.to_owned(), "p1".to_owned()),
            (KEY3.to_owned(), "p1".to_owned()),
            (KEY2.to_owned(), "p2".to_owned()),
        ]),
        ..QuotaConfig::default()
    });
}

/// About `tokens` tokens of text (the mock counts four characters a token).
fn text_of(tokens: usize) -> String {
    "lorem ipsum dolor sit amet ".repeat(tokens * 4 / 27 + 1)
}

async fn cache_call(
    mock: &MockGemini,
    method: reqwest::Method,
    key: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", mock.base_url()))
        .header("x-goog-api-key", key);
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn create(mock: &MockGemini, key: &str, body: &Value) -> (u16, Value) {
    cache_call(
        mock,
        reqwest::Method::POST,
        key,
        "/v1beta/cachedContents",
        Some(body),
    )
    .await
}

fn big_cache(model: &str) -> Value {
    json!({
        "model": format!("models/{model}"),
        "displayName": "manual",
        "systemInstruction": {"parts": [{"text": "Answer from the manual."}]},
        "contents": [{"role": "user", "parts": [{"text": text_of(5000)}]}],
        "ttl": "300s",
    })
}

fn ask(text: &str, cache: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}], "cachedContent": cache})
}

fn time_of(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap()
}

const DENIED: &str = "CachedContent not found (or permission denied)";

#[tokio::test]
async fn a_cache_is_created_used_extended_listed_and_deleted() {
    let mock = MockGemini::start().await.unwrap();
    let (status, cache) = create(&mock, KEY, &big_cache("gemini-3.8-flash")).await;
    assert_eq!(status, 200, "{cache}");
    let name = cache["name"].as_str().unwrap().to_owned();
    let id = name.strip_prefix("cachedContents/").unwrap().to_owned();
    assert_eq!(id.len(), 12);
    assert_eq!(cache["model"], "models/gemini-3.8-flash");
    assert_eq!(cache["displayName"], "manual");
    let tokens = cache["usageMetadata"]["totalTokenCount"].as_u64().unwrap();
    assert!(tokens >= 5000, "{tokens}");
    let lifetime = time_of(&cache["expireTime"]) - time_of(&cache["createTime"]);
    assert_eq!(lifetime.num_seconds(), 300);

    let question = ask("What does chapter two say?", &name);
    let (status, answer) = generate(&mock, "gemini-3.8-flash", &question).await;
    assert_eq!(status, 200, "{answer}");
    let usage = &answer["usageMetadata"];
    assert_eq!(usage["cachedContentTokenCount"], tokens);
    let (_, counted) = post(
        &mock,
        "gemini-3.8-flash",
        "countTokens",
        &json!({"contents": question["contents"]}),
    )
    .await;
    let own = counted["totalTokens"].as_u64().unwrap();
    assert_eq!(usage["promptTokenCount"], tokens + own);
    let (status, text) = {
        let (status, _, text) = stream_sse(&mock, "gemini-3.8-flash", &question).await;
        (status, text)
    };
    assert_eq!(status, 200);
    let events = sse_events(&text);
    let last = &events.last().unwrap()["usageMetadata"];
    assert_eq!(last["cachedContentTokenCount"], tokens);

    let path = format!("/v1beta/cachedContents/{id}");
    let patched = cache_call(
        &mock,
        reqwest::Method::PATCH,
        KEY,
        &format!("{path}?updateMask=ttl"),
        Some(&json!({"ttl": "7200s"})),
    )
    .await;
    assert_eq!(patched.0, 200, "{}", patched.1);
    assert!(time_of(&patched.1["expireTime"]) > time_of(&cache["expireTime"]));
    let (_, got) = cache_call(&mock, reqwest::Method::GET, KEY, &path, None).await;
    assert_eq!(got, patched.1);
    let (_, listed) = cache_call(
        &mock,
        reqwest::Method::GET,
        KEY,
        "/v1beta/cachedContents",
        None,
    )
    .await;
    assert_eq!(listed, json!({"cachedContents": [got]}));
    let (status, deleted) = cache_call(&mock, reqwest::Method::DELETE, KEY, &path, None).await;
    assert_eq!((status, deleted), (200, json!({})));
    let (status, gone) = cache_call(&mock, reqwest::Method::GET, KEY, &path, None).await;
    assert_eq!((status, message(&gone)), (403, DENIED.to_owned()));
    let (status, _) = generate(&mock, "gemini-3.8-flash", &question).await;
    assert_eq!(status, 403);

    let actions: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.action.clone())
        .collect();
    assert_eq!(actions[0], "cachedContents.create");
    assert_eq!(
        mock.requests()[0].model.as_deref(),
        Some("gemini-3.8-flash")
    );
    assert!(actions.contains(&"cachedContents.patch".to_owned()));
    assert!(actions.contains(&"cachedContents.list".to_owned()));
}

#[tokio::test]
async fn caches_must_be_big_enough_and_explicit_caching_is_not_for_gemini_4() {
    let mock = MockGemini::start().await.unwrap();
    let small = json!({"model": "models/gemini-3.8-flash",
        "contents": [{"role": "user", "parts": [{"text": text_of(100)}]}]});
    let (status, body) = create(&mock, KEY, &small).await;
    assert_eq!(status, 400);
    let text = message(&body);
    assert!(
        text.starts_with("Cached content is too small. total_token_count="),
        "{text}"
    );
    assert!(text.ends_with(", min_total_token_count=4096"), "{text}");
    let (status, body) = create(&mock, KEY, &big_cache("gemini-2.5-flash-lite")).await;
    assert_eq!(status, 200, "2,048 is 2.5 Flash-Lite's minimum: {body}");

    let gemini4 = cache_call(
        &mock,
        reqwest::Method::POST,
        KEY,
        "/v1alpha/cachedContents",
        Some(&big_cache("gemini-4-argon")),
    )
    .await;
    assert_eq!(
        (gemini4.0, gemini4.1["error"]["status"].clone()),
        (400, json!("INVALID_ARGUMENT"))
    );
    assert!(message(&gemini4.1)
        .contains("Explicit context caching is not supported for models/gemini-4-argon"));
    let (status, body) = create(&mock, KEY, &big_cache("gemini-2.5-pro")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = create(
        &mock,
        KEY,
        &json!({"model": "models/gemini-3.8-flash", "colour": 1}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = create(
        &mock,
        KEY,
        &json!({"model": "models/gemini-3.8-flash", "ttl": "5 minutes",
        "contents": big_cache("x")["contents"]}),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_cache_serves_only_its_model_and_owns_the_system_instruction_and_tools() {
    let mock = MockGemini::start().await.unwrap();
    let (_, cache) = create(&mock, KEY, &big_cache("gemini-3.8-flash")).await;
    let name = cache["name"].as_str().unwrap();
    let (status, body) = generate(&mock, "gemini-3.7-flash", &ask("hi", name)).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "Model used by GenerateContent request (models/gemini-3.7-flash) and CachedContent \
         (models/gemini-3.8-flash) has to be the same."
    );
    let mut with_system = ask("hi", name);
    with_system["systemInstruction"] = json!({"parts": [{"text": "be brief"}]});
    let (status, body) = generate(&mock, "gemini-3.8-flash", &with_system).await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with(
        "CachedContent can not be used with GenerateContent request setting system_instruction, \
         tools or tool_config."
    ));
}

#[tokio::test]
async fn another_projects_key_cannot_see_or_use_a_cache() {
    let mock = MockGemini::start().await.unwrap();
    two_projects(&mock);
    let (_, cache) = create(&mock, KEY, &big_cache("gemini-3.8-flash")).await;
    let name = cache["name"].as_str().unwrap().to_owned();
    let path = format!("/v1beta/{name}");
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, body) = cache_call(&mock, method, KEY2, &path, None).await;
        assert_eq!(
            body,
            json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": DENIED}})
        );
        assert_eq!(status, 403);
    }
    let patch = cache_call(
        &mock,
        reqwest::Method::PATCH,
        KEY2,
        &path,
        Some(&json!({"ttl": "60s"})),
    )
    .await;
    assert_eq!(patch.0, 403);
    let (_, listed) = cache_call(
        &mock,
        reqwest::Method::GET,
        KEY2,
        "/v1beta/cachedContents",
        None,
    )
    .await;
    assert_eq!(listed, json!({}));
    let (status, body) = post_as(
        &mock,
        KEY2,
        "gemini-3.8-flash",
        "generateContent",
        &ask("hi", &name),
    )
    .await;
    assert_eq!((status, message(&body)), (403, DENIED.to_owned()));
    let (status, body) = post_as(
        &mock,
        KEY3,
        "gemini-3.8-flash",
        "generateContent",
        &ask("hi", &name),
    )
    .await;
    assert_eq!(status, 200, "a key of the same project: {body}");
    let (status, _) = cache_call(
        &mock,
        reqwest::Method::GET,
        KEY,
        "/v1beta/cachedContents/doesnotexist",
        None,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_expired_cache_is_gone() {
    let mock = MockGemini::start().await.unwrap();
    let mut body = big_cache("gemini-3.8-flash");
    body["ttl"] = json!("0.3s");
    let (_, cache) = create(&mock, KEY, &body).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let path = format!("/v1beta/{}", cache["name"].as_str().unwrap());
    let (status, body) = cache_call(&mock, reqwest::Method::GET, KEY, &path, None).await;
    assert_eq!((status, message(&body)), (403, DENIED.to_owned()));
}

#[tokio::test]
async fn implicit_cache_hits_a_growing_conversation_in_its_project_only() {
    let mock = MockGemini::start().await.unwrap();
    two_projects(&mock);
    let system = json!({"parts": [{"text": text_of(5000)}]});
    let first = json!({"systemInstruction": system,
        "contents": [{"role": "user", "parts": [{"text": "Summarise the text."}]}]});
    let (status, answer) = post_as(&mock, KEY, "gemini-3.8-flash", "generateContent", &first).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["usageMetadata"]
        .get("cachedContentTokenCount")
        .is_none());
    let first_prompt = answer["usageMetadata"]["promptTokenCount"].clone();

    let mut second = first.clone();
    let turns = second["contents"].as_array_mut().unwrap();
    turns.push(answer["candidates"][0]["content"].clone());
    turns.push(json!({"role": "user", "parts": [{"text": "Shorter, please."}]}));
    let (status, answer) =
        post_as(&mock, KEY3, "gemini-3.8-flash", "generateContent", &second).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["usageMetadata"]["cachedContentTokenCount"], first_prompt,
        "same project, other key"
    );

    let (_, answer) = post_as(&mock, KEY2, "gemini-3.8-flash", "generateContent", &second).await;
    assert!(
        answer["usageMetadata"]
            .get("cachedContentTokenCount")
            .is_none(),
        "another project"
    );
    let (_, answer) = post_as(&mock, KEY, "gemini-3.7-flash", "generateContent", &second).await;
    assert!(
        answer["usageMetadata"]
            .get("cachedContentTokenCount")
            .is_none(),
        "another model"
    );

    let small = json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]});
    for _ in 0..2 {
        let (_, answer) = post_as(&mock, KEY, "gemini-3.8-flash", "generateContent", &small).await;
        assert!(answer["usageMetadata"]
            .get("cachedContentTokenCount")
            .is_none());
    }
}
