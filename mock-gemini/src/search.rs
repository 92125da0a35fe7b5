//! Google Search as the mock plays it, so that a gateway's translation of grounded answers is
//! tested against the shape Gemini sends. A request whose tools include `googleSearch` is
//! answered "from the web": one search for the user's words, two made-up sources, and an answer
//! whose sentences cite them. The candidate carries `groundingMetadata` as Gemini writes it —
//! `webSearchQueries`, `searchEntryPoint`, `groundingChunks[].web` (Google's redirect addresses,
//! the site as title) and `groundingSupports` (a sentence's `segment` by UTF-8 byte offsets,
//! `startIndex` left out when 0 as proto JSON does, and the `groundingChunkIndices` it rests
//! on) — on the whole answer, or on the last chunk of a stream. With
//! `toolConfig.includeServerSideToolInvocations` the answer also shows the search it ran: a
//! `toolCall` and a `toolResponse` part before the text.

use serde_json::{json, Map, Value};

/// The sources every search finds: (redirect id, site).
const SOURCES: [(&str, &str); 2] = [
    ("mock-source-a", "example.com"),
    ("mock-source-b", "example.org"),
];

/// The sentences after the first, and which sources each rests on.
const CITED: [(&str, &[u32]); 2] = [
    ("The first source covers it.", &[0]),
    ("The second source adds details.", &[1, 0]),
];

/// Whether the request lets the model search.
pub fn searches(request: &Map<String, Value>) -> bool {
    request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| t.get("googleSearch").is_some())
}

/// Whether the request asks to see the searches (`includeServerSideToolInvocations`).
pub fn shows_invocations(request: &Map<String, Value>) -> bool {
    request
        .get("toolConfig")
        .and_then(|c| c.get("includeServerSideToolInvocations"))
        == Some(&Value::Bool(true))
}

/// The answer to `snippet` (the user's words) by `model`, citing the sources.
pub fn answer(model: &str, snippet: &str) -> String {
    let cited: Vec<&str> = CITED.iter().map(|(s, _)| *s).collect();
    format!(
        "Mock search answer from {model}: {}. {}",
        snippet.trim_end_matches('.'),
        cited.join(" ")
    )
}

/// `groundingMetadata` for `text` (an [`answer`], perhaps shortened), searched as `query`.
pub fn metadata(query: &str, text: &str) -> Value {
    let chunks: Vec<Value> = SOURCES
        .iter()
        .map(|(id, site)| {
            json!({"web": {
                "uri": format!("https://vertexaisearch.cloud.google.com/grounding-api-redirect/{id}"),
                "title": site, "domain": site}})
        })
        .collect();
    let mut supports = Vec::new();
    let first_end = text
        .find(CITED[0].0)
        .map_or(text.len(), |i| i.saturating_sub(1));
    let first = text.get(..first_end).unwrap_or_default();
    if !first.is_empty() {
        supports.push(support(0, first, &[0]));
    }
    for (sentence, indices) in CITED {
        if let Some(at) = text.find(sentence) {
            supports.push(support(at, sentence, indices));
        }
    }
    json!({
        "webSearchQueries": [query],
        "searchEntryPoint": {"renderedContent": format!("<div class=\"chips\">{query}</div>")},
        "groundingChunks": chunks,
        "groundingSupports": supports,
    })
}

fn support(start: usize, text: &str, indices: &[u32]) -> Value {
    let mut segment = json!({"endIndex": start + text.len(), "text": text});
    if start > 0 {
        segment["startIndex"] = json!(start);
    }
    json!({"segment": segment, "groundingChunkIndices": indices,
        "confidenceScores": indices.iter().map(|_| 0.9).collect::<Vec<_>>()})
}

/// The parts that show the search: its call and what it returned.
pub fn invocation_parts(query: &str) -> Vec<Value> {
    vec![
        json!({"toolCall": {"id": "mock-search-1", "toolType": "GOOGLE_SEARCH_WEB",
            "args": {"queries": [query]}}}),
        json!({"toolResponse": {"id": "mock-search-1", "toolType": "GOOGLE_SEARCH_WEB",
            "response": {"results": SOURCES.len()}}}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sentence_is_supported_at_its_byte_offsets() {
        let text = answer("gemini-3.8-flash", "Wetter in Zürich?");
        let meta = metadata("Wetter in Zürich?", &text);
        let supports = meta["groundingSupports"].as_array().unwrap();
        assert_eq!(supports.len(), 3);
        for s in supports {
            let start = s["segment"]["startIndex"].as_u64().unwrap_or(0) as usize;
            let end = s["segment"]["endIndex"].as_u64().unwrap() as usize;
            assert_eq!(&text[start..end], s["segment"]["text"].as_str().unwrap());
        }
        assert!(supports[0]["segment"].get("startIndex").is_none());
        assert_eq!(meta["groundingChunks"][1]["web"]["title"], "example.org");
        // A shortened answer cites only what is left.
        let short = metadata("q", &text[..text.find("The second").unwrap()]);
        assert_eq!(short["groundingSupports"].as_array().unwrap().len(), 2);
    }
}
