//! The pool's local view: each key's state in this process's memory, and every decision made
//! from it. A key serves a scope when it is not disabled, not resting for it, not ejected (or it
//! is its turn to probe), and its quota group has headroom under every known limit; among those,
//! round-robin with one cursor per model. A 429 rests the key's whole group and teaches limits
//! and groups; a transient failure ejects the (key, model); a success closes what was open.
//! Pure and synchronous (one short mutex); the async [`super::KeyPool`] wraps it with a store.

use std::collections::{BTreeSet, HashMap, HashSet};

use foldhash::HashMap as FastMap;
use foldhash::HashMapExt;
use std::sync::Mutex;
use std::time::Duration;

use super::ejection::{Admission, Ejection, Overload};
use super::groups::{GroupId, Groups, Regroup, SAME_WINDOW_MS};
use super::key_models::KeyModels;
use super::pacing::{DeclaredLimit, Pacing, NO_QUOTA_REST_MS};
use super::view::{Because, Disabled, Evidence, KeyEvidence, Unserved};
use super::{is_model, Scope, ALL_MODELS};
use crate::clock::{next_daily_reset, next_monthly_reset, Clock, UnixMillis};
use crate::secret::ApiKey;
use crate::store::{Change, CounterDelta};
use crate::upstream::billing::Billing;
use crate::upstream::classify::{Cooldown, QuotaKind, RateLimit, Verdict};

#[derive(Debug, Clone)]
struct KeyState {
    key: ApiKey,
    /// Taken out of the pool by an operator; the slot stays so indexes remain stable.
    removed: bool,
    disabled: Option<Disabled>,
    /// model → when the key may serve that model again.
    cooldowns: FastMap<String, UnixMillis>,
    /// model → outlier ejection.
    ejections: FastMap<String, Ejection>,
    /// model → when this key last sent a request for it.
    last_sent: FastMap<String, UnixMillis>,
    /// Models this key itself was refused with a 429 for: only for these does a learned group's
    /// rest or pacing hold it back.
    limited: HashSet<String>,
    /// What the operator says about its models and weight (`None`: the defaults).
    rules: Option<Box<KeyModels>>,
    /// The evidence of its cooldowns, ejections and learned group, and the models its answers
    /// said its tier lacks (forgotten when the catalog is read again or an operator clears it).
    why: KeyEvidence,
    last_error: Option<String>,
    requests: u64,
    failures: u64,
    /// Counts not yet handed to the store.
    unflushed: CounterDelta,
}

impl KeyState {
    fn new(key: ApiKey) -> KeyState {
        KeyState {
            key,
            removed: false,
            disabled: None,
            cooldowns: FastMap::new(),
            ejections: FastMap::new(),
            last_sent: FastMap::new(),
            limited: HashSet::new(),
            rules: None,
            why: KeyEvidence::default(),
            last_error: None,
            requests: 0,
            failures: 0,
            unflushed: CounterDelta::default(),
        }
    }

    fn rests_for(&self, model: &str, now: UnixMillis) -> bool {
        !self.cooldowns.is_empty() && self.rest_until(model).is_some_and(|until| until > now)
    }

    /// When this key's rest for `model` ends: its own for the model, or its rest for every
    /// model (a billing refusal; not for the model catalog).
    fn rest_until(&self, model: &str) -> Option<UnixMillis> {
        let own = self.cooldowns.get(model).copied();
        let all = is_model(model)
            .then(|| self.cooldowns.get(ALL_MODELS).copied())
            .flatten();
        own.max(all)
    }

    fn in_rotation(&self, model: &str, now: UnixMillis) -> bool {
        !self.removed && self.disabled.is_none() && !self.rests_for(model, now)
    }

    /// Whether the operator's rules or what its answers taught keep this key from `model` (the
    /// catalog's listing aside; never for the model catalog itself).
    fn refuses(&self, model: &str) -> bool {
        is_model(model)
            && ((!self.why.lacking.is_empty() && self.why.lacking.contains_key(model))
                || self.rules.as_ref().is_some_and(|r| !r.allows(model)))
    }

