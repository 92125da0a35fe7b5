//! Client model name → Gemini model, and what we know about a Gemini model from its name.
//!
//! Mapping: names containing `haiku` go to the small model, `sonnet` / `opus` to the big one,
//! `gemini-*` (optionally `models/gemini-*`) pass through when they are plain ids (letters,
//! digits, `.`, `-`, `_`: the name goes into the upstream URL), anything else is a 400.
//! Capabilities (output limit, thinking style) come from the name: `gemini-1.x` / `gemini-2.0*`
//! are legacy (8192 output tokens, no thinking), `gemini-2.5-*` use a thinking budget, `gemini-3*`
//! a thinking level; unrecognised names (aliases such as `gemini-flash-latest`) get 65536 and a
//! cautious thinking mapping.

use super::errors::AnthropicError;
use super::validate::clip;

/// Longest Gemini model name passed through.
const MAX_MODEL_NAME: usize = 256;

/// Where Claude model names go. The defaults (e.g. gemini-2.5-pro / gemini-2.5-flash) are the
/// caller's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMap {
    pub big: String,
    pub small: String,
}

/// Resolve the client's model name to the Gemini model to call.
pub fn resolve_model(client_model: &str, models: &ModelMap) -> Result<String, AnthropicError> {
    let name = client_model.trim();
    let bare = name.strip_prefix("models/").unwrap_or(name);
    let lower = bare.to_ascii_lowercase();
    if lower.starts_with("gemini-") {
        // The name goes into the upstream URL path: only a plain model id may pass.
        let plain = bare.len() <= MAX_MODEL_NAME
            && bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !plain {
            return Err(AnthropicError::invalid(format!(
                "model: invalid Gemini model name '{}': only letters, digits, '.', '-' and '_' \
                 are allowed",
                clip(client_model)
            )));
        }
        return Ok(bare.to_owned());
    }
    if lower.contains("haiku") {
        return Ok(models.small.clone());
    }
    if lower.contains("sonnet") || lower.contains("opus") {
        return Ok(models.big.clone());
    }
    Err(AnthropicError::invalid(format!(
        "model: unsupported model '{}': use a Claude model name (containing haiku, \
         sonnet or opus) or a Gemini model name (gemini-*)",
        clip(client_model)
    )))
}

/// Model generation, as far as request shaping is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    /// 1.x and 2.0: 8192 output tokens, no thinking config.
    Legacy,
    /// 2.5: `thinkingBudget`.
    V25,
    /// 3.x: `thinkingLevel`.
    V3,
    /// Unrecognised (aliases and future names).
    Unknown,
}

/// Model tier within a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    Pro,
    Flash,
    FlashLite,
    Other,
}

/// What the translator needs to know about the target Gemini model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelInfo {
    pub generation: Generation,
    pub tier: Tier,
    /// The version token (`2.5`, `3`, `3.1`, …), empty when unknown.
    pub version: String,
}

impl ModelInfo {
    /// Derive from a Gemini model name (`gemini-2.5-pro`, `models/gemini-3-flash-preview`, …).
    pub fn from_name(model: &str) -> Self {
        let bare = model.strip_prefix("models/").unwrap_or(model);
        let lower = bare.to_ascii_lowercase();
        let rest = lower.strip_prefix("gemini-").unwrap_or("");
        let version = rest
            .split('-')
            .next()
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or("")
            .to_owned();
        let major_minor = |v: &str| {
            let mut it = v.split('.');
            let major = it.next().and_then(|m| m.parse::<u32>().ok());
            let minor = it.next().and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
            major.map(|m| (m, minor))
        };
        let generation = match major_minor(&version) {
            Some((1, _)) | Some((2, 0)) => Generation::Legacy,
            Some((2, 5)) => Generation::V25,
            Some((m, _)) if m >= 3 => Generation::V3,
            _ => Generation::Unknown,
        };
        let tier = if lower.contains("flash-lite") {
            Tier::FlashLite
        } else if lower.contains("flash") {
            Tier::Flash
        } else if lower.contains("pro") {
            Tier::Pro
        } else {
            Tier::Other
        };
        Self {
            generation,
            tier,
            version,
        }
    }

