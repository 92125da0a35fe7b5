//! Scripted behaviours: exact status and body shape of each, rule matching per model,
//! `times` expiry, newest-rule-wins, hangs, delays and broken streams; plus auth errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use mock_gemini::{Behaviour, MockGemini, Rule};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rule(behaviour: Behaviour) -> Rule {
    Rule {
        key: KEY.to_owned(),
        model: None,
        times: None,
        behaviour,
    }
}

fn detail<'a>(body: &'a Value, type_suffix: &str) -> Option<&'a Value> {
    body["error"]["details"].as_array()?.iter().find(|d| {
        d["@type"]
            .as_str()
            .is_some_and(|t| t.ends_with(type_suffix))
    })
}

#[tokio::test]
async fn rate_limit_per_minute_has_quota_failure_help_and_retry_info() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(rule(Behaviour::RateLimitPerMinute {
        retry_delay: "52.454646382s".into(),
    }));
    let (status, body) = generate(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], 429);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let msg = message(&body);
    assert!(msg.starts_with("You exceeded your current quota"), "{msg}");
    assert!(msg.contains("model: gemini-3.8-flash"));
    assert!(msg.ends_with("Please retry in 52.454646382s."));
    let quota = detail(&body, "google.rpc.QuotaFailure").unwrap();
    assert_eq!(
        quota["violations"][0]["quotaId"],
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    );
    assert_eq!(
        quota["violations"][0]["quotaDimensions"]["model"],
        "gemini-3.8-flash"
    );
    assert!(detail(&body, "google.rpc.Help").is_some());
    assert_eq!(
        detail(&body, "google.rpc.RetryInfo").unwrap()["retryDelay"],
        "52.454646382s"
    );
}

#[tokio::test]
async fn rate_limit_per_day_has_no_retry_info() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(rule(Behaviour::RateLimitPerDay));
    let (status, body) = generate(&mock, "gemini-3.1-pro-preview", &hello()).await;
    assert_eq!(status, 429);
    let quota = detail(&body, "google.rpc.QuotaFailure").unwrap();
    assert_eq!(
        quota["violations"][0]["quotaId"],
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    );
    assert!(detail(&body, "google.rpc.RetryInfo").is_none());
}

