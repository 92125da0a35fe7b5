//! What Google Search found, as Anthropic's web search blocks. A client that asked for
//! `web_search_*` reads its searches and sources from the answer's content, as Anthropic's
//! own answers carry them; Gemini gives them as the candidate's `groundingMetadata`. Shared by
//! the whole answer (`response`) and the stream (`stream`, which holds a searching answer's
//! blocks until the metadata comes with the last chunk).
//!
//! * each of `webSearchQueries` → a `server_tool_use` block (`name: "web_search"`,
//!   `input: {"query": …}`, a `srvtoolu_` id) and its `web_search_tool_result`; Gemini does not
//!   say which search found which source, so every source (`groundingChunks[].web`: `url`,
//!   `title`) is listed under the first search, the others' lists empty. They go before the
//!   answer, after its leading thoughts, as Anthropic orders them.
//! * `groundingSupports` → citations: the answer's text blocks are split at each supported
//!   stretch (found by its `segment.text`, at its byte offsets when they match), and that
//!   stretch's block cites each of its sources as a `web_search_result_location` (its
//!   `cited_text` is the stretch: Gemini does not quote the source).
//! * `usage.server_tool_use.web_search_requests` = the number of searches.
//! * `encrypted_content` and `encrypted_index` are opaque to clients, which only send them
//!   back: they carry the source's address and index, base64-encoded.

use base64::Engine;
use serde_json::json;

use crate::upstream::wire::GroundingMetadata;

use super::blocks::new_id;
use super::types::{Citation, ResponseBlock, WebSearchResult};

/// `content` with what the search found: the search blocks before the answer (after its
/// leading thoughts), the answer's text cited; and how many searches ran.
pub(crate) fn ground(
    content: Vec<ResponseBlock>,
    meta: &GroundingMetadata,
) -> (Vec<ResponseBlock>, u64) {
    let searches = search_blocks(meta);
    let requests = meta.web_search_queries.len() as u64;
    let mut content = cite(content, meta);
    let at = content
        .iter()
        .position(
            |b| !matches!(b, ResponseBlock::Thinking { thinking, .. } if !thinking.is_empty()),
        )
        .unwrap_or(content.len());
    content.splice(at..at, searches);
    (content, requests)
}

/// A source: its address and title.
fn source(meta: &GroundingMetadata, index: usize) -> Option<(&str, &str)> {
    let web = meta.grounding_chunks.get(index)?.web.as_ref()?;
    let url = web.uri.as_deref().filter(|u| !u.is_empty())?;
    Some((url, web.title.as_deref().unwrap_or(url)))
}

fn opaque(what: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("gemini-grounding|{what}"))
}

/// A `server_tool_use` and its `web_search_tool_result` per search.
fn search_blocks(meta: &GroundingMetadata) -> Vec<ResponseBlock> {
    let results: Vec<WebSearchResult> = (0..meta.grounding_chunks.len())
        .filter_map(|i| source(meta, i))
        .map(|(url, title)| WebSearchResult {
            kind: "web_search_result".into(),
            url: url.to_owned(),
            title: title.to_owned(),
            encrypted_content: opaque(url),
            page_age: None,
        })
        .collect();
    let mut out = Vec::with_capacity(meta.web_search_queries.len() * 2);
    for (i, query) in meta.web_search_queries.iter().enumerate() {
        let id = new_id("srvtoolu_");
        out.push(ResponseBlock::ServerToolUse {
            id: id.clone(),
            name: "web_search".into(),
            input: json!({ "query": query }),
        });
        out.push(ResponseBlock::WebSearchToolResult {
            tool_use_id: id,
            content: if i == 0 { results.clone() } else { Vec::new() },
        });
    }
    out
}

/// A supported stretch of the answer: byte range in the answer's text, and its citations.
struct Stretch {
    start: usize,
    end: usize,
    citations: Vec<Citation>,
}

/// The supported stretches of `text`, in order, without overlaps.
fn stretches(text: &str, meta: &GroundingMetadata) -> Vec<Stretch> {
    let mut supports: Vec<_> = meta
        .grounding_supports
        .iter()
        .filter_map(|s| {
            let segment = s.segment.as_ref()?;
            let cited = segment.text.as_deref().filter(|t| !t.is_empty())?;
            Some((segment, cited, &s.grounding_chunk_indices))
        })
        .collect();
    supports.sort_by_key(|(segment, _, _)| segment.start_index.unwrap_or(0));
    let mut out: Vec<Stretch> = Vec::new();
    let mut cursor = 0;
    for (segment, cited, indices) in supports {
        let start = segment.start_index.unwrap_or(0) as usize;
        let at = match text.get(start..start.saturating_add(cited.len())) {
            Some(there) if there == cited && start >= cursor => Some(start),
            _ => text
                .get(cursor..)
                .and_then(|rest| rest.find(cited))
                .map(|i| i + cursor),
        };
        let Some(start) = at else { continue };
        let citations: Vec<Citation> = indices
            .iter()
            .filter_map(|&i| {
                let (url, title) = source(meta, i as usize)?;
                Some(Citation {
                    kind: "web_search_result_location".into(),
                    url: url.to_owned(),
                    title: title.to_owned(),
                    cited_text: cited.to_owned(),
                    encrypted_index: opaque(&i.to_string()),
                })
            })
            .collect();
        if citations.is_empty() {
            continue;
        }
        cursor = start + cited.len();
        out.push(Stretch {
            start,
            end: cursor,
            citations,
        });
    }
    out
}

/// `content` with its text blocks split at the supported stretches, those carrying citations.
fn cite(content: Vec<ResponseBlock>, meta: &GroundingMetadata) -> Vec<ResponseBlock> {
    let answer: String = content
        .iter()
        .filter_map(|b| match b {
            ResponseBlock::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let stretches = stretches(&answer, meta);
    if stretches.is_empty() {
        return content;
    }
    let mut out = Vec::with_capacity(content.len() + stretches.len() * 2);
    let mut base = 0;
    for block in content {
        let ResponseBlock::Text { text, .. } = block else {
            out.push(block);
            continue;
        };
        let end = base + text.len();
        // Cut points inside this block: every stretch boundary within it.
        let mut cuts = vec![base];
        for s in &stretches {
            for at in [s.start, s.end] {
                if at > base && at < end && text.is_char_boundary(at - base) {
                    cuts.push(at);
                }
            }
        }
        cuts.push(end);
        cuts.sort_unstable();
        cuts.dedup();
        for pair in cuts.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let Some(piece) = text.get(from - base..to - base).filter(|p| !p.is_empty()) else {
                continue;
            };
            let cited = stretches.iter().find(|s| s.start <= from && to <= s.end);
            out.push(ResponseBlock::Text {
                text: piece.to_owned(),
                citations: cited.map(|s| s.citations.clone()),
            });
        }
        base = end;
    }
    out
}

#[cfg(test)]
#[path = "grounding_tests.rs"]
mod tests;
