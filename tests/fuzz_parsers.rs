//! Property tests: the parsers and translators never panic on hostile input, refuse it with a
//! 4xx in the caller's shape, and what they accept is shaped the way Gemini requires.
//!
//! Inputs: arbitrary JSON values, Anthropic-shaped requests built from the fields that matter
//! (and then mutated: a field dropped or replaced by anything), the real Claude Code captures in
//! `tests/fixtures/anthropic/` mutated the same way or at the byte level (truncation, byte flips,
//! insertions), arbitrary Gemini response chunks, and arbitrary SSE byte streams split anywhere.
//! `PROPTEST_CASES` sets the cases per property (default 256; a few seconds in all).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Map, Value};

use gemini_gateway::surfaces::anthropic::validate::{is_standard_base64, MAX_JSON_DEPTH};
use gemini_gateway::surfaces::anthropic::{
    from_generate_content, parse_count_tokens_request, parse_messages_request, resolve_model,
    to_count_tokens, to_generate_content, AnthropicError, ErrorType, ModelMap, StreamTranslator,
    TranslateOptions,
};
use gemini_gateway::surfaces::gemini::{check_json_body, BodyCheckError};
use gemini_gateway::upstream::sse::SseDecoder;
use gemini_gateway::upstream::wire::GenerateContentResponse;

const FIRST_TURN: &[u8] = include_bytes!("fixtures/anthropic/claude-code-first-turn.json");
const TOOL_RESULT_TURN: &[u8] =
    include_bytes!("fixtures/anthropic/claude-code-tool-result-turn.json");

fn config() -> ProptestConfig {
    // `default()` honours PROPTEST_CASES (256 when unset). No regression files in the tree.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ----- strategies ------------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "type",
    "text",
    "role",
    "content",
    "source",
    "data",
    "media_type",
    "url",
    "tool_use_id",
    "id",
    "name",
    "input",
    "is_error",
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "budget_tokens",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "metadata",
    "user_id",
    "signature",
    "title",
    "input_schema",
    "properties",
    "$ref",
    "$defs",
    "anyOf",
    "allOf",
    "items",
    "required",
    "output_config",
    "format",
    "schema",
    "effort",
    "display",
    "defer_loading",
    "candidates",
    "parts",
    "functionCall",
    "args",
    "finishReason",
    "usageMetadata",
    "thought",
    "thoughtSignature",
    "error",
    "code",
    "message",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "user",
    "assistant",
    "system",
    "robot",
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "search_result",
    "tool_reference",
    "base64",
    "url",
    "content",
    "file",
    "image/png",
    "image/jpg",
    "image/gif",
    "application/pdf",
    "iVBORw==",
    "not base64!",
    "t1",
    "t2",
    "Bash",
    "1tool",
    "two words",
    "claude-sonnet-4-5",
    "claude-3-5-haiku",
    "gemini-2.5-flash",
    "gemini-3-pro-preview",
    "gemini-2.0-flash",
    "gemini-x/../files",
    "gpt-4o",
    "enabled",
    "adaptive",
    "disabled",
    "auto",
    "any",
    "tool",
    "none",
    "gm1|fc|2.5|SIG",
    "gm1|t|3|c2ln",
    "gm1|fc||",
    "object",
    "string",
    "array",
    "#/$defs/a",
    "#",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "MALFORMED_FUNCTION_CALL",
    "low",
    "max",
    "json_schema",
    "omitted",
    "x-anthropic-billing-header: cc",
    "\u{2028}",
    "\u{0}",
    "é",
];

const MODELS: &[&str] = &[
    "claude-sonnet-4-5",
    "claude-3-5-haiku",
    "claude-opus-4-1",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3-flash-preview",
    "gemini-2.0-flash",
    "gemini-flash-latest",
    "gpt-4o",
];

fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(STRINGS).prop_map(str::to_owned),
        2 => prop::collection::vec(prop::char::range('a', 'z'), 0..8)
            .prop_map(|v| v.into_iter().collect()),
        1 => any::<String>(),
    ]
    .boxed()
}

fn arb_number() -> BoxedStrategy<Value> {
    prop_oneof![
        select(vec![
            0i64,
            1,
            -1,
            2,
            5,
            1024,
            i64::from(i32::MAX),
            i64::from(u32::MAX) + 1
        ])
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        select(vec![0.5f64, 1.5, 2.5, -0.0, 1e300]).prop_map(Value::from),
    ]
    .boxed()
}

fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![3 => select(KEYS).prop_map(str::to_owned), 1 => arb_string()],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

fn arb_base64() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 1..16)
            .prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        1 => prop::collection::vec(any::<u8>(), 1..16)
            .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
        1 => arb_string(),
    ]
    .boxed()
}

fn arb_media_type() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(vec!["image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp",
            "application/pdf"]).prop_map(str::to_owned),
        1 => arb_string(),
    ]
    .boxed()
}

