//! Generation config, count_tokens, and hostile input.

use super::*;

// ----- generation config -----------------------------------------------------------------------

#[test]
fn max_tokens_is_clamped() {
    let msgs = json!([{"role": "user", "content": "x"}]);
    let with = |max: u32, model: &str, limit: Option<u32>| {
        let req = parse(json!({"model": "m", "max_tokens": max, "messages": msgs}));
        let opts = TranslateOptions {
            max_tokens_limit: limit,
            ..opts()
        };
        to_generate_content(&req, model, &opts)
            .unwrap()
            .generation_config
            .unwrap()
            .max_output_tokens
            .unwrap()
    };
    assert_eq!(with(128000, "gemini-2.5-pro", None), 65536);
    assert_eq!(with(128000, "gemini-3-pro-preview", None), 65536);
    assert_eq!(with(32000, "gemini-2.0-flash", None), 8192);
    assert_eq!(with(32000, "gemini-2.5-flash", Some(16384)), 16384);
    assert_eq!(with(512, "gemini-2.5-flash", Some(16384)), 512);
}

#[test]
fn sampling_and_stop_sequences() {
    let out = gemini(
        json!({"model": "m", "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["a", "", "b", "c", "d", "e", "f", "g"],
            "messages": [{"role": "user", "content": "x"}]}),
        "gemini-2.0-flash",
    );
    assert_eq!(
        out["generationConfig"],
        json!({"maxOutputTokens": 100, "temperature": 0.2, "topP": 0.9, "topK": 40,
            "stopSequences": ["a", "b", "c", "d", "e"]})
    );
}

