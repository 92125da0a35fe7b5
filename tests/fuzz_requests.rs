//! Property tests of the request side: the Anthropic parser and translator, and the native
//! surface's body check, never panic on hostile input, refuse it with a 4xx in the caller's shape,
//! and what they accept is shaped the way Gemini requires.
//!
//! Inputs: arbitrary JSON values, Anthropic-shaped requests built from the fields that matter
//! (and then mutated: a field dropped or replaced by anything), and the real Claude Code captures
//! in `tests/fixtures/anthropic/` mutated the same way or at the byte level (truncation, byte
//! flips, insertions). Strategies: `fuzz/mod.rs`; the answer side: `fuzz_answers.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fuzz;

use base64::Engine as _;
use fuzz::damage::*;
use fuzz::*;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};

use gemini_gateway::json::literal::sharing;
use gemini_gateway::models::{names, Naming};
use gemini_gateway::surfaces::anthropic::validate::{is_standard_base64, MAX_JSON_DEPTH};
use gemini_gateway::surfaces::anthropic::{
    claude_tier, parse_count_tokens_request, parse_messages_request, to_count_tokens,
    to_generate_content, AnthropicError, ErrorType, TranslateOptions,
};
use gemini_gateway::surfaces::gemini::{check_json_body, BodyCheckError};

// ----- what must hold --------------------------------------------------------------------------

fn opts(limit: Option<u32>) -> TranslateOptions {
    TranslateOptions {
        max_tokens_limit: limit,
        output_limit: None,
    }
}

/// Claude's tiers, as the gateway maps them by default before the catalog is read.
fn naming() -> Naming {
    Naming::default()
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
        let model = match names::resolve(&naming(), None, &req.model, claude_tier) {
            Ok(m) => m.model.to_string(),
            // A name no model serves is refused before any translation.
            Err(_) => continue,
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

    /// A conversation's long tool result, now and then with one flaw a parse must refuse (a
    /// control character, a bad or short escape, a lone surrogate, a bare quote, bytes that are
    /// not UTF-8): parsed from a shared body (the long text cut out and checked on its own) it
    /// reads exactly as parsed whole, refusals and their messages included.
    #[test]
    fn long_tool_results_read_the_same_cut_out_or_whole(
        pieces in prop::collection::vec(
            prop_oneof![
                300 => select(vec!["fn main() {", "\\n", "\\\"", "\\\\", "\\u00e9", "é", "    ", "x", "\\/", "\u{7f}", "\\\\u00"])
                    .prop_map(|piece| piece.as_bytes().to_vec()),
                // A surrogate pair (rarely: one has the literal read by serde_json as well).
                1 => Just(b"\\ud83d\\ude00".to_vec()),
                1 => select(vec![&b"\x01"[..], b"\t", b"\\x", b"\\u12", b"\\ud83d", b"\\ude00", b"\"", b"\xff", b"\xc3", b"\xed\xa0\x80"])
                    .prop_map(|piece| piece.to_vec()),
            ],
            100..300,
        ),
    ) {
        let mut raw = br#"{"model":"claude-sonnet-4-5","max_tokens":9,"messages":[{"role":"user","content":"read"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":""#.to_vec();
        raw.extend(pieces.concat());
        raw.extend_from_slice(br#""}]}]}"#);
        let body = bytes::Bytes::from(raw);
        let shared = sharing(&body, || parse_messages_request(&body));
        let whole = parse_messages_request(&body);
        prop_assert_eq!(format!("{shared:?}"), format!("{whole:?}"));
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
