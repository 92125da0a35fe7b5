//! The model settings: `BIG_MODEL` and `SMALL_MODEL` (unset: the live catalog decides),
//! `MODEL_ALIASES` (`requested=served`, comma-separated, `*` patterns), `RETIRED_MODEL_ALIASES`
//! and `MODEL_FALLBACKS` (chains `a > b > c` separated by `;`), read into the `Naming` that
//! `crate::models` resolves names with; and `CATALOG_REFRESH_MINUTES`.

use std::time::Duration;

use super::settings::{boolean, invalid, parse};
use super::ConfigError;
use crate::models::names::{is_plain, Alias, Naming};

/// The model settings, validated.
pub fn naming<'a>(get: impl Fn(&str) -> Option<&'a str> + Copy) -> Result<Naming, ConfigError> {
    let model = |name: &'static str| -> Result<Option<String>, ConfigError> {
        match get(name).map(|m| m.strip_prefix("models/").unwrap_or(m)) {
            None => Ok(None),
            Some(m) if is_plain(m) => Ok(Some(m.to_string())),
            Some(_) => Err(invalid(
                name,
                get,
                "must be a Gemini model id (letters, digits, '.', '-', '_')",
            )),
        }
    };
    Ok(Naming {
        big: model("BIG_MODEL")?,
        small: model("SMALL_MODEL")?,
        aliases: aliases(get("MODEL_ALIASES"))
            .ok_or_else(|| invalid("MODEL_ALIASES", get, ALIASES_FORM))?,
        retired_aliases: get("RETIRED_MODEL_ALIASES").is_none()
            || boolean(get, "RETIRED_MODEL_ALIASES")?,
        fallbacks: fallbacks(get("MODEL_FALLBACKS"))
            .ok_or_else(|| invalid("MODEL_FALLBACKS", get, FALLBACKS_FORM))?,
    })
}

/// `CATALOG_REFRESH_MINUTES`: `None` when the catalog is read only at startup.
pub fn catalog_refresh<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<Option<Duration>, ConfigError> {
    let minutes: f64 = parse(get, "CATALOG_REFRESH_MINUTES", "10")?;
    if !(minutes.is_finite() && minutes >= 0.0) {
        return Err(invalid(
            "CATALOG_REFRESH_MINUTES",
            get,
            "must be a number of minutes ≥ 0",
        ));
    }
    Ok((minutes > 0.0).then(|| Duration::from_secs_f64(minutes * 60.0)))
}

const ALIASES_FORM: &str =
    "must be requested=served pairs, comma-separated (e.g. gemini-2.5-pro=gemini-3.1-pro-preview,claude-*-haiku-*=gemini-3.5-flash-lite)";
const FALLBACKS_FORM: &str =
    "must be chains of model ids joined by '>', separated by ';' (e.g. gemini-3.1-pro-preview > gemini-3.8-flash > gemini-3.5-flash-lite)";

/// `a=b,c*=d`; a pattern holds model-id characters and `*`, a target is a model id.
fn aliases(text: Option<&str>) -> Option<Vec<Alias>> {
    let Some(text) = text else {
        return Some(Vec::new());
    };
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (from, to) = entry.split_once('=')?;
            let (from, to) = (from.trim(), to.trim().trim_start_matches("models/"));
            let pattern_ok = !from.is_empty()
                && from
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'*'));
            (pattern_ok && is_plain(to)).then(|| Alias {
                pattern: from.to_string(),
                target: to.to_string(),
            })
        })
        .collect()
}

/// `a > b > c; d > e`: each chain at least two distinct model ids.
fn fallbacks(text: Option<&str>) -> Option<Vec<Vec<String>>> {
    let Some(text) = text else {
        return Some(Vec::new());
    };
    text.split([';', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|chain| {
            let models: Vec<String> = chain
                .split('>')
                .map(|m| m.trim().trim_start_matches("models/").to_string())
                .collect();
            let distinct = models
                .iter()
                .enumerate()
                .all(|(i, m)| !models[..i].contains(m));
            (models.len() >= 2 && distinct && models.iter().all(|m| is_plain(m))).then_some(models)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::vars;
    use super::super::Config;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, super::ConfigError> {
        let mut all = vec![("GEMINI_API_KEY", "AIzaSyA")];
        all.extend_from_slice(pairs);
        Config::from_vars(&vars(&all))
    }

    #[test]
    fn defaults_leave_the_models_to_the_catalog() {
        let c = with(&[]).unwrap();
        assert_eq!(
            (c.naming.big.as_deref(), c.naming.small.as_deref()),
            (None, None)
        );
        assert!(c.naming.retired_aliases);
        assert!(c.naming.aliases.is_empty() && c.naming.fallbacks.is_empty());
        assert_eq!(c.catalog_refresh, Some(std::time::Duration::from_secs(600)));
    }

    #[test]
    fn aliases_and_fallbacks_are_read() {
        let c = with(&[
            ("BIG_MODEL", "models/gemini-2.5-pro"),
            (
                "MODEL_ALIASES",
                " gemini-2.5-pro = gemini-3.1-pro-preview , claude-*-haiku-*=gemini-3.5-flash-lite",
            ),
            (
                "MODEL_FALLBACKS",
                "gemini-3.1-pro-preview > gemini-3.8-flash > gemini-3.5-flash-lite; gemini-4-carbon>gemini-4-hydrogen",
            ),
            ("RETIRED_MODEL_ALIASES", "false"),
            ("CATALOG_REFRESH_MINUTES", "0"),
        ])
        .unwrap();
        assert_eq!(c.naming.big.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(c.naming.aliases.len(), 2);
        assert_eq!(c.naming.aliases[1].pattern, "claude-*-haiku-*");
        assert_eq!(c.naming.fallbacks[0].len(), 3);
        assert_eq!(c.naming.fallbacks[1][1], "gemini-4-hydrogen");
        assert!(!c.naming.retired_aliases);
        assert_eq!(c.catalog_refresh, None);
    }

    #[test]
    fn bad_model_settings_name_their_variable() {
        for (name, bad) in [
            ("MODEL_ALIASES", "gemini-2.5-pro"),
            ("MODEL_ALIASES", "a=b/../c"),
            ("MODEL_FALLBACKS", "gemini-3.8-flash"),
            ("MODEL_FALLBACKS", "a > a"),
            ("BIG_MODEL", "gemini/../x"),
            ("RETIRED_MODEL_ALIASES", "maybe"),
            ("CATALOG_REFRESH_MINUTES", "-1"),
        ] {
            let e = with(&[(name, bad)]).unwrap_err().to_string();
            assert!(e.starts_with(name), "{name}: {e}");
        }
    }
}
