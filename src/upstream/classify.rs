//! The one place that decides what an upstream outcome means for the key that was used and for
//! the request: from the HTTP status and the parsed `google.rpc.Status` (or a transport error)
//! to a [`Verdict`]. Dispatch and the pool act on verdicts and never look at error text. A 429
//! carries what it says about the quota it hit ([`QuotaHit`]: which limit, its value), which the
//! pool uses to learn limits and project groups.

use std::time::Duration;

use super::billing::{billing, Billing};
use super::status::RpcStatus;

/// How long a rate-limited key stays out for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cooldown {
    /// Gemini said how long (`RetryInfo.retryDelay`).
    For(Duration),
    /// A per-day quota: until the next midnight US Pacific.
    UntilDailyReset,
    /// Gemini gave no hint: the configured `KEY_COOLDOWN_MINUTES`.
    Configured,
    /// A monthly spend cap: until the first of next month, midnight US Pacific.
    UntilMonthlyReset,
}

/// The kind of limit a quota is, from its `quotaId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaKind {
    /// `…RequestsPerMinute…`
    RequestsPerMinute,
    /// `…InputTokens…PerMinute…`
    InputTokensPerMinute,
    /// `…PerDay…`
    RequestsPerDay,
    /// Anything else (named, but not scheduled ahead).
    Other,
}

impl QuotaKind {
    pub fn of(quota_id: &str) -> QuotaKind {
        if quota_id.contains("PerDay") {
            QuotaKind::RequestsPerDay
        } else if quota_id.contains("PerMinute") && quota_id.contains("Token") {
            QuotaKind::InputTokensPerMinute
        } else if quota_id.contains("PerMinute") {
            QuotaKind::RequestsPerMinute
        } else {
            QuotaKind::Other
        }
    }

    /// Its label back (from a store).
    pub fn from_label(label: &str) -> Option<QuotaKind> {
        Some(match label {
            "rpm" => QuotaKind::RequestsPerMinute,
            "tpm" => QuotaKind::InputTokensPerMinute,
            "rpd" => QuotaKind::RequestsPerDay,
            _ => return None,
        })
    }

    /// A short label for the status page.
    pub fn label(self) -> &'static str {
        match self {
            QuotaKind::RequestsPerMinute => "rpm",
            QuotaKind::InputTokensPerMinute => "tpm",
            QuotaKind::RequestsPerDay => "rpd",
            QuotaKind::Other => "other",
        }
    }
}

/// One limit a 429 says was exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaHit {
    pub kind: QuotaKind,
    /// `QuotaFailure.violations[].quotaValue`, when given (`0`: the tier has no quota for the
    /// model at all).
    pub limit: Option<u64>,
}

/// What a 429 means: how long the key (or its project) rests, and which limits it hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub cooldown: Cooldown,
    pub hits: Vec<QuotaHit>,
}

impl From<Cooldown> for RateLimit {
    fn from(cooldown: Cooldown) -> RateLimit {
        RateLimit {
            cooldown,
            hits: Vec::new(),
        }
    }
}

impl RateLimit {
    /// Whether some hit says the tier has no quota for the model at all.
    pub fn no_quota(&self) -> bool {
        self.hits.iter().any(|h| h.limit == Some(0))
    }
}

/// What an upstream failure means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 429: cool (key or its project, model); try another key.
    RateLimited(RateLimit),
    /// A spend cap, depleted credits or a spend-based limit: the key's whole project rests
    /// for every model; try a key of another project.
    Billing(Billing),
    /// The key itself is bad (invalid, revoked, suspended, blocked): disable it for every model;
    /// try another key.
    KeyRejected(&'static str),
    /// The request's own fault (bad argument, unknown model, too large): answer the client now,
    /// the key is fine.
    ClientFault,
    /// This key's tier does not have the model (404 "models/… is not found", 403 about the
    /// model): not a cooldown, not a disable; the key is not asked for the model again until an
    /// operator or the catalog says otherwise; try another key.
    ModelLacking,
    /// The upstream faltered (500, 502, 504, timeout, connection): the key is fine; retry on
    /// another key, a bounded number of times.
    Transient,
    /// 503: the model is overloaded — a fact about the model more than the key (transient, and
    /// counted towards the model-wide signal).
    Overloaded,
    /// A 200 whose content the surface cannot use (Gemini's `MALFORMED_FUNCTION_CALL`, no
    /// candidate at all): the key is fine; another attempt may do better, once.
    UnusableAnswer,
}