fn arb_source() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => (arb_media_type(), arb_base64())
            .prop_map(|(m, d)| json!({"type": "base64", "media_type": m, "data": d})),
        2 => prop_oneof![Just("https://x.test/a.png".to_owned()), arb_string()]
            .prop_map(|u| json!({"type": "url", "url": u})),
        2 => arb_string().prop_map(|d| json!({"type": "text", "media_type": "text/plain", "data": d})),
        1 => Just(json!({"type": "file", "file_id": "file_1"})),
        1 => arb_json(),
    ]
    .boxed()
}

fn opt<T: std::fmt::Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    prop::option::weighted(0.5, s).boxed()
}

fn arb_block() -> BoxedStrategy<Value> {
    let ids = || {
        prop_oneof![
            20 => select(vec!["t1", "t2", "t3"]),
            1 => select(vec!["", "toolu_unknown"]),
        ]
        .prop_map(str::to_owned)
    };
    let names = || {
        prop_oneof![
            8 => select(vec!["Bash", "Read", "1tool", "mcp__s__t"]).prop_map(str::to_owned),
            1 => arb_string(),
        ]
    };
    let args = || {
        prop_oneof![
            6 => Just(json!({})),
            6 => arb_json().prop_map(|v| json!({"a": v})),
            1 => arb_json(),
        ]
    };
    let leaf = prop_oneof![
        24 => arb_string().prop_map(|t| json!({"type": "text", "text": t})),
        6 => arb_source().prop_map(|s| json!({"type": "image", "source": s})),
        4 => (arb_source(), opt(arb_string()))
            .prop_map(|(s, t)| json!({"type": "document", "source": s, "title": t})),
        6 => (ids(), names(), args())
            .prop_map(|(id, n, i)| json!({"type": "tool_use", "id": id, "name": n, "input": i})),
        2 => (arb_string(), select(STRINGS).prop_map(str::to_owned))
            .prop_map(|(t, s)| json!({"type": "thinking", "thinking": t, "signature": s})),
        1 => arb_string().prop_map(|n| json!({"type": "tool_reference", "tool_name": n})),
        1 => Just(json!({"type": "redacted_thinking", "data": "x"})),
        1 => arb_json().prop_map(|v| json!({"type": "text", "text": v})),
        1 => arb_json(),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            6 => (
                ids(),
                prop_oneof![
                    arb_string().prop_map(Value::String),
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                ],
                opt(any::<bool>().boxed())
            )
                .prop_map(|(id, c, e)| json!({"type": "tool_result", "tool_use_id": id,
                    "content": c, "is_error": e})),
            1 => prop::collection::vec(inner.clone(), 0..3).prop_map(|c| json!({"type": "document",
                "source": {"type": "content", "content": c}})),
            1 => prop::collection::vec(inner, 0..3).prop_map(|c| json!({"type": "search_result",
                "source": "s", "title": "t", "content": c})),
        ]
    })
    .boxed()
}

fn arb_messages() -> BoxedStrategy<Value> {
    let content = prop_oneof![
        1 => arb_string().prop_map(Value::String),
        3 => prop::collection::vec(arb_block(), 0..5).prop_map(Value::Array),
    ];
    let role = prop_oneof![
        8 => Just("user"),
        8 => Just("assistant"),
        1 => Just("system"),
        1 => Just("tool"),
    ];
    prop::collection::vec(
        (role, content).prop_map(|(r, c)| json!({"role": r, "content": c})),
        1..7,
    )
    .prop_map(Value::Array)
    .boxed()
}

/// A well-formed conversation: user turns, assistant turns with text, thinking and tool calls
/// (unique ids), and user turns answering some of those calls (in any order) plus text and media.
fn arb_conversation() -> BoxedStrategy<Value> {
    let user_extra = prop_oneof![
        4 => arb_string().prop_map(|t| json!({"type": "text", "text": t})),
        1 => arb_source().prop_map(|s| json!({"type": "image", "source": s})),
        1 => arb_source().prop_map(|s| json!({"type": "document", "source": s})),
    ]
    .boxed();
    let exchange = (
        opt(select(STRINGS).prop_map(str::to_owned).boxed()),
        opt(arb_string()),
        prop::collection::vec(
            (
                select(vec!["Bash", "Read", "1tool", "mcp__s__t"]),
                prop_oneof![4 => Just(json!({})), 4 => arb_json().prop_map(|v| json!({"a": v})), 1 => arb_json()],
            ),
            0..4,
        ),
        prop::collection::vec((any::<Index>(), any::<bool>(), opt(arb_block())), 0..4),
        prop::collection::vec(user_extra.clone(), 0..3),
    );
    (
        prop::collection::vec(user_extra, 1..3),
        prop::collection::vec(exchange, 0..4),
        any::<bool>(),
    )
        .prop_map(|(first, exchanges, prefill)| {
            let mut messages = vec![json!({"role": "user", "content": first})];
            for (x, (signature, text, calls, answers, extra)) in exchanges.into_iter().enumerate() {
                let mut assistant = Vec::new();
                if let Some(sig) = signature {
                    assistant.push(json!({"type": "thinking", "thinking": "", "signature": sig}));
                }
                if let Some(t) = text {
                    assistant.push(json!({"type": "text", "text": t}));
                }
                let ids: Vec<String> = (0..calls.len()).map(|j| format!("t{x}_{j}")).collect();
                for ((name, input), id) in calls.into_iter().zip(&ids) {
                    assistant
                        .push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
                }
                messages.push(json!({"role": "assistant", "content": assistant}));
                let mut user = Vec::new();
                if !ids.is_empty() {
                    for (pick, is_error, content) in answers {
                        let mut r = json!({"type": "tool_result", "tool_use_id": pick.get(&ids),
                            "is_error": is_error});
                        if let Some(c) = content {
                            r["content"] = json!([c]);
                        }
                        user.push(r);
                    }
                }
                user.extend(extra);
                messages.push(json!({"role": "user", "content": user}));
            }
            if prefill {
                messages.push(json!({"role": "assistant", "content": "{"}));
            }
            Value::Array(messages)
        })
        .boxed()
}

