//! The local view's side that faces stores, operators and readers: facts applied from elsewhere
//! (another gateway, an operator, the store at startup), facts handed back, counters to flush,
//! membership, "when can this scope be served again", and the snapshot for the status page.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::ejection::Admission;
use super::super::view::{
    Disabled, EjectionView, GroupView, KeyEvidence, KeyHealth, KeyView, PoolSnapshot,
};
use super::super::{is_model, Scope, ALL_MODELS};
use super::{note, KeyState, LocalView};
use crate::clock::UnixMillis;
use crate::secret::ApiKey;
use crate::store::{Change, CounterDelta, DailyCount, SharedGroup, StoredQuota, StoredState};

impl LocalView {
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
        let mut guard = self.lock();
        let state = &mut *guard;
        if let Change::Limit {
            group,
            model,
            kind,
            value,
        } = change
        {
            let g = state.groups.named(group, false);
            state.pacing.set_learned(g, model, *kind, *value);
            return;
        }
        if let Change::ForgetLimit { group, model, kind } = change {
            let g = state.groups.named(group, false);
            state.pacing.forget_learned(g, model, *kind);
            state
                .limit_why
                .remove(&(g, super::failures::limit_field(model, *kind)));
            return;
        }
        let id = change.key_id();
        let Some(index) = state.keys.iter().position(|s| s.key.id() == id) else {
            return;
        };
        if let Change::Group { group, .. } = change {
            let moved = state.groups.assign(index, group);
            super::regroup(state, moved);
            return;
        }
        let s = &mut state.keys[index];
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
                s.why.cooldowns.remove(m);
            }
            Change::ClearCooldown { model: None, .. } => {
                s.cooldowns.clear();
                s.why.cooldowns.clear();
            }
            Change::Ejected {
                model,
                times,
                until,
                ..
            } => {
                let e = s.ejections.entry(model.clone()).or_default();
                e.times = *times;
                e.until = *until;
            }
            Change::Healed { model, .. } => {
                s.ejections.remove(model);
                s.why.ejections.remove(model);
            }
            Change::AddKey { .. }
            | Change::RemoveKey { .. }
            | Change::Group { .. }
            | Change::Limit { .. }
            | Change::ForgetLimit { .. }
            | Change::Overloaded { .. }
            | Change::OverloadCleared { .. } => {}
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

    /// Merges what a store knows about quotas: learned groups, learned limits, today's counts.
    pub fn merge_quota(&self, stored: &StoredQuota) {
        let now = self.clock.now();
        for (key_id, group) in &stored.groups {
            self.apply(&Change::Group {
                key_id: key_id.clone(),
                group: group.clone(),
            });
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        for l in &stored.limits {
            let g = state.groups.named(&l.group, false);
            state.pacing.set_learned(g, &l.model, l.kind, l.value);
        }
        for d in stored.daily.iter().filter(|d| d.day_ends > now) {
            let g = state.groups.named(&d.group, false);
            state.pacing.restore_today(g, &d.model, d.count, now);
        }
    }

    /// Takes a shared store's ejections and overloads as the truth (another gateway may have
    /// ejected or healed a key).
    pub fn merge_health(&self, stored: &StoredQuota) {
        let mut guard = self.lock();
        let state = &mut *guard;
        for s in state.keys.iter_mut() {
            let id = s.key.id();
            s.ejections.retain(|model, e| {
                e.probing
                    || stored
                        .ejections
                        .iter()
                        .any(|(k, m, _, _)| k == id && m == model)
            });
            for (_, model, times, until) in stored.ejections.iter().filter(|(k, ..)| k == id) {
                let e = s.ejections.entry(model.clone()).or_default();
                (e.times, e.until) = (*times, *until);
            }
        }
        state.overloads.retain(|model, o| {
            o.ejection.probing || stored.overloads.iter().any(|(m, ..)| m == model)
        });
        for (model, times, until) in &stored.overloads {
            let o = state.overloads.entry(model.clone()).or_default();
            (o.ejection.times, o.ejection.until) = (*times, *until);
        }
    }

    /// What a shared store needs to schedule a request for `scope`: the candidates (key ids not
    /// `tried`, with their group's number) and the groups with their declared limits.
    pub fn shared_request(
        &self,
        scope: Scope<'_>,
        tried: &[usize],
    ) -> (Vec<(usize, String, usize)>, Vec<SharedGroup>) {
        let state = self.lock();
        let model = scope.name();
        let mut groups: Vec<SharedGroup> = Vec::new();
        let mut candidates = Vec::new();
        let now = self.clock.now();
        for (i, s) in state.keys.iter().enumerate() {
            // What the shared store does not know of: a rest for every model, a model the key's
            // tier lacks.
            let out_everywhere =
                is_model(model) && s.cooldowns.get(ALL_MODELS).is_some_and(|&t| t > now);
            if s.removed || tried.contains(&i) || out_everywhere || state.lacks(i, model) {
                continue;
            }
            let g = state.groups.of(i);
            let name = state.groups.name(g);
            let number = match groups.iter().position(|x| x.name == name) {
                Some(n) => n,
                None => {
                    let declared = state.pacing.declared(name, model);
                    groups.push(SharedGroup {
                        name: name.to_string(),
                        rpm: declared.rpm,
                        tpm: declared.tpm,
                        rpd: declared.rpd,
                    });
                    groups.len() - 1
                }
            };
            candidates.push((i, s.key.id().to_string(), number));
        }
        (candidates, groups)
    }

    /// The name of `index`'s quota group.
    pub fn group_name(&self, index: usize) -> String {
        let state = self.lock();
        state.groups.name(state.groups.of(index)).to_string()
    }

    /// Counts a request picked elsewhere (by a shared store) for `scope` against the local view.
    pub fn note_sent(&self, index: usize, scope: Scope<'_>, probe: bool) {
        let now = self.clock.now();
        let mut guard = self.lock();
        let state = &mut *guard;
        note(&mut state.models_seen, scope);
        let Some(s) = state.keys.get_mut(index) else {
            return;
        };
        s.requests += 1;
        s.last_sent.insert(scope.name().to_string(), now);
        if probe {
            if let Some(e) = s.ejections.get_mut(scope.name()) {
                e.probing = true;
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

    /// Today's request counts per (group, model), for a store to keep (they survive restarts).
    pub fn daily_counts(&self) -> Vec<DailyCount> {
        let state = self.lock();
        state
            .pacing
            .today()
            .map(|(g, model, count, day_ends)| DailyCount {
                group: state.groups.name(g).to_string(),
                model: model.to_string(),
                day_ends,
                count,
            })
            .collect()
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
        self.add_declared(key, None)
    }

    /// Adds a key in the project `declared` (`project:key`), if any.
    pub fn add_declared(&self, key: ApiKey, declared: Option<&str>) -> (usize, bool) {
        let mut guard = self.lock();
        let state = &mut *guard;
        if let Some(i) = state.keys.iter().position(|s| s.key.id() == key.id()) {
            let was_removed = std::mem::replace(&mut state.keys[i].removed, false);
            return (i, was_removed);
        }
        let index = state.keys.len();
        state.groups.add(index, key.id(), declared);
        state.keys.push(KeyState::new(key));
        (index, true)
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

    /// Which keys lack which models (model → key ids), replacing what was known.
    pub fn set_lacking(&self, lacking: &BTreeMap<String, Vec<String>>) {
        let mut state = self.lock();
        let ids: std::collections::HashMap<&str, usize> = state
            .keys
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key.id(), i))
            .collect();
        let indexed = lacking
            .iter()
            .map(|(model, keys)| {
                let found = keys.iter().filter_map(|k| ids.get(k.as_str()).copied());
                (model.clone(), found.collect::<Vec<usize>>())
            })
            .filter(|(_, keys)| !keys.is_empty())
            .collect();
        state.lacking = indexed;
        // The catalog was read again: what answers taught about missing models is asked anew.
        for k in &mut state.keys {
            k.why.lacking.clear();
        }
    }

    pub fn accepts_prefill(&self, model: &str) -> bool {
        !self.lock().no_prefill.contains(model)
    }

    pub fn refuse_prefill(&self, model: &str) {
        self.lock().no_prefill.insert(model.to_string());
    }

    /// Notes that `scope` is being requested (for the status view's grouping).
    pub fn note(&self, scope: Scope<'_>) {
        note(&mut self.lock().models_seen, scope);
    }

    /// How long until some key can serve `scope` (a request of about `tokens`) again; `None`
    /// when no key will come back by itself (all disabled) — or when one is usable now
    /// (`Some(ZERO)`). Rests, ejections, a model-wide overload and quota headroom all count.
    pub fn retry_after(&self, scope: Scope<'_>, tokens: u64) -> Option<Duration> {
        let model = scope.name();
        let now = self.clock.now();
        let state = self.lock();
        let overloaded_until = match state
            .overloads
            .get(model)
            .map(|o| o.ejection.admission(now))
        {
            Some(Admission::Out(until)) => until,
            _ => now,
        };
        state
            .keys
            .iter()
            .enumerate()
            .filter(|(i, s)| !s.removed && s.disabled.is_none() && !state.lacks(*i, model))
            .map(|(i, s)| {
                let rest = s.rest_until(model).map_or(now, |t| t.max(now));
                let ejected = match s.admission(model, now) {
                    Admission::Out(until) => until,
                    _ => now,
                };
                let g = state.groups.of(i);
                let paced = state
                    .pacing
                    .admits(g, state.groups.name(g), model, tokens, now)
                    .err()
                    .unwrap_or(now);
                rest.max(ejected).max(paced).max(overloaded_until)
            })
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
            .enumerate()
            .filter(|(_, s)| !s.removed)
            .map(|(i, s)| {
                let key = &s.key;
                let cooldowns: BTreeMap<String, UnixMillis> = s
                    .cooldowns
                    .iter()
                    .filter(|(m, &t)| t > now && *m != ALL_MODELS)
                    .map(|(m, &t)| (m.clone(), t))
                    .collect();
                let everywhere = s.cooldowns.get(ALL_MODELS).copied().filter(|&t| t > now);
                let cooling_everywhere = !cooldowns.is_empty()
                    && state.models_seen.iter().all(|m| cooldowns.contains_key(m));
                let lacking: Vec<String> = state
                    .lacking
                    .iter()
                    .filter(|(_, keys)| keys.contains(&i))
                    .map(|(m, _)| m.clone())
                    .collect();

                let health = if let Some(d) = &s.disabled {
                    KeyHealth::Disabled(d.clone())
                } else if let Some(until) = everywhere {
                    KeyHealth::Billing { until }
                } else if cooling_everywhere {
                    KeyHealth::Cooling {
                        until: cooldowns.values().copied().min().unwrap_or(now),
                    }
                } else {
                    KeyHealth::Available
                };
                let ejections = s
                    .ejections
                    .iter()
                    .filter(|(_, e)| e.times > 0)
                    .map(|(m, e)| {
                        (
                            m.clone(),
                            EjectionView {
                                times: e.times,
                                until: e.until,
                                probing: e.probing,
                            },
                        )
                    })
                    .collect();
                let g = state.groups.of(i);
                let evidence = live_evidence(&s.why, &cooldowns, everywhere, &s.ejections);
                KeyView {
                    id: key.id().to_string(),
                    masked: key.masked().to_string(),
                    group: state.groups.name(g).to_string(),
                    group_declared: state.groups.is_declared(g),
                    health,
                    cooldowns,
                    lacking,
                    evidence,
                    model_rules: s.rules.as_deref().cloned(),
                    ejections,
                    last_error: s.last_error.clone(),
                    requests: s.requests,
                    failures: s.failures,
                }
            })
            .collect::<Vec<_>>();
        let mut groups: Vec<GroupView> = Vec::new();
        for (i, s) in state.keys.iter().enumerate().filter(|(_, s)| !s.removed) {
            let g = state.groups.of(i);
            let name = state.groups.name(g);
            match groups.iter_mut().find(|v| v.name == name) {
                Some(v) => v.keys.push(s.key.id().to_string()),
                None => groups.push(GroupView {
                    name: name.to_string(),
                    declared: state.groups.is_declared(g),
                    keys: vec![s.key.id().to_string()],
                    models: state.pacing.headroom(g, name, now),
                    limit_evidence: state
                        .limit_why
                        .iter()
                        .filter(|((group, _), _)| *group == g)
                        .map(|((_, field), e)| (field.clone(), e.clone()))
                        .collect(),
                }),
            }
        }
        let overloaded = state
            .overloads
            .iter()
            .filter(|(_, o)| o.ejection.is_out(now))
            .map(|(m, o)| (m.clone(), o.ejection.until))
            .collect();
        PoolSnapshot {
            now,
            keys,
            groups,
            overloaded,
        }
    }
}

/// A key's evidence for what still holds: live cooldowns (and a rest for every model), live
/// ejections, learned missing models and its group.
fn live_evidence(
    why: &KeyEvidence,
    cooldowns: &BTreeMap<String, UnixMillis>,
    everywhere: Option<UnixMillis>,
    ejections: &foldhash::HashMap<String, super::super::ejection::Ejection>,
) -> KeyEvidence {
    KeyEvidence {
        cooldowns: why
            .cooldowns
            .iter()
            .filter(|(m, _)| {
                cooldowns.contains_key(*m) || (*m == ALL_MODELS && everywhere.is_some())
            })
            .map(|(m, e)| (m.clone(), e.clone()))
            .collect(),
        ejections: why
            .ejections
            .iter()
            .filter(|(m, _)| ejections.get(*m).is_some_and(|e| e.times > 0))
            .map(|(m, e)| (m.clone(), e.clone()))
            .collect(),
        lacking: why.lacking.clone(),
        group: why.group.clone(),
    }
}
