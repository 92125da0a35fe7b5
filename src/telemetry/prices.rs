//! What Gemini charges, as one table of data: per model (a `*` pattern), US dollars per million
//! input, output, thinking and cached-input tokens, the long-context rates above a prompt size,
//! and the multipliers of the batch API and the flex and priority service tiers. Rows from the
//! config file's `[[prices]]` come first and win; the built-in rows follow. A model no row
//! knows costs nothing here (and says so in `/v1/usage`'s `unpriced` list) rather than a guess.
//!
//! Costs are whole nano-dollars (10⁻⁹ USD), so that they add up exactly in the usage counters,
//! on the embedded store and with Redis `HINCRBY` alike. Gemini's `promptTokenCount` includes
//! the cached tokens: fresh input is input minus cached, each at its own rate.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::Deserialize;

use super::Tokens;

/// The header a request names its tier in (any surface; OpenAI's clients may also use the
/// body's `service_tier`), and Gemini's answer says the tier it served in.
pub const SERVICE_TIER_HEADER: &str = "x-gemini-service-tier";

/// How a request is served and therefore priced (`serviceTier` in Gemini's request body; the
/// answer's `x-gemini-service-tier` says what was given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ServiceTier {
    #[default]
    Standard,
    Flex,
    Priority,
}

impl ServiceTier {
    /// `flex`, `standard`, `priority` (any case); OpenAI's `auto` and `default` are standard.
    pub fn parse(s: &str) -> Option<ServiceTier> {
        match s.trim().to_ascii_lowercase().as_str() {
            "standard" | "default" | "auto" | "unspecified" => Some(ServiceTier::Standard),
            "flex" => Some(ServiceTier::Flex),
            "priority" => Some(ServiceTier::Priority),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }
}

/// Rates in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    /// Thinking tokens; Google bills them as output (the default).
    pub thinking: Option<f64>,
    pub cached_input: f64,
}

/// One model's (or family's) prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// The model names this row prices (`*` wildcards).
    pub pattern: String,
    pub rates: Rates,
    /// Prompts of more than this many tokens are billed at `long` (the whole request).
    pub long_above: Option<u64>,
    pub long: Option<Rates>,
    /// Multipliers of the standard rates.
    pub batch: f64,
    pub flex: f64,
    pub priority: f64,
}

/// Google's batch API and flex tier: half price. Priority: +75–100 % by model; 1.8× here.
const BATCH: f64 = 0.5;
const FLEX: f64 = 0.5;
const PRIORITY: f64 = 1.8;

/// A row as the config file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    pub model: String,
    pub input: f64,
    pub output: f64,
    pub thinking: Option<f64>,
    #[serde(default)]
    pub cached_input: Option<f64>,
    pub long_context_above: Option<u64>,
    pub long_input: Option<f64>,
    pub long_output: Option<f64>,
    pub long_cached_input: Option<f64>,
    pub batch: Option<f64>,
    pub flex: Option<f64>,
    pub priority: Option<f64>,
}

impl PriceEntry {
    /// The row, or what is wrong with it (negative or missing long-context rates).
    pub fn price(&self) -> Result<Price, String> {
        let rates = [
            Some(self.input),
            Some(self.output),
            self.thinking,
            self.cached_input,
            self.long_input,
            self.long_output,
            self.long_cached_input,
            self.batch,
            self.flex,
            self.priority,
        ];
        if rates.iter().flatten().any(|r| !r.is_finite() || *r < 0.0) {
            return Err(format!(
                "prices for {:?}: rates are dollars per million tokens, not negative",
                self.model
            ));
        }
        let long = match (self.long_context_above, self.long_input, self.long_output) {
            (Some(_), Some(input), Some(output)) => Some(Rates {
                input,
                output,
                thinking: None,
                cached_input: self.long_cached_input.unwrap_or(input / 10.0),
            }),
            (None, None, None) => None,
            _ => {
                return Err(format!(
                    "prices for {:?}: long_context_above, long_input and long_output go together",
                    self.model
                ))
            }
        };
        Ok(Price {
            pattern: self.model.trim().trim_start_matches("models/").to_string(),
            rates: Rates {
                input: self.input,
                output: self.output,
                thinking: self.thinking,
                cached_input: self.cached_input.unwrap_or(self.input / 10.0),
            },
            long_above: self.long_context_above,
            long,
            batch: self.batch.unwrap_or(BATCH),
            flex: self.flex.unwrap_or(FLEX),
            priority: self.priority.unwrap_or(PRIORITY),
        })
    }
}

