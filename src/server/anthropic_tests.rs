//! The router in-process (`oneshot`) for what Claude Code asks of it beyond messages: the
//! `/model` picker's `GET /v1/models` in Anthropic's shape (paged, `claude-` ids made from the
//! live catalog, other callers keeping their own shapes), `claude-<gemini id>` served by that
//! model, and the newer request fields and headers accepted rather than refused.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::build;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::models::{Catalog, Models};
use crate::pool::{Clock, KeyPool};
use crate::store::Backend;
use crate::upstream::scripted::Scripted;

struct House {
    router: Router,
    upstream: Arc<Scripted>,
}

/// The catalog the keys list: two generating models and an embedding model.
const LISTED: [(&str, &str, &str); 3] = [
    ("gemini-3.8-flash", "Gemini 3.8 Flash", "generateContent"),
    (
        "gemini-3.1-pro-preview",
        "Gemini 3.1 Pro Preview",
        "generateContent",
    ),
    (
        "gemini-embedding-001",
        "Gemini Embedding 001",
        "embedContent",
    ),
];

async fn house() -> House {
    let vars: HashMap<String, String> = HashMap::from([
        (
            "GEMINI_API_KEY".to_string(),
            "AIzaSyRouterTestKey00xxxxxxxxxxxxxxxxx".to_string(),
        ),
        ("REQUEST_TIMEOUT".to_string(), "30".to_string()),
    ]);
    let config = Config::from_vars(&vars).unwrap();
    let pool = KeyPool::open(
        config.keys.clone(),
        &config.quota,
        config.key_cooldown,
        Clock::starting_at(1_780_000_000_000),
        Backend::Volatile,
    )
    .await
    .unwrap();
    let upstream = Arc::new(Scripted::default());
    let dispatcher = Dispatcher::new(Arc::new(pool), upstream.clone(), config.request_timeout);
    let models = Models::new(
        config.naming.clone(),
        *dispatcher.pool().clock(),
        dispatcher.served_models().clone(),
    );
    let mut catalog = Catalog::default();
    let resources: Vec<Value> = LISTED
        .iter()
        .map(|(id, name, method)| {
            json!({"name": format!("models/{id}"), "displayName": name,
                "supportedGenerationMethods": [method]})
        })
        .collect();
    catalog.add_listing(config.keys[0].id(), "v1beta", &resources);
    models.install(catalog);
    let (router, _) = build(Arc::new(config), dispatcher, Arc::new(models));
    House { router, upstream }
}

