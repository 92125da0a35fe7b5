//! Black-box: hostile input thrown at the built binary on both surfaces. Thousands of malformed
//! bodies (random bytes, invalid UTF-8, truncated and damaged Claude Code captures, 200-deep
//! nesting, 10 MB strings, wrong types and content types, bad base64, absurd numbers, broken
//! tool references, `$ref` bombs, URL-retargeting model names) all get a 4xx in the caller's
//! shape, nothing reaches the upstream, and the process is still serving afterwards. A body over
//! `MAX_BODY_BYTES` is a 413 in each shape. A client that hangs up mid-stream makes the gateway
//! close its upstream connection (seen by a TCP proxy between the gateway and the mock).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mock_gemini::MockOptions;
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const FIRST_TURN: &[u8] = include_bytes!("fixtures/anthropic/claude-code-first-turn.json");
const TOOL_RESULT_TURN: &[u8] =
    include_bytes!("fixtures/anthropic/claude-code-tool-result-turn.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Surface {
    Anthropic,
    Google,
}

#[derive(Clone, Debug)]
struct Case {
    surface: Surface,
    label: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

const ANTHROPIC_PATHS: &[&str] = &[
    "/v1/messages",
    "/v1/messages?beta=true",
    "/v1/messages/count_tokens",
    "/v1/messages/count_tokens?beta=true",
];

const GOOGLE_PATHS: &[&str] = &[
    "/v1beta/models/gemini-2.5-flash:generateContent",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    "/v1beta/models/gemini-2.5-pro:countTokens",
    "/v1/models/gemini-2.5-flash:generateContent?key=AIzaClientKey",
];

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=xyz"),
    Some("application/json; charset=utf-16"),
    Some("image/png"),
    None,
];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn random_bytes(rng: &mut fastrand::Rng, max: usize) -> Vec<u8> {
    let n = rng.usize(..max);
    (0..n).map(|_| rng.u8(..)).collect()
}

/// A well-formed Anthropic request, to be broken.
fn hello_messages() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": "Hello gateway"}]})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn nested(levels: usize) -> String {
    let mut s = String::from("1");
    for i in 0..levels {
        s = if i % 2 == 0 {
            format!("[{s}]")
        } else {
            format!("{{\"k\":{s}}}")
        };
    }
    s
}

fn insert_nul(rng: &mut fastrand::Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = rng.usize(..=out.len());
    out.insert(at, 0);
    out
}

fn truncate(rng: &mut fastrand::Rng, bytes: &[u8]) -> Vec<u8> {
    let end = bytes.iter().rposition(|b| *b == b'}').unwrap();
    bytes[..rng.usize(..end)].to_vec()
}

fn conversation(calls: Value, results: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": calls},
        {"role": "user", "content": results}]})
}

