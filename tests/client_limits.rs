//! Client keys with limits from the config file (`[[clients]]`): a requests-per-minute limit, a
//! token budget for the day and a model allow-list, each refused in the shape of the API called
//! (Gemini, Anthropic, OpenAI) — 429 with `Retry-After` over a limit, 403 for a model not
//! allowed, 401 for an unknown key — before any Gemini key is spent; `GATEWAY_API_KEYS` keeps
//! working beside them; and two gateways on one Redis share a client's minute.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{eventually, keys, Gateway, MockGemini};

const CONFIG: &str = r#"
[[clients]]
name = "paced-gemini"
key = "sk-paced-gemini"
requests_per_minute = 2

[[clients]]
name = "paced-anthropic"
key = "sk-paced-anthropic"
requests_per_minute = 2

[[clients]]
name = "paced-openai"
key = "sk-paced-openai"
requests_per_minute = 2

[[clients]]
name = "budget"
key = "sk-budget"
tokens_per_day = 5

[[clients]]
name = "flash-only"
key = "sk-flash"
models = ["gemini-3.8-flash"]
"#;

fn config_file() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), CONFIG).unwrap();
    f
}

#[derive(Clone, Copy)]
enum Api {
    Gemini,
    Anthropic,
    OpenAi,
}

async fn call(gw: &Gateway, api: Api, key: &str, model: &str) -> (u16, Option<String>, Value) {
    let http = support::client();
    let req = match api {
        Api::Gemini => http
            .post(gw.url(&format!("/v1beta/models/{model}:generateContent")))
            .header("x-goog-api-key", key)
            .json(&support::hello_body()),
        Api::Anthropic => http
            .post(gw.url("/v1/messages"))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})),
        Api::OpenAi => http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

/// The error's type or status, as each API names it.
fn kind(api: Api, body: &Value) -> String {
    match api {
        Api::Gemini => body["error"]["status"].as_str().unwrap_or("").into(),
        Api::Anthropic => body["error"]["type"].as_str().unwrap_or("").into(),
        Api::OpenAi => body["error"]["type"].as_str().unwrap_or("").into(),
    }
}

#[tokio::test]
async fn each_limit_refuses_in_the_shape_of_the_api_called() {
    let mock = MockGemini::start().await.unwrap();
    let file = config_file();
    let gw = Gateway::start(
        &mock,
        &keys(2),
        &[
            ("CONFIG_FILE", file.path().to_str().unwrap()),
            ("GATEWAY_API_KEYS", "sk-plain"),
            ("BIG_MODEL", "gemini-3.1-pro-preview"),
            ("SMALL_MODEL", "gemini-3.8-flash"),
        ],
    )
    .await;
    let apis = [
        (
            Api::Gemini,
            "gemini-3.8-flash",
            "gemini-3.1-pro-preview",
            "RESOURCE_EXHAUSTED",
            "PERMISSION_DENIED",
            "sk-paced-gemini",
        ),
        (
            Api::Anthropic,
            "claude-3-5-haiku-latest",
            "claude-sonnet-4-5",
            "rate_limit_error",
            "permission_error",
            "sk-paced-anthropic",
        ),
        (
            Api::OpenAi,
            "gemini-3.8-flash",
            "gemini-3.1-pro-preview",
            "rate_limit_error",
            "permission_error",
            "sk-paced-openai",
        ),
    ];
    for (api, small, big, limited, forbidden, paced) in apis {
        // Requests per minute: two pass, the third is a 429 with Retry-After, no key spent.
        assert_eq!(call(&gw, api, paced, small).await.0, 200);
        assert_eq!(call(&gw, api, paced, small).await.0, 200);
        mock.clear_requests();
        let (status, retry, body) = call(&gw, api, paced, small).await;
        assert_eq!(status, 429, "{body}");
        let retry: u64 = retry.unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(kind(api, &body), limited, "{body}");
        assert!(
            mock.requests().is_empty(),
            "refused before any key was spent"
        );
        // A model the client may not use: 403, nothing sent to Gemini for it.
        mock.clear_requests();
        let (status, _, body) = call(&gw, api, "sk-flash", big).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(kind(api, &body), forbidden, "{body}");
        assert!(
            mock.requests().is_empty(),
            "refused before any key was spent"
        );
        assert_eq!(call(&gw, api, "sk-flash", small).await.0, 200);
        // An unknown key: 401; a plain GATEWAY_API_KEYS key: no limits.
        assert_eq!(call(&gw, api, "sk-unknown", small).await.0, 401);
        assert_eq!(call(&gw, api, "sk-plain", big).await.0, 200);
    }

    // Tokens per day: the mock reports more than 5 tokens for one answer, so once that request
    // is counted (within a second) the client is refused until midnight UTC.
    assert_eq!(
        call(&gw, Api::Gemini, "sk-budget", "gemini-3.8-flash")
            .await
            .0,
        200
    );
    let (retry, body) = eventually("the budget spent", || async {
        let (status, retry, body) = call(&gw, Api::OpenAi, "sk-budget", "gemini-3.8-flash").await;
        (status == 429).then_some((retry, body))
    })
    .await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens"),
        "{body}"
    );
    assert!(retry.unwrap().parse::<u64>().unwrap() <= 86_400);
    assert!(!gw.logs().contains("sk-paced-gemini") && !gw.logs().contains("sk-budget"));
}

#[tokio::test]
async fn two_gateways_on_one_redis_share_a_clients_minute() {
    let redis = support::redis_server::RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let file = config_file();
    let url = redis.url();
    let env = [
        ("CONFIG_FILE", file.path().to_str().unwrap()),
        ("REDIS_URL", url.as_str()),
        ("REDIS_PREFIX", "limits-test"),
    ];
    let a = Gateway::start(&mock, &keys(2), &env).await;
    let b = Gateway::start(&mock, &keys(2), &env).await;
    assert_eq!(
        call(&a, Api::Gemini, "sk-paced-gemini", "gemini-3.8-flash")
            .await
            .0,
        200
    );
    assert_eq!(
        call(&b, Api::Gemini, "sk-paced-gemini", "gemini-3.8-flash")
            .await
            .0,
        200
    );
    let (status, _, body) = call(&a, Api::Gemini, "sk-paced-gemini", "gemini-3.8-flash").await;
    let (status_b, _, _) = call(&b, Api::Gemini, "sk-paced-gemini", "gemini-3.8-flash").await;
    // Two of four in one wall-clock minute (a minute boundary in between may let one more in).
    let passed = [status, status_b].iter().filter(|s| **s == 200).count();
    assert!(passed <= 1, "{status} {status_b} {body}");
}
