//! Which Gemini models exist and how to talk to each, so that no model name is frozen into the
//! gateway's code: the live catalog (what the keys can use, read from Google and kept in the
//! store, shared over Redis), the rules table (what each family accepts), and the naming that
//! leads a requested name to the model that serves it (tiers, aliases, retired names,
//! fallbacks).
//!
//! [`Models`] is the service the surfaces and the status page ask. It sits beside dispatch: it
//! reads keys from the pool and calls Gemini through the upstream seam to list models, and it
//! tells the pool which keys lack which models; the pool never asks it anything.

pub mod catalog;
pub use crate::glob;
pub mod info;
pub mod names;
pub mod native;
pub mod refresh;
pub mod rules;
pub mod served;
pub mod thinking;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

pub use catalog::Catalog;
pub use info::ModelInfo;
pub use names::{Naming, Resolved, Tier, Unresolved, Via};
pub use rules::Rules;

use crate::clock::{iso8601, Clock};
use crate::pool::{KeyPool, Scope};
use crate::upstream::Upstream;

/// The store document the catalog is kept under.
const DOCUMENT: &str = "model-catalog";

/// A name the catalog lacks makes it read again, at most this often.
const MISS_REFRESH_GAP_MS: i64 = 60_000;

/// How long one listing call may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the live catalog comes from.
#[derive(Debug)]
struct Source {
    pool: Arc<KeyPool>,
    upstream: Arc<dyn Upstream>,
}

/// The models the gateway serves, and how names resolve to them.
#[derive(Debug)]
pub struct Models {
    naming: Naming,
    /// Which model answers each moving alias (dispatch's, shared).
    served: Arc<served::Served>,
    catalog: ArcSwapOption<Catalog>,
    source: Option<Source>,
    /// One reading at a time.
    reading: tokio::sync::Mutex<()>,
    /// When the last reading started (Unix ms).
    last_try: AtomicI64,
    clock: Clock,
}

impl Models {
    /// Names resolved without a live catalog (until one is installed); `served` is dispatch's
    /// record of which model answers each moving alias.
    pub fn new(naming: Naming, clock: Clock, served: Arc<served::Served>) -> Models {
        Models {
            naming,
            served,
            catalog: ArcSwapOption::empty(),
            source: None,
            reading: tokio::sync::Mutex::new(()),
            last_try: AtomicI64::new(i64::MIN / 2),
            clock,
        }
    }

    /// A catalog read from Google through the pool's keys, kept in its store.
    pub fn live(
        naming: Naming,
        pool: Arc<KeyPool>,
        upstream: Arc<dyn Upstream>,
        served: Arc<served::Served>,
    ) -> Models {
        let clock = *pool.clock();
        Models {
            source: Some(Source { pool, upstream }),
            ..Models::new(naming, clock, served)
        }
    }

    pub fn naming(&self) -> &Naming {
        &self.naming
    }

    /// The catalog, once read.
    pub fn catalog(&self) -> Option<Arc<Catalog>> {
        self.catalog.load_full()
    }

    /// Makes `catalog` the one the gateway serves by, and tells the pool which keys lack what.
    pub fn install(&self, catalog: Catalog) {
        if let Some(source) = &self.source {
            source.pool.set_lacking(&catalog.lacking());
        }
        self.catalog.store(Some(Arc::new(catalog)));
    }

    /// Reads the catalog from Google (every key lists its models), installs it and keeps it in
    /// the store; a key Google refuses is disabled. False when no key could list (the catalog
    /// in use stays).
    pub async fn refresh(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let _one = self.reading.lock().await;
        self.last_try.store(self.clock.now(), Ordering::Relaxed);
        let keys = source.pool.live_keys();
        let reading = refresh::read(
            source.upstream.as_ref(),
            &keys,
            LIST_TIMEOUT,
            self.clock.now(),
        )
        .await;
        for (index, verdict) in &reading.rejected {
            source
                .pool
                .record_failure(*index, Scope::Catalog, verdict)
                .await;
        }
        if reading.catalog.models.is_empty() {
            tracing::warn!(
                keys = keys.len(),
                failed = reading.failed,
                "model catalog: no key could list any model; keeping what is known"
            );
            return false;
        }
        let catalog = reading.catalog;
        if let Ok(json) = serde_json::to_vec(&catalog) {
            if let Err(e) = source
                .pool
                .backend()
                .put_document(DOCUMENT, json, None)
                .await
            {
                tracing::warn!(error = %e, "model catalog not stored");
            }
        }
        tracing::info!(
            models = catalog.models.len(),
            keys = catalog.listed_by.len(),
            big = %names::big(&self.naming, Some(&catalog)),
            small = %names::small(&self.naming, Some(&catalog)),
            "model catalog read"
        );
        self.install(catalog);
        true
    }

