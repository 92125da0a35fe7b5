//! What each Gemini model family accepts, as one table of data: how it takes thinking (a token
//! budget and its range, or the levels it accepts), its output limit when the live catalog has
//! not said, whether it takes sampling fields, penalties and several candidates, whether it
//! continues a trailing `model` turn, whether its function calls need thought signatures, the
//! thinking headroom it needs inside `maxOutputTokens`, the API version that serves it, whether
//! a function response may carry media, and whether built-in tools go beside functions.
//!
//! Every translator and mid-stream recovery read these rules; nothing else decides by a model's
//! name. Rows are tried in order and the first whose pattern matches wins; a name no row knows
//! (a new family, a moving `-latest` alias) gets the newest family's rules, the strictest ones —
//! until an answer names the model behind it (`served`). A new family is one row here.

use super::glob;
use crate::upstream::wire::{Content, GenerationConfig, ThinkingLevel};

/// How a family takes thinking settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// No thinking configuration at all (1.x, 2.0, Gemma).
    None,
    /// `thinkingBudget` within `min..=max`; `off` is what "no thinking" is sent as (the least
    /// the model accepts).
    Budget { min: i32, max: i32, off: i32 },
    /// `thinkingLevel`, one of these (lowest first); a budget is refused or ignored.
    Levels(&'static [ThinkingLevel]),
}

/// The request rules of one family (or one model of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The names this row applies to (`*` wildcards; see [`glob`]).
    pub pattern: &'static str,
    /// The family's name, for logs and the status page.
    pub family: &'static str,
    pub thinking: Thinking,
    /// Largest `maxOutputTokens`, when the live catalog does not say.
    pub max_output_tokens: u32,
    /// `temperature`, `topP` and `topK` are used (else dropped: the model ignores them).
    pub sampling: bool,
    /// `presencePenalty` and `frequencyPenalty` are accepted (else dropped: a 400 otherwise).
    pub penalties: bool,
    /// Most candidates per request (`candidateCount`); above this is a 400.
    pub max_candidates: u32,
    /// A request may end with a `model` turn, which the answer continues (a prefill).
    pub prefill: bool,
    /// Function calls replayed to it need the thought signature they were issued with.
    pub signatures: bool,
    /// Tokens added to a client's output limit so that thinking, which counts against
    /// `maxOutputTokens`, cannot use all of it and leave an answer with no text.
    pub thinking_headroom: u32,
    /// The API version that serves it when the live catalog does not say.
    pub api_version: &'static str,
    /// Tool parameters only as the strict OpenAPI subset (`parameters`), not JSON Schema.
    pub strict_tool_schemas: bool,
    /// A `thinkingBudget` is a 400 (Gemini 4); elsewhere a level family still takes one.
    pub refuses_budget: bool,
    /// A function response may carry images and PDFs (`functionResponse.parts`); elsewhere
    /// that is a 400 ("`function_response.parts` is not supported for this model").
    pub media_in_function_responses: bool,
    /// Built-in tools (Google Search, URL context) may be declared beside functions, with
    /// `toolConfig.includeServerSideToolInvocations` (else "Tool use with function calling is
    /// unsupported").
    pub builtin_tools_with_functions: bool,
    /// Explicit context caches (`cachedContents`) are served, from this many tokens up; `None`:
    /// only implicit caching (Gemini 4).
    pub explicit_cache_min_tokens: Option<u32>,
}

use ThinkingLevel::{High, Low, Medium, Minimal, Xhigh};

/// Gemini 4 (Argon, Carbon, Neon, Hydrogen): levels only; a budget, `MINIMAL`, penalties and
/// several candidates are 400s; sampling is ignored; no prefill; thinking shares the output
/// limit; served under `v1alpha`.
const GEMINI_4: Rules = Rules {
    pattern: "gemini-4*",
    family: "gemini-4",
    thinking: Thinking::Levels(&[Low, Medium, High]),
    max_output_tokens: 65_536,
    sampling: false,
    penalties: false,
    max_candidates: 1,
    prefill: false,
    signatures: true,
    thinking_headroom: 8_192,
    api_version: "v1alpha",
    strict_tool_schemas: false,
    refuses_budget: true,
    media_in_function_responses: true,
    builtin_tools_with_functions: true,
    explicit_cache_min_tokens: None,
};

