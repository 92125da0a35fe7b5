//! The thinking settings for what a client asked: thinking off, a token budget, or an effort
//! (`low` … `max`, `minimal`), shaped for the target model — a clamped `thinkingBudget` on 2.5
//! (each tier has its own range and "off"), the nearest supported `thinkingLevel` on 3.x (Gemini 3
//! Pro knows only low and high; Flash also minimal and medium), nothing on legacy models.

use super::model::{Generation, ModelInfo, Tier};
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
    let budget = |b: i32| {
        Some(ThinkingConfig {
            include_thoughts,
            thinking_budget: Some(b),
            thinking_level: None,
        })
    };
    match info.generation {
        Generation::Legacy => None,
        Generation::V25 => {
            let (min, max, off) = match info.tier {
                Tier::Pro => (128, 32768, 128),
                Tier::FlashLite => (512, 24576, 0),
                Tier::Flash | Tier::Other => (0, 24576, 0),
            };
            let clamp = |b: u32| i32::try_from(b).unwrap_or(i32::MAX).clamp(min, max);
            match want {
                Want::Off => budget(off),
                Want::Budget(b) => budget(clamp(b)),
                Want::Adaptive(e) => budget(effort_budget(e, max).map_or(-1, clamp)),
            }
        }
        Generation::V3 => {
            let supported = supported_levels(info);
            let requested = match want {
                Want::Off => supported.first().copied(),
                Want::Budget(b) if b <= 1024 => Some(ThinkingLevel::Low),
                Want::Budget(b) if b <= 8192 => Some(ThinkingLevel::Medium),
                Want::Budget(_) => Some(ThinkingLevel::High),
                Want::Adaptive(e) => effort_level(e),
            };
            let level = requested.map(|r| {
                supported
                    .iter()
                    .copied()
                    .find(|s| rank(*s) >= rank(r))
                    .unwrap_or(ThinkingLevel::High)
            });
            Some(ThinkingConfig {
                include_thoughts,
                thinking_budget: None,
                thinking_level: level,
            })
            .filter(|c| c.include_thoughts.is_some() || c.thinking_level.is_some())
        }
        Generation::Unknown => {
            let clamp = |b: u32| i32::try_from(b).unwrap_or(i32::MAX).clamp(128, 24576);
            match want {
                Want::Off => None,
                Want::Budget(b) => budget(clamp(b)),
                Want::Adaptive(_) => budget(-1),
            }
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

fn effort_level(effort: Option<&str>) -> Option<ThinkingLevel> {
    match effort? {
        "minimal" => Some(ThinkingLevel::Minimal),
        "low" => Some(ThinkingLevel::Low),
        "medium" => Some(ThinkingLevel::Medium),
        "high" | "xhigh" | "max" => Some(ThinkingLevel::High),
        _ => None,
    }
}

fn supported_levels(info: &ModelInfo) -> &'static [ThinkingLevel] {
    use ThinkingLevel::{High, Low, Medium, Minimal};
    match info.tier {
        Tier::Pro if info.version == "3" => &[Low, High],
        Tier::Pro => &[Low, Medium, High],
        Tier::Flash | Tier::FlashLite => &[Minimal, Low, Medium, High],
        Tier::Other => &[Low, High],
    }
}

fn rank(level: ThinkingLevel) -> u8 {
    match level {
        ThinkingLevel::Minimal => 0,
        ThinkingLevel::Low => 1,
        ThinkingLevel::Medium => 2,
        ThinkingLevel::High => 3,
    }
}
