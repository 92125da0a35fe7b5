//! The key pool: which Gemini key serves the next request for a model, and what each upstream
//! outcome does to a key. Rate limits cool a (key, model) pair until a deadline that only moves
//! later; rejected keys are disabled for every model until an operator re-enables them.
//!
//! [`KeyPool`] is the async face dispatch uses. It decides with the in-memory [`LocalView`] and
//! keeps the store's [`Backend`] in step: facts that last across restarts (embedded), or a pool
//! shared by many gateways (Redis picks the key, and the local view is the fallback while Redis
//! is unreachable; what was learned meanwhile is merged back when it returns). The pool asks the
//! backend for capabilities and never names a concrete store.

mod ejection;
mod groups;
mod key_models;
mod local;
mod pacing;
mod view;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub use crate::clock::{iso8601, next_daily_reset, next_monthly_reset, Clock, UnixMillis};
pub use key_models::KeyModels;
pub use local::{Lease, LocalView, OwnerKeys, QuotaPlan};
pub use pacing::{DeclaredLimit, Headroom, Limits};
pub use view::{
    Because, Disabled, EjectionView, Evidence, GroupView, KeyEvidence, KeyHealth, KeyView,
    PoolSnapshot, Unserved,
};

use crate::secret::ApiKey;
use crate::store::{Backend, Change, Schedule, SharedPick, StoreError};
use crate::upstream::classify::Verdict;

/// The name under which the model catalog (`GET /models`, which names no model) keeps its
/// cooldowns. Model ids never contain `*`.
pub const CATALOG: &str = "*models.list";

/// The name under which a key's rest for every model is kept (its project hit a spend cap, ran
/// out of prepaid credits or a spend-based limit): a cooldown like any other, so it lasts and
/// is shared by the same means. The model catalog is not rested by it.
pub const ALL_MODELS: &str = "*all-models";

/// The name under which calls about Gemini's stored resources (files, caches, batches,
/// interactions: they name no model) keep their cooldowns. Like the catalog, a billing rest
/// does not hold them back.
pub const RESOURCES: &str = "*resources";

/// Whether a scope's name is a model's (the catalog's, the resources' and the every-model rest's
/// start with `*`, which no model id contains).
pub fn is_model(scope_name: &str) -> bool {
    !scope_name.starts_with('*')
}

/// What a request asks keys for: one model, or the model catalog. Cooldowns are per scope;
/// only models count as "requested so far" in the status view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Model(&'a str),
    Catalog,
    /// Calls about stored resources (files, caches, batches, interactions).
    Resources,
}

impl Scope<'_> {
    /// The name cooldowns and round-robin cursors are kept under.
    pub fn name(&self) -> &str {
        match self {
            Scope::Model(m) => m,
            Scope::Catalog => CATALOG,
            Scope::Resources => RESOURCES,
        }
    }
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
    /// The shared store is unreachable: decide locally, remember what we learn.
    degraded: AtomicBool,
    problem: Mutex<Option<String>>,
    /// Facts learned while the shared store was unreachable, merged back on reconnect.
    unsent: Mutex<Vec<Change>>,
    /// scope → (when, the shared store's "next possible" for it), from its last refusal.
    shared_hints: Mutex<std::collections::HashMap<String, (UnixMillis, Option<UnixMillis>)>>,
}

