//! What the translators know about the model they translate for: its row of the rules table,
//! and the version its thought signatures belong to (signatures are replayed only to a model of
//! the same version).

use super::rules::{Rules, Thinking};

/// The target model, as a translator needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub rules: &'static Rules,
    /// The version token of its name (`2.5`, `3`, `3.1`, `4`, …), empty when it has none.
    pub version: String,
}

impl ModelInfo {
    /// From a Gemini model name (`gemini-3.8-flash`, `models/gemini-4-argon`, …).
    pub fn from_name(model: &str) -> Self {
        Self {
            rules: Rules::of(model),
            version: version_of(model).to_owned(),
        }
    }

    /// Largest accepted `maxOutputTokens` when the live catalog does not say.
    pub fn max_output_tokens(&self) -> u32 {
        self.rules.max_output_tokens
    }

    /// A model of the 1.x/2.0 kind: no thinking config, tool parameters as the strict subset.
    pub fn is_legacy(&self) -> bool {
        self.rules.strict_tool_schemas
    }

    /// Whether function calls replayed to it need thought signatures (Gemini 3 and later).
    pub fn needs_signatures(&self) -> bool {
        self.rules.signatures
    }

    /// Whether it thinks at all.
    pub fn thinks(&self) -> bool {
        self.rules.thinking != Thinking::None
    }

    /// The tag stored in our thought signatures: signatures are only replayed to a model of
    /// the same version. Names without a version (`-latest` aliases) get their full name.
    pub fn signature_family(model: &str) -> String {
        let version = version_of(model);
        if version.is_empty() {
            model
                .strip_prefix("models/")
                .unwrap_or(model)
                .to_ascii_lowercase()
        } else {
            version.to_owned()
        }
    }
}

/// `2.5` of `gemini-2.5-pro`, `4` of `gemini-4-argon`; empty for `gemini-flash-latest`.
fn version_of(model: &str) -> &str {
    let bare = model.strip_prefix("models/").unwrap_or(model);
    let rest = match bare.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("gemini-") => &bare[7..],
        _ => "",
    };
    rest.split('-')
        .next()
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_info_from_names() {
        let i = ModelInfo::from_name("gemini-2.5-pro");
        assert_eq!(i.rules.family, "gemini-2.5");
        assert_eq!(i.max_output_tokens(), 65536);
        assert!(!i.needs_signatures());
        let i = ModelInfo::from_name("models/gemini-2.5-flash-lite-preview-09-2025");
        assert!(!i.rules.prefill);
        let i = ModelInfo::from_name("gemini-2.0-flash");
        assert!(i.is_legacy() && !i.thinks());
        assert_eq!(i.max_output_tokens(), 8192);
        let i = ModelInfo::from_name("gemini-3.1-pro-preview");
        assert!(i.needs_signatures());
        assert_eq!(i.version, "3.1");
        let i = ModelInfo::from_name("gemini-4-hydrogen");
        assert_eq!((i.rules.family, i.version.as_str()), ("gemini-4", "4"));
        let i = ModelInfo::from_name("gemini-flash-latest");
        assert_eq!(i.rules.family, "newest");
        assert!(i.version.is_empty());
    }

    #[test]
    fn signature_families() {
        assert_eq!(ModelInfo::signature_family("gemini-2.5-flash"), "2.5");
        assert_eq!(
            ModelInfo::signature_family("models/gemini-3.1-pro-preview"),
            "3.1"
        );
        assert_eq!(ModelInfo::signature_family("gemini-4-argon"), "4");
        assert_eq!(
            ModelInfo::signature_family("gemini-flash-latest"),
            "gemini-flash-latest"
        );
    }
}