/// Gemini 3.x Flash and Flash-Lite: levels from minimal to high.
const GEMINI_3: Rules = Rules {
    pattern: "gemini-3*",
    family: "gemini-3",
    thinking: Thinking::Levels(&[Minimal, Low, Medium, High]),
    max_output_tokens: 65_536,
    sampling: true,
    penalties: true,
    max_candidates: 8,
    prefill: true,
    signatures: true,
    thinking_headroom: 0,
    api_version: "v1beta",
    strict_tool_schemas: false,
    refuses_budget: false,
    media_in_function_responses: true,
    builtin_tools_with_functions: true,
    explicit_cache_min_tokens: Some(4_096),
};

/// Gemini 2.5: a thinking budget; no media in function responses; built-in tools only alone
/// (Google documents their combination with functions for Gemini 3).
const GEMINI_25: Rules = Rules {
    pattern: "gemini-2.5*",
    family: "gemini-2.5",
    thinking: Thinking::Budget {
        min: 0,
        max: 24_576,
        off: 0,
    },
    signatures: false,
    media_in_function_responses: false,
    builtin_tools_with_functions: false,
    explicit_cache_min_tokens: Some(2_048),
    ..GEMINI_3
};

/// 1.x, 2.0 and Gemma: no thinking, 8192 output tokens, strict tool schemas, built-in tools
/// only alone.
const LEGACY: Rules = Rules {
    pattern: "gemini-2.0*",
    family: "legacy",
    thinking: Thinking::None,
    max_output_tokens: 8_192,
    strict_tool_schemas: true,
    explicit_cache_min_tokens: None,
    ..GEMINI_25
};

/// The table, first match wins; the last row is the newest family's rules for names no row knows.
pub static TABLE: &[Rules] = &[
    Rules {
        pattern: "gemini-4-hydrogen*",
        thinking: Thinking::Levels(&[Low, Medium, High, Xhigh]),
        ..GEMINI_4
    },
    GEMINI_4,
    Rules {
        pattern: "gemini-3-pro*",
        thinking: Thinking::Levels(&[Low, High]),
        ..GEMINI_3
    },
    Rules {
        pattern: "gemini-3.*-pro*",
        thinking: Thinking::Levels(&[Low, Medium, High]),
        ..GEMINI_3
    },
    Rules {
        pattern: "gemini-3*-flash-lite*",
        prefill: false,
        ..GEMINI_3
    },
    GEMINI_3,
    Rules {
        pattern: "gemini-2.5-pro*",
        thinking: Thinking::Budget {
            min: 128,
            max: 32_768,
            off: 128,
        },
        ..GEMINI_25
    },
    Rules {
        pattern: "gemini-2.5-flash-lite*",
        thinking: Thinking::Budget {
            min: 512,
            max: 24_576,
            off: 0,
        },
        prefill: false,
        ..GEMINI_25
    },
    GEMINI_25,
    LEGACY,
    Rules {
        pattern: "gemini-1*",
        ..LEGACY
    },
    Rules {
        pattern: "gemma-*",
        ..LEGACY
    },
    Rules {
        pattern: "*",
        family: "newest",
        ..GEMINI_4
    },
];

