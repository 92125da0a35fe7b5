//! The models the mock serves, with realistic `Model` objects: what each is and how it behaves
//! (its limits, thinking, the levels it accepts, the API versions and tiers that see it). The
//! rows themselves are data in `models_table`.
//!
//! `GET /{version}/models` and `GET /{version}/models/{model}` answer from the table, and the
//! generation endpoints look a model up here so that validation matches what the real model
//! enforces. Retired ids are simply absent: Google answers them 404.

use serde_json::{json, Value};

pub use crate::models_table::CATALOG;

/// The thinking behaviour of a model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thinking {
    /// No thinking.
    None,
    /// Does not think unless a budget is given (2.5 Flash-Lite).
    OptIn,
    /// Always thinks; budget 0 is rejected (Gemini 3 and 4).
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
    /// The `thinkingLevel` values it accepts (none: levels are refused).
    pub levels: &'static [&'static str],
    /// The level it thinks at when none is given.
    pub default_level: &'static str,
    /// Default `topK`.
    pub top_k: u32,
    /// Whether the model answers `generateContent`.
    pub generates: bool,
    /// Served and listed only under `v1alpha` (the Gemini 4 previews).
    pub alpha_only: bool,
    /// Served and listed only to keys of a paid-tier project.
    pub paid_only: bool,
    /// A moving alias (`gemini-flash-latest`): the model that serves it.
    pub serves_as: Option<&'static str>,
    /// The fewest tokens a context cache (explicit, or an implicit cache hit) may hold.
    pub min_cache_tokens: u32,
}

impl ModelInfo {
    /// The model that actually answers (the alias's target for a `-latest` alias).
    pub fn served_id(&self) -> &'static str {
        self.serves_as.unwrap_or(self.id)
    }

    /// The row that answers for this id: for a `-latest` alias its target (whose rules apply
    /// and whose id is the answer's `modelVersion`), else the model itself.
    pub fn serving(&'static self) -> &'static ModelInfo {
        self.serves_as.and_then(find).unwrap_or(self)
    }

    /// Gemini 3 and later enforce thought signatures on function calls.
    pub fn is_gemini3(&self) -> bool {
        let id = self.served_id();
        id.starts_with("gemini-3") || id.starts_with("gemini-4")
    }

    /// Gemini 3 and later take images and PDFs inside a function response
    /// (`functionResponse.parts`); 2.5 answers 400.
    pub fn takes_media_in_function_responses(&self) -> bool {
        self.is_gemini3()
    }

    /// Gemini 4: levels only, no penalties, one candidate, no prefill.
    pub fn is_gemini4(&self) -> bool {
        self.served_id().starts_with("gemini-4")
    }

    /// Whether a request may end with a `model` turn (the answer continues it). The Flash-Lite
    /// models refuse ("Requests ending with a model turn are not supported."); Gemini 4 refuses
    /// with its own words.
    pub fn accepts_prefill(&self) -> bool {
        !self.served_id().contains("flash-lite") && !self.is_gemini4()
    }

    /// Tokens Gemini 4 spends thinking at `level` (the model's default when `None`).
    pub fn thinking_cost(&self, level: Option<&str>) -> u64 {
        match level.unwrap_or(self.default_level) {
            "LOW" => 256,
            "MEDIUM" => 1024,
            "XHIGH" => 4096,
            _ => 2048,
        }
    }

    /// Whether API `version` on a key of a paid (or not) project sees it.
    pub fn visible(&self, version: &str, paid: bool) -> bool {
        (version == "v1alpha" || !self.alpha_only) && (paid || !self.paid_only)
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

/// Looks a model up by id (`gemini-3.8-flash` or `models/gemini-3.8-flash`), whoever asks.
pub fn find(name: &str) -> Option<&'static ModelInfo> {
    let id = name.strip_prefix("models/").unwrap_or(name);
    CATALOG.iter().find(|m| m.id == id)
}

/// The model as API `version` shows it to a key of a paid (or not) project: absent (Google's
/// 404) when that version or tier does not see it.
pub fn find_visible(name: &str, version: &str, paid: bool) -> Option<&'static ModelInfo> {
    find(name).filter(|m| m.visible(version, paid))
}

