//! The refusals of today's Gemini that the 2025 API did not have: billing (monthly spending
//! caps, a project's own spend cap, depleted prepaid credits, spend-based limits over a rolling
//! ten minutes), the "limit: 0" quota that names its limit only in the message, and Gemini 4's
//! 400s (a thinking budget, a level the model lacks, penalties, several candidates, a prefill).
//! Each message is written once, here, in Google's style.

use serde_json::{json, Map, Value};

use crate::errors::{quota_help, ApiError, RATE_LIMIT_DOC};

fn billing_error(message: String) -> ApiError {
    let mut error = ApiError::new(429, "RESOURCE_EXHAUSTED", message);
    error.details.push(json!({
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Learn more about Gemini API billing and spend caps",
                   "url": "https://ai.google.dev/gemini-api/docs/billing"}],
    }));
    error
}

impl ApiError {
    /// 429: the billing account's monthly spending cap (its tier's) is reached.
    pub fn spend_cap_monthly() -> ApiError {
        billing_error(format!(
            "Your billing account has exceeded its monthly spending cap. To keep using the Gemini \
             API, raise the cap for your usage tier in Google AI Studio or wait until it resets at \
             the start of the next billing month. For more information on this error, head to: \
             {RATE_LIMIT_DOC}."
        ))
    }

    /// 429: the project's own spend cap is reached.
    pub fn project_spend_cap() -> ApiError {
        billing_error(format!(
            "Your project has exceeded the spend cap set for it. An owner of the project can \
             raise or remove the cap in Google AI Studio. For more information on this error, \
             head to: {RATE_LIMIT_DOC}."
        ))
    }

    /// 429: the prepaid credits are used up.
    pub fn prepayment_depleted() -> ApiError {
        billing_error(format!(
            "Your prepayment credits are depleted. Purchase more credits in Google AI Studio to \
             continue using the Gemini API. For more information on this error, head to: \
             {RATE_LIMIT_DOC}."
        ))
    }

    /// 429: a spend-based limit over a rolling ten minutes, with `RetryInfo`.
    pub fn spend_based_limit(retry_delay: &str) -> ApiError {
        let metric = "generativelanguage.googleapis.com/spend_based_limit";
        let mut error = ApiError::new(
            429,
            "RESOURCE_EXHAUSTED",
            format!(
                "You exceeded your current spend-based limit for your usage tier. For more \
                 information on this error, head to: {RATE_LIMIT_DOC}. \n* Quota exceeded for \
                 metric: {metric}\nPlease retry in {retry_delay}."
            ),
        );
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": metric,
                "quotaId": "SpendBasedLimitPerTenMinutesPerProjectPerTier",
                "quotaDimensions": {"location": "global"},
            }],
        }));
        error.details.push(quota_help());
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": retry_delay,
        }));
        error
    }

    /// 429 for a tier with no quota for the model, whose limit (0) is only in the message: the
    /// `QuotaFailure` has no `quotaValue`.
    pub fn no_quota_in_message(model: &str, retry_delay: &str) -> ApiError {
        let metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
        let mut error = ApiError::new(
            429,
            "RESOURCE_EXHAUSTED",
            format!(
                "You exceeded your current quota, please check your plan and billing details. For \
                 more information on this error, head to: {RATE_LIMIT_DOC}. To monitor your \
                 current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded \
                 for metric: {metric}, limit: 0, model: {model}\nPlease retry in {retry_delay}."
            ),
        );
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": metric,
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                "quotaDimensions": {"location": "global", "model": model},
            }],
        }));
        error.details.push(quota_help());
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": retry_delay,
        }));
        error
    }

    /// 400: Gemini 4 does not continue a trailing `model` turn.
    pub fn prefill_refused() -> ApiError {
        ApiError::invalid_argument(
            "Prefilling the model's response is not supported for this model: the last content \
             must have the role user.",
        )
    }
}

