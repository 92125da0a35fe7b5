//! Claude's model names and Anthropic's model list. A name with `haiku` stands for the small
//! tier (`SMALL_MODEL`), one with `sonnet` or `opus` for the big tier (`BIG_MODEL`); `claude-`
//! before a Gemini model's id (`claude-gemini-3.8-flash`) stands for that model; every other name
//! is a Gemini model (or an alias of one) resolved by `crate::models`.
//!
//! The list is what Claude Code's `/model` picker shows: it keeps only ids that start with
//! `claude` or `anthropic`, so the tiers are listed as `claude-opus-gateway`,
//! `claude-sonnet-gateway` and `claude-haiku-gateway`, and each live Gemini model that generates
//! content as `claude-<its id>`, every `display_name` naming the Gemini model that serves it.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::models::catalog::Entry;
use crate::models::{Models, Resolved, Tier, Unresolved, Via};

/// What Claude names put before a Gemini model's id.
pub const PREFIX: &str = "claude-";

/// The tiers as the picker lists them: (id, what it is).
pub const TIER_IDS: [(&str, &str); 3] = [
    ("claude-opus-gateway", "Opus → BIG_MODEL"),
    ("claude-sonnet-gateway", "Sonnet → BIG_MODEL"),
    ("claude-haiku-gateway", "Haiku → SMALL_MODEL"),
];

/// The Gemini name a request names: `claude-gemini-3.8-flash` is `gemini-3.8-flash`; a tier name
/// or any other name is itself.
pub fn requested(name: &str) -> &str {
    match name.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) && claude_tier(name).is_none() => {
            &name[PREFIX.len()..]
        }
        _ => name,
    }
}

/// The model a Messages request (or `GET /v1/models/{id}`) names. An operator's alias for the
/// whole name wins; then `claude-<gemini id>` is that Gemini model (`claude-gemini-3.8-flash`);
/// any other name resolves as itself (a tier name by [`claude_tier`]). A `claude-` name no model
/// serves is refused naming it as the client wrote it, the closest live models as `claude-` ids.
pub async fn resolve(models: &Models, name: &str) -> Result<Resolved, Unresolved> {
    let bare = requested(name);
    if bare.len() == name.len() {
        return models.resolve_fresh(name, claude_tier).await;
    }
    if let Ok(aliased) = models.resolve(name, claude_tier) {
        if aliased.via == Via::Alias {
            return Ok(aliased);
        }
    }
    models
        .resolve_fresh(bare, claude_tier)
        .await
        .map_err(|why| match why {
            Unresolved::Unknown { closest, .. } => Unresolved::Unknown {
                name: name.chars().take(100).collect(),
                closest: closest.iter().map(|c| format!("{PREFIX}{c}")).collect(),
            },
            Unresolved::Invalid(_) => Unresolved::Invalid(name.chars().take(100).collect()),
        })
}

/// One entry of the picker's list.
pub struct Listed {
    pub id: String,
    pub display_name: String,
}

/// The picker's entries: the tiers (each with the Gemini model `served` says it maps to now),
/// then every listed model that generates content, as `claude-<id>`.
pub fn picker<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    served: impl Fn(Tier) -> Option<String>,
) -> Vec<Listed> {
    let mut out = Vec::new();
    for (id, what) in TIER_IDS {
        let tier = claude_tier(id).unwrap_or(Tier::Big);
        let model = served(tier).unwrap_or_else(|| "the live catalog's choice".into());
        out.push(Listed {
            id: id.to_string(),
            display_name: format!("{what}: {model} (Gemini, via gemini-gateway)"),
        });
    }
    for e in entries.filter(|e| e.methods.iter().any(|m| m == "generateContent")) {
        out.push(Listed {
            id: format!("{PREFIX}{}", e.id),
            display_name: served_by(e),
        });
    }
    out
}

/// Anthropic's paging of `GET /v1/models`.
#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    pub limit: Option<usize>,
    pub after_id: Option<String>,
    pub before_id: Option<String>,
}

