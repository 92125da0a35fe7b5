//! What a failed attempt does to the pool's local view, verdict by verdict: a 429 rests the
//! key's quota group for the model (a learned group only in the members refused for it
//! themselves) and teaches limits and groups; a billing refusal rests the project for every
//! model; a rejected key is disabled; a transient failure ejects the (key, model) within the
//! half rule.

use super::*;

impl LocalView {
    /// Records a failed attempt and applies its verdict. Returns the facts learned (cooldowns
    /// with their deadlines, a disable, group memberships, limits) for the store.
    pub fn record_failure(&self, index: usize, scope: Scope<'_>, verdict: &Verdict) -> Vec<Change> {
        let because = Because {
            words: verdict.label().into(),
            request_id: None,
        };
        self.record_failure_because(index, scope, verdict, &because)
    }

    /// [`LocalView::record_failure`], keeping `because` as the evidence of what it decides.
    pub fn record_failure_because(
        &self,
        index: usize,
        scope: Scope<'_>,
        verdict: &Verdict,
        because: &Because,
    ) -> Vec<Change> {
        let model = scope.name();
        let now = self.clock.now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(s) = state.keys.get_mut(index) else {
            return Vec::new();
        };
        let label = verdict.label();
        s.failures += 1;
        s.last_error = Some(label.to_string());
        s.unflushed.failures += 1;
        s.unflushed.last_error = Some(label.to_string());
        match verdict {
            Verdict::RateLimited(limit) => {
                self.rate_limited(state, index, model, limit, because, now)
            }
            Verdict::Billing(billing) => rest_everywhere(state, index, billing, because, now),
            Verdict::KeyRejected(reason) if s.disabled.is_none() => {
                s.disabled = Some(Disabled {
                    reason: (*reason).to_string(),
                    since: now,
                });
                vec![Change::Disable {
                    key_id: s.key.id().to_string(),
                    reason: (*reason).to_string(),
                    since: now,
                }]
            }
            Verdict::Transient | Verdict::Overloaded => {
                let changes = transient(state, index, model, *verdict == Verdict::Overloaded, now);
                if !changes.is_empty() {
                    let why = &mut state.keys[index].why.ejections;
                    why.insert(model.to_string(), because.at(now));
                }
                changes
            }
            Verdict::ModelLacking => {
                if super::is_model(model) {
                    s.why.lacking.insert(model.to_string(), because.at(now));
                }
                Vec::new()
            }
            Verdict::KeyRejected(_) | Verdict::ClientFault | Verdict::UnusableAnswer => Vec::new(),
        }
    }

    /// A 429: Google did not count the request; the limits it names are learned; the evidence
    /// may join this key's group to another; and the whole group rests for the model.
    fn rate_limited(
        &self,
        state: &mut PoolState,
        index: usize,
        model: &str,
        limit: &RateLimit,
        because: &Because,
        now: UnixMillis,
    ) -> Vec<Change> {
        let mut until = match limit.cooldown {
            Cooldown::For(d) => now + millis(d),
            Cooldown::UntilDailyReset => next_daily_reset(now),
            Cooldown::UntilMonthlyReset => next_monthly_reset(now),
            Cooldown::Configured => now + millis(self.default_cooldown),
        };
        if limit.no_quota() {
            until = until.max(now + NO_QUOTA_REST_MS);
        }
        let mut changes = Vec::new();
        let mut group = state.groups.of(index);
        state.pacing.unsend(group, model, index);
        let own = state.pacing.sent_by(group, model, index, now);
        for (kind, value) in state.pacing.learn(group, model, &limit.hits) {
            state
                .limit_why
                .insert((group, limit_field(model, kind)), because.at(now));
            changes.push(Change::Limit {
                group: state.groups.name(group).to_string(),
                model: model.to_string(),
                kind,
                value,
            });
        }
        let kind = limit.hits.first().map_or(QuotaKind::Other, |h| h.kind);
        let key_id = state.keys[index].key.id().to_string();
        if !state.keys[index].limited.contains(model) {
            state.keys[index].limited.insert(model.to_string());
        }
        // This key's own window end contradicts the group's current rest on the same quota:
        // it is not in that project.
        let contradicts = state
            .rests
            .get(&(group, model.to_string()))
            .is_some_and(|r| {
                r.kind == kind && r.until > now && (r.until - until).abs() > SAME_WINDOW_MS
            });
        if contradicts {
            let split = state.groups.split(index, &key_id);
            changes.extend(regroup(state, split));
        } else if let Some(value) = limit
            .hits
            .iter()
            .find(|h| h.kind == QuotaKind::RequestsPerMinute)
            .and_then(|h| h.limit)
        {
            let merges = state.groups.sighted(
                index,
                model,
                QuotaKind::RequestsPerMinute,
                until,
                own,
                value,
                now,
            );
            if !merges.is_empty() {
                let why = because
                    .said(&format!(
                        "429s for {model} ending together, sends reaching the limit of {value}: "
                    ))
                    .at(now);
                for merged in merges {
                    changes.extend(regroup(state, Some(merged)));
                }
                let group = state.groups.of(index);
                let members: Vec<usize> = state.groups.members(group).collect();
                for m in members {
                    state.keys[m].why.group = Some(why.clone());
                }
            }
        }
        group = state.groups.of(index);
        let members: Vec<usize> = state
            .groups
            .members(group)
            .filter(|&m| m == index || held_by_group(&state.groups, group, &state.keys[m], model))
            .collect();
        for m in members {
            let k = &mut state.keys[m];
            // A member's own words stay unless the group's rest ends later than its own.
            let extends = k
                .cooldowns
                .get(model)
                .is_none_or(|&d| d <= now || until > d);
            if m == index {
                k.why.cooldowns.insert(model.to_string(), because.at(now));
            } else if extends {
                let why = because.said(&format!("rests with its project ({key_id}): "));
                k.why.cooldowns.insert(model.to_string(), why.at(now));
            }
            let deadline = k.cooldowns.entry(model.to_string()).or_insert(until);
            *deadline = (*deadline).max(until);
            let deadline = *deadline;
            k.cooldowns.retain(|_, &mut t| t > now);
            changes.push(Change::Cooldown {
                key_id: k.key.id().to_string(),
                model: model.to_string(),
                until: deadline,
            });
        }
        state.rests.insert(
            (group, model.to_string()),
            Rest {
                since: now,
                until,
                kind,
            },
        );
        changes
    }
}

