//! What the gateway tells about itself: logs (`tracing` to stderr at `LOG_LEVEL`, as text or,
//! with `LOG_FORMAT=json`, one JSON object per line), Prometheus metrics, usage accounting and
//! the recent-requests list. Nothing here ever carries a whole key: keys appear by id, clients by
//! name, and text from elsewhere is redacted before it is logged.
//!
//! The per-request [`Tally`] is filled by the layers a request passes (the client-key check,
//! dispatch) and recorded once by [`Telemetry::finish`] when its response is sent.

pub mod alerts;
pub mod metrics;
pub mod prices;
pub mod recent;
mod series;
pub mod tally;
pub mod trace;
pub mod usage;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use tracing_subscriber::EnvFilter;

use crate::clock::{utc_day, Clock, UnixMillis};
pub use crate::config::LogFormat;
use crate::store::{Backend, Counts, Owner, UsageKey};
use crate::upstream::classify::Verdict;
pub use metrics::{Metrics, RequestLabels};
pub use prices::{Prices, Pricing, ServiceTier};
pub use recent::{Recent, RecentRequest};
pub use tally::{Tally, TallyRef, TallyState, Tokens};
pub use usage::{UsageBook, UsageQuery};

/// Installs the global subscriber. `level` is a validated `LOG_LEVEL`.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The name a request's client goes by when the gateway has no client keys.
pub const ANONYMOUS: &str = "anonymous";

/// The outcome class of an attempt, for metrics (few values).
pub fn outcome(verdict: Option<&Verdict>) -> &'static str {
    match verdict {
        None => "ok",
        Some(Verdict::KeyRejected(_)) => "key_rejected",
        Some(v) => v.label(),
    }
}

/// A request whose response has been sent.
#[derive(Debug)]
pub struct Finished {
    pub request_id: Arc<str>,
    pub surface: &'static str,
    pub status: u16,
    pub first_byte: Duration,
    pub total: Duration,
    pub tally: TallyState,
    /// The whole body went out (false: the client left first).
    pub completed: bool,
}

/// The gateway's metrics, usage book and recent requests.
#[derive(Debug)]
pub struct Telemetry {
    pub metrics: Metrics,
    pub usage: UsageBook,
    pub recent: Recent,
    clock: Clock,
    /// Today's UTC date, and when it ends (the date is written once a day, not per request).
    day: Mutex<(UnixMillis, Arc<str>)>,
    /// The name a request without a client goes by, shared.
    anonymous: Arc<str>,
    /// The model label of a request that named none.
    no_model: Arc<str>,
    /// The price table and the tiers per model (replaced by a reload).
    pricing: ArcSwap<Pricing>,
    /// Webhook alerts, when `ALERT_WEBHOOK_URL` is set.
    alerts: OnceLock<alerts::Alerts>,
    /// Where requests go as traces (`None`: traces off, and they cost nothing).
    traces: Option<trace::Traces>,
}

impl Telemetry {
    pub fn new(backend: Backend, clock: Clock) -> Arc<Telemetry> {
        Telemetry::with_traces(backend, clock, None)
    }

    /// As [`Telemetry::new`], each request also sent as a trace with `traces`.
    pub fn with_traces(
        backend: Backend,
        clock: Clock,
        traces: Option<trace::Traces>,
    ) -> Arc<Telemetry> {
        Arc::new(Telemetry {
            metrics: Metrics::new(),
            usage: UsageBook::new(backend),
            recent: Recent::default(),
            clock,
            day: Mutex::new((i64::MIN, Arc::from(""))),
            anonymous: Arc::from(ANONYMOUS),
            no_model: Arc::from("-"),
            pricing: ArcSwap::from_pointee(Pricing::default()),
            alerts: OnceLock::new(),
            traces,
        })
    }

    /// Turns webhook alerts on (once; needs a Tokio runtime).
    pub fn enable_alerts(&self, settings: &crate::config::alerts::AlertSettings) {
        let _ = self.alerts.set(alerts::Alerts::start(settings, self.clock));
    }

    /// The alerts, when they are on.
    pub fn alerts(&self) -> Option<&alerts::Alerts> {
        self.alerts.get()
    }

    /// Says whether `condition` holds (see [`alerts::Alerts::set`]); nothing when alerts are off.
    pub fn alert(
        &self,
        condition: alerts::Condition,
        holds: bool,
        message: impl FnOnce() -> String,
    ) {
        if let Some(a) = self.alerts.get() {
            a.set(condition, holds, message);
        }
    }

    /// The price table and tiers in force (a guard: no reference count is taken per request).
    pub fn pricing(&self) -> arc_swap::Guard<Arc<Pricing>> {
        self.pricing.load()
    }

    /// Replaces the price table and tiers (at start and on a reload).
    pub fn set_pricing(&self, pricing: Pricing) {
        self.pricing.store(Arc::new(pricing));
    }

