//! Black-box: the pool schedules ahead against the strict mock's per-project quotas. The
//! overload of the issue (3 Google projects × 2 keys, 4 requests a minute per project and model,
//! one request every 2 s for 90 s) is run with the projects declared, with the gateway learning
//! them, and with two gateways sharing Redis; each is held to an all-knowing scheduler computed
//! here, and to few upstream 429s. A `limit: 0` key is left alone. The scheduler is tested
//! alone (`QUEUE_MAX_WAIT=0`), so that every refusal it knows of comes at once; waiting for a key
//! instead is `tests/queue.rs`'s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_gemini::{QuotaConfig, QuotaLimit};
use support::redis_server::RedisServer;
use support::*;

const FLASH: &str = "gemini-3.8-flash";
const RPM: u64 = 4;
const PROJECTS: [&str; 3] = ["proj-a", "proj-b", "proj-c"];
const EVERY: Duration = Duration::from_secs(2);
const FOR: Duration = Duration::from_secs(90);

/// Six keys, two per project, and the mock's quotas for them.
fn projects(mock: &MockGemini) -> Vec<(String, &'static str)> {
    let ks = keys(6);
    let owned: Vec<(String, &'static str)> = ks
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), PROJECTS[i / 2]))
        .collect();
    mock.set_quotas(QuotaConfig {
        projects: owned
            .iter()
            .map(|(k, p)| (k.clone(), p.to_string()))
            .collect(),
        limits: vec![QuotaLimit {
            project: "*".into(),
            model: FLASH.into(),
            rpm: Some(RPM),
            tpm: None,
            rpd: None,
        }],
        ..QuotaConfig::default()
    });
    owned
}

/// How many of the arrivals an all-knowing scheduler serves: each project admits a request
/// while fewer than `RPM` of its admitted ones are younger than 60 s.
fn oracle(arrivals: &[Duration]) -> usize {
    let mut admitted: Vec<Vec<Duration>> = vec![Vec::new(); PROJECTS.len()];
    let mut served = 0;
    for &t in arrivals {
        let free = admitted.iter_mut().find(|w| {
            w.iter()
                .filter(|&&a| t.saturating_sub(a) < Duration::from_secs(60))
                .count()
                < RPM as usize
        });
        if let Some(w) = free {
            w.push(t);
            served += 1;
        }
    }
    served
}

#[derive(Debug, Default)]
struct Outcome {
    served: usize,
    refused: usize,
    slow_refusals: usize,
    refusals_without_retry_after: usize,
    other: Vec<u16>,
}

/// The scheduler alone: no request waits for a key (a refusal is the 503 at once).
const NO_WAITING: (&str, &str) = ("QUEUE_MAX_WAIT", "0");

