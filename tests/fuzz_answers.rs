//! Property tests of the answer side: arbitrary Gemini response chunks through the non-streaming
//! and stream translators, and arbitrary SSE byte streams split anywhere through the decoder,
//! never panic, and what comes out is well-formed Anthropic output. Strategies: `fuzz/mod.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fuzz;

use fuzz::*;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use gemini_gateway::surfaces::anthropic::{from_generate_content, ErrorType, StreamTranslator};
use gemini_gateway::upstream::sse::SseDecoder;
use gemini_gateway::upstream::wire::GenerateContentResponse;

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
        opt(
            select(vec!["gemini-3.8-flash", "gemini-3.1-pro-preview", ""])
                .prop_map(str::to_owned)
                .boxed(),
        ),
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
