//! A native Gemini body is passed through byte for byte — the client named its model and wrote
//! for it. When the gateway serves it with another model (an alias, a retired name's
//! replacement, a fallback), the body was written for a model it is not going to: this makes it
//! acceptable to the one that serves, by that model's row of the rules table (a thinking budget
//! becomes a level or the other way round, fields the family refuses are dropped).

use bytes::Bytes;
use serde_json::{Map, Value};

use super::info::ModelInfo;
use super::rules::Thinking;
use super::thinking::{thinking, Want};
use crate::upstream::wire::{GenerationConfig, ThinkingLevel};

/// `body` made acceptable to `model`; unchanged when it needs nothing (or is not JSON).
pub fn conform(body: &Bytes, model: &str) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let Some(request) = v.as_object_mut() else {
        return body.clone();
    };
    // Proto JSON takes a field's original name too: read `generation_config` as Google does.
    if let Some(snake) = request.remove("generation_config") {
        request.entry("generationConfig").or_insert(snake);
    }
    let Some(config) = request
        .get_mut("generationConfig")
        .and_then(Value::as_object_mut)
    else {
        return body.clone();
    };
    camel_case_keys(config);
    if let Some(thinking) = config
        .get_mut("thinkingConfig")
        .and_then(Value::as_object_mut)
    {
        camel_case_keys(thinking);
    }
    let info = ModelInfo::from_name(model);
    conform_config(config, &info);
    serde_json::to_vec(&v).map_or_else(|_| body.clone(), Bytes::from)
}

fn conform_config(config: &mut Map<String, Value>, info: &ModelInfo) {
    // The fields `Rules::conform` drops, read through the typed config.
    let typed: GenerationConfig =
        serde_json::from_value(Value::Object(config.clone())).unwrap_or_default();
    let mut kept = typed.clone();
    info.rules.conform(&mut kept, u32::MAX, None);
    for (field, was, now) in [
        (
            "temperature",
            typed.temperature.is_some(),
            kept.temperature.is_some(),
        ),
        ("topP", typed.top_p.is_some(), kept.top_p.is_some()),
        ("topK", typed.top_k.is_some(), kept.top_k.is_some()),
        (
            "presencePenalty",
            typed.presence_penalty.is_some(),
            kept.presence_penalty.is_some(),
        ),
        (
            "frequencyPenalty",
            typed.frequency_penalty.is_some(),
            kept.frequency_penalty.is_some(),
        ),
        (
            "candidateCount",
            typed.candidate_count.is_some(),
            kept.candidate_count.is_some(),
        ),
    ] {
        if was && !now {
            config.remove(field);
        }
    }
    if kept.candidate_count != typed.candidate_count {
        if let Some(n) = kept.candidate_count {
            config.insert("candidateCount".into(), n.into());
        }
    }
    let Some(asked) = typed.thinking_config else {
        return;
    };
    let want = match (asked.thinking_budget, asked.thinking_level) {
        (Some(0), _) => Want::Off,
        (Some(b), _) if b < 0 => Want::Adaptive(None),
        (Some(b), _) => Want::Budget(u32::try_from(b).unwrap_or(u32::MAX)),
        (None, Some(level)) => Want::Adaptive(Some(effort(level))),
        (None, None) => Want::Adaptive(None),
    };
    let show = asked.include_thoughts == Some(true);
    match (info.rules.thinking, thinking(info, want, show)) {
        (Thinking::None, _) | (_, None) => {
            config.remove("thinkingConfig");
        }
        (_, Some(shaped)) => {
            if let Ok(v) = serde_json::to_value(shaped) {
                config.insert("thinkingConfig".into(), v);
            }
        }
    }
}

/// `presence_penalty` → `presencePenalty`, for every key of `map`.
fn camel_case_keys(map: &mut Map<String, Value>) {
    let snake: Vec<String> = map.keys().filter(|k| k.contains('_')).cloned().collect();
    for key in snake {
        let mut camel = String::with_capacity(key.len());
        let mut upper = false;
        for c in key.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                camel.extend(c.to_uppercase());
                upper = false;
            } else {
                camel.push(c);
            }
        }
        if let Some(v) = map.remove(&key) {
            map.entry(camel).or_insert(v);
        }
    }
}

fn effort(level: ThinkingLevel) -> &'static str {
    match level {
        ThinkingLevel::Minimal => "minimal",
        ThinkingLevel::Low => "low",
        ThinkingLevel::Medium => "medium",
        ThinkingLevel::High => "high",
        ThinkingLevel::Xhigh => "xhigh",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conformed(body: Value, model: &str) -> Value {
        let out = conform(&Bytes::from(body.to_string()), model);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn a_budget_body_becomes_a_level_body_for_gemini_4() {
        let body = json!({"contents": [], "generationConfig": {
            "temperature": 0.3, "presencePenalty": 1, "candidateCount": 2, "maxOutputTokens": 100,
            "thinkingConfig": {"thinkingBudget": 4000, "includeThoughts": true}}});
        assert_eq!(
            conformed(body, "gemini-4-argon")["generationConfig"],
            json!({"maxOutputTokens": 100,
                   "thinkingConfig": {"thinkingLevel": "MEDIUM", "includeThoughts": true}})
        );
    }

    #[test]
    fn a_level_body_becomes_a_budget_body_for_2_5_and_nothing_for_legacy() {
        let body = json!({"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}});
        assert_eq!(
            conformed(body.clone(), "gemini-2.5-flash-lite")["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 1024})
        );
        assert_eq!(
            conformed(body, "gemini-2.0-flash")["generationConfig"],
            json!({})
        );
    }

    #[test]
    fn snake_case_fields_are_read_as_google_reads_them() {
        let body = json!({"generation_config": {"presence_penalty": 1,
            "thinking_config": {"thinking_budget": 8192}}});
        assert_eq!(
            conformed(body, "gemini-4-argon"),
            json!({"generationConfig": {"thinkingConfig": {"thinkingLevel": "MEDIUM"}}})
        );
    }

    #[test]
    fn bodies_without_a_config_are_untouched() {
        let raw = Bytes::from_static(br#"{"contents":[{"parts":[{"text":"hi"}]}]}"#);
        assert_eq!(conform(&raw, "gemini-4-argon"), raw);
    }
}