impl Verdict {
    /// Whether another key may be tried for the same request.
    pub fn may_fail_over(&self) -> bool {
        !matches!(self, Verdict::ClientFault)
    }

    /// A short, low-cardinality label for logs, status and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::RateLimited(RateLimit {
                cooldown: Cooldown::UntilDailyReset,
                ..
            }) => "rate_limited_daily",
            Verdict::RateLimited(_) => "rate_limited",
            Verdict::Billing(b) => b.kind.label(),
            Verdict::KeyRejected(reason) => reason,
            Verdict::ClientFault => "client_error",
            Verdict::ModelLacking => "model_lacking",
            Verdict::Transient => "upstream_unavailable",
            Verdict::Overloaded => "model_overloaded",
            Verdict::UnusableAnswer => "unusable_answer",
        }
    }

    /// Whether this failure spends the transient budget and counts towards ejection.
    pub fn is_transient(&self) -> bool {
        matches!(self, Verdict::Transient | Verdict::Overloaded)
    }
}

/// Shortest cooldown we apply even when Gemini says `"0s"`, so a key is not hammered.
const MIN_COOLDOWN: Duration = Duration::from_secs(1);

/// Classifies a non-2xx upstream answer.
pub fn classify(http_status: u16, body: Option<&RpcStatus>) -> Verdict {
    let reason_is =
        |wanted: &[&str]| body.is_some_and(|b| b.reasons().any(|r| wanted.contains(&r)));
    if matches!(http_status, 402 | 429) {
        if let Some(b) = billing(http_status, body) {
            return Verdict::Billing(b);
        }
    }
    match http_status {
        429 => {
            let Some(b) = body else {
                return Verdict::RateLimited(Cooldown::Configured.into());
            };
            let violations = b.violations().count();
            let hits: Vec<QuotaHit> = b
                .violations()
                .map(|(id, value, metric)| QuotaHit {
                    kind: QuotaKind::of(id),
                    limit: value.or_else(|| limit_in_message(&b.message, metric, violations)),
                })
                .collect();
            let cooldown = if b.quota_ids().any(is_per_day_quota) {
                Cooldown::UntilDailyReset
            } else if let Some(d) = b.retry_delay() {
                Cooldown::For(d.max(MIN_COOLDOWN))
            } else {
                Cooldown::Configured
            };
            Verdict::RateLimited(RateLimit { cooldown, hits })
        }
        400 if reason_is(&["API_KEY_INVALID", "API_KEY_EXPIRED"]) => {
            Verdict::KeyRejected("key_invalid")
        }
        401 => Verdict::KeyRejected("unauthenticated"),
        403 if key_is_refused(body) => Verdict::KeyRejected("permission_denied"),
        403 | 404 if about_the_model(body) => Verdict::ModelLacking,
        400 | 404 | 409 | 411 | 413 | 415 | 422 => Verdict::ClientFault,
        503 => Verdict::Overloaded,
        408 | 500..=599 => Verdict::Transient,
        _ => Verdict::ClientFault,
    }
}

/// `ErrorInfo.reason`s of a 403 that are about the key (or its project) itself.
const KEY_REFUSED_REASONS: &[&str] = &[
    "CONSUMER_SUSPENDED",
    "CONSUMER_INVALID",
    "SERVICE_DISABLED",
    "API_KEY_SERVICE_BLOCKED",
    "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_IP_ADDRESS_BLOCKED",
    "API_KEY_ANDROID_APP_BLOCKED",
    "API_KEY_IOS_APP_BLOCKED",
    "API_KEY_INVALID",
    "BILLING_DISABLED",
];

/// Whether a 403 refuses the key rather than this request. Gemini also answers 403 when the
/// request itself reaches for something the project may not touch (another project's file or
/// cached content): that must not cost every key the request is retried with. Keyed on
/// `ErrorInfo.reason`; for the detail-less forms Google sends for leaked or denied keys, on the
/// message naming the key or the project.
fn key_is_refused(body: Option<&RpcStatus>) -> bool {
    let Some(b) = body else {
        return false;
    };
    if b.reasons().any(|r| KEY_REFUSED_REASONS.contains(&r)) {
        return true;
    }
    let m = b.message.to_ascii_lowercase();
    b.details.is_empty()
        && (m.contains("api key")
            || m.contains("consumer")
            || m.contains("project has been denied"))
}

