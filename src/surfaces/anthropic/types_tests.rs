//! Serde tests of the Anthropic types: lenient requests, events as Anthropic writes them.

use super::*;
use serde_json::json;

#[test]
fn unknown_blocks_and_fields_are_tolerated() {
    let msg: Message = serde_json::from_value(json!({
        "role": "assistant",
        "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}, "citations": []},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "redacted_thinking", "data": "abc"},
            {"type": "container_upload", "file_id": "f"},
            {"type": "brand_new_block", "x": 1}
        ]
    }))
    .unwrap();
    let TextOrBlocks::Blocks(blocks) = msg.content else {
        panic!("blocks expected")
    };
    assert_eq!(blocks[0], ContentBlock::Text { text: "hi".into() });
    assert!(matches!(blocks[1], ContentBlock::ServerToolUse { .. }));
    assert_eq!(
        blocks[2],
        ContentBlock::WebSearchToolResult { content: json!([]) }
    );
    assert!(blocks[3..].iter().all(|b| *b == ContentBlock::Other));
}

#[test]
fn string_content_and_system_role() {
    let msg: Message = serde_json::from_value(json!({"role": "system", "content": "env"})).unwrap();
    assert_eq!(msg.role, Role::System);
    assert_eq!(msg.content, TextOrBlocks::Text("env".into()));
}

#[test]
fn tool_choice_ignores_extra_fields() {
    let c: ToolChoice =
        serde_json::from_value(json!({"type": "auto", "disable_parallel_tool_use": true})).unwrap();
    assert_eq!(c, ToolChoice::Auto);
    let c: ToolChoice = serde_json::from_value(
        json!({"type": "tool", "name": "Bash", "disable_parallel_tool_use": false}),
    )
    .unwrap();
    assert_eq!(
        c,
        ToolChoice::Tool {
            name: "Bash".into()
        }
    );
}

#[test]
fn thinking_variants() {
    let t: ThinkingParam =
        serde_json::from_value(json!({"type": "adaptive", "display": "omitted"})).unwrap();
    assert_eq!(
        t,
        ThinkingParam::Adaptive {
            display: Some("omitted".into())
        }
    );
    let t: ThinkingParam =
        serde_json::from_value(json!({"type": "enabled", "budget_tokens": 2048})).unwrap();
    assert!(matches!(
        t,
        ThinkingParam::Enabled {
            budget_tokens: Some(2048),
            ..
        }
    ));
    let t: ThinkingParam = serde_json::from_value(json!({"type": "future"})).unwrap();
    assert_eq!(t, ThinkingParam::Other);
}

#[test]
fn stream_events_serialize_with_type_tag() {
    let ev = StreamEvent::ContentBlockStart {
        index: 2,
        content_block: BlockStart::ToolUse {
            id: "toolu_1",
            name: "Write",
            input: EmptyObject {},
        },
    };
    assert_eq!(ev.name(), "content_block_start");
    assert_eq!(
        serde_json::to_value(&ev).unwrap(),
        json!({"type": "content_block_start", "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}})
    );
    let ev = StreamEvent::MessageDelta {
        delta: MessageDeltaBody {
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
        },
        usage: Usage::default(),
    };
    assert_eq!(
        serde_json::to_value(&ev).unwrap()["delta"],
        json!({"stop_reason": "tool_use", "stop_sequence": null})
    );
    assert_eq!(
        serde_json::to_value(StreamEvent::MessageStop).unwrap(),
        json!({"type": "message_stop"})
    );
}
