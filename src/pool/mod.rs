//! The key pool: which Gemini key serves the next request for a model, and what each upstream
//! outcome does to a key. Rate limits cool a (key, model) pair until a deadline that only moves
//! later; rejected keys are disabled for every model until an operator re-enables them.
//!
//! [`KeyPool`] is the async face dispatch uses. It decides with the in-memory [`LocalView`] and
//! keeps a [`Backend`] in step: the embedded store (the facts last across restarts), or Redis
//! (many gateways share one pool: Redis picks the key, and the local view is the fallback while
//! Redis is unreachable; what was learned meanwhile is merged back when it returns).

mod clock;
mod key;
mod local;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub use clock::{iso8601, next_daily_reset, Clock, UnixMillis};
pub use key::{fingerprint, mask, ApiKey};
pub use local::{Disabled, KeyHealth, KeyView, Lease, LocalView, PoolSnapshot};

use crate::store::embedded::EmbeddedStore;
use crate::store::redis::RedisStore;
use crate::store::{Change, StoreError};
use crate::upstream::classify::Verdict;

/// Where the pool's facts go.
#[derive(Debug, Clone)]
pub enum Backend {
    Embedded(EmbeddedStore),
    Redis(RedisStore),
}

/// The backend's name and health, for `/health` and the status page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendStatus {
    pub backend: &'static str,
    pub location: String,
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The shared pool.
#[derive(Debug)]
pub struct KeyPool {
    local: LocalView,
    backend: Backend,
    /// Redis is unreachable: decide locally, remember what we learn.
    degraded: AtomicBool,
    problem: Mutex<Option<String>>,
    /// Facts learned while Redis was unreachable, merged back on reconnect.
    unsent: Mutex<Vec<Change>>,
}

impl KeyPool {
    /// A pool over `keys`, seeded with what `backend` already knows about them (keys no longer
    /// configured are ignored; new ones start available).
    pub async fn open(
        keys: Vec<ApiKey>,
        default_cooldown: Duration,
        clock: Clock,
        backend: Backend,
    ) -> Result<KeyPool, StoreError> {
        let pool = KeyPool {
            local: LocalView::new(keys, default_cooldown, clock),
            backend,
            degraded: AtomicBool::new(false),
            problem: Mutex::new(None),
            unsent: Mutex::new(Vec::new()),
        };
        match &pool.backend {
            Backend::Embedded(store) => {
                let membership = store.membership().await?;
                for key in membership.added {
                    pool.local.add(key);
                }
                for id in &membership.removed {
                    pool.local.remove(id);
                }
                let stored = store.load(pool.ids()).await?;
                pool.local.merge(&stored, false);
            }
            Backend::Redis(_) => pool.refresh().await,
        }
        Ok(pool)
    }

    fn ids(&self) -> Vec<String> {
        self.local
            .keys()
            .iter()
            .map(|(_, k)| k.id().to_string())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.local.len()
    }

    pub fn is_empty(&self) -> bool {
        self.local.is_empty()
    }

    pub fn clock(&self) -> &Clock {
        self.local.clock()
    }

    /// The next key for `model`, skipping keys this request already `tried`; a `preferred` key
    /// (conversation affinity) is taken while it is usable.
    pub async fn pick(
        &self,
        model: &str,
        tried: &[usize],
        preferred: Option<usize>,
    ) -> Option<Lease> {
        if let (Backend::Redis(redis), false) = (&self.backend, self.is_degraded()) {
            self.local.note_model(model);
            let keys = self.local.keys();
            let candidates: Vec<&str> = keys
                .iter()
                .filter(|(i, _)| !tried.contains(i))
                .map(|(_, k)| k.id())
                .collect();
            let preferred = preferred
                .and_then(|p| keys.iter().find(|(i, _)| *i == p))
                .map(|(_, k)| k.id());
            match redis
                .pick(model, &candidates, preferred, self.clock().now())
                .await
            {
                Ok(Some(id)) => {
                    // An id this gateway does not know yet (added elsewhere a moment ago)
                    // falls through to the local choice rather than failing the request.
                    if let Some((index, key)) = keys.iter().find(|(_, k)| k.id() == id).cloned() {
                        self.local.count_request(index);
                        return Some(Lease { index, key });
                    }
                }
                Ok(None) => return None,
                Err(e) => self.degrade(&e),
            }
        }
        self.local.pick(model, tried, preferred)
    }