/// The built-in rows, USD per million tokens (Google's pricing page, December 2026; the 3.6–3.8
/// Flash models are priced as 3.5 Flash and the Gemini 4 previews as 3.1 Pro until Google
/// publishes theirs — override them in the config file).
/// `[input, output, cached input]`, dollars per million tokens.
type Row = [f64; 3];

/// A built-in row: pattern, rates, and the long-context rates above a prompt size.
type BuiltIn = (&'static str, Row, Option<(u64, Row)>);

const BUILT_IN: &[BuiltIn] = &[
    // pattern, [input, output, cached input], long context above N: [input, output, cached]
    (
        "gemini-3.1-pro*",
        [2.0, 12.0, 0.2],
        Some((200_000, [4.0, 18.0, 0.4])),
    ),
    (
        "gemini-pro-latest",
        [2.0, 12.0, 0.2],
        Some((200_000, [4.0, 18.0, 0.4])),
    ),
    (
        "gemini-4-*",
        [2.0, 12.0, 0.2],
        Some((200_000, [4.0, 18.0, 0.4])),
    ),
    ("gemini-3*-flash-lite*", [0.25, 1.5, 0.025], None),
    ("gemini-flash-lite-latest", [0.25, 1.5, 0.025], None),
    ("gemini-3*-flash*", [1.5, 9.0, 0.15], None),
    ("gemini-flash-latest", [1.5, 9.0, 0.15], None),
    ("gemini-2.5-flash-lite*", [0.1, 0.4, 0.01], None),
    ("gemini-embedding-*", [0.15, 0.0, 0.0], None),
];

fn built_in() -> Vec<Price> {
    BUILT_IN
        .iter()
        .map(|(pattern, [input, output, cached_input], long)| Price {
            pattern: pattern.to_string(),
            rates: Rates {
                input: *input,
                output: *output,
                thinking: None,
                cached_input: *cached_input,
            },
            long_above: long.map(|(above, _)| above),
            long: long.map(|(_, [input, output, cached_input])| Rates {
                input,
                output,
                thinking: None,
                cached_input,
            }),
            batch: BATCH,
            flex: FLEX,
            priority: PRIORITY,
        })
        .collect()
}

/// The price table: the config file's rows, then the built-in ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    rows: Vec<Price>,
    /// Which row prices each model seen so far: every answer is priced, and matching the
    /// patterns one by one cost more than the rest of the accounting.
    memo: Memo,
}

impl Default for Prices {
    fn default() -> Self {
        Prices::of_rows(built_in())
    }
}

/// Models seen, at most this many, and the row that prices each.
const MEMO_MODELS: usize = 256;

#[derive(Default)]
struct Memo(RwLock<HashMap<Box<str>, Option<usize>>>);

impl Memo {
    fn row(&self, model: &str) -> Option<Option<usize>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(model)
            .copied()
    }

    fn note(&self, model: &str, row: Option<usize>) {
        let mut memo = self.0.write().unwrap_or_else(|p| p.into_inner());
        if memo.len() < MEMO_MODELS {
            memo.insert(model.into(), row);
        }
    }
}

