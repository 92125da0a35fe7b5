//! Black-box: the pool is never wrong about its keys. The cases as a new user meets them:
//! two keys of two projects refused at the same second are not taken for one project; a failure
//! that follows one kind of request from key to key ejects neither key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use support::*;

const FLASH: &str = "gemini-3.8-flash";
const PRO: &str = "gemini-3.1-pro-preview";

#[tokio::test]
async fn one_coincidence_does_not_merge_two_projects_and_a_key_keeps_the_models_it_serves() {
    // Three keys of three projects: A is out of its per-minute quota on every model, B only on
    // Pro, C is healthy.
    let Scenario { mock, keys: ks, gw } = Scenario::keys(3).start().await;
    let (a, b, c) = (&ks[0], &ks[1], &ks[2]);
    mock.script(rule(a, None, None, per_minute("7s")));
    mock.script(rule(b, Some(PRO), None, per_minute("7s")));
    for _ in 0..3 {
        let resp = generate(&gw, PRO).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    mock.clear_requests();
    for _ in 0..6 {
        let resp = generate(&gw, FLASH).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let served = |k: &String| {
        model_calls(&mock)
            .iter()
            .filter(|r| r.status == 200 && r.api_key.as_deref() == Some(k.as_str()))
            .count()
    };
    assert!(
        served(b) >= 2,
        "B served {} of six Flash requests (C {})",
        served(b),
        served(c)
    );
    let status = gw.status().await;
    let group_of = |k: &str| key_view(&status, k)["group"].as_str().unwrap().to_string();
    assert_ne!(group_of(a), group_of(b), "{status}");
    assert!(
        key_view(&status, b)["cooldowns"].get(FLASH).is_none(),
        "B never failed on Flash: {status}"
    );
}

/// Whether an ejection (as the status page shows it) holds its key out now.
fn is_out(e: &serde_json::Value) -> bool {
    let until = chrono::DateTime::parse_from_rfc3339(e["until"].as_str().unwrap()).unwrap();
    e["probing"] == true || until.timestamp_millis() > wall_clock_ms()
}

#[tokio::test]
async fn a_request_the_upstream_drops_on_every_key_ejects_no_key() {
    // Two healthy keys; one kind of request makes the upstream drop the connection whichever key
    // sends it, every 1.5 s for 15 s. Ordinary requests keep flowing meanwhile and are served; the
    // failure follows the request, so neither key is ever ejected (and so never both).
    let Scenario { mock, keys: ks, gw } = Scenario::keys(2).start().await;
    for k in &ks {
        mock.script(rule(
            k,
            None,
            None,
            Behaviour::Disconnect {
                body_contains: Some("poison pill".into()),
            },
        ));
    }
    let poison =
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "a poison pill"}]}]});
    let url = gw.url(&format!("/v1beta/models/{FLASH}:generateContent"));
    let started = Instant::now();
    let mut next_poison = started;
    let (mut ordinary, mut poisoned) = (0, 0);
    while started.elapsed() < Duration::from_secs(15) {
        if Instant::now() >= next_poison {
            let resp = client().post(&url).json(&poison).send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            assert_ne!(status, 200, "the poison is never answered");
            assert!(
                !text.contains("rate-limited or disabled"),
                "no key is rate-limited or disabled: {status} {text}"
            );
            poisoned += 1;
            next_poison += Duration::from_millis(1_500);
        }
        let resp = generate(&gw, FLASH).await;
        let status = resp.status();
        assert_eq!(status, 200, "{}", resp.text().await.unwrap());
        ordinary += 1;
        let snapshot = gw.status().await;
        let ejected = ks
            .iter()
            .filter(|k| {
                key_view(&snapshot, k)["ejections"]
                    .get(FLASH)
                    .is_some_and(is_out)
            })
            .count();
        assert_eq!(ejected, 0, "the failure is the request's: {snapshot}");
    }
    assert!(poisoned >= 10 && ordinary >= 50, "{poisoned} / {ordinary}");
}

