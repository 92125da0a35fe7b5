//! The pool as the status page and `/health` see it: every key by id and masked form (never the
//! key), its state, per-model cooldowns and ejections, and each quota group's limits and
//! headroom.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::pacing::Headroom;
use crate::clock::UnixMillis;

/// What made the pool decide something about a key: the upstream's own words (redacted, never a
/// key), when, and the request that met them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    pub words: Arc<str>,
    #[serde(serialize_with = "as_iso8601")]
    pub at: UnixMillis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Arc<str>>,
}

fn as_iso8601<S: serde::Serializer>(at: &UnixMillis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::iso8601(*at))
}

/// An outcome's evidence before the pool stamps its time: the words, and the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Because {
    pub words: Arc<str>,
    pub request_id: Option<Arc<str>>,
}

impl Because {
    /// The evidence, as of `at`.
    pub fn at(&self, at: UnixMillis) -> Evidence {
        Evidence {
            words: self.words.clone(),
            at,
            request_id: self.request_id.clone(),
        }
    }

    /// The same, its words prefixed.
    pub fn said(&self, prefix: &str) -> Because {
        Because {
            words: format!("{prefix}{}", self.words).into(),
            request_id: self.request_id.clone(),
        }
    }
}

/// Why a key stands where it does, decision by decision (model → evidence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyEvidence {
    pub cooldowns: BTreeMap<String, Evidence>,
    pub ejections: BTreeMap<String, Evidence>,
    /// Models its answers said its tier lacks.
    pub lacking: BTreeMap<String, Evidence>,
    /// What put it in its learned group.
    pub group: Option<Evidence>,
}

/// Why and since when a key is out for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub reason: String,
    pub since: UnixMillis,
}

/// Where a key stands, as the seed's status endpoint groups keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHealth {
    /// Usable for at least one model (it may still cool for some; see `cooldowns`).
    Available,
    /// Cooling for every model requested so far; usable again at `until` for at least one.
    Cooling { until: UnixMillis },
    /// Its project is out of money (a spend cap, depleted credits, a spend-based limit): out
    /// for every model until `until`, or until an operator clears it. The reason is its
    /// `last_error`.
    Billing { until: UnixMillis },
    /// Out until an operator re-enables it.
    Disabled(Disabled),
}

/// One key's ejection for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EjectionView {
    /// Ejections in a row.
    pub times: u32,
    /// Out until then (then one probe).
    pub until: UnixMillis,
    pub probing: bool,
}

/// One key as the status endpoint shows it: never the key itself.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub id: String,
    pub masked: String,
    /// Its quota group's name (a project), and whether the operator declared it.
    pub group: String,
    pub group_declared: bool,
    pub health: KeyHealth,
    /// model → live cooldown deadline.
    pub cooldowns: BTreeMap<String, UnixMillis>,
    /// model → live ejection.
    pub ejections: BTreeMap<String, EjectionView>,
    /// Models its tier lacks (the live catalog's listing for it does not name them).
    pub lacking: Vec<String>,
    /// Why it stands where it does: its cooldowns, ejections, learned missing models (until
    /// the catalog is read again) and learned group, each with its evidence.
    pub evidence: KeyEvidence,
    /// What the operator says about its models and weight, when anything.
    pub model_rules: Option<super::KeyModels>,
    pub last_error: Option<String>,
    pub requests: u64,
    pub failures: u64,
}

/// One quota group: its keys and, per model, its limits and what it used of them.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub name: String,
    pub declared: bool,
    pub keys: Vec<String>,
    pub models: Vec<(String, Headroom)>,
    /// "model kind" → what taught each learned limit.
    pub limit_evidence: BTreeMap<String, Evidence>,
}

#[derive(Debug, Clone)]
pub struct PoolSnapshot {
    pub now: UnixMillis,
    pub keys: Vec<KeyView>,
    pub groups: Vec<GroupView>,
    /// Models overloaded everywhere, and until when.
    pub overloaded: BTreeMap<String, UnixMillis>,
}

impl PoolSnapshot {
    pub fn count(&self, pred: impl Fn(&KeyHealth) -> bool) -> usize {
        self.keys.iter().filter(|k| pred(&k.health)).count()
    }
}

/// Why no key serves a model now, counted over the pool's keys: what a 503 tells the client
/// (it never says keys are rate-limited or disabled when none is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unserved {
    /// Resting after a 429 (or held back by their project's known limits).
    pub rate_limited: usize,
    /// Their project is out of money (a spend cap, depleted credits).
    pub billing: usize,
    pub disabled: usize,
    /// Out for a moment after upstream errors.
    pub ejected: usize,
    /// Their tier does not have the model.
    pub lacking: usize,
    /// Gemini said the model is overloaded on most keys: no key is sent to it for a moment.
    pub model_overloaded: bool,
}

impl Unserved {
    /// The reason, after "No Gemini API key is available for {model}: ".
    pub fn describe(&self) -> String {
        if self.model_overloaded {
            return "Gemini answered that the model is overloaded on most keys, so none is sent \
                    to it for a moment."
                .to_string();
        }
        let out = self.rate_limited + self.billing + self.disabled + self.ejected + self.lacking;
        if out == 0 || out == self.rate_limited + self.disabled {
            return "every key is rate-limited or disabled.".to_string();
        }
        let parts: Vec<String> = [
            (self.rate_limited, "rate-limited"),
            (
                self.billing,
                "out of budget (a spend cap or prepaid credits)",
            ),
            (self.disabled, "disabled"),
            (self.ejected, "resting after upstream errors"),
            (self.lacking, "without access to the model"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        format!("of its keys, {}.", parts.join(", "))
    }
}