fn arb_tool() -> BoxedStrategy<Value> {
    let name = || {
        prop_oneof![
            8 => select(vec!["Bash", "Read", "1tool", "mcp__s__t"]).prop_map(str::to_owned),
            1 => arb_string(),
        ]
    };
    prop_oneof![
        1 => (name(), opt(arb_string()), arb_json(), opt(any::<bool>().boxed()))
            .prop_map(|(n, d, s, defer)| json!({"name": n, "description": d,
                "input_schema": s, "defer_loading": defer})),
        6 => (name(), arb_json(), opt(any::<bool>().boxed())).prop_map(|(n, p, defer)| json!({"name": n,
            "input_schema": {"type": "object", "properties": {"a": p, "b": {"$ref": "#/$defs/x"}},
                "required": ["a", "zz"], "$defs": {"x": p}},
            "defer_loading": defer})),
        1 => Just(json!({"type": "web_search_20250305", "name": "web_search"})),
    ]
    .boxed()
}

/// An Anthropic-shaped request: the right field names with values that are often right.
fn arb_request() -> BoxedStrategy<Value> {
    let model = prop_oneof![4 => select(MODELS).prop_map(str::to_owned), 1 => arb_string()];
    let max_tokens = prop_oneof![
        30 => (1u32..70_000).prop_map(Value::from),
        1 => arb_number(),
        1 => arb_json(),
    ];
    let rarely = |valid: BoxedStrategy<Value>| {
        prop::option::weighted(
            0.5,
            prop_oneof![12 => valid, 1 => arb_number(), 1 => arb_json()],
        )
        .boxed()
    };
    let head = (
        model,
        max_tokens,
        prop_oneof![1 => arb_messages(), 3 => arb_conversation()],
        opt(prop_oneof![
            arb_string().prop_map(Value::String),
            prop::collection::vec(arb_block(), 0..3).prop_map(Value::Array),
        ]
        .boxed()),
        opt(prop::collection::vec(arb_tool(), 0..4).boxed()),
        rarely(
            prop_oneof![
                select(vec!["auto", "any", "none"]).prop_map(|t| json!({"type": t})),
                select(vec!["Bash", "Read", "1tool", "Nope"])
                    .prop_map(|n| json!({"type": "tool", "name": n})),
            ]
            .boxed(),
        ),
    );
    let tail = (
        rarely(
            prop_oneof![
                (
                    any::<u32>(),
                    opt(select(vec!["omitted", "summarized"])
                        .prop_map(str::to_owned)
                        .boxed())
                )
                    .prop_map(
                        |(b, d)| json!({"type": "enabled", "budget_tokens": b, "display": d})
                    ),
                Just(json!({"type": "adaptive"})),
                Just(json!({"type": "disabled"})),
            ]
            .boxed(),
        ),
        rarely((0.0f64..=2.0).prop_map(Value::from).boxed()),
        rarely((0.0f64..=1.0).prop_map(Value::from).boxed()),
        rarely(
            prop_oneof![8 => 0u32..100, 1 => any::<u32>()]
                .prop_map(Value::from)
                .boxed(),
        ),
        opt(prop::collection::vec(arb_string(), 0..8).boxed()),
        rarely(
            prop_oneof![
                select(vec!["low", "medium", "high", "max", "odd"])
                    .prop_map(|e| json!({"effort": e})),
                arb_json().prop_map(|s| json!({"format": {"type": "json_schema", "schema": s}})),
            ]
            .boxed(),
        ),
        opt(any::<bool>().boxed()),
    );
    (head, tail)
        .prop_map(
            |(
                (model, max_tokens, messages, system, tools, tool_choice),
                (thinking, temperature, top_p, top_k, stop, output_config, stream),
            )| {
                let mut o = Map::new();
                o.insert("model".into(), Value::String(model));
                o.insert("max_tokens".into(), max_tokens);
                o.insert("messages".into(), messages);
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        o.insert(k.into(), v);
                    }
                };
                put("system", system);
                put("tools", tools.map(Value::Array));
                put("tool_choice", tool_choice);
                put("thinking", thinking);
                put("temperature", temperature);
                put("top_p", top_p);
                put("top_k", top_k);
                put("stop_sequences", stop.map(|s| json!(s)));
                put("metadata", Some(json!({"user_id": "u"})));
                put("output_config", output_config);
                put("stream", stream.map(Value::Bool));
                Value::Object(o)
            },
        )
        .boxed()
}