/// One request every `EVERY` for `FOR`, alternating over `gateways`.
async fn overload(gateways: &[&Gateway]) -> Outcome {
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let started = Instant::now();
    let mut tick = tokio::time::interval(EVERY);
    let mut tasks = Vec::new();
    let mut i = 0;
    while started.elapsed() < FOR {
        tick.tick().await;
        let url =
            gateways[i % gateways.len()].url(&format!("/v1beta/models/{FLASH}:generateContent"));
        i += 1;
        let outcome = outcome.clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let resp = client().post(url).json(&hello_body()).send().await.unwrap();
            let took = sent.elapsed();
            let mut o = outcome.lock().unwrap();
            match resp.status().as_u16() {
                200 => o.served += 1,
                429 | 503 => {
                    o.refused += 1;
                    if took > Duration::from_secs(1) {
                        o.slow_refusals += 1;
                    }
                    if !resp.headers().contains_key("retry-after") {
                        o.refusals_without_retry_after += 1;
                    }
                }
                other => o.other.push(other),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(outcome).unwrap().into_inner().unwrap()
}

fn arrivals() -> Vec<Duration> {
    (0..).map(|i| EVERY * i).take_while(|t| *t < FOR).collect()
}

fn upstream_429s(mock: &MockGemini) -> usize {
    model_calls(mock).iter().filter(|r| r.status == 429).count()
}

#[expect(clippy::print_stderr, reason = "the figures are the test's report")]
fn check(outcome: &Outcome, mock: &MockGemini, max_429_per_served: f64) {
    let best = oracle(&arrivals());
    let rate = upstream_429s(mock) as f64 / outcome.served.max(1) as f64;
    eprintln!(
        "served {} of {} arrivals (oracle {best}); upstream 429s {} = {rate:.3} per served; {outcome:?}",
        outcome.served,
        arrivals().len(),
        upstream_429s(mock)
    );
    assert!(
        outcome.served as f64 >= 0.9 * best as f64,
        "served {} < 90 % of {best}",
        outcome.served
    );
    assert!(
        rate <= max_429_per_served,
        "{rate:.3} upstream 429s per served request"
    );
    assert!(outcome.other.is_empty(), "{outcome:?}");
    assert_eq!(outcome.slow_refusals, 0, "every refusal is prompt");
    assert_eq!(
        outcome.refusals_without_retry_after, 0,
        "every refusal has Retry-After"
    );
}

#[tokio::test]
async fn declared_projects_are_paced_to_their_quota() {
    let mock = MockGemini::start().await.unwrap();
    let owned = projects(&mock);
    let declared: Vec<String> = owned.iter().map(|(k, p)| format!("{p}:{k}")).collect();
    let gw = Gateway::start(&mock, &declared, &[NO_WAITING]).await;
    let outcome = overload(&[&gw]).await;
    check(&outcome, &mock, 0.15);
    let status = gw.status().await;
    let group = &status["groups"][0];
    assert_eq!(group["declared"], true);
    assert_eq!(group["models"][FLASH]["rpm"]["limit"], RPM, "{status}");
}

#[tokio::test]
async fn undeclared_projects_are_learned_once() {
    let mock = MockGemini::start().await.unwrap();
    let owned = projects(&mock);
    let ks: Vec<String> = owned.iter().map(|(k, _)| k.clone()).collect();
    let gw = Gateway::start(&mock, &ks, &[NO_WAITING]).await;
    let outcome = overload(&[&gw]).await;
    check(&outcome, &mock, 0.35);
    // Each project's two keys were found to be one group.
    let status = gw.status().await;
    let group_of = |k: &str| key_view(&status, k)["group"].as_str().unwrap().to_string();
    let mut groups: HashMap<String, Vec<&str>> = HashMap::new();
    for (k, p) in &owned {
        groups.entry(group_of(k)).or_default().push(p);
    }
    assert_eq!(groups.len(), 3, "{groups:?}");
    for members in groups.values() {
        assert_eq!(members.len(), 2);
        assert_eq!(members[0], members[1]);
    }
}

#[tokio::test]
async fn two_gateways_on_one_redis_pace_together() {
    let mock = MockGemini::start().await.unwrap();
    let redis = RedisServer::start();
    let owned = projects(&mock);
    let declared: Vec<String> = owned.iter().map(|(k, p)| format!("{p}:{k}")).collect();
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", "pace".to_string()),
        (NO_WAITING.0, NO_WAITING.1.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Gateway::start(&mock, &declared, &env).await;
    let b = Gateway::start(&mock, &declared, &env).await;
    let outcome = overload(&[&a, &b]).await;
    check(&outcome, &mock, 0.15);
}

#[tokio::test]
async fn a_key_without_quota_for_a_model_is_asked_at_most_twice() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    // The first key's tier has `quotaValue: 0`; the second's 429 says "limit: 0" only in its
    // message, with a 3 s RetryInfo (which alone would have it asked every 3 s).
    mock.script(mock_gemini::Rule {
        key: ks[1].clone(),
        model: Some(FLASH.into()),
        times: None,
        behaviour: mock_gemini::Behaviour::NoQuotaInMessage {
            retry_delay: "3s".into(),
        },
    });
    mock.set_quotas(QuotaConfig {
        projects: HashMap::from([(ks[0].clone(), "no-quota".to_string())]),
        limits: vec![QuotaLimit {
            project: "no-quota".into(),
            model: FLASH.into(),
            rpm: Some(0),
            tpm: None,
            rpd: None,
        }],
        ..QuotaConfig::default()
    });
    let gw = Gateway::start(&mock, &ks, &[]).await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        assert_eq!(generate(&gw, FLASH).await.status(), 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (k, how) in [(&ks[0], "in quotaValue"), (&ks[1], "in the message")] {
        let asked = keys_used(&mock).iter().filter(|u| *u == k).count();
        assert!(
            asked <= 2,
            "the key with limit 0 {how} was asked {asked} times"
        );
    }
    assert!(keys_used(&mock).len() > 50);
}
