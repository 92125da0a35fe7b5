//! Scripted behaviours: per-key (and optionally per-model) rules that make the mock fail
//! the way the real service does — quota 429s, invalid or suspended keys, 5xx, hangs,
//! broken streams — so the gateway's key pool and retry logic can be tested.
//!
//! The most recently added unexpired rule that matches a request wins; a rule with
//! `times` expires after that many matches.

use serde::{Deserialize, Serialize};

/// Options of a mock server.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct MockOptions {
    /// Text chunks per streamed answer (default 3).
    pub stream_chunks: Option<usize>,
    /// Delay between streamed chunks in milliseconds (default 0).
    pub chunk_interval_ms: Option<u64>,
    /// Delay before answering in milliseconds (default 0).
    pub response_delay_ms: Option<u64>,
}

/// One scripted behaviour.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Rule {
    /// The API key this applies to.
    pub key: String,
    /// Only for this model (`None` = all models); `models/` prefix optional.
    #[serde(default)]
    pub model: Option<String>,
    /// Apply to the next N matching requests, then expire (`None` = forever).
    #[serde(default)]
    pub times: Option<u32>,
    /// What to do.
    pub behaviour: Behaviour,
}

/// What a matching request gets.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Behaviour {
    /// Answer normally (useful on top of a persistent failure rule).
    Ok,
    /// 429 per-minute quota with `RetryInfo.retryDelay = retry_delay` (e.g. `"41s"`).
    RateLimitPerMinute {
        /// The retry delay, as Google writes it (`"41s"`, `"52.454646382s"`).
        retry_delay: String,
    },
    /// 429 per-day quota, no `RetryInfo`.
    RateLimitPerDay,
    /// 429 `Resource has been exhausted (e.g. check quota).` with no details.
    RateLimitBare,
    /// 429: the tier has no quota for the model ("limit: 0"), said only in the message (no
    /// `quotaValue`), with `RetryInfo.retryDelay = retry_delay`.
    NoQuotaInMessage {
        /// The retry delay, as Google writes it.
        retry_delay: String,
    },
    /// 429: the billing account's monthly spending cap is reached.
    SpendCapMonthly,
    /// 429: the project's own spend cap is reached.
    ProjectSpendCap,
    /// 429: the prepaid credits are depleted.
    PrepaymentDepleted,
    /// 429: a spend-based limit (rolling ten minutes), with `RetryInfo.retryDelay = retry_delay`.
    SpendBasedLimit {
        /// The retry delay, as Google writes it.
        retry_delay: String,
    },
    /// 404 "models/… is not found for API version …": the key's project does not have the
    /// model, although the catalog (listed through other keys) does.
    ModelNotFound,
    /// 400 `API_KEY_INVALID`.
    KeyInvalid,
    /// 403 `CONSUMER_SUSPENDED`; the message contains the whole key.
    Suspended,
    /// 503 model overloaded.
    Unavailable,
    /// 500 internal error.
    Internal,
    /// Accept the request and never answer.
    Hang,
    /// Stream N data events, then abort the connection.
    StreamBreak {
        /// Events sent before the abort.
        after_chunks: usize,
    },
    /// Stream N data events, then end cleanly without any `finishReason`.
    StreamNoFinish {
        /// Events sent before the end.
        after_chunks: usize,
    },
    /// 200 whose only candidate finished with `MALFORMED_FUNCTION_CALL` and no content (the
    /// model wrote a call it could not encode): a whole answer, or a one-event stream.
    MalformedFunctionCall,
    /// Answer normally, but at the standard tier whatever tier was asked for: a priority request
    /// over the project's priority limit (`x-gemini-service-tier: standard`).
    ServedAtStandard,
    /// Drop the connection without an answer (the response's body fails at once), for requests
    /// whose body contains `body_contains` (every request when `None`): an upstream that cannot
    /// take one kind of request, whichever key sends it.
    Disconnect {
        /// Only requests whose body contains this text.
        #[serde(default)]
        body_contains: Option<String>,
    },
    /// Answer normally after a delay.
    Delay {
        /// The delay in milliseconds.
        ms: u64,
    },
}

/// The kind of API call a rule is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `generateContent`.
    Generate,
    /// `streamGenerateContent`.
    Stream,
    /// `countTokens`.
    CountTokens,
    /// `embedContent`.
    Embed,
    /// `batchEmbedContents`.
    BatchEmbed,
    /// `models.get` / `models.list`.
    Metadata,
}

impl Behaviour {
    /// Whether a request with this body is one the behaviour is for.
    fn matches_body(&self, body: &[u8]) -> bool {
        match self {
            Behaviour::Disconnect {
                body_contains: Some(text),
            } => memchr_find(body, text.as_bytes()),
            _ => true,
        }
    }