    /// Its share of a model's round-robin turns.
    fn weight(&self) -> usize {
        self.rules.as_ref().map_or(1, |r| r.weight as usize)
    }

    fn admission(&self, model: &str, now: UnixMillis) -> Admission {
        self.ejections
            .get(model)
            .map_or(Admission::Open, |e| e.admission(now))
    }
}

/// A group's rest on a quota for a model: since when, until when, and for which limit.
#[derive(Debug, Clone, Copy)]
struct Rest {
    since: UnixMillis,
    until: UnixMillis,
    kind: QuotaKind,
}

#[derive(Debug, Default)]
struct PoolState {
    keys: Vec<KeyState>,
    /// Models requested through the pool, to tell "cooling for everything" from "for some"
    /// (the model catalog is not a model: listing models does not count).
    models_seen: BTreeSet<String>,
    /// Round-robin turn per scope name: requests for one model rotate over its keys whatever
    /// the other models do.
    cursors: FastMap<String, usize>,
    groups: Groups,
    pacing: Pacing,
    /// (group, model) → its current quota rest.
    rests: FastMap<(GroupId, String), Rest>,
    /// model → overload reports and the model-wide ejection.
    overloads: FastMap<String, Overload>,
    /// Models that refuse a request ending with a model turn.
    no_prefill: BTreeSet<String>,
    /// model → the keys that lack it (their tier does not list it), from the live catalog.
    lacking: FastMap<String, Vec<usize>>,
    /// (group, "model kind") → what taught a learned limit.
    limit_why: FastMap<(GroupId, String), Evidence>,
}

impl PoolState {
    /// Whether key `index` lacks `model`: the catalog's listing for it does not name it, its
    /// answers said so, or the operator's rules keep it from it.
    fn lacks(&self, index: usize, model: &str) -> bool {
        (!self.lacking.is_empty()
            && self
                .lacking
                .get(model)
                .is_some_and(|keys| keys.contains(&index)))
            || self.keys.get(index).is_some_and(|k| k.refuses(model))
    }

    /// Keys usable for `model` now (ejections aside): the base for "at most half ejected".
    fn usable_count(&self, model: &str, now: UnixMillis) -> usize {
        (0..self.keys.len())
            .filter(|&i| self.keys[i].in_rotation(model, now) && !self.lacks(i, model))
            .count()
    }

    /// Usable keys other than `except` that are ejected for `model` or have not yet passed the
    /// probe that brings them back: whatever moment it is, no more of them are out.
    fn ejected_count(&self, model: &str, now: UnixMillis, except: usize) -> usize {
        (0..self.keys.len())
            .filter(|&i| i != except)
            .filter(|&i| self.keys[i].in_rotation(model, now) && !self.lacks(i, model))
            .filter(|&i| {
                self.keys[i]
                    .ejections
                    .get(model)
                    .is_some_and(|e| e.times > 0)
            })
            .count()
    }
}

/// A key handed out for one upstream attempt.
#[derive(Debug, Clone)]
pub struct Lease {
    pub index: usize,
    pub key: ApiKey,
    /// A half-open probe of an ejected key or an overloaded model: its failure says nothing new
    /// and spends no budget.
    pub probe: bool,
}

/// What the operator said about quotas: key id → project, and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaPlan {
    pub groups: HashMap<String, String>,
    pub limits: Vec<DeclaredLimit>,
    /// key id → what the operator says about its models and weight.
    pub key_models: HashMap<String, KeyModels>,
}

/// Every key and its state, in memory.
#[derive(Debug)]
pub struct LocalView {
    state: Mutex<PoolState>,
    clock: Clock,
    default_cooldown: Duration,
}

impl LocalView {
    pub fn new(keys: Vec<ApiKey>, default_cooldown: Duration, clock: Clock) -> LocalView {
        LocalView::planned(keys, &QuotaPlan::default(), default_cooldown, clock)
    }

