//! `GET /metrics` in the Prometheus text format (`prometheus-client`): requests by surface,
//! model, status and client; upstream attempts by outcome; failovers; latency histograms (time
//! to first byte, total) per surface and model; tokens per model, client and kind; and, read
//! from the pool at each scrape, the keys per state and each key's state, cooldowns and
//! ejections; requests waiting in a model's line for a key, and how their waits ended. Keys appear by id only; clients by name; no request ids in labels.

use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::series::{Series, SeriesCache, TOKEN_KINDS};
use super::tally::Tokens;
use crate::pool::{KeyHealth, PoolSnapshot};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub surface: &'static str,
    pub model: Arc<str>,
    pub status: u16,
    pub client: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SurfaceModel {
    pub surface: &'static str,
    pub model: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub model: Arc<str>,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabel {
    pub model: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WaitLabels {
    pub model: Arc<str>,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: Arc<str>,
    pub client: Arc<str>,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CostLabels {
    pub model: Arc<str>,
    pub client: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyStateLabels {
    pub key: String,
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyReasonLabels {
    pub key: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubstitutionLabels {
    pub from: Arc<str>,
    pub to: Arc<str>,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyModelLabels {
    pub key: String,
    pub model: String,
}

type Seconds = Family<SurfaceModel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    first_byte: Seconds,
    duration: Seconds,
    attempts: Family<AttemptLabels, Counter>,
    failovers: Family<ModelLabel, Counter>,
    tokens: Family<TokenLabels, Counter>,
    keys: Family<StateLabel, Gauge>,
    key_state: Family<KeyStateLabels, Gauge>,
    cooldown: Family<KeyModelLabels, Gauge>,
    ejected: Family<KeyModelLabels, Gauge>,
    billing: Family<KeyReasonLabels, Gauge>,
    substitutions: Family<SubstitutionLabels, Counter>,
    queue_waits: Family<WaitLabels, Counter>,
    queue_waiting: Family<ModelLabel, Gauge>,
    cached_share: Family<ModelLabel, Gauge<f64, AtomicU64>>,
    cost: Family<CostLabels, Counter<f64, AtomicU64>>,
    /// model → (input tokens, of them cached), for the cached share.
    prompt_totals: Mutex<HashMap<Arc<str>, (u64, u64)>>,
    /// What finished requests count into, by their labels.
    series: SeriesCache,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Client requests by surface, Gemini model, HTTP status and client",
            requests.clone(),
        );
        let first_byte: Seconds = Family::new_with_constructor(latency_histogram);
        registry.register(
            "time_to_first_byte_seconds",
            "Time from a request's arrival to its response's first body byte",
            first_byte.clone(),
        );
        let duration: Seconds = Family::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response's last byte",
            duration.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "upstream_attempts",
            "Attempts sent to Gemini, by model and outcome class",
            attempts.clone(),
        );
        let failovers = Family::<ModelLabel, Counter>::default();
        registry.register(
            "failovers",
            "Attempts that moved a request to another key after a failure",
            failovers.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens Gemini reported, by model, client and kind (input, output, thought, cached)",
            tokens.clone(),
        );
        let keys = Family::<StateLabel, Gauge>::default();
        registry.register("keys", "Pool keys per state", keys.clone());
        let key_state = Family::<KeyStateLabels, Gauge>::default();
        registry.register(
            "key_state",
            "1 for each key's current state (available, cooling, billing, disabled), by key id",
            key_state.clone(),
        );
        let cooldown = Family::<KeyModelLabels, Gauge>::default();
        registry.register(
            "key_cooldown_seconds",
            "Seconds until a key's cooldown for a model ends",
            cooldown.clone(),
        );
        let ejected = Family::<KeyModelLabels, Gauge>::default();
        registry.register(
            "key_ejections",
            "Ejections in a row of a key for a model, while it is ejected",
            ejected.clone(),
        );
        let billing = Family::<KeyReasonLabels, Gauge>::default();
        registry.register(
            "key_billing_rest_seconds",
            "Seconds until a key whose project hit a billing limit (spend cap, prepaid credits, spend-based limit) serves again, by key id and reason",
            billing.clone(),
        );
        let substitutions = Family::<SubstitutionLabels, Counter>::default();
        registry.register(
            "model_substitutions",
            "Requests served by another model than the one named: by an alias, a retired name's replacement or a fallback",
            substitutions.clone(),
        );
        let queue_waits = Family::<WaitLabels, Counter>::default();
        registry.register(
            "queue_waits",
            "Requests that waited in a model's line for a key, by how the wait ended (served, timed_out, hung_up), and those turned away by a full line (full)",
            queue_waits.clone(),
        );
        let queue_waiting = Family::<ModelLabel, Gauge>::default();
        registry.register(
            "queue_waiting",
            "Requests waiting in a model's line for a key now",
            queue_waiting.clone(),
        );
        let cached_share = Family::<ModelLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "cached_input_share",
            "Share of input tokens Gemini served from a cache (implicit or explicit), by model, since start",
            cached_share.clone(),
        );
        let cost = Family::<CostLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "cost_usd",
            "What requests cost by the price table, in US dollars, by model and client",
            cost.clone(),
        );
        Metrics {
            registry,
            cached_share,
            cost,
            prompt_totals: Mutex::new(HashMap::new()),
            series: SeriesCache::default(),
            queue_waits,
            queue_waiting,
            billing,
            substitutions,
            requests,
            first_byte,
            duration,
            attempts,
            failovers,
            tokens,
            keys,
            key_state,
            cooldown,
            ejected,
        }
    }

    /// One upstream attempt; `failed_over` when it failed and the request moved on.
    pub fn attempt(&self, model: &Arc<str>, outcome: &'static str, failed_over: bool) {
        let model = model.clone();
        if failed_over {
            self.failovers
                .get_or_create(&ModelLabel {
                    model: model.clone(),
                })
                .inc();
        }
        self.attempts
            .get_or_create(&AttemptLabels { model, outcome })
            .inc();
    }

    /// A finished request: its latencies and count, the tokens it used and what they cost
    /// (each kind of token, and the cost, only when not zero: a zero creates no series).
    pub fn finished(
        &self,
        labels: RequestLabels,
        seconds: (f64, f64),
        tokens: Tokens,
        nanousd: u64,
    ) {
        let (model, client) = (labels.model.clone(), labels.client.clone());
        let series = self.series.of(labels, |labels| {
            let at = SurfaceModel {
                surface: labels.surface,
                model: labels.model.clone(),
            };
            Series::new(
                self.first_byte.get_or_create(&at).clone(),
                self.duration.get_or_create(&at).clone(),
                self.requests.get_or_create(labels).clone(),
            )
        });
        let (first_byte, total) = seconds;
        series.first_byte.observe(first_byte);
        series.duration.observe(total);
        series.requests.inc();
        if tokens.input > 0 {
            let mut totals = self.prompt_totals.lock().unwrap_or_else(|p| p.into_inner());
            let (input, cached) = totals.entry(model.clone()).or_default();
            *input += tokens.input;
            *cached += tokens.cached;
            let share = *cached as f64 / *input as f64;
            drop(totals);
            let gauge = series.cached_share.get_or_init(|| {
                let labels = ModelLabel {
                    model: model.clone(),
                };
                self.cached_share.get_or_create(&labels).clone()
            });
            gauge.set(share);
        }
        let counts = [tokens.input, tokens.output, tokens.thought, tokens.cached];
        for ((kind, n), counter) in TOKEN_KINDS.into_iter().zip(counts).zip(&series.tokens) {
            if n > 0 {
                let counter = counter.get_or_init(|| {
                    let labels = TokenLabels {
                        model: model.clone(),
                        client: client.clone(),
                        kind,
                    };
                    self.tokens.get_or_create(&labels).clone()
                });
                counter.inc_by(n);
            }
        }
        if nanousd > 0 {
            let counter = series.cost.get_or_init(|| {
                let labels = CostLabels { model, client };
                self.cost.get_or_create(&labels).clone()
            });
            counter.inc_by(super::prices::usd(nanousd));
        }
    }

    /// A request served by `to` although it named `from`.
    pub fn substitution(&self, from: &Arc<str>, to: &Arc<str>, reason: &'static str) {
        self.substitutions
            .get_or_create(&SubstitutionLabels {
                from: from.clone(),
                to: to.clone(),
                reason,
            })
            .inc();
    }

    /// A request's waiting for a key ended (`served`, `timed_out`, `hung_up`), or a full line
    /// turned it away (`full`).
    pub fn queue_outcome(&self, model: &Arc<str>, outcome: &'static str) {
        self.queue_waits
            .get_or_create(&WaitLabels {
                model: model.clone(),
                outcome,
            })
            .inc();
    }

    /// A request joined (`1`) or left (`-1`) a model's line.
    pub fn queue_waiting(&self, model: &Arc<str>, delta: i64) {
        self.queue_waiting
            .get_or_create(&ModelLabel {
                model: model.clone(),
            })
            .inc_by(delta);
    }

    /// The text exposition, with the pool's gauges read from `snap`.
    pub fn render(&self, snap: &PoolSnapshot) -> String {
        self.keys.clear();
        self.key_state.clear();
        self.cooldown.clear();
        self.ejected.clear();
        self.billing.clear();
        for state in ["available", "cooling", "billing", "disabled"] {
            self.keys.get_or_create(&StateLabel { state }).set(0);
        }
        for k in &snap.keys {
            let state = match k.health {
                KeyHealth::Available => "available",
                KeyHealth::Cooling { .. } => "cooling",
                KeyHealth::Billing { until } => {
                    let labels = KeyReasonLabels {
                        key: k.id.clone(),
                        reason: k.last_error.clone().unwrap_or_default(),
                    };
                    self.billing
                        .get_or_create(&labels)
                        .set((until - snap.now).max(0) / 1000);
                    "billing"
                }
                KeyHealth::Disabled(_) => "disabled",
            };
            self.keys.get_or_create(&StateLabel { state }).inc();
            let labels = KeyStateLabels {
                key: k.id.clone(),
                state,
            };
            self.key_state.get_or_create(&labels).set(1);
            for (model, until) in &k.cooldowns {
                let left = (until - snap.now).max(0) / 1000;
                let labels = KeyModelLabels {
                    key: k.id.clone(),
                    model: model.clone(),
                };
                self.cooldown.get_or_create(&labels).set(left);
            }
            for (model, e) in &k.ejections {
                let labels = KeyModelLabels {
                    key: k.id.clone(),
                    model: model.clone(),
                };
                self.ejected.get_or_create(&labels).set(i64::from(e.times));
            }
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_attempts_and_tokens_show_in_the_exposition() {
        let m = Metrics::new();
        let model: Arc<str> = "gemini-2.5-flash".into();
        let labels = |client: &str| RequestLabels {
            surface: "anthropic",
            model: model.clone(),
            status: 200,
            client: client.into(),
        };
        let tokens = |input, thought| Tokens {
            input,
            output: 5,
            thought,
            cached: 0,
        };
        m.attempt(&model, "rate_limited", true);
        m.attempt(&model, "ok", false);
        m.finished(labels("anonymous"), (0.01, 0.02), tokens(12, 0), 0);
        // Counted again through the series found the first time, and a kind first counted then.
        m.finished(labels("anonymous"), (0.01, 0.02), tokens(3, 4), 0);
        m.finished(labels("ci"), (0.01, 0.02), tokens(1, 0), 0);
        let snap = PoolSnapshot {
            now: 0,
            keys: Vec::new(),
            groups: Vec::new(),
            overloaded: Default::default(),
        };
        let text = m.render(&snap);
        assert!(text.contains(r#"gateway_requests_total{surface="anthropic",model="gemini-2.5-flash",status="200",client="anonymous"} 2"#), "{text}");
        assert!(text.contains(r#"gateway_upstream_attempts_total{model="gemini-2.5-flash",outcome="rate_limited"} 1"#), "{text}");
        assert!(
            text.contains(r#"gateway_failovers_total{model="gemini-2.5-flash"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"gateway_requests_total{surface="anthropic",model="gemini-2.5-flash",status="200",client="ci"} 1"#), "{text}");
        assert!(text.contains(r#"gateway_tokens_total{model="gemini-2.5-flash",client="anonymous",kind="input"} 15"#), "{text}");
        assert!(text.contains(r#"gateway_tokens_total{model="gemini-2.5-flash",client="anonymous",kind="thought"} 4"#), "{text}");
        assert!(
            text.contains(
                r#"gateway_tokens_total{model="gemini-2.5-flash",client="ci",kind="input"} 1"#
            ),
            "{text}"
        );
        assert!(
            !text.contains(r#"client="ci",kind="thought""#)
                && !text.contains("gateway_cost_usd_total{"),
            "zero counts are not created: {text}"
        );
        assert!(
            text.contains(r#"gateway_keys{state="disabled"} 0"#),
            "{text}"
        );
        assert!(
            text.contains("gateway_time_to_first_byte_seconds_bucket"),
            "{text}"
        );
    }
}
