//! The live model catalog: the models the pool's keys can use, as Google's `models.list` told
//! each key, under each API version. Pure data — fetching it is `refresh`'s, keeping it is the
//! store's — with the questions the gateway asks of it: does a model exist, under which API
//! version is it served, what are its limits, which keys lack it, which live names are closest
//! to a name that does not exist, and which models are the newest of a tier.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::UnixMillis;

/// The API versions the catalog is read from, preferred first.
pub const VERSIONS: [&str; 2] = ["v1beta", "v1alpha"];

/// One model the keys can use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub display_name: String,
    pub input_token_limit: Option<u32>,
    pub output_token_limit: Option<u32>,
    pub thinking: bool,
    /// `supportedGenerationMethods`.
    pub methods: Vec<String>,
    /// The API versions that list it, in [`VERSIONS`] order.
    pub versions: Vec<String>,
    /// Ids of the keys whose listing named it.
    pub keys: BTreeSet<String>,
    /// The `Model` resource as Google sent it (served as is to native clients).
    pub resource: Value,
}

impl Entry {
    /// From one `Model` resource of a listing; `None` when it has no name.
    pub fn from_resource(resource: &Value) -> Option<Entry> {
        let name = resource.get("name")?.as_str()?;
        let id = name.strip_prefix("models/").unwrap_or(name).to_string();
        let limit = |field: &str| {
            resource
                .get(field)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        Some(Entry {
            display_name: resource
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string(),
            input_token_limit: limit("inputTokenLimit"),
            output_token_limit: limit("outputTokenLimit"),
            thinking: resource.get("thinking") == Some(&Value::Bool(true)),
            methods: resource
                .get("supportedGenerationMethods")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            versions: Vec::new(),
            keys: BTreeSet::new(),
            resource: resource.clone(),
            id,
        })
    }

    /// Whether it answers `generateContent`.
    pub fn generates(&self) -> bool {
        self.methods.iter().any(|m| m == "generateContent")
    }
}

/// What the keys said, merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// When it was read (Unix ms).
    pub fetched_at: UnixMillis,
    pub models: BTreeMap<String, Entry>,
    /// Ids of the keys whose listing succeeded: only they can be known to lack a model.
    pub listed_by: BTreeSet<String>,
}

impl Catalog {
    /// Adds what key `key_id` listed under API `version` (its listing succeeded).
    pub fn add_listing(&mut self, key_id: &str, version: &str, resources: &[Value]) {
        self.listed_by.insert(key_id.to_string());
        for r in resources {
            let Some(fresh) = Entry::from_resource(r) else {
                continue;
            };
            let entry = self.models.entry(fresh.id.clone()).or_insert_with(|| fresh);
            if !entry.versions.iter().any(|v| v == version) {
                entry.versions.push(version.to_string());
                entry
                    .versions
                    .sort_by_key(|v| VERSIONS.iter().position(|k| k == v));
            }
            entry.keys.insert(key_id.to_string());
        }
    }

    pub fn get(&self, model: &str) -> Option<&Entry> {
        self.models
            .get(model.strip_prefix("models/").unwrap_or(model))
    }

    /// The API version to call `model` under: the first that lists it.
    pub fn api_version(&self, model: &str) -> Option<&str> {
        self.get(model)?.versions.first().map(String::as_str)
    }

    /// Whether `version` serves `model`.
    pub fn serves(&self, version: &str, model: &str) -> bool {
        self.get(model)
            .is_some_and(|e| e.versions.iter().any(|v| v == version))
    }

    /// The models a listing under `version` shows (`v1` shows what `v1beta` does).
    pub fn listed_under<'a>(&'a self, version: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        let version = if version == "v1" { "v1beta" } else { version };
        self.models
            .values()
            .filter(move |e| e.versions.iter().any(|v| v == version))
    }

    /// For each model, the ids of the keys whose listing succeeded and did not name it.
    pub fn lacking(&self) -> BTreeMap<String, Vec<String>> {
        self.models
            .values()
            .filter_map(|e| {
                let lacking: Vec<String> = self
                    .listed_by
                    .iter()
                    .filter(|k| !e.keys.contains(*k))
                    .cloned()
                    .collect();
                (!lacking.is_empty()).then(|| (e.id.clone(), lacking))
            })
            .collect()
    }

    /// Up to `n` live model ids closest to `name` (the generating ones, or the embedding ones
    /// when `name` is an embedding name), nearest first.
    pub fn closest(&self, name: &str, n: usize) -> Vec<String> {
        let wants_embedding = name.contains("embedding");
        let mut scored: Vec<(f64, &str)> = self
            .models
            .values()
            .filter(|e| e.generates() != wants_embedding)
            .map(|e| (strsim::jaro_winkler(name, &e.id), e.id.as_str()))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(n)
            .map(|(_, id)| id.to_string())
            .collect()
    }

    /// The newest generating model of a tier: the id `alias` (Google's moving `-latest`) when
    /// listed, else the highest version whose name has `-{tier}` (not `-{tier}-lite`, nor an
    /// image, audio or live variant), a stable name before a preview of the same version.
    pub fn newest(&self, tier: &str, alias: &str) -> Option<&str> {
        if let Some(e) = self.get(alias).filter(|e| e.generates()) {
            return Some(e.id.as_str());
        }
        let marker = format!("-{tier}");
        self.models
            .values()
            .filter(|e| e.generates())
            .filter(|e| {
                e.id.starts_with("gemini-")
                    && e.id.contains(&marker)
                    && !e.id.contains(&format!("{marker}-lite"))
                    && !["image", "audio", "live", "tts"]
                        .iter()
                        .any(|x| e.id.contains(x))
            })
            .max_by(|a, b| {
                version_number(&a.id)
                    .total_cmp(&version_number(&b.id))
                    .then_with(|| is_stable(&a.id).cmp(&is_stable(&b.id)))
                    .then_with(|| b.id.cmp(&a.id))
            })
            .map(|e| e.id.as_str())
    }
}

