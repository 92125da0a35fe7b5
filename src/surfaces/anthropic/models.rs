//! Claude's model names and Anthropic's model list. A name with `haiku` stands for the small
//! tier (`SMALL_MODEL`), one with `sonnet` or `opus` for the big tier (`BIG_MODEL`); every other
//! name is a Gemini model (or an alias of one) resolved by `crate::models`.

use crate::models::catalog::Entry;
use crate::models::Tier;

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

/// One Gemini model as Anthropic's models API lists it (Gemini gives no creation date).
pub fn model_object(entry: &Entry) -> serde_json::Value {
    serde_json::json!({
        "type": "model", "id": entry.id, "display_name": entry.display_name,
        "created_at": "1970-01-01T00:00:00Z",
    })
}

/// Models in the shape of Anthropic's `GET /v1/models` (one page, all of them).
pub fn list_object<'a>(entries: impl Iterator<Item = &'a Entry>) -> serde_json::Value {
    let data: Vec<serde_json::Value> = entries.map(model_object).collect();
    let id = |m: Option<&serde_json::Value>| m.map(|m| m["id"].clone());
    serde_json::json!({
        "data": data, "has_more": false,
        "first_id": id(data.first()), "last_id": id(data.last()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_in_anthropic_shape() {
        let e = |name: &str, display: Option<&str>| {
            let mut r = serde_json::json!({"name": format!("models/{name}")});
            if let Some(d) = display {
                r["displayName"] = d.into();
            }
            Entry::from_resource(&r).unwrap()
        };
        let entries = [
            e("gemini-3.8-flash", Some("Gemini 3.8 Flash")),
            e("gemini-3.1-pro-preview", None),
        ];
        let l = list_object(entries.iter());
        assert_eq!(l["data"][0]["type"], "model");
        assert_eq!(l["data"][0]["display_name"], "Gemini 3.8 Flash");
        assert_eq!(l["data"][1]["display_name"], "gemini-3.1-pro-preview");
        assert_eq!(
            (l["first_id"].as_str(), l["last_id"].as_str()),
            (Some("gemini-3.8-flash"), Some("gemini-3.1-pro-preview"))
        );
        assert_eq!(l["has_more"], false);
        assert!(list_object(std::iter::empty())["first_id"].is_null());
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
