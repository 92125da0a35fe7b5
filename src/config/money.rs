//! The settings about money: the price table's rows from the config file (`[[prices]]`), the
//! service tier per model (`MODEL_SERVICE_TIERS`, `pattern=tier` pairs, or a table in the
//! file), and each project group's own monthly cap (`[[projects]] spend_cap_usd_per_month`).
//! Client budgets and tiers ride on `[[clients]]` (see `file`). All of it is re-read by a
//! reload.

use serde::Deserialize;

use super::settings::invalid;
use super::ConfigError;
use crate::telemetry::prices::{nanos, PriceEntry, Prices, Pricing, ServiceTier};

/// A project group's own cap.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectCap {
    /// The group's name as `/v1/keys/status` shows it (a declared `project:` name).
    pub project: String,
    pub per_month_nanousd: u64,
}

/// `[[projects]]` as the file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    pub name: String,
    pub spend_cap_usd_per_month: Option<f64>,
}

/// What the gateway charges by, and the caps it keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Money {
    pub pricing: Pricing,
    pub project_caps: Vec<ProjectCap>,
}

impl Money {
    pub fn is_capped(&self) -> bool {
        !self.project_caps.is_empty()
    }
}

/// A dollar amount from the file: finite and above zero.
pub fn dollars(what: &str, v: Option<f64>) -> Result<Option<u64>, String> {
    match v {
        None => Ok(None),
        Some(d) if d.is_finite() && d > 0.0 => Ok(Some(nanos(d))),
        Some(_) => Err(format!(
            "{what} must be a number of dollars > 0 (leave it out for none)"
        )),
    }
}

/// Reads the settings and the file's rows.
pub fn read<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
    prices: &[PriceEntry],
    projects: &[ProjectEntry],
) -> Result<Money, ConfigError> {
    let mut model_tiers = Vec::new();
    for pair in get("MODEL_SERVICE_TIERS")
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        let parsed = pair
            .split_once('=')
            .and_then(|(m, t)| Some((m.trim(), ServiceTier::parse(t)?)))
            .filter(|(m, _)| !m.is_empty());
        let Some((model, tier)) = parsed else {
            return Err(invalid(
                "MODEL_SERVICE_TIERS",
                get,
                "must be model=tier pairs, comma-separated; tiers are flex, standard or priority",
            ));
        };
        model_tiers.push((model.trim_start_matches("models/").to_string(), tier));
    }
    let rows = prices
        .iter()
        .map(PriceEntry::price)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ConfigError::File)?;
    let mut project_caps = Vec::new();
    for p in projects {
        let cap = dollars(
            &format!("project {:?}: spend_cap_usd_per_month", p.name),
            p.spend_cap_usd_per_month,
        )
        .map_err(ConfigError::File)?;
        if let Some(per_month_nanousd) = cap {
            project_caps.push(ProjectCap {
                project: p.name.trim().to_string(),
                per_month_nanousd,
            });
        }
    }
    Ok(Money {
        pricing: Pricing {
            prices: Prices::with_overrides(rows),
            model_tiers,
        },
        project_caps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_per_model_prices_and_caps_are_read() {
        let vars = |name: &str| match name {
            "MODEL_SERVICE_TIERS" => Some("gemini-3.1-pro-*=flex, gemini-4-*=priority"),
            _ => None,
        };
        let projects = [ProjectEntry {
            name: "paid".into(),
            spend_cap_usd_per_month: Some(50.0),
        }];
        let m = read(vars, &[], &projects).unwrap();
        assert_eq!(
            m.pricing.tier_for("gemini-3.1-pro-preview"),
            Some(ServiceTier::Flex)
        );
        assert_eq!(m.pricing.tier_for("gemini-3.8-flash"), None);
        assert_eq!(m.project_caps[0].per_month_nanousd, 50_000_000_000);
        let bad = |name: &str| (name == "MODEL_SERVICE_TIERS").then_some("gemini-4-*=fast");
        assert!(read(bad, &[], &[]).is_err());
        let zero = [ProjectEntry {
            name: "p".into(),
            spend_cap_usd_per_month: Some(0.0),
        }];
        assert!(read(vars, &[], &zero).is_err());
    }
}
