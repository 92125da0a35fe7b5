//! Scheduling ahead: the limits a quota group is known to have for a model (declared by the
//! operator, or learned from a 429's `quotaValue`), and what the group has sent against them —
//! a sliding minute of requests and their estimated input tokens, and a count for the Pacific
//! day. A request that a known limit would refuse is never sent: the group has no headroom until
//! the moment its oldest request leaves the window (plus [`SLACK`], for the clocks of the two
//! sides), and the pool picks another group or says exactly when to come back.

use std::collections::VecDeque;

use foldhash::HashMap;

use super::groups::GroupId;
use crate::clock::{next_daily_reset, UnixMillis};
use crate::upstream::classify::{QuotaHit, QuotaKind};

/// The per-minute window.
pub const MINUTE_MS: i64 = 60_000;

/// Extra time a sent request is counted after it left Google's window: Google admits a request
/// a little after we send it, so its slot frees a little after ours would.
pub const SLACK: i64 = 1_000;

/// How long a group rests for a model its tier has no quota for (`limit: 0`) before it is asked
/// again.
pub const NO_QUOTA_REST_MS: i64 = 3_600_000;

/// Limits the operator declared: for one group (or every group) and one model (or `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredLimit {
    pub group: Option<String>,
    pub model: String,
    pub kind: QuotaKind,
    pub value: u64,
}

/// The limits known for one (group, model).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub rpd: Option<u64>,
}

impl Limits {
    fn get_mut(&mut self, kind: QuotaKind) -> Option<&mut Option<u64>> {
        match kind {
            QuotaKind::RequestsPerMinute => Some(&mut self.rpm),
            QuotaKind::InputTokensPerMinute => Some(&mut self.tpm),
            QuotaKind::RequestsPerDay => Some(&mut self.rpd),
            QuotaKind::Other => None,
        }
    }

    fn or(self, other: Limits) -> Limits {
        Limits {
            rpm: self.rpm.or(other.rpm),
            tpm: self.tpm.or(other.tpm),
            rpd: self.rpd.or(other.rpd),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// One request sent.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: UnixMillis,
    tokens: u64,
    key: usize,
}

/// What a (group, model) sent.
#[derive(Debug, Default)]
struct Usage {
    minute: VecDeque<Sent>,
    /// The next Pacific midnight, and the count since the last one.
    day_ends: UnixMillis,
    today: u64,
}

impl Usage {
    /// The requests still in the window at `now` (oldest first), without dropping the others.
    fn live(&self, now: UnixMillis) -> Vec<Sent> {
        let first = self
            .minute
            .partition_point(|s| s.at + MINUTE_MS + SLACK <= now);
        self.minute.range(first..).copied().collect()
    }

    /// Today's count as of `now`.
    fn today_at(&self, now: UnixMillis) -> u64 {
        if now >= self.day_ends {
            0
        } else {
            self.today
        }
    }

    fn expire(&mut self, now: UnixMillis) {
        while self
            .minute
            .front()
            .is_some_and(|s| s.at + MINUTE_MS + SLACK <= now)
        {
            self.minute.pop_front();
        }
        if now >= self.day_ends {
            self.day_ends = next_daily_reset(now);
            self.today = 0;
        }
    }
}

/// Headroom of one (group, model), for the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    pub limits: Limits,
    pub sent_last_minute: u64,
    pub tokens_last_minute: u64,
    pub sent_today: u64,
}

/// Limits and usage of every group, by model then group (so the request path looks a model up
/// by `&str`, without allocating).
#[derive(Debug, Default)]
pub struct Pacing {
    declared: Vec<DeclaredLimit>,
    learned: HashMap<String, HashMap<GroupId, Limits>>,
    usage: HashMap<String, HashMap<GroupId, Usage>>,
}

impl Pacing {
    pub fn new(declared: Vec<DeclaredLimit>) -> Pacing {
        Pacing {
            declared,
            ..Pacing::default()
        }
    }

    /// The operator's limits for (group `name`, `model`): the group's own first.
    pub fn declared(&self, name: &str, model: &str) -> Limits {
        let mut declared = Limits::default();
        let specific = |d: &&DeclaredLimit| d.group.as_deref() == Some(name);
        let general = |d: &&DeclaredLimit| d.group.is_none();
        for pass in [&specific as &dyn Fn(&&DeclaredLimit) -> bool, &general] {
            for d in self
                .declared
                .iter()
                .filter(pass)
                .filter(|d| d.model == model || d.model == "*")
            {
                if let Some(slot) = declared.get_mut(d.kind) {
                    slot.get_or_insert(d.value);
                }
            }
        }
        declared
    }