/// Every path (as indices into arrays/objects) of `v`, the root included.
fn paths(v: &Value, here: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(here.clone());
    let children: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        _ => return,
    };
    for (i, c) in children.into_iter().enumerate() {
        here.push(i);
        paths(c, here, out);
        here.pop();
    }
}

fn at_mut<'a>(v: &'a mut Value, path: &[usize]) -> &'a mut Value {
    match path.split_first() {
        None => v,
        Some((&i, rest)) => match v {
            Value::Array(a) => at_mut(&mut a[i], rest),
            Value::Object(o) => at_mut(o.values_mut().nth(i).unwrap(), rest),
            _ => unreachable!(),
        },
    }
}

/// Drop the value at a random path (from its parent) or replace it with `with`.
fn mutate(mut v: Value, pick: &Index, drop: bool, with: Value) -> Value {
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    let path = pick.get(&all).clone();
    match path.split_last() {
        Some((&last, parent)) if drop => match at_mut(&mut v, parent) {
            Value::Array(a) => {
                a.remove(last);
            }
            Value::Object(o) => {
                let key = o.keys().nth(last).unwrap().clone();
                o.remove(&key);
            }
            _ => unreachable!(),
        },
        _ => *at_mut(&mut v, &path) = with,
    }
    v
}

fn fixture_value(first: bool) -> Value {
    serde_json::from_slice(if first { FIRST_TURN } else { TOOL_RESULT_TURN }).unwrap()
}

/// Byte-level damage to a fixture.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(Index),
    Flip(Vec<(Index, u8)>),
    Insert(Index, Vec<u8>),
}

fn arb_damage() -> BoxedStrategy<Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        prop::collection::vec((any::<Index>(), any::<u8>()), 1..8).prop_map(Damage::Flip),
        (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                select(vec![
                    b"[[[[".to_vec(),
                    b"\"".to_vec(),
                    b"\\".to_vec(),
                    b"\xff".to_vec(),
                    b"\xc3".to_vec(),
                    b",".to_vec(),
                    b"}".to_vec(),
                    b"null".to_vec(),
                    b"-1".to_vec(),
                    b"1e999".to_vec(),
                ])
            ]
        )
            .prop_map(|(i, b)| Damage::Insert(i, b)),
    ]
    .boxed()
}

fn damage(bytes: &[u8], d: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match d {
        Damage::Truncate(i) => out.truncate(i.index(bytes.len())),
        Damage::Flip(flips) => {
            for (i, b) in flips {
                let at = i.index(out.len());
                out[at] ^= b | 1;
            }
        }
        Damage::Insert(i, b) => {
            let at = i.index(out.len() + 1);
            out.splice(at..at, b.iter().copied());
        }
    }
    out
}

// ----- what must hold --------------------------------------------------------------------------

fn opts(limit: Option<u32>) -> TranslateOptions {
    TranslateOptions {
        models: ModelMap {
            big: "gemini-2.5-pro".into(),
            small: "gemini-2.5-flash".into(),
        },
        max_tokens_limit: limit,
    }
}

/// A client error: 4xx, Anthropic's shape, a message, bounded.
fn assert_client_error(e: &AnthropicError) {
    assert!((400..500).contains(&e.status()), "{e:?}");
    assert_eq!(e.kind(), ErrorType::InvalidRequest, "{e:?}");
    let body = e.body();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert!(
        message.len() < 4_000,
        "error message of {} bytes",
        message.len()
    );
}

