//! The series a finished request counts into, found with one lookup.
//!
//! prometheus-client finds a labelled series by hashing its whole label set (SipHash) under
//! its family's lock, once per family: a finished request updated up to nine series — its
//! latency twice, its count, each kind of token, its cost, its model's cached share — about
//! 3,000 instructions of hashing a request. Here the series of one (surface, model, status,
//! client) are cloned out of their families the first time each is counted (so a series is
//! created only when first counted, as before, and a zero count still creates none) and found
//! again by one foldhash lookup. A family's series share their value with its clones, and the
//! families these come from are never cleared, so a clone always counts into what is exported.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

use foldhash::HashMap;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::metrics::RequestLabels;

/// The kinds of token counted, in the order of [`Series::tokens`].
pub(super) const TOKEN_KINDS: [&str; 4] = ["input", "output", "thought", "cached"];

/// What one (surface, model, status, client) counts into.
pub(super) struct Series {
    pub first_byte: Histogram,
    pub duration: Histogram,
    pub requests: Counter,
    /// By [`TOKEN_KINDS`].
    pub tokens: [OnceLock<Counter>; 4],
    pub cost: OnceLock<Counter<f64, AtomicU64>>,
    pub cached_share: OnceLock<Gauge<f64, AtomicU64>>,
}

impl Series {
    /// The three series every finished request counts into, with the rest left for first use.
    pub fn new(first_byte: Histogram, duration: Histogram, requests: Counter) -> Series {
        Series {
            first_byte,
            duration,
            requests,
            tokens: Default::default(),
            cost: OnceLock::new(),
            cached_share: OnceLock::new(),
        }
    }
}

/// The series found so far, by their request labels.
#[derive(Default)]
pub(super) struct SeriesCache {
    found: Mutex<HashMap<RequestLabels, Arc<Series>>>,
}

impl std::fmt::Debug for SeriesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeriesCache")
    }
}

impl SeriesCache {
    /// The series of `labels`, made by `make` the first time they are asked for.
    pub fn of(
        &self,
        labels: RequestLabels,
        make: impl FnOnce(&RequestLabels) -> Series,
    ) -> Arc<Series> {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = found.get(&labels) {
            return series.clone();
        }
        let series = Arc::new(make(&labels));
        found.insert(labels, series.clone());
        series
    }
}