    /// The limits in force: the operator's (for this group first, then for every group) over
    /// the learned ones.
    pub fn limits(&self, group: GroupId, name: &str, model: &str) -> Limits {
        let learned = self
            .learned
            .get(model)
            .and_then(|m| m.get(&group))
            .copied()
            .unwrap_or_default();
        if self.declared.is_empty() {
            return learned;
        }
        self.declared(name, model).or(learned)
    }

    /// `Ok` when a request of `tokens` may go now; otherwise when it may.
    pub fn admits(
        &self,
        group: GroupId,
        name: &str,
        model: &str,
        tokens: u64,
        now: UnixMillis,
    ) -> Result<(), UnixMillis> {
        let limits = self.limits(group, name, model);
        if limits.is_empty() {
            return Ok(());
        }
        let Some(usage) = self.usage.get(model).and_then(|m| m.get(&group)) else {
            return admits_empty(limits, tokens, now);
        };
        let live = usage.live(now);
        let mut free_at = now;
        if let Some(rpd) = limits.rpd {
            if usage.today_at(now) >= rpd {
                free_at = free_at.max(if rpd == 0 {
                    now + NO_QUOTA_REST_MS
                } else {
                    usage.day_ends
                });
            }
        }
        if let Some(rpm) = limits.rpm {
            let n = live.len() as u64;
            if rpm == 0 {
                return Err(now + NO_QUOTA_REST_MS);
            }
            if n >= rpm {
                let oldest_needed = live[(n - rpm) as usize];
                free_at = free_at.max(oldest_needed.at + MINUTE_MS + SLACK);
            }
        }
        if let Some(tpm) = limits.tpm {
            let used: u64 = live.iter().map(|s| s.tokens).sum();
            if used + tokens > tpm {
                let mut freed = 0;
                let at = live
                    .iter()
                    .find(|s| {
                        freed += s.tokens;
                        used - freed + tokens <= tpm
                    })
                    .map_or(now + MINUTE_MS + SLACK, |s| s.at + MINUTE_MS + SLACK);
                free_at = free_at.max(at);
            }
        }
        if free_at > now {
            Err(free_at)
        } else {
            Ok(())
        }
    }

    /// Counts a request sent by `key` of `group`.
    pub fn sent(&mut self, group: GroupId, model: &str, key: usize, tokens: u64, now: UnixMillis) {
        let usage = self.entry(group, model);
        usage.expire(now);
        usage.minute.push_back(Sent {
            at: now,
            tokens,
            key,
        });
        usage.today += 1;
    }

    /// Takes back `key`'s latest request (Google refused it: it used no quota).
    pub fn unsend(&mut self, group: GroupId, model: &str, key: usize) {
        if let Some(usage) = self.usage.get_mut(model).and_then(|m| m.get_mut(&group)) {
            if let Some(i) = usage.minute.iter().rposition(|s| s.key == key) {
                usage.minute.remove(i);
                usage.today = usage.today.saturating_sub(1);
            }
        }
    }

    /// How many requests `key` itself sent in the group's current minute.
    pub fn sent_by(&mut self, group: GroupId, model: &str, key: usize, now: UnixMillis) -> u64 {
        let Some(usage) = self.usage.get_mut(model).and_then(|m| m.get_mut(&group)) else {
            return 0;
        };
        usage.expire(now);
        usage.minute.iter().filter(|s| s.key == key).count() as u64
    }

    /// Learns the limits a 429 named for (group, model).
    pub fn learn(
        &mut self,
        group: GroupId,
        model: &str,
        hits: &[QuotaHit],
    ) -> Vec<(QuotaKind, u64)> {
        let mut learned = Vec::new();
        let limits = self
            .learned
            .entry(model.to_string())
            .or_default()
            .entry(group)
            .or_default();
        // A limit of 0 (no quota for the tier) is not paced: the group rests instead, and is
        // asked again after `NO_QUOTA_REST_MS` in case the tier changed.
        for hit in hits.iter().filter(|h| h.limit != Some(0)) {
            if let (Some(value), Some(slot)) = (hit.limit, limits.get_mut(hit.kind)) {
                if *slot != Some(value) {
                    *slot = Some(value);
                    learned.push((hit.kind, value));
                }
            }
        }
        learned
    }

    /// Sets a learned limit (from a store, or another gateway).
    pub fn set_learned(&mut self, group: GroupId, model: &str, kind: QuotaKind, value: u64) {
        if let Some(slot) = self
            .learned
            .entry(model.to_string())
            .or_default()
            .entry(group)
            .or_default()
            .get_mut(kind)
        {
            *slot = Some(value);
        }
    }

    /// Forgets a learned limit (an operator said so); declared limits stay.
    pub fn forget_learned(&mut self, group: GroupId, model: &str, kind: QuotaKind) {
        if let Some(slot) = self
            .learned
            .get_mut(model)
            .and_then(|groups| groups.get_mut(&group))
            .and_then(|limits| limits.get_mut(kind))
        {
            *slot = None;
        }
    }