/// A violation's limit as Google's message states it when `QuotaFailure` has no `quotaValue`:
/// "* Quota exceeded for metric: generativelanguage.googleapis.com/…, limit: 0, model: …". The
/// line naming the violation's `quotaMetric` is the one; without a metric, only a message with
/// a single violation and a single limit says whose limit it is.
fn limit_in_message(message: &str, metric: Option<&str>, violations: usize) -> Option<u64> {
    const LIMIT: &str = "limit: ";
    let limit_after = |line: &str| {
        let at = line.find(LIMIT)? + LIMIT.len();
        let digits = line[at..].split(|c: char| !c.is_ascii_digit()).next()?;
        digits.parse().ok()
    };
    match metric {
        Some(metric) => message
            .lines()
            .filter(|line| {
                line.find("metric: ")
                    .is_some_and(|at| line[at + "metric: ".len()..].starts_with(metric))
            })
            .find_map(limit_after),
        None if violations == 1 && message.matches(LIMIT).count() == 1 => {
            message.lines().find_map(limit_after)
        }
        None => None,
    }
}

/// Whether a 403/404 says the model is not there for this key: Google's "models/… is not found
/// for API version …" (a tier without the model; unknown names never reach Gemini, the catalog
/// answers them), or a refusal naming the model and the key's tier or access. A 404 about a
/// file, a cached content or a batch is the request's.
fn about_the_model(body: Option<&RpcStatus>) -> bool {
    let Some(b) = body else {
        return false;
    };
    let m = b.message.to_ascii_lowercase();
    (m.starts_with("models/") && m.contains("is not found"))
        || (m.contains("model")
            && (m.contains("tier") || m.contains("not available") || m.contains("access to")))
}

