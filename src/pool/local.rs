//! The pool's local view: each key's state in this process's memory, and every decision made
//! from it — round-robin selection (one cursor per model) over the keys usable for a scope,
//! cooldowns that only move later, permanent disables. Pure and synchronous (one short mutex);
//! the async [`super::KeyPool`] wraps it with a store that makes the facts last or shares them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::Scope;
use crate::clock::{next_daily_reset, Clock, UnixMillis};
use crate::secret::ApiKey;
use crate::store::{Change, CounterDelta, StoredState};
use crate::upstream::classify::{Cooldown, Verdict};

/// Why and since when a key is out for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub reason: String,
    pub since: UnixMillis,
}

#[derive(Debug, Clone)]
struct KeyState {
    key: ApiKey,
    /// Taken out of the pool by an operator; the slot stays so indexes remain stable.
    removed: bool,
    disabled: Option<Disabled>,
    /// model → when the key may serve that model again.
    cooldowns: HashMap<String, UnixMillis>,
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
            cooldowns: HashMap::new(),
            last_error: None,
            requests: 0,
            failures: 0,
            unflushed: CounterDelta::default(),
        }
    }

    fn usable_for(&self, model: &str, now: UnixMillis) -> bool {
        !self.removed
            && self.disabled.is_none()
            && self.cooldowns.get(model).is_none_or(|&until| until <= now)
    }
}

#[derive(Debug, Default)]
struct PoolState {
    keys: Vec<KeyState>,
    /// Models requested through the pool, to tell "cooling for everything" from "for some"
    /// (the model catalog is not a model: listing models does not count).
    models_seen: BTreeSet<String>,
    /// Round-robin turn per scope name: requests for one model rotate over its keys whatever
    /// the other models do.
    cursors: HashMap<String, usize>,
}

/// A key handed out for one upstream attempt.
#[derive(Debug, Clone)]
pub struct Lease {
    pub index: usize,
    pub key: ApiKey,
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
        let state = PoolState {
            keys: keys.into_iter().map(KeyState::new).collect(),
            ..PoolState::default()
        };
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

    /// The next key for `scope`, skipping keys already `tried` for this request. A `preferred`
    /// key (conversation affinity) is taken while it is usable.
    pub fn pick(
        &self,
        scope: Scope<'_>,
        tried: &[usize],
        preferred: Option<usize>,
    ) -> Option<Lease> {
        let now = self.clock.now();
        let mut guard = self.lock();
        let state = &mut *guard;
        note(&mut state.models_seen, scope);
        let name = scope.name();
        let keys = &state.keys;
        let usable = |i: usize| !tried.contains(&i) && keys[i].usable_for(name, now);
        let chosen = match preferred {
            Some(p) if p < keys.len() && usable(p) => Some(p),
            _ => {
                // Two passes over the keys instead of a list of candidates: no allocation on
                // the request path.
                let candidates = || (0..keys.len()).filter(|&i| usable(i));
                match candidates().count() {
                    0 => None,
                    n => {
                        let turn = match state.cursors.get_mut(name) {
                            Some(turn) => turn,
                            None => state.cursors.entry(name.to_string()).or_default(),
                        };
                        let mine = *turn;
                        *turn = turn.wrapping_add(1);
                        candidates().nth(mine % n)
                    }
                }
            }
        }?;
        let s = &mut state.keys[chosen];
        s.requests += 1;
        s.unflushed.requests += 1;
        Some(Lease {
            index: chosen,
            key: s.key.clone(),
        })
    }

    /// Records a failed attempt and applies its verdict to the key. Returns the fact learned
    /// (a cooldown with its resulting deadline, or a new disable) for the store.
    pub fn record_failure(
        &self,
        index: usize,
        scope: Scope<'_>,
        verdict: &Verdict,
    ) -> Option<Change> {
        let model = scope.name();
        let now = self.clock.now();
        let mut state = self.lock();
        let s = state.keys.get_mut(index)?;
        let label = verdict.label();
        s.failures += 1;
        s.last_error = Some(label.to_string());
        s.unflushed.failures += 1;
        s.unflushed.last_error = Some(label.to_string());
        let key_id = s.key.id().to_string();
        match verdict {
            Verdict::RateLimited(cooldown) => {
                let until = match cooldown {
                    Cooldown::For(d) => now + millis(*d),
                    Cooldown::UntilDailyReset => next_daily_reset(now),
                    Cooldown::Configured => now + millis(self.default_cooldown),
                };
                let deadline = s.cooldowns.entry(model.to_string()).or_insert(until);
                *deadline = (*deadline).max(until);
                let until = *deadline;
                s.cooldowns.retain(|_, &mut t| t > now);
                Some(Change::Cooldown {
                    key_id,
                    model: model.to_string(),
                    until,
                })
            }
            Verdict::KeyRejected(reason) if s.disabled.is_none() => {
                s.disabled = Some(Disabled {
                    reason: (*reason).to_string(),
                    since: now,
                });
                Some(Change::Disable {
                    key_id,
                    reason: (*reason).to_string(),
                    since: now,
                })
            }
            Verdict::KeyRejected(_)
            | Verdict::ClientFault
            | Verdict::Transient
            | Verdict::UnusableAnswer => None,
        }
    }

