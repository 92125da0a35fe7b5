//! What a Gemini model's name says about it, for shaping requests: its generation (legacy 1.x and
//! 2.0: 8192 output tokens, no thinking; 2.5: a thinking budget; 3.x: a thinking level), its tier,
//! and the version its thought signatures belong to.

/// Model generation, as far as request shaping is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
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
pub enum Tier {
    Pro,
    Flash,
    FlashLite,
    Other,
}

/// What the translator needs to know about the target Gemini model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
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