    /// The kinds of limit learned for (group, model).
    pub fn learned_kinds(&self, group: GroupId, model: &str) -> Vec<QuotaKind> {
        let Some(limits) = self.learned.get(model).and_then(|g| g.get(&group)) else {
            return Vec::new();
        };
        [
            (QuotaKind::RequestsPerMinute, limits.rpm),
            (QuotaKind::InputTokensPerMinute, limits.tpm),
            (QuotaKind::RequestsPerDay, limits.rpd),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|_| k))
        .collect()
    }

    /// The models something was learned for, for `group`.
    pub fn learned_models(&self, group: GroupId) -> Vec<String> {
        self.learned
            .iter()
            .filter(|(_, groups)| groups.contains_key(&group))
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Adds to today's count of (group, model) (restored from a store).
    pub fn restore_today(&mut self, group: GroupId, model: &str, count: u64, now: UnixMillis) {
        let usage = self.entry(group, model);
        usage.expire(now);
        usage.today = usage.today.max(count);
    }

    fn entry(&mut self, group: GroupId, model: &str) -> &mut Usage {
        self.usage
            .entry(model.to_string())
            .or_default()
            .entry(group)
            .or_default()
    }

    /// `from`'s limits and usage become `into`'s (two groups found to be one project).
    pub fn merge(&mut self, from: GroupId, into: GroupId) {
        for by_group in self.learned.values_mut() {
            if let Some(l) = by_group.remove(&from) {
                let target = by_group.entry(into).or_default();
                *target = target.or(l);
            }
        }
        for by_group in self.usage.values_mut() {
            if let Some(u) = by_group.remove(&from) {
                let target = by_group.entry(into).or_default();
                let mut all: Vec<Sent> = target.minute.drain(..).chain(u.minute).collect();
                all.sort_by_key(|s| s.at);
                target.minute = all.into();
                target.today += u.today;
                target.day_ends = target.day_ends.max(u.day_ends);
            }
        }
    }

    /// `key`'s requests leave `from` for `into` (a key found not to share `from`'s project).
    pub fn move_key(&mut self, key: usize, from: GroupId, into: GroupId) {
        for by_group in self.usage.values_mut() {
            let Some(u) = by_group.get_mut(&from) else {
                continue;
            };
            let mine: Vec<Sent> = u.minute.iter().filter(|s| s.key == key).copied().collect();
            u.minute.retain(|s| s.key != key);
            by_group.entry(into).or_default().minute.extend(mine);
        }
    }

    /// What `group` has used against its limits, for every model it has limits for.
    pub fn headroom(&self, group: GroupId, name: &str, now: UnixMillis) -> Vec<(String, Headroom)> {
        let used = self
            .usage
            .iter()
            .filter(|(_, m)| m.contains_key(&group))
            .map(|(model, _)| model);
        let learned = self
            .learned
            .iter()
            .filter(|(_, m)| m.contains_key(&group))
            .map(|(model, _)| model);
        let mut models: Vec<&String> = used.chain(learned).collect();
        models.sort();
        models.dedup();
        let mut out = Vec::new();
        for model in models {
            let limits = self.limits(group, name, model);
            if limits.is_empty() {
                continue;
            }
            let (sent_last_minute, tokens_last_minute, sent_today) =
                match self.usage.get(model).and_then(|m| m.get(&group)) {
                    Some(u) => {
                        let live = u.live(now);
                        (
                            live.len() as u64,
                            live.iter().map(|s| s.tokens).sum(),
                            u.today_at(now),
                        )
                    }
                    None => (0, 0, 0),
                };
            out.push((
                model.clone(),
                Headroom {
                    limits,
                    sent_last_minute,
                    tokens_last_minute,
                    sent_today,
                },
            ));
        }
        out
    }

    /// Today's counts per (group, model), for a store to keep.
    pub fn today(&self) -> impl Iterator<Item = (GroupId, &str, u64, UnixMillis)> {
        self.usage.iter().flat_map(|(m, by_group)| {
            by_group
                .iter()
                .filter(|(_, u)| u.today > 0)
                .map(move |(g, u)| (*g, m.as_str(), u.today, u.day_ends))
        })
    }
}

/// Whether a group that has sent nothing may send: only a zero or too small a limit refuses.
fn admits_empty(limits: Limits, tokens: u64, now: UnixMillis) -> Result<(), UnixMillis> {
    if limits.rpm == Some(0) || limits.rpd == Some(0) || limits.tpm == Some(0) {
        return Err(now + NO_QUOTA_REST_MS);
    }
    if limits.tpm.is_some_and(|t| tokens > t) {
        return Err(now + MINUTE_MS + SLACK);
    }
    Ok(())
}
