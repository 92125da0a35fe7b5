//! Black-box: client keys on every surface in every credential style, the refusal to listen
//! beyond loopback unprotected, and each admin action (and that client keys cannot use them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use support::*;

const CLIENT: &str = "client-secret-one";
const ADMIN: &str = "admin-secret-xyz";
const FLASH: &str = "gemini-3.8-flash";

fn anthropic_body() -> Value {
    json!({"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]})
}

/// (method, path, body) for one request on each guarded surface.
fn endpoints() -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::POST, "/v1/messages".into(), Some(anthropic_body())),
        (
            Method::POST,
            "/v1/messages/count_tokens".into(),
            Some(anthropic_body()),
        ),
        (
            Method::POST,
            format!("/v1beta/models/{FLASH}:generateContent"),
            Some(hello_body()),
        ),
        (
            Method::POST,
            format!("/v1/models/{FLASH}:countTokens"),
            Some(hello_body()),
        ),
        (Method::GET, "/v1beta/models".into(), None),
        (Method::GET, "/v1/keys/status".into(), None),
    ]
}

fn build(gw: &Gateway, method: &Method, path: &str, body: &Option<Value>) -> RequestBuilder {
    let mut r = client().request(method.clone(), gw.url(path));
    if let Some(b) = body {
        r = r.json(b);
    }
    r
}

#[tokio::test]
async fn every_surface_accepts_every_credential_style_and_refuses_the_rest() {
    let Scenario { mock, gw, .. } = Scenario::keys(1)
        .envs(&[("GATEWAY_API_KEYS", &format!("other-key,{CLIENT}"))])
        .start()
        .await;
    for (method, path, body) in endpoints() {
        let styles: Vec<(&str, RequestBuilder)> = vec![
            (
                "x-api-key",
                build(&gw, &method, &path, &body).header("x-api-key", CLIENT),
            ),
            (
                "bearer",
                build(&gw, &method, &path, &body)
                    .header("authorization", format!("Bearer {CLIENT}")),
            ),
            (
                "x-goog-api-key",
                build(&gw, &method, &path, &body).header("x-goog-api-key", CLIENT),
            ),
            ("?key=", {
                let sep = if path.contains('?') { '&' } else { '?' };
                build(&gw, &method, &format!("{path}{sep}key={CLIENT}"), &body)
            }),
        ];
        for (style, req) in styles {
            let resp = req.send().await.unwrap();
            assert!(
                resp.status().is_success(),
                "{path} with {style}: {}",
                resp.status()
            );
        }
        let anthropic = path.starts_with("/v1/messages");
        for (what, req) in [
            ("none", build(&gw, &method, &path, &body)),
            (
                "wrong",
                build(&gw, &method, &path, &body).header("x-api-key", "client-secret-on"),
            ),
            (
                "admin key is not a client key",
                build(&gw, &method, &path, &body).header("x-api-key", ADMIN),
            ),
        ] {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path} {what}");
            let err: Value = resp.json().await.unwrap();
            if anthropic {
                assert_eq!(err["type"], "error");
                assert_eq!(err["error"]["type"], "authentication_error");
            } else {
                assert_eq!(err["error"]["status"], "UNAUTHENTICATED", "{path}: {err}");
                assert_eq!(err["error"]["code"], 401);
            }
        }
    }
    // The client's credential never travels upstream.
    for r in mock.requests() {
        assert!(
            r.api_key.as_deref() == Some(key(0).as_str()),
            "{:?}",
            r.api_key
        );
        assert!(!r.query.unwrap_or_default().contains(CLIENT));
    }
    // /health stays open and says nothing about keys.
    let health = client().get(gw.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(!health.text().await.unwrap().contains(&key(0)[..12]));
}

#[tokio::test]
async fn listening_beyond_loopback_without_client_keys_is_refused_unless_allowed() {
    let mock = MockGemini::start().await.unwrap();
    let base = vec![
        ("GEMINI_API_KEY".to_string(), key(0)),
        ("GEMINI_BASE_URL".to_string(), mock.base_url()),
        ("PORT".to_string(), "0".to_string()),
        ("HOST".to_string(), "0.0.0.0".to_string()),
    ];
    let Err((code, out)) = Gateway::spawn(&base).await else {
        panic!("listened on 0.0.0.0 without GATEWAY_API_KEYS");
    };
    assert!(matches!(code, Some(c) if c != 0));
    assert!(
        out.contains("GATEWAY_API_KEYS") && out.contains("ALLOW_UNAUTHENTICATED"),
        "{out}"
    );

    let mut allowed = base.clone();
    allowed.push(("ALLOW_UNAUTHENTICATED".into(), "true".into()));
    assert!(Gateway::spawn(&allowed).await.is_ok());
    let mut keyed = base;
    keyed.push(("GATEWAY_API_KEYS".into(), CLIENT.into()));
    assert!(Gateway::spawn(&keyed).await.is_ok());
}

