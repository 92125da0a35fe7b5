//! What one key's check found, from Gemini's answers to a model list and a one-token
//! generation: the verdict the table and the JSON print, and whether the key is usable now.

use serde::Serialize;

use crate::upstream::billing::BillingKind;
use crate::upstream::classify::{classify, Cooldown, QuotaKind, Verdict as Classified};
use crate::upstream::status::RpcStatus;

/// One key's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The key answers; the model generated.
    Valid,
    /// Gemini does not know the key (`API_KEY_INVALID`, expired, unauthenticated).
    Invalid,
    /// The key or its project is refused (suspended, denied, service blocked or disabled).
    Suspended,
    /// The key works but hit its per-minute limit for the model.
    RateLimitedPerMinute,
    /// The key works but used its day's quota for the model.
    RateLimitedPerDay,
    /// The key's tier has no quota for the model at all (limit 0).
    NoQuotaForModel,
    /// The key's project hit a monthly spend cap (its billing tier's, or its own).
    SpendCap,
    /// The key's project has no prepaid credits left.
    CreditsDepleted,
    /// The key's project hit a spend-based limit (a rolling ten minutes).
    SpendLimit,
    /// Gemini answered something else (a 5xx, an unexpected 4xx).
    Error,
    /// No answer: connection refused, DNS, TLS, proxy or timeout.
    Unreachable,
}

impl Verdict {
    /// Usable now: the key can serve the checked model right away.
    pub fn usable(self) -> bool {
        self == Verdict::Valid
    }

    /// Whether the key itself is good (it may still be resting).
    pub fn key_is_good(self) -> bool {
        matches!(
            self,
            Verdict::Valid
                | Verdict::RateLimitedPerMinute
                | Verdict::RateLimitedPerDay
                | Verdict::NoQuotaForModel
                | Verdict::SpendCap
                | Verdict::CreditsDepleted
                | Verdict::SpendLimit
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Suspended => "suspended/denied",
            Verdict::RateLimitedPerMinute => "rate-limited (per minute)",
            Verdict::RateLimitedPerDay => "rate-limited (per day)",
            Verdict::NoQuotaForModel => "no quota for the model",
            Verdict::SpendCap => "spend cap reached (billing)",
            Verdict::CreditsDepleted => "prepaid credits depleted (billing)",
            Verdict::SpendLimit => "spend-based limit (billing)",
            Verdict::Error => "error",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// The verdict for an HTTP error answer (`status` ≥ 400) and its body.
pub fn of_error(status: u16, body: &[u8]) -> Verdict {
    let rpc = RpcStatus::parse(body);
    match classify(status, rpc.as_ref()) {
        Classified::KeyRejected("key_invalid" | "unauthenticated") => Verdict::Invalid,
        Classified::KeyRejected(_) => Verdict::Suspended,
        Classified::Billing(b) => match b.kind {
            BillingKind::MonthlyCap | BillingKind::ProjectCap => Verdict::SpendCap,
            BillingKind::PrepaymentDepleted => Verdict::CreditsDepleted,
            BillingKind::SpendLimit => Verdict::SpendLimit,
        },
        Classified::RateLimited(limit) => {
            if limit.hits.iter().any(|h| h.limit == Some(0)) {
                Verdict::NoQuotaForModel
            } else if limit.cooldown == Cooldown::UntilDailyReset
                || limit
                    .hits
                    .iter()
                    .any(|h| h.kind == QuotaKind::RequestsPerDay)
            {
                Verdict::RateLimitedPerDay
            } else {
                Verdict::RateLimitedPerMinute
            }
        }
        _ => Verdict::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn gemini_errors_become_verdicts() {
        let invalid = body(
            json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}),
        );
        assert_eq!(of_error(400, &invalid), Verdict::Invalid);
        let suspended = body(
            json!({"error": {"code": 403, "message": "Permission denied: Consumer 'api_key:x' has been suspended.", "status": "PERMISSION_DENIED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED", "domain": "googleapis.com"}]}}),
        );
        assert_eq!(of_error(403, &suspended), Verdict::Suspended);
        let quota = |id: &str, value: Option<&str>| {
            let mut v = json!({"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": id});
            if let Some(value) = value {
                v["quotaValue"] = json!(value);
            }
            body(
                json!({"error": {"code": 429, "message": "You exceeded your current quota", "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [v]},
                            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41s"}]}}),
            )
        };
        assert_eq!(
            of_error(
                429,
                &quota(
                    "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    Some("10")
                )
            ),
            Verdict::RateLimitedPerMinute
        );
        assert_eq!(
            of_error(
                429,
                &quota(
                    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                    Some("250")
                )
            ),
            Verdict::RateLimitedPerDay
        );
        assert_eq!(
            of_error(
                429,
                &quota(
                    "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    Some("0")
                )
            ),
            Verdict::NoQuotaForModel
        );
        assert_eq!(of_error(500, b"<html>oops</html>"), Verdict::Error);
        let cap = body(
            json!({"error": {"code": 429, "message": "Your billing account has exceeded its monthly spending cap.", "status": "RESOURCE_EXHAUSTED"}}),
        );
        assert_eq!(of_error(429, &cap), Verdict::SpendCap);
        let prepaid = body(
            json!({"error": {"code": 429, "message": "Your prepayment credits are depleted.", "status": "RESOURCE_EXHAUSTED"}}),
        );
        assert_eq!(of_error(429, &prepaid), Verdict::CreditsDepleted);
        assert!(Verdict::SpendCap.key_is_good() && !Verdict::SpendCap.usable());
        assert!(Verdict::RateLimitedPerDay.key_is_good() && !Verdict::RateLimitedPerDay.usable());
    }
}
