//! Quota groups: Gemini quotas are per Google project and per model, shared by every key of the
//! project, so the pool schedules and rests keys by group. Groups are declared
//! (`GEMINI_API_KEY=proj-a:AIza…`) or learned.
//!
//! Learning must never be wrong, because a wrong merge rests healthy keys; a missed merge only
//! costs a few 429s. One coincidence is not proof: two keys of different projects often run out
//! at the same second (one person's two free keys hit their per-minute limits together, and
//! Google's windows may be aligned to the clock minute). Two keys are merged only on evidence
//! that chance does not produce:
//!
//! - **The counts explain it.** Their 429s for the same model and the same kind of quota give the
//!   same window end (within [`SAME_WINDOW_MS`]) and the same limit, each key had sent fewer
//!   requests in the window than the limit (neither used it up alone), and together they had
//!   sent at least the limit: their requests add up to exactly the quota that ran out. (Several
//!   keys whose counts only add up together are merged together.)
//! - **Twice, with traffic in between.** Two such under-used keys coincided in one window, both
//!   served requests after it ended, and they coincide again in a later window.
//!
//! A key alone in its project that used its quota up never merges; two keys that each used their
//! own quota up never merge, however often they run out together. A learned group never takes a
//! model away from a key that has not itself failed on that model (the pool rests and paces only
//! the members with a 429 of their own for it). A merge is undone at once when the evidence
//! turns: a key of a learned group succeeds while the group rests on a quota after its send, or
//! its own 429 for that quota gives another window end. Declared groups are never merged or
//! split.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::clock::UnixMillis;
use crate::upstream::classify::QuotaKind;

/// A group's number in this process.
pub type GroupId = u32;

/// Window ends this close are the same window.
pub const SAME_WINDOW_MS: i64 = 1_000;

/// How long a 429 is remembered as evidence.
const SIGHTING_TTL_MS: i64 = 120_000;

/// The prefix of a learned group's name (its first member's id follows).
pub const LEARNED_PREFIX: &str = "~";

#[derive(Debug, Clone)]
struct Group {
    name: Arc<str>,
    declared: bool,
}

/// A 429 seen, as evidence.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    key: usize,
    end: UnixMillis,
    at: UnixMillis,
    /// What the key had sent in the window, and the limit the 429 named.
    own: u64,
    limit: u64,
}

impl Sighting {
    /// The key had not used the quota up alone.
    fn under_used(&self) -> bool {
        self.own < self.limit
    }

    /// The same quota running out at the same moment.
    fn coincides(&self, other: &Sighting) -> bool {
        self.limit == other.limit && (self.end - other.end).abs() <= SAME_WINDOW_MS
    }
}

/// How long a coincidence of two keys is remembered, waiting for a second one.
const COINCIDENCE_TTL_MS: i64 = 3_600_000;

/// What the pool knows about which keys share a project.
#[derive(Debug, Default)]
pub struct Groups {
    of_key: Vec<GroupId>,
    groups: HashMap<GroupId, Group>,
    by_name: HashMap<Arc<str>, GroupId>,
    next: GroupId,
    sightings: HashMap<(String, QuotaKind), VecDeque<Sighting>>,
    /// (key, key) → the window end of their last coincidence, and when it was seen.
    coincided: HashMap<(usize, usize), (UnixMillis, UnixMillis)>,
    /// key → when it last served a request.
    last_served: Vec<UnixMillis>,
}

/// A change of membership, for pacing and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regroup {
    /// Every key of `from` is now in `into`.
    Merged { from: GroupId, into: GroupId },
    /// `key` left `from` for a group of its own, `into`.
    Split {
        key: usize,
        from: GroupId,
        into: GroupId,
    },
}

impl Groups {
    /// Adds key `index` (with its key id) to its declared group, or to a group of its own.
    pub fn add(&mut self, index: usize, key_id: &str, declared: Option<&str>) -> GroupId {
        let group = match declared {
            Some(name) => self.named(name, true),
            None => self.named(&format!("{LEARNED_PREFIX}{key_id}"), false),
        };
        if self.of_key.len() <= index {
            self.of_key.resize(index + 1, group);
        }
        self.of_key[index] = group;
        group
    }