    /// Largest accepted `maxOutputTokens`.
    pub fn max_output_tokens(&self) -> u32 {
        match self.generation {
            Generation::Legacy => 8192,
            _ => 65536,
        }
    }

    /// The tag stored in our thought signatures: signatures are only replayed to a model of
    /// the same version. Aliases without a version get their full name.
    pub fn signature_family(model: &str) -> String {
        let info = Self::from_name(model);
        if info.version.is_empty() {
            model
                .strip_prefix("models/")
                .unwrap_or(model)
                .to_ascii_lowercase()
        } else {
            info.version
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ModelMap {
        ModelMap {
            big: "gemini-2.5-pro".into(),
            small: "gemini-2.5-flash".into(),
        }
    }

    #[test]
    fn claude_names_map_to_big_and_small() {
        let m = map();
        assert_eq!(
            resolve_model("claude-3-5-haiku-20241022", &m).unwrap(),
            "gemini-2.5-flash"
        );
        assert_eq!(
            resolve_model("claude-haiku-4-5", &m).unwrap(),
            "gemini-2.5-flash"
        );
        assert_eq!(
            resolve_model("claude-sonnet-4-5-20250929", &m).unwrap(),
            "gemini-2.5-pro"
        );
        assert_eq!(
            resolve_model("claude-opus-5-5", &m).unwrap(),
            "gemini-2.5-pro"
        );
        assert_eq!(
            resolve_model("Claude-Opus-4", &m).unwrap(),
            "gemini-2.5-pro"
        );
    }

    #[test]
    fn gemini_names_pass_through() {
        let m = map();
        assert_eq!(
            resolve_model("gemini-3-pro-preview", &m).unwrap(),
            "gemini-3-pro-preview"
        );
        assert_eq!(
            resolve_model("models/gemini-2.0-flash", &m).unwrap(),
            "gemini-2.0-flash"
        );
    }

    #[test]
    fn unknown_model_is_invalid_request_naming_it() {
        let err = resolve_model("gpt-4o", &map()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(err.body()["error"]["type"], "invalid_request_error");
        assert!(err.to_string().contains("'gpt-4o'"));
        assert!(resolve_model("", &map()).is_err());
    }

    #[test]
    fn model_info_from_names() {
        let i = ModelInfo::from_name("gemini-2.5-pro");
        assert_eq!((i.generation, i.tier), (Generation::V25, Tier::Pro));
        assert_eq!(i.max_output_tokens(), 65536);
        let i = ModelInfo::from_name("models/gemini-2.5-flash-lite-preview-09-2025");
        assert_eq!((i.generation, i.tier), (Generation::V25, Tier::FlashLite));
        let i = ModelInfo::from_name("gemini-2.0-flash");
        assert_eq!(i.generation, Generation::Legacy);
        assert_eq!(i.max_output_tokens(), 8192);
        let i = ModelInfo::from_name("gemini-1.5-pro");
        assert_eq!(i.generation, Generation::Legacy);
        let i = ModelInfo::from_name("gemini-3-pro-preview");
        assert_eq!((i.generation, i.tier), (Generation::V3, Tier::Pro));
        assert_eq!(i.version, "3");
        let i = ModelInfo::from_name("gemini-3.1-flash");
        assert_eq!((i.generation, i.tier), (Generation::V3, Tier::Flash));
        let i = ModelInfo::from_name("gemini-flash-latest");
        assert_eq!(i.generation, Generation::Unknown);
        assert_eq!(i.max_output_tokens(), 65536);
    }

    #[test]
    fn signature_families() {
        assert_eq!(ModelInfo::signature_family("gemini-2.5-flash"), "2.5");
        assert_eq!(
            ModelInfo::signature_family("models/gemini-3-pro-preview"),
            "3"
        );
        assert_eq!(
            ModelInfo::signature_family("gemini-flash-latest"),
            "gemini-flash-latest"
        );
    }
}
