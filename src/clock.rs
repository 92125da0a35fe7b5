//! Wall-clock time for the gateway, derived from tokio's clock so that tests can run cooldowns
//! under paused time (`tokio::time::pause` + `advance`) while deadlines stay absolute Unix
//! times that can be shown as ISO-8601 and shared through a store. [`Clock::new`] is the one
//! place that reads the system's wall clock (a lint forbids it elsewhere); everything else asks
//! a `Clock` (the pool's, re-exported as `pool::Clock`). A leaf: it imports nothing of the gateway.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use tokio::time::Instant;

/// Milliseconds since the Unix epoch.
pub type UnixMillis = i64;

/// A clock anchored once to the system time and advanced by tokio's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor_wall: UnixMillis,
    anchor_mono: Instant,
}

impl Clock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one reading of the wall clock: every other time is derived from it"
    )]
    pub fn new() -> Clock {
        Clock {
            anchor_wall: Utc::now().timestamp_millis(),
            anchor_mono: Instant::now(),
        }
    }

    /// A clock whose "now" starts at `wall` (tests).
    pub fn starting_at(wall: UnixMillis) -> Clock {
        Clock {
            anchor_wall: wall,
            anchor_mono: Instant::now(),
        }
    }

    pub fn now(&self) -> UnixMillis {
        let elapsed = Instant::now().saturating_duration_since(self.anchor_mono);
        self.anchor_wall + i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Now as a `SystemTime`, to the monotonic clock's precision (a trace's span times).
    pub fn system_time(&self) -> std::time::SystemTime {
        let elapsed = Instant::now().saturating_duration_since(self.anchor_mono);
        let anchor = std::time::Duration::from_millis(u64::try_from(self.anchor_wall).unwrap_or(0));
        std::time::UNIX_EPOCH + anchor + elapsed
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// ISO-8601 UTC with second precision, e.g. `2026-11-27T08:00:00Z`.
pub fn iso8601(at: UnixMillis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The UTC date of `at`, `YYYY-MM-DD` (usage is counted by it).
pub fn utc_day(at: UnixMillis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The UTC days of `day`'s month up to and including it (`day` alone if it is not a date).
pub fn month_so_far(day: &str) -> Vec<String> {
    let first = format!("{}01", day.get(..8).unwrap_or(day));
    days_between(&first, day, 31).unwrap_or_else(|| vec![day.to_string()])
}

/// The UTC dates from `from` to `to` inclusive, at most `max` of them; `None` when a date is not
/// `YYYY-MM-DD` or the range is backwards or too long.
pub fn days_between(from: &str, to: &str, max: usize) -> Option<Vec<String>> {
    let parse = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let (mut day, last) = (parse(from)?, parse(to)?);
    let mut out = Vec::new();
    while day <= last {
        if out.len() == max {
            return None;
        }
        out.push(day.format("%Y-%m-%d").to_string());
        day = day.succ_opt()?;
    }
    (!out.is_empty()).then_some(out)
}

/// The next midnight in US Pacific time strictly after `now`: when Gemini's per-day quotas
/// reset (ai.google.dev/gemini-api/docs/rate-limits). Daylight saving is handled by the zone.
pub fn next_daily_reset(now: UnixMillis) -> UnixMillis {
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(now) else {
        return now + 86_400_000;
    };
    let local = utc.with_timezone(&Los_Angeles);
    let tomorrow = local.date_naive() + ChronoDuration::days(1);
    let midnight = tomorrow.and_time(NaiveTime::MIN);
    match Los_Angeles.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc).timestamp_millis(),
        None => now + 86_400_000,
    }
}

/// The first of next month, midnight US Pacific, strictly after `now`: when a monthly spend
/// cap resets.
pub fn next_monthly_reset(now: UnixMillis) -> UnixMillis {
    let fallback = now + 31 * 86_400_000;
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(now) else {
        return fallback;
    };
    let local = utc.with_timezone(&Los_Angeles).date_naive();
    let (year, month) = match local.month() {
        12 => (local.year() + 1, 1),
        m => (local.year(), m + 1),
    };
    chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .map(|first| first.and_time(NaiveTime::MIN))
        .and_then(|midnight| Los_Angeles.from_local_datetime(&midnight).earliest())
        .map_or(fallback, |t| t.with_timezone(&Utc).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monthly_reset_is_the_first_of_next_month_pacific() {
        // 2026-12-05 05:00 UTC is 21:00 on Dec 4 PST: next reset 2027-01-01 08:00 UTC.
        assert_eq!(
            iso8601(next_monthly_reset(at("2026-12-05T05:00:00Z"))),
            "2027-01-01T08:00:00Z"
        );
        // 2026-11-01 06:30 UTC is still Oct 31 in Pacific (PDT): the reset is Nov 1, 07:00 UTC.
        assert_eq!(
            iso8601(next_monthly_reset(at("2026-11-01T06:30:00Z"))),
            "2026-11-01T07:00:00Z"
        );
        assert_eq!(
            iso8601(next_monthly_reset(at("2026-11-01T07:00:00Z"))),
            "2026-12-01T08:00:00Z"
        );
    }

    fn at(s: &str) -> UnixMillis {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn daily_reset_is_next_pacific_midnight() {
        // 2026-11-26 22:19 UTC is 14:19 PST (UTC-8): reset at 2026-11-27 08:00 UTC.
        assert_eq!(
            iso8601(next_daily_reset(at("2026-11-26T22:19:00Z"))),
            "2026-11-27T08:00:00Z"
        );
        // Summer (PDT, UTC-7): 2026-07-01 06:59 UTC is 23:59 on June 30 → 07:00 UTC.
        assert_eq!(
            iso8601(next_daily_reset(at("2026-07-01T06:59:00Z"))),
            "2026-07-01T07:00:00Z"
        );
        // Exactly at midnight: the next one, a day later.
        assert_eq!(
            iso8601(next_daily_reset(at("2026-11-27T08:00:00Z"))),
            "2026-11-28T08:00:00Z"
        );
    }

    #[test]
    fn utc_days_and_their_ranges() {
        assert_eq!(utc_day(at("2026-11-30T23:59:59Z")), "2026-11-30");
        assert_eq!(
            days_between("2026-11-29", "2026-12-01", 10).unwrap(),
            ["2026-11-29", "2026-11-30", "2026-12-01"]
        );
        assert!(days_between("2026-12-02", "2026-12-01", 10).is_none());
        assert!(days_between("2026-01-01", "2026-12-31", 100).is_none());
        assert!(days_between("yesterday", "2026-12-01", 10).is_none());
        assert_eq!(month_so_far("2026-12-02"), ["2026-12-01", "2026-12-02"]);
    }

    #[tokio::test(start_paused = true)]
    async fn clock_follows_paused_tokio_time() {
        let clock = Clock::starting_at(1_000);
        assert_eq!(clock.now(), 1_000);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), 91_000);
    }
}