/// Per-day quota ids read like `GenerateRequestsPerDayPerProjectPerModel-FreeTier`.
fn is_per_day_quota(quota_id: &str) -> bool {
    quota_id.contains("PerDay")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(v: serde_json::Value) -> RpcStatus {
        RpcStatus::parse(v.to_string().as_bytes()).unwrap()
    }

    fn quota(id: &str, delay: Option<&str>) -> RpcStatus {
        let mut details = vec![
            json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": id, "quotaDimensions": {"model": "gemini-2.5-flash"}}]}),
        ];
        if let Some(d) = delay {
            details.push(
                json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": d}),
            );
        }
        status(json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": details}}))
    }

    #[test]
    fn per_minute_429_uses_retry_delay() {
        let s = quota(
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            Some("41.5s"),
        );
        assert_eq!(
            classify(429, Some(&s)),
            Verdict::RateLimited(RateLimit {
                cooldown: Cooldown::For(Duration::from_millis(41_500)),
                hits: vec![QuotaHit {
                    kind: QuotaKind::RequestsPerMinute,
                    limit: None
                }],
            })
        );
    }

    #[test]
    fn quota_values_are_read_and_limit_zero_is_no_quota() {
        let s = status(
            json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier", "quotaValue": "250000"},
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "0"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "10.673s"}]}}),
        );
        let Verdict::RateLimited(r) = classify(429, Some(&s)) else {
            panic!("a rate limit");
        };
        assert_eq!(
            r.hits,
            [
                QuotaHit {
                    kind: QuotaKind::InputTokensPerMinute,
                    limit: Some(250_000)
                },
                QuotaHit {
                    kind: QuotaKind::RequestsPerMinute,
                    limit: Some(0)
                }
            ]
        );
        assert!(r.no_quota());
        assert_eq!(
            QuotaKind::of("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
            QuotaKind::RequestsPerDay
        );
    }

    #[test]
    fn a_limit_said_only_in_the_message_is_read_from_it() {
        let metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
        let message = format!(
            "You exceeded your current quota, please check your plan and billing details. \n* \
             Quota exceeded for metric: {metric}, limit: 0, model: gemini-3.1-pro-preview\nPlease \
             retry in 3s."
        );
        let with_metric = status(
            json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": message, "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": metric, "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}]}}),
        );
        let Verdict::RateLimited(r) = classify(429, Some(&with_metric)) else {
            panic!("a rate limit");
        };
        assert_eq!(r.hits[0].limit, Some(0));
        assert!(r.no_quota(), "a tier without access, not a per-minute wait");
        // Without a metric, a single violation takes the message's single limit.
        let bare = status(
            json!({"error": {"code": 429, "message": message, "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]}]}}),
        );
        let Verdict::RateLimited(r) = classify(429, Some(&bare)) else {
            panic!("a rate limit");
        };
        assert_eq!(r.hits[0].limit, Some(0));
        // Another metric's line is not this violation's limit, and a message naming none
        // teaches nothing.
        assert_eq!(limit_in_message(&message, Some("other/metric"), 1), None);
        assert_eq!(limit_in_message("Resource exhausted.", None, 1), None);
        let two = format!("{message}\n* Quota exceeded for metric: x, limit: 250000, model: m");
        assert_eq!(
            limit_in_message(&two, None, 2),
            None,
            "whose limit is unclear"
        );
        assert_eq!(limit_in_message(&two, Some("x"), 2), Some(250_000));
    }

    #[test]
    fn zero_delay_is_floored() {
        let s = quota(
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            Some("0s"),
        );
        assert!(matches!(
            classify(429, Some(&s)),
            Verdict::RateLimited(RateLimit { cooldown: Cooldown::For(d), .. }) if d == MIN_COOLDOWN
        ));
    }

    #[test]
    fn per_day_429_waits_for_the_daily_reset_even_with_a_short_delay() {
        let s = quota(
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            Some("41s"),
        );
        let daily = |s: &RpcStatus| {
            matches!(
                classify(429, Some(s)),
                Verdict::RateLimited(RateLimit {
                    cooldown: Cooldown::UntilDailyReset,
                    ..
                })
            )
        };
        assert!(daily(&s));
        let s = quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", None);
        assert!(daily(&s));
    }

    #[test]
    fn bare_429_uses_the_configured_cooldown() {
        let s = status(
            json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}),
        );
        assert_eq!(
            classify(429, Some(&s)),
            Verdict::RateLimited(Cooldown::Configured.into())
        );
        assert_eq!(
            classify(429, None),
            Verdict::RateLimited(Cooldown::Configured.into())
        );
    }

    #[test]
    fn invalid_and_revoked_keys_are_rejected() {
        let invalid = status(
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}),
        );
        assert_eq!(
            classify(400, Some(&invalid)),
            Verdict::KeyRejected("key_invalid")
        );
        let suspended = status(json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED"}]}}));
        let leaked = status(json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
            "message": "Your API key was reported as leaked. Please use another API key."}}));
        assert_eq!(
            classify(403, Some(&leaked)),
            Verdict::KeyRejected("permission_denied")
        );
        assert_eq!(
            classify(403, Some(&suspended)),
            Verdict::KeyRejected("permission_denied")
        );
        assert_eq!(classify(401, None), Verdict::KeyRejected("unauthenticated"));
    }

    #[test]
    fn client_mistakes_never_cost_a_key() {
        let bad = status(
            json!({"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"x\"", "status": "INVALID_ARGUMENT"}}),
        );
        // The English text mentions nothing about keys, and a 400 without API_KEY_INVALID is ours.
        assert_eq!(classify(400, Some(&bad)), Verdict::ClientFault);
        assert_eq!(classify(404, None), Verdict::ClientFault);
        let no_file = status(json!({"error": {"code": 404, "status": "NOT_FOUND",
            "message": "File files/abc is not found."}}));
        assert_eq!(classify(404, Some(&no_file)), Verdict::ClientFault);
        assert_eq!(classify(413, None), Verdict::ClientFault);
        // A 403 about what the request reaches for (another project's file) is the request's.
        let foreign_file = status(json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
            "message": "You do not have permission to access the File abc or it may not exist."}}));
        assert_eq!(classify(403, Some(&foreign_file)), Verdict::ClientFault);
        assert_eq!(classify(403, None), Verdict::ClientFault);
        assert!(!Verdict::ClientFault.may_fail_over());
    }

    #[test]
    fn a_model_the_keys_tier_lacks_is_the_keys_not_the_requests() {
        let not_listed = status(json!({"error": {"code": 404, "status": "NOT_FOUND",
            "message": "models/gemini-4-carbon is not found for API version v1alpha, or is not \
                        supported for generateContent. Call ListModels to see the list of \
                        available models and their supported methods."}}));
        assert_eq!(classify(404, Some(&not_listed)), Verdict::ModelLacking);
        let tier = status(json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
            "message": "This model is not available for your tier. Upgrade to a paid tier."}}));
        assert_eq!(classify(403, Some(&tier)), Verdict::ModelLacking);
        assert!(Verdict::ModelLacking.may_fail_over());
        assert!(!Verdict::ModelLacking.is_transient());
    }

    #[test]
    fn server_failures_are_transient() {
        for code in [500, 502, 504] {
            assert_eq!(classify(code, None), Verdict::Transient);
        }
        assert_eq!(classify(503, None), Verdict::Overloaded);
        assert!(Verdict::Transient.may_fail_over());
        assert!(Verdict::Overloaded.is_transient());
    }
}
