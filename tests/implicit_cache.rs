//! Black-box: Gemini's implicit cache hits only when a conversation's prefix reaches the same
//! project again. Over three keys of three projects, an OpenAI Chat conversation that names no
//! session (no `prompt_cache_key`, no `user`) stays on one key by its stable prefix, so from its
//! second turn on Gemini reports cached input (the mock keeps implicit caches per project and
//! prefix); the cached share shows on `/metrics`. Two different conversations are free to use
//! different keys.

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