impl KeyPool {
    /// A pool over `keys`, seeded with what `backend` already knows about them (keys no longer
    /// configured are ignored; new ones start available). A shared backend that does not answer
    /// is not fatal: the pool starts on its own view and joins later.
    pub async fn open(
        keys: Vec<ApiKey>,
        plan: &QuotaPlan,
        default_cooldown: Duration,
        clock: Clock,
        backend: Backend,
    ) -> Result<KeyPool, StoreError> {
        let pool = KeyPool {
            local: LocalView::planned(keys, plan, default_cooldown, clock),
            backend,
            degraded: AtomicBool::new(false),
            problem: Mutex::new(None),
            unsent: Mutex::new(Vec::new()),
            shared_hints: Mutex::new(std::collections::HashMap::new()),
        };
        if pool.backend.is_shared() {
            pool.refresh().await;
        } else {
            pool.apply_membership(pool.backend.membership().await?);
            let stored = pool.backend.load(pool.ids()).await?;
            pool.local.merge(&stored, false);
            pool.local.merge_quota(&pool.backend.load_quota().await?);
            pool.load_key_models().await?;
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

    fn apply_membership(&self, m: crate::store::Membership) {
        for key in m.added {
            self.local.add(key);
        }
        for id in &m.removed {
            self.local.remove(id);
        }
    }

    pub fn len(&self) -> usize {
        self.local.len()
    }

    /// Key slots, removed ones included (every key index is below it).
    pub fn slots(&self) -> usize {
        self.local.slots()
    }

    pub fn is_empty(&self) -> bool {
        self.local.is_empty()
    }

    /// The store the pool keeps its facts in.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn clock(&self) -> &Clock {
        self.local.clock()
    }

    /// The next key for `scope` for a request of about `tokens` input tokens, skipping keys this
    /// request already `tried`; a `preferred` key (conversation affinity) is taken while it is
    /// usable.
    pub async fn pick(
        &self,
        scope: Scope<'_>,
        tried: &[usize],
        preferred: Option<usize>,
        tokens: u64,
    ) -> Option<Lease> {
        if self.backend.is_shared() && !self.is_degraded() {
            let (candidates, groups) = self.local.shared_request(scope, tried);
            let listed: Vec<(&str, usize)> = candidates
                .iter()
                .map(|(_, id, g)| (id.as_str(), *g))
                .collect();
            let preferred_id = preferred
                .and_then(|p| candidates.iter().find(|(i, ..)| *i == p))
                .map(|(_, id, _)| id.as_str());
            let now = self.clock().now();
            let request = Schedule {
                model: scope.name(),
                groups: &groups,
                candidates: &listed,
                preferred: preferred_id,
                tokens,
                now,
                day_ends: next_daily_reset(now),
                slack: pacing::SLACK,
            };
            match self.backend.pick(&request).await {
                Ok(SharedPick::Key { id, probe }) => {
                    // An id this gateway does not know yet (added elsewhere a moment ago)
                    // falls through to the local choice rather than failing the request.
                    if let Some((index, _, _)) = candidates.iter().find(|(_, c, _)| *c == id) {
                        self.local.note_sent(*index, scope, probe);
                        if let Some(key) = self.local.key_at(*index) {
                            return Some(Lease {
                                index: *index,
                                key,
                                probe,
                            });
                        }
                    }
                }
                Ok(SharedPick::Nothing { earliest }) => {
                    if !listed.is_empty() {
                        self.hint(scope, earliest);
                    }
                    return None;
                }
                Ok(SharedPick::Local) => {}
                Err(e) => self.degrade(&e),
            }
        }
        self.local.pick(scope, tried, preferred, tokens)
    }

    /// Records a successful attempt (it may end an ejection, or prove a learned group wrong).
    pub async fn record_success(&self, index: usize, scope: Scope<'_>) {
        let changes = self.local.record_success(index, scope);
        if !changes.is_empty() {
            self.store(&changes, None).await;
        }
    }

    /// A transient failure of key `index` that followed its request from key to key: the key is
    /// not charged; a probe it was is released (the next request may probe again).
    pub fn excuse(&self, index: usize, scope: Scope<'_>) {
        self.local.excuse(index, scope);
    }

    /// Remembers when a shared store said the scope can be served next.
    fn hint(&self, scope: Scope<'_>, earliest: Option<UnixMillis>) {
        let now = self.clock().now();
        self.shared_hints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(scope.name().to_string(), (now, earliest));
    }

    /// Records a failed attempt: the verdict changes the key locally, and the facts reach the
    /// backend before this returns (so a crash right after loses nothing).
    pub async fn record_failure(&self, index: usize, scope: Scope<'_>, verdict: &Verdict) {
        let because = Because {
            words: verdict.label().into(),
            request_id: None,
        };
        self.record_failure_because(index, scope, verdict, &because)
            .await;
    }

    /// [`KeyPool::record_failure`], keeping `because` (the upstream's words, the request) as
    /// the evidence of what it decides.
    pub async fn record_failure_because(
        &self,
        index: usize,
        scope: Scope<'_>,
        verdict: &Verdict,
        because: &Because,
    ) {
        let group = self.local.group_name(index);
        let changes = self
            .local
            .record_failure_because(index, scope, verdict, because);
        let key = self.local.key_at(index);
        if let (Verdict::RateLimited(_), Some(k), true) = (verdict, &key, self.backend.is_shared())
        {
            if !self.is_degraded() {
                if let Err(e) = self.backend.unsend(&group, scope.name(), k.id()).await {
                    self.degrade(&e);
                }
            }
        }
        let failure = key.as_ref().map(|k| (k.id(), verdict.label()));
        self.store(&changes, failure).await;
    }

    /// Hands facts to the backend; a shared one that fails keeps them for the merge back.
    async fn store(&self, changes: &[Change], failure: Option<(&str, &'static str)>) {
        if self.backend.is_shared() && self.is_degraded() {
            self.keep_unsent(changes);
            return;
        }
        if let Err(e) = self.backend.record(changes, failure).await {
            if self.backend.is_shared() {
                self.degrade(&e);
                self.keep_unsent(changes);
            } else {
                tracing::error!(error = %e, "could not persist a key state change");
            }
        }
    }

    fn keep_unsent(&self, changes: &[Change]) {
        if !changes.is_empty() {
            self.unsent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(changes);
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

    /// Background upkeep, about once a second: flush counters to a store that keeps them; for a
    /// shared store, pull the shared view, or — while it is unreachable — try to reconnect and
    /// merge back.
    pub async fn maintain(&self) {
        if !self.backend.is_shared() {
            let flushed = match self
                .backend
                .flush_counters(self.local.take_counter_deltas())
                .await
            {
                Ok(()) => self.backend.flush_daily(self.local.daily_counts()).await,
                Err(e) => Err(e),
            };
            if let Err(e) = flushed {
                tracing::warn!(error = %e, "could not save key counters");
            }
            return;
        }
        if self.is_degraded() {
            if self.backend.ping().await.is_err() {
                return;
            }
            // Everything this gateway knows goes back, not only what it learned while away:
            // the store may have come back empty. The merge keeps disables and the later
            // deadline.
            let unsent =
                std::mem::take(&mut *self.unsent.lock().unwrap_or_else(|p| p.into_inner()));
            let mut facts = self.local.facts();
            facts.extend(unsent.iter().cloned());
            if let Err(e) = self.backend.merge(&facts).await {
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

    /// Pulls a shared store's view into the local view (no-op for the others): membership first
    /// (keys operators added or removed on any gateway), then key state.
    pub async fn refresh(&self) {
        // While the store is unreachable (or has just come back, possibly empty) the local view
        // is the truth until `maintain` has merged it back.
        if !self.backend.is_shared() || self.is_degraded() {
            return;
        }
        match self.backend.membership().await {
            Ok(m) => self.apply_membership(m),
            Err(e) => return self.degrade(&e),
        }
        match self.backend.load(self.ids()).await {
            Ok(stored) => self.local.merge(&stored, true),
            Err(e) => return self.degrade(&e),
        }
        match self.backend.load_quota().await {
            Ok(quota) => {
                self.local.merge_quota(&quota);
                self.local.merge_health(&quota);
            }
            Err(e) => return self.degrade(&e),
        }
        if let Err(e) = self.load_key_models().await {
            self.degrade(&e);
        }
    }

    /// How long until some key can serve `scope` (a request of about `tokens`) again (see
    /// [`LocalView::retry_after`]); with a shared store the view is refreshed first, since other
    /// gateways may know more.
    pub async fn retry_after(&self, scope: Scope<'_>, tokens: u64) -> Option<Duration> {
        self.refresh().await;
        let local = self.local.retry_after(scope, tokens);
        let now = self.clock().now();
        let hint = self
            .shared_hints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(scope.name())
            .copied()
            .filter(|(at, _)| now - at < 1_000);
        match hint {
            // The shared store's answer, just given: it counts every gateway's sends. (At
            // least a millisecond: the moment it named may have come in between.)
            Some((_, Some(t))) => Some(Duration::from_millis(
                u64::try_from(t - now).unwrap_or(0).max(1),
            )),
            _ => local,
        }
    }

    /// Why no key serves `scope` now, from this gateway's view (see [`Unserved`]).
    pub fn unserved(&self, scope: Scope<'_>, tokens: u64) -> Unserved {
        self.local.unserved(scope, tokens)
    }

    /// The keys in the pool that are not disabled, with their indexes.
    pub fn live_keys(&self) -> Vec<(usize, ApiKey)> {
        let disabled: std::collections::HashSet<String> = self
            .snapshot()
            .keys
            .into_iter()
            .filter(|k| matches!(k.health, KeyHealth::Disabled(_)))
            .map(|k| k.id)
            .collect();
        self.local
            .keys()
            .into_iter()
            .filter(|(_, k)| !disabled.contains(k.id()))
            .collect()
    }

    /// The index of a key in the pool, by its id.
    pub fn index_of(&self, key_id: &str) -> Option<usize> {
        self.local.index_of(key_id)
    }

    /// The keys that may act for a resource made by key `key_id` of the declared `project`.
    pub fn owner_keys(&self, key_id: &str, project: Option<&str>) -> OwnerKeys {
        self.local.owner_keys(key_id, project)
    }

    /// The name of key `index`'s quota group, declared or learned (for traces).
    pub fn group_name(&self, index: usize) -> String {
        self.local.group_name(index)
    }

    /// The project key `index` was declared in, if any.
    pub fn declared_project(&self, index: usize) -> Option<String> {
        self.local.declared_project(index)
    }

    /// Applies an operator's change locally and in the backend (so it lasts, and reaches other
    /// gateways sharing the store).
    pub async fn apply(&self, change: Change) -> Result<(), StoreError> {
        self.local.apply(&change);
        self.backend.apply(&change).await
    }

    /// A key of a reloaded configuration joins this gateway's pool (in its declared `project`,
    /// if any); false if it was in it. The
    /// store is not told: the configuration is read again at every start (the admin API's
    /// changes are the ones that persist and reach other gateways).
    pub fn join(&self, key: ApiKey, project: Option<&str>) -> bool {
        self.local.add_declared(key, project).1
    }

    /// A key no longer configured leaves this gateway's pool: it takes no new request, and
    /// requests already on it finish. False if it was not in the pool.
    pub fn leave(&self, key_id: &str) -> bool {
        self.local.remove(key_id)
    }

    /// Tells the pool which keys lack which models (model → key ids): their tier does not list
    /// them. Replaces what it was told before; the keys are not asked for those models.
    pub fn set_lacking(&self, lacking: &std::collections::BTreeMap<String, Vec<String>>) {
        self.local.set_lacking(lacking);
    }

    /// Takes key `key_id` out of its learned group (an operator says the evidence was wrong);
    /// `false` when no such key is in the pool.
    pub async fn ungroup(&self, key_id: &str) -> Result<bool, StoreError> {
        let Some(changes) = self.local.ungroup(key_id) else {
            return Ok(false);
        };
        if !changes.is_empty() {
            self.backend.record(&changes, None).await?;
        }
        Ok(true)
    }

    /// Forgets that key `key_id` lacks `model` (every model when `None`); false when no such
    /// key is in the pool.
    pub fn forget_lacking(&self, key_id: &str, model: Option<&str>) -> bool {
        self.local.forget_lacking(key_id, model)
    }

    /// Forgets group `group`'s learned limits for `model` (every model when `None`), here and
    /// in the store; `false` when no key is in such a group.
    pub async fn forget_limits(
        &self,
        group: &str,
        model: Option<&str>,
    ) -> Result<bool, StoreError> {
        let Some(changes) = self.local.learned_limits_of(group, model) else {
            return Ok(false);
        };
        for change in changes {
            self.apply(change).await?;
        }
        Ok(true)
    }

    /// Sets what an operator says about key `key_id`'s models (`None`: its defaults again);
    /// false when no such key is in the pool.
    pub fn set_key_models(&self, key_id: &str, rules: Option<KeyModels>) -> bool {
        self.local.set_key_models(key_id, rules)
    }

    /// Whether `model` takes a request ending with a `model` turn (to continue a broken stream).
    pub fn accepts_prefill(&self, model: &str) -> bool {
        self.local.accepts_prefill(model)
    }

    /// Remembers that `model` refuses a trailing model turn.
    pub fn refuse_prefill(&self, model: &str) {
        self.local.refuse_prefill(model);
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
        let (backend, location) = self.backend.describe();
        BackendStatus {
            backend,
            location,
            healthy: !self.is_degraded(),
            problem,
        }
    }
}