    /// Records a failed attempt: the verdict changes the key locally, and the fact reaches the
    /// backend before this returns (so a crash right after loses nothing).
    pub async fn record_failure(&self, index: usize, model: &str, verdict: &Verdict) {
        let change = self.local.record_failure(index, model, verdict);
        match &self.backend {
            Backend::Embedded(store) => {
                if let Some(change) = change {
                    if let Err(e) = store.apply(change).await {
                        tracing::error!(error = %e, "could not persist a key state change");
                    }
                }
            }
            Backend::Redis(redis) => {
                if self.is_degraded() {
                    self.keep_unsent(change);
                    return;
                }
                let key_id = self.local.key_at(index).map(|k| k.id().to_string());
                let result = match (&change, key_id) {
                    (Some(c), _) => redis.apply(c, Some(verdict.label())).await,
                    (None, Some(id)) => redis.record_failure(&id, verdict.label()).await,
                    (None, None) => Ok(()),
                };
                if let Err(e) = result {
                    self.degrade(&e);
                    self.keep_unsent(change);
                }
            }
        }
    }

    fn keep_unsent(&self, change: Option<Change>) {
        if let Some(c) = change {
            self.unsent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(c);
        }
    }

    fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn degrade(&self, e: &StoreError) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "state backend unreachable: serving from this gateway's own view until it returns");
        }
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }

    /// Background upkeep, about once a second: flush counters to the embedded store; for Redis,
    /// pull the shared view, or — while it is unreachable — try to reconnect and merge back.
    pub async fn maintain(&self) {
        match &self.backend {
            Backend::Embedded(store) => {
                let deltas = self.local.take_counter_deltas();
                if !deltas.is_empty() {
                    if let Err(e) = store.flush_counters(deltas).await {
                        tracing::warn!(error = %e, "could not save key counters");
                    }
                }
            }
            Backend::Redis(redis) => {
                if self.is_degraded() {
                    if redis.ping().await.is_err() {
                        return;
                    }
                    // Everything this gateway knows goes back, not only what it learned while
                    // away: Redis may have come back empty. The merge keeps disables and the
                    // later deadline.
                    let unsent =
                        std::mem::take(&mut *self.unsent.lock().unwrap_or_else(|p| p.into_inner()));
                    let mut facts = self.local.facts();
                    facts.extend(unsent.iter().cloned());
                    if let Err(e) = redis.merge(&facts).await {
                        self.unsent
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend(unsent);
                        self.degrade(&e);
                        return;
                    }
                    self.degraded.store(false, Ordering::Relaxed);
                    *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    tracing::info!(
                        merged = facts.len(),
                        "state backend reachable again; merged what this gateway learned meanwhile"
                    );
                }
                self.refresh().await;
            }
        }
    }

    /// Pulls the shared view from Redis into the local view (no-op for other backends):
    /// membership first (keys operators added or removed on any gateway), then key state.
    pub async fn refresh(&self) {
        // While Redis is unreachable (or has just come back, possibly empty) the local view is
        // the truth until `maintain` has merged it back.
        if self.is_degraded() {
            return;
        }
        if let Backend::Redis(redis) = &self.backend {
            match redis.membership().await {
                Ok(m) => {
                    for key in m.added {
                        crate::telemetry::register_secret(key.expose());
                        self.local.add(key);
                    }
                    for id in &m.removed {
                        self.local.remove(id);
                    }
                }
                Err(e) => return self.degrade(&e),
            }
            let ids = self.ids();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            match redis.load(&refs).await {
                Ok(stored) => self.local.merge(&stored, true),
                Err(e) => self.degrade(&e),
            }
        }
    }

    /// How long until some key can serve `model` again (see [`LocalView::retry_after`]); with a
    /// shared store the view is refreshed first, since other gateways may know more.
    pub async fn retry_after(&self, model: &str) -> Option<Duration> {
        self.refresh().await;
        self.local.retry_after(model)
    }

    /// The index of a key in the pool, by its id.
    pub fn index_of(&self, key_id: &str) -> Option<usize> {
        self.local.index_of(key_id)
    }

    /// Applies an operator's change locally and in the backend (so it lasts, and reaches other
    /// gateways sharing the store).
    pub async fn apply(&self, change: Change) -> Result<(), StoreError> {
        self.local.apply(&change);
        match &self.backend {
            Backend::Embedded(store) => store.apply(change).await,
            Backend::Redis(redis) => redis.apply(&change, None).await,
        }
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.local.redact(text)
    }

    pub fn snapshot(&self) -> PoolSnapshot {
        self.local.snapshot()
    }

    pub fn backend_status(&self) -> BackendStatus {
        let problem = self
            .problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (backend, location) = match &self.backend {
            Backend::Embedded(s) => ("embedded", s.path().display().to_string()),
            Backend::Redis(r) => ("redis", r.display_url().to_string()),
        };
        BackendStatus {
            backend,
            location,
            healthy: !self.is_degraded(),
            problem,
        }
    }
}
