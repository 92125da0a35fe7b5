//! The one face the pool sees of whichever store is configured. The pool asks for capabilities
//! (is the state shared? pick a key for me? remember this fact) and never names a concrete
//! store; each method answers for every kind here.
//!
//! A Redis call's future is boxed where it is awaited: it holds a connection's request
//! (~800 bytes), and every request's future that may record a fact would otherwise carry that
//! much inline on a gateway whose state is local.

use std::collections::BTreeMap;
use std::path::Path;

use super::embedded::EmbeddedStore;
use super::redis::{RedisStore, RedisTimeouts, Schedule, Scheduled};
use super::sealed::Sealer;
use super::{
    Change, CounterDelta, DailyCount, Membership, StoreError, StoredQuota, StoredState, UsageRow,
};
use crate::clock::UnixMillis;
use crate::secret::Secret;

/// Which store to open: Redis when a URL is given, else the embedded file under `state_path`.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub redis_url: Option<&'a Secret>,
    pub redis_prefix: &'a str,
    pub state_path: &'a Path,
    /// Seals keys operators add before they are shared through Redis.
    pub admin_key: Option<&'a Secret>,
}

/// Where the pool's facts go.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Memory only: nothing outlives the process (tests, and tools that must not touch state).
    Volatile,
    /// One redb file on this machine: the facts last across restarts.
    Embedded(EmbeddedStore),
    /// Many gateways share one pool: Redis picks the key and holds the facts.
    Redis(RedisStore),
}

/// A shared store's answer to "which key?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedPick {
    /// This backend does not pick; decide from the local view.
    Local,
    /// The key with this id (`probe`: a half-open probe).
    Key { id: String, probe: bool },
    /// No candidate is usable for the model now; `earliest` when one will be.
    Nothing { earliest: Option<UnixMillis> },
}

impl Backend {
    /// Opens the configured store. An unreachable Redis is not fatal (the gateway starts on its
    /// own view and joins when Redis answers); a malformed URL or an unreadable state file is.
    pub async fn open(settings: Settings<'_>) -> Result<Backend, StoreError> {
        let Some(url) = settings.redis_url else {
            return EmbeddedStore::open(settings.state_path).map(Backend::Embedded);
        };
        let (url, prefix, timeouts) = (
            url.expose(),
            settings.redis_prefix,
            RedisTimeouts::default(),
        );
        let store = match RedisStore::connect(url, prefix, timeouts).await {
            Ok(store) => store,
            Err(e) => {
                tracing::warn!(error = %e, "Redis is unreachable at startup: serving from this gateway's own view until it answers");
                RedisStore::connect_later(url, prefix, timeouts)?
            }
        };
        Ok(Backend::Redis(match settings.admin_key {
            Some(admin) => store.with_sealer(Sealer::from_secret(admin.expose())),
            None => store,
        }))
    }

    /// Whether other gateways share this state (then it picks keys, its counters are the truth,
    /// and an outage is survived on the local view rather than being fatal).
    pub fn is_shared(&self) -> bool {
        matches!(self, Backend::Redis(_))
    }