    /// The group called `name`, made if it does not exist.
    pub fn named(&mut self, name: &str, declared: bool) -> GroupId {
        if let Some(&g) = self.by_name.get(name) {
            return g;
        }
        let id = self.next;
        self.next += 1;
        let name: Arc<str> = name.into();
        self.by_name.insert(name.clone(), id);
        self.groups.insert(id, Group { name, declared });
        id
    }

    pub fn of(&self, key: usize) -> GroupId {
        self.of_key.get(key).copied().unwrap_or(GroupId::MAX)
    }

    pub fn name(&self, group: GroupId) -> &str {
        self.groups.get(&group).map_or("", |g| &g.name)
    }

    pub fn is_declared(&self, group: GroupId) -> bool {
        self.groups.get(&group).is_some_and(|g| g.declared)
    }

    /// The keys of `group`.
    pub fn members(&self, group: GroupId) -> impl Iterator<Item = usize> + '_ {
        self.of_key
            .iter()
            .enumerate()
            .filter(move |(_, g)| **g == group)
            .map(|(i, _)| i)
    }

    /// Notes that `key` served a request (traffic between two coincidences).
    pub fn served(&mut self, key: usize, now: UnixMillis) {
        if self.last_served.len() <= key {
            self.last_served.resize(key + 1, 0);
        }
        self.last_served[key] = now;
    }

    fn served_since(&self, key: usize, since: UnixMillis) -> bool {
        self.last_served.get(key).is_some_and(|&at| at > since)
    }

    /// Notes a 429 of `key` for (`model`, `kind`) whose window ends at `end`, naming the quota's
    /// `limit`, when the key had sent `own` requests in the window. Returns the merges the
    /// evidence proves (see the module's rule), none without a limit.
    #[expect(clippy::too_many_arguments, reason = "one sighting's facts")]
    pub fn sighted(
        &mut self,
        key: usize,
        model: &str,
        kind: QuotaKind,
        end: UnixMillis,
        own: u64,
        limit: u64,
        now: UnixMillis,
    ) -> Vec<Regroup> {
        let seen = Sighting {
            key,
            end,
            at: now,
            own,
            limit,
        };
        let list = self.sightings.entry((model.to_string(), kind)).or_default();
        while list.front().is_some_and(|s| s.at + SIGHTING_TTL_MS < now) {
            list.pop_front();
        }
        list.retain(|s| s.key != key);
        let mut partners: Vec<Sighting> = list
            .iter()
            .filter(|s| seen.under_used() && s.under_used() && s.coincides(&seen))
            .copied()
            .collect();
        list.push_back(seen);
        if partners.is_empty() {
            return Vec::new();
        }
        // The counts explain it: the fewest partners whose sends, with this key's, reach the
        // limit.
        partners.sort_by_key(|s| std::cmp::Reverse(s.own));
        let mut sum = own;
        let mut explaining = Vec::new();
        for s in &partners {
            if sum >= limit {
                break;
            }
            sum += s.own;
            explaining.push(s.key);
        }
        let mut proven = if sum >= limit { explaining } else { Vec::new() };
        // Twice, with traffic in between.
        self.coincided
            .retain(|_, (_, at)| *at + COINCIDENCE_TTL_MS >= now);
        for p in &partners {
            let pair = (key.min(p.key), key.max(p.key));
            if let Some(&(before, _)) = self.coincided.get(&pair) {
                if (before - end).abs() > SAME_WINDOW_MS
                    && self.served_since(key, before)
                    && self.served_since(p.key, before)
                    && !proven.contains(&p.key)
                {
                    proven.push(p.key);
                }
            }
            self.coincided.insert(pair, (end, now));
        }
        let mut merges = Vec::new();
        for partner in proven {
            let (mine, theirs) = (self.of(key), self.of(partner));
            if mine != theirs {
                merges.extend(self.merge(mine, theirs));
            }
        }
        merges
    }

    /// Puts `a` and `b` together (a declared group absorbs a learned one; two declared groups
    /// are never merged).
    fn merge(&mut self, a: GroupId, b: GroupId) -> Option<Regroup> {
        let (from, into) = match (self.is_declared(a), self.is_declared(b)) {
            (true, true) => return None,
            (true, false) => (b, a),
            (false, true) => (a, b),
            // The older group (lower number) keeps its name, so the name stays stable.
            (false, false) => (a.max(b), a.min(b)),
        };
        for g in self.of_key.iter_mut().filter(|g| **g == from) {
            *g = into;
        }
        Some(Regroup::Merged { from, into })
    }

    /// Takes `key` out of its learned group into one of its own (its own evidence says it is
    /// not in that project). No-op for declared groups and groups of one.
    pub fn split(&mut self, key: usize, key_id: &str) -> Option<Regroup> {
        let from = self.of(key);
        if self.is_declared(from) || self.members(from).count() < 2 {
            return None;
        }
        let mut name = format!("{LEARNED_PREFIX}{key_id}");
        if self.by_name.get(name.as_str()) == Some(&from) {
            // The group was named after this key: the others keep the name; this key gets a
            // fresh one.
            name.push('\'');
        }
        let into = self.named(&name, false);
        self.of_key[key] = into;
        Some(Regroup::Split { key, from, into })
    }

    /// Moves `key` into the group called `name` (a store or another gateway knows better).
    pub fn assign(&mut self, key: usize, name: &str) -> Option<Regroup> {
        let from = self.of(key);
        if self.is_declared(from) || self.name(from) == name {
            return None;
        }
        let into = self.named(name, false);
        self.of_key[key] = into;
        Some(Regroup::Split { key, from, into })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "gemini-3.8-flash";
    const RPM: QuotaKind = QuotaKind::RequestsPerMinute;

    fn groups(declared: &[Option<&str>]) -> Groups {
        let mut g = Groups::default();
        for (i, d) in declared.iter().enumerate() {
            g.add(i, &format!("id{i}"), *d);
        }
        g
    }

    #[test]
    fn keys_whose_sends_add_up_to_the_quota_that_ran_out_are_merged() {
        let mut g = groups(&[None, None, None]);
        assert_eq!(g.sighted(0, M, RPM, 60_000, 2, 4, 1_000), vec![]);
        let merged = g.sighted(1, M, RPM, 60_400, 2, 4, 1_100);
        assert_eq!(merged, vec![Regroup::Merged { from: 1, into: 0 }]);
        assert_eq!(g.of(1), g.of(0));
        assert_eq!(g.name(g.of(1)), "~id0");
        assert_ne!(g.of(2), g.of(0));
    }

    #[test]
    fn three_keys_whose_sends_only_add_up_together_are_merged_together() {
        let mut g = groups(&[None, None, None, None]);
        g.sighted(0, M, RPM, 60_000, 2, 6, 1_000);
        assert_eq!(g.sighted(1, M, RPM, 60_000, 2, 6, 1_000), vec![], "4 of 6");
        assert_eq!(g.sighted(2, M, RPM, 60_000, 2, 6, 1_000).len(), 2);
        assert_eq!(g.members(g.of(0)).count(), 3);
        assert_ne!(g.of(3), g.of(0));
    }

    // False merges: what chance produces is never taken as proof.

    #[test]
    fn one_coincidence_whose_sends_do_not_explain_it_is_not_proof() {
        // The case: two keys of two projects, each asked once, refused at the same
        // second (a limit of 5 that neither of them, nor both together, used up).
        let mut g = groups(&[None, None]);
        g.sighted(0, M, RPM, 60_000, 0, 5, 1_000);
        assert_eq!(g.sighted(1, M, RPM, 60_000, 0, 5, 1_000), vec![]);
        assert_ne!(g.of(0), g.of(1));
    }

    #[test]
    fn keys_that_each_used_their_own_quota_never_merge_however_often_they_coincide() {
        let mut g = groups(&[None, None]);
        for window in 0..5 {
            let end = 60_000 * (window + 1);
            g.served(0, end - 30_000);
            g.served(1, end - 30_000);
            g.sighted(0, M, RPM, end, 5, 5, end - 10_000);
            assert_eq!(g.sighted(1, M, RPM, end, 5, 5, end - 10_000), vec![]);
        }
        assert_ne!(g.of(0), g.of(1));
    }

    #[test]
    fn two_coincidences_in_one_window_or_without_traffic_between_are_not_proof() {
        let mut g = groups(&[None, None]);
        g.sighted(0, M, RPM, 60_000, 1, 5, 1_000);
        g.sighted(1, M, RPM, 60_000, 1, 5, 1_000);
        // Asked again in the same window: the same coincidence seen twice.
        g.sighted(0, M, RPM, 60_300, 1, 5, 20_000);
        assert_eq!(g.sighted(1, M, RPM, 60_300, 1, 5, 20_000), vec![]);
        // A later window, but neither key served in between (both were refused throughout).
        g.sighted(0, M, RPM, 130_000, 1, 5, 80_000);
        assert_eq!(g.sighted(1, M, RPM, 130_000, 1, 5, 80_000), vec![]);
        // Only one of them served in between.
        g.served(0, 140_000);
        g.sighted(0, M, RPM, 200_000, 1, 5, 150_000);
        assert_eq!(g.sighted(1, M, RPM, 200_000, 1, 5, 150_000), vec![]);
        assert_ne!(g.of(0), g.of(1));
    }

    #[test]
    fn another_window_model_quota_or_limit_is_no_coincidence() {
        let mut g = groups(&[None, None, None]);
        g.sighted(0, M, RPM, 60_000, 2, 4, 1_000);
        assert_eq!(
            g.sighted(2, M, RPM, 63_000, 2, 4, 1_200),
            vec![],
            "another window"
        );
        assert_eq!(
            g.sighted(1, "gemini-3.1-pro-preview", RPM, 60_100, 2, 4, 1_300),
            vec![],
            "another model"
        );
        assert_eq!(
            g.sighted(1, M, QuotaKind::RequestsPerDay, 60_100, 2, 4, 1_300),
            vec![],
            "another quota"
        );
        assert_eq!(
            g.sighted(1, M, RPM, 60_100, 2, 10, 1_300),
            vec![],
            "another tier's limit"
        );
    }

    // Missed merges: one real project is still found.

    #[test]
    fn a_project_whose_keys_are_also_used_elsewhere_is_found_in_its_second_window() {
        // Their sends through the gateway do not add up to the limit (someone else uses the
        // project too), but they run out together twice, serving in between.
        let mut g = groups(&[None, None]);
        g.sighted(0, M, RPM, 60_000, 1, 5, 50_000);
        assert_eq!(g.sighted(1, M, RPM, 60_000, 1, 5, 50_000), vec![]);
        g.served(0, 70_000);
        g.served(1, 75_000);
        g.sighted(0, M, RPM, 130_000, 1, 5, 120_000);
        assert_eq!(
            g.sighted(1, M, RPM, 130_000, 1, 5, 120_000),
            vec![Regroup::Merged { from: 1, into: 0 }]
        );
    }

    #[test]
    fn declared_groups_absorb_learned_keys_but_never_merge_or_split() {
        let mut g = groups(&[Some("a"), Some("b"), None]);
        g.sighted(0, M, RPM, 60_000, 2, 4, 1_000);
        assert_eq!(g.sighted(1, M, RPM, 60_000, 2, 4, 1_000), vec![]);
        assert!(!g.sighted(2, M, RPM, 60_000, 2, 4, 1_000).is_empty());
        assert!(
            ["a", "b"].contains(&g.name(g.of(2))),
            "absorbed by a declared group"
        );
        assert_eq!(g.split(2, "id2"), None);
    }

    #[test]
    fn a_split_gives_the_key_a_group_of_its_own() {
        let mut g = groups(&[None, None, None]);
        g.sighted(0, M, RPM, 60_000, 1, 3, 1_000);
        g.sighted(1, M, RPM, 60_000, 1, 3, 1_000);
        g.sighted(2, M, RPM, 60_000, 1, 3, 1_000);
        assert_eq!(g.members(g.of(0)).count(), 3);
        let Some(Regroup::Split { into, .. }) = g.split(0, "id0") else {
            panic!("split");
        };
        assert_eq!(g.of(0), into);
        assert_eq!(g.name(into), "~id0'");
        assert_eq!(g.members(g.of(1)).count(), 2);
        assert_eq!(g.split(0, "id0"), None, "alone already");
    }
}
