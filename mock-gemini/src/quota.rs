//! Google's quotas as the real service enforces them: **per project and per model**, shared by
//! every API key of the project. Three limits, each optional: requests per minute and input
//! tokens per minute (sliding 60 s windows), requests per day (reset at midnight US Pacific).
//! A request over any of them gets a 429 whose `QuotaFailure` names each exceeded limit
//! (`quotaId`, `quotaMetric`, `quotaDimensions`, `quotaValue`) and whose `RetryInfo.retryDelay`
//! is the exact time until the request would be admitted. A limit of 0 means the project's tier
//! has no quota for the model at all (Google still says "retry in" a few seconds).
//!
//! Keys are mapped to projects by the test; a key not mapped is a project of its own. Only
//! requests that would be served count (`generateContent`, `streamGenerateContent`).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::errors::{quota_help, ApiError, RATE_LIMIT_DOC};

/// Which keys share which quotas, and the limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct QuotaConfig {
    /// Key → project. A key not listed is a project of its own.
    #[serde(default)]
    pub projects: HashMap<String, String>,
    /// The limits; the first that matches a (project, model) applies.
    #[serde(default)]
    pub limits: Vec<QuotaLimit>,
    /// Project (or unmapped key) → `"free"` or `"paid"`; unlisted projects are paid. Free keys
    /// do not see the paid-only models.
    #[serde(default)]
    pub tiers: HashMap<String, String>,
    /// Projects (or unmapped keys) whose monthly spending cap is reached: every call but model
    /// listing answers the spend-cap 429.
    #[serde(default)]
    pub spend_capped: Vec<String>,
}

/// The limits of one project (or `*`: every project) for one model (or `*`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct QuotaLimit {
    pub project: String,
    pub model: String,
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u64>,
    /// Input tokens per minute.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Requests per day (midnight US Pacific to midnight).
    #[serde(default)]
    pub rpd: Option<u64>,
}

/// What a (project, model) has used.
#[derive(Debug, Default)]
struct Usage {
    /// Admitted requests of the last minute: when, and their input tokens.
    minute: VecDeque<(Instant, u64)>,
    /// The Pacific day (days since the epoch, local) and its count.
    day: (i64, u64),
}

/// The quota state of one mock server.
#[derive(Debug, Default)]
pub struct Quotas {
    config: QuotaConfig,
    usage: HashMap<(String, String), Usage>,
}

const MINUTE: Duration = Duration::from_secs(60);
/// What Google says to a tier without quota for the model ("limit: 0").
const NO_QUOTA_RETRY: Duration = Duration::from_millis(10_673);

/// One exceeded limit.
struct Violation {
    quota_id: &'static str,
    metric: &'static str,
    limit: u64,
    retry: Duration,
}

impl Quotas {
    /// Replaces the configuration and forgets all usage.
    pub fn configure(&mut self, config: QuotaConfig) {
        self.config = config;
        self.usage.clear();
    }

    pub fn config(&self) -> &QuotaConfig {
        &self.config
    }

    /// The project `key` belongs to.
    pub fn project_of<'a>(&'a self, key: &'a str) -> &'a str {
        self.config.projects.get(key).map_or(key, String::as_str)
    }

    /// Whether `key`'s project is on a paid tier.
    pub fn paid(&self, key: &str) -> bool {
        self.config
            .tiers
            .get(self.project_of(key))
            .is_none_or(|tier| tier != "free")
    }

    /// Whether `key`'s project has hit its monthly spending cap.
    pub fn spend_capped(&self, key: &str) -> bool {
        let project = self.project_of(key);
        self.config.spend_capped.iter().any(|p| p == project)
    }

    fn limit_for(&self, project: &str, model: &str) -> Option<&QuotaLimit> {
        self.config.limits.iter().find(|l| {
            (l.project == "*" || l.project == project) && (l.model == "*" || l.model == model)
        })
    }