    /// Whether this behaviour applies to (and is consumed by) a call of `kind`.
    fn applies_to(&self, kind: CallKind) -> bool {
        match self {
            Behaviour::KeyInvalid | Behaviour::Suspended => true,
            Behaviour::StreamBreak { .. } | Behaviour::StreamNoFinish { .. } => {
                kind == CallKind::Stream
            }
            Behaviour::MalformedFunctionCall => {
                matches!(kind, CallKind::Generate | CallKind::Stream)
            }
            _ => kind != CallKind::Metadata,
        }
    }
}

/// The active rules, oldest first.
#[derive(Default)]
pub struct RuleBook {
    rules: Vec<Rule>,
}

impl RuleBook {
    /// Adds a rule on top of the others.
    pub fn add(&mut self, rule: Rule) {
        if rule.times != Some(0) {
            self.rules.push(rule);
        }
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The active rules, oldest first.
    pub fn list(&self) -> Vec<Rule> {
        self.rules.clone()
    }

    /// Finds the newest rule matching a call whose request body is `body` (rules may look into
    /// it), consumes one use of it and returns its behaviour.
    pub fn take(
        &mut self,
        key: &str,
        model: Option<&str>,
        kind: CallKind,
        body: &[u8],
    ) -> Option<Behaviour> {
        let index = self.rules.iter().rposition(|rule| {
            rule.key == key
                && rule.behaviour.applies_to(kind)
                && rule.behaviour.matches_body(body)
                && match (&rule.model, model) {
                    (None, _) => true,
                    (Some(wanted), Some(model)) => {
                        wanted.strip_prefix("models/").unwrap_or(wanted) == model
                    }
                    (Some(_), None) => false,
                }
        })?;
        let rule = &mut self.rules[index];
        let behaviour = rule.behaviour.clone();
        if let Some(times) = rule.times.as_mut() {
            *times = times.saturating_sub(1);
            if *times == 0 {
                self.rules.remove(index);
            }
        }
        Some(behaviour)
    }
}

/// Whether `needle` occurs in `haystack`.
fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, model: Option<&str>, times: Option<u32>, behaviour: Behaviour) -> Rule {
        Rule {
            key: key.to_owned(),
            model: model.map(str::to_owned),
            times,
            behaviour,
        }
    }

    #[test]
    fn a_disconnect_may_be_for_one_kind_of_request_only() {
        let mut book = RuleBook::default();
        let only_poison = Behaviour::Disconnect {
            body_contains: Some("poison".into()),
        };
        book.add(rule("k", None, None, only_poison.clone()));
        assert_eq!(
            book.take("k", Some("m"), CallKind::Generate, b"{\"text\":\"hi\"}"),
            None
        );
        assert_eq!(
            book.take("k", Some("m"), CallKind::Stream, b"{\"text\":\"poison\"}"),
            Some(only_poison)
        );
    }

    #[test]
    fn newest_rule_wins_and_times_expire() {
        let mut book = RuleBook::default();
        book.add(rule("k", None, None, Behaviour::RateLimitPerDay));
        book.add(rule("k", None, Some(1), Behaviour::Ok));
        assert_eq!(
            book.take("k", Some("m"), CallKind::Generate, b""),
            Some(Behaviour::Ok)
        );
        assert_eq!(
            book.take("k", Some("m"), CallKind::Generate, b""),
            Some(Behaviour::RateLimitPerDay)
        );
        assert_eq!(book.take("other", Some("m"), CallKind::Generate, b""), None);
    }

    #[test]
    fn model_filter_and_call_kind() {
        let mut book = RuleBook::default();
        book.add(rule(
            "k",
            Some("models/gemini-3.1-pro-preview"),
            None,
            Behaviour::Unavailable,
        ));
        book.add(rule(
            "k",
            None,
            None,
            Behaviour::StreamBreak { after_chunks: 1 },
        ));
        assert_eq!(
            book.take("k", Some("gemini-3.8-flash"), CallKind::Generate, b""),
            None
        );
        assert_eq!(
            book.take("k", Some("gemini-3.1-pro-preview"), CallKind::Generate, b""),
            Some(Behaviour::Unavailable)
        );
        assert_eq!(
            book.take("k", Some("gemini-3.1-pro-preview"), CallKind::Stream, b""),
            Some(Behaviour::StreamBreak { after_chunks: 1 })
        );
        assert_eq!(book.take("k", None, CallKind::Metadata, b""), None);
    }

    #[test]
    fn rules_parse_from_json() {
        let parsed: Result<Rule, _> = serde_json::from_str(
            r#"{"key":"k","times":2,"behaviour":{"type":"rate_limit_per_minute","retry_delay":"41s"}}"#,
        );
        assert!(matches!(
            parsed.map(|r| r.behaviour),
            Ok(Behaviour::RateLimitPerMinute { retry_delay }) if retry_delay == "41s"
        ));
    }
}
