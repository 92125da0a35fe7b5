//! What the property tests are made of: the captured Claude Code requests, strategies for
//! arbitrary JSON, Anthropic-shaped requests and byte-level damage, and the proptest config.
//! `PROPTEST_CASES` sets the cases per property (default 256).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Map, Value};

pub mod damage;

pub const FIRST_TURN: &[u8] = include_bytes!("../fixtures/anthropic/claude-code-first-turn.json");
pub const TOOL_RESULT_TURN: &[u8] =
    include_bytes!("../fixtures/anthropic/claude-code-tool-result-turn.json");

pub fn config() -> ProptestConfig {
    // `default()` honours PROPTEST_CASES (256 when unset). No regression files in the tree.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ----- strategies ------------------------------------------------------------------------------

pub const KEYS: &[&str] = &[
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

pub const STRINGS: &[&str] = &[
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
    "gemini-3.8-flash",
    "gemini-4-argon",
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

pub const MODELS: &[&str] = &[
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
    "gemini-3.8-flash",
    "gemini-3.1-pro-preview",
    "gemini-3.5-flash-lite",
    "gemini-4-argon",
    "gemini-4-hydrogen",
    "gpt-4o",
];

pub fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(STRINGS).prop_map(str::to_owned),
        2 => prop::collection::vec(prop::char::range('a', 'z'), 0..8)
            .prop_map(|v| v.into_iter().collect()),
        1 => any::<String>(),
    ]
    .boxed()
}

pub fn arb_number() -> BoxedStrategy<Value> {
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

pub fn arb_json() -> BoxedStrategy<Value> {
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

pub fn arb_base64() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 1..16)
            .prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        1 => prop::collection::vec(any::<u8>(), 1..16)
            .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
        1 => arb_string(),
    ]
    .boxed()
}

pub fn arb_media_type() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(vec!["image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp",
            "application/pdf"]).prop_map(str::to_owned),
        1 => arb_string(),
    ]
    .boxed()
}

pub fn arb_source() -> BoxedStrategy<Value> {
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

pub fn opt<T: std::fmt::Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    prop::option::weighted(0.5, s).boxed()
}

pub fn arb_block() -> BoxedStrategy<Value> {
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

pub fn arb_messages() -> BoxedStrategy<Value> {
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
pub fn arb_conversation() -> BoxedStrategy<Value> {
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

pub fn arb_tool() -> BoxedStrategy<Value> {
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
pub fn arb_request() -> BoxedStrategy<Value> {
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