    /// Admits a request of `key` for `model` with `tokens` input tokens at `now` (`wall`: Unix
    /// ms, for the Pacific day), or answers Google's 429.
    pub fn admit(
        &mut self,
        key: &str,
        model: &str,
        tokens: u64,
        now: Instant,
        wall: i64,
    ) -> Result<(), ApiError> {
        let project = self.project_of(key).to_string();
        let Some(limit) = self.limit_for(&project, model).cloned() else {
            return Ok(());
        };
        let usage = self.usage.entry((project, model.to_string())).or_default();
        while usage
            .minute
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= MINUTE)
        {
            usage.minute.pop_front();
        }
        let today = pacific_day(wall);
        if usage.day.0 != today {
            usage.day = (today, 0);
        }
        let mut violations = Vec::new();
        if let Some(rpd) = limit.rpd {
            if usage.day.1 >= rpd {
                violations.push(Violation {
                    quota_id: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                    metric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    limit: rpd,
                    retry: if rpd == 0 {
                        NO_QUOTA_RETRY
                    } else {
                        until_pacific_midnight(wall)
                    },
                });
            }
        }
        if let Some(rpm) = limit.rpm {
            if usage.minute.len() as u64 >= rpm {
                // A slot frees when the request `len - rpm` places from the end leaves the window.
                let retry = match usage.minute.len().checked_sub(rpm as usize) {
                    _ if rpm == 0 => NO_QUOTA_RETRY,
                    Some(i) => frees_at(usage.minute[i].0, now),
                    None => Duration::ZERO,
                };
                violations.push(Violation {
                    quota_id: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    metric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    limit: rpm,
                    retry,
                });
            }
        }
        if let Some(tpm) = limit.tpm {
            let used: u64 = usage.minute.iter().map(|(_, t)| t).sum();
            if used + tokens > tpm {
                let mut freed = 0;
                let retry = if tpm == 0 || tokens > tpm {
                    NO_QUOTA_RETRY.max(MINUTE * u32::from(tokens > tpm))
                } else {
                    usage
                        .minute
                        .iter()
                        .find(|(_, t)| {
                            freed += t;
                            used - freed + tokens <= tpm
                        })
                        .map_or(MINUTE, |(at, _)| frees_at(*at, now))
                };
                violations.push(Violation {
                    quota_id: "GenerateContentInputTokensPerModelPerMinute-FreeTier",
                    metric:
                        "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                    limit: tpm,
                    retry,
                });
            }
        }
        if violations.is_empty() {
            usage.minute.push_back((now, tokens));
            usage.day.1 += 1;
            return Ok(());
        }
        Err(exceeded(model, &violations))
    }
}

/// The wall clock in Unix ms (for the Pacific day).
#[expect(
    clippy::disallowed_methods,
    reason = "the mock plays Google's day, which follows the real clock"
)]
pub fn wall_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn frees_at(admitted: Instant, now: Instant) -> Duration {
    (admitted + MINUTE).saturating_duration_since(now)
}

/// Google's 429 for these violations: every limit named, the longest wait in `RetryInfo`.
fn exceeded(model: &str, violations: &[Violation]) -> ApiError {
    let retry = violations.iter().map(|v| v.retry).max().unwrap_or_default();
    let mut message = format!(
        "You exceeded your current quota, please check your plan and billing details. For more \
         information on this error, head to: {RATE_LIMIT_DOC}. To monitor your current usage, head \
         to: https://ai.dev/usage?tab=rate-limit. "
    );
    for v in violations {
        message.push_str(&format!(
            "\n* Quota exceeded for metric: {}, limit: {}, model: {model}",
            v.metric, v.limit
        ));
    }
    let delay = format!("{:.6}s", retry.as_secs_f64());
    message.push_str(&format!("\nPlease retry in {delay}."));
    let mut error = ApiError::new(429, "RESOURCE_EXHAUSTED", message);
    let listed: Vec<_> = violations
        .iter()
        .map(|v| {
            json!({
                "quotaMetric": v.metric,
                "quotaId": v.quota_id,
                "quotaDimensions": {"location": "global", "model": model},
                "quotaValue": v.limit.to_string(),
            })
        })
        .collect();
    error.details.push(json!({
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": listed,
    }));
    error.details.push(quota_help());
    error.details.push(json!({
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": delay,
    }));
    error
}

