//! Which model answers a moving alias. Google's `gemini-flash-latest` and `gemini-pro-latest`
//! are listed without saying what they point at (their `version` is "Gemini Flash Latest"), so
//! the rules table cannot know their family from the name, and gives them the newest family's
//! strict rules. Every answer names the model that produced it (`modelVersion`): dispatch
//! notes it here for names the table does not know, and from then on requests for the alias are
//! shaped — and its broken streams continued — by the rules of the model that serves it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::rules::Rules;

/// Most aliases remembered (a bound: clients may name anything the catalog lists).
const MAX_NAMES: usize = 64;

/// Alias → the model that last answered it.
#[derive(Debug, Default)]
pub struct Served(Mutex<HashMap<Arc<str>, Arc<str>>>);

impl Served {
    /// Whether answers for `model` are worth reading for their `modelVersion`: only names the
    /// rules table does not know.
    pub fn wants(model: &str) -> bool {
        Rules::of(model).family == "newest"
    }

    /// `model_version` answered a request for `model`.
    pub fn learn(&self, model: &str, model_version: &str) {
        let version = model_version
            .strip_prefix("models/")
            .unwrap_or(model_version);
        if version.is_empty() || version == model || !Self::wants(model) {
            return;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(model).is_some_and(|v| **v == *version) {
            return;
        }
        if map.len() >= MAX_NAMES && !map.contains_key(model) {
            return;
        }
        map.insert(model.into(), version.into());
    }

    /// The name whose rules `model` follows: the model last seen answering it, else itself.
    /// (Borrowed, without a lookup, for every name the table knows: the common case.)
    pub fn rules_name<'a>(&self, model: &'a str) -> Cow<'a, str> {
        if !Self::wants(model) {
            return Cow::Borrowed(model);
        }
        self.answering(model)
            .map_or(Cow::Borrowed(model), |v| Cow::Owned(v.to_string()))
    }

    /// The rules `model` follows (see [`Served::rules_name`]).
    pub fn rules(&self, model: &str) -> &'static Rules {
        let own = Rules::of(model);
        if own.family != "newest" {
            return own;
        }
        self.answering(model).map_or(own, |v| Rules::of(&v))
    }

    /// The model last seen answering `model`, if any.
    fn answering(&self, model: &str) -> Option<Arc<str>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(model).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_follows_the_model_that_answers_it() {
        let s = Served::default();
        assert_eq!(s.rules("gemini-flash-latest").family, "newest");
        s.learn("gemini-flash-latest", "gemini-3.8-flash");
        assert_eq!(&*s.rules_name("gemini-flash-latest"), "gemini-3.8-flash");
        assert!(s.rules("gemini-flash-latest").prefill);
        // It moves when the alias moves.
        s.learn("gemini-flash-latest", "models/gemini-4-hydrogen");
        assert!(!s.rules("gemini-flash-latest").prefill);
        // Names the table knows are never overridden.
        s.learn("gemini-3.8-flash", "gemini-4-argon");
        assert_eq!(&*s.rules_name("gemini-3.8-flash"), "gemini-3.8-flash");
    }
}