/// `3.8` of `gemini-3.8-flash`; 0 when the name has no version.
fn version_number(id: &str) -> f64 {
    id.strip_prefix("gemini-")
        .and_then(|r| r.split('-').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn is_stable(id: &str) -> bool {
    !(id.contains("preview") || id.contains("exp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(id: &str, methods: &[&str]) -> Value {
        json!({"name": format!("models/{id}"), "displayName": id, "inputTokenLimit": 1048576,
               "outputTokenLimit": 65536, "thinking": true, "supportedGenerationMethods": methods})
    }

    fn sample() -> Catalog {
        let gen = ["generateContent", "countTokens"];
        let mut c = Catalog::default();
        let beta = [
            model("gemini-3.8-flash", &gen),
            model("gemini-3.5-flash", &gen),
            model("gemini-3.5-flash-lite", &gen),
            model("gemini-3.1-pro-preview", &gen),
            model("gemini-3.1-flash-image", &gen),
            model("gemini-embedding-001", &["embedContent"]),
        ];
        let alpha_paid = [
            beta.to_vec(),
            vec![
                model("gemini-4-argon", &gen),
                model("gemini-4-carbon", &gen),
            ],
        ]
        .concat();
        let alpha_free = [beta.to_vec(), vec![model("gemini-4-argon", &gen)]].concat();
        c.add_listing("paid", "v1beta", &beta);
        c.add_listing("paid", "v1alpha", &alpha_paid);
        c.add_listing("free", "v1beta", &beta);
        c.add_listing("free", "v1alpha", &alpha_free);
        c
    }

    #[test]
    fn versions_and_keys_are_merged() {
        let c = sample();
        assert_eq!(c.api_version("gemini-3.8-flash"), Some("v1beta"));
        assert_eq!(c.api_version("models/gemini-4-argon"), Some("v1alpha"));
        assert!(!c.serves("v1beta", "gemini-4-argon"));
        assert_eq!(c.listed_under("v1").count(), 6);
        assert_eq!(c.listed_under("v1alpha").count(), 8);
        let e = c.get("gemini-3.8-flash").unwrap();
        assert_eq!((e.output_token_limit, e.thinking), (Some(65536), true));
        assert_eq!(
            c.lacking(),
            BTreeMap::from([("gemini-4-carbon".to_string(), vec!["free".to_string()])])
        );
    }

    #[test]
    fn the_closest_live_names() {
        let c = sample();
        assert_eq!(c.closest("gemini-3.8-flsh", 1), ["gemini-3.8-flash"]);
        assert_eq!(c.closest("text-embedding-004", 3), ["gemini-embedding-001"]);
        assert_eq!(c.closest("gemini-2.5-pro", 3).len(), 3);
    }

    #[test]
    fn the_newest_of_a_tier() {
        let mut c = sample();
        assert_eq!(
            c.newest("flash", "gemini-flash-latest"),
            Some("gemini-3.8-flash")
        );
        assert_eq!(
            c.newest("pro", "gemini-pro-latest"),
            Some("gemini-3.1-pro-preview")
        );
        c.add_listing(
            "paid",
            "v1beta",
            &[model("gemini-flash-latest", &["generateContent"])],
        );
        assert_eq!(
            c.newest("flash", "gemini-flash-latest"),
            Some("gemini-flash-latest")
        );
        assert_eq!(Catalog::default().newest("pro", "gemini-pro-latest"), None);
    }

    #[test]
    fn it_round_trips_through_json() {
        let c = sample();
        let back: Catalog = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