    fn today(&self) -> Arc<str> {
        const DAY: i64 = 86_400_000;
        let now = self.clock.now();
        let mut day = self.day.lock().unwrap_or_else(|p| p.into_inner());
        if now >= day.0 {
            *day = (now - now.rem_euclid(DAY) + DAY, utc_day(now).into());
        }
        day.1.clone()
    }

    /// One attempt on key `key_id` for `model`: `verdict` is `None` when it succeeded;
    /// `failed_over` when it failed and the request moves on.
    pub fn attempt(
        &self,
        tally: Option<&TallyRef>,
        model: &Arc<str>,
        key_id: &Arc<str>,
        verdict: Option<&Verdict>,
        failed_over: bool,
    ) {
        if let Some(t) = tally {
            t.0.attempt(key_id);
        }
        self.trace_outcome(tally, verdict);
        self.metrics.attempt(model, outcome(verdict), failed_over);
        if let Some(a) = self.alerts.get() {
            a.attempt(verdict.is_some_and(Verdict::is_transient));
        }
        let counts = Counts {
            requests: 1,
            failures: u64::from(verdict.is_some()),
            rate_limited: u64::from(matches!(verdict, Some(Verdict::RateLimited(_)))),
            ..Counts::default()
        };
        self.usage.add(self.key_row(key_id, model), counts);
    }

    /// Tokens Gemini reported for an attempt on `key_id`.
    pub fn tokens(
        &self,
        tally: Option<&TallyRef>,
        model: &Arc<str>,
        key_id: &Arc<str>,
        tokens: Tokens,
    ) {
        if tokens.is_zero() {
            return;
        }
        let tier = tally.map_or(ServiceTier::Standard, |t| t.0.priced_tier());
        let cost = self
            .pricing
            .load()
            .prices
            .cost(model, tokens, tier, false)
            .unwrap_or(0);
        if let Some(t) = tally {
            t.0.add_tokens(tokens);
            t.0.add_cost(cost);
        }
        let mut counts = token_counts(tokens);
        counts.cost_nanousd = cost;
        self.usage.add(self.key_row(key_id, model), counts);
    }

    fn key_row(&self, key_id: &Arc<str>, model: &Arc<str>) -> UsageKey {
        UsageKey {
            day: self.today(),
            owner: Owner::Key(key_id.clone()),
            model: model.clone(),
        }
    }

    /// Records a finished request: metrics, the client's usage, the recent list.
    pub fn finish(&self, done: Finished) {
        let t = &done.tally;
        let model = t.model.clone().unwrap_or_else(|| self.no_model.clone());
        let client = t.client.clone().unwrap_or_else(|| self.anonymous.clone());
        self.metrics.finished(
            RequestLabels {
                surface: done.surface,
                model: model.clone(),
                status: done.status,
                client: client.clone(),
            },
            (done.first_byte.as_secs_f64(), done.total.as_secs_f64()),
            t.tokens,
            t.cost_nanousd,
        );
        let mut counts = token_counts(t.tokens);
        counts.cost_nanousd = t.cost_nanousd;
        counts.requests = 1;
        counts.failures = u64::from(done.status >= 400 || !done.completed);
        counts.rate_limited = u64::from(done.status == 429 || t.exhausted);
        if let (Some(a), Some(m)) = (self.alerts.get(), &t.model) {
            if t.exhausted && done.status == 503 {
                a.set(
                    alerts::Condition::NoKeyForModel { model: m.clone() },
                    true,
                    || format!("No key can serve {m}: requests for it are refused (503)."),
                );
            } else if done.status < 400 {
                a.set(
                    alerts::Condition::NoKeyForModel { model: m.clone() },
                    false,
                    String::new,
                );
            }
        }
        if t.model.is_some() {
            let row = UsageKey {
                day: self.today(),
                owner: Owner::Client(client.clone()),
                model: model.clone(),
            };
            self.usage.add(row, counts);
        }
        self.trace_finish(&done, &client);
        let now = self.clock.now();
        tracing::debug!(
            surface = done.surface,
            model = %model,
            status = done.status,
            ms = done.total.as_secs_f64() * 1000.0,
            key = t.key_id.as_deref().unwrap_or("-"),
            attempts = t.attempts,
            waited_ms = t.waited.as_millis() as u64,
            client = %client,
            completed = done.completed,
            "request finished"
        );
        self.recent.push(RecentRequest {
            at_ms: now,
            request_id: done.request_id,
            surface: done.surface,
            model: t.model.clone(),
            status: done.status,
            latency_ms: (done.total.as_secs_f64() * 1e6).round() / 1e3,
            key: t.key_id.clone(),
            client,
            attempts: t.attempts,
            waited_ms: (!t.waited.is_zero()).then_some(t.waited.as_millis() as u64),
            cost_usd: prices::usd(t.cost_nanousd),
            service_tier: t.served_tier.or(t.service_tier).map(ServiceTier::as_str),
        });
    }
}

fn token_counts(t: Tokens) -> Counts {
    Counts {
        input_tokens: t.input,
        output_tokens: t.output,
        thought_tokens: t.thought,
        cached_tokens: t.cached,
        ..Counts::default()
    }
}
