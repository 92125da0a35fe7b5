//! Requests as traces, through the whole router on a scripted upstream, recorded by the SDK's
//! in-memory exporter: one SERVER span per request under the client's `traceparent`, one CLIENT
//! span per attempt carrying the routing decision, and no key in any attribute.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use tower::ServiceExt;

use super::router;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::pool::{Clock, KeyPool};
use crate::secret::ApiKey;
use crate::store::Backend;
use crate::telemetry::trace::Traces;
use crate::telemetry::Telemetry;
use crate::upstream::scripted::{Reply, Scripted};

struct House {
    router: Router,
    keys: Vec<ApiKey>,
    upstream: Arc<Scripted>,
    spans: InMemorySpanExporter,
}

async fn house(n: usize) -> House {
    let secrets: Vec<String> = (0..n)
        .map(|i| format!("AIzaSyTraceTestKey{i:02}xxxxxxxxxxxxxxxxxx"))
        .collect();
    let vars = HashMap::from([
        ("GEMINI_API_KEY".to_string(), secrets.join(",")),
        ("SMALL_MODEL".to_string(), "gemini-3.8-flash".to_string()),
    ]);
    let config = Config::from_vars(&vars).unwrap();
    let keys = config.keys.clone();
    let clock = Clock::starting_at(1_780_000_000_000);
    let pool = KeyPool::open(
        keys.clone(),
        &config.quota,
        config.key_cooldown,
        clock,
        Backend::Volatile,
    )
    .await
    .unwrap();
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let traces = Traces::with_provider(provider);
    let telemetry = Telemetry::with_traces(Backend::Volatile, clock, Some(traces));
    let upstream = Arc::new(Scripted::default());
    let dispatcher = Dispatcher::new(Arc::new(pool), upstream.clone(), config.request_timeout)
        .with_telemetry(telemetry);
    House {
        router: router(Arc::new(config), dispatcher),
        keys,
        upstream,
        spans,
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn text(span: &SpanData, key: &str) -> String {
    attr(span, key)
        .map(|v| v.as_str().into_owned())
        .unwrap_or_default()
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_failover_is_one_server_span_with_a_client_span_per_attempt_and_no_key() {
    let h = house(2).await;
    // Google's answer to a revoked key, its message naming the key (it must not travel on).
    let refused = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
        "message": format!("API key not valid: {}", h.keys[0].expose()),
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}});
    h.upstream.on(
        &h.keys[0],
        [Reply::Answer(StatusCode::BAD_REQUEST, refused.to_string())],
    );
    let body = json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}]});
    let req = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .header("traceparent", PARENT)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().collect().await.unwrap();
    assert_eq!(
        h.upstream.keys_called(),
        [h.keys[0].id(), h.keys[1].id()],
        "the revoked key first, then the good one"
    );

    let spans = h.spans.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(server.len(), 1);
    let server = server[0];
    assert_eq!(server.name, "chat gemini-3.8-flash");
    assert_eq!(
        server.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        server.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    for (k, v) in [
        ("gen_ai.system", "gemini"),
        ("gen_ai.provider.name", "gcp.gemini"),
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "gemini-3.8-flash"),
        ("gen_ai.response.model", "gemini-3.8-flash"),
        ("gateway.surface", "anthropic"),
        ("gateway.client", "anonymous"),
    ] {
        assert_eq!(text(server, k), v, "{k}");
    }
    assert_eq!(
        attr(server, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    assert_eq!(attr(server, "gateway.attempts"), Some(&Value::I64(2)));
    assert!(attr(server, "gen_ai.usage.input_tokens").is_some());
    assert!(attr(server, "gen_ai.usage.output_tokens").is_some());

    let mut attempts: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    attempts.sort_by_key(|s| s.start_time);
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(a.parent_span_id, server.span_context.span_id());
        assert_eq!(a.span_context.trace_id(), server.span_context.trace_id());
        assert!(a.start_time >= server.start_time && a.end_time <= server.end_time);
        assert_eq!(text(a, "gateway.pick.reason"), "round_robin");
        assert!(!text(a, "gateway.project_group").is_empty());
    }
    let (failed, served) = (attempts[0], attempts[1]);
    assert_eq!(text(failed, "gateway.key.id"), h.keys[0].id());
    assert_eq!(text(failed, "gateway.attempt.outcome"), "key_rejected");
    assert_eq!(text(failed, "gateway.attempt.failure"), "key_invalid");
    assert_eq!(attr(failed, "gateway.previous_failure"), None);
    assert_eq!(text(served, "gateway.key.id"), h.keys[1].id());
    assert_eq!(text(served, "gateway.attempt.outcome"), "ok");
    assert_eq!(attr(served, "gateway.attempt.failure"), None);
    assert_eq!(text(served, "gateway.previous_failure"), "key_invalid");

    // No key, whole or in part (its masked form's ends), in any attribute of any span.
    for span in &spans {
        for kv in &span.attributes {
            let v = kv.value.as_str();
            for key in &h.keys {
                assert!(!v.contains(key.expose()), "{} = {v}", kv.key);
                assert!(!v.contains(&key.expose()[..12]), "{} = {v}", kv.key);
            }
        }
    }
}

#[tokio::test]
async fn a_native_call_without_traceparent_is_a_root_span_and_the_status_page_no_span() {
    let h = house(1).await;
    let req = Request::get("/v1/keys/status").body(Body::empty()).unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    resp.into_body().collect().await.unwrap();
    // The status page is the house's own, not a surface: it is not observed, so not traced.
    assert!(h.spans.get_finished_spans().unwrap().is_empty());
    let req = Request::post("/v1beta/models/gemini-3.8-flash:generateContent")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}).to_string(),
        ))
        .unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    resp.into_body().collect().await.unwrap();
    let spans = h.spans.get_finished_spans().unwrap();
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.name, "generate_content gemini-3.8-flash");
    assert_eq!(
        server.parent_span_id,
        SpanId::INVALID,
        "no traceparent: a root"
    );
    assert_eq!(text(server, "gateway.surface"), "gemini");
}