#[test]
fn structured_output_format() {
    let out = gemini(
        json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}],
            "output_config": {"format": {"type": "json_schema", "schema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": 0}}}}}}),
        "gemini-2.5-flash",
    );
    assert_eq!(
        out["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        out["generationConfig"]["responseJsonSchema"],
        json!({"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}})
    );
}

fn thinking_for(thinking: Value, effort: Option<&str>, model: &str) -> Value {
    let mut b =
        json!({"model": "m", "max_tokens": 64000, "messages": [{"role": "user", "content": "x"}]});
    if !thinking.is_null() {
        b["thinking"] = thinking;
    }
    if let Some(e) = effort {
        b["output_config"] = json!({"effort": e});
    }
    gemini(b, model)["generationConfig"]
        .get("thinkingConfig")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn thinking_mapping_gemini_25() {
    let disabled = json!({"type": "disabled"});
    assert_eq!(
        thinking_for(Value::Null, None, "gemini-2.5-flash"),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        thinking_for(disabled.clone(), None, "gemini-2.5-flash-lite"),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        thinking_for(disabled, None, "gemini-2.5-pro"),
        json!({"thinkingBudget": 128}),
        "2.5 Pro cannot disable thinking"
    );
    let enabled = |b: u32| json!({"type": "enabled", "budget_tokens": b});
    assert_eq!(
        thinking_for(enabled(8000), None, "gemini-2.5-flash"),
        json!({"thinkingBudget": 8000, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(60000), None, "gemini-2.5-pro"),
        json!({"thinkingBudget": 32768, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(60000), None, "gemini-2.5-flash"),
        json!({"thinkingBudget": 24576, "includeThoughts": true})
    );
    let adaptive = json!({"type": "adaptive"});
    assert_eq!(
        thinking_for(adaptive.clone(), None, "gemini-2.5-pro"),
        json!({"thinkingBudget": -1, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(adaptive.clone(), Some("low"), "gemini-2.5-pro"),
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(adaptive, Some("max"), "gemini-2.5-flash"),
        json!({"thinkingBudget": 24576, "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(
            json!({"type": "adaptive", "display": "omitted"}),
            Some("medium"),
            "gemini-2.5-flash"
        ),
        json!({"thinkingBudget": 8192})
    );
}

#[test]
fn thinking_mapping_gemini_3_and_others() {
    assert_eq!(
        thinking_for(Value::Null, None, "gemini-3-pro-preview"),
        json!({"thinkingLevel": "LOW"})
    );
    assert_eq!(
        thinking_for(json!({"type": "disabled"}), None, "gemini-3-flash-preview"),
        json!({"thinkingLevel": "MINIMAL"})
    );
    let enabled = |b: u32| json!({"type": "enabled", "budget_tokens": b});
    assert_eq!(
        thinking_for(enabled(1024), None, "gemini-3-flash-preview"),
        json!({"thinkingLevel": "LOW", "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-3-flash-preview"),
        json!({"thinkingLevel": "MEDIUM", "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-3-pro-preview"),
        json!({"thinkingLevel": "HIGH", "includeThoughts": true})
    );
    assert_eq!(
        thinking_for(json!({"type": "adaptive"}), None, "gemini-3-pro-preview"),
        json!({"includeThoughts": true})
    );
    assert_eq!(
        thinking_for(
            json!({"type": "adaptive", "display": "omitted"}),
            Some("xhigh"),
            "gemini-3.1-pro"
        ),
        json!({"thinkingLevel": "HIGH"})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-2.0-flash"),
        Value::Null
    );
    // A name no row knows (a moving -latest alias) gets the newest family's levels.
    assert_eq!(
        thinking_for(Value::Null, None, "gemini-flash-latest"),
        json!({"thinkingLevel": "LOW"})
    );
    assert_eq!(
        thinking_for(enabled(4000), None, "gemini-flash-latest"),
        json!({"thinkingLevel": "MEDIUM", "includeThoughts": true})
    );
}

#[test]
fn gemini_4_gets_levels_and_no_refused_fields() {
    // A budget, sampling and XHIGH on Argon: a level, no sampling fields, headroom for thinking.
    let b = json!({"model": "m", "max_tokens": 1000, "temperature": 0.5, "top_k": 20,
        "thinking": {"type": "enabled", "budget_tokens": 40000},
        "messages": [{"role": "user", "content": "x"}]});
    let out = gemini(b.clone(), "gemini-4-argon")["generationConfig"].clone();
    assert_eq!(
        out,
        json!({"maxOutputTokens": 9192,
               "thinkingConfig": {"thinkingLevel": "HIGH", "includeThoughts": true}})
    );
    assert_eq!(
        gemini(b, "gemini-4-hydrogen")["generationConfig"]["thinkingConfig"]["thinkingLevel"],
        "XHIGH"
    );
    assert_eq!(
        thinking_for(json!({"type": "disabled"}), None, "gemini-4-argon"),
        json!({"thinkingLevel": "LOW"}),
        "Gemini 4 has no MINIMAL"
    );
}

#[test]
fn a_prefill_is_refused_for_a_model_that_does_not_continue_one() {
    let b = json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "Write a haiku"},
        {"role": "assistant", "content": "Autumn"}]});
    let req = parse(b);
    let e = to_generate_content(&req, "gemini-4-argon", &opts()).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(
        e.to_string()
            .contains("does not continue a prefilled assistant turn"),
        "{e}"
    );
    assert!(to_generate_content(&req, "gemini-3.8-flash", &opts()).is_ok());
}

// ----- count_tokens ----------------------------------------------------------------------------

#[test]
fn count_tokens_wraps_a_generate_content_request() {
    let req = parse_count_tokens_request(
        json!({"model": "claude-haiku-4-5", "system": "sys",
            "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"c": {"type": "string"}}}}],
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let out = to_count_tokens(&req, "gemini-2.5-flash", &opts()).unwrap();
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "tools": [{"functionDeclarations": [{"name": "Bash",
                "parametersJsonSchema": {"type": "object", "properties": {"c": {"type": "string"}}}}]}]
        }})
    );
    let full = parse_count_tokens_request(FIRST_TURN.as_bytes()).unwrap();
    let out = to_count_tokens(&full, "models/gemini-2.5-pro", &opts()).unwrap();
    let inner = out.generate_content_request.unwrap();
    assert_eq!(inner.model.as_deref(), Some("models/gemini-2.5-pro"));
    assert!(inner.system_instruction.is_some() && inner.tools.is_some());
    assert!(inner.generation_config.is_none());
}

#[test]
fn legacy_models_get_strict_parameters() {
    let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
    let out = serde_json::to_value(to_generate_content(&req, "gemini-2.0-flash", &opts()).unwrap())
        .unwrap();
    let decls = out["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert!(decls
        .iter()
        .all(|d| d.get("parametersJsonSchema").is_none()));
    assert_eq!(decls[0]["parameters"]["type"], "OBJECT");
}

/// Rough cost of parse + translate + serialize of the largest capture:
/// `cargo test --release -p gemini-gateway --lib bench_first_turn -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_first_turn() {
    let start = std::time::Instant::now();
    let n = 2000;
    for _ in 0..n {
        let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
        let out = to_generate_content(&req, "gemini-2.5-pro", &opts()).unwrap();
        let bytes = serde_json::to_vec(&out).unwrap();
        std::hint::black_box(bytes);
    }
    eprintln!("per request: {:?}", start.elapsed() / n);
    let req = parse_messages_request(FIRST_TURN.as_bytes()).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(to_generate_content(&req, "gemini-2.5-pro", &opts()).unwrap());
    }
    eprintln!("translate only: {:?}", start.elapsed() / n);
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(parse_messages_request(FIRST_TURN.as_bytes()).unwrap());
    }
    eprintln!("parse only: {:?}", start.elapsed() / n);
}

// ----- hostile input ---------------------------------------------------------------------------

fn with_user_blocks(blocks: Value) -> String {
    body(json!([{"role": "user", "content": blocks}])).to_string()
}

#[test]
fn image_and_document_base64_must_decode() {
    let msg = invalid(&with_user_blocks(json!([{"type": "text", "text": "hi"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "not base64!"}}])));
    assert_eq!(
        msg,
        "messages.0.content.1.source.data: the image data is not valid base64"
    );
    let msg = invalid(&with_user_blocks(json!([
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}]))); // bad length
    assert_eq!(
        msg,
        "messages.0.content.0.source.data: the document data is not valid base64"
    );
    let msg = invalid(&with_user_blocks(json!([
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}])));
    assert!(msg.ends_with("must not be empty"), "{msg}");
    let msg = invalid(&with_user_blocks(json!([
        {"type": "document", "source": {"type": "base64", "media_type": " ", "data": "AAAA"}}])));
    assert_eq!(
        msg,
        "messages.0.content.0.source.media_type: must not be empty"
    );
    let msg = invalid(&with_user_blocks(
        json!([{"type": "image", "source": {"type": "url", "url": ""}}]),
    ));
    assert_eq!(msg, "messages.0.content.0.source.url: must not be empty");
    // Inside a tool result, the path goes down to the nested block.
    let msg = invalid(
        &body(json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA-_"}}]}]}
        ]))
        .to_string(),
    );
    assert_eq!(
        msg,
        "messages.2.content.0.content.0.source.data: the image data is not valid base64"
    );
}

