//! Gemini reached directly over TLS, as the real API is: the gateway's own client (no proxy in
//! the way) trusts the WebPKI roots plus `UPSTREAM_CA_FILE`, speaks HTTP/2 when the server offers
//! it by ALPN, and refuses a certificate it has no reason to trust.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{client, hello_body, keys, model_calls, Gateway, MockGemini};

const HOST: &str = "localhost";

/// The TLS mock, the CA file that trusts it, and its `https://` base URL.
async fn tls_mock() -> (MockGemini, tempfile::NamedTempFile, String) {
    let (mock, ca) = support::tls_mock(HOST).await;
    let base = format!("https://{HOST}:{}", mock.addr().port());
    (mock, ca, base)
}

#[tokio::test]
async fn requests_and_streams_reach_gemini_over_tls_with_http2() {
    let (mock, ca, base) = tls_mock().await;
    let gw = Gateway::start(
        &mock,
        &keys(2),
        &[
            ("GEMINI_BASE_URL", &base),
            ("UPSTREAM_CA_FILE", ca.path().to_str().unwrap()),
        ],
    )
    .await;
    let resp = support::generate(&gw, "gemini-3.8-flash").await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let resp = client()
        .post(gw.url("/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("\"finishReason\""),
        "the whole stream: {text}"
    );

    let calls = model_calls(&mock);
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        assert_eq!(call.http_version, "HTTP/2.0", "ALPN chose h2: {call:?}");
        assert!(call.api_key.is_some() && !call.key_in_query);
    }
}

#[tokio::test]
async fn a_certificate_not_trusted_is_refused() {
    let (mock, _ca, base) = tls_mock().await;
    let gw = Gateway::start(
        &mock,
        &keys(1),
        &[("GEMINI_BASE_URL", &base), ("REQUEST_TIMEOUT", "5")],
    )
    .await;
    let resp = support::generate(&gw, "gemini-3.8-flash").await;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert!(status >= 500, "{status} {body}");
    assert!(body.contains("certificate"), "the error says why: {body}");
    assert!(model_calls(&mock).is_empty(), "no request got through");
}