fn is_valid_function_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// The rules Gemini applies to a request's contents (those the strict mock enforces and that
/// do not depend on server state), for anything the translation accepted.
fn assert_upstream_shape(g: &Value) {
    let contents = g["contents"].as_array().expect("contents");
    assert!(!contents.is_empty(), "{g}");
    for (i, c) in contents.iter().enumerate() {
        let role = c["role"].as_str().unwrap();
        assert!(role == "user" || role == "model", "{c}");
        if i > 0 {
            assert_ne!(contents[i - 1]["role"], c["role"], "roles alternate");
        }
        let parts = c["parts"].as_array().unwrap();
        assert!(!parts.is_empty(), "empty parts in {c}");
        for p in parts {
            assert_part(p);
        }
        let calls: Vec<&Value> = parts.iter().filter_map(|p| p.get("functionCall")).collect();
        let responses: Vec<&Value> = parts
            .iter()
            .filter_map(|p| p.get("functionResponse"))
            .collect();
        if !calls.is_empty() {
            assert!(i > 0, "a function-call turn opens the conversation: {g}");
            let next = contents.get(i + 1).expect("calls answered");
            let answered: Vec<&Value> = next["parts"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p.get("functionResponse"))
                .collect();
            assert_eq!(answered.len(), calls.len(), "{g}");
            for r in answered {
                assert!(calls.iter().any(|c| c["name"] == r["name"]), "{g}");
            }
        }
        if !responses.is_empty() {
            let prev = &contents[i - 1];
            assert!(
                prev["parts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p.get("functionCall").is_some()),
                "{g}"
            );
        }
    }
    if let Some(system) = g.get("systemInstruction") {
        for p in system["parts"].as_array().unwrap() {
            assert!(!p["text"].as_str().unwrap().is_empty());
        }
    }
    if let Some(config) = g.get("generationConfig") {
        if let Some(m) = config.get("maxOutputTokens") {
            assert!((1..=65_536).contains(&m.as_u64().unwrap()), "{config}");
        }
        if let Some(t) = config.get("temperature") {
            assert!((0.0..=2.0).contains(&t.as_f64().unwrap()));
        }
        if let Some(t) = config.get("topP") {
            assert!((0.0..=1.0).contains(&t.as_f64().unwrap()));
        }
        if let Some(k) = config.get("topK") {
            assert!(k.as_i64().unwrap() >= 0 && k.as_i64().unwrap() <= i64::from(i32::MAX));
        }
        if let Some(s) = config.get("stopSequences") {
            let s = s.as_array().unwrap();
            assert!(s.len() <= 5 && s.iter().all(|x| !x.as_str().unwrap().is_empty()));
        }
    }
    for tool in g["tools"].as_array().into_iter().flatten() {
        for d in tool["functionDeclarations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = d["name"].as_str().unwrap();
            assert!(is_valid_function_name(name), "{name:?}");
            assert!(!(d.get("parameters").is_some() && d.get("parametersJsonSchema").is_some()));
        }
    }
}

fn assert_part(p: &Value) {
    const DATA: &[&str] = &[
        "text",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
    ];
    let fields: Vec<&&str> = DATA.iter().filter(|f| p.get(**f).is_some()).collect();
    assert_eq!(fields.len(), 1, "one data field per part: {p}");
    if let Some(t) = p.get("text") {
        assert!(
            !t.as_str().unwrap().is_empty() || p.get("thoughtSignature").is_some(),
            "{p}"
        );
    }
    if let Some(b) = p.get("inlineData") {
        assert!(!b["mimeType"].as_str().unwrap().trim().is_empty(), "{p}");
        let data = b["data"].as_str().unwrap();
        assert!(!data.is_empty(), "{p}");
        assert!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_ok(),
            "{p}"
        );
    }
    if let Some(f) = p.get("fileData") {
        assert!(!f["fileUri"].as_str().unwrap().trim().is_empty(), "{p}");
    }
    if let Some(c) = p.get("functionCall") {
        assert!(!c["name"].as_str().unwrap().is_empty(), "{p}");
        assert!(c.get("args").is_none_or(Value::is_object), "{p}");
    }
    if let Some(r) = p.get("functionResponse") {
        assert!(!r["name"].as_str().unwrap().is_empty(), "{p}");
        assert!(r["response"].is_object(), "{p}");
    }
}

