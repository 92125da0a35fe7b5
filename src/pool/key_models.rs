//! What the operator says about one key's models: the models it serves (`models`, `*`
//! patterns; every model when absent), those it must not be asked for (`exclude_models`), and
//! its share of the round-robin (`weight`). Declared in the config file's `keys` tables or on
//! the admin API; a key the rules keep from a model is never picked for it. What the pool learns
//! by itself (a tier without the model) is kept beside it, per key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::KeyPool;
use crate::glob;
use crate::store::StoreError;

/// The store document holding the rules operators set on the admin API (key id → rules, `null`
/// for "back to the defaults"); it overrides the config file's and is shared over Redis.
const DOCUMENT: &str = "key-models";

/// Heaviest weight accepted: a key takes at most this many turns per round.
pub const MAX_WEIGHT: u32 = 100;

/// One key's model rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyModels {
    /// Patterns of the models it serves; `None`: every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Patterns of the models it is never asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_models: Vec<String>,
    /// Round-robin turns it takes for each turn of a key of weight 1.
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

impl Default for KeyModels {
    fn default() -> Self {
        KeyModels {
            models: None,
            exclude_models: Vec::new(),
            weight: 1,
        }
    }
}

impl KeyModels {
    /// Whether the rules let the key serve `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|ms| ms.iter().any(|p| glob::matches(p, model)))
            && !self.exclude_models.iter().any(|p| glob::matches(p, model))
    }

    /// Whether these are the rules every key has without being told.
    pub fn is_default(&self) -> bool {
        *self == KeyModels::default()
    }

    /// The rules made tidy (`models/` prefixes dropped, blanks removed), or why they cannot be.
    pub fn checked(mut self) -> Result<KeyModels, String> {
        let tidy = |ps: Vec<String>| -> Vec<String> {
            ps.into_iter()
                .map(|p| p.trim().trim_start_matches("models/").to_string())
                .filter(|p| !p.is_empty())
                .collect()
        };
        self.models = self.models.map(tidy);
        self.exclude_models = tidy(self.exclude_models);
        if self.weight == 0 || self.weight > MAX_WEIGHT {
            return Err(format!("weight must be 1–{MAX_WEIGHT}"));
        }
        if self.models.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                "models = [] would keep the key from every model; leave it out for every model"
                    .into(),
            );
        }
        Ok(self)
    }
}

impl KeyPool {
    /// Sets an operator's rules for key `key_id` (`None`: the defaults) here and in the store,
    /// so they last and reach every gateway on it. `Ok(false)`: no such key in the pool.
    pub async fn declare_key_models(
        &self,
        key_id: &str,
        rules: Option<KeyModels>,
    ) -> Result<bool, StoreError> {
        if !self.set_key_models(key_id, rules.clone()) {
            return Ok(false);
        }
        let mut all = self.stored_key_models().await?;
        all.insert(key_id.to_string(), rules);
        let json = serde_json::to_vec(&all).unwrap_or_default();
        self.backend().put_document(DOCUMENT, json, None).await?;
        Ok(true)
    }

    /// Applies the rules operators set on the admin API (they override the config file's).
    pub async fn load_key_models(&self) -> Result<(), StoreError> {
        for (id, rules) in self.stored_key_models().await? {
            self.set_key_models(&id, rules);
        }
        Ok(())
    }

    async fn stored_key_models(&self) -> Result<BTreeMap<String, Option<KeyModels>>, StoreError> {
        let now = self.clock().now();
        let doc = self.backend().get_document(DOCUMENT, now).await?;
        Ok(doc
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_serves_what_its_patterns_name_and_not_what_they_exclude() {
        let rules = KeyModels {
            models: Some(vec!["gemini-4-*".into(), "gemini-3.8-flash".into()]),
            exclude_models: vec!["gemini-4-neon".into()],
            weight: 2,
        };
        assert!(rules.allows("gemini-4-carbon"));
        assert!(rules.allows("gemini-3.8-flash"));
        assert!(!rules.allows("gemini-4-neon"));
        assert!(!rules.allows("gemini-3.1-pro-preview"));
        assert!(KeyModels::default().allows("anything"));
        assert!(KeyModels::default().is_default());
    }

    #[test]
    fn rules_are_tidied_and_nonsense_is_refused() {
        let rules = KeyModels {
            models: Some(vec![" models/gemini-4-* ".into()]),
            ..KeyModels::default()
        }
        .checked()
        .unwrap();
        assert_eq!(rules.models.unwrap(), ["gemini-4-*"]);
        let zero = KeyModels {
            weight: 0,
            ..KeyModels::default()
        };
        assert!(zero.checked().is_err());
        let none = KeyModels {
            models: Some(vec![]),
            ..KeyModels::default()
        };
        assert!(none.checked().is_err());
    }
}
