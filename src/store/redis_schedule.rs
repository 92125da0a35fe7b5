//! Scheduling on the shared store: each request's key is chosen by the `PICK` script with what
//! every gateway knows, and its send counted in its quota group's window; a refused send is
//! taken back (`UNSEND`).

use super::redis::RedisStore;
use super::redis_scripts::{PICK, UNSEND};
use super::{RedisOp, SharedGroup, StoreError};

/// One request to schedule on a shared store.
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    pub model: &'a str,
    /// The candidates' groups, with their declared limits.
    pub groups: &'a [SharedGroup],
    /// (key id, index into `groups`), in the caller's order.
    pub candidates: &'a [(&'a str, usize)],
    pub preferred: Option<&'a str>,
    pub tokens: u64,
    pub now: i64,
    /// The next midnight US Pacific (when the day's counts start over).
    pub day_ends: i64,
    /// Extra time a send counts in its window (for the clocks of the two sides).
    pub slack: i64,
}

/// What the shared store chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    /// This key; `probe` when it is a half-open probe.
    Key { id: String, probe: bool },
    /// None now; `earliest` when one can (`None`: none will by itself).
    Nothing { earliest: Option<i64> },
}

impl RedisStore {
    /// Round-robin among `candidates` (in the caller's order) usable for `model` at `now`;
    /// `preferred` wins if usable. Counts a request for the chosen key. One round trip. (Each
    /// candidate its own group, without limits: see [`RedisStore::schedule`].)
    pub async fn pick(
        &self,
        model: &str,
        candidates: &[&str],
        preferred: Option<&str>,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let groups: Vec<SharedGroup> = candidates
            .iter()
            .map(|id| SharedGroup {
                name: format!("~{id}"),
                ..SharedGroup::default()
            })
            .collect();
        let listed: Vec<(&str, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        let request = Schedule {
            model,
            groups: &groups,
            candidates: &listed,
            preferred,
            tokens: 0,
            now,
            day_ends: now + 86_400_000,
            slack: 0,
        };
        Ok(match self.schedule(&request).await? {
            Scheduled::Key { id, .. } => Some(id),
            Scheduled::Nothing { .. } => None,
        })
    }

    /// Chooses the key for one request with everything the gateways know (see `PICK`), and
    /// counts its send in its group's window. One round trip.
    pub async fn schedule(&self, r: &Schedule<'_>) -> Result<Scheduled, StoreError> {
        if r.candidates.is_empty() {
            return Ok(Scheduled::Nothing { earliest: None });
        }
        let mut inv = PICK.key(&self.names.disabled);
        inv.key(&self.names.cooldowns)
            .key(format!("{}{}", self.names.rr, r.model))
            .key(&self.names.stats)
            .key(&self.names.limits)
            .key(&self.names.ejections)
            .key(&self.names.overloads);
        for g in r.groups {
            inv.key(format!("{}{}|{}", self.names.win, g.name, r.model))
                .key(format!("{}{}|{}", self.names.day, g.name, r.model));
        }
        let limit = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        inv.arg(r.model)
            .arg(r.now)
            .arg(r.preferred.unwrap_or(""))
            .arg(r.tokens)
            .arg(r.slack)
            .arg(r.day_ends)
            .arg(r.groups.len());
        for g in r.groups {
            inv.arg(&g.name)
                .arg(limit(g.rpm))
                .arg(limit(g.tpm))
                .arg(limit(g.rpd));
        }
        for (id, group) in r.candidates {
            inv.arg(*id).arg(group + 1);
        }
        let (id, second): (Option<String>, Option<i64>) = self.eval(RedisOp::Pick, &inv).await?;
        Ok(match id {
            Some(id) => Scheduled::Key {
                id,
                probe: second == Some(1),
            },
            None => Scheduled::Nothing { earliest: second },
        })
    }

    /// Takes back `key_id`'s newest send from `group`'s window for `model` (Google refused it).
    pub async fn unsend(&self, group: &str, model: &str, key_id: &str) -> Result<(), StoreError> {
        let mut inv = UNSEND.key(format!("{}{group}|{model}", self.names.win));
        inv.key(format!("{}{group}|{model}", self.names.day))
            .arg(key_id);
        self.eval::<i64>(RedisOp::Apply, &inv).await.map(drop)
    }
}
