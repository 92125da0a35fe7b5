//! Outlier ejection, after Envoy's: a (key, model) whose attempt fails transiently (5xx,
//! timeout, connection error) is taken out of rotation for a growing interval — [`BASE_MS`],
//! doubling up to [`MAX_MS`] — then lets exactly one request through as a half-open probe; a
//! success returns it for good, a failure ejects it again for twice as long. The pool never ejects
//! more than half of a model's usable keys this way.
//!
//! A model most keys report overloaded (503) within [`OVERLOAD_WINDOW_MS`] is overloaded
//! everywhere: no key is spent on it for a growing interval (same schedule), then one probe.

use std::collections::VecDeque;

use crate::clock::UnixMillis;

/// The first ejection.
pub const BASE_MS: i64 = 5_000;
/// The longest.
pub const MAX_MS: i64 = 300_000;
/// Overload reports older than this are forgotten.
pub const OVERLOAD_WINDOW_MS: i64 = 10_000;

/// Ejection state of one (key, model) or of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ejection {
    /// How many times in a row it was ejected (0: not ejected).
    pub times: u32,
    /// Out until then; after it, one probe.
    pub until: UnixMillis,
    /// A probe is in flight.
    pub probing: bool,
}

/// What a pick may do with a (key, model) or a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// In rotation.
    Open,
    /// Its interval is over: this request may be the one probe.
    Probe,
    /// Out (until then, or until the probe in flight answers).
    Out(UnixMillis),
}

impl Ejection {
    pub fn admission(&self, now: UnixMillis) -> Admission {
        if self.times == 0 {
            Admission::Open
        } else if now < self.until {
            Admission::Out(self.until)
        } else if self.probing {
            // The probe may hang; the next one is due one interval later.
            Admission::Out(self.until + interval(self.times))
        } else {
            Admission::Probe
        }
    }

    /// Out again, for twice as long as last time.
    pub fn eject(&mut self, now: UnixMillis) {
        self.times = self.times.saturating_add(1);
        self.until = now + interval(self.times);
        self.probing = false;
    }

    /// Whether it is out of rotation now (for the status page).
    pub fn is_out(&self, now: UnixMillis) -> bool {
        self.times > 0 && (now < self.until || self.probing)
    }
}

/// The interval of the `times`-th ejection in a row.
pub fn interval(times: u32) -> i64 {
    let doublings = times.saturating_sub(1).min(16);
    (BASE_MS << doublings).min(MAX_MS)
}

/// Overload reports for one model: which keys said "overloaded", when.
#[derive(Debug, Default)]
pub struct Overload {
    reports: VecDeque<(usize, UnixMillis)>,
    pub ejection: Ejection,
}

impl Overload {
    /// Notes `key`'s 503; true when, with it, at least `quorum` distinct keys said so lately.
    pub fn report(&mut self, key: usize, now: UnixMillis, quorum: usize) -> bool {
        while self
            .reports
            .front()
            .is_some_and(|(_, at)| *at + OVERLOAD_WINDOW_MS < now)
        {
            self.reports.pop_front();
        }
        self.reports.retain(|(k, _)| *k != key);
        self.reports.push_back((key, now));
        self.reports.len() >= quorum
    }

    /// A success: the model answers again.
    pub fn clear(&mut self) {
        self.reports.clear();
        self.ejection = Ejection::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_double_to_the_cap() {
        assert_eq!(interval(1), 5_000);
        assert_eq!(interval(2), 10_000);
        assert_eq!(interval(7), 300_000);
        assert_eq!(interval(100), 300_000);
    }

    #[test]
    fn ejected_then_one_probe_then_out_again_or_back() {
        let mut e = Ejection::default();
        assert_eq!(e.admission(0), Admission::Open);
        e.eject(1_000);
        assert_eq!(e.admission(1_000), Admission::Out(6_000));
        assert_eq!(e.admission(6_000), Admission::Probe);
        e.probing = true;
        assert_eq!(
            e.admission(6_500),
            Admission::Out(11_000),
            "one probe at a time"
        );
        e.eject(7_000);
        assert_eq!(e.admission(7_000), Admission::Out(17_000), "twice as long");
    }

    #[test]
    fn an_overload_needs_a_quorum_of_distinct_keys_within_the_window() {
        let mut o = Overload::default();
        assert!(!o.report(0, 0, 2));
        assert!(!o.report(0, 100, 2), "the same key again");
        assert!(o.report(1, 200, 2));
        let mut o = Overload::default();
        o.report(0, 0, 2);
        assert!(!o.report(1, OVERLOAD_WINDOW_MS + 1, 2), "too late");
    }
}
