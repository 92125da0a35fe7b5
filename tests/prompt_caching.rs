//! Black-box: Gemini's implicit cache hits only when a conversation's prefix reaches the same
//! project again. Over three keys of three projects, an OpenAI Chat conversation that names no
//! session (no `prompt_cache_key`, no `user`) stays on one key by its stable prefix, so from its
//! second turn on Gemini reports cached input (the mock keeps implicit caches per project and
//! prefix); the cached share shows on `/metrics`. Two different conversations are free to use
//! different keys. With `ANTHROPIC_CONTEXT_CACHE=explicit`, an Anthropic conversation's
//! breakpointed system prompt becomes one Gemini context cache, read on its owner's key every
//! turn (never on Gemini 4, which has no explicit caches); by default no cache is made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

const FLASH: &str = "gemini-3.8-flash";

async fn chat(gw: &Gateway, messages: &[Value]) -> Value {
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .json(&json!({"model": FLASH, "messages": messages}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_conversation_without_a_session_keeps_its_prefix_on_one_project() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;
    // Above the mock's minimum for implicit caching (4,096 tokens of about four characters).
    let system = "You are the gateway's careful reviewer. ".repeat(600);
    let mut messages = vec![
        json!({"role": "system", "content": system}),
        json!({"role": "user", "content": "First question"}),
    ];
    let mut cached = Vec::new();
    for turn in 0..4 {
        let answer = chat(&gw, &messages).await;
        cached.push(
            answer["usage"]["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
        );
        let reply = answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        messages.push(json!({"role": "assistant", "content": reply}));
        messages.push(json!({"role": "user", "content": format!("Question {}", turn + 2)}));
    }
    let used = keys_used(&mock);
    assert!(used.windows(2).all(|w| w[0] == w[1]), "one key: {used:?}");
    assert_eq!(cached[0], 0);
    assert!(
        cached[1..].iter().all(|c| *c > 0),
        "cached from the second turn: {cached:?}"
    );

    let metrics = client()
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let share = metrics
        .lines()
        .find(|l| l.starts_with("gateway_cached_input_share{") && l.contains(FLASH))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no cached share in {metrics}"));
    assert!(share > 0.5 && share < 1.0, "{share}");

    // Other conversations are not pinned to that key.
    mock.clear_requests();
    for i in 0..6 {
        chat(
            &gw,
            &[
                json!({"role": "system", "content": format!("Conversation {i}")}),
                json!({"role": "user", "content": "hi"}),
            ],
        )
        .await;
    }
    let mut others = keys_used(&mock);
    others.sort();
    others.dedup();
    assert!(others.len() > 1, "six conversations, one key: {others:?}");
}

/// Three turns of one Anthropic conversation whose long system prompt carries a breakpoint;
/// the usage of each answer.
async fn three_cached_turns(gw: &Gateway, model: &str) -> Vec<Value> {
    let system = "Keep every answer short and exact. ".repeat(700);
    let mut messages = vec![json!({"role": "user", "content": "First"})];
    let mut usage = Vec::new();
    for turn in 0..3 {
        let resp = client()
            .post(gw.url("/v1/messages"))
            .json(&json!({"model": model, "max_tokens": 256, "messages": messages,
                "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
        let answer: Value = resp.json().await.unwrap();
        usage.push(answer["usage"].clone());
        messages.push(json!({"role": "assistant", "content": answer["content"][0]["text"]}));
        messages.push(json!({"role": "user", "content": format!("Turn {}", turn + 2)}));
    }
    usage
}

fn actions(mock: &MockGemini, action: &str) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.action.as_deref() == Some(action))
        .collect()
}

#[tokio::test]
async fn explicit_context_caching_makes_one_cache_and_reads_it_on_its_owner() {
    let Scenario { mock, gw, .. } = Scenario::keys(3)
        .env("ANTHROPIC_CONTEXT_CACHE", "explicit")
        .start()
        .await;
    let usage = three_cached_turns(&gw, FLASH).await;
    let made = actions(&mock, "cachedContents.create");
    assert_eq!(made.len(), 1, "one cache for one prefix");
    let owner = made[0].api_key.clone().unwrap();
    let calls = actions(&mock, "generateContent");
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_eq!(call.api_key.as_deref(), Some(owner.as_str()));
        let body = call.body.as_ref().unwrap();
        assert!(body["cachedContent"]
            .as_str()
            .unwrap()
            .starts_with("cachedContents/"));
        assert!(
            body.get("systemInstruction").is_none(),
            "the prefix is in the cache"
        );
    }
    for u in &usage {
        assert!(u["cache_read_input_tokens"].as_u64().unwrap() > 4000, "{u}");
    }

    // Gemini 4 has no explicit caches: none is made, the request goes whole.
    mock.clear_requests();
    three_cached_turns(&gw, "gemini-4-hydrogen").await;
    assert!(actions(&mock, "cachedContents.create").is_empty());
}

#[tokio::test]
async fn breakpoints_make_no_cache_by_default() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;
    three_cached_turns(&gw, FLASH).await;
    assert!(actions(&mock, "cachedContents.create").is_empty());
    assert!(actions(&mock, "generateContent").iter().all(|c| c
        .body
        .as_ref()
        .unwrap()
        .get("cachedContent")
        .is_none()));
}