    /// Applies a fact learned elsewhere (another gateway, an operator) with the store's rules.
    pub fn apply(&self, change: &Change) {
        match change {
            Change::AddKey { key } => {
                self.add(key.clone());
                return;
            }
            Change::RemoveKey { key_id, .. } => {
                self.remove(key_id);
                return;
            }
            _ => {}
        }
        let mut state = self.lock();
        let id = change.key_id();
        let Some(s) = state.keys.iter_mut().find(|s| s.key.id() == id) else {
            return;
        };
        match change {
            Change::Cooldown { model, until, .. } => {
                let d = s.cooldowns.entry(model.clone()).or_insert(*until);
                *d = (*d).max(*until);
            }
            Change::Disable { reason, since, .. } => {
                if s.disabled.is_none() {
                    s.disabled = Some(Disabled {
                        reason: reason.clone(),
                        since: *since,
                    });
                }
            }
            Change::Enable { .. } => s.disabled = None,
            Change::ClearCooldown { model: Some(m), .. } => {
                s.cooldowns.remove(m);
            }
            Change::ClearCooldown { model: None, .. } => s.cooldowns.clear(),
            Change::AddKey { .. } | Change::RemoveKey { .. } => {}
        }
    }

    /// Merges a store's view: disables and later deadlines win. With `counters`, the store's
    /// counters replace ours (a shared store counts every gateway's requests); otherwise they
    /// are a base that this process's unflushed counts add to.
    pub fn merge(&self, stored: &StoredState, shared_counters: bool) {
        let now = self.clock.now();
        let mut state = self.lock();
        for s in state.keys.iter_mut() {
            let Some(k) = stored.get(s.key.id()) else {
                continue;
            };
            if let (None, Some((reason, since))) = (&s.disabled, &k.disabled) {
                s.disabled = Some(Disabled {
                    reason: reason.clone(),
                    since: *since,
                });
            }
            if shared_counters && k.disabled.is_none() {
                s.disabled = None;
            }
            for (model, &until) in k.cooldowns.iter().filter(|(_, &t)| t > now) {
                let d = s.cooldowns.entry(model.clone()).or_insert(until);
                *d = (*d).max(until);
            }
            if shared_counters {
                s.requests = k.requests;
                s.failures = k.failures;
                s.last_error = k.last_error.clone();
            } else {
                s.requests = k.requests + s.unflushed.requests;
                s.failures = k.failures + s.unflushed.failures;
                s.last_error = s
                    .unflushed
                    .last_error
                    .clone()
                    .or_else(|| k.last_error.clone());
            }
        }
    }

    /// Everything this view holds as facts: disables and live cooldowns (to repopulate a
    /// shared store that came back empty).
    pub fn facts(&self) -> Vec<Change> {
        let now = self.clock.now();
        let state = self.lock();
        let mut out = Vec::new();
        for s in state.keys.iter().filter(|s| !s.removed) {
            let key_id = s.key.id().to_string();
            if let Some(d) = &s.disabled {
                out.push(Change::Disable {
                    key_id: key_id.clone(),
                    reason: d.reason.clone(),
                    since: d.since,
                });
            }
            for (model, &until) in s.cooldowns.iter().filter(|(_, &t)| t > now) {
                out.push(Change::Cooldown {
                    key_id: key_id.clone(),
                    model: model.clone(),
                    until,
                });
            }
        }
        out
    }

    /// Counts since the last call, per key id (for the embedded store's background flush).
    pub fn take_counter_deltas(&self) -> BTreeMap<String, CounterDelta> {
        let mut state = self.lock();
        state
            .keys
            .iter_mut()
            .filter(|s| s.unflushed != CounterDelta::default())
            .map(|s| (s.key.id().to_string(), std::mem::take(&mut s.unflushed)))
            .collect()
    }

    /// Counts a request picked elsewhere (by a shared store) against the local view.
    pub fn count_request(&self, index: usize) {
        if let Some(s) = self.lock().keys.get_mut(index) {
            s.requests += 1;
        }
    }