async fn admin(
    gw: &Gateway,
    method: Method,
    path: &str,
    body: Option<Value>,
    cred: &str,
) -> (StatusCode, Value) {
    let mut r = client()
        .request(method, gw.url(path))
        .header("authorization", format!("Bearer {cred}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn id_of(status: &Value, k: &str) -> String {
    status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == masked(k))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn admin_actions_change_the_running_pool_and_last_across_restarts() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("GATEWAY_API_KEYS", CLIENT),
        ("ADMIN_API_KEY", ADMIN),
        ("STATE_PATH", dir.path().to_str().unwrap()),
    ];
    let gw = Gateway::start(&mock, &ks[..2], &env).await;
    let status = |gw: &Gateway| {
        let url = gw.url("/v1/keys/status");
        async move {
            client()
                .get(url)
                .header("x-api-key", CLIENT)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let generate = |gw: &Gateway| {
        let url = gw.url(&format!("/v1beta/models/{FLASH}:generateContent"));
        async move {
            client()
                .post(url)
                .header("x-goog-api-key", CLIENT)
                .json(&hello_body())
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    // Client keys and strangers cannot use the admin API.
    for (cred, expected) in [
        (CLIENT, StatusCode::FORBIDDEN),
        ("nobody", StatusCode::UNAUTHORIZED),
    ] {
        for (m, p) in [
            (Method::GET, "/admin/keys"),
            (Method::POST, "/admin/keys"),
            (Method::DELETE, "/admin/keys/abc"),
            (Method::POST, "/admin/keys/abc/enable"),
            (Method::POST, "/admin/keys/abc/clear-cooldown"),
        ] {
            let (s, _) = admin(&gw, m, p, Some(json!({"key": ks[2]})), cred).await;
            assert_eq!(s, expected, "{p} with {cred}");
        }
    }

    // Add a key: it serves at once.
    let (s, added) = admin(
        &gw,
        Method::POST,
        "/admin/keys",
        Some(json!({"key": ks[2]})),
        ADMIN,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    assert_eq!(added["key"], masked(&ks[2]));
    assert!(!added.to_string().contains(&ks[2]));
    let (s, _) = admin(
        &gw,
        Method::POST,
        "/admin/keys",
        Some(json!({"key": ks[2]})),
        ADMIN,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    for _ in 0..3 {
        assert_eq!(generate(&gw).await, 200);
    }
    assert!(model_calls(&mock)
        .iter()
        .any(|r| r.api_key.as_deref() == Some(ks[2].as_str())));

    // Disable key 0 through the upstream, cool key 1; then re-enable and clear through the API.
    mock.script(rule(&ks[0], None, Some(1), Behaviour::KeyInvalid));
    mock.script(rule(&ks[1], None, Some(1), per_minute("900s")));
    for _ in 0..4 {
        assert_eq!(generate(&gw).await, 200);
    }
    let st = status(&gw).await;
    let (id0, id1, id2) = (id_of(&st, &ks[0]), id_of(&st, &ks[1]), id_of(&st, &ks[2]));
    assert_eq!(st["summary"]["permanently_disabled"], 1);
    let (s, v) = admin(
        &gw,
        Method::POST,
        &format!("/admin/keys/{id0}/enable"),
        None,
        ADMIN,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["state"], "available");
    let (s, v) = admin(
        &gw,
        Method::POST,
        &format!("/admin/keys/{id1}/clear-cooldown?model={FLASH}"),
        None,
        ADMIN,
    )
    .await;
    assert_eq!(s, 200);
    assert!(v["cooldowns"].as_object().unwrap().is_empty(), "{v}");
    // Remove key 2.
    let (s, _) = admin(
        &gw,
        Method::DELETE,
        &format!("/admin/keys/{id2}"),
        None,
        ADMIN,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = admin(&gw, Method::DELETE, "/admin/keys/000000000000", None, ADMIN).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    mock.clear_requests();
    for _ in 0..4 {
        assert_eq!(generate(&gw).await, 200);
    }
    let used: Vec<String> = model_calls(&mock)
        .into_iter()
        .map(|r| r.api_key.unwrap())
        .collect();
    assert!(
        used.contains(&ks[0]) && used.contains(&ks[1]),
        "re-enabled and cleared keys serve again: {used:?}"
    );
    assert!(!used.contains(&ks[2]), "a removed key is never used");
    assert_eq!(gw.terminate(), Some(0));

    // After a restart (same GEMINI_API_KEY, same state folder) every change holds.
    let gw = Gateway::start(&mock, &ks[..2], &env).await;
    let st = status(&gw).await;
    assert_eq!(st["summary"]["total"], 2, "{st}");
    assert_eq!(st["summary"]["available"], 2, "{st}");
    assert!(!st.to_string().contains(&masked(&ks[2])));
    // Re-adding brings it back, and that lasts too.
    let (s, _) = admin(
        &gw,
        Method::POST,
        "/admin/keys",
        Some(json!({"key": ks[2]})),
        ADMIN,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(gw.terminate(), Some(0));
    let gw = Gateway::start(&mock, &ks[..2], &env).await;
    assert_eq!(status(&gw).await["summary"]["total"], 3);
    let logs = gw.logs();
    for k in &ks {
        assert!(!logs.contains(k.as_str()));
    }
}

#[tokio::test]
async fn without_admin_api_key_the_admin_api_is_off() {
    let Scenario {
        mock: _mock, gw, ..
    } = Scenario::keys(1).start().await;
    let (s, body) = admin(&gw, Method::GET, "/admin/keys", None, "anything").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ADMIN_API_KEY"));
}
