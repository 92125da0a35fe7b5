//! The request log, the `/_mock/` control API, the models endpoints and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use mock_gemini::MockGemini;
use serde_json::{json, Value};

async fn get_json(url: &str) -> (u16, Value) {
    let response = client()
        .get(url)
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn request_log_records_everything_in_order() {
    let mock = MockGemini::start().await.unwrap();
    generate(&mock, "gemini-3.8-flash", &hello()).await;
    post(&mock, "gemini-3.8-flash", "countTokens", &hello()).await;
    generate(&mock, "gemini-nope", &hello()).await;
    client()
        .get(format!("{}/v1/models", mock.base_url()))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    let log = mock.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].method, "POST");
    assert_eq!(
        log[0].path,
        "/v1beta/models/gemini-3.8-flash:generateContent"
    );
    assert_eq!(log[0].model.as_deref(), Some("gemini-3.8-flash"));
    assert_eq!(log[0].action.as_deref(), Some("generateContent"));
    assert_eq!(log[0].api_key.as_deref(), Some(KEY));
    assert!(!log[0].key_in_query);
    assert_eq!(log[0].body, Some(hello()));
    assert_eq!(log[0].status, 200);
    assert_eq!(log[1].action.as_deref(), Some("countTokens"));
    assert_eq!(log[2].status, 404);
    assert_eq!(log[3].action.as_deref(), Some("list"));
    mock.clear_requests();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn control_api_scripts_and_reads() {
    let mock = MockGemini::start().await.unwrap();
    let base = mock.base_url();
    let rule = json!({"key": KEY, "model": "gemini-3.8-flash", "times": 1,
                      "behaviour": {"type": "rate_limit_per_minute", "retry_delay": "41s"}});
    let response = client()
        .post(format!("{base}/_mock/rules"))
        .body(rule.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bad = client()
        .post(format!("{base}/_mock/rules"))
        .body("{\"key\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let (_, rules) = get_json(&format!("{base}/_mock/rules")).await;
    assert_eq!(rules.as_array().unwrap().len(), 1);

    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 429);
    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 200);

    let forever = json!({"key": KEY, "behaviour": {"type": "unavailable"}});
    client()
        .post(format!("{base}/_mock/rules"))
        .body(forever.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 503);
    client()
        .delete(format!("{base}/_mock/rules"))
        .send()
        .await
        .unwrap();
    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 200);

    let (status, log) = get_json(&format!("{base}/_mock/requests")).await;
    assert_eq!(status, 200);
    let statuses: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec![429, 200, 503, 200],
        "control calls are not recorded"
    );
    assert_eq!(log[0]["body"], hello());
    assert_eq!(log[0]["key_in_query"], false);
    client()
        .delete(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap();
    assert!(mock.requests().is_empty());
    let health = client()
        .get(format!("{base}/_mock/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn models_list_and_get() {
    let mock = MockGemini::start().await.unwrap();
    let base = mock.base_url();
    for version in ["v1", "v1beta"] {
        let (status, list) = get_json(&format!("{base}/{version}/models")).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = list["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        for id in [
            "gemini-3.1-pro-preview",
            "gemini-3.8-flash",
            "gemini-2.5-flash-lite",
            "gemini-3.5-flash",
            "gemini-flash-latest",
        ] {
            assert!(names.contains(&format!("models/{id}").as_str()), "{id}");
        }
        for retired_or_alpha in ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-4-argon"] {
            assert!(!names.contains(&format!("models/{retired_or_alpha}").as_str()));
        }
    }
    let (_, alpha) = get_json(&format!("{base}/v1alpha/models?pageSize=1000")).await;
    assert!(alpha["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "models/gemini-4-hydrogen"));
    let (_, page) = get_json(&format!("{base}/v1beta/models?pageSize=2")).await;
    assert_eq!(page["models"].as_array().unwrap().len(), 2);
    let token = page["nextPageToken"].as_str().unwrap();
    let (status, _) = get_json(&format!(
        "{base}/v1beta/models?pageSize=2&pageToken={token}"
    ))
    .await;
    assert_eq!(status, 200);

    let (status, model) = get_json(&format!("{base}/v1beta/models/gemini-3.8-flash")).await;
    assert_eq!(status, 200);
    assert_eq!(model["name"], "models/gemini-3.8-flash");
    assert_eq!(model["inputTokenLimit"], 1_048_576);
    assert_eq!(model["outputTokenLimit"], 65_536);
    assert_eq!(model["thinking"], true);
    assert!(model["supportedGenerationMethods"]
        .as_array()
        .unwrap()
        .contains(&json!("generateContent")));
    let (status, argon) = get_json(&format!("{base}/v1alpha/models/gemini-4-argon")).await;
    assert_eq!(
        (status, argon["outputTokenLimit"].as_u64()),
        (200, Some(65_536))
    );
    let (status, _) = get_json(&format!("{base}/v1beta/models/gemini-4-argon")).await;
    assert_eq!(status, 404, "Gemini 4 is served under v1alpha only");
    let (status, missing) = get_json(&format!("{base}/v1beta/models/gemini-0")).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["status"], "NOT_FOUND");
    let response = client()
        .get(format!("{base}/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn v1_generate_works_too() {
    let mock = MockGemini::start().await.unwrap();
    let response = client()
        .post(format!(
            "{}/v1/models/gemini-3.8-flash:generateContent",
            mock.base_url()
        ))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-gemini"))
        .args(["--port", "0", "--stream-chunks", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("mock-gemini listening on ")
        .unwrap()
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let health = client().get(format!("{base}/_mock/health")).send().await;
    let stream = client()
        .post(format!(
            "{base}/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
        ))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let exit = child.wait().unwrap();
    assert_eq!(health.unwrap().status(), 200);
    let events = sse_events(&stream.unwrap().text().await.unwrap());
    assert!(events.len() >= 2, "{events:?}");
    assert!(events.last().unwrap()["candidates"][0]["finishReason"].is_string());
    assert!(exit.success(), "SIGTERM stops it cleanly: {exit:?}");
}
