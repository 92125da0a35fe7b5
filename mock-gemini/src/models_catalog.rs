//! The models the mock serves, with realistic `Model` objects.
//!
//! `GET /v1beta/models` and `GET /v1beta/models/{model}` answer from this table, and
//! the generation endpoints look up a model's limits (output tokens, thinking support)
//! here so that validation matches what the real model would enforce.

use serde_json::{json, Value};

/// The thinking behaviour of a model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thinking {
    /// Gemini 2.0: no thinking.
    None,
    /// Thinks by default, `thinkingBudget: 0` turns it off (2.5 Flash).
    Optional,
    /// Does not think unless a budget is given (2.5 Flash-Lite).
    OptIn,
    /// Always thinks; budget 0 is rejected (2.5 Pro, Gemini 3).
    Always,
}

/// One catalogued model.
#[derive(Debug)]
pub struct ModelInfo {
    /// The id, without `models/`.
    pub id: &'static str,
    /// `version` field.
    pub version: &'static str,
    /// `displayName`.
    pub display_name: &'static str,
    /// `description`.
    pub description: &'static str,
    /// `outputTokenLimit`.
    pub output_limit: u32,
    /// `inputTokenLimit`.
    pub input_limit: u32,
    /// Thinking behaviour.
    pub thinking: Thinking,
    /// Allowed `thinkingBudget` range (besides -1 and, unless `Always`, 0).
    pub budget_range: (i64, i64),
    /// Default `topK`.
    pub top_k: u32,
    /// Whether the model answers `generateContent`.
    pub generates: bool,
}

impl ModelInfo {
    /// Gemini 3 models enforce thought signatures on function calls.
    pub fn is_gemini3(&self) -> bool {
        self.id.starts_with("gemini-3")
    }

    /// Whether a request may end with a `model` turn (the answer continues it). The Flash-Lite
    /// models refuse ("Requests ending with a model turn are not supported.").
    pub fn accepts_prefill(&self) -> bool {
        !self.id.contains("flash-lite")
    }

    /// The `Model` resource as the API returns it.
    pub fn resource(&self) -> Value {
        let methods: &[&str] = if self.generates {
            &[
                "generateContent",
                "countTokens",
                "createCachedContent",
                "batchGenerateContent",
            ]
        } else {
            &[
                "embedContent",
                "countTextTokens",
                "countTokens",
                "asyncBatchEmbedContent",
            ]
        };
        let mut model = json!({
            "name": format!("models/{}", self.id),
            "version": self.version,
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_limit,
            "outputTokenLimit": self.output_limit,
            "supportedGenerationMethods": methods,
        });
        if self.generates {
            model["temperature"] = json!(1);
            model["topP"] = json!(0.95);
            model["topK"] = json!(self.top_k);
            model["maxTemperature"] = json!(2);
            if self.thinking != Thinking::None {
                model["thinking"] = json!(true);
            }
        }
        model
    }
}

const MILLION: u32 = 1_048_576;

/// Every model the mock knows, in the order `models.list` returns them.
pub static CATALOG: [ModelInfo; 10] = [
    ModelInfo {
        id: "gemini-2.5-pro",
        version: "2.5",
        display_name: "Gemini 2.5 Pro",
        description: "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Always,
        budget_range: (128, 32_768),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-2.5-flash",
        version: "001",
        display_name: "Gemini 2.5 Flash",
        description: "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Optional,
        budget_range: (1, 24_576),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-2.5-flash-lite",
        version: "001",
        display_name: "Gemini 2.5 Flash-Lite",
        description: "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::OptIn,
        budget_range: (512, 24_576),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-2.0-flash",
        version: "2.0",
        display_name: "Gemini 2.0 Flash",
        description: "Gemini 2.0 Flash",
        output_limit: 8_192,
        input_limit: MILLION,
        thinking: Thinking::None,
        budget_range: (0, 0),
        top_k: 40,
        generates: true,
    },
    ModelInfo {
        id: "gemini-3-pro-preview",
        version: "3-pro-preview-11-2025",
        display_name: "Gemini 3 Pro Preview",
        description: "Gemini 3 Pro Preview",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Always,
        budget_range: (128, 32_768),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-3.1-pro-preview",
        version: "3.1-pro-preview-02-2026",
        display_name: "Gemini 3.1 Pro Preview",
        description: "Gemini 3.1 Pro Preview",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Always,
        budget_range: (128, 32_768),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-3-flash-preview",
        version: "3-flash-preview-12-2025",
        display_name: "Gemini 3 Flash Preview",
        description: "Gemini 3 Flash Preview",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Always,
        budget_range: (1, 24_576),
        top_k: 64,
        generates: true,
    },
    // The models Gemini CLI 0.61 routes to by default (its classifier, then the answer).
    ModelInfo {
        id: "gemini-3.5-flash-lite",
        version: "3.5-flash-lite",
        display_name: "Gemini 3.5 Flash-Lite",
        description: "Gemini 3.5 Flash-Lite",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Always,
        budget_range: (1, 24_576),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-3.8-flash",
        version: "3.8-flash",
        display_name: "Gemini 3.8 Flash",
        description: "Gemini 3.8 Flash",
        output_limit: 65_536,
        input_limit: MILLION,
        thinking: Thinking::Always,
        budget_range: (1, 24_576),
        top_k: 64,
        generates: true,
    },
    ModelInfo {
        id: "gemini-embedding-001",
        version: "001",
        display_name: "Gemini Embedding 001",
        description: "Obtain a distributed representation of a text.",
        output_limit: 1,
        input_limit: 2_048,
        thinking: Thinking::None,
        budget_range: (0, 0),
        top_k: 0,
        generates: false,
    },
];

/// Looks a model up by id (`gemini-2.5-flash` or `models/gemini-2.5-flash`).
pub fn find(name: &str) -> Option<&'static ModelInfo> {
    let id = name.strip_prefix("models/").unwrap_or(name);
    CATALOG.iter().find(|m| m.id == id)
}

/// `models.list` with `pageSize`/`pageToken` pagination (default 50 per page).
pub fn list_page(page_size: Option<usize>, page_token: Option<&str>) -> Value {
    let size = match page_size {
        Some(0) | None => 50,
        Some(n) => n.min(1000),
    };
    let start = page_token
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0)
        .min(CATALOG.len());
    let end = (start + size).min(CATALOG.len());
    let models: Vec<Value> = CATALOG[start..end]
        .iter()
        .map(ModelInfo::resource)
        .collect();
    let mut page = json!({ "models": models });
    if end < CATALOG.len() {
        page["nextPageToken"] = json!(format!("page-{end}"));
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_models_with_or_without_prefix() {
        assert!(find("gemini-2.5-flash").is_some());
        assert!(find("models/gemini-3-pro-preview").is_some_and(ModelInfo::is_gemini3));
        assert!(find("gemini-1.0-pro").is_none());
    }

    #[test]
    fn pagination_walks_the_whole_catalog() {
        let half = CATALOG.len().div_ceil(2);
        let first = list_page(Some(half), None);
        assert_eq!(first["models"].as_array().map(Vec::len), Some(half));
        let token = first["nextPageToken"].as_str().map(str::to_owned);
        let second = list_page(Some(half), token.as_deref());
        assert_eq!(
            second["models"].as_array().map(Vec::len),
            Some(CATALOG.len() - half)
        );
        assert!(second.get("nextPageToken").is_none());
    }
}