    pub fn planned(
        keys: Vec<ApiKey>,
        plan: &QuotaPlan,
        default_cooldown: Duration,
        clock: Clock,
    ) -> LocalView {
        let mut state = PoolState {
            pacing: Pacing::new(plan.limits.clone()),
            ..PoolState::default()
        };
        for (i, key) in keys.into_iter().enumerate() {
            state
                .groups
                .add(i, key.id(), plan.groups.get(key.id()).map(String::as_str));
            let mut s = KeyState::new(key);
            s.rules = plan
                .key_models
                .get(s.key.id())
                .filter(|r| !r.is_default())
                .map(|r| Box::new(r.clone()));
            state.keys.push(s);
        }
        LocalView {
            state: Mutex::new(state),
            clock,
            default_cooldown,
        }
    }

    /// Keys in the pool (not counting removed ones).
    pub fn len(&self) -> usize {
        self.lock().keys.iter().filter(|s| !s.removed).count()
    }

    /// Key slots, removed ones included (indexes run below it).
    pub fn slots(&self) -> usize {
        self.lock().keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // A panic while holding the lock cannot leave the state half-written in a way that
        // matters more than refusing all traffic would, so recover the guard.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next key for `scope` for a request of about `tokens` input tokens, skipping keys
    /// already `tried` for this request. A `preferred` key (conversation affinity) is taken
    /// while it is usable.
    pub fn pick(
        &self,
        scope: Scope<'_>,
        tried: &[usize],
        preferred: Option<usize>,
        tokens: u64,
    ) -> Option<Lease> {
        let now = self.clock.now();
        let mut guard = self.lock();
        let state = &mut *guard;
        note(&mut state.models_seen, scope);
        let name = scope.name();
        let model_probe = match state.overloads.get(name).map(|o| o.ejection.admission(now)) {
            Some(Admission::Out(_)) => return None,
            Some(Admission::Probe) => true,
            Some(Admission::Open) | None => false,
        };
        let (keys, groups, pacing) = (&state.keys, &state.groups, &state.pacing);
        let lacking = state.lacking.get(name);
        let usable = |i: usize| {
            let k = &keys[i];
            !tried.contains(&i)
                && k.in_rotation(name, now)
                && !lacking.is_some_and(|l| l.contains(&i))
                && !k.refuses(name)
                && !matches!(k.admission(name, now), Admission::Out(_))
                && {
                    let g = groups.of(i);
                    pacing.admits(g, groups.name(g), name, tokens, now).is_ok()
                        || !held_by_group(groups, g, k, name)
                }
        };
        let chosen = match preferred {
            Some(p) if p < keys.len() && usable(p) => Some(p),
            _ => {
                // Two passes over the keys instead of a list of candidates: no allocation on
                // the request path. A key of weight w takes w turns of each round.
                let candidates = || (0..keys.len()).filter(|&i| usable(i));
                match candidates().map(|i| keys[i].weight()).sum::<usize>() {
                    0 => None,
                    n => {
                        let turn = match state.cursors.get_mut(name) {
                            Some(turn) => turn,
                            None => state.cursors.entry(name.to_string()).or_default(),
                        };
                        let mine = *turn;
                        *turn = turn.wrapping_add(1);
                        let mut slot = mine % n;
                        candidates().find(|&i| {
                            let w = keys[i].weight();
                            let here = slot < w;
                            slot = slot.saturating_sub(w);
                            here
                        })
                    }
                }
            }
        }?;
        let group = state.groups.of(chosen);
        state.pacing.sent(group, name, chosen, tokens, now);
        let s = &mut state.keys[chosen];
        let mut probe = model_probe;
        if let Some(e) = s.ejections.get_mut(name) {
            if e.admission(now) == Admission::Probe {
                e.probing = true;
                probe = true;
            }
        }
        if model_probe {
            if let Some(o) = state.overloads.get_mut(name) {
                o.ejection.probing = true;
            }
        }
        match s.last_sent.get_mut(name) {
            Some(at) => *at = now,
            None => {
                s.last_sent.insert(name.to_string(), now);
            }
        }
        s.requests += 1;
        s.unflushed.requests += 1;
        Some(Lease {
            index: chosen,
            key: s.key.clone(),
            probe,
        })
    }

    /// Records a successful attempt: an ejection or a model-wide overload ends; a learned group
    /// that rests on a quota since before this key's send is proved wrong about this key.
    pub fn record_success(&self, index: usize, scope: Scope<'_>) -> Vec<Change> {
        let now = self.clock.now();
        let name = scope.name();
        let mut guard = self.lock();
        let state = &mut *guard;
        if index >= state.keys.len() {
            return Vec::new();
        }
        let mut changes = Vec::new();
        state.groups.served(index, now);
        let s = &mut state.keys[index];
        if !s.ejections.is_empty() && s.ejections.remove(name).is_some() {
            changes.push(Change::Healed {
                key_id: s.key.id().to_string(),
                model: name.to_string(),
            });
        }
        let sent = s.last_sent.get(name).copied().unwrap_or(0);
        if let Some(o) = state.overloads.get_mut(name) {
            if o.ejection.times > 0 {
                changes.push(Change::OverloadCleared {
                    model: name.to_string(),
                });
            }
            o.clear();
        }
        let group = state.groups.of(index);
        let contradicted = state
            .rests
            .get(&(group, name.to_string()))
            .is_some_and(|r| r.until > now && r.since < sent);
        if !contradicted || state.groups.is_declared(group) {
            return changes;
        }
        let key_id = state.keys[index].key.id().to_string();
        let split = state.groups.split(index, &key_id);
        changes.extend(regroup(state, split));
        state.keys[index].cooldowns.remove(name);
        changes.push(Change::ClearCooldown {
            key_id,
            model: Some(name.to_string()),
        });
        changes
    }

    /// Why no key serves `scope` now (for a request of about `tokens`), key by key.
    pub fn unserved(&self, scope: Scope<'_>, tokens: u64) -> Unserved {
        let now = self.clock.now();
        let state = self.lock();
        let name = scope.name();
        let mut why = Unserved {
            model_overloaded: state
                .overloads
                .get(name)
                .is_some_and(|o| matches!(o.ejection.admission(now), Admission::Out(_))),
            ..Unserved::default()
        };
        for (i, k) in state.keys.iter().enumerate().filter(|(_, k)| !k.removed) {
            let g = state.groups.of(i);
            let all_models =
                is_model(name) && k.cooldowns.get(ALL_MODELS).is_some_and(|&t| t > now);
            if k.disabled.is_some() {
                why.disabled += 1;
            } else if state.lacks(i, name) {
                why.lacking += 1;
            } else if all_models {
                why.billing += 1;
            } else if k.rests_for(name, now) {
                why.rate_limited += 1;
            } else if matches!(k.admission(name, now), Admission::Out(_)) {
                why.ejected += 1;
            } else if state
                .pacing
                .admits(g, state.groups.name(g), name, tokens, now)
                .is_err()
                && held_by_group(&state.groups, g, k, name)
            {
                why.rate_limited += 1;
            }
        }
        why
    }

    /// A transient failure that was the request's, not the key's: the key keeps its standing;
    /// if the attempt was its probe, the probe is released.
    pub fn excuse(&self, index: usize, scope: Scope<'_>) {
        let mut state = self.lock();
        if let Some(e) = state
            .keys
            .get_mut(index)
            .and_then(|s| s.ejections.get_mut(scope.name()))
        {
            e.probing = false;
        }
    }
}

/// Remembers a model requested (the catalog is not one).
fn note(models_seen: &mut BTreeSet<String>, scope: Scope<'_>) {
    if let Scope::Model(model) = scope {
        if !models_seen.contains(model) {
            models_seen.insert(model.to_string());
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

#[path = "local_failures.rs"]
mod failures;
use failures::{held_by_group, regroup};

#[path = "local_reset.rs"]
mod reset;

#[path = "local_sync.rs"]
mod sync;

#[path = "local_owners.rs"]
mod owners;
pub use owners::OwnerKeys;

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod schedule_tests;
