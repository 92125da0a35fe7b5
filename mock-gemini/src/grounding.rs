//! Google Search grounding as Gemini reports it: a request whose tools include `googleSearch`
//! gets, on its candidate (the last event of a stream), `groundingMetadata` with the queries the
//! model searched for, the web pages it used (`groundingChunks`) and which part of the answer
//! each supports (`groundingSupports`). And the rule for built-in tools beside function
//! declarations: Gemini takes them together only with
//! `toolConfig.includeServerSideToolInvocations: true`, else it answers 400.

use serde_json::{json, Map, Value};

/// Whether the request's tools include `googleSearch`.
pub fn searches(request: &Map<String, Value>) -> bool {
    tools(request).any(|t| t.get("googleSearch").is_some())
}

fn tools(request: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The 400 for built-in tools beside function declarations without the flag, in Google's words.
pub fn refuses_combination(request: &Map<String, Value>) -> Option<String> {
    let built_in = tools(request).any(|t| {
        ["googleSearch", "urlContext", "codeExecution"]
            .iter()
            .any(|k| t.get(*k).is_some())
    });
    let functions = tools(request).any(|t| t.get("functionDeclarations").is_some());
    let flag = request
        .get("toolConfig")
        .and_then(|c| c.get("includeServerSideToolInvocations"))
        .and_then(Value::as_bool)
        == Some(true);
    (built_in && functions && !flag).then(|| {
        "Built-in tools ({google_search}) and Function Calling cannot be combined in the same request. Please set tool_config.include_server_side_tool_invocations=true to enable tool combination.".to_string()
    })
}

/// The grounding of an answer `text` to the question `query`: one page, supporting the whole
/// answer.
pub fn metadata(query: &str, text: &str) -> Value {
    let query: String = query.chars().take(80).collect();
    let slug: String = query
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect::<String>()
        .to_lowercase();
    json!({
        "webSearchQueries": [query],
        "searchEntryPoint": {"renderedContent": "<div class=\"container\">search</div>"},
        "groundingChunks": [
            {"web": {"uri": format!("https://vertexaisearch.cloud.google.com/grounding-api-redirect/{slug}"), "title": "example.com"}}
        ],
        "groundingSupports": [
            {"segment": {"startIndex": 0, "endIndex": text.len(), "text": text}, "groundingChunkIndices": [0]}
        ],
    })
}

/// Puts `metadata` on the candidate of `answer`.
pub fn attach(answer: &mut Value, metadata: Value) {
    if let Some(candidate) = answer["candidates"][0].as_object_mut() {
        candidate.insert("groundingMetadata".into(), metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn built_in_tools_beside_functions_need_the_flag() {
        let both =
            json!({"tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]});
        assert!(refuses_combination(&request(both.clone()))
            .unwrap()
            .contains("include_server_side_tool_invocations"));
        let mut flagged = both;
        flagged["toolConfig"] = json!({"includeServerSideToolInvocations": true});
        assert_eq!(refuses_combination(&request(flagged)), None);
        let alone = request(json!({"tools": [{"googleSearch": {}}]}));
        assert_eq!(refuses_combination(&alone), None);
        assert!(searches(&alone));
    }

    #[test]
    fn the_grounding_supports_the_whole_answer_with_one_page() {
        let m = metadata("rust news", "Rust 2026 is out.");
        assert_eq!(m["webSearchQueries"][0], "rust news");
        assert_eq!(m["groundingSupports"][0]["segment"]["endIndex"], 17);
        assert_eq!(m["groundingSupports"][0]["groundingChunkIndices"][0], 0);
        assert!(m["groundingChunks"][0]["web"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("rustnews"));
    }
}