#[tokio::test]
async fn a_key_whose_tier_lacks_a_model_keeps_the_others_and_operators_can_say_so() {
    const ADMIN: &str = "admin-secret-for-tests";
    let Scenario { mock, keys: ks, gw } =
        Scenario::keys(2).env("ADMIN_API_KEY", ADMIN).start().await;
    // Key 0's project does not have Pro, although the catalog (listed by both) names it.
    mock.script(rule(&ks[0], Some(PRO), None, Behaviour::ModelNotFound));
    for _ in 0..6 {
        let resp = generate(&gw, PRO).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let asked = |model: &str, k: &String| {
        model_calls(&mock)
            .iter()
            .filter(|r| r.model.as_deref() == Some(model) && r.api_key.as_deref() == Some(k))
            .count()
    };
    assert_eq!(asked(PRO, &ks[0]), 1, "asked once, then known to lack it");
    for _ in 0..6 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    assert_eq!(asked(FLASH, &ks[0]), 3, "it keeps its share of Flash");
    let status = gw.status().await;
    let k0 = key_view(&status, &ks[0]);
    assert!(k0["evidence"]["lacking"].get(PRO).is_some(), "{status}");
    assert_eq!(k0["state"], "available");

    // The operator keeps key 1 from Flash and gives key 0 twice the turns.
    let id = |k: &String| key_view(&status, k)["id"].as_str().unwrap().to_string();
    let admin = |method: reqwest::Method, k: &String| {
        client()
            .request(method, gw.url(&format!("/admin/keys/{}/models", id(k))))
            .header("x-goog-api-key", ADMIN)
    };
    let resp = admin(reqwest::Method::PUT, &ks[1])
        .json(&serde_json::json!({"exclude_models": ["gemini-3.8-*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let bad = admin(reqwest::Method::PUT, &ks[0])
        .json(&serde_json::json!({"weight": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    mock.clear_requests();
    for _ in 0..4 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    assert_eq!(asked(FLASH, &ks[1]), 0, "excluded by the operator");
    let status = gw.status().await;
    assert_eq!(
        key_view(&status, &ks[1])["model_rules"]["exclude_models"][0],
        "gemini-3.8-*"
    );
    let reset = admin(reqwest::Method::DELETE, &ks[1]).send().await.unwrap();
    assert_eq!(reset.status(), 200);
    for _ in 0..4 {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
    }
    assert_eq!(asked(FLASH, &ks[1]), 2, "back in the rotation");
}

#[tokio::test]
async fn the_status_page_shows_each_decisions_evidence_and_the_admin_api_takes_it_back() {
    const ADMIN: &str = "admin-secret-for-tests";
    let Scenario { mock, keys: ks, gw } =
        Scenario::keys(2).env("ADMIN_API_KEY", ADMIN).start().await;
    mock.script(rule(&ks[0], Some(FLASH), Some(1), per_minute("30s")));
    mock.script(rule(&ks[0], Some(PRO), None, Behaviour::ModelNotFound));
    let resp = client()
        .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .header("x-request-id", "evidence-req-1")
        .json(&hello_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(generate(&gw, PRO).await.status(), 200);
    let status = gw.status().await;
    let k0 = key_view(&status, &ks[0]);
    let id = k0["id"].as_str().unwrap().to_string();
    let cooldown = &k0["evidence"]["cooldowns"][FLASH];
    assert!(
        cooldown["words"]
            .as_str()
            .unwrap()
            .contains("429 You exceeded your current quota"),
        "{status}"
    );
    assert_eq!(cooldown["request_id"], "evidence-req-1");
    assert!(cooldown["at"].as_str().unwrap().ends_with('Z'));
    assert!(k0["evidence"]["lacking"][PRO]["words"]
        .as_str()
        .unwrap()
        .contains("is not found"));
    assert!(
        !status.to_string().contains(&ks[0]),
        "no whole key on the page"
    );

    let admin = |path: String| {
        client()
            .post(gw.url(&path))
            .header("x-goog-api-key", ADMIN)
            .send()
    };
    let cleared = admin(format!("/admin/keys/{id}/clear-cooldown"))
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let forgot = admin(format!("/admin/keys/{id}/forget-lacking?model={PRO}"))
        .await
        .unwrap();
    assert_eq!(forgot.status(), 200);
    for path in [
        format!("/admin/keys/{id}/heal"),
        format!("/admin/keys/{id}/ungroup"),
    ] {
        assert_eq!(admin(path).await.unwrap().status(), 200);
    }
    assert_eq!(
        admin("/admin/groups/no-such-group/forget-limits".into())
            .await
            .unwrap()
            .status(),
        404
    );
    let status = gw.status().await;
    let k0 = key_view(&status, &ks[0]);
    assert!(k0["evidence"]["cooldowns"].as_object().unwrap().is_empty());
    assert!(k0["evidence"]["lacking"].as_object().unwrap().is_empty());
    // Asked for Pro again now.
    mock.clear_requests();
    for _ in 0..2 {
        assert_eq!(generate(&gw, PRO).await.status(), 200);
    }
    assert!(keys_used(&mock).contains(&ks[0]));
}