/// Parse, resolve and translate `body` both ways (`/v1/messages` and `count_tokens`): every
/// failure is a client error, every success has the upstream's shape.
fn exercise_anthropic(body: &[u8], limit: Option<u32>) {
    let opts = opts(limit);
    for messages_endpoint in [true, false] {
        let parsed = if messages_endpoint {
            parse_messages_request(body)
        } else {
            parse_count_tokens_request(body)
        };
        let req = match parsed {
            Ok(r) => r,
            Err(e) => {
                assert_client_error(&e);
                continue;
            }
        };
        let model = match resolve_model(&req.model, &opts.models) {
            Ok(m) => m,
            Err(e) => {
                assert_client_error(&e);
                continue;
            }
        };
        if messages_endpoint {
            match to_generate_content(&req, &model, &opts) {
                Ok(g) => assert_upstream_shape(&serde_json::to_value(&g).unwrap()),
                Err(e) => assert_client_error(&e),
            }
        } else {
            match to_count_tokens(&req, &model, &opts) {
                Ok(c) => {
                    let v = serde_json::to_value(&c).unwrap();
                    assert_upstream_shape(&v["generateContentRequest"]);
                }
                Err(e) => assert_client_error(&e),
            }
        }
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The native check agrees with serde_json: it accepts exactly the JSON objects nested at most
/// `MAX_JSON_DEPTH` deep (serde_json's own limit, 128, is the only other bound).
fn exercise_native(body: &[u8]) {
    let got = check_json_body(body);
    let reference = serde_json::from_slice::<Value>(body);
    match (&got, &reference) {
        (Ok(()), Ok(v)) => {
            assert!(v.is_object());
            assert!(depth(v) <= MAX_JSON_DEPTH);
        }
        (Ok(()), Err(e)) => panic!("accepted what serde_json refuses: {e}"),
        (Err(BodyCheckError::NotAnObject), Ok(v)) => assert!(!v.is_object()),
        (Err(BodyCheckError::TooDeep), Ok(v)) => assert!(depth(v) > MAX_JSON_DEPTH),
        (Err(BodyCheckError::TooDeep), Err(_)) => {}
        (Err(BodyCheckError::Empty), Err(_)) => {
            assert!(body.iter().all(u8::is_ascii_whitespace))
        }
        (Err(BodyCheckError::Syntax(_)), Err(_)) => {}
        (Err(e), Ok(v)) => panic!("refused {v} with {e:?}"),
        (Err(BodyCheckError::NotAnObject), Err(e)) => panic!("not an object, yet invalid: {e}"),
    }
    if let Err(e) = got {
        let message = e.to_string();
        assert!(message.starts_with("Invalid JSON payload received."));
        assert!(message.len() < 1_000);
    }
}

// ----- Anthropic Messages: parse + translate --------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_json_is_refused_or_translated(v in arb_json()) {
        exercise_anthropic(v.to_string().as_bytes(), None);
    }

    #[test]
    fn anthropic_shaped_requests_are_refused_or_translated(
        req in arb_request(),
        mutation in (any::<Index>(), any::<bool>(), arb_json(), any::<bool>()),
        limit in opt((1u32..100_000).boxed()),
    ) {
        exercise_anthropic(req.to_string().as_bytes(), limit);
        let (pick, drop, with, apply) = mutation;
        if apply {
            exercise_anthropic(mutate(req, &pick, drop, with).to_string().as_bytes(), limit);
        }
    }

    #[test]
    fn mutated_claude_code_fixtures_are_refused_or_translated(
        first in any::<bool>(),
        mutations in prop::collection::vec((any::<Index>(), any::<bool>(), arb_json()), 1..4),
    ) {
        let mut v = fixture_value(first);
        for (pick, drop, with) in mutations {
            v = mutate(v, &pick, drop, with);
        }
        exercise_anthropic(v.to_string().as_bytes(), None);
    }

    #[test]
    fn damaged_claude_code_fixture_bytes_are_refused_or_translated(
        first in any::<bool>(),
        d in arb_damage(),
    ) {
        let raw = if first { FIRST_TURN } else { TOOL_RESULT_TURN };
        exercise_anthropic(&damage(raw, &d), None);
    }

    #[test]
    fn arbitrary_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        exercise_anthropic(&bytes, None);
    }

    #[test]
    fn base64_check_is_the_standard_engine(
        s in prop_oneof![
            prop::collection::vec(
                select(vec!['A', 'Q', 'g', 'w', 'z', '0', '9', '+', '/', '=', '-', '_', ' ', '\n', 'é']),
                0..14,
            )
            .prop_map(|v| v.into_iter().collect::<String>()),
            prop::collection::vec(any::<u8>(), 0..20)
                .prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            any::<String>(),
        ]
    ) {
        prop_assert_eq!(
            is_standard_base64(&s),
            base64::engine::general_purpose::STANDARD.decode(&s).is_ok(),
            "{:?}", s
        );
    }
}

// ----- Gemini answers: non-streaming and stream translation ------------------------------------

fn arb_part() -> BoxedStrategy<Value> {
    let sig = || {
        opt(select(vec!["SIG", "", "c2ln"])
            .prop_map(str::to_owned)
            .boxed())
    };
    prop_oneof![
        4 => (arb_string(), opt(any::<bool>().boxed()), sig())
            .prop_map(|(t, th, s)| json!({"text": t, "thought": th, "thoughtSignature": s})),
        2 => (arb_string(), prop_oneof![Just(Value::Null), Just(json!({})), arb_json()], sig())
            .prop_map(|(n, a, s)| json!({"functionCall": {"name": n, "args": a}, "thoughtSignature": s})),
        1 => Just(json!({"inlineData": {"mimeType": "image/png", "data": "AAAA"}})),
        1 => Just(json!({"executableCode": {"language": "PYTHON", "code": "1"}})),
        1 => arb_json(),
    ]
    .boxed()
}

