//! Client model name → Gemini model (what the model name says about the model is in
//! `surfaces::shared::model`).
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

/// One Gemini model as Anthropic's models API lists it (Gemini gives no creation date).
pub fn model_object(gemini: &serde_json::Value) -> Option<serde_json::Value> {
    let id = gemini
        .get("name")
        .and_then(serde_json::Value::as_str)?
        .trim_start_matches("models/");
    let display = gemini
        .get("displayName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(id);
    Some(serde_json::json!({
        "type": "model", "id": id, "display_name": display,
        "created_at": "1970-01-01T00:00:00Z",
    }))
}

/// Gemini's model list in the shape of Anthropic's `GET /v1/models` (one page, all of it).
pub fn list_object(gemini: &serde_json::Value) -> serde_json::Value {
    let data: Vec<serde_json::Value> = gemini
        .get("models")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(model_object)
        .collect();
    let id = |m: Option<&serde_json::Value>| m.map(|m| m["id"].clone());
    serde_json::json!({
        "data": data, "has_more": false,
        "first_id": id(data.first()), "last_id": id(data.last()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_in_anthropic_shape() {
        let g = serde_json::json!({"models": [
            {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro"},
            {"name": "models/gemini-2.5-flash"}]});
        let l = super::list_object(&g);
        assert_eq!(l["data"][0]["type"], "model");
        assert_eq!(l["data"][0]["display_name"], "Gemini 2.5 Pro");
        assert_eq!(l["data"][1]["display_name"], "gemini-2.5-flash");
        assert_eq!(
            (l["first_id"].as_str(), l["last_id"].as_str()),
            (Some("gemini-2.5-pro"), Some("gemini-2.5-flash"))
        );
        assert_eq!(l["has_more"], false);
        assert!(super::list_object(&serde_json::json!({}))["first_id"].is_null());
    }

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
}