/// A copy learns anew; two tables are equal by their rows.
impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl PartialEq for Memo {
    fn eq(&self, _: &Memo) -> bool {
        true
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

/// Nano-dollars per token at one dollar per million tokens.
const NANOS_PER_TOKEN_AT_ONE_DOLLAR: f64 = 1_000.0;

impl Prices {
    /// The built-in table with `overrides` in front.
    pub fn with_overrides(overrides: Vec<Price>) -> Prices {
        let mut rows = overrides;
        rows.extend(built_in());
        Prices::of_rows(rows)
    }

    fn of_rows(rows: Vec<Price>) -> Prices {
        Prices {
            rows,
            memo: Memo::default(),
        }
    }

    /// The row that prices `model`, if any.
    pub fn of(&self, model: &str) -> Option<&Price> {
        let row = match self.memo.row(model) {
            Some(row) => row,
            None => {
                let bare = model.strip_prefix("models/").unwrap_or(model);
                let row = self
                    .rows
                    .iter()
                    .position(|p| crate::glob::matches(&p.pattern, bare));
                self.memo.note(model, row);
                row
            }
        };
        self.rows.get(row?)
    }

    /// What `tokens` of `model` cost, in nano-dollars, served at `tier` (or by the batch API);
    /// `None` when no row prices the model.
    pub fn cost(&self, model: &str, tokens: Tokens, tier: ServiceTier, batch: bool) -> Option<u64> {
        let price = self.of(model)?;
        let rates = match (price.long_above, &price.long) {
            (Some(above), Some(long)) if tokens.input > above => long,
            _ => &price.rates,
        };
        let fresh = tokens.input.saturating_sub(tokens.cached) as f64;
        let dollars_per_million = fresh * rates.input
            + tokens.cached as f64 * rates.cached_input
            + tokens.output as f64 * rates.output
            + tokens.thought as f64 * rates.thinking.unwrap_or(rates.output);
        let factor = if batch {
            price.batch
        } else {
            match tier {
                ServiceTier::Standard => 1.0,
                ServiceTier::Flex => price.flex,
                ServiceTier::Priority => price.priority,
            }
        };
        Some((dollars_per_million * factor * NANOS_PER_TOKEN_AT_ONE_DOLLAR).round() as u64)
    }
}

/// What the gateway charges by and asks for: the price table and the service tier per model
/// (`MODEL_SERVICE_TIERS`), swapped whole by a reload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pricing {
    pub prices: Prices,
    /// `pattern → tier`, first match wins.
    pub model_tiers: Vec<(String, ServiceTier)>,
}

impl Pricing {
    /// The tier `model` is sent at when neither the request nor its client chose one.
    pub fn tier_for(&self, model: &str) -> Option<ServiceTier> {
        let bare = model.strip_prefix("models/").unwrap_or(model);
        self.model_tiers
            .iter()
            .find(|(p, _)| crate::glob::matches(p, bare))
            .map(|(_, t)| *t)
    }
}

/// Nano-dollars as dollars.
pub fn usd(nanos: u64) -> f64 {
    nanos as f64 / 1.0e9
}

/// Dollars as nano-dollars (budgets and caps).
pub fn nanos(usd: f64) -> u64 {
    (usd * 1.0e9).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: u64, output: u64, thought: u64, cached: u64) -> Tokens {
        Tokens {
            input,
            output,
            thought,
            cached,
        }
    }

    #[test]
    fn fresh_cached_output_and_thinking_each_at_their_rate() {
        let p = Prices::default();
        // 3.8 Flash: $1.50 in, $9 out (thinking as output), $0.15 cached.
        let c = p.cost(
            "gemini-3.8-flash",
            tokens(1_000_000, 100_000, 50_000, 400_000),
            ServiceTier::Standard,
            false,
        );
        // 600k fresh × 1.5 + 400k cached × 0.15 + 150k × 9 = 0.9 + 0.06 + 1.35 = $2.31
        assert_eq!(c, Some(nanos(2.31)));
        assert_eq!(
            p.cost(
                "models/gemini-3.8-flash",
                tokens(1000, 0, 0, 0),
                ServiceTier::Standard,
                false
            ),
            Some(1_500_000)
        );
    }

    #[test]
    fn a_model_is_priced_alike_every_time_and_the_memo_stays_small() {
        let p = Prices::default();
        let pattern = |p: &Prices, model: &str| p.of(model).map(|r| r.pattern.clone());
        for _ in 0..2 {
            assert_eq!(
                pattern(&p, "gemini-3.8-flash").as_deref(),
                Some("gemini-3*-flash*")
            );
            assert_eq!(
                pattern(&p, "models/gemini-3.1-flash-lite").as_deref(),
                Some("gemini-3*-flash-lite*")
            );
            assert_eq!(pattern(&p, "a-model-nobody-priced"), None);
        }
        for i in 0..MEMO_MODELS + 50 {
            assert_eq!(
                pattern(&p, &format!("gemini-3.{i}-flash")).as_deref(),
                Some("gemini-3*-flash*")
            );
        }
        assert_eq!(p.memo.0.read().unwrap().len(), MEMO_MODELS);
        assert_eq!(
            pattern(&p, "gemini-3.299-flash").as_deref(),
            Some("gemini-3*-flash*")
        );
        // A copy (a reload's table) learns anew, and is equal by its rows.
        let copy = p.clone();
        assert!(copy.memo.0.read().unwrap().is_empty());
        assert_eq!(copy, p);
    }

    #[test]
    fn long_prompts_tiers_and_batch() {
        let p = Prices::default();
        let short = tokens(200_000, 1_000, 0, 0);
        let long = tokens(200_001, 1_000, 0, 0);
        let std = ServiceTier::Standard;
        assert_eq!(
            p.cost("gemini-3.1-pro-preview", short, std, false),
            Some(nanos(0.4 + 0.012))
        );
        assert_eq!(
            p.cost("gemini-3.1-pro-preview", long, std, false),
            Some(nanos(0.800_004 + 0.018))
        );
        let one = tokens(1_000_000, 0, 0, 0);
        assert_eq!(
            p.cost("gemini-3.5-flash", one, ServiceTier::Flex, false),
            Some(nanos(0.75))
        );
        assert_eq!(
            p.cost("gemini-3.5-flash", one, ServiceTier::Priority, false),
            Some(nanos(2.7))
        );
        assert_eq!(
            p.cost("gemini-3.5-flash", one, std, true),
            Some(nanos(0.75))
        );
        assert_eq!(
            p.cost("gemini-3.1-flash-lite", one, std, false),
            Some(nanos(0.25))
        );
        assert_eq!(p.cost("a-model-nobody-priced", one, std, false), None);
    }

    #[test]
    fn the_config_files_rows_win_and_are_checked() {
        let entry = PriceEntry {
            model: "gemini-3.8-*".into(),
            input: 1.0,
            output: 2.0,
            thinking: Some(3.0),
            cached_input: None,
            long_context_above: None,
            long_input: None,
            long_output: None,
            long_cached_input: None,
            batch: None,
            flex: Some(0.25),
            priority: None,
        };
        let p = Prices::with_overrides(vec![entry.price().unwrap()]);
        let t = tokens(1_000_000, 1_000_000, 1_000_000, 500_000);
        // 0.5M fresh × 1 + 0.5M cached × 0.1 + 1M × 2 + 1M × 3 = 5.55
        assert_eq!(
            p.cost("gemini-3.8-flash", t, ServiceTier::Standard, false),
            Some(nanos(5.55))
        );
        assert_eq!(
            p.cost("gemini-3.8-flash", t, ServiceTier::Flex, false),
            Some(nanos(5.55 / 4.0))
        );
        assert_eq!(
            p.cost(
                "gemini-3.5-flash",
                tokens(1000, 0, 0, 0),
                ServiceTier::Standard,
                false
            ),
            Some(1_500_000)
        );
        let bad = PriceEntry {
            input: -1.0,
            ..entry.clone()
        };
        assert!(bad.price().is_err());
        let half_long = PriceEntry {
            long_context_above: Some(10),
            ..entry
        };
        assert!(half_long.price().unwrap_err().contains("go together"));
    }

    #[test]
    fn tiers_parse_as_openai_and_gemini_write_them() {
        assert_eq!(ServiceTier::parse("FLEX"), Some(ServiceTier::Flex));
        assert_eq!(ServiceTier::parse("auto"), Some(ServiceTier::Standard));
        assert_eq!(ServiceTier::parse("priority"), Some(ServiceTier::Priority));
        assert_eq!(ServiceTier::parse("scale"), None);
    }
}