fn arb_chunk() -> BoxedStrategy<Value> {
    let finish = prop_oneof![
        select(vec![
            "STOP",
            "MAX_TOKENS",
            "SAFETY",
            "RECITATION",
            "MALFORMED_FUNCTION_CALL",
            "UNEXPECTED_TOOL_CALL",
            "OTHER",
            "IMAGE_SAFETY",
            "CONTINUATION",
            "",
        ])
        .prop_map(str::to_owned),
        arb_string(),
    ];
    let candidate = (
        opt(prop::collection::vec(arb_part(), 0..5).boxed()),
        opt(finish.boxed()),
        opt(arb_string()),
    )
        .prop_map(|(parts, f, m)| {
            let mut c = json!({"finishReason": f, "finishMessage": m});
            if let Some(parts) = parts {
                c["content"] = json!({"role": "model", "parts": parts});
            }
            c
        });
    let usage = (
        opt(any::<u64>().boxed()),
        opt(any::<u64>().boxed()),
        opt(any::<u64>().boxed()),
        opt(any::<u64>().boxed()),
    )
        .prop_map(|(p, c, o, t)| {
            json!({"promptTokenCount": p, "cachedContentTokenCount": c,
            "candidatesTokenCount": o, "thoughtsTokenCount": t})
        });
    (
        prop::collection::vec(candidate, 0..3),
        opt(usage.boxed()),
        opt(select(vec!["gemini-2.5-flash", "gemini-3-pro-preview", ""])
            .prop_map(str::to_owned)
            .boxed()),
        opt(opt(arb_string())
            .prop_map(|r| json!({"blockReason": r}))
            .boxed()),
        opt((any::<u16>(), arb_string())
            .prop_map(|(c, m)| json!({"code": c, "message": m}))
            .boxed()),
        0u8..10,
    )
        .prop_map(|(candidates, usage, model, feedback, error, noise)| {
            let mut o = json!({"candidates": candidates, "usageMetadata": usage,
                "modelVersion": model, "promptFeedback": feedback});
            // Errors are rare in real streams.
            if noise == 0 {
                o["error"] = error.unwrap_or(Value::Null);
            }
            o
        })
        .boxed()
}

fn parse_chunk(v: &Value) -> Option<GenerateContentResponse> {
    serde_json::from_value(v.clone()).ok()
}