fn anthropic_body(rng: &mut fastrand::Rng, kind: usize) -> (&'static str, Vec<u8>) {
    let fixture = if rng.bool() {
        FIRST_TURN
    } else {
        TOOL_RESULT_TURN
    };
    let v = |v: Value| v.to_string().into_bytes();
    match kind {
        0 => ("random bytes", random_bytes(rng, 3000)),
        1 => {
            let mut b = br#"{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"ok "#.to_vec();
            b.extend(random_bytes(rng, 20));
            b.extend_from_slice(b"\xff\xfe\xc3");
            b.extend_from_slice(br#""}]}"#);
            ("invalid UTF-8", b)
        }
        2 => ("truncated capture", truncate(rng, fixture)),
        3 => {
            let body = format!(
                r#"{{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{{"role":"user","content":"x"}}],"metadata":{}}}"#,
                nested(200)
            );
            ("200-deep nesting", body.into_bytes())
        }
        4 => ("NUL in capture", insert_nul(rng, fixture)),
        5 => {
            let (field, bad) = pick(
                rng,
                &[
                    ("max_tokens", json!("ten")),
                    ("messages", json!({})),
                    ("messages", json!([1, 2])),
                    ("messages", json!([{"role": "user", "content": 7}])),
                    ("messages", json!([{"role": "user"}])),
                    ("model", json!(5)),
                    ("system", json!(7)),
                    ("tools", json!("all")),
                    ("tools", json!([{"input_schema": {}}])),
                    ("thinking", json!({"type": "enabled", "budget_tokens": -5})),
                    ("tool_choice", json!({"type": "tool"})),
                    ("stop_sequences", json!("STOP")),
                    ("stream", json!("yes")),
                    ("temperature", json!("hot")),
                ],
            )
            .clone();
            ("wrong type", v(with(hello_messages(), field, bad)))
        }
        6 => {
            let bad = pick(
                rng,
                &[
                    json!(-1),
                    json!(0),
                    json!(4_294_967_296u64),
                    json!(1e20),
                    json!(1.5),
                    json!("100"),
                    json!([64]),
                    json!(-9_223_372_036_854_775_808i64),
                ],
            )
            .clone();
            (
                "absurd max_tokens",
                v(with(hello_messages(), "max_tokens", bad)),
            )
        }
        7 => {
            let data = *pick(
                rng,
                &[
                    "not base64!",
                    "AAA",
                    "AA-_",
                    "====",
                    "QR==",
                    "iVBOR w0K",
                    "",
                    "A",
                ],
            );
            let kind = *pick(rng, &["image", "document"]);
            let media = if kind == "image" {
                "image/png"
            } else {
                "application/pdf"
            };
            let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user",
                "content": [{"type": "text", "text": "look"},
                    {"type": kind, "source": {"type": "base64", "media_type": media, "data": data}}]}]});
            ("invalid base64", v(body))
        }
        8 => {
            let messages = pick(
                rng,
                &[
                    json!([]),
                    json!([{"role": "robot", "content": "hi"}]),
                    json!([{"role": "tool", "content": "hi"}]),
                    json!([{"role": "", "content": "hi"}]),
                    json!([{"role": "user", "content": ""}]),
                    json!([{"role": "user", "content": []}]),
                ],
            )
            .clone();
            (
                "empty messages or bad role",
                v(with(hello_messages(), "messages", messages)),
            )
        }
        9 => {
            let body = conversation(
                json!([{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}]),
                json!([{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "x"}]),
            );
            ("unknown tool_use_id", v(body))
        }
        10 => {
            let body = pick(
                rng,
                &[
                    conversation(
                        json!([{"type": "tool_use", "id": "t", "name": "Bash", "input": {}},
                               {"type": "tool_use", "id": "t", "name": "Read", "input": {}}]),
                        json!([{"type": "tool_result", "tool_use_id": "t", "content": "x"}]),
                    ),
                    conversation(
                        json!([{"type": "tool_use", "id": "", "name": "Bash", "input": {}}]),
                        json!([{"type": "tool_result", "tool_use_id": "", "content": "x"}]),
                    ),
                    conversation(
                        json!([{"type": "tool_use", "id": "t", "name": "", "input": {}}]),
                        json!([{"type": "tool_result", "tool_use_id": "t", "content": "x"}]),
                    ),
                    conversation(
                        json!([{"type": "tool_use", "id": "t", "name": "Bash", "input": "ls"}]),
                        json!([{"type": "tool_result", "tool_use_id": "t", "content": "x"}]),
                    ),
                    conversation(
                        json!([{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]),
                        json!([{"type": "tool_result", "content": "x"}]),
                    ),
                ],
            )
            .clone();
            ("broken tool ids", v(body))
        }
        11 => {
            let (field, bad) = pick(
                rng,
                &[
                    ("temperature", json!("NaN")),
                    ("temperature", json!(-0.1)),
                    ("temperature", json!(1e300)),
                    ("top_p", json!(2)),
                    ("top_k", json!(-5)),
                    ("top_k", json!(1e10)),
                    ("top_k", json!(3_000_000_000u64)),
                    ("top_k", json!("Infinity")),
                ],
            )
            .clone();
            ("NaN-like numbers", v(with(hello_messages(), field, bad)))
        }
        12 => {
            let model = *pick(
                rng,
                &[
                    "gemini-2.5-flash:countTokens?x=",
                    "gemini-x/../../v1beta/files",
                    "gemini-2.5 flash",
                    "gemini-%2e%2e",
                    "gpt-4o",
                    "",
                ],
            );
            (
                "bad model",
                v(with(hello_messages(), "model", json!(model))),
            )
        }
        13 => {
            let tools = pick(
                rng,
                &[
                    json!([{"name": "two words", "input_schema": {"type": "object"}}]),
                    json!([{"name": "", "input_schema": {"type": "object"}}]),
                    json!([{"name": "x".repeat(200), "input_schema": {"type": "object"}}]),
                ],
            )
            .clone();
            ("bad tool name", v(with(hello_messages(), "tools", tools)))
        }
        14 => {
            let body = pick(
                rng,
                &[
                    json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [
                        {"role": "user", "content": "go"},
                        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]}]}),
                    json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [
                        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}]}),
                    json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "tool_choice": {"type": "tool", "name": "Nope"},
                        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
                        "messages": [{"role": "user", "content": "go"}]}),
                ],
            )
            .clone();
            ("unanswered or misplaced tool calls", v(body))
        }
        _ => {
            // A capture with one field made invalid.
            let mut c: Value = serde_json::from_slice(fixture).unwrap();
            let n = c["messages"].as_array().unwrap().len();
            let k = rng.usize(..n);
            match rng.usize(..5) {
                0 => c["messages"][k]["role"] = json!("robot"),
                1 => c["messages"][k]["content"] = json!(7),
                2 => c["max_tokens"] = json!(-1),
                3 => c["model"] = json!(""),
                _ => c["tools"][0]["name"] = json!("bad name!"),
            }
            ("capture with a bad field", v(c))
        }
    }
}