#[tokio::test]
async fn bare_rate_limit_key_invalid_suspended_unavailable_internal() {
    let mock = MockGemini::start().await.unwrap();
    let cases = [
        (Behaviour::RateLimitBare, 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        (Behaviour::KeyInvalid, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
        (Behaviour::Unavailable, 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        (
            Behaviour::Internal,
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
    ];
    for (behaviour, code, status_name, text) in cases {
        mock.script(Rule {
            times: Some(1),
            ..rule(behaviour.clone())
        });
        let (status, body) = generate(&mock, "gemini-3.8-flash", &hello()).await;
        assert_eq!(status, code, "{behaviour:?}");
        assert_eq!(body["error"]["status"], status_name);
        assert_eq!(message(&body), text);
    }
    let (_, body) = {
        mock.script(Rule {
            times: Some(1),
            ..rule(Behaviour::KeyInvalid)
        });
        generate(&mock, "gemini-3.8-flash", &hello()).await
    };
    assert_eq!(
        detail(&body, "google.rpc.ErrorInfo").unwrap()["reason"],
        "API_KEY_INVALID"
    );
    assert!(detail(&body, "google.rpc.LocalizedMessage").is_some());
    assert!(body["error"].get("details").is_some());

    mock.script(Rule {
        times: Some(1),
        ..rule(Behaviour::Suspended)
    });
    let (status, body) = generate(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        message(&body),
        format!("Permission denied: Consumer 'api_key:{KEY}' has been suspended.")
    );
    assert_eq!(
        detail(&body, "google.rpc.ErrorInfo").unwrap()["reason"],
        "CONSUMER_SUSPENDED"
    );

    let (status, _) = generate(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 200, "one-shot rules expired");
}

#[tokio::test]
async fn errors_are_google_json() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(rule(Behaviour::Unavailable));
    let response = client()
        .post(url(&mock, "gemini-3.8-flash", "generateContent"))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
}

#[tokio::test]
async fn rules_match_per_model_and_newest_wins() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(Rule {
        model: Some("gemini-3.1-pro-preview".into()),
        ..rule(Behaviour::RateLimitPerDay)
    });
    mock.script(Rule {
        model: Some("gemini-3.1-pro-preview".into()),
        times: Some(2),
        ..rule(Behaviour::Ok)
    });
    assert_eq!(generate(&mock, "gemini-3.8-flash", &hello()).await.0, 200);
    assert_eq!(
        generate(&mock, "gemini-3.1-pro-preview", &hello()).await.0,
        200
    );
    assert_eq!(
        generate(&mock, "gemini-3.1-pro-preview", &hello()).await.0,
        200
    );
    assert_eq!(
        generate(&mock, "gemini-3.1-pro-preview", &hello()).await.0,
        429
    );
    assert_eq!(
        post_as(
            &mock,
            KEY2,
            "gemini-3.1-pro-preview",
            "generateContent",
            &hello()
        )
        .await
        .0,
        200
    );
    mock.clear_rules();
    assert_eq!(
        generate(&mock, "gemini-3.1-pro-preview", &hello()).await.0,
        200
    );
}

#[tokio::test]
async fn key_rules_apply_before_body_validation() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(rule(Behaviour::RateLimitBare));
    let (status, _) = generate(&mock, "gemini-3.8-flash", &serde_json::json!({"bogus": 1})).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn hang_never_answers_and_delay_answers_late() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(Rule {
        times: Some(1),
        ..rule(Behaviour::Hang)
    });
    let request = client()
        .post(url(&mock, "gemini-3.8-flash", "generateContent"))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .timeout(Duration::from_millis(300))
        .send();
    let error = request.await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(mock.requests()[0].status, 0);

    mock.script(Rule {
        times: Some(1),
        ..rule(Behaviour::Delay { ms: 250 })
    });
    let started = Instant::now();
    let (status, _) = generate(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    mock.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_a_hanging_request() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(rule(Behaviour::Hang));
    let url = url(&mock, "gemini-3.8-flash", "generateContent");
    let pending = tokio::spawn(async move {
        client()
            .post(url)
            .header("x-goog-api-key", KEY)
            .body(hello().to_string())
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), mock.shutdown())
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    if let Ok(response) = outcome {
        assert!(response.text().await.is_err());
    }
}

/// Sends a raw HTTP/1.1 streaming request and reads until the server closes.
async fn raw_stream(mock: &MockGemini, query: &str) -> String {
    let mut socket = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let body = hello().to_string();
    let request = format!(
        "POST /v1beta/models/gemini-3.8-flash:streamGenerateContent{query} HTTP/1.1\r\nHost: x\r\n\
         x-goog-api-key: {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut out))
        .await
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn stream_break_aborts_without_the_final_chunk() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(Rule {
        times: Some(1),
        ..rule(Behaviour::StreamBreak { after_chunks: 2 })
    });
    let raw = raw_stream(&mock, "?alt=sse").await;
    assert!(raw.starts_with("HTTP/1.1 200"));
    assert_eq!(raw.matches("data: ").count(), 2);
    assert!(
        !raw.ends_with("0\r\n\r\n"),
        "chunked body must not end cleanly: {raw:?}"
    );
    assert!(!raw.contains("finishReason"));

    mock.script(Rule {
        times: Some(1),
        ..rule(Behaviour::StreamBreak { after_chunks: 1 })
    });
    let response = client()
        .post(format!(
            "{}?alt=sse",
            url(&mock, "gemini-3.8-flash", "streamGenerateContent")
        ))
        .header("x-goog-api-key", KEY)
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.text().await.is_err(),
        "the client must see an error, not EOF"
    );
}

#[tokio::test]
async fn stream_rules_do_not_touch_unary_calls() {
    let mock = MockGemini::start().await.unwrap();
    mock.script(Rule {
        times: Some(1),
        ..rule(Behaviour::StreamNoFinish { after_chunks: 1 })
    });
    let (status, body) = generate(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 200);
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    let (status, _, text) = stream_sse(&mock, "gemini-3.8-flash", &hello()).await;
    assert_eq!(status, 200);
    let events = sse_events(&text);
    assert_eq!(events.len(), 1);
    assert!(!text.contains("finishReason"));
    let raw = raw_stream(&mock, "?alt=sse").await;
    assert!(raw.ends_with("0\r\n\r\n"), "a normal stream ends cleanly");
}

#[tokio::test]
async fn auth_errors() {
    let mock = MockGemini::start().await.unwrap();
    let response = client()
        .post(url(&mock, "gemini-3.8-flash", "generateContent"))
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert!(message(&body).starts_with("Method doesn't allow unregistered callers"));

    let (status, body) = post_as(
        &mock,
        "sk-not-a-google-key",
        "gemini-3.8-flash",
        "generateContent",
        &hello(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let response = client()
        .post(format!(
            "{}?key={KEY}",
            url(&mock, "gemini-3.8-flash", "generateContent")
        ))
        .body(hello().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let last = mock.requests().pop().unwrap();
    assert!(last.key_in_query);
    assert_eq!(last.api_key.as_deref(), Some(KEY));
}

#[tokio::test]
async fn unknown_model_is_404() {
    let mock = MockGemini::start().await.unwrap();
    let (status, body) = generate(&mock, "gemini-9-ultra", &hello()).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    assert_eq!(
        message(&body),
        "models/gemini-9-ultra is not found for API version v1beta, or is not supported for generateContent. \
         Call ListModels to see the list of available models and their supported methods."
    );
}
