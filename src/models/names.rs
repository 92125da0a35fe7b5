//! From the name a client asked for to the model that serves it. In order:
//! 1. the operator's `MODEL_ALIASES`, whatever the catalog says: an exact name first, else the
//!    first `*` pattern that matches;
//! 2. the calling API's own names for a tier (Claude's haiku/sonnet/opus, OpenAI's names when
//!    mapped) → `SMALL_MODEL` / `BIG_MODEL`, which default to the live catalog's newest;
//! 3. a name the live catalog lists is served as named;
//! 4. a retired name Google published a replacement for (and the catalog no longer lists) is
//!    served by that replacement, unless `RETIRED_MODEL_ALIASES=false`;
//! 5. before the catalog is first read, any plain model id passes; after, a name it lacks is
//!    unknown, answered with the closest live names.
//!
//! Pure: the catalog is handed in. `MODEL_FALLBACKS` chains are read here too.

use std::sync::Arc;

use super::catalog::Catalog;
use super::glob;

/// Google's published retirements: each retired id (or pattern) and the replacement Google
/// recommends. Chains resolve (`gemini-2.0-flash` → `gemini-2.5-flash` → …).
pub const RETIRED: &[(&str, &str)] = &[
    ("gemini-2.5-pro", "gemini-3.8-flash"),
    ("gemini-2.5-flash", "gemini-3.5-flash-lite"),
    ("gemini-3-pro-preview", "gemini-3.1-pro-preview"),
    ("gemini-2.5-pro-preview-*", "gemini-3.1-pro-preview"),
    ("gemini-2.5-flash-preview-*", "gemini-2.5-flash"),
    ("gemini-2.0-flash", "gemini-2.5-flash"),
    ("gemini-2.0-flash-0*", "gemini-2.5-flash"),
    ("gemini-2.0-flash-lite*", "gemini-2.5-flash-lite"),
    ("gemini-1.5-pro*", "gemini-2.5-pro"),
    ("gemini-1.5-flash*", "gemini-2.5-flash"),
    ("text-embedding-004", "gemini-embedding-001"),
    ("embedding-001", "gemini-embedding-001"),
];

/// Google's moving aliases for the newest model of each tier.
pub const PRO_LATEST: &str = "gemini-pro-latest";
pub const FLASH_LATEST: &str = "gemini-flash-latest";

/// Longest model name accepted (it goes into the upstream URL path).
const MAX_MODEL_NAME: usize = 256;

/// How many live names an unknown-model answer suggests.
const SUGGESTIONS: usize = 3;

/// One `MODEL_ALIASES` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub pattern: String,
    pub target: String,
}

/// What the operator said about names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// `BIG_MODEL`, when written; else the catalog's newest pro-tier model.
    pub big: Option<String>,
    /// `SMALL_MODEL`, when written; else the catalog's newest flash-tier model.
    pub small: Option<String>,
    pub aliases: Vec<Alias>,
    /// `RETIRED_MODEL_ALIASES`: the built-in [`RETIRED`] entries apply.
    pub retired_aliases: bool,
    /// `MODEL_FALLBACKS`: chains, best first.
    pub fallbacks: Vec<Vec<String>>,
}

impl Default for Naming {
    fn default() -> Self {
        Naming {
            big: None,
            small: None,
            aliases: Vec::new(),
            retired_aliases: true,
            fallbacks: Vec::new(),
        }
    }
}

/// A tier a calling API's own model names stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Big,
    Small,
    /// A fixed model (OpenAI's embedding names → Gemini's embedding model).
    Fixed(&'static str),
}

/// Why the served model is not the one named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Served as named.
    Named,
    /// The API's tier name mapped to `BIG_MODEL`/`SMALL_MODEL` (configuration, not a
    /// substitution).
    Tier,
    /// An operator's alias.
    Alias,
    /// A retired name, served by its replacement.
    Retired,
    /// The model could not serve now; the next of its `MODEL_FALLBACKS` chain did.
    Fallback,
}

impl Via {
    /// The metric and header label of a substitution; `None` when nothing was substituted.
    pub fn substitution(self) -> Option<&'static str> {
        match self {
            Via::Named | Via::Tier => None,
            Via::Alias => Some("alias"),
            Via::Retired => Some("retired"),
            Via::Fallback => Some("fallback"),
        }
    }
}