fn google_body(rng: &mut fastrand::Rng, kind: usize) -> (&'static str, String, Vec<u8>) {
    let path = pick(rng, GOOGLE_PATHS).to_string();
    let hello = hello_body().to_string().into_bytes();
    match kind {
        0 => {
            let mut b = random_bytes(rng, 3000);
            if b.first() == Some(&b'{') {
                b[0] = b'?';
            }
            ("random bytes", path, b)
        }
        1 => {
            let mut b = br#"{"contents":[{"role":"user","parts":[{"text":"ok "#.to_vec();
            b.extend_from_slice(b"\xff\xc3\x28");
            b.extend_from_slice(br#""}]}]}"#);
            ("invalid UTF-8", path, b)
        }
        2 => ("truncated", path, truncate(rng, &hello)),
        3 => {
            let body = format!(r#"{{"contents":{}}}"#, nested(200));
            ("200-deep nesting", path, body.into_bytes())
        }
        4 => {
            let b = pick(
                rng,
                &[
                    &b"[]"[..],
                    b"\"text\"",
                    b"42",
                    b"null",
                    b"true",
                    b"[{\"contents\":[]}]",
                ],
            )
            .to_vec();
            ("not an object", path, b)
        }
        5 => (
            "empty body",
            path,
            pick(rng, &[&b""[..], b" ", b"\r\n"]).to_vec(),
        ),
        6 => ("NUL inserted", path, insert_nul(rng, &hello)),
        7 => {
            let bad = *pick(
                rng,
                &[
                    "/v1beta/models/gemini-x%2F..%2F..%2Ffiles:generateContent",
                    "/v1beta/models/gemini%202.5:generateContent",
                    "/v1beta/models/gemini-2.5-flash%3Fx%3D:generateContent",
                    "/v1beta/models/..:generateContent",
                    "/v1beta/models/gemini-2.5-flash:generate%2FContent",
                    "/v1beta/models/%FF%FE:generateContent",
                    "/v1/models/:generateContent",
                    "/v1beta/models/gemini-2.5-flash",
                ],
            );
            ("bad model or method in the path", bad.to_string(), hello)
        }
        8 => {
            let mut b = hello.clone();
            b.extend_from_slice(b" {}");
            ("trailing data", path, b)
        }
        9 => (
            "lone surrogate",
            path,
            br#"{"contents":[{"parts":[{"text":"\ud800"}]}]}"#.to_vec(),
        ),
        10 => {
            let body = format!(r#"{{"contents":{}}}"#, nested(64));
            ("65-deep nesting", path, body.into_bytes())
        }
        _ => (
            "broken syntax",
            path,
            pick(
                rng,
                &[
                    &br#"{"contents": [}"#[..],
                    br#"{contents: []}"#,
                    br#"{'contents': []}"#,
                    br#"{"contents": [1,]}"#,
                    br#"{"a": 1e999}"#,
                    br#"{"a": "\x"}"#,
                ],
            )
            .to_vec(),
        ),
    }
}

/// 10 MB fields, 100,001 blocks, a `$ref` bomb: few but heavy.
fn big_cases() -> Vec<Case> {
    let ten_mb = "9".repeat(10 * 1024 * 1024);
    let a = |label, body: Value| Case {
        surface: Surface::Anthropic,
        label,
        path: "/v1/messages".into(),
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
    };
    let mut defs = serde_json::Map::new();
    for i in 0..40 {
        let next = format!("#/$defs/d{}", i + 1);
        defs.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
        );
    }
    let bomb =
        json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "$defs": defs});
    let blocks: Vec<Value> = (0..100_001)
        .map(|_| json!({"type": "text", "text": "x"}))
        .collect();
    let mut bad_image = base64_of_zeros(9 * 1024 * 1024);
    bad_image.push('!');
    let mut out = vec![
        a(
            "10 MB max_tokens",
            with(hello_messages(), "max_tokens", json!(ten_mb)),
        ),
        a(
            "10 MB model name",
            with(hello_messages(), "model", json!(format!("gpt-{ten_mb}"))),
        ),
        a(
            "10 MB text and a bad image",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [
                {"type": "text", "text": ten_mb},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]}]}),
        ),
        a(
            "12 MB image whose base64 breaks at the end",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": bad_image}}]}]}),
        ),
        a(
            "100,001 blocks",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": blocks}]}),
        ),
        a(
            "$ref bomb",
            with(
                hello_messages(),
                "tools",
                json!([{"name": "Bomb", "input_schema": bomb}]),
            ),
        ),
    ];
    let mut unterminated = br#"{"contents":[{"parts":[{"text":""#.to_vec();
    unterminated.extend_from_slice(ten_mb.as_bytes());
    out.push(Case {
        surface: Surface::Google,
        label: "10 MB unterminated string",
        path: GOOGLE_PATHS[0].into(),
        content_type: Some("application/json"),
        body: unterminated,
    });
    out.push(Case {
        surface: Surface::Google,
        label: "10 MB string then 200-deep nesting",
        path: GOOGLE_PATHS[1].into(),
        content_type: Some("application/json"),
        body: format!(r#"{{"note":"{ten_mb}","contents":{}}}"#, nested(200)).into_bytes(),
    });
    out
}