    /// The keys in the pool with their stable indexes (removed keys left out).
    pub fn keys(&self) -> Vec<(usize, ApiKey)> {
        let state = self.lock();
        state
            .keys
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.removed)
            .map(|(i, s)| (i, s.key.clone()))
            .collect()
    }

    /// The index of a key in the pool, by id.
    pub fn index_of(&self, key_id: &str) -> Option<usize> {
        self.lock()
            .keys
            .iter()
            .position(|s| !s.removed && s.key.id() == key_id)
    }

    /// The key at `index`, if it is in the pool.
    pub fn key_at(&self, index: usize) -> Option<ApiKey> {
        let state = self.lock();
        state
            .keys
            .get(index)
            .filter(|s| !s.removed)
            .map(|s| s.key.clone())
    }

    /// Adds a key (or takes a removed one back); returns its index and whether it is new to
    /// the pool.
    pub fn add(&self, key: ApiKey) -> (usize, bool) {
        let mut state = self.lock();
        if let Some(i) = state.keys.iter().position(|s| s.key.id() == key.id()) {
            let was_removed = std::mem::replace(&mut state.keys[i].removed, false);
            return (i, was_removed);
        }
        state.keys.push(KeyState::new(key));
        (state.keys.len() - 1, true)
    }

    /// Takes a key out of the pool; false if it was not in it.
    pub fn remove(&self, key_id: &str) -> bool {
        let mut state = self.lock();
        match state
            .keys
            .iter_mut()
            .find(|s| !s.removed && s.key.id() == key_id)
        {
            Some(s) => {
                s.removed = true;
                true
            }
            None => false,
        }
    }

    /// Notes that `scope` is being requested (for the status view's grouping).
    pub fn note(&self, scope: Scope<'_>) {
        note(&mut self.lock().models_seen, scope);
    }

    /// How long until some key can serve `scope` again; `None` when no key will come back by
    /// itself (all disabled) — or when one is usable now (`Some(ZERO)`).
    pub fn retry_after(&self, scope: Scope<'_>) -> Option<Duration> {
        let model = scope.name();
        let now = self.clock.now();
        let state = self.lock();
        state
            .keys
            .iter()
            .filter(|s| !s.removed && s.disabled.is_none())
            .map(|s| s.cooldowns.get(model).map_or(now, |&t| t.max(now)))
            .min()
            .map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0)))
    }

    /// A consistent view of every key, for the status endpoint and `/health`.
    pub fn snapshot(&self) -> PoolSnapshot {
        let now = self.clock.now();
        let state = self.lock();
        let keys = state
            .keys
            .iter()
            .filter(|s| !s.removed)
            .map(|s| {
                let key = &s.key;
                let cooldowns: BTreeMap<String, UnixMillis> = s
                    .cooldowns
                    .iter()
                    .filter(|(_, &t)| t > now)
                    .map(|(m, &t)| (m.clone(), t))
                    .collect();
                let cooling_everywhere = !cooldowns.is_empty()
                    && state.models_seen.iter().all(|m| cooldowns.contains_key(m));
                let health = if let Some(d) = &s.disabled {
                    KeyHealth::Disabled(d.clone())
                } else if cooling_everywhere {
                    KeyHealth::Cooling {
                        until: cooldowns.values().copied().min().unwrap_or(now),
                    }
                } else {
                    KeyHealth::Available
                };
                KeyView {
                    id: key.id().to_string(),
                    masked: key.masked().to_string(),
                    health,
                    cooldowns,
                    last_error: s.last_error.clone(),
                    requests: s.requests,
                    failures: s.failures,
                }
            })
            .collect();
        PoolSnapshot { now, keys }
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

/// Where a key stands, as the seed's status endpoint groups keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHealth {
    /// Usable for at least one model (it may still cool for some; see `cooldowns`).
    Available,
    /// Cooling for every model requested so far; usable again at `until` for at least one.
    Cooling { until: UnixMillis },
    /// Out until an operator re-enables it.
    Disabled(Disabled),
}

/// One key as the status endpoint shows it: never the key itself.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub id: String,
    pub masked: String,
    pub health: KeyHealth,
    /// model → live cooldown deadline.
    pub cooldowns: BTreeMap<String, UnixMillis>,
    pub last_error: Option<String>,
    pub requests: u64,
    pub failures: u64,
}

#[derive(Debug, Clone)]
pub struct PoolSnapshot {
    pub now: UnixMillis,
    pub keys: Vec<KeyView>,
}

impl PoolSnapshot {
    pub fn count(&self, pred: impl Fn(&KeyHealth) -> bool) -> usize {
        self.keys.iter().filter(|k| pred(&k.health)).count()
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