/// What Gemini 4 answers 400 to in a normalised `generationConfig`; sampling fields are
/// accepted and ignored.
pub fn check_gemini4(config: &Map<String, Value>) -> Result<(), ApiError> {
    let thinking = config.get("thinkingConfig");
    if thinking.and_then(|t| t.get("thinkingBudget")).is_some() {
        return Err(ApiError::invalid_argument(
            "thinking_budget is not supported for this model. Use thinking_level instead.",
        ));
    }
    for (field, name) in [
        ("presencePenalty", "presence_penalty"),
        ("frequencyPenalty", "frequency_penalty"),
    ] {
        if config.contains_key(field) {
            return Err(ApiError::invalid_argument(format!(
                "{name} is not supported for this model."
            )));
        }
    }
    if let Some(n) = config.get("candidateCount").and_then(Value::as_i64) {
        if n > 1 {
            return Err(ApiError::invalid_argument(format!(
                "candidate_count must be 1 for this model, but the request asked for {n}."
            )));
        }
    }
    Ok(())
}

/// 400: media inside a function response (`functionResponse.parts`) on a model before Gemini 3,
/// which takes images and documents only as parts of their own.
pub fn check_function_response_media(
    request: &Map<String, Value>,
    multimodal: bool,
) -> Result<(), ApiError> {
    let with_media = request
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("parts").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.get("functionResponse"))
        .any(|r| {
            r.get("parts")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty())
        });
    if with_media && !multimodal {
        return Err(ApiError::invalid_argument(
            "Multimodal function responses are not supported for this model.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn media_inside_a_function_response_needs_gemini_3() {
        let request = config(
            json!({"contents": [{"role": "user", "parts": [{"functionResponse": {
            "name": "f", "response": {}, "parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}}]}]}),
        );
        let refused = check_function_response_media(&request, false).unwrap_err();
        assert!(refused.message.contains("Multimodal function responses"));
        assert!(check_function_response_media(&request, true).is_ok());
        assert!(check_function_response_media(&config(json!({"contents": []})), false).is_ok());
    }

    #[test]
    fn gemini_4_refusals() {
        let refused = |v: Value| check_gemini4(&config(v)).unwrap_err().message;
        assert!(
            refused(json!({"thinkingConfig": {"thinkingBudget": 100}})).contains("thinking_budget")
        );
        assert!(refused(json!({"presencePenalty": 0.5})).contains("presence_penalty"));
        assert!(refused(json!({"frequencyPenalty": 0.5})).contains("frequency_penalty"));
        assert!(refused(json!({"candidateCount": 2})).contains("candidate_count"));
        assert!(check_gemini4(&config(json!({"temperature": 0.1, "candidateCount": 1}))).is_ok());
    }

    #[test]
    fn billing_bodies_have_googles_shape() {
        for e in [
            ApiError::spend_cap_monthly(),
            ApiError::project_spend_cap(),
            ApiError::prepayment_depleted(),
            ApiError::spend_based_limit("312s"),
        ] {
            assert_eq!((e.code, e.status), (429, "RESOURCE_EXHAUSTED"));
        }
        assert!(ApiError::spend_cap_monthly()
            .message
            .contains("monthly spending cap"));
        assert!(ApiError::prepayment_depleted()
            .message
            .contains("prepayment credits are depleted"));
        let spend = ApiError::spend_based_limit("312s");
        assert_eq!(
            spend.details[0]["violations"][0]["quotaId"],
            "SpendBasedLimitPerTenMinutesPerProjectPerTier"
        );
        assert_eq!(spend.details[2]["retryDelay"], "312s");
        let zero = ApiError::no_quota_in_message("gemini-3.1-pro-preview", "3.2s");
        assert!(zero
            .message
            .contains("limit: 0, model: gemini-3.1-pro-preview"));
        assert!(zero.details[0]["violations"][0].get("quotaValue").is_none());
    }
}
