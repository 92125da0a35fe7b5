//! Client budgets in dollars (`[[clients]] budget_usd_per_day` / `budget_usd_per_month`),
//! enforced by the gateway itself — Google's own caps trip about ten minutes late. A client's
//! spend is its usage rows' cost (today, and this UTC month so far) as the usage book has them:
//! flushed each second to the store, so every gateway on one Redis sees one total. It is read at
//! most once a second per client; a request is refused once the spend has reached the budget
//! (the request that crosses it is served: its cost is known only when it ends). Crossing 80 %
//! and 100 % raises an alert, once per client, budget and period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::{month_so_far, utc_day, UnixMillis};
use crate::dispatch::DispatchError;
use crate::store::Owner;
use crate::telemetry::alerts::Condition;
use crate::telemetry::prices::usd;
use crate::telemetry::{Telemetry, UsageQuery};

/// How long a client's spend read is trusted.
const SPEND_FRESH_MS: i64 = 1000;

const DAY_MS: i64 = 86_400_000;

/// What a client has spent: tokens today (for `tokens_per_day`), and nano-dollars today and —
/// when the whole month was read — this month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    pub tokens_today: u64,
    pub today: u64,
    pub month: u64,
}

/// One read of a client's usage: its day, when, whether it covers the month, what it found.
type Read = (String, UnixMillis, bool, Spend);

/// Reads clients' spend from the usage book, at most once a second each (the token limit and the
/// budgets share the read).
#[derive(Debug, Default)]
pub struct SpendReader {
    read: Mutex<HashMap<Arc<str>, Read>>,
}

impl SpendReader {
    /// The client's spend today and, with `whole_month`, this month so far.
    pub async fn spend(
        &self,
        telemetry: &Telemetry,
        name: &Arc<str>,
        now: UnixMillis,
        whole_month: bool,
    ) -> Spend {
        let day = utc_day(now);
        if let Some((d, at, month, spend)) = self
            .read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            if *d == day && now - at < SPEND_FRESH_MS && (*month || !whole_month) {
                return *spend;
            }
        }
        let query = UsageQuery {
            days: if whole_month {
                month_so_far(&day)
            } else {
                vec![day.clone()]
            },
            client: Some(name.to_string()),
            ..UsageQuery::default()
        };
        let Ok(rows) = telemetry.usage.query(&query).await else {
            // The store unreachable: serve rather than refuse everyone.
            return Spend::default();
        };
        let mut spend = Spend::default();
        for (k, c) in rows
            .iter()
            .filter(|(k, _)| matches!(&k.owner, Owner::Client(c) if c == name))
        {
            spend.month += c.cost_nanousd;
            if *k.day == *day {
                spend.today += c.cost_nanousd;
                spend.tokens_today += c.input_tokens + c.output_tokens + c.thought_tokens;
            }
        }
        self.read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), (day, now, whole_month, spend));
        spend
    }
}

/// When the first of next month (UTC) begins.
fn next_month(now: UnixMillis) -> UnixMillis {
    let day = utc_day(now);
    let (year, month) = (
        day[..4].parse::<i32>().unwrap_or(1970),
        day[5..7].parse::<u32>().unwrap_or(1),
    );
    let (year, month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now + 31 * DAY_MS, |t| t.and_utc().timestamp_millis())
}

/// What a client may spend per UTC day and per UTC month, in nano-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budgets {
    pub per_day: Option<u64>,
    pub per_month: Option<u64>,
}

impl Budgets {
    pub fn any(&self) -> bool {
        self.per_day.is_some() || self.per_month.is_some()
    }
}

/// The refusal for a client at or over a budget, if it is; alerts at 80 % and 100 %.
pub fn check(
    telemetry: &Telemetry,
    name: &Arc<str>,
    budgets: Budgets,
    spend: Spend,
    now: UnixMillis,
) -> Result<(), DispatchError> {
    let periods = [
        (budgets.per_day, spend.today, "today (UTC)", "day", {
            now - now.rem_euclid(DAY_MS) + DAY_MS
        }),
        (
            budgets.per_month,
            spend.month,
            "this month (UTC)",
            "month",
            next_month(now),
        ),
    ];
    let mut refusal = Ok(());
    for (budget, spent, when, period, renews) in periods {
        let Some(budget) = budget else { continue };
        let share = spent as f64 / budget as f64;
        telemetry.alert(
            Condition::Budget {
                client: name.clone(),
                period,
                level: 80,
            },
            share >= 0.8,
            || {
                format!(
                    "Client {name} has spent ${:.4} of its ${:.4} budget for {when} ({:.0} %).",
                    usd(spent),
                    usd(budget),
                    share * 100.0
                )
            },
        );
        telemetry.alert(
            Condition::Budget {
                client: name.clone(),
                period,
                level: 100,
            },
            share >= 1.0,
            || {
                format!(
                    "Client {name} has spent its ${:.4} budget for {when}; its requests are refused until it renews.",
                    usd(budget)
                )
            },
        );
        if spent >= budget && refusal.is_ok() {
            let wait = Duration::from_millis((renews - now).max(1000) as u64);
            let at = crate::clock::iso8601(renews);
            refusal = Err(DispatchError::client_limited(
                format!(
                    "This client key has spent ${:.4} of its ${:.4} budget for {when}: it is over budget until {at}.",
                    usd(spent),
                    usd(budget)
                ),
                Some(wait),
            ));
        }
    }
    refusal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Backend;
    use crate::telemetry::prices::nanos;

    #[test]
    fn months_end_in_utc() {
        // 2026-12-05T12:00:00Z → 2027-01-01T00:00:00Z
        assert_eq!(next_month(1_796_472_000_000), 1_798_761_600_000);
        // 2026-02-28 → 2026-03-01
        assert_eq!(utc_day(next_month(1_772_280_000_000)), "2026-03-01");
    }

    #[test]
    fn at_the_budget_the_client_is_refused_until_it_renews() {
        let clock = crate::clock::Clock::new();
        let t = Telemetry::new(Backend::Volatile, clock);
        let limits = Budgets {
            per_day: Some(nanos(0.01)),
            per_month: Some(nanos(1.0)),
        };
        let name: Arc<str> = "team".into();
        let now = 1_796_472_000_000;
        let under = Spend {
            today: nanos(0.0099),
            month: nanos(0.5),
            ..Spend::default()
        };
        assert!(check(&t, &name, limits, under, now).is_ok());
        let over = Spend {
            today: nanos(0.01),
            month: nanos(0.5),
            ..Spend::default()
        };
        let e = check(&t, &name, limits, over, now).unwrap_err();
        assert_eq!(e.status.as_u16(), 429);
        let text = format!("{e:?}");
        assert!(
            text.contains("budget for today (UTC)") && text.contains("2026-12-06T00:00:00"),
            "{text}"
        );
        let month = Spend {
            month: nanos(1.0),
            ..Spend::default()
        };
        let e = format!("{:?}", check(&t, &name, limits, month, now).unwrap_err());
        assert!(e.contains("this month") && e.contains("2027-01-01"), "{e}");
    }
}