/// Whether key `k` of group `g` is held back by the group's rest or pacing for `model`: always in
/// a declared group or a group of one; in a learned group only once the key itself was refused
/// for the model (a learned group never takes a model away from a key that has not failed on it).
pub(super) fn held_by_group(groups: &Groups, g: GroupId, k: &KeyState, model: &str) -> bool {
    groups.is_declared(g) || k.limited.contains(model) || groups.members(g).nth(1).is_none()
}

/// A billing refusal: the key's whole quota group (its project) rests for every model until
/// the cap resets, or for the refusal's window.
fn rest_everywhere(
    state: &mut PoolState,
    index: usize,
    billing: &Billing,
    because: &Because,
    now: UnixMillis,
) -> Vec<Change> {
    let until = match billing.cooldown {
        Cooldown::UntilMonthlyReset => next_monthly_reset(now),
        Cooldown::UntilDailyReset => next_daily_reset(now),
        Cooldown::For(d) => now + millis(d),
        Cooldown::Configured => now + millis(crate::upstream::billing::SPEND_WINDOW),
    };
    let group = state.groups.of(index);
    let members: Vec<usize> = state.groups.members(group).collect();
    members
        .into_iter()
        .map(|m| {
            let k = &mut state.keys[m];
            k.why
                .cooldowns
                .insert(ALL_MODELS.to_string(), because.at(now));
            let deadline = k.cooldowns.entry(ALL_MODELS.to_string()).or_insert(until);
            *deadline = (*deadline).max(until);
            Change::Cooldown {
                key_id: k.key.id().to_string(),
                model: ALL_MODELS.to_string(),
                until: *deadline,
            }
        })
        .collect()
}

/// A transient failure: the (key, model) is ejected (unless that would eject more than half of
/// the model's usable keys); a 503 also counts towards the model-wide overload.
fn transient(
    state: &mut PoolState,
    index: usize,
    model: &str,
    overloaded: bool,
    now: UnixMillis,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let usable = state.usable_count(model, now);
    let others_out = state.ejected_count(model, now, index);
    let s = &mut state.keys[index];
    let e = s.ejections.entry(model.to_string()).or_default();
    // A request sent before the key went out that fails late says nothing new.
    let already_out = e.is_out(now) && !e.probing;
    if !already_out && (others_out + 1) * 2 <= usable {
        e.eject(now);
        changes.push(Change::Ejected {
            key_id: s.key.id().to_string(),
            model: model.to_string(),
            times: e.times,
            until: e.until,
        });
    } else if e.times > 0 && !already_out {
        // A failed probe that may not go out (half the keys are): it stays half-open, one
        // request at a time.
        e.probing = false;
        e.until = now;
    } else if e.times == 0 {
        s.ejections.remove(model);
    }
    if overloaded {
        // "Most" keys: more than half of those usable, and at least two.
        let quorum = (usable / 2 + 1).max(2);
        let o = state.overloads.entry(model.to_string()).or_default();
        let tripped = o.report(index, now, quorum) && !o.ejection.is_out(now);
        if tripped || o.ejection.probing {
            o.ejection.eject(now);
            changes.push(Change::Overloaded {
                model: model.to_string(),
                times: o.ejection.times,
                until: o.ejection.until,
            });
        }
    }
    changes
}

/// Applies a change of membership to pacing, and the memberships for the store.
pub(super) fn regroup(state: &mut PoolState, regroup: Option<Regroup>) -> Vec<Change> {
    let moved: Vec<usize> = match regroup {
        None => return Vec::new(),
        Some(Regroup::Merged { from, into }) => {
            state.pacing.merge(from, into);
            state.groups.members(into).collect()
        }
        Some(Regroup::Split { key, from, into }) => {
            state.pacing.move_key(key, from, into);
            vec![key]
        }
    };
    moved
        .into_iter()
        .map(|i| Change::Group {
            key_id: state.keys[i].key.id().to_string(),
            group: state.groups.name(state.groups.of(i)).to_string(),
        })
        .collect()
}

/// How a learned limit's evidence is filed: `model kind` (`gemini-3.8-flash rpm`).
pub(in crate::pool) fn limit_field(model: &str, kind: QuotaKind) -> String {
    format!("{model} {}", kind.label())
}
