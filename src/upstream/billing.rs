//! Billing-class refusals: since April 2026 paid tiers have monthly spend caps (the tier's, and
//! any a project sets itself), prepaid credits can run out, and spend-based limits apply over a
//! rolling ten minutes. Google answers each with a 429 (a 402 for some prepaid accounts) that
//! is neither a per-minute nor a per-model hiccup: the whole project is out until the cap
//! resets, credits are bought or the window rolls on. Google gives these no structured reason,
//! so — unlike the rest of classification — they are read from the message's words (and a
//! spend-based limit's `quotaId`/`quotaMetric`).

use std::time::Duration;

use super::classify::Cooldown;
use super::status::RpcStatus;

/// Which money limit a project hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingKind {
    /// "Your billing account has exceeded its monthly spending cap" (the tier's cap).
    MonthlyCap,
    /// The project's own spend cap.
    ProjectCap,
    /// "Your prepayment credits are depleted".
    PrepaymentDepleted,
    /// A spend-based limit over a rolling window.
    SpendLimit,
}

/// A billing refusal: what was hit, and how long the project rests for every model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Billing {
    pub kind: BillingKind,
    pub cooldown: Cooldown,
}

/// How long a project with depleted prepaid credits rests before it is tried again (buying
/// credits takes effect at once; Google's own stale-balance refusals clear within hours).
pub const PREPAYMENT_REST: Duration = Duration::from_secs(3600);

/// How long a spend-based limit rests when Google gives no retry hint (its window is ten
/// minutes).
pub const SPEND_WINDOW: Duration = Duration::from_secs(600);

impl BillingKind {
    /// A short, low-cardinality label for logs, status and metrics.
    pub fn label(self) -> &'static str {
        match self {
            BillingKind::MonthlyCap => "billing_monthly_cap",
            BillingKind::ProjectCap => "billing_project_cap",
            BillingKind::PrepaymentDepleted => "billing_prepayment_depleted",
            BillingKind::SpendLimit => "billing_spend_limit",
        }
    }
}

/// The billing refusal a 429 or 402 is, if it is one.
pub fn billing(http_status: u16, body: Option<&RpcStatus>) -> Option<Billing> {
    let message = body
        .map(|b| b.message.to_ascii_lowercase())
        .unwrap_or_default();
    let says = |words: &[&str]| words.iter().any(|w| message.contains(w));
    let spend_quota = body.is_some_and(|b| {
        b.quota_ids()
            .chain(b.quota_metrics())
            .any(|q| q.to_ascii_lowercase().contains("spend"))
    });
    let kind = if says(&["spending cap", "spend cap"]) {
        if says(&["project"]) {
            BillingKind::ProjectCap
        } else {
            BillingKind::MonthlyCap
        }
    } else if says(&["prepayment", "credits are depleted", "prepaid"]) || http_status == 402 {
        BillingKind::PrepaymentDepleted
    } else if spend_quota || says(&["spend-based", "spend based"]) {
        BillingKind::SpendLimit
    } else {
        return None;
    };
    let cooldown = match kind {
        BillingKind::MonthlyCap | BillingKind::ProjectCap => Cooldown::UntilMonthlyReset,
        BillingKind::PrepaymentDepleted => Cooldown::For(PREPAYMENT_REST),
        BillingKind::SpendLimit => Cooldown::For(
            body.and_then(RpcStatus::retry_delay)
                .unwrap_or(SPEND_WINDOW),
        ),
    };
    Some(Billing { kind, cooldown })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> RpcStatus {
        RpcStatus::parse(v.to_string().as_bytes()).unwrap()
    }

    fn message(m: &str) -> RpcStatus {
        body(json!({"error": {"code": 429, "message": m, "status": "RESOURCE_EXHAUSTED"}}))
    }

    #[test]
    fn each_billing_refusal_is_read() {
        let kind = |s: &RpcStatus| billing(429, Some(s)).map(|b| (b.kind, b.cooldown));
        assert_eq!(
            kind(&message("Your billing account has exceeded its monthly spending cap. Raise it in Google AI Studio.")),
            Some((BillingKind::MonthlyCap, Cooldown::UntilMonthlyReset))
        );
        assert_eq!(
            kind(&message(
                "Your project has exceeded the spend cap set for it."
            )),
            Some((BillingKind::ProjectCap, Cooldown::UntilMonthlyReset))
        );
        assert_eq!(
            kind(&message(
                "Your prepayment credits are depleted. Purchase more credits."
            )),
            Some((
                BillingKind::PrepaymentDepleted,
                Cooldown::For(PREPAYMENT_REST)
            ))
        );
        let spend = body(
            json!({"error": {"code": 429, "message": "You exceeded your current spend-based limit.",
            "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/spend_based_limit",
                 "quotaId": "SpendBasedLimitPerTenMinutesPerProjectPerTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "312s"}]}}),
        );
        assert_eq!(
            kind(&spend),
            Some((
                BillingKind::SpendLimit,
                Cooldown::For(Duration::from_secs(312))
            ))
        );
        assert_eq!(
            kind(&message("You exceeded your spend-based limit.")),
            Some((BillingKind::SpendLimit, Cooldown::For(SPEND_WINDOW)))
        );
        assert_eq!(
            billing(402, None).map(|b| b.kind),
            Some(BillingKind::PrepaymentDepleted)
        );
    }

    #[test]
    fn ordinary_quota_429s_are_not_billing() {
        let per_minute = body(
            json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]}]}}),
        );
        assert_eq!(billing(429, Some(&per_minute)), None);
        assert_eq!(
            billing(
                429,
                Some(&message("Resource has been exhausted (e.g. check quota)."))
            ),
            None
        );
        assert_eq!(billing(429, None), None);
    }
}