/// `models.list` under `version` for a paid (or not) key, with `pageSize`/`pageToken`
/// pagination (default 50 per page).
pub fn list_page(
    version: &str,
    paid: bool,
    page_size: Option<usize>,
    page_token: Option<&str>,
) -> Value {
    let visible: Vec<&ModelInfo> = CATALOG
        .iter()
        .filter(|m| m.visible(version, paid))
        .collect();
    let size = match page_size {
        Some(0) | None => 50,
        Some(n) => n.min(1000),
    };
    let start = page_token
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0)
        .min(visible.len());
    let end = (start + size).min(visible.len());
    let models: Vec<Value> = visible[start..end].iter().map(|m| m.resource()).collect();
    let mut page = json!({ "models": models });
    if end < visible.len() {
        page["nextPageToken"] = json!(format!("page-{end}"));
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &Value) -> Vec<String> {
        page["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["name"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("models/")
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn finds_models_with_or_without_prefix() {
        assert!(find("gemini-3.8-flash").is_some());
        assert!(find("models/gemini-3.1-pro-preview").is_some_and(ModelInfo::is_gemini3));
        assert!(find("gemini-flash-latest").is_some_and(ModelInfo::is_gemini3));
        for retired in [
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-3-pro-preview",
            "gemini-2.0-flash",
            "text-embedding-004",
        ] {
            assert!(find(retired).is_none(), "{retired}");
        }
    }

    #[test]
    fn gemini_4_is_seen_only_under_v1alpha_and_the_paid_previews_only_by_paid_keys() {
        assert!(find_visible("gemini-4-argon", "v1beta", true).is_none());
        assert!(find_visible("gemini-4-argon", "v1alpha", false).is_some());
        assert!(find_visible("gemini-4-carbon", "v1alpha", false).is_none());
        assert!(find_visible("gemini-4-neon", "v1alpha", true).is_some());
        let beta = ids(&list_page("v1beta", true, Some(1000), None));
        assert!(beta.iter().all(|id| !id.starts_with("gemini-4")));
        let alpha_free = ids(&list_page("v1alpha", false, Some(1000), None));
        assert!(alpha_free.contains(&"gemini-4-hydrogen".to_owned()));
        assert!(!alpha_free.contains(&"gemini-4-carbon".to_owned()));
        assert_eq!(
            ids(&list_page("v1alpha", true, Some(1000), None)).len(),
            CATALOG.len()
        );
    }

    #[test]
    fn aliases_are_served_by_their_target() {
        let latest = find("gemini-flash-latest").unwrap();
        assert_eq!(latest.served_id(), "gemini-3.8-flash");
        assert!(!find("gemini-flash-lite-latest").unwrap().accepts_prefill());
        assert!(!find("gemini-4-argon").unwrap().accepts_prefill());
        assert!(find("gemini-3.8-flash").unwrap().accepts_prefill());
    }

    #[test]
    fn aliases_list_what_their_target_accepts() {
        for alias in CATALOG.iter().filter(|m| m.serves_as.is_some()) {
            let target = alias.serving();
            assert_ne!(target.id, alias.id, "{} has a target", alias.id);
            assert_eq!(target.serving().id, target.id, "one hop");
            assert_eq!(
                (alias.levels, alias.default_level, alias.thinking),
                (target.levels, target.default_level, target.thinking),
                "{}",
                alias.id
            );
            assert_eq!(
                (alias.input_limit, alias.output_limit),
                (target.input_limit, target.output_limit)
            );
        }
    }

    #[test]
    fn every_model_has_googles_limits() {
        for m in CATALOG.iter().filter(|m| m.generates) {
            assert_eq!(
                (m.input_limit, m.output_limit),
                (1_048_576, 65_536),
                "{}",
                m.id
            );
            assert!(m.levels.is_empty() || m.levels.contains(&m.default_level));
            assert_eq!(m.resource()["thinking"], true, "{}", m.id);
        }
    }

    #[test]
    fn pagination_walks_the_whole_catalog() {
        let all = CATALOG.iter().filter(|m| m.visible("v1beta", true)).count();
        let half = all.div_ceil(2);
        let first = list_page("v1beta", true, Some(half), None);
        assert_eq!(first["models"].as_array().map(Vec::len), Some(half));
        let token = first["nextPageToken"].as_str().map(str::to_owned);
        let second = list_page("v1beta", true, Some(half), token.as_deref());
        assert_eq!(second["models"].as_array().map(Vec::len), Some(all - half));
        assert!(second.get("nextPageToken").is_none());
    }
}