#[test]
fn tool_ids_must_be_present_unique_and_referenced() {
    let call =
        |id: &str, name: &str| json!({"type": "tool_use", "id": id, "name": name, "input": {}});
    let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"});
    let convo = |calls: Value, results: Value| {
        body(json!([{"role": "user", "content": "go"},
            {"role": "assistant", "content": calls},
            {"role": "user", "content": results}]))
        .to_string()
    };
    assert_eq!(
        invalid(&convo(json!([call("", "Bash")]), json!([result("x")]))),
        "messages.1.content.0.id: must not be empty"
    );
    assert_eq!(
        invalid(&convo(json!([call("t1", "")]), json!([result("t1")]))),
        "messages.1.content.0.name: must not be empty"
    );
    let msg = invalid(&convo(
        json!([call("t1", "Bash"), call("t1", "Read")]),
        json!([result("t1")]),
    ));
    assert!(
        msg.starts_with("messages.1.content.1.id: `tool_use` ids must be unique"),
        "{msg}"
    );
    let msg = invalid(&convo(json!([call("t1", "Bash")]), json!([result("t2")])));
    assert!(
        msg.starts_with(
            "messages.2.content.0.tool_use_id: unexpected `tool_use_id` found in `tool_result` blocks: t2"
        ),
        "{msg}"
    );
    assert_eq!(
        invalid(&convo(json!([call("t1", "Bash")]), json!([result("")]))),
        "messages.2.content.0.tool_use_id: must not be empty"
    );
    // An assistant message calling tools cannot open the conversation (Gemini refuses it).
    let req = parse(body(json!([
        {"role": "assistant", "content": [call("t1", "Bash")]},
        {"role": "user", "content": [result("t1")]}
    ])));
    let err = to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("must follow a user message"),
        "{err}"
    );
}

#[test]
fn absurd_numbers_are_refused_and_never_echoed_whole() {
    for bad in [
        json!(-1),
        json!(4_294_967_296u64),
        json!(1.5),
        json!("100"),
        json!(null),
    ] {
        let mut b = body(json!([{"role": "user", "content": "x"}]));
        b["max_tokens"] = bad.clone();
        let msg = invalid(&b.to_string());
        assert!(msg.starts_with("max_tokens"), "{bad}: {msg}");
    }
    for (field, bad) in [
        ("top_k", json!(-1)),
        ("top_k", json!(3_000_000_000u64)),
        ("top_k", json!(1e300)),
        ("temperature", json!(1e300)),
        ("temperature", json!("NaN")),
        ("top_p", json!(-0.5)),
    ] {
        let mut b = body(json!([{"role": "user", "content": "x"}]));
        b[field] = bad.clone();
        let msg = invalid(&b.to_string());
        assert!(msg.starts_with(field), "{field}={bad}: {msg}");
    }
    // Numbers that do not fit a double are not JSON we can read.
    assert!(invalid(
        r#"{"model": "claude-sonnet-4-5", "max_tokens": 1, "temperature": 1e999, "messages": [{"role":"user","content":"x"}]}"#
    )
    .contains("number out of range"));
    // A huge string where a number belongs is quoted, but only in part.
    let mut b = body(json!([{"role": "user", "content": "x"}]));
    b["max_tokens"] = json!("9".repeat(100_000));
    let msg = invalid(&b.to_string());
    assert!(msg.len() < 1_000, "{}", msg.len());
    let mut b = body(json!([{"role": "user", "content": "x"}]));
    b["model"] = json!(format!("gpt-{}", "x".repeat(100_000)));
    let req = parse(b);
    let err = resolve_model_for_test_err(&req.model);
    assert!(err.len() < 1_000, "{}", err.len());
}