impl House {
    async fn call(&self, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, v)
    }

    /// What Claude Code sends for its picker: `x-api-key` and `anthropic-version`.
    async fn picker(&self, query: &str) -> Value {
        let req = Request::get(format!("/v1/models{query}"))
            .header("x-api-key", "anything")
            .header("anthropic-version", "2023-06-01")
            .body(Body::empty())
            .unwrap();
        let (status, _, v) = self.call(req).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    fn upstream_paths(&self) -> Vec<String> {
        self.upstream.calls().into_iter().map(|c| c.path).collect()
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn messages(model: &str) -> Request<Body> {
    Request::post("/v1/messages?beta=true")
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(Body::from(
            json!({"model": model, "max_tokens": 100,
                "messages": [{"role": "user", "content": "Hello"}]})
            .to_string(),
        ))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_picker_lists_tiers_and_each_generating_model_in_anthropics_shape() {
    let h = house().await;
    let page = h.picker("?limit=1000").await;
    assert_eq!(
        ids(&page),
        [
            "claude-opus-gateway",
            "claude-sonnet-gateway",
            "claude-haiku-gateway",
            "claude-gemini-3.1-pro-preview",
            "claude-gemini-3.8-flash",
        ]
    );
    assert_eq!(page["has_more"], false);
    assert_eq!(page["first_id"], "claude-opus-gateway");
    assert_eq!(page["last_id"], "claude-gemini-3.8-flash");
    for model in page["data"].as_array().unwrap() {
        assert_eq!(model["type"], "model");
        let created = model["created_at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(created).is_ok(),
            "{created}"
        );
        let keys: Vec<&String> = model.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{model}");
    }
    // Each display name says which Gemini model serves it (the tiers: the catalog's choice).
    assert_eq!(
        page["data"][4]["display_name"],
        "Gemini 3.8 Flash (gemini-3.8-flash, via gemini-gateway)"
    );
    let sonnet = page["data"][1]["display_name"].as_str().unwrap();
    assert!(sonnet.contains("gemini-3.1-pro-preview"), "{sonnet}");
    let haiku = page["data"][2]["display_name"].as_str().unwrap();
    assert!(haiku.contains("gemini-3.8-flash"), "{haiku}");
    // Nothing was asked of Gemini: the list is the catalog's.
    assert!(h.upstream_paths().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_picker_pages_by_limit_after_id_and_before_id() {
    let h = house().await;
    let first = h.picker("?limit=2").await;
    assert_eq!(
        ids(&first),
        ["claude-opus-gateway", "claude-sonnet-gateway"]
    );
    assert_eq!(first["has_more"], true);
    let next = h.picker("?limit=2&after_id=claude-sonnet-gateway").await;
    assert_eq!(
        ids(&next),
        ["claude-haiku-gateway", "claude-gemini-3.1-pro-preview"]
    );
    assert_eq!(next["has_more"], true);
    let last = h
        .picker("?limit=2&after_id=claude-gemini-3.1-pro-preview")
        .await;
    assert_eq!(ids(&last), ["claude-gemini-3.8-flash"]);
    assert_eq!(last["has_more"], false);
    let before = h
        .picker("?limit=2&before_id=claude-gemini-3.1-pro-preview")
        .await;
    assert_eq!(
        ids(&before),
        ["claude-sonnet-gateway", "claude-haiku-gateway"]
    );
    assert_eq!(before["has_more"], true);
    // Twenty by default, as Anthropic pages.
    assert_eq!(ids(&h.picker("").await).len(), 5);
}

#[tokio::test(start_paused = true)]
async fn other_callers_keep_their_own_list_shapes() {
    let h = house().await;
    let openai = Request::get("/v1/models")
        .header("authorization", "Bearer sk-x")
        .body(Body::empty())
        .unwrap();
    let (status, _, v) = h.call(openai).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "gemini-3.1-pro-preview");
    let google = Request::get("/v1/models").body(Body::empty()).unwrap();
    let (status, _, v) = h.call(google).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["models"].is_array(), "{v}");
    assert!(v.get("has_more").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_claude_id_from_the_picker_is_described_and_served_by_its_gemini_model() {
    let h = house().await;
    let one = Request::get("/v1/models/claude-gemini-3.1-pro-preview")
        .header("anthropic-version", "2023-06-01")
        .body(Body::empty())
        .unwrap();
    let (status, _, v) = h.call(one).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], "claude-gemini-3.1-pro-preview");
    assert_eq!(v["type"], "model");

    let (status, headers, v) = h.call(messages("claude-gemini-3.1-pro-preview")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["model"], "claude-gemini-3.1-pro-preview");
    assert_eq!(headers["x-gateway-served-model"], "gemini-3.1-pro-preview");
    assert_eq!(
        h.upstream_paths(),
        ["/v1beta/models/gemini-3.1-pro-preview:generateContent"]
    );

    let (status, _, v) = h.call(messages("claude-gemini-3.9-flash")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["type"], "not_found_error");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("claude-gemini-3.9-flash"), "{message}");
    assert!(message.contains("claude-gemini-3.8-flash"), "{message}");
    assert_eq!(h.upstream_paths().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn newer_fields_unknown_fields_and_any_beta_header_are_accepted() {
    let h = house().await;
    let body = json!({"model": "claude-gemini-3.8-flash", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"},
            {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 30000}}]},
        "container": {"id": "c1"}, "mcp_servers": [], "service_tier": "auto",
        "speed": "fast", "a_field_from_next_year": {"nested": [1, 2, 3]}});
    let req = Request::post("/v1/messages?beta=true")
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,\
             a-beta-nobody-knows-2027-01-01",
        )
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, v) = h.call(req).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["content"][0]["text"], "Hi");
}