/// One page of the picker's list in Anthropic's shape (`limit` 1–1000, 20 by default).
pub fn page(listed: &[Listed], paging: &Paging) -> Value {
    let limit = paging.limit.unwrap_or(20).clamp(1, 1000);
    let at = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| listed.iter().position(|l| &l.id == id))
    };
    let (start, end) = match (at(&paging.after_id), at(&paging.before_id)) {
        (Some(a), _) => (a + 1, (a + 1 + limit).min(listed.len())),
        (None, Some(b)) => (b.saturating_sub(limit), b),
        (None, None) => (0, limit.min(listed.len())),
    };
    let data: Vec<Value> = listed[start.min(end)..end]
        .iter()
        .map(|l| json!({"type": "model", "id": l.id, "display_name": l.display_name, "created_at": CREATED_AT}))
        .collect();
    let id = |m: Option<&Value>| m.map(|m| m["id"].clone());
    json!({
        "data": data,
        "has_more": if paging.before_id.is_some() && paging.after_id.is_none() { start > 0 } else { end < listed.len() },
        "first_id": id(data.first()),
        "last_id": id(data.last()),
    })
}

/// The tier a Claude model name stands for.
pub fn claude_tier(name: &str) -> Option<Tier> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("gemini-") {
        None
    } else if lower.contains("haiku") {
        Some(Tier::Small)
    } else if lower.contains("sonnet") || lower.contains("opus") {
        Some(Tier::Big)
    } else {
        None
    }
}

/// One model as Anthropic's models API describes it, under the id the client asked for
/// (Gemini gives no creation date). A name other than the model's own id says which Gemini
/// model serves it, as the list does.
pub fn model_object(id: &str, entry: &Entry) -> Value {
    let display_name = if id == entry.id {
        entry.display_name.clone()
    } else {
        served_by(entry)
    };
    json!({
        "type": "model", "id": id, "display_name": display_name, "created_at": CREATED_AT,
    })
}

/// What the picker shows for a Gemini model: its name and id, and that the gateway serves it.
fn served_by(entry: &Entry) -> String {
    format!("{} ({}, via gemini-gateway)", entry.display_name, entry.id)
}

