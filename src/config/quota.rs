//! The quota settings: `GEMINI_API_KEY` entries may name their Google project
//! (`proj-a:AIza…`; keys never contain `:`), and `QUOTA_LIMITS` declares limits the pool
//! schedules by from the first request instead of learning them from 429s:
//!
//! ```text
//! QUOTA_LIMITS=gemini-2.5-flash:rpm=10,rpd=250;proj-b/gemini-2.5-pro:rpm=150,tpm=2000000
//! ```
//!
//! Entries are separated by `;` (or new lines); each is `[project/]model:kind=value[,kind=value]`
//! with `kind` one of `rpm` (requests per minute), `tpm` (input tokens per minute), `rpd`
//! (requests per Pacific day); `model` may be `*`. Without a project, an entry applies to every
//! project; a project's own entry wins over it.

use std::collections::HashMap;

use super::ConfigError;
use crate::pool::{DeclaredLimit, QuotaPlan};
use crate::secret::ApiKey;
use crate::upstream::classify::QuotaKind;

/// Splits the comma-separated key list, tolerating whitespace, quotes and duplicates; an entry
/// `project:key` declares the key's project. Returns the keys and key id → project.
pub fn parse_keys(raw: &str) -> (Vec<ApiKey>, HashMap<String, String>) {
    let mut keys: Vec<ApiKey> = Vec::new();
    let mut groups = HashMap::new();
    for part in raw.split(',') {
        let entry = part.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        let (group, k) = match entry.rsplit_once(':') {
            Some((g, k)) if !g.trim().is_empty() => (Some(g.trim()), k.trim()),
            Some((_, k)) => (None, k.trim()),
            None => (None, entry),
        };
        if k.is_empty() || keys.iter().any(|seen| seen.expose() == k) {
            continue;
        }
        let key = ApiKey::new(k);
        if let Some(g) = group {
            groups.insert(key.id().to_string(), g.to_string());
        }
        keys.push(key);
    }
    (keys, groups)
}

/// Reads `QUOTA_LIMITS` into the plan's limits.
pub fn parse_limits(raw: &str) -> Result<Vec<DeclaredLimit>, ConfigError> {
    let bad = |problem: &'static str| ConfigError::Invalid {
        name: "QUOTA_LIMITS",
        value: raw.to_string(),
        problem,
    };
    let mut out = Vec::new();
    for entry in raw
        .split([';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (target, limits) = entry
            .split_once(':')
            .ok_or(bad("each entry is [project/]model:kind=value[,kind=value]"))?;
        let (group, model) = match target.split_once('/') {
            Some((g, m)) => (Some(g.trim().to_string()), m.trim()),
            None => (None, target.trim()),
        };
        if model.is_empty() || group.as_deref() == Some("") {
            return Err(bad(
                "each entry names a model (or *), and a project before / when given",
            ));
        }
        for limit in limits.split(',').map(str::trim) {
            let (kind, value) = limit
                .split_once('=')
                .ok_or(bad("limits are kind=value with kind rpm, tpm or rpd"))?;
            let kind = QuotaKind::from_label(kind.trim())
                .ok_or(bad("limits are kind=value with kind rpm, tpm or rpd"))?;
            let value = value
                .trim()
                .parse()
                .map_err(|_| bad("a limit's value is a whole number"))?;
            out.push(DeclaredLimit {
                group: group.clone(),
                model: model.to_string(),
                kind,
                value,
            });
        }
    }
    Ok(out)
}

/// The whole quota plan from the two settings.
pub fn plan(
    groups: HashMap<String, String>,
    limits: Option<&str>,
) -> Result<QuotaPlan, ConfigError> {
    Ok(QuotaPlan {
        groups,
        limits: limits.map(parse_limits).transpose()?.unwrap_or_default(),
        key_models: HashMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_may_name_their_project() {
        let (keys, groups) =
            parse_keys(" proj-a:AIzaA1 , 'proj-a:AIzaA2', AIzaB1,proj-a:AIzaA1, :AIzaC");
        let ids: Vec<&str> = keys.iter().map(|k| k.expose()).collect();
        assert_eq!(ids, ["AIzaA1", "AIzaA2", "AIzaB1", "AIzaC"]);
        assert_eq!(groups.get(keys[0].id()).map(String::as_str), Some("proj-a"));
        assert_eq!(groups.get(keys[1].id()).map(String::as_str), Some("proj-a"));
        assert_eq!(groups.get(keys[2].id()), None);
        assert_eq!(groups.get(keys[3].id()), None);
    }

    #[test]
    fn limits_read_per_model_and_per_project() {
        let l = parse_limits("gemini-2.5-flash:rpm=10,rpd=250; proj-b/*:tpm=1000\n").unwrap();
        assert_eq!(
            l,
            [
                DeclaredLimit {
                    group: None,
                    model: "gemini-2.5-flash".into(),
                    kind: QuotaKind::RequestsPerMinute,
                    value: 10
                },
                DeclaredLimit {
                    group: None,
                    model: "gemini-2.5-flash".into(),
                    kind: QuotaKind::RequestsPerDay,
                    value: 250
                },
                DeclaredLimit {
                    group: Some("proj-b".into()),
                    model: "*".into(),
                    kind: QuotaKind::InputTokensPerMinute,
                    value: 1000
                },
            ]
        );
        for bad in [
            "flash",
            "flash:rpx=1",
            "flash:rpm=many",
            "/flash:rpm=1",
            ":rpm=1",
        ] {
            let e = parse_limits(bad).unwrap_err().to_string();
            assert!(e.starts_with("QUOTA_LIMITS"), "{bad}: {e}");
        }
    }
}
