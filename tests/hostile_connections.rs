//! Black-box: hostile connections against the built binary. A body over `MAX_BODY_BYTES` is a
//! 413 in each surface's shape, declared or streamed in; a client that hangs up mid-stream makes
//! the gateway close its upstream connection (seen by a TCP proxy between the gateway and the
//! mock). (Malformed bodies: `hostile_bodies.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_gemini::MockOptions;
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Surface {
    Anthropic,
    Google,
}

const GOOGLE_PATHS: &[&str] = &[
    "/v1beta/models/gemini-3.8-flash:generateContent",
    "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse",
];

fn hello_messages() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": "Hello gateway"}]})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn padded_messages(bytes: usize) -> Vec<u8> {
    with(
        hello_messages(),
        "messages",
        json!([{"role": "user", "content": "x".repeat(bytes)}]),
    )
    .to_string()
    .into_bytes()
}

fn padded_native(bytes: usize) -> Vec<u8> {
    json!({"contents": [{"role": "user", "parts": [{"text": "y".repeat(bytes)}]}]})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_a_413_in_each_surfaces_shape() {
    let Scenario { mock, gw, .. } = Scenario::keys(1)
        .envs(&[("MAX_BODY_BYTES", "65536")])
        .start()
        .await;
    let client = client();
    for chunked in [false, true] {
        for (surface, path, body) in [
            (Surface::Anthropic, "/v1/messages", padded_messages(100_000)),
            (
                Surface::Anthropic,
                "/v1/messages/count_tokens",
                padded_messages(70_000),
            ),
            (Surface::Google, GOOGLE_PATHS[0], padded_native(100_000)),
            (Surface::Google, GOOGLE_PATHS[1], padded_native(70_000)),
        ] {
            let body = if chunked {
                // No content-length: the limit must hold while streaming in.
                let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
                    body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
                reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
            } else {
                reqwest::Body::from(body)
            };
            let resp = client
                .post(gw.url(path))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 413, "{path} chunked={chunked}");
            let v: Value = resp.json().await.unwrap();
            match surface {
                Surface::Anthropic => {
                    assert_eq!(v["type"], "error", "{v}");
                    assert_eq!(v["error"]["type"], "request_too_large", "{v}");
                }
                Surface::Google => {
                    assert_eq!(
                        v["error"],
                        json!({"code": 413, "status": "INVALID_ARGUMENT",
                            "message": "Request payload size exceeds the limit: 65536 bytes."})
                    );
                    assert!(v["request_id"].is_string(), "{v}");
                }
            }
        }
    }
    assert!(model_calls(&mock).is_empty());
    // Just under the limit is served.
    let resp = client
        .post(gw.url("/v1/messages"))
        .header("content-type", "application/json")
        .body(padded_messages(60_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .post(gw.url(GOOGLE_PATHS[0]))
        .header("content-type", "application/json")
        .body(padded_native(60_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(model_calls(&mock).len(), 2);
    assert!(process_alive(gw.pid()));
}

// ----- a client hanging up mid-stream ------------------------------------------------------------

/// What the proxy saw on one connection when the gateway closed its side.
#[derive(Debug)]
struct Closed {
    /// SSE events (`data:` lines) relayed from the mock to the gateway before the close.
    events_relayed: usize,
    /// Whether the mock had closed its side first.
    mock_closed_first: bool,
}

/// A TCP proxy gateway → mock that reports each connection the gateway closes.
async fn start_proxy(upstream: std::net::SocketAddr) -> (String, mpsc::UnboundedReceiver<Closed>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((gateway_side, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mock_side) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = mock_side.set_nodelay(true);
                let _ = gateway_side.set_nodelay(true);
                let (mut from_gateway, mut to_gateway) = gateway_side.into_split();
                let (mut from_mock, mut to_mock) = mock_side.into_split();
                let events = Arc::new(AtomicUsize::new(0));
                let mock_closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let (events_down, mock_closed_down) = (events.clone(), mock_closed.clone());
                let down = tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match from_mock.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                mock_closed_down.store(true, Ordering::SeqCst);
                                break;
                            }
                            Ok(n) => {
                                let seen =
                                    String::from_utf8_lossy(&buf[..n]).matches("data:").count();
                                events_down.fetch_add(seen, Ordering::SeqCst);
                                if to_gateway.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match from_gateway.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if to_mock.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = tx.send(Closed {
                    events_relayed: events.load(Ordering::SeqCst),
                    mock_closed_first: mock_closed.load(Ordering::SeqCst),
                });
                drop(to_mock);
                down.abort();
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_cancels_the_upstream_request() {
    let mock = MockGemini::start_with(MockOptions {
        chunk_interval_ms: Some(200),
        stream_chunks: Some(20),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let (proxy, mut closed) = start_proxy(mock.addr()).await;
    let gw = Gateway::start(&mock, &keys(1), &[("GEMINI_BASE_URL", proxy.as_str())]).await;
    // The whole answer would take 20 × 200 ms; the client leaves after the first chunk.
    let whole_stream = Duration::from_millis(20 * 200);
    for (surface, path, body) in [
        (
            "anthropic",
            "/v1/messages",
            with(hello_messages(), "stream", json!(true)),
        ),
        (
            "native",
            "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse",
            hello_body(),
        ),
    ] {
        let mut resp = client()
            .post(gw.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{surface}");
        let first = resp.chunk().await.unwrap().expect("a first chunk");
        assert!(!first.is_empty());
        let hung_up = Instant::now();
        drop(resp);
        let event = tokio::time::timeout(Duration::from_secs(3), closed.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("{surface}: the gateway still holds its upstream connection 3 s after the client left")
            })
            .unwrap();
        let after = hung_up.elapsed();
        assert!(
            !event.mock_closed_first,
            "{surface}: the gateway closed, not the mock: {event:?}"
        );
        assert!(
            event.events_relayed < 20,
            "{surface}: the stream was cut short: {event:?}"
        );
        assert!(after < whole_stream, "{surface}: {after:?}");
        eprintln!("{surface}: upstream closed {after:?} after the client hung up ({event:?})");
    }
    assert!(process_alive(gw.pid()));
    let streams = model_calls(&mock)
        .iter()
        .filter(|r| r.action.as_deref() == Some("streamGenerateContent"))
        .count();
    assert_eq!(streams, 2);
}