    /// Its name and where it is, for `/health` and the status page (no credentials).
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            Backend::Volatile => ("memory", "this process".to_string()),
            Backend::Embedded(s) => ("embedded", s.path().display().to_string()),
            Backend::Redis(r) => ("redis", r.display_url().to_string()),
        }
    }

    /// Keys operators added and removed.
    pub async fn membership(&self) -> Result<Membership, StoreError> {
        match self {
            Backend::Volatile => Ok(Membership::default()),
            Backend::Embedded(s) => s.membership().await,
            Backend::Redis(r) => Box::pin(r.membership()).await,
        }
    }

    /// Everything known about these ids.
    pub async fn load(&self, ids: Vec<String>) -> Result<StoredState, StoreError> {
        match self {
            Backend::Volatile => Ok(ids.into_iter().map(|id| (id, Default::default())).collect()),
            Backend::Embedded(s) => s.load(ids).await,
            Backend::Redis(r) => {
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                Box::pin(r.load(&refs)).await
            }
        }
    }

    /// What the store knows about quotas (learned groups and limits, today's counts).
    pub async fn load_quota(&self) -> Result<StoredQuota, StoreError> {
        match self {
            Backend::Volatile => Ok(StoredQuota::default()),
            Backend::Embedded(s) => s.load_quota().await,
            Backend::Redis(r) => Box::pin(r.load_quota()).await,
        }
    }

    /// Keeps today's counts of each (group, model) (a shared store counts as keys are picked).
    pub async fn flush_daily(&self, counts: Vec<DailyCount>) -> Result<(), StoreError> {
        match self {
            Backend::Embedded(s) if !counts.is_empty() => s.flush_daily(counts).await,
            _ => Ok(()),
        }
    }

    /// Whether usage totals are kept here (else the caller keeps them in memory).
    /// The shared store, for what must be counted across gateways as it happens.
    pub fn redis(&self) -> Option<&RedisStore> {
        match self {
            Backend::Redis(r) => Some(r),
            _ => None,
        }
    }

    pub fn keeps_usage(&self) -> bool {
        !matches!(self, Backend::Volatile)
    }

    /// Adds usage deltas to the stored totals.
    pub async fn add_usage(&self, rows: Vec<UsageRow>) -> Result<(), StoreError> {
        match self {
            Backend::Volatile => Ok(()),
            Backend::Embedded(s) => s.add_usage(rows).await,
            Backend::Redis(r) => Box::pin(r.add_usage(&rows)).await,
        }
    }

    /// The stored usage of the UTC days `days` (consecutive, oldest first).
    pub async fn load_usage(&self, days: &[String]) -> Result<Vec<UsageRow>, StoreError> {
        let (Some(from), Some(to)) = (days.first(), days.last()) else {
            return Ok(Vec::new());
        };
        match self {
            Backend::Volatile => Ok(Vec::new()),
            Backend::Embedded(s) => s.load_usage(from.clone(), to.clone()).await,
            Backend::Redis(r) => Box::pin(r.load_usage(days)).await,
        }
    }

    /// A key for one request (see [`Schedule`]), chosen and counted by a shared store.
    pub async fn pick(&self, request: &Schedule<'_>) -> Result<SharedPick, StoreError> {
        match self {
            Backend::Volatile | Backend::Embedded(_) => Ok(SharedPick::Local),
            Backend::Redis(r) => Ok(match Box::pin(r.schedule(request)).await? {
                Scheduled::Key { id, probe } => SharedPick::Key { id, probe },
                Scheduled::Nothing { earliest } => SharedPick::Nothing { earliest },
            }),
        }
    }

    /// Takes back a refused send from a shared store's window of `group` for `model`.
    pub async fn unsend(&self, group: &str, model: &str, key_id: &str) -> Result<(), StoreError> {
        match self {
            Backend::Redis(r) => Box::pin(r.unsend(group, model, key_id)).await,
            Backend::Volatile | Backend::Embedded(_) => Ok(()),
        }
    }

    /// Records what one attempt taught: the facts are stored before this returns; a shared
    /// store also counts a failure under `label` for `key_id`.
    pub async fn record(
        &self,
        changes: &[Change],
        failure: Option<(&str, &'static str)>,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Volatile => Ok(()),
            Backend::Embedded(s) => {
                let lasting: Vec<Change> = changes.iter().filter(|c| c.lasts()).cloned().collect();
                if lasting.is_empty() {
                    return Ok(());
                }
                s.apply_all(lasting).await
            }
            Backend::Redis(r) => Box::pin(r.record(changes, failure)).await,
        }
    }

    /// Stores an operator's change.
    pub async fn apply(&self, change: &Change) -> Result<(), StoreError> {
        match self {
            Backend::Volatile => Ok(()),
            Backend::Embedded(s) => s.apply(change.clone()).await,
            Backend::Redis(r) => Box::pin(r.apply(change, None)).await,
        }
    }

    /// Adds counter increments (a shared store counts on its own as keys are picked).
    pub async fn flush_counters(
        &self,
        deltas: BTreeMap<String, CounterDelta>,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Embedded(s) if !deltas.is_empty() => s.flush_counters(deltas).await,
            _ => Ok(()),
        }
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Backend::Redis(r) => Box::pin(r.ping()).await,
            Backend::Volatile | Backend::Embedded(_) => Ok(()),
        }
    }

    /// Re-applies many facts at once (after an outage), by the merge rules.
    pub async fn merge(&self, facts: &[Change]) -> Result<(), StoreError> {
        match self {
            Backend::Redis(r) => Box::pin(r.merge(facts)).await,
            Backend::Volatile | Backend::Embedded(_) => Ok(()),
        }
    }
}
