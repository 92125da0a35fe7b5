//! Where the pool's state lives beyond one process's memory. The pool keeps a local view and
//! decides with it; a [`Backend`] makes that view last (embedded, the default) or shared across
//! gateways (Redis). Facts are absolute and merge by the same rules everywhere: a disable wins
//! over no disable, a later cooldown deadline wins over an earlier one.

mod backend;
mod documents;
pub mod embedded;
mod embedded_quota;
mod error;
pub mod redis;
mod redis_clients;
mod redis_schedule;
mod redis_scripts;
mod redis_usage;
pub mod sealed;
pub mod usage;

use std::collections::BTreeMap;

pub use backend::{Backend, Settings, SharedPick};
pub use error::{EmbeddedFault, RedisFault, RedisOp, StoreError};
pub use redis::Schedule;
pub use usage::{Counts, Owner, UsageKey, UsageRow, COUNTERS};

use crate::clock::UnixMillis;
use crate::secret::ApiKey;
use crate::upstream::classify::QuotaKind;

/// One fact the pool learned, to be persisted or shared. Keys are named by their fingerprint
/// id, never by the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// (key, model) may not be used before `until`; a store keeps the later of two deadlines.
    Cooldown {
        key_id: String,
        model: String,
        until: UnixMillis,
    },
    /// The key is out for every model until re-enabled; a store keeps the first disable.
    Disable {
        key_id: String,
        reason: String,
        since: UnixMillis,
    },
    /// An operator re-enabled the key (clears the disable).
    Enable { key_id: String },
    /// An operator cleared the key's cooldowns (all models when `model` is `None`).
    ClearCooldown {
        key_id: String,
        model: Option<String>,
    },
    /// An operator added a key to the pool (the only change that carries a secret; `ApiKey`
    /// never shows it in `Debug`).
    AddKey { key: ApiKey },
    /// An operator took a key out of the pool, at `at`.
    RemoveKey { key_id: String, at: UnixMillis },
    /// The pool learned which quota group (project) a key is in.
    Group { key_id: String, group: String },
    /// The pool learned a limit of a group for a model.
    Limit {
        group: String,
        model: String,
        kind: QuotaKind,
        value: u64,
    },
    /// An operator had a group's learned limit forgotten (it is learned again from the next 429
    /// that names it).
    ForgetLimit {
        group: String,
        model: String,
        kind: QuotaKind,
    },
    /// A (key, model) was ejected for the `times`-th time in a row, until `until`.
    Ejected {
        key_id: String,
        model: String,
        times: u32,
        until: UnixMillis,
    },
    /// A (key, model) served again: its ejection is over.
    Healed { key_id: String, model: String },
    /// A model is overloaded everywhere, for the `times`-th time in a row, until `until`.
    Overloaded {
        model: String,
        times: u32,
        until: UnixMillis,
    },
    /// A model served again after an overload.
    OverloadCleared { model: String },
}

impl Change {
    /// Whether the fact is worth a disk write (ejections and overloads are short-lived: only a
    /// shared store keeps them).
    pub fn lasts(&self) -> bool {
        !matches!(
            self,
            Change::Ejected { .. }
                | Change::Healed { .. }
                | Change::Overloaded { .. }
                | Change::OverloadCleared { .. }
        )
    }

    /// The id of the key the change is about (empty for a group's limit).
    pub fn key_id(&self) -> &str {
        match self {
            Change::Cooldown { key_id, .. }
            | Change::Disable { key_id, .. }
            | Change::Enable { key_id }
            | Change::ClearCooldown { key_id, .. }
            | Change::RemoveKey { key_id, .. }
            | Change::Group { key_id, .. }
            | Change::Ejected { key_id, .. }
            | Change::Healed { key_id, .. } => key_id,
            Change::AddKey { key } => key.id(),
            Change::Limit { .. }
            | Change::ForgetLimit { .. }
            | Change::Overloaded { .. }
            | Change::OverloadCleared { .. } => "",
        }
    }
}

/// Keys operators added to or removed from the pool, beyond `GEMINI_API_KEY`.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    pub added: Vec<ApiKey>,
    pub removed: Vec<String>,
}

/// What a store knows about one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredKey {
    pub disabled: Option<(String, UnixMillis)>,
    /// model → deadline (may include expired ones; readers filter by time).
    pub cooldowns: BTreeMap<String, UnixMillis>,
    pub requests: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// Key id → state, for the ids asked about.
pub type StoredState = BTreeMap<String, StoredKey>;

/// A limit learned for a (group, model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedLimit {
    pub group: String,
    pub model: String,
    pub kind: QuotaKind,
    pub value: u64,
}

impl LearnedLimit {
    /// How both stores name a learned limit: `group|model|kind`.
    pub fn field(group: &str, model: &str, kind: QuotaKind) -> String {
        format!("{group}|{model}|{}", kind.label())
    }

    /// The limit a stored `field` (see [`LearnedLimit::field`]) and its value stand for.
    pub fn from_field(field: &str, value: u64) -> Option<LearnedLimit> {
        let mut parts = field.rsplitn(3, '|');
        let (kind, model, group) = (parts.next()?, parts.next()?, parts.next()?);
        Some(LearnedLimit {
            group: group.to_string(),
            model: model.to_string(),
            kind: QuotaKind::from_label(kind)?,
            value,
        })
    }
}

/// Requests a (group, model) sent on the Pacific day ending at `day_ends`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCount {
    pub group: String,
    pub model: String,
    pub day_ends: UnixMillis,
    pub count: u64,
}

/// What a store knows about quotas and health: learned groups (key id → group), learned
/// limits, today's counts, and (a shared store) ejections and overloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredQuota {
    pub groups: Vec<(String, String)>,
    pub limits: Vec<LearnedLimit>,
    pub daily: Vec<DailyCount>,
    /// (key id, model) → (times, until).
    pub ejections: Vec<(String, String, u32, UnixMillis)>,
    /// model → (times, until).
    pub overloads: Vec<(String, u32, UnixMillis)>,
}

/// One quota group as a shared store schedules it: its name and declared limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedGroup {
    pub name: String,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub rpd: Option<u64>,
}

/// Counter increments since the last flush, per key id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterDelta {
    pub requests: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}