    /// Installs the catalog the store keeps, if it is newer than the one in use; true when
    /// one was installed.
    pub async fn load_stored(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let stored = match source
            .pool
            .backend()
            .get_document(DOCUMENT, self.clock.now())
            .await
        {
            Ok(Some(bytes)) => serde_json::from_slice::<Catalog>(&bytes).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %e, "stored model catalog not read");
                None
            }
        };
        let newer = |c: &Catalog| {
            self.catalog()
                .is_none_or(|mine| c.fetched_at > mine.fetched_at)
        };
        match stored.filter(newer) {
            Some(c) => {
                self.install(c);
                true
            }
            None => false,
        }
    }

    /// At startup: the stored catalog first; a reading from Google, waited for at most `wait`
    /// when nothing was stored, else (when the stored one is older than `every`, or `every`
    /// is `None`) read in the background.
    pub async fn start(self: &Arc<Self>, wait: Duration, every: Option<Duration>) {
        if !self.load_stored().await {
            if tokio::time::timeout(wait, self.refresh()).await.is_err() {
                tracing::warn!(
                    "model catalog: Gemini did not list the models within {} s; serving with Google's -latest aliases until it does",
                    wait.as_secs()
                );
            }
            return;
        }
        let age = self
            .catalog()
            .map_or(i64::MAX, |c| self.clock.now() - c.fetched_at);
        if every.is_none_or(|e| age > i64::try_from(e.as_millis()).unwrap_or(i64::MAX)) {
            let me = self.clone();
            tokio::spawn(async move {
                me.refresh().await;
            });
        }
    }

    /// Keeps the catalog fresh: read again every `every`, and (with a shared store) installs a
    /// newer one another gateway read, checked every `poll`.
    pub async fn keep_fresh(self: Arc<Self>, every: Option<Duration>, poll: Duration) {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let shared = self
                .source
                .as_ref()
                .is_some_and(|s| s.pool.backend().is_shared());
            if shared {
                self.load_stored().await;
            }
            let due = every.is_some_and(|e| {
                let last = self
                    .catalog()
                    .map_or(self.last_try.load(Ordering::Relaxed), |c| {
                        c.fetched_at.max(self.last_try.load(Ordering::Relaxed))
                    });
                self.clock.now() - last >= i64::try_from(e.as_millis()).unwrap_or(i64::MAX)
            });
            let never = self.catalog().is_none()
                && self.clock.now() - self.last_try.load(Ordering::Relaxed) >= MISS_REFRESH_GAP_MS;
            if due || never {
                self.refresh().await;
            }
        }
    }

    /// Reads the catalog again unless that was tried less than a minute ago (a name it lacks
    /// may be a model released since).
    async fn refresh_if_stale(&self) -> bool {
        let since = self.clock.now() - self.last_try.load(Ordering::Relaxed);
        since >= MISS_REFRESH_GAP_MS && self.refresh().await
    }

    /// The model for `requested` (see [`names`]); `tier` reads the calling API's own names.
    pub fn resolve(
        &self,
        requested: &str,
        tier: impl Fn(&str) -> Option<Tier>,
    ) -> Result<Resolved, Unresolved> {
        names::resolve(&self.naming, self.catalog().as_deref(), requested, tier)
    }

    /// As [`Models::resolve`], but a name the catalog lacks makes it read again first (once a
    /// minute at most).
    pub async fn resolve_fresh(
        &self,
        requested: &str,
        tier: impl Fn(&str) -> Option<Tier> + Copy,
    ) -> Result<Resolved, Unresolved> {
        match self.resolve(requested, tier) {
            // Boxed: the catalog's fetch is rare, and inline it would grow every request's
            // future by its size.
            Err(Unresolved::Unknown { .. }) if Box::pin(self.refresh_if_stale()).await => {
                self.resolve(requested, tier)
            }
            other => other,
        }
    }

    /// Gemini said a model does not exist: the catalog is read again in the background (once a
    /// minute at most), so that a withdrawn model stops being listed and served.
    pub fn model_missing(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            me.refresh_if_stale().await;
        });
    }

    /// Whether `model`'s `MODEL_FALLBACKS` chain goes on after it (nothing allocated).
    pub fn has_fallback(&self, model: &str) -> bool {
        names::fallback_after(&self.naming, model).is_some()
    }

    /// The next model of `current`'s `MODEL_FALLBACKS` chain, if any.
    pub fn fallback(&self, current: &Resolved) -> Option<Resolved> {
        names::fallback_after(&self.naming, &current.model).map(|next| Resolved {
            model: next.into(),
            via: Via::Fallback,
            from: Some(current.model.clone()),
        })
    }

    /// The API version to call `model` under: the catalog's, else its family's.
    pub fn api_version(&self, model: &str) -> &'static str {
        match self.catalog().as_deref().and_then(|c| c.api_version(model)) {
            Some("v1alpha") => "v1alpha",
            Some("v1") => "v1",
            Some(_) => "v1beta",
            None => Rules::of(model).api_version,
        }
    }

    /// Whether `version` serves `model`, as far as the catalog knows (unknown: yes).
    pub fn served_under(&self, version: &str, model: &str) -> bool {
        let version = if version == "v1" { "v1beta" } else { version };
        match self.catalog() {
            Some(c) if c.get(model).is_some() => c.serves(version, model),
            _ => Rules::of(model).api_version == version || version == "v1alpha",
        }
    }

    /// The largest `maxOutputTokens` of `model`: the catalog's, else its family's.
    pub fn output_limit(&self, model: &str) -> u32 {
        self.catalog()
            .as_deref()
            .and_then(|c| c.get(model))
            .and_then(|e| e.output_token_limit)
            .unwrap_or_else(|| Rules::of(model).max_output_tokens)
    }

    /// What `BIG_MODEL` and `SMALL_MODEL` resolve to now.
    pub fn defaults(&self) -> (String, String) {
        let catalog = self.catalog();
        (
            names::big(&self.naming, catalog.as_deref()),
            names::small(&self.naming, catalog.as_deref()),
        )
    }

    /// The status page's view: the defaults, aliases, fallbacks and the catalog.
    pub fn status(&self) -> serde_json::Value {
        let catalog = self.catalog();
        let (big, small) = self.defaults();
        let models: Vec<serde_json::Value> = catalog
            .iter()
            .flat_map(|c| c.models.values())
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "display_name": e.display_name,
                    "input_token_limit": e.input_token_limit,
                    "output_token_limit": e.output_token_limit,
                    "thinking": e.thinking, "methods": e.methods, "api_versions": e.versions,
                    "family": self.served.rules(&e.id).family, "keys": e.keys.len(),
                })
            })
            .collect();
        serde_json::json!({
            "big_model": {"model": big, "from": if self.naming.big.is_some() { "BIG_MODEL" } else { "catalog" }},
            "small_model": {"model": small, "from": if self.naming.small.is_some() { "SMALL_MODEL" } else { "catalog" }},
            "aliases": self.naming.aliases.iter().map(|a| serde_json::json!({"pattern": a.pattern, "model": a.target})).collect::<Vec<_>>(),
            "retired_aliases": self.naming.retired_aliases.then_some(names::RETIRED.iter().map(|(p, m)| serde_json::json!({"pattern": p, "model": m})).collect::<Vec<_>>()),
            "fallbacks": self.naming.fallbacks,
            "catalog": {
                "read_at": catalog.as_ref().map(|c| iso8601(c.fetched_at)),
                "keys_listed": catalog.as_ref().map_or(0, |c| c.listed_by.len()),
                "models": models,
            },
        })
    }
}