fn base64_of_zeros(bytes: usize) -> String {
    "AAAA".repeat(bytes / 3)
}

fn cases(seed: u64, n: usize) -> Vec<Case> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let content_type = *pick(&mut rng, CONTENT_TYPES);
            if i % 2 == 0 {
                let (label, body) = anthropic_body(&mut rng, (i / 2) % 16);
                Case {
                    surface: Surface::Anthropic,
                    label,
                    path: pick(&mut rng, ANTHROPIC_PATHS).to_string(),
                    content_type,
                    body,
                }
            } else {
                let (label, path, body) = google_body(&mut rng, (i / 2) % 12);
                Case {
                    surface: Surface::Google,
                    label,
                    path,
                    content_type,
                    body,
                }
            }
        })
        .collect()
}

/// Sends `case`; returns a description of what was wrong with the answer, if anything.
async fn check(client: &reqwest::Client, gw: &Gateway, case: &Case) -> Option<String> {
    let mut req = client
        .post(gw.url(&case.path))
        .header("anthropic-version", "2023-06-01")
        .body(case.body.clone());
    if let Some(ct) = case.content_type {
        req = req.header("content-type", ct);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Some(format!("no answer: {e}")),
    };
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    if !(400..500).contains(&status) {
        return Some(format!("status {status}: {}", clip(&text)));
    }
    if text.len() > 10_000 {
        return Some(format!("an error body of {} bytes", text.len()));
    }
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Some(format!("status {status}, not JSON: {}", clip(&text)));
    };
    let shaped = match case.surface {
        Surface::Anthropic => {
            v["type"] == "error"
                && v["error"]["type"].as_str().is_some_and(|t| !t.is_empty())
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
        }
        Surface::Google => {
            v["error"]["code"] == status
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
                && v["error"]["status"].as_str().is_some_and(|s| !s.is_empty())
                && v.get("type").is_none()
        }
    };
    (!shaped).then(|| format!("status {status}, wrong shape: {}", clip(&text)))
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

async fn run_all(gw: &Gateway, cases: &[Case], batch: usize) -> Vec<String> {
    let client = client();
    let mut failures = Vec::new();
    for chunk in cases.chunks(batch) {
        let answers = join_all(chunk.iter().map(|c| check(&client, gw, c))).await;
        for (case, problem) in chunk.iter().zip(answers) {
            if let Some(p) = problem {
                failures.push(format!(
                    "{:?} {} ({} bytes to {}): {p}",
                    case.surface,
                    case.label,
                    case.body.len(),
                    case.path
                ));
            }
        }
    }
    failures
}

async fn assert_still_serving(gw: &Gateway) {
    assert!(process_alive(gw.pid()), "the gateway process died");
    let resp = client()
        .post(gw.url("/v1/messages"))
        .json(&hello_messages())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    let resp = client()
        .post(gw.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["candidates"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_malformed_bodies_get_a_4xx_in_the_callers_shape_and_never_reach_upstream() {
    let mock = MockGemini::start().await.unwrap();
    let gw = Gateway::start(&mock, &keys(2), &[]).await;
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let started = Instant::now();
    let mut all = cases(seed, 3_000);
    all.extend(big_cases());
    let failures = run_all(&gw, &all, 64).await;
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "HOSTILE_SEED={seed}: {} of {} answers were wrong:\n{}",
        failures.len(),
        all.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        mock.requests().is_empty(),
        "HOSTILE_SEED={seed}: upstream saw {:?}",
        mock.requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    assert_still_serving(&gw).await;
    assert_eq!(model_calls(&mock).len(), 2, "only the two normal requests");
    let logs = gw.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    eprintln!(
        "{} hostile requests (seed {seed}) answered in {elapsed:?}",
        all.len()
    );
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
    let mock = MockGemini::start().await.unwrap();
    let gw = Gateway::start(&mock, &keys(1), &[("MAX_BODY_BYTES", "65536")]).await;
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
                Surface::Google => assert_eq!(
                    v,
                    json!({"error": {"code": 413, "status": "INVALID_ARGUMENT",
                        "message": "Request payload size exceeds the limit: 65536 bytes."}})
                ),
            }
        }
    }
    assert!(mock.requests().is_empty());
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
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
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
