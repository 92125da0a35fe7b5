//! Alerts: a webhook call (`ALERT_WEBHOOK_URL`) when a condition starts — a key disabled, a
//! project at a cap, a model no key can serve, a client past 80 % or 100 % of a budget, upstream
//! attempts failing at more than `ALERT_ERROR_RATE` — and one more when it ends. Each condition
//! alerts once until it clears: the book of raised conditions is the only state. Calls go out
//! from one background task through a bounded queue, retried with backoff; a request never
//! waits for one, and a full queue drops the alert (and logs that it did).
//!
//! Bodies: Slack's `{"text"}`, Discord's `{"content"}`, or plain JSON (`kind`, `state`,
//! `subject`, `message`, `at`). Nothing in them names more of a key than its id.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::clock::{iso8601, Clock};
use crate::config::alerts::{AlertFormat, AlertSettings, MIN_ATTEMPTS};

/// A condition an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// A pool key is out until an operator re-enables it.
    KeyDisabled { key: String },
    /// A project group rests at a spend cap (Google's or its own).
    ProjectCapped { project: String },
    /// Requests for a model were refused: no key could serve it.
    NoKeyForModel { model: Arc<str> },
    /// A client passed `level` % of its budget for a `period` (`day` or `month`).
    Budget {
        client: Arc<str>,
        period: &'static str,
        level: u8,
    },
    /// Upstream attempts are failing at more than the alert rate.
    ErrorRate,
}

impl Condition {
    fn kind(&self) -> &'static str {
        match self {
            Condition::KeyDisabled { .. } => "key_disabled",
            Condition::ProjectCapped { .. } => "project_capped",
            Condition::NoKeyForModel { .. } => "no_key_for_model",
            Condition::Budget { .. } => "budget",
            Condition::ErrorRate => "error_rate",
        }
    }

    fn subject(&self) -> String {
        match self {
            Condition::KeyDisabled { key } => key.clone(),
            Condition::ProjectCapped { project } => project.clone(),
            Condition::NoKeyForModel { model } => model.to_string(),
            Condition::Budget {
                client,
                period,
                level,
            } => format!("{client}/{period}/{level}%"),
            Condition::ErrorRate => "upstream".into(),
        }
    }
}

/// One webhook call to make.
#[derive(Debug, Clone)]
struct Alert {
    condition: Condition,
    raised: bool,
    message: String,
    at: i64,
}

/// Alerts waiting to be sent, at most.
const QUEUE: usize = 256;

/// Tries per alert, and the first wait between them (doubling).
const TRIES: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The raised conditions and the way out to the webhook.
#[derive(Debug)]
pub struct Alerts {
    raised: Mutex<HashSet<Condition>>,
    out: mpsc::Sender<Alert>,
    clock: Clock,
    /// Upstream attempts and failures this minute (for the error rate).
    attempts: AtomicU64,
    failures: AtomicU64,
    error_rate: Option<f64>,
}

impl Alerts {
    /// Starts the sender task; alerts go to `settings.url`.
    pub fn start(settings: &AlertSettings, clock: Clock) -> Alerts {
        let (out, queue) = mpsc::channel(QUEUE);
        tokio::spawn(send_all(queue, settings.clone()));
        Alerts {
            raised: Mutex::new(HashSet::new()),
            out,
            clock,
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            error_rate: settings.error_rate,
        }
    }

    /// Says whether `condition` holds now: a change from what was last said is an alert.
    pub fn set(&self, condition: Condition, holds: bool, message: impl FnOnce() -> String) {
        let changed = {
            let mut raised = self.raised.lock().unwrap_or_else(|p| p.into_inner());
            if holds {
                raised.insert(condition.clone())
            } else {
                raised.remove(&condition)
            }
        };
        if !changed {
            return;
        }
        let message = if holds {
            message()
        } else {
            format!("Recovered: {} {}.", condition.kind(), condition.subject())
        };
        let alert = Alert {
            condition,
            raised: holds,
            message,
            at: self.clock.now(),
        };
        if self.out.try_send(alert).is_err() {
            tracing::warn!("alert queue full; an alert was dropped");
        }
    }

    /// Whether `condition` is raised now.
    pub fn is_raised(&self, condition: &Condition) -> bool {
        self.raised
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(condition)
    }

