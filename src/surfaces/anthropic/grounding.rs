//! Google Search grounding → Anthropic's web search blocks. A request with the `web_search_*`
//! server tool is sent with Gemini's `googleSearch`; what Gemini reports it found
//! (`groundingMetadata`) comes back as Anthropic answers a web search: a `server_tool_use` block
//! per query (`name: "web_search"`), one `web_search_tool_result` listing the pages, and a text
//! block naming the sources whose `citations` (`web_search_result_location`) quote the parts of
//! the answer each page supports. `usage.server_tool_use.web_search_requests` counts the queries.
//! The same blocks close a stream. Gemini's page URLs are its grounding redirects; they are kept
//! as given (`encrypted_content` and `encrypted_index` carry them opaquely, base64).

use base64::Engine;
use serde_json::{json, Value};

use super::blocks::new_id;

/// Longest quoted text of a citation (Anthropic's own are short).
const MAX_CITED: usize = 150;

/// What one answer's search found, as Anthropic blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// `server_tool_use`, `web_search_tool_result` and the sources' text block, in order.
    pub blocks: Vec<Value>,
    /// Searches made (`usage.server_tool_use.web_search_requests`).
    pub requests: u64,
}

fn opaque(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The blocks for a candidate's `groundingMetadata`; `None` when it records no search.
pub fn found(meta: &Value) -> Option<Found> {
    let queries: Vec<&str> = meta["webSearchQueries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let pages: Vec<(&str, &str)> = meta["groundingChunks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let web = c.get("web")?;
            let url = web.get("uri")?.as_str()?;
            Some((url, web.get("title").and_then(Value::as_str).unwrap_or(url)))
        })
        .collect();
    if queries.is_empty() && pages.is_empty() {
        return None;
    }
    let mut blocks = Vec::new();
    let mut first_use = None;
    for query in queries
        .iter()
        .copied()
        .chain(queries.is_empty().then_some(""))
    {
        let id = new_id("srvtoolu_");
        first_use.get_or_insert_with(|| id.clone());
        blocks.push(json!({"type": "server_tool_use", "id": id, "name": "web_search", "input": {"query": query}}));
    }
    let results: Vec<Value> = pages
        .iter()
        .map(|(url, title)| json!({"type": "web_search_result", "url": url, "title": title, "encrypted_content": opaque(url), "page_age": null}))
        .collect();
    blocks.push(
        json!({"type": "web_search_tool_result", "tool_use_id": first_use, "content": results}),
    );
    let mut citations = Vec::new();
    for support in meta["groundingSupports"].as_array().into_iter().flatten() {
        let cited: String = support["segment"]["text"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(MAX_CITED)
            .collect();
        for i in support["groundingChunkIndices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
        {
            if let Some((url, title)) = pages.get(i as usize) {
                citations.push(json!({"type": "web_search_result_location", "url": url, "title": title, "cited_text": cited, "encrypted_index": opaque(&i.to_string())}));
            }
        }
    }
    if !pages.is_empty() {
        let list: Vec<String> = pages.iter().map(|(u, t)| format!("- {t}: {u}")).collect();
        blocks.push(json!({"type": "text", "text": format!("Sources:\n{}", list.join("\n")), "citations": citations}));
    }
    Some(Found {
        blocks,
        requests: queries.len().max(1) as u64,
    })
}

/// The stream events of `blocks`, the first at `index`: each opened whole (a text block empty,
/// its text and citations then as deltas) and closed.
pub fn write_blocks(blocks: &[Value], mut index: u32, out: &mut Vec<u8>) -> u32 {
    for block in blocks {
        let mut start = block.clone();
        let is_text = block["type"] == "text";
        if is_text {
            start["text"] = json!("");
            start["citations"] = json!([]);
        }
        event(
            out,
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        if is_text {
            for c in block["citations"].as_array().into_iter().flatten() {
                event(
                    out,
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index, "delta": {"type": "citations_delta", "citation": c}}),
                );
            }
            event(
                out,
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": block["text"]}}),
            );
        }
        event(
            out,
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
        index += 1;
    }
    index
}

fn event(out: &mut Vec<u8>, kind: &str, data: Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Value {
        json!({
            "webSearchQueries": ["rust 2026 edition"],
            "groundingChunks": [
                {"web": {"uri": "https://grounding.example/a", "title": "a.example"}},
                {"web": {"uri": "https://grounding.example/b", "title": "b.example"}}],
            "groundingSupports": [
                {"segment": {"startIndex": 0, "endIndex": 5, "text": "Rust!"}, "groundingChunkIndices": [0, 1]}]
        })
    }

    #[test]
    fn a_search_becomes_tool_use_result_and_cited_sources() {
        let f = found(&meta()).unwrap();
        assert_eq!(f.requests, 1);
        let kinds: Vec<&str> = f
            .blocks
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["server_tool_use", "web_search_tool_result", "text"]);
        assert_eq!(f.blocks[0]["input"]["query"], "rust 2026 edition");
        assert!(f.blocks[0]["id"].as_str().unwrap().starts_with("srvtoolu_"));
        assert_eq!(f.blocks[1]["tool_use_id"], f.blocks[0]["id"]);
        assert_eq!(
            f.blocks[1]["content"][1]["url"],
            "https://grounding.example/b"
        );
        let citations = f.blocks[2]["citations"].as_array().unwrap();
        assert_eq!(citations.len(), 2);
        assert_eq!(citations[0]["cited_text"], "Rust!");
        assert_eq!(citations[1]["title"], "b.example");
        assert!(f.blocks[2]["text"]
            .as_str()
            .unwrap()
            .contains("a.example: https://grounding.example/a"));
        assert_eq!(found(&json!({"searchEntryPoint": {}})), None);
    }

    #[test]
    fn in_a_stream_each_block_opens_whole_and_text_comes_as_deltas() {
        let f = found(&meta()).unwrap();
        let mut out = Vec::new();
        assert_eq!(write_blocks(&f.blocks, 4, &mut out), 7);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""index":4"#) && text.contains(r#""index":6"#));
        assert!(text.contains(r#""type":"citations_delta""#));
        assert_eq!(text.matches("event: content_block_stop").count(), 3);
    }
}