/// The model to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub model: Arc<str>,
    /// What was substituted, if anything (the latest reason).
    pub via: Via,
    /// The name that was replaced (the alias pattern, the retired id, the model fallen back
    /// from); `None` when nothing was.
    pub from: Option<Arc<str>>,
}

impl Resolved {
    pub fn named(model: &str) -> Resolved {
        Resolved {
            model: model.into(),
            via: Via::Named,
            from: None,
        }
    }
}

/// Why no model serves a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// Not a plain model id (letters, digits, `.`, `-`, `_`): it could re-target the URL.
    Invalid(String),
    /// No live model has this name, and no alias covers it: the closest live names.
    Unknown { name: String, closest: Vec<String> },
}

/// Resolves `requested` (see the module's steps); `tier` reads the calling API's own names.
pub fn resolve(
    naming: &Naming,
    catalog: Option<&Catalog>,
    requested: &str,
    tier: impl Fn(&str) -> Option<Tier>,
) -> Result<Resolved, Unresolved> {
    let name = requested.trim();
    let name = name.strip_prefix("models/").unwrap_or(name);
    let (mut model, mut via, mut from) = (name.to_string(), Via::Named, None);
    let exact = naming
        .aliases
        .iter()
        .find(|a| !a.pattern.contains('*') && a.pattern.eq_ignore_ascii_case(name));
    let alias = exact.or_else(|| {
        naming
            .aliases
            .iter()
            .find(|a| glob::matches(&a.pattern, name))
    });
    if let Some(a) = alias {
        (model, via, from) = (
            a.target.clone(),
            Via::Alias,
            Some(a.pattern.as_str().into()),
        );
    } else if let Some(t) = tier(name) {
        model = match t {
            Tier::Big => big(naming, catalog),
            Tier::Small => small(naming, catalog),
            Tier::Fixed(m) => m.to_string(),
        };
        via = Via::Tier;
    }
    // Retired names chain; a bounded walk also stops a loop of operator entries.
    for _ in 0..4 {
        if !is_plain(&model) {
            return Err(Unresolved::Invalid(clip(requested)));
        }
        let listed = catalog.is_some_and(|c| c.get(&model).is_some());
        if listed {
            break;
        }
        let retired = naming
            .retired_aliases
            .then(|| RETIRED.iter().find(|(p, _)| glob::matches(p, &model)))
            .flatten();
        match retired {
            Some((_, replacement)) => {
                from = Some(from.unwrap_or_else(|| model.as_str().into()));
                model = (*replacement).to_string();
                via = Via::Retired;
            }
            None if catalog.is_none() => break,
            None => {
                let closest = catalog.map_or_else(Vec::new, |c| c.closest(&model, SUGGESTIONS));
                return Err(Unresolved::Unknown {
                    name: clip(if via == Via::Named { name } else { &model }),
                    closest,
                });
            }
        }
    }
    Ok(Resolved {
        model: model.into(),
        via,
        from,
    })
}

/// `BIG_MODEL` as written, else the catalog's newest pro-tier model (Google's
/// `gemini-pro-latest` before the catalog is read).
pub fn big(naming: &Naming, catalog: Option<&Catalog>) -> String {
    naming.big.clone().unwrap_or_else(|| {
        catalog
            .and_then(|c| c.newest("pro", PRO_LATEST))
            .unwrap_or(PRO_LATEST)
            .to_string()
    })
}

/// `SMALL_MODEL` as written, else the catalog's newest flash-tier model.
pub fn small(naming: &Naming, catalog: Option<&Catalog>) -> String {
    naming.small.clone().unwrap_or_else(|| {
        catalog
            .and_then(|c| c.newest("flash", FLASH_LATEST))
            .unwrap_or(FLASH_LATEST)
            .to_string()
    })
}

/// The model after `model` in its `MODEL_FALLBACKS` chain.
pub fn fallback_after<'a>(naming: &'a Naming, model: &str) -> Option<&'a str> {
    naming.fallbacks.iter().find_map(|chain| {
        let at = chain.iter().position(|m| m == model)?;
        chain.get(at + 1).map(String::as_str)
    })
}

/// A plain model id: letters, digits, `.`, `-`, `_`, not only dots, at most 256 bytes.
pub fn is_plain(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= MAX_MODEL_NAME
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !model.bytes().all(|b| b == b'.')
}

/// At most the first 100 characters of a client's name, for messages.
fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
