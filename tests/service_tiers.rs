//! Black-box: service tiers. A request goes to Gemini at the tier it asks for (OpenAI's
//! `service_tier`, the `x-gemini-service-tier` header on the Anthropic surface), else its client
//! key's, else `MODEL_SERVICE_TIERS`' for its model; standard is not written. The tier Gemini
//! says it served — a priority request downgraded to standard included — is the one the request
//! is priced at and shown with in `/v1/requests`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

const FLASH: &str = "gemini-3.8-flash";
const PRO: &str = "gemini-3.1-pro-preview";

/// The `serviceTier` of the mock's last model call (`None`: not written).
fn last_tier(mock: &MockGemini) -> Option<String> {
    model_calls(mock)
        .last()
        .and_then(|r| r.body.clone())
        .and_then(|b| {
            b.get("serviceTier")
                .and_then(Value::as_str)
                .map(String::from)
        })
}

async fn recent(gw: &Gateway) -> Value {
    client()
        .get(gw.url("/v1/requests"))
        .header("x-api-key", "sk-flex-team")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["requests"][0]
        .clone()
}

#[tokio::test]
async fn the_request_its_client_and_its_model_choose_the_tier_and_the_served_one_is_priced() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(1);
    let file = format!(
        r#"
        keys = ["{}"]
        MODEL_SERVICE_TIERS = {{ "gemini-3.1-pro-*" = "flex" }}

        [[clients]]
        name = "flex-team"
        key = "sk-flex-team"
        service_tier = "flex"

        [[clients]]
        name = "plain"
        key = "sk-plain"
        "#,
        ks[0]
    );
    let gw = Gateway::start_with_files(&mock, &[("gemini-gateway.toml", &file)], &[]).await;
    let chat = |key: &'static str, model: &'static str, tier: Option<&'static str>| {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]});
        if let Some(t) = tier {
            body["service_tier"] = json!(t);
        }
        client()
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };

    // The client's tier.
    assert_eq!(
        chat("sk-flex-team", FLASH, None).await.unwrap().status(),
        200
    );
    assert_eq!(last_tier(&mock).as_deref(), Some("flex"));
    let r = recent(&gw).await;
    assert_eq!(r["service_tier"], "flex");
    let flex_cost = r["cost_usd"].as_f64().unwrap();

    // `auto` leaves it to the client; the request's own choice wins over it.
    chat("sk-flex-team", FLASH, Some("auto")).await.unwrap();
    assert_eq!(last_tier(&mock).as_deref(), Some("flex"));
    chat("sk-flex-team", FLASH, Some("default")).await.unwrap();
    assert_eq!(
        last_tier(&mock),
        None,
        "standard is Gemini's default: not written"
    );

    // Priority asked, standard served: priced and shown as standard.
    mock.script(rule(&ks[0], None, Some(1), Behaviour::ServedAtStandard));
    chat("sk-flex-team", FLASH, Some("priority")).await.unwrap();
    assert_eq!(last_tier(&mock).as_deref(), Some("priority"));
    let r = recent(&gw).await;
    assert_eq!(r["service_tier"], "standard", "{r}");
    let standard_cost = r["cost_usd"].as_f64().unwrap();
    assert!(
        (standard_cost - 2.0 * flex_cost).abs() < 1e-8,
        "flex is half of standard: {flex_cost} vs {standard_cost}"
    );

    // A client without a tier: the model's, else none.
    chat("sk-plain", PRO, None).await.unwrap();
    assert_eq!(last_tier(&mock).as_deref(), Some("flex"));
    chat("sk-plain", FLASH, None).await.unwrap();
    assert_eq!(last_tier(&mock), None);

    // The header, on the Anthropic surface.
    let r = client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-plain")
        .header("x-gemini-service-tier", "priority")
        .json(&json!({"model": FLASH, "max_tokens": 50,
                      "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(last_tier(&mock).as_deref(), Some("priority"));
}