/// Gemini says nothing of when a model was made: the epoch, in RFC 3339.
const CREATED_AT: &str = "1970-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, display: Option<&str>, generates: bool) -> Entry {
        let mut r = serde_json::json!({"name": format!("models/{name}")});
        if let Some(d) = display {
            r["displayName"] = d.into();
        }
        if generates {
            r["supportedGenerationMethods"] = serde_json::json!(["generateContent"]);
        }
        Entry::from_resource(&r).unwrap()
    }

    #[test]
    fn the_picker_lists_tiers_then_each_generating_model_as_a_claude_id() {
        let entries = [
            entry("gemini-3.8-flash", Some("Gemini 3.8 Flash"), true),
            entry("gemini-embedding-001", None, false),
            entry("gemini-3.1-pro-preview", None, true),
        ];
        let listed = picker(entries.iter(), |t| {
            Some(match t {
                Tier::Big => "gemini-3.1-pro-preview".into(),
                _ => "gemini-3.8-flash".into(),
            })
        });
        let ids: Vec<&str> = listed.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "claude-opus-gateway",
                "claude-sonnet-gateway",
                "claude-haiku-gateway",
                "claude-gemini-3.8-flash",
                "claude-gemini-3.1-pro-preview"
            ]
        );
        assert!(listed[2].display_name.contains("gemini-3.8-flash"));
        assert!(listed[3]
            .display_name
            .starts_with("Gemini 3.8 Flash (gemini-3.8-flash"));
        let all = page(
            &listed,
            &Paging {
                limit: Some(1000),
                ..Paging::default()
            },
        );
        assert_eq!(all["data"][0]["type"], "model");
        assert_eq!(all["data"].as_array().unwrap().len(), 5);
        assert_eq!(
            (all["first_id"].as_str(), all["last_id"].as_str()),
            (
                Some("claude-opus-gateway"),
                Some("claude-gemini-3.1-pro-preview")
            )
        );
        assert_eq!(all["has_more"], false);
        let two = page(
            &listed,
            &Paging {
                limit: Some(2),
                ..Paging::default()
            },
        );
        assert_eq!(two["has_more"], true);
        let next = page(
            &listed,
            &Paging {
                limit: Some(2),
                after_id: Some("claude-sonnet-gateway".into()),
                ..Paging::default()
            },
        );
        assert_eq!(next["first_id"], "claude-haiku-gateway");
        let before = page(
            &listed,
            &Paging {
                limit: Some(2),
                before_id: Some("claude-haiku-gateway".into()),
                ..Paging::default()
            },
        );
        assert_eq!(
            (before["first_id"].as_str(), before["has_more"].as_bool()),
            (Some("claude-opus-gateway"), Some(false))
        );
        assert!(page(&[], &Paging::default())["first_id"].is_null());
    }

    #[test]
    fn a_claude_prefix_before_a_gemini_id_names_that_model() {
        assert_eq!(requested("claude-gemini-3.8-flash"), "gemini-3.8-flash");
        assert_eq!(requested("Claude-gemini-4-argon"), "gemini-4-argon");
        assert_eq!(requested("claude-sonnet-4-5"), "claude-sonnet-4-5");
        assert_eq!(requested("claude-haiku-gateway"), "claude-haiku-gateway");
        assert_eq!(requested("gemini-3.8-flash"), "gemini-3.8-flash");
        assert_eq!(requested("claude"), "claude");
    }

    fn models_with(aliases: &[(&str, &str)]) -> Models {
        let naming = crate::models::Naming {
            aliases: aliases
                .iter()
                .map(|(p, t)| crate::models::names::Alias {
                    pattern: p.to_string(),
                    target: t.to_string(),
                })
                .collect(),
            ..crate::models::Naming::default()
        };
        let models = Models::new(
            naming,
            crate::clock::Clock::starting_at(1_780_000_000_000),
            Default::default(),
        );
        let mut catalog = crate::models::Catalog::default();
        let listed = [
            "gemini-3.8-flash",
            "gemini-3.1-pro-preview",
            "gemini-4-argon",
        ]
        .map(|id| {
            serde_json::json!({"name": format!("models/{id}"),
                "supportedGenerationMethods": ["generateContent"]})
        });
        catalog.add_listing("k1", "v1beta", &listed);
        models.install(catalog);
        models
    }

    #[tokio::test]
    async fn a_claude_id_resolves_to_its_gemini_model_from_the_catalog() {
        let models = models_with(&[("claude-team-model", "gemini-3.1-pro-preview")]);
        let r = resolve(&models, "claude-gemini-4-argon").await.unwrap();
        assert_eq!(&*r.model, "gemini-4-argon");
        // A new family needs no code: whatever the catalog lists.
        let r = resolve(&models, "claude-gemini-3.8-flash").await.unwrap();
        assert_eq!((&*r.model, r.via), ("gemini-3.8-flash", Via::Named));
        // The operator's alias for the whole name wins over the prefix.
        let r = resolve(&models, "claude-team-model").await.unwrap();
        assert_eq!((&*r.model, r.via), ("gemini-3.1-pro-preview", Via::Alias));
        // Tiers stay tiers.
        let r = resolve(&models, "claude-haiku-gateway").await.unwrap();
        assert_eq!(r.via, Via::Tier);
        // An unknown claude- name is refused as the client wrote it, with claude- suggestions.
        let Err(Unresolved::Unknown { name, closest }) =
            resolve(&models, "claude-gemini-3.9-flash").await
        else {
            panic!("unknown expected")
        };
        assert_eq!(name, "claude-gemini-3.9-flash");
        assert!(
            closest.iter().all(|c| c.starts_with("claude-gemini-")),
            "{closest:?}"
        );
        assert!(matches!(
            resolve(&models, "claude-../x").await,
            Err(Unresolved::Invalid(n)) if n == "claude-../x"
        ));
    }

    #[test]
    fn one_model_is_described_under_the_asked_id() {
        let e = entry("gemini-3.8-flash", Some("Gemini 3.8 Flash"), true);
        let mine = model_object("claude-gemini-3.8-flash", &e);
        assert_eq!(mine["id"], "claude-gemini-3.8-flash");
        assert_eq!(
            mine["display_name"],
            "Gemini 3.8 Flash (gemini-3.8-flash, via gemini-gateway)"
        );
        assert_eq!(mine["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(
            model_object("gemini-3.8-flash", &e)["display_name"],
            "Gemini 3.8 Flash"
        );
    }

    #[test]
    fn claude_names_stand_for_tiers() {
        assert_eq!(claude_tier("claude-3-5-haiku-20241022"), Some(Tier::Small));
        assert_eq!(claude_tier("claude-haiku-4-5"), Some(Tier::Small));
        assert_eq!(claude_tier("claude-sonnet-4-5-20250929"), Some(Tier::Big));
        assert_eq!(claude_tier("Claude-Opus-4"), Some(Tier::Big));
        assert_eq!(claude_tier("gemini-3.8-flash"), None);
        assert_eq!(claude_tier("gpt-4o"), None);
    }
}