    /// One upstream attempt, for the error rate.
    pub fn attempt(&self, failed: bool) {
        if self.error_rate.is_some() {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if failed {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Once a minute: the minute's error share against the alert rate, and a new minute.
    pub fn close_minute(&self) {
        let Some(rate) = self.error_rate else { return };
        let attempts = self.attempts.swap(0, Ordering::Relaxed);
        let failures = self.failures.swap(0, Ordering::Relaxed);
        let share = failures as f64 / attempts.max(1) as f64;
        if attempts >= MIN_ATTEMPTS {
            self.set(Condition::ErrorRate, share >= rate, || {
                format!(
                    "{failures} of {attempts} upstream attempts failed in the last minute ({:.0} %, alert at {:.0} %).",
                    share * 100.0,
                    rate * 100.0
                )
            });
        } else if attempts > 0 {
            self.set(Condition::ErrorRate, false, String::new);
        }
    }
}

/// The body the webhook gets.
fn body(format: AlertFormat, alert: &Alert) -> serde_json::Value {
    let mark = if alert.raised { "🔴" } else { "🟢" };
    let text = format!("{mark} gemini-gateway: {}", alert.message);
    match format {
        AlertFormat::Slack => json!({"text": text}),
        AlertFormat::Discord => json!({"content": text}),
        AlertFormat::Json => json!({
            "source": "gemini-gateway",
            "kind": alert.condition.kind(),
            "state": if alert.raised { "raised" } else { "recovered" },
            "subject": alert.condition.subject(),
            "message": alert.message,
            "at": iso8601(alert.at),
        }),
    }
}

/// Sends each alert in turn, retrying with backoff; gives one up after [`TRIES`].
async fn send_all(mut queue: mpsc::Receiver<Alert>, settings: AlertSettings) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "alerts are off: no HTTP client");
            return;
        }
    };
    while let Some(alert) = queue.recv().await {
        let body = body(settings.format, &alert).to_string();
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=TRIES {
            let sent = client
                .post(settings.url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await
                .map(|r| r.status());
            match sent {
                Ok(s) if s.is_success() => break,
                outcome => {
                    // The address is a credential: only the outcome is logged.
                    let why = match outcome {
                        Ok(s) => s.to_string(),
                        Err(e) => crate::secret::redact(&e.without_url().to_string()).into_owned(),
                    };
                    tracing::warn!(kind = alert.condition.kind(), attempt, why = %why, "alert webhook failed");
                    if attempt < TRIES {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(raised: bool) -> Alert {
        Alert {
            condition: Condition::KeyDisabled {
                key: "key-3".into(),
            },
            raised,
            message: "Key key-3 was disabled: API_KEY_INVALID.".into(),
            at: 0,
        }
    }

    #[test]
    fn bodies_in_each_shape() {
        assert!(body(AlertFormat::Slack, &alert(true))["text"]
            .as_str()
            .unwrap()
            .contains("key-3 was disabled"));
        assert!(body(AlertFormat::Discord, &alert(false))["content"].is_string());
        let j = body(AlertFormat::Json, &alert(false));
        assert_eq!(
            (j["kind"].as_str(), j["state"].as_str()),
            (Some("key_disabled"), Some("recovered"))
        );
    }

    #[tokio::test]
    async fn a_condition_alerts_once_until_it_clears() {
        let settings = AlertSettings {
            url: crate::secret::Secret::new("http://127.0.0.1:9/"),
            format: AlertFormat::Json,
            error_rate: Some(0.5),
        };
        let (out, mut queue) = mpsc::channel(QUEUE);
        let alerts = Alerts {
            raised: Mutex::new(HashSet::new()),
            out,
            clock: Clock::new(),
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            error_rate: settings.error_rate,
        };
        let key = Condition::KeyDisabled { key: "k".into() };
        for _ in 0..3 {
            alerts.set(key.clone(), true, || "disabled".into());
        }
        alerts.set(key.clone(), false, String::new);
        alerts.set(key, false, String::new);
        assert!(queue.try_recv().unwrap().raised);
        assert!(!queue.try_recv().unwrap().raised);
        assert!(queue.try_recv().is_err(), "exactly one each way");
        for i in 0..30 {
            alerts.attempt(i % 2 == 0);
        }
        alerts.close_minute();
        assert_eq!(queue.try_recv().unwrap().condition, Condition::ErrorRate);
        for _ in 0..30 {
            alerts.attempt(false);
        }
        alerts.close_minute();
        assert!(!queue.try_recv().unwrap().raised);
    }
}
