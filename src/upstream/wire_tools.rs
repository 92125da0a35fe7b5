//! Gemini wire types of its built-in tools and of multimodal tool results, kept apart from
//! `wire` (which re-exports them) so that each file stays readable: what Google Search found
//! (`groundingMetadata` on a candidate), and the media a function response carries
//! (`functionResponse.parts`, Gemini 3 and later).
//!
//! Response types accept unknown and missing fields, as in `wire`: Google adds fields over time
//! and leaves out empty ones.

use serde::{Deserialize, Serialize};

/// Media inside a function response: one `inlineData` blob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponsePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<FunctionResponseBlob>,
}

impl FunctionResponsePart {
    /// Base64 `data` of type `mime_type`.
    pub fn inline(mime_type: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            inline_data: Some(FunctionResponseBlob {
                mime_type: mime_type.into(),
                data: data.into(),
            }),
        }
    }
}

/// Base64 data with its MIME type (`FunctionResponseBlob`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponseBlob {
    pub mime_type: String,
    pub data: String,
}

/// What Google Search (and URL context) grounded an answer in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundingMetadata {
    /// The searches the model ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_search_queries: Vec<String>,
    /// The sources found, referred to by index from the supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounding_chunks: Vec<GroundingChunk>,
    /// Which stretch of the answer each group of sources supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounding_supports: Vec<GroundingSupport>,
}

/// One source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundingChunk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebSource>,
}

/// A web page: its (redirect) address and title.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A stretch of the answer and the sources that support it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundingSupport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounding_chunk_indices: Vec<u32>,
}

/// A stretch of a part's text: byte offsets (UTF-8) and the text itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grounding_metadata_reads_googles_shape_and_tolerates_the_rest() {
        let raw = json!({
            "webSearchQueries": ["rust 2026 edition"],
            "searchEntryPoint": {"renderedContent": "<style>…</style>"},
            "groundingChunks": [
                {"web": {"uri": "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbC",
                         "title": "rust-lang.org", "domain": "rust-lang.org"}},
                {"retrievedContext": {"uri": "x"}}
            ],
            "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 10, "text": "Rust 2026."},
                "groundingChunkIndices": [0], "confidenceScores": [0.9]}],
            "retrievalMetadata": {}
        });
        let m: GroundingMetadata = serde_json::from_value(raw).unwrap();
        assert_eq!(m.web_search_queries, ["rust 2026 edition"]);
        assert_eq!(m.grounding_chunks.len(), 2);
        assert!(m.grounding_chunks[1].web.is_none());
        let segment = m.grounding_supports[0].segment.as_ref().unwrap();
        assert_eq!(
            (segment.start_index, segment.end_index),
            (Some(0), Some(10))
        );
        assert_eq!(segment.part_index, None);
    }

    #[test]
    fn a_function_response_part_is_one_inline_blob() {
        assert_eq!(
            serde_json::to_value(FunctionResponsePart::inline("image/png", "iVBORw==")).unwrap(),
            json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}})
        );
    }
}