fn resolve_model_for_test_err(client: &str) -> String {
    use crate::surfaces::Dialect;
    let why = resolve(client).unwrap_err();
    let e = crate::surfaces::anthropic::ApiError::unknown_model(&why);
    e.message
}

#[test]
fn gemini_model_names_must_be_plain_ids() {
    for bad in [
        "gemini-2.5-flash:countTokens?x=",
        "gemini-x/../../files",
        "gemini-2.5 flash",
        "models/gemini-%2e%2e",
    ] {
        let err = resolve_model_for_test_err(bad);
        assert!(err.starts_with("model: Invalid model name"), "{bad}: {err}");
    }
    assert_eq!(
        resolve_model_for_test("models/gemini-2.5-flash-preview-05-20"),
        "gemini-2.5-flash-preview-05-20"
    );
}

#[test]
fn deep_nesting_and_too_many_blocks_or_messages() {
    let deep = format!(
        r#"{{"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{{"role": "user", "content": "x"}}], "metadata": {}{}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    assert!(invalid(&deep).contains("nesting is too deep"));
    // 200 levels: refused before serde (whose own limit is 128) sees it.
    let deeper = format!(r#"{{"a": {}{}}}"#, "{\"b\":".repeat(200), "}".repeat(200));
    assert!(invalid(&deeper).contains("nesting is too deep"));
    // tool_result content nested 30 times stays within the bound and is accepted.
    let mut inner = json!("leaf");
    for _ in 0..12 {
        inner = json!([{"type": "tool_result", "tool_use_id": "t1", "content": inner}]);
    }
    let req = parse(body(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": inner}]}
    ])));
    assert!(to_generate_content(&req, "gemini-2.5-flash", &opts()).is_ok());

    let blocks = r#"{"type":"text","text":""},"#.repeat(100_001);
    let many = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{{"role":"user","content":[{}]}}]}}"#,
        blocks.trim_end_matches(',')
    );
    let msg = invalid(&many);
    assert!(msg.contains("too many content blocks"), "{msg}");
    let messages = r#"{"role":"user","content":"x"},"#.repeat(100_001);
    let many = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{}]}}"#,
        messages.trim_end_matches(',')
    );
    let msg = invalid(&many);
    assert!(msg.starts_with("messages: too many messages"), "{msg}");
}

#[test]
fn invalid_tool_names_are_refused() {
    let req = |name: &str| {
        body(json!([{"role": "user", "content": "x"}]))
            .as_object()
            .cloned()
            .map(|mut o| {
                o.insert(
                    "tools".into(),
                    json!([{"name": name, "input_schema": {"type": "object"}}]),
                );
                Value::Object(o)
            })
            .unwrap()
    };
    for bad in ["two words", "semi;colon", &"x".repeat(129), "caf\u{e9}"] {
        let r = parse(req(bad));
        let err = to_generate_content(&r, "gemini-2.5-flash", &opts()).unwrap_err();
        assert!(err.to_string().starts_with("tools.0.name"), "{err}");
    }
    for ok in ["Bash", "mcp__srv__tool-x", "1password", "a.b:c"] {
        let r = parse(req(ok));
        assert!(
            to_generate_content(&r, "gemini-2.5-flash", &opts()).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn the_deepest_accepted_nesting_fits_a_worker_stack() {
    // Nested tool results and document contents right up to the depth bound, parsed and
    // translated on a thread with tokio's default worker stack (2 MiB).
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for doc in [false, true] {
                let mut inner = json!([{"type": "text", "text": "leaf"}]);
                let mut levels = 0;
                loop {
                    let next = if doc {
                        json!([{"type": "document", "source": {"type": "content", "content": inner.clone()}}])
                    } else {
                        json!([{"type": "tool_result", "tool_use_id": "t1", "content": inner.clone()}])
                    };
                    let candidate = body(json!([
                        {"role": "user", "content": "go"},
                        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": next.clone()}]}
                    ]))
                    .to_string();
                    if parse_messages_request(candidate.as_bytes()).is_err() {
                        break;
                    }
                    inner = next;
                    levels += 1;
                }
                assert!(levels >= 15, "{levels}");
                let req = parse(body(json!([
                    {"role": "user", "content": "go"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": inner}]}
                ])));
                to_generate_content(&req, "gemini-2.5-flash", &opts()).unwrap();
                to_count_tokens(&req, "gemini-2.5-flash", &opts()).unwrap();
            }
        })
        .unwrap();
    handle.join().unwrap();
}
