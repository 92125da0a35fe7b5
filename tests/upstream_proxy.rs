//! Gemini reached only through a proxy: the mock answers for `gemini.test`, a name that resolves
//! nowhere, so a request succeeds only if it went through the proxy the test started — over
//! TLS through an HTTP CONNECT tunnel (with credentials, the mock's certificate trusted through
//! UPSTREAM_CA_FILE), through SOCKS5 with the proxy resolving the name, and through the standard
//! HTTPS_PROXY when UPSTREAM_PROXY is unset (which NO_PROXY turns off). Proxy credentials never
//! appear in a log line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::proxy;
use support::{keys, model_calls, Gateway, MockGemini};

const HOST: &str = "gemini.test";

async fn generate(gw: &Gateway) -> (u16, String) {
    let resp = support::generate(gw, "gemini-3.8-flash").await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn tls_mock() -> (MockGemini, tempfile::NamedTempFile) {
    support::tls_mock(HOST).await
}

#[tokio::test]
async fn an_http_connect_proxy_with_credentials_carries_tls_to_gemini() {
    let (mock, ca) = tls_mock().await;
    let proxy = proxy::http_connect(HOST, mock.addr(), Some("team:s3cret-proxy-pass")).await;
    let base = format!("https://{HOST}:{}", mock.addr().port());
    let upstream_proxy = format!("http://team:s3cret-proxy-pass@{}", proxy.addr);
    let gw = Gateway::start(
        &mock,
        &keys(2),
        &[
            ("GEMINI_BASE_URL", &base),
            ("UPSTREAM_PROXY", &upstream_proxy),
            ("UPSTREAM_CA_FILE", ca.path().to_str().unwrap()),
        ],
    )
    .await;
    let (status, body) = generate(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert!(proxy.tunnels() >= 1, "the request went through the proxy");
    assert_eq!(model_calls(&mock).len(), 1);

    // Without the credentials the proxy refuses, and the client hears of an upstream failure.
    let anonymous = format!("http://{}", proxy.addr);
    let gw2 = Gateway::start(
        &mock,
        &keys(1),
        &[
            ("GEMINI_BASE_URL", &base),
            ("UPSTREAM_PROXY", &anonymous),
            ("UPSTREAM_CA_FILE", ca.path().to_str().unwrap()),
            ("REQUEST_TIMEOUT", "5"),
        ],
    )
    .await;
    let (status, _) = generate(&gw2).await;
    assert!(status >= 500, "{status}");
    assert!(proxy.refused.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    for logs in [gw.logs(), gw2.logs()] {
        assert!(!logs.contains("s3cret-proxy-pass"), "{logs}");
    }
}

#[tokio::test]
async fn a_socks5h_proxy_resolves_the_name_and_carries_the_request() {
    let mock = MockGemini::start().await.unwrap();
    let proxy = proxy::socks5(HOST, mock.addr()).await;
    let base = format!("http://{HOST}:{}", mock.addr().port());
    let via = format!("socks5h://{}", proxy.addr);
    let gw = Gateway::start(
        &mock,
        &keys(1),
        &[("GEMINI_BASE_URL", &base), ("UPSTREAM_PROXY", &via)],
    )
    .await;
    let (status, body) = generate(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert!(proxy.tunnels() >= 1);
}

#[tokio::test]
async fn https_proxy_is_honoured_when_upstream_proxy_is_unset_and_no_proxy_turns_it_off() {
    let (mock, ca) = tls_mock().await;
    let proxy = proxy::http_connect(HOST, mock.addr(), None).await;
    let base = format!("https://{HOST}:{}", mock.addr().port());
    let via = format!("http://{}", proxy.addr);
    let ca_path = ca.path().to_str().unwrap();
    let gw = Gateway::start(
        &mock,
        &keys(1),
        &[
            ("GEMINI_BASE_URL", &base),
            ("HTTPS_PROXY", &via),
            ("UPSTREAM_CA_FILE", ca_path),
        ],
    )
    .await;
    let (status, body) = generate(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(proxy.tunnels(), 1);

    let direct = Gateway::start(
        &mock,
        &keys(1),
        &[
            ("GEMINI_BASE_URL", &base),
            ("HTTPS_PROXY", &via),
            ("NO_PROXY", HOST),
            ("UPSTREAM_CA_FILE", ca_path),
            ("REQUEST_TIMEOUT", "5"),
        ],
    )
    .await;
    let (status, _) = generate(&direct).await;
    assert!(
        status >= 500,
        "gemini.test resolves nowhere without the proxy: {status}"
    );
    assert_eq!(
        proxy.tunnels(),
        1,
        "NO_PROXY kept the request off the proxy"
    );
}
