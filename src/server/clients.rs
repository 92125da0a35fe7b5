//! Who the clients are and what they may spend. `GATEWAY_API_KEYS` gives clients without limits
//! (named `client-<8 hex of the key's SHA-256>`); the config file's `[[clients]]` gives named
//! ones with `requests_per_minute`, `tokens_per_day` and a `models` allow-list. Keys are kept
//! only as SHA-256 digests, compared in constant time.
//!
//! Requests per minute are a sliding minute per client on this gateway, or — with Redis — one
//! counter per client and wall-clock minute shared by every gateway. Tokens per day are the
//! client's usage today (UTC) as the usage book has it (flushed each second, so shared through
//! Redis too), read at most once a second per client.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::budgets::{Budgets, Spend, SpendReader};
use super::gate::{digest, find};
use crate::clock::Clock;
use crate::config::file::ClientSpec;
use crate::dispatch::DispatchError;
use crate::secret::Secret;
use crate::store::Backend;
use crate::telemetry::{ServiceTier, Telemetry};

/// A client's limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub requests_per_minute: Option<u32>,
    pub tokens_per_day: Option<u64>,
    /// Gemini models it may use; `None`: all.
    pub models: Option<Arc<[String]>>,
    /// What it may spend per UTC day and month (see `budgets`).
    pub budgets: Budgets,
}

/// One client key.
#[derive(Debug, Clone)]
pub struct Client {
    digest: [u8; 32],
    pub name: Arc<str>,
    pub limits: Option<Arc<Limits>>,
    /// The service tier its requests go at unless they choose one.
    pub service_tier: Option<ServiceTier>,
}

/// Every client key.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    entries: Vec<Client>,
}

impl Clients {
    pub fn new(plain: &[Secret], named: &[ClientSpec]) -> Clients {
        let mut entries: Vec<Client> = plain
            .iter()
            .map(|s| {
                let d = digest(s.expose());
                let hex: String = d[..4].iter().map(|b| format!("{b:02x}")).collect();
                Client {
                    digest: d,
                    name: format!("client-{hex}").into(),
                    limits: None,
                    service_tier: None,
                }
            })
            .collect();
        for c in named {
            let limits = Limits {
                requests_per_minute: c.requests_per_minute,
                tokens_per_day: c.tokens_per_day,
                models: c.models.clone().map(Into::into),
                budgets: Budgets {
                    per_day: c.budget_per_day,
                    per_month: c.budget_per_month,
                },
            };
            entries.push(Client {
                digest: digest(c.key.expose()),
                name: c.name.as_str().into(),
                limits: (limits != Limits::default()).then(|| Arc::new(limits)),
                service_tier: c.service_tier,
            });
        }
        Clients { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The client a presented credential belongs to, if any. Every comparison runs.
    pub fn matching(&self, presented: &[String]) -> Option<&Client> {
        find(&self.entries, |c| &c.digest, presented)
    }
}

/// Counts what limited clients spend.
#[derive(Debug)]
pub struct Limiter {
    backend: Backend,
    telemetry: Arc<Telemetry>,
    clock: Clock,
    /// Local sliding minutes: when each of a client's requests of the last minute came.
    windows: Mutex<HashMap<Arc<str>, VecDeque<i64>>>,
    /// Clients' tokens today and spend, for their token limits and budgets.
    spend: SpendReader,
}

impl Limiter {
    pub fn new(backend: Backend, telemetry: Arc<Telemetry>, clock: Clock) -> Limiter {
        Limiter {
            backend,
            telemetry,
            clock,
            windows: Mutex::new(HashMap::new()),
            spend: SpendReader::default(),
        }
    }

    /// Lets a request of `client` in, or says why not (a 429 with when to come back).
    pub async fn admit(&self, name: &Arc<str>, limits: &Limits) -> Result<(), DispatchError> {
        let now = self.clock.now();
        let spend = if limits.budgets.any() || limits.tokens_per_day.is_some() {
            let whole_month = limits.budgets.per_month.is_some();
            self.spend
                .spend(&self.telemetry, name, now, whole_month)
                .await
        } else {
            Spend::default()
        };
        if limits.budgets.any() {
            super::budgets::check(&self.telemetry, name, limits.budgets, spend, now)?;
        }
        if let Some(budget) = limits.tokens_per_day {
            if spend.tokens_today >= budget {
                let next_day = now - now.rem_euclid(86_400_000) + 86_400_000;
                return Err(DispatchError::client_limited(
                    format!("This client key has used its {budget} tokens for today (UTC); the budget renews at midnight UTC."),
                    Some(Duration::from_millis((next_day - now).max(1000) as u64)),
                ));
            }
        }
        if let Some(rpm) = limits.requests_per_minute {
            let wait = match self.backend.redis() {
                Some(redis) => {
                    let minute = now.div_euclid(60_000);
                    match Box::pin(redis.take_client_request(name, minute, rpm)).await {
                        Ok(true) => None,
                        Ok(false) => Some((minute + 1) * 60_000 - now),
                        // Redis unreachable: count on this gateway rather than refuse everyone.
                        Err(_) => self.take_local(name, now, rpm),
                    }
                }
                None => self.take_local(name, now, rpm),
            };
            if let Some(ms) = wait {
                return Err(DispatchError::client_limited(
                    format!("This client key is limited to {rpm} requests per minute."),
                    Some(Duration::from_millis(ms.max(1000) as u64)),
                ));
            }
        }
        Ok(())
    }

    /// Takes one request of the client's local sliding minute; `Some(ms)` to wait if full.
    fn take_local(&self, name: &Arc<str>, now: i64, rpm: u32) -> Option<i64> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(name.clone()).or_default();
        while window.front().is_some_and(|t| *t <= now - 60_000) {
            window.pop_front();
        }
        if window.len() >= rpm as usize {
            return window.front().map(|t| t + 60_000 - now);
        }
        window.push_back(now);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_named_clients_match_by_key() {
        let named = ClientSpec {
            name: "alice".into(),
            key: Secret::new("sk-alice"),
            requests_per_minute: Some(2),
            tokens_per_day: None,
            models: None,
            budget_per_day: None,
            budget_per_month: None,
            service_tier: None,
        };
        let clients = Clients::new(&[Secret::new("plain"), Secret::new("other")], &[named]);
        let name = &clients.matching(&["plain".into()]).unwrap().name;
        assert!(name.starts_with("client-") && name.len() == 15, "{name}");
        assert_ne!(
            Some(name),
            clients.matching(&["other".into()]).map(|c| &c.name)
        );
        let alice = clients.matching(&["x".into(), "sk-alice".into()]).unwrap();
        assert_eq!(&*alice.name, "alice");
        assert_eq!(alice.limits.as_ref().unwrap().requests_per_minute, Some(2));
        assert!(clients.matching(&["sk-alic".into()]).is_none());
    }

    #[tokio::test]
    async fn the_local_minute_slides() {
        let clock = Clock::new();
        let limiter = Limiter::new(
            Backend::Volatile,
            Telemetry::new(Backend::Volatile, clock),
            clock,
        );
        let name: Arc<str> = "alice".into();
        assert_eq!(limiter.take_local(&name, 0, 2), None);
        assert_eq!(limiter.take_local(&name, 10_000, 2), None);
        assert_eq!(limiter.take_local(&name, 20_000, 2), Some(40_000));
        assert_eq!(
            limiter.take_local(&name, 60_000, 2),
            None,
            "the first left the minute"
        );
    }
}
