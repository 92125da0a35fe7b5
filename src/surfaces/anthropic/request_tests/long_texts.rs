//! A conversation's long tool results, cut out of a shared body and read on their own
//! (`parse_quickly`): the request is always the one a whole parse makes.

use super::*;
use crate::json::literal::sharing;
use crate::surfaces::anthropic::types::{ContentBlock, TextOrBlocks, ToolResultContent};
use bytes::Bytes;

/// A file's text as a tool reads it: lines, quotes, backslashes, some non-ASCII.
fn file() -> String {
    "fn main() {\n    println!(\"hello \\\\ wörld\");\n}\n".repeat(20)
}

/// A turn whose last message holds the block `result` (JSON text: `json!` would sort its keys,
/// and clients write a block's `type` first).
fn turn(result: &str) -> String {
    let text = body(json!([
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.rs"}}]},
        {"role": "user", "content": ["RESULT", {"type": "text", "text": "go on"}]}
    ]))
    .to_string();
    text.replacen("\"RESULT\"", result, 1)
}

/// A tool result block, `type` first, whose `content` is `content` (JSON text).
fn result(content: &str) -> String {
    format!(r#"{{"type":"tool_result","tool_use_id":"toolu_1","content":{content}}}"#)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The body parsed while shared (its long strings cut out), and parsed whole (not shared).
fn both_ways(
    text: &str,
) -> (
    Bytes,
    Result<MessagesRequest, String>,
    Result<MessagesRequest, String>,
) {
    let body = Bytes::from(text.to_owned());
    let shared = sharing(&body, || parse_messages_request(&body)).map_err(|e| e.to_string());
    let whole = parse_messages_request(text.as_bytes()).map_err(|e| e.to_string());
    (body, shared, whole)
}

fn same(shared: &Result<MessagesRequest, String>, whole: &Result<MessagesRequest, String>) {
    assert_eq!(format!("{shared:?}"), format!("{whole:?}"));
    if let (Ok(shared), Ok(whole)) = (shared, whole) {
        let translate = |req| {
            serde_json::to_value(to_generate_content(req, "gemini-3.8-flash", &opts()).unwrap())
                .unwrap()
        };
        assert_eq!(translate(shared), translate(whole));
    }
}

#[test]
fn a_long_tool_result_is_read_around_and_is_the_bodys_own_text() {
    let text = turn(&result(&quoted(&file())));
    let (body, shared, whole) = both_ways(&text);
    same(&shared, &whole);
    let TextOrBlocks::Blocks(blocks) = &shared.unwrap().messages[2].content else {
        panic!("blocks")
    };
    let ContentBlock::ToolResult {
        content: Some(ToolResultContent::Text(kept)),
        ..
    } = &blocks[0]
    else {
        panic!("a tool result's text")
    };
    assert!(body.as_ptr_range().contains(&kept.literal().as_ptr()));
    assert_eq!(kept.plain(), file());
}

/// What the whole parse refuses is refused with its message; a long `content` string the
/// request does not read as a tool's text (an unknown block, a search result's) leaves the
/// request as the whole parse makes it.
#[test]
fn a_long_text_refused_or_read_as_something_else_is_as_the_whole_body_says() {
    let raw_tab = turn(&result(&quoted(&file()))).replacen("\\n", "\t", 1);
    let bad_escape = turn(&result(&quoted(&file()))).replacen("\\\\", "\\x", 1);
    let lone = turn(&result(&quoted(&format!("{} \u{1F600}", file())))).replacen(
        "\u{1F600}",
        "\\ud83d",
        1,
    );
    for refused in [&raw_tab, &bad_escape, &lone] {
        let (_, shared, whole) = both_ways(refused);
        assert!(whole.is_err(), "{whole:?}");
        same(&shared, &whole);
    }
    let long = quoted(&file());
    for other in [
        format!(r#"{{"type":"mystery","content":{long}}}"#),
        format!(
            r#"{{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":{long}}}"#
        ),
        format!(r#"{{"tool_use_id":"toolu_1","content":{long},"type":"tool_result"}}"#),
        result(&format!(r#"[{{"type":"text","text":{long}}}]"#)),
    ] {
        let (_, shared, whole) = both_ways(&turn(&other));
        assert!(whole.is_ok(), "{whole:?}");
        same(&shared, &whole);
    }
    // A long `content` string at the same depth inside the tools (a schema's property) is
    // theirs, however much of the body they are.
    let in_tools = format!(
        r#"{{"model":"m","max_tokens":9,"tools":[{{"name":"a","input_schema":{{"type":"object","properties":{{"content":{long}}}}}}}],"messages":[{{"role":"user","content":"hi"}}]}}"#
    );
    let (_, shared, whole) = both_ways(&in_tools);
    same(&shared, &whole);
}

/// The text parsed: the tools' span as `null`, each long string as `""` where it stood, and
/// where each was left.
#[test]
fn the_text_read_leaves_each_cut_where_it_stood() {
    let body = br#"{"tools":[{"x":"in the tools"}],"m":[{"content":"long one"},"s","long two"]}"#;
    let find = |part: &str| {
        let at = memchr::memmem::find(body, part.as_bytes()).unwrap();
        at..at + part.len()
    };
    let tools = find(r#"[{"x":"in the tools"}]"#);
    let strings = vec![find(r#""long one""#), find(r#""long two""#)];
    let (text, cuts) = rewrite(body, Some(tools), strings.clone());
    assert_eq!(text, br#"{"tools":null,"m":[{"content":""},"s",""]}"#);
    let at: Vec<_> = cuts.iter().map(|cut| (cut.at, cut.span.clone())).collect();
    assert_eq!(at, [(30, strings[0].clone()), (38, strings[1].clone())]);
    let (text, cuts) = rewrite(body, None, strings);
    assert_eq!(
        text,
        br#"{"tools":[{"x":"in the tools"}],"m":[{"content":""},"s",""]}"#
    );
    assert_eq!(cuts.len(), 2);
    // Tools shorter than their `null` (`[]`).
    let (text, _) = rewrite(br#"{"tools":[]}"#, Some(9..11), Vec::new());
    assert_eq!(text, br#"{"tools":null}"#);
}

/// Claude Code's tools taken as text (their `null` moves every later place) and several long
/// tool results cut after them: the request a whole parse makes, each text the body's own.
#[test]
fn tools_taken_as_text_and_several_cuts_read_as_the_whole_body_reads() {
    let cc: Value = serde_json::from_str(FIRST_TURN).unwrap();
    let tools = cc["tools"].to_string();
    let result = |id: &str| {
        format!(
            r#"{{"type":"tool_result","tool_use_id":"{id}","content":{}}}"#,
            quoted(&file())
        )
    };
    let text = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":9,"tools":{tools},"messages":[{{"role":"user","content":"read"}},{{"role":"assistant","content":[{{"type":"tool_use","id":"toolu_1","name":"Read","input":{{}}}},{{"type":"tool_use","id":"toolu_2","name":"Read","input":{{}}}}]}},{{"role":"user","content":[{},{}]}}]}}"#,
        result("toolu_1"),
        result("toolu_2"),
    );
    let (body, shared, whole) = both_ways(&text);
    same(&shared, &whole);
    let shared = shared.unwrap();
    assert_eq!(shared.tools.as_ref().unwrap().raw(), tools);
    let TextOrBlocks::Blocks(blocks) = &shared.messages[2].content else {
        panic!("blocks")
    };
    for block in blocks {
        let ContentBlock::ToolResult {
            content: Some(ToolResultContent::Text(kept)),
            ..
        } = block
        else {
            panic!("a tool result's text")
        };
        assert!(body.as_ptr_range().contains(&kept.literal().as_ptr()));
        assert_eq!(kept.plain(), file());
    }
}
