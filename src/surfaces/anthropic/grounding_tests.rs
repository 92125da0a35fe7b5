//! Grounding translation tests on a captured-shape Gemini answer (`gemini-grounded.json`):
//! search blocks, citations split at the supported stretches, and the search count.

use serde_json::{json, Value};

use super::*;
use crate::surfaces::anthropic::response::from_generate_content;
use crate::upstream::wire::GenerateContentResponse;

const GROUNDED: &str = include_str!("../../../tests/fixtures/anthropic/gemini-grounded.json");

/// The answer with its random ids replaced by their position, for comparison.
fn normalised(v: &mut Value) {
    let mut ids = Vec::new();
    for block in v["content"].as_array_mut().into_iter().flatten() {
        for key in ["id", "tool_use_id"] {
            if let Some(id) = block.get(key).and_then(Value::as_str).map(str::to_owned) {
                let n = ids.iter().position(|i| *i == id).unwrap_or_else(|| {
                    ids.push(id.clone());
                    ids.len() - 1
                });
                assert!(id.starts_with("srvtoolu_"), "{id}");
                block[key] = json!(format!("srvtoolu_{n}"));
            }
        }
    }
    v["id"] = json!("msg_test");
}

#[test]
fn a_grounded_answer_carries_its_searches_sources_and_citations() {
    let resp: GenerateContentResponse = serde_json::from_str(GROUNDED).unwrap();
    let msg = from_generate_content(&resp, "claude-sonnet-4-5").unwrap();
    let mut v = serde_json::to_value(&msg).unwrap();
    normalised(&mut v);
    crate::snapshot::assert_snapshot("anthropic", "gemini-grounded.message.json", &v);
    let content = &v["content"];
    assert_eq!(content[0]["type"], "server_tool_use");
    assert_eq!(content[0]["name"], "web_search");
    assert_eq!(
        content[0]["input"],
        json!({"query": "rust release december 2026"})
    );
    assert_eq!(content[1]["type"], "web_search_tool_result");
    assert_eq!(content[1]["tool_use_id"], content[0]["id"]);
    let results = content[1]["content"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["type"], "web_search_result");
    assert_eq!(results[0]["title"], "blog.rust-lang.org");
    assert!(results[0]["page_age"].is_null());
    assert!(!results[0]["encrypted_content"].as_str().unwrap().is_empty());
    assert_eq!(content[2]["type"], "server_tool_use");
    assert_eq!(content[3]["content"], json!([]));
    // The answer, split at its supported stretches.
    let texts: Vec<(&str, usize)> = content.as_array().unwrap()[4..]
        .iter()
        .map(|b| {
            (
                b["text"].as_str().unwrap(),
                b.get("citations")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("Rust 1.95 shipped on 4 December 2026.", 1),
            (" It stabilises async closures in traits. ", 0),
            ("The next edition is planned for 2027.", 2),
        ]
    );
    let cite = &content[6]["citations"][0];
    assert_eq!(cite["type"], "web_search_result_location");
    assert_eq!(cite["title"], "rust-lang.org");
    assert_eq!(cite["cited_text"], "The next edition is planned for 2027.");
    assert_eq!(
        v["usage"]["server_tool_use"],
        json!({"web_search_requests": 2})
    );
    assert_eq!(v["stop_reason"], "end_turn");
}

#[test]
fn the_search_blocks_go_after_the_thoughts_and_text_is_cut_only_on_char_boundaries() {
    let meta: GroundingMetadata = serde_json::from_value(json!({
        "webSearchQueries": ["é"],
        "groundingChunks": [{"web": {"uri": "https://a.example", "title": "a"}}],
        "groundingSupports": [
            {"segment": {"startIndex": 2, "endIndex": 9, "text": "été ici"}, "groundingChunkIndices": [0]},
            {"segment": {"startIndex": 0, "endIndex": 4, "text": "nowhere"}, "groundingChunkIndices": [0]},
            {"segment": {"text": "là"}, "groundingChunkIndices": [7]}
        ]
    }))
    .unwrap();
    let content = vec![
        ResponseBlock::Thinking {
            thinking: "hmm".into(),
            signature: String::new(),
        },
        ResponseBlock::text("J'été ici, "),
        ResponseBlock::text("et là."),
    ];
    let (out, n) = ground(content, &meta);
    assert_eq!(n, 1);
    assert!(matches!(out[0], ResponseBlock::Thinking { .. }));
    assert!(matches!(out[1], ResponseBlock::ServerToolUse { .. }));
    assert!(matches!(out[2], ResponseBlock::WebSearchToolResult { .. }));
    let texts: Vec<(String, bool)> = out[3..]
        .iter()
        .map(|b| match b {
            ResponseBlock::Text { text, citations } => (text.clone(), citations.is_some()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("J'".to_string(), false),
            ("été ici".to_string(), true),
            (", ".to_string(), false),
            ("et là.".to_string(), false)
        ]
    );
}

#[test]
fn no_metadata_worth_showing_leaves_the_answer_as_it_was() {
    let content = vec![ResponseBlock::text("plain")];
    let (out, n) = ground(content.clone(), &GroundingMetadata::default());
    assert_eq!((out, n), (content, 0));
}
