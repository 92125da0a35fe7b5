//! The thinking settings for what a client asked — thinking off, a token budget, or an effort
//! (`minimal` … `max`) — shaped by the target model's row of the rules table: a clamped
//! `thinkingBudget` where the family takes a budget (each with its own range and "off"), the
//! nearest level it accepts where it takes levels (rounding up; above its highest, its highest),
//! nothing where it does not think.

use super::info::ModelInfo;
use super::rules::Thinking;
use crate::upstream::wire::{ThinkingConfig, ThinkingLevel};

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want<'a> {
    Off,
    Budget(u32),
    /// An effort name, or the model's own choice (`None`).
    Adaptive(Option<&'a str>),
}

/// The `thinkingConfig` for `want` on `info`'s model; `show` asks for thought summaries.
pub fn thinking(info: &ModelInfo, want: Want<'_>, show: bool) -> Option<ThinkingConfig> {
    let include_thoughts = show.then_some(true);
    match info.rules.thinking {
        Thinking::None => None,
        Thinking::Budget { min, max, off } => {
            let clamp = |b: u32| i32::try_from(b).unwrap_or(i32::MAX).clamp(min, max);
            let budget = match want {
                Want::Off => off,
                Want::Budget(b) => clamp(b),
                Want::Adaptive(e) => effort_budget(e, max).map_or(-1, clamp),
            };
            Some(ThinkingConfig {
                include_thoughts,
                thinking_budget: Some(budget),
                thinking_level: None,
            })
        }
        Thinking::Levels(accepted) => {
            let requested = match want {
                Want::Off => accepted.first().copied(),
                Want::Budget(b) => Some(budget_level(b)),
                Want::Adaptive(e) => effort_level(e),
            };
            let level = requested.map(|r| {
                accepted
                    .iter()
                    .copied()
                    .find(|a| *a >= r)
                    .or_else(|| accepted.last().copied())
                    .unwrap_or(ThinkingLevel::High)
            });
            Some(ThinkingConfig {
                include_thoughts,
                thinking_budget: None,
                thinking_level: level,
            })
            .filter(|c| c.include_thoughts.is_some() || c.thinking_level.is_some())
        }
    }
}

fn effort_budget(effort: Option<&str>, tier_max: i32) -> Option<u32> {
    match effort? {
        // Clamped up to the tier's least (0 turns Flash's thinking off).
        "minimal" => Some(0),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        "xhigh" | "max" => u32::try_from(tier_max).ok(),
        _ => None,
    }
}

/// The level a token budget stands for.
fn budget_level(budget: u32) -> ThinkingLevel {
    match budget {
        0..=1024 => ThinkingLevel::Low,
        1025..=8192 => ThinkingLevel::Medium,
        8193..=32767 => ThinkingLevel::High,
        _ => ThinkingLevel::Xhigh,
    }
}

fn effort_level(effort: Option<&str>) -> Option<ThinkingLevel> {
    match effort? {
        "minimal" => Some(ThinkingLevel::Minimal),
        "low" => Some(ThinkingLevel::Low),
        "medium" => Some(ThinkingLevel::Medium),
        "high" => Some(ThinkingLevel::High),
        "xhigh" | "max" => Some(ThinkingLevel::Xhigh),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ThinkingLevel::*;

    fn level(model: &str, want: Want<'_>) -> Option<ThinkingLevel> {
        thinking(&ModelInfo::from_name(model), want, false).and_then(|c| c.thinking_level)
    }

    #[test]
    fn levels_round_up_to_what_the_model_accepts() {
        // Gemini 4 has no MINIMAL: off and "minimal" become its lowest, LOW.
        assert_eq!(level("gemini-4-argon", Want::Off), Some(Low));
        assert_eq!(
            level("gemini-4-argon", Want::Adaptive(Some("minimal"))),
            Some(Low)
        );
        // XHIGH only where accepted; elsewhere the highest level.
        assert_eq!(
            level("gemini-4-hydrogen", Want::Adaptive(Some("max"))),
            Some(Xhigh)
        );
        assert_eq!(
            level("gemini-4-argon", Want::Adaptive(Some("xhigh"))),
            Some(High)
        );
        assert_eq!(
            level("gemini-4-hydrogen", Want::Budget(40_000)),
            Some(Xhigh)
        );
        assert_eq!(level("gemini-3.8-flash", Want::Budget(40_000)), Some(High));
        assert_eq!(level("gemini-3.8-flash", Want::Off), Some(Minimal));
        assert_eq!(
            level("gemini-3-pro-preview", Want::Budget(4_000)),
            Some(High)
        );
        assert_eq!(
            level("gemini-3.1-pro-preview", Want::Budget(4_000)),
            Some(Medium)
        );
        // The model's own default when no effort is named.
        assert_eq!(level("gemini-4-argon", Want::Adaptive(None)), None);
    }

    #[test]
    fn budgets_stay_in_their_family() {
        let budget = |model: &str, want| {
            thinking(&ModelInfo::from_name(model), want, false).and_then(|c| c.thinking_budget)
        };
        assert_eq!(budget("gemini-2.5-flash-lite", Want::Off), Some(0));
        assert_eq!(
            budget("gemini-2.5-flash-lite", Want::Budget(100)),
            Some(512)
        );
        assert_eq!(budget("gemini-4-hydrogen", Want::Budget(100)), None);
        assert!(thinking(&ModelInfo::from_name("gemini-2.0-flash"), Want::Off, true).is_none());
    }
}