impl Rules {
    /// The rules for `model` (`models/` prefix optional). Asked several times per request, so
    /// the answers for the names seen are remembered (a pure function's memo, bounded).
    pub fn of(model: &str) -> &'static Rules {
        let bare = model.strip_prefix("models/").unwrap_or(model);
        if let Some(rules) = MEMO.read().unwrap_or_else(|p| p.into_inner()).get(bare) {
            return rules;
        }
        let rules = TABLE
            .iter()
            .find(|r| glob::matches(r.pattern, bare))
            .unwrap_or(&GEMINI_4_DEFAULT);
        let mut memo = MEMO.write().unwrap_or_else(|p| p.into_inner());
        if memo.len() < MEMO_NAMES {
            memo.insert(bare.into(), rules);
        }
        rules
    }

    /// Whether this model thinks in levels (Gemini 3 and later).
    pub fn levels(&self) -> Option<&'static [ThinkingLevel]> {
        match self.thinking {
            Thinking::Levels(l) => Some(l),
            _ => None,
        }
    }

    /// Whether `contents` end with a `model` turn (a prefill) this model does not continue.
    pub fn refuses_prefill_of(&self, contents: &[Content]) -> bool {
        !self.prefill
            && contents
                .last()
                .is_some_and(|c| c.role.as_deref() == Some("model"))
    }

    /// Whether a native body may hold something this model refuses with a 400 (a budget, a
    /// level it lacks, penalties, several candidates): a byte scan, so that bodies that hold
    /// none of it pass through untouched and unparsed.
    pub fn may_refuse(&self, body: &[u8]) -> bool {
        // Only a family that refuses what older clients send is worth a scan.
        if !(self.refuses_budget || !self.penalties || self.max_candidates == 1) {
            return false;
        }
        let has = |needle: &str| memchr::memmem::find(body, needle.as_bytes()).is_some();
        let levels = self.levels().unwrap_or(&[]);
        (self.refuses_budget && (has("thinkingBudget") || has("thinking_budget")))
            || (!self.penalties && (has("enalty") || has("_penalty")))
            || (self.max_candidates == 1 && (has("candidateCount") || has("candidate_count")))
            || (!levels.is_empty() && !levels.contains(&Minimal) && has("MINIMAL"))
            || (!levels.is_empty() && !levels.contains(&Xhigh) && has("XHIGH"))
    }

    /// Makes a translated `config` acceptable to this model: fields it refuses or ignores are
    /// dropped, and its output limit is clamped to `output_limit` (the model's maximum), given
    /// the thinking headroom within it, then held to the operator's `cap` (`MAX_TOKENS_LIMIT`).
    pub fn conform(&self, config: &mut GenerationConfig, output_limit: u32, cap: Option<u32>) {
        if !self.sampling {
            config.temperature = None;
            config.top_p = None;
            config.top_k = None;
        }
        if !self.penalties {
            config.presence_penalty = None;
            config.frequency_penalty = None;
        }
        if config
            .candidate_count
            .is_some_and(|n| n > self.max_candidates)
        {
            config.candidate_count = (self.max_candidates > 1).then_some(self.max_candidates);
        }
        if let Some(n) = config.max_output_tokens.as_mut() {
            *n = (*n)
                .min(output_limit)
                .saturating_add(self.thinking_headroom)
                .min(output_limit)
                .min(cap.unwrap_or(u32::MAX))
                .max(1);
        }
    }
}

/// The rules when no row matches (the table's last row matches every name; this is its copy).
static GEMINI_4_DEFAULT: Rules = GEMINI_4;

/// Names remembered by [`Rules::of`] at most (clients may send any name; unknown ones are
/// refused before translation, but the bound keeps the memo small whatever they send).
const MEMO_NAMES: usize = 512;

