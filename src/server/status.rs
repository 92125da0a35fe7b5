//! Operator views: `/health` (liveness and a one-line pool summary, no key material) and
//! `/v1/keys/status` in the seed proxy's shape, extended with a detailed `keys` array. Keys
//! appear only masked and by their short id.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::models::Models;
use crate::pool::{iso8601, Headroom, KeyHealth, KeyPool, PoolSnapshot};
use crate::telemetry::Telemetry;

/// What the gateway's own endpoints read and change.
#[derive(Debug, Clone)]
pub struct Ops {
    pub pool: Arc<KeyPool>,
    pub telemetry: Arc<Telemetry>,
    pub models: Arc<Models>,
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn metrics(State(ops): State<Ops>) -> Response {
    let text = ops.telemetry.metrics.render(&ops.pool.snapshot());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /v1/requests`: the last requests answered, newest first (metadata only).
pub async fn recent(State(ops): State<Ops>) -> Json<Value> {
    Json(json!({ "requests": ops.telemetry.recent.list() }))
}

pub async fn health(State(ops): State<Ops>) -> Json<Value> {
    let snap = ops.pool.snapshot();
    let (available, cooling, disabled) = counts(&snap);
    let backend = ops.pool.backend_status();
    Json(json!({
        "status": "ok",
        "pool": format!("{available} of {} keys available, {cooling} cooling, {disabled} disabled", snap.keys.len()),
        "state_backend": format!("{} ({})", backend.backend, if backend.healthy { "healthy" } else { "unreachable: serving from local view" }),
    }))
}

pub async fn keys_status(State(ops): State<Ops>) -> Json<Value> {
    ops.pool.refresh().await;
    let mut body = status_body(&ops.pool.snapshot());
    body["backend"] = json!(ops.pool.backend_status());
    body["models"] = ops.models.status();
    Json(body)
}

fn counts(snap: &PoolSnapshot) -> (usize, usize, usize) {
    (
        snap.count(|h| matches!(h, KeyHealth::Available)),
        snap.count(|h| matches!(h, KeyHealth::Cooling { .. } | KeyHealth::Billing { .. })),
        snap.count(|h| matches!(h, KeyHealth::Disabled(_))),
    )
}

/// The seed's `/v1/keys/status` body plus `keys`.
pub fn status_body(snap: &PoolSnapshot) -> Value {
    let mut available = Vec::new();
    let mut temporarily = BTreeMap::new();
    let mut permanently = Vec::new();
    let mut keys = Vec::new();
    for k in &snap.keys {
        let (state, reason, since) = match &k.health {
            KeyHealth::Available => {
                available.push(k.masked.clone());
                ("available", None, None)
            }
            KeyHealth::Cooling { until } => {
                temporarily.insert(k.masked.clone(), iso8601(*until));
                ("cooling", None, None)
            }
            KeyHealth::Billing { until } => {
                temporarily.insert(k.masked.clone(), iso8601(*until));
                ("billing", None, None)
            }
            KeyHealth::Disabled(d) => {
                permanently.push(k.masked.clone());
                ("disabled", Some(d.reason.clone()), Some(iso8601(d.since)))
            }
        };
        let cooldowns: BTreeMap<&str, String> = k
            .cooldowns
            .iter()
            .map(|(m, &t)| (m.as_str(), iso8601(t)))
            .collect();
        let ejections: BTreeMap<&str, Value> = k
            .ejections
            .iter()
            .map(|(m, e)| {
                (
                    m.as_str(),
                    json!({"times": e.times, "until": iso8601(e.until), "probing": e.probing}),
                )
            })
            .collect();
        let billing = match k.health {
            KeyHealth::Billing { until } => {
                json!({"reason": k.last_error, "until": iso8601(until)})
            }
            _ => Value::Null,
        };
        keys.push(json!({
            "id": k.id,
            "key": k.masked,
            "group": k.group,
            "state": state,
            "billing": billing,
            "lacking_models": k.lacking,
            "evidence": {
                "cooldowns": k.evidence.cooldowns,
                "ejections": k.evidence.ejections,
                "lacking": k.evidence.lacking,
                "group": k.evidence.group,
            },
            "model_rules": k.model_rules,
            "disabled_reason": reason,
            "disabled_since": since,
            "cooldowns": cooldowns,
            "ejections": ejections,
            "last_error": k.last_error,
            "requests": k.requests,
            "failures": k.failures,
        }));
    }
    let groups: Vec<Value> = snap
        .groups
        .iter()
        .map(|g| {
            let models: BTreeMap<&str, Value> = g
                .models
                .iter()
                .map(|(m, h)| (m.as_str(), headroom(h)))
                .collect();
            json!({"name": g.name, "declared": g.declared, "keys": g.keys, "models": models,
                   "learned_limits": g.limit_evidence})
        })
        .collect();
    let overloaded: BTreeMap<&str, String> = snap
        .overloaded
        .iter()
        .map(|(m, &t)| (m.as_str(), iso8601(t)))
        .collect();
    let (a, t, p) = counts(snap);
    json!({
        "available_keys": available,
        "temporarily_disabled_keys": temporarily,
        "permanently_disabled_keys": permanently,
        "summary": {
            "total": snap.keys.len(),
            "available": a,
            "temporarily_disabled": t,
            "permanently_disabled": p,
        },
        "keys": keys,
        "groups": groups,
        "overloaded_models": overloaded,
        "checked_at": iso8601(snap.now),
    })
}

/// A group's limits for one model and what is left of each.
fn headroom(h: &Headroom) -> Value {
    let left = |limit: Option<u64>, used: u64| {
        limit.map(|l| json!({"limit": l, "used": used, "left": l.saturating_sub(used)}))
    };
    json!({
        "rpm": left(h.limits.rpm, h.sent_last_minute),
        "tpm": left(h.limits.tpm, h.tokens_last_minute),
        "rpd": left(h.limits.rpd, h.sent_today),
    })
}
