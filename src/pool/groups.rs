//! Quota groups: Gemini quotas are per Google project and per model, shared by every key of the
//! project, so the pool schedules and rests keys by group. Groups are declared
//! (`GEMINI_API_KEY=proj-a:AIza…`) or learned.
//!
//! Learning is conservative, because a wrong merge rests healthy keys. Two keys are merged when
//! their 429s for the same model and the same kind of quota give the same window end (within
//! [`SAME_WINDOW_MS`]) and **each of them had sent fewer requests in that window than the
//! quota's value** — so neither could have used the quota up alone: both share it with someone,
//! and the same moment says with each other. (A key alone in its project that used its quota up
//! never merges.) A merge is undone when the evidence turns: a key of a learned group succeeds
//! while the group rests on a quota after its send, or its own 429 for that quota gives another
//! window end. Declared groups are never merged or split.

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
    under_used: bool,
}

/// What the pool knows about which keys share a project.
#[derive(Debug, Default)]
pub struct Groups {
    of_key: Vec<GroupId>,
    groups: HashMap<GroupId, Group>,
    by_name: HashMap<Arc<str>, GroupId>,
    next: GroupId,
    sightings: HashMap<(String, QuotaKind), VecDeque<Sighting>>,
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

    /// Notes a 429 of `key` for (`model`, `kind`) whose window ends at `end`; `under_used` when
    /// the key had sent fewer requests in the window than the quota's value. Returns the merge
    /// it proves, if any.
    pub fn sighted(
        &mut self,
        key: usize,
        model: &str,
        kind: QuotaKind,
        end: UnixMillis,
        under_used: bool,
        now: UnixMillis,
    ) -> Option<Regroup> {
        let mine = self.of(key);
        let list = self.sightings.entry((model.to_string(), kind)).or_default();
        while list.front().is_some_and(|s| s.at + SIGHTING_TTL_MS < now) {
            list.pop_front();
        }
        list.retain(|s| s.key != key);
        let partner = list
            .iter()
            .rev()
            .find(|s| {
                s.under_used
                    && under_used
                    && (s.end - end).abs() <= SAME_WINDOW_MS
                    && self.of_key.get(s.key).is_some_and(|g| *g != mine)
            })
            .map(|s| s.key);
        list.push_back(Sighting {
            key,
            end,
            at: now,
            under_used,
        });
        let theirs = self.of(partner?);
        self.merge(mine, theirs)
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

    const M: &str = "gemini-2.5-flash";
    const RPM: QuotaKind = QuotaKind::RequestsPerMinute;

    fn groups(declared: &[Option<&str>]) -> Groups {
        let mut g = Groups::default();
        for (i, d) in declared.iter().enumerate() {
            g.add(i, &format!("id{i}"), *d);
        }
        g
    }

    #[test]
    fn the_same_window_end_from_two_under_used_keys_merges_them() {
        let mut g = groups(&[None, None, None]);
        assert_eq!(g.sighted(0, M, RPM, 60_000, true, 1_000), None);
        let merged = g.sighted(1, M, RPM, 60_400, true, 1_100);
        assert_eq!(merged, Some(Regroup::Merged { from: 1, into: 0 }));
        assert_eq!(g.of(1), g.of(0));
        assert_eq!(g.name(g.of(1)), "~id0");
        assert_ne!(g.of(2), g.of(0));
    }

    #[test]
    fn a_key_that_used_its_quota_alone_or_another_window_never_merges() {
        let mut g = groups(&[None, None, None]);
        g.sighted(0, M, RPM, 60_000, false, 1_000);
        assert_eq!(
            g.sighted(1, M, RPM, 60_100, true, 1_100),
            None,
            "0 used it up alone"
        );
        assert_eq!(
            g.sighted(2, M, RPM, 63_000, true, 1_200),
            None,
            "another window"
        );
        assert_eq!(
            g.sighted(2, "gemini-2.5-pro", RPM, 60_100, true, 1_300),
            None,
            "another model"
        );
        assert_eq!(
            g.sighted(2, M, QuotaKind::RequestsPerDay, 60_100, true, 1_300),
            None,
            "another quota"
        );
    }

    #[test]
    fn declared_groups_absorb_learned_keys_but_never_merge_or_split() {
        let mut g = groups(&[Some("a"), Some("b"), None]);
        g.sighted(0, M, RPM, 60_000, true, 1_000);
        assert_eq!(g.sighted(1, M, RPM, 60_000, true, 1_000), None);
        assert!(g.sighted(2, M, RPM, 60_000, true, 1_000).is_some());
        assert_eq!(g.name(g.of(2)), "b", "the latest sighting is the partner");
        assert_eq!(g.split(2, "id2"), None);
    }

    #[test]
    fn a_split_gives_the_key_a_group_of_its_own() {
        let mut g = groups(&[None, None, None]);
        g.sighted(0, M, RPM, 60_000, true, 1_000);
        g.sighted(1, M, RPM, 60_000, true, 1_000);
        g.sighted(2, M, RPM, 60_000, true, 1_000);
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