/// Model name → its row, for the names seen.
static MEMO: std::sync::LazyLock<std::sync::RwLock<foldhash::HashMap<Box<str>, &'static Rules>>> =
    std::sync::LazyLock::new(Default::default);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_has_its_row() {
        assert_eq!(
            Rules::of("gemini-4-hydrogen").levels(),
            Some(&[Low, Medium, High, Xhigh][..])
        );
        assert_eq!(
            Rules::of("models/gemini-4-argon").levels(),
            Some(&[Low, Medium, High][..])
        );
        assert!(!Rules::of("gemini-4-carbon").prefill);
        assert_eq!(Rules::of("gemini-4-neon").api_version, "v1alpha");
        assert_eq!(
            Rules::of("gemini-3-pro-preview").levels(),
            Some(&[Low, High][..])
        );
        assert_eq!(
            Rules::of("gemini-3.1-pro-preview").levels(),
            Some(&[Low, Medium, High][..])
        );
        assert_eq!(
            Rules::of("gemini-3.8-flash").levels(),
            Some(&[Minimal, Low, Medium, High][..])
        );
        assert!(!Rules::of("gemini-3.5-flash-lite").prefill);
        assert!(Rules::of("gemini-3.8-flash").prefill);
        assert_eq!(
            Rules::of("gemini-2.5-pro").thinking,
            Thinking::Budget {
                min: 128,
                max: 32_768,
                off: 128
            }
        );
        assert!(!Rules::of("gemini-2.5-flash-lite").prefill);
        assert_eq!(Rules::of("gemini-2.0-flash").max_output_tokens, 8_192);
        assert!(Rules::of("gemini-1.5-pro").strict_tool_schemas);
        assert_eq!(Rules::of("gemma-3-27b-it").thinking, Thinking::None);
    }

    #[test]
    fn media_in_function_responses_and_built_in_tools_beside_functions_by_family() {
        for (model, media, builtin) in [
            ("gemini-4-argon", true, true),
            ("gemini-3.8-flash", true, true),
            ("gemini-3.1-pro-preview", true, true),
            ("gemini-2.5-flash-lite", false, false),
            ("gemini-2.0-flash", false, false),
            ("a-family-from-next-year", true, true),
        ] {
            let rules = Rules::of(model);
            assert_eq!(rules.media_in_function_responses, media, "{model}");
            assert_eq!(rules.builtin_tools_with_functions, builtin, "{model}");
        }
    }

    #[test]
    fn an_unknown_name_gets_the_newest_familys_rules() {
        for name in ["gemini-flash-latest", "gemini-5-krypton", "something-else"] {
            let r = Rules::of(name);
            assert_eq!(r.family, "newest", "{name}");
            assert_eq!(r.thinking, GEMINI_4.thinking);
            assert!(!r.penalties && !r.prefill && !r.sampling);
        }
    }

    #[test]
    fn a_body_is_scanned_for_what_its_model_refuses() {
        let argon = Rules::of("gemini-4-argon");
        assert!(
            argon.may_refuse(br#"{"generationConfig":{"thinkingConfig":{"thinkingBudget":8192}}}"#)
        );
        assert!(argon.may_refuse(br#"{"generation_config":{"presence_penalty":1}}"#));
        assert!(argon
            .may_refuse(br#"{"generationConfig":{"thinkingConfig":{"thinkingLevel":"MINIMAL"}}}"#));
        assert!(argon
            .may_refuse(br#"{"generationConfig":{"thinkingConfig":{"thinkingLevel":"XHIGH"}}}"#));
        assert!(!argon
            .may_refuse(br#"{"generationConfig":{"thinkingConfig":{"thinkingLevel":"HIGH"}}}"#));
        assert!(!Rules::of("gemini-4-hydrogen").may_refuse(br#"{"thinkingLevel":"XHIGH"}"#));
        let flash = Rules::of("gemini-3.8-flash");
        assert!(!flash.may_refuse(br#"{"generationConfig":{"thinkingConfig":{"thinkingBudget":8192},"presencePenalty":1}}"#));
    }

    #[test]
    fn conform_drops_what_a_family_refuses() {
        let asked = GenerationConfig {
            temperature: Some(0.2),
            top_p: Some(0.9),
            top_k: Some(40),
            presence_penalty: Some(0.5),
            frequency_penalty: Some(0.5),
            candidate_count: Some(2),
            max_output_tokens: Some(100),
            ..GenerationConfig::default()
        };
        let mut g4 = asked.clone();
        Rules::of("gemini-4-argon").conform(&mut g4, 65_536, None);
        assert_eq!(
            g4,
            GenerationConfig {
                max_output_tokens: Some(100 + 8_192),
                ..GenerationConfig::default()
            }
        );
        let mut g3 = asked.clone();
        Rules::of("gemini-3.8-flash").conform(&mut g3, 65_536, None);
        assert_eq!(g3, asked, "3.x takes them all");
        let max = |model: &str, asked: u32, limit: u32, cap: Option<u32>| {
            let mut c = GenerationConfig {
                max_output_tokens: Some(asked),
                ..GenerationConfig::default()
            };
            Rules::of(model).conform(&mut c, limit, cap);
            c.max_output_tokens
        };
        assert_eq!(max("gemini-4-hydrogen", 65_000, 65_536, None), Some(65_536));
        assert_eq!(max("gemini-3.8-flash", 128_000, 65_536, None), Some(65_536));
        assert_eq!(
            max("gemini-2.0-flash", 32_000, 8_192, Some(4_096)),
            Some(4_096)
        );
        assert_eq!(
            max("gemini-4-argon", 100, 65_536, Some(4_096)),
            Some(4_096),
            "the operator's cap is last"
        );
    }
}
