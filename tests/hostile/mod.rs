//! What the hostile bodies of `hostile_bodies.rs` are made of: damaged Claude Code captures and
//! hand-made malformed requests for both surfaces, drawn from a seeded generator, and a few
//! heavy ones (10 MB fields, 100,001 blocks, a `$ref` bomb).

use serde_json::{json, Value};

use crate::support::hello_body;

const FIRST_TURN: &[u8] = include_bytes!("../fixtures/anthropic/claude-code-first-turn.json");
const TOOL_RESULT_TURN: &[u8] =
    include_bytes!("../fixtures/anthropic/claude-code-tool-result-turn.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    Anthropic,
    Google,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub surface: Surface,
    pub label: &'static str,
    pub path: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

const ANTHROPIC_PATHS: &[&str] = &[
    "/v1/messages",
    "/v1/messages?beta=true",
    "/v1/messages/count_tokens",
    "/v1/messages/count_tokens?beta=true",
];

const GOOGLE_PATHS: &[&str] = &[
    "/v1beta/models/gemini-3.8-flash:generateContent",
    "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse",
    "/v1beta/models/gemini-3.1-pro-preview:countTokens",
    "/v1/models/gemini-3.8-flash:generateContent?key=AIzaClientKey",
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
pub fn hello_messages() -> Value {
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
                    "gemini-3.8-flash:countTokens?x=",
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
                    "/v1beta/models/gemini-3.8-flash%3Fx%3D:generateContent",
                    "/v1beta/models/..:generateContent",
                    "/v1beta/models/gemini-3.8-flash:generate%2FContent",
                    "/v1beta/models/%FF%FE:generateContent",
                    "/v1/models/:generateContent",
                    "/v1beta/models/gemini-3.8-flash",
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
pub fn big_cases() -> Vec<Case> {
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

pub fn cases(seed: u64, n: usize) -> Vec<Case> {
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