/// Checks the Anthropic event sequence: `message_start` first (an `error` may come alone),
/// contiguous block indices, one open block at a time, deltas to the open block, nothing after
/// `message_stop` / `error`; a finished stream ends with one of them.
fn assert_anthropic_events(out: &[u8], finished: bool) {
    let text = std::str::from_utf8(out).expect("UTF-8 events");
    let (mut started, mut ended, mut delta_seen) = (false, false, false);
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    for ev in text.split_terminator("\n\n") {
        let mut lines = ev.lines();
        let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
        let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
        assert!(lines.next().is_none(), "one data line: {ev}");
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"], name);
        assert!(!ended, "event after the end: {text}");
        let index = v["index"].as_u64();
        match name {
            "message_start" => {
                assert!(!started);
                started = true;
            }
            "ping" => {}
            "error" => {
                assert!(v["error"]["message"].is_string());
                ended = true;
            }
            "content_block_start" => {
                assert!(started && open.is_none(), "{text}");
                assert_eq!(index, Some(next), "{text}");
                open = index;
            }
            "content_block_delta" => assert_eq!(open, index, "{text}"),
            "content_block_stop" => {
                assert_eq!(open, index, "{text}");
                open = None;
                next += 1;
            }
            "message_delta" => {
                assert!(started && open.is_none(), "{text}");
                delta_seen = true;
            }
            "message_stop" => {
                assert!(delta_seen);
                ended = true;
            }
            other => panic!("unknown event {other}"),
        }
    }
    if finished {
        assert!(ended, "a finished stream has an ending: {text}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gemini_answers_translate_or_fail_cleanly(chunk in arb_chunk()) {
        if let Some(resp) = parse_chunk(&chunk) {
            match from_generate_content(&resp, "claude-sonnet-4-5") {
                Ok(msg) => {
                    let v = serde_json::to_value(&msg).unwrap();
                    prop_assert_eq!(&v["type"], "message");
                    prop_assert!(v["stop_reason"].is_string());
                }
                Err(e) => {
                    prop_assert!(e.status() >= 500, "{:?}", e);
                    prop_assert_eq!(&e.body()["type"], "error");
                }
            }
        }
    }

    #[test]
    fn arbitrary_values_as_gemini_answers_never_panic(v in arb_json()) {
        if let Some(resp) = parse_chunk(&v) {
            let _ = from_generate_content(&resp, "m");
            let mut t = StreamTranslator::new("m");
            let mut out = Vec::new();
            t.on_chunk(&resp, &mut out);
            let _ = t.finish(&mut out);
            assert_anthropic_events(&out, true);
        }
    }

    #[test]
    fn stream_translation_keeps_anthropics_event_grammar(
        chunks in prop::collection::vec(arb_chunk(), 0..6),
        early_start in any::<bool>(),
        fail_at in opt((0usize..8).boxed()),
    ) {
        let mut t = StreamTranslator::new("claude-sonnet-4-5");
        let mut out = Vec::new();
        if early_start {
            t.start(&mut out);
        }
        for (i, c) in chunks.iter().enumerate() {
            if fail_at == Some(i) {
                t.fail(ErrorType::Overloaded, "broken", &mut out);
            }
            if let Some(resp) = parse_chunk(c) {
                t.on_chunk(&resp, &mut out);
            }
            assert_anthropic_events(&out, false);
        }
        if !t.is_finished() {
            let _ = t.finish(&mut out);
        }
        prop_assert!(t.is_finished());
        assert_anthropic_events(&out, true);
        // Nothing more once ended.
        let len = out.len();
        t.on_chunk(&GenerateContentResponse::default(), &mut out);
        t.fail(ErrorType::Api, "late", &mut out);
        prop_assert_eq!(out.len(), len);
    }
}

// ----- SSE decoding ------------------------------------------------------------------------------

/// Events (or the first error) of `input` fed in the pieces `cuts` make.
fn decode(input: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut dec = SseDecoder::new(max);
    let mut events = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.sort_unstable();
    bounds.push(input.len());
    for b in bounds {
        dec.push(&input[at..b]);
        at = b;
        while let Some(e) = dec.next_event().map_err(|e| e.to_string())? {
            events.push(e);
        }
    }
    while let Some(e) = dec.finish().map_err(|e| e.to_string())? {
        events.push(e);
    }
    Ok(events)
}

fn arb_sse_bytes() -> BoxedStrategy<Vec<u8>> {
    let token = prop_oneof![
        select(vec![
            &b"data: "[..],
            b"data:",
            b"data",
            b"\r\n",
            b"\r",
            b"\n",
            b"\r\n\r\n",
            b": ping",
            b"event: x",
            b"id: 1",
            b"{\"candidates\":[]}",
            b"\xe2\x80\xa8",
            b"\xc3",
            b" ",
        ])
        .prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 1..6),
    ];
    prop::collection::vec(token, 0..24)
        .prop_map(|ts| ts.concat())
        .boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sse_events_do_not_depend_on_where_the_bytes_are_split(
        input in arb_sse_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = decode(&input, &[], 1 << 20).unwrap();
        let split = decode(&input, &cuts, 1 << 20).unwrap();
        prop_assert_eq!(&whole, &split);
        let byte_by_byte: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(&whole, &decode(&input, &byte_by_byte, 1 << 20).unwrap());
    }

    #[test]
    fn sse_limits_hold_on_arbitrary_bytes(
        input in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        max in 0usize..64,
    ) {
        if let Ok(events) = decode(&input, &cuts, max) {
            for e in events {
                prop_assert!(e.len() <= max);
            }
        }
    }

    /// The relay's pipeline without the network: bytes → SSE events → chunks → Anthropic events.
    #[test]
    fn sse_bytes_through_the_stream_translator(
        chunks in prop::collection::vec(arb_chunk(), 0..5),
        garbage in arb_sse_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut input = Vec::new();
        for c in &chunks {
            input.extend_from_slice(b"data: ");
            input.extend_from_slice(c.to_string().as_bytes());
            input.extend_from_slice(b"\r\n\r\n");
        }
        input.extend_from_slice(&garbage);
        let mut t = StreamTranslator::new("claude-sonnet-4-5");
        let mut out = Vec::new();
        match decode(&input, &cuts, 1 << 20) {
            Ok(events) => {
                for e in events {
                    match serde_json::from_slice::<GenerateContentResponse>(&e) {
                        Ok(chunk) => t.on_chunk(&chunk, &mut out),
                        Err(err) => {
                            t.start(&mut out);
                            t.fail(ErrorType::Api, &err.to_string(), &mut out);
                        }
                    }
                }
            }
            Err(e) => t.fail(ErrorType::Api, &e, &mut out),
        }
        if !t.is_finished() {
            let _ = t.finish(&mut out);
        }
        assert_anthropic_events(&out, true);
    }
}

// ----- the native surface's body check ----------------------------------------------------------

fn nest(levels: usize, leaf: &str) -> String {
    let mut s = leaf.to_owned();
    for i in 0..levels {
        s = if i % 2 == 0 {
            format!("[{s}]")
        } else {
            format!("{{\"k\":{s}}}")
        };
    }
    s
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn native_check_agrees_with_serde_json_on_json(v in arb_json(), wrap in any::<bool>()) {
        let body = if wrap { json!({"contents": v}).to_string() } else { v.to_string() };
        exercise_native(body.as_bytes());
    }

    #[test]
    fn native_check_agrees_with_serde_json_on_deep_values(levels in 55usize..140) {
        exercise_native(format!("{{\"a\":{}}}", nest(levels, "1")).as_bytes());
    }

    #[test]
    fn native_check_on_damaged_and_random_bytes(
        first in any::<bool>(),
        d in arb_damage(),
        bytes in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let raw = if first { FIRST_TURN } else { TOOL_RESULT_TURN };
        exercise_native(&damage(raw, &d));
        exercise_native(&bytes);
    }
}
