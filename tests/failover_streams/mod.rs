//! Streams under failover: a key that fails before the first byte is replaced unseen; a stream
//! that breaks after it is continued on another key, or ends in an honest error, never a clean
//! stop; streams without `alt=sse` and slow streams pass through as they come.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;
use crate::FLASH;

#[tokio::test]
async fn streams_fail_over_before_the_first_byte() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(3).start().await;
    mock.script(rule(&ks[0], None, Some(1), per_minute("20s")));
    mock.script(rule(
        &ks[1],
        None,
        Some(1),
        Behaviour::StreamBreak { after_chunks: 0 },
    ));
    // One key answers 429, another's stream dies before its first byte; every client stream must
    // still arrive whole.
    for _ in 0..3 {
        let resp = client()
            .post(gw.url(&format!(
                "/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
            )))
            .json(&hello_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let text = resp.text().await.unwrap();
        assert!(text.starts_with("data: "), "{text}");
        assert!(
            text.contains("\r\n\r\n"),
            "CRLF framing passes through untouched"
        );
        assert!(text.contains("\"finishReason\""));
    }
    let statuses: Vec<(String, u16)> = model_calls(&mock)
        .into_iter()
        .map(|r| (r.api_key.unwrap(), r.status))
        .collect();
    assert_eq!(
        statuses.iter().filter(|(_, s)| *s == 429).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.len(),
        5,
        "two failed attempts, three served: {statuses:?}"
    );
}

#[tokio::test]
async fn a_stream_that_breaks_after_the_first_byte_ends_in_an_error_not_a_clean_end() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    mock.script(rule(
        &ks[0],
        None,
        None,
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    mock.script(rule(
        &ks[1],
        None,
        None,
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    let resp = client()
        .post(gw.url(&format!(
            "/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
        )))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let result = resp.text().await;
    assert!(
        result.is_err(),
        "the client must see a broken stream, got {result:?}"
    );
    // After the first byte the request is never replayed from the start: the second key was
    // asked to continue the answer already sent (a trailing model turn), and broke too.
    let calls = model_calls(&mock);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let contents = calls[1].body.as_ref().unwrap()["contents"]
        .as_array()
        .unwrap();
    assert_eq!(contents.last().unwrap()["role"], "model");
}

/// The text of an SSE stream of Gemini events, concatenated, and whether it finished.
fn streamed_text(body: &str) -> (String, bool) {
    let mut text = String::new();
    let mut finished = false;
    for line in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let v: Value = serde_json::from_str(line).unwrap();
        for p in v["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if p["thought"] != true {
                text.push_str(p["text"].as_str().unwrap_or(""));
            }
        }
        finished |= v["candidates"][0]["finishReason"].is_string();
    }
    (text, finished)
}

#[tokio::test]
async fn a_stream_that_breaks_mid_way_is_continued_on_another_key_seamlessly() {
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    let path = format!("/v1beta/models/{FLASH}:streamGenerateContent?alt=sse");
    // What the answer is when nothing breaks (asked of the mock directly).
    let whole = client()
        .post(format!("{}{path}", mock.base_url()))
        .header("x-goog-api-key", &ks[1])
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    let (expected, finished) = streamed_text(&whole.text().await.unwrap());
    assert!(finished && expected.len() > 3, "{expected}");
    mock.script(rule(
        &ks[0],
        None,
        None,
        Behaviour::StreamBreak { after_chunks: 1 },
    ));
    mock.clear_requests();
    let resp = client()
        .post(gw.url(&path))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    let body = resp.text().await.expect("a whole stream");
    let (text, finished) = streamed_text(&body);
    assert!(finished, "{body}");
    assert_eq!(text, expected, "no duplicated or missing text");
    assert!(body
        .split("\r\n\r\n")
        .all(|e| e.is_empty() || e.starts_with("data: ")));
    let keys: Vec<String> = keys_used(&mock);
    assert_eq!(
        keys,
        [ks[0].clone(), ks[1].clone()],
        "continued on the other key"
    );
    let status = gw.status().await;
    assert_eq!(
        key_view(&status, &ks[0])["ejections"][FLASH]["times"],
        1,
        "the key whose stream broke rests: {status}"
    );
}

#[tokio::test]
async fn a_model_that_refuses_a_trailing_model_turn_is_never_continued_and_keeps_the_honest_error()
{
    let lite = "gemini-2.5-flash-lite";
    let Scenario { mock, keys: ks, gw } = Scenario::keys(3).start().await;
    let url = gw.url(&format!(
        "/v1beta/models/{lite}:streamGenerateContent?alt=sse"
    ));
    for round in 0..2 {
        for k in &ks {
            mock.script(rule(
                k,
                None,
                Some(1),
                Behaviour::StreamBreak { after_chunks: 1 },
            ));
        }
        mock.clear_requests();
        let resp = client()
            .post(&url)
            .json(&hello_body())
            .send()
            .await
            .unwrap();
        assert!(resp.text().await.is_err(), "a broken stream");
        // The rules table knows Flash-Lite takes no prefill: no continuation is tried.
        assert_eq!(model_calls(&mock).len(), 1, "round {round}");
    }
}

#[tokio::test]
async fn streams_without_alt_sse_pass_through_as_a_json_array() {
    let Scenario {
        mock: _mock, gw, ..
    } = Scenario::keys(1).start().await;
    let resp = client()
        .post(gw.url(&format!("/v1beta/models/{FLASH}:streamGenerateContent")))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(body.as_array().is_some_and(|a| !a.is_empty()));
}

#[tokio::test]
async fn a_slow_stream_is_forwarded_chunk_by_chunk() {
    let mock = MockGemini::start_with(mock_gemini::MockOptions {
        stream_chunks: Some(3),
        chunk_interval_ms: Some(300),
        response_delay_ms: None,
    })
    .await
    .unwrap();
    let gw = Gateway::start(&mock, &keys(1), &[]).await;
    let started = std::time::Instant::now();
    let mut resp = client()
        .post(gw.url(&format!(
            "/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
        )))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    // The upstream spends ≥ 600 ms on the whole answer; a buffering gateway would hold the first
    // event that long.
    assert!(
        first_at < Duration::from_millis(500),
        "first chunk after {first_at:?}"
    );
    let mut rest = 0;
    while let Some(c) = resp.chunk().await.unwrap() {
        rest += c.len();
    }
    assert!(rest > 0);
}