/// Days since the epoch in US Pacific local time.
fn pacific_day(wall: i64) -> i64 {
    DateTime::<Utc>::from_timestamp_millis(wall)
        .map(|t| {
            let local = t.with_timezone(&Los_Angeles).date_naive();
            i64::from(local.num_days_from_ce())
        })
        .unwrap_or(0)
}

fn until_pacific_midnight(wall: i64) -> Duration {
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(wall) else {
        return Duration::from_secs(86_400);
    };
    let tomorrow = utc.with_timezone(&Los_Angeles).date_naive() + ChronoDuration::days(1);
    let midnight = Los_Angeles
        .from_local_datetime(&tomorrow.and_time(NaiveTime::MIN))
        .earliest()
        .map_or(wall + 86_400_000, |t| t.timestamp_millis());
    Duration::from_millis(u64::try_from(midnight - wall).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rpm: Option<u64>, tpm: Option<u64>, rpd: Option<u64>) -> QuotaConfig {
        QuotaConfig {
            projects: HashMap::from([
                ("k1".to_string(), "p".to_string()),
                ("k2".to_string(), "p".to_string()),
            ]),
            limits: vec![QuotaLimit {
                project: "*".into(),
                model: "m".into(),
                rpm,
                tpm,
                rpd,
            }],
            ..QuotaConfig::default()
        }
    }

    fn retry_of(e: &ApiError) -> String {
        e.details
            .iter()
            .find_map(|d| d.get("retryDelay").and_then(|v| v.as_str()))
            .unwrap()
            .to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn keys_of_a_project_share_a_sliding_minute() {
        let mut q = Quotas::default();
        q.configure(config(Some(2), None, None));
        let t0 = Instant::now();
        assert!(q.admit("k1", "m", 1, t0, 0).is_ok());
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(q.admit("k2", "m", 1, Instant::now(), 0).is_ok());
        let e = q.admit("k1", "m", 1, Instant::now(), 0).unwrap_err();
        assert_eq!(e.code, 429);
        assert_eq!(
            retry_of(&e),
            "40.000000s",
            "the first request leaves at 60 s"
        );
        assert!(e.message.contains("limit: 2, model: m"), "{}", e.message);
        assert!(
            q.admit("k3", "m", 1, Instant::now(), 0).is_ok(),
            "another project"
        );
        assert!(
            q.admit("k1", "other", 1, Instant::now(), 0).is_ok(),
            "another model"
        );
        tokio::time::advance(Duration::from_secs(40)).await;
        assert!(q.admit("k2", "m", 1, Instant::now(), 0).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn zero_limits_and_tokens_and_days() {
        let mut q = Quotas::default();
        q.configure(config(Some(0), None, None));
        let e = q.admit("k1", "m", 1, Instant::now(), 0).unwrap_err();
        assert!(e.message.contains("limit: 0"));
        assert_eq!(retry_of(&e), "10.673000s");

        q.configure(config(None, Some(100), None));
        assert!(q.admit("k1", "m", 60, Instant::now(), 0).is_ok());
        let e = q.admit("k1", "m", 50, Instant::now(), 0).unwrap_err();
        assert!(e.details[0]["violations"][0]["quotaId"]
            .as_str()
            .unwrap()
            .contains("InputTokens"));

        q.configure(config(None, None, Some(1)));
        // 2026-11-26 22:19 UTC is 14:19 PST: the day ends at 08:00 UTC, 9 h 41 min later.
        let wall = 1_795_731_540_000;
        assert!(q.admit("k1", "m", 1, Instant::now(), wall).is_ok());
        let e = q.admit("k2", "m", 1, Instant::now(), wall).unwrap_err();
        assert_eq!(retry_of(&e), format!("{:.6}s", (9 * 3600 + 41 * 60) as f64));
    }
}
