//! The Redis store against a real `redis-server` that each test starts on a free loopback port
//! (no persistence, a temp dir) and kills at the end: fair round-robin across clients, the merge
//! rules (max deadline, first disable), what another gateway sees, failing fast while Redis is
//! down and recovering without being rebuilt (`redis_outages/`), and that nothing but ids and
//! models reaches Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod redis_outages;
mod support;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};
use support::redis_server::RedisServer as Server;

use gemini_gateway::store::redis::{RedisStore, RedisTimeouts};
use gemini_gateway::store::Change;

const PREFIX: &str = "gw-test";
const K1: &str = "aaaaaaaaaaa1";
const K2: &str = "bbbbbbbbbbb2";
const K3: &str = "ccccccccccc3";
const FLASH: &str = "gemini-3.8-flash";
const PRO: &str = "gemini-3.1-pro-preview";

fn now_ms() -> i64 {
    support::wall_clock_ms()
}

async fn store(server: &Server) -> RedisStore {
    RedisStore::connect(&server.url(), PREFIX, RedisTimeouts::default())
        .await
        .unwrap()
}

fn cooldown(key: &str, model: &str, until: i64) -> Change {
    Change::Cooldown {
        key_id: key.into(),
        model: model.into(),
        until,
    }
}

fn disable(key: &str, reason: &str, since: i64) -> Change {
    Change::Disable {
        key_id: key.into(),
        reason: reason.into(),
        since,
    }
}

async fn pick(store: &RedisStore, model: &str, preferred: Option<&str>) -> Option<String> {
    store
        .pick(model, &[K1, K2, K3], preferred, now_ms())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_exactly_fair_across_clients_in_candidate_order() {
    let server = Server::start();
    let (a, b) = (store(&server).await, store(&server).await);

    // Interleaved clients: the shared per-model counter walks the candidates in order.
    let mut seen = Vec::new();
    for i in 0..300 {
        let client = if i % 2 == 0 { &a } else { &b };
        seen.push(pick(client, FLASH, None).await.unwrap());
    }
    assert_eq!(seen[..6], [K1, K2, K3, K1, K2, K3]);
    let counts = count(&seen);
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        [100, 100, 100]
    );

    // Concurrently from tasks on both clients: still exactly N/K each.
    let mut tasks = Vec::new();
    for t in 0..6 {
        let client = if t % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..50 {
                got.push(pick(&client, FLASH, None).await.unwrap());
            }
            got
        }));
    }
    let mut concurrent = Vec::new();
    for task in tasks {
        concurrent.extend(task.await.unwrap());
    }
    let counts = count(&concurrent);
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        [100, 100, 100]
    );

    // Every pick counted a request for the chosen key.
    let state = a.load(&[K1, K2, K3]).await.unwrap();
    assert!(state.values().all(|k| k.requests == 200), "{state:?}");
}

fn count(ids: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_wins_while_usable() {
    let server = Server::start();
    let s = store(&server).await;
    for _ in 0..5 {
        assert_eq!(pick(&s, FLASH, Some(K3)).await.as_deref(), Some(K3));
    }
    // Affinity does not advance the round-robin: the first plain pick is still the first key.
    assert_eq!(pick(&s, FLASH, None).await.as_deref(), Some(K1));

    s.apply(&cooldown(K3, FLASH, now_ms() + 60_000), None)
        .await
        .unwrap();
    assert_eq!(pick(&s, FLASH, Some(K3)).await.as_deref(), Some(K2));
    // Still preferred for another model.
    assert_eq!(pick(&s, PRO, Some(K3)).await.as_deref(), Some(K3));

    s.apply(&disable(K3, "API_KEY_INVALID", 1), None)
        .await
        .unwrap();
    assert_ne!(pick(&s, PRO, Some(K3)).await.as_deref(), Some(K3));
    // An unknown preferred id (not a candidate) is ignored.
    assert!(pick(&s, PRO, Some("zzzzzzzzzzzz")).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_and_cooling_keys_are_skipped_per_model() {
    let server = Server::start();
    let s = store(&server).await;
    let now = now_ms();
    s.apply(&cooldown(K1, FLASH, now + 60_000), None)
        .await
        .unwrap();
    s.apply(&cooldown(K2, FLASH, now - 1), None).await.unwrap(); // already over
    s.apply(&disable(K3, "suspended", now), None).await.unwrap();

    let flash: BTreeSet<String> = collect(&s, FLASH, now, 20).await;
    assert_eq!(flash, BTreeSet::from([K2.to_owned()]));
    // The cooldown is scoped to FLASH: K1 is fine for PRO; K3 is out for every model.
    let pro = collect(&s, PRO, now, 20).await;
    assert_eq!(pro, BTreeSet::from([K1.to_owned(), K2.to_owned()]));
    // Once the deadline passes (caller's clock), K1 is usable for FLASH again.
    let later = collect(&s, FLASH, now + 60_000, 20).await;
    assert_eq!(later, BTreeSet::from([K1.to_owned(), K2.to_owned()]));

    s.apply(&cooldown(K2, FLASH, now + 1_000), None)
        .await
        .unwrap();
    assert_eq!(s.pick(FLASH, &[K1, K2, K3], None, now).await.unwrap(), None);
    assert_eq!(s.pick(FLASH, &[], None, now).await.unwrap(), None);
    // Only the candidates given are considered (the caller excludes keys already tried).
    assert_eq!(
        s.pick(PRO, &[K2], None, now).await.unwrap().as_deref(),
        Some(K2)
    );
}

async fn collect(s: &RedisStore, model: &str, now: i64, n: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for _ in 0..n {
        out.insert(
            s.pick(model, &[K1, K2, K3], None, now)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_deadline_only_moves_later_and_is_stored_absolute() {
    let server = Server::start();
    let s = store(&server).await;
    let now = now_ms();
    let deadline = |s: &RedisStore| {
        let s = s.clone();
        async move {
            s.load(&[K1]).await.unwrap()[K1]
                .cooldowns
                .get(FLASH)
                .copied()
        }
    };
    s.apply(&cooldown(K1, FLASH, now + 60_000), None)
        .await
        .unwrap();
    assert_eq!(deadline(&s).await, Some(now + 60_000));
    // A shorter answer that arrived later does not shorten it.
    s.apply(&cooldown(K1, FLASH, now + 5_000), None)
        .await
        .unwrap();
    assert_eq!(deadline(&s).await, Some(now + 60_000));
    s.apply(&cooldown(K1, FLASH, now + 90_000), None)
        .await
        .unwrap();
    assert_eq!(deadline(&s).await, Some(now + 90_000));
    // Absolute: a second later it still reads the same instant (no TTL copy counting down).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(deadline(&s).await, Some(now + 90_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_keeps_the_first_and_enable_clears_it() {
    let server = Server::start();
    let s = store(&server).await;
    s.apply(&disable(K1, "API_KEY_INVALID", 1_000), None)
        .await
        .unwrap();
    s.apply(&disable(K1, "PERMISSION_DENIED", 2_000), None)
        .await
        .unwrap();
    let state = s.load(&[K1, K2]).await.unwrap();
    assert_eq!(
        state[K1].disabled,
        Some(("API_KEY_INVALID".to_owned(), 1_000))
    );
    assert_eq!(state[K2].disabled, None);
    s.apply(&Change::Enable { key_id: K1.into() }, None)
        .await
        .unwrap();
    assert_eq!(s.load(&[K1]).await.unwrap()[K1].disabled, None);
    // A reason with the separator in it survives.
    s.apply(&disable(K1, "a|b", 3_000), None).await.unwrap();
    assert_eq!(
        s.load(&[K1]).await.unwrap()[K1].disabled,
        Some(("a|b".to_owned(), 3_000))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_cooldown_for_one_model_or_all() {
    let server = Server::start();
    let s = store(&server).await;
    let until = now_ms() + 60_000;
    s.merge(&[
        cooldown(K1, FLASH, until),
        cooldown(K1, PRO, until),
        cooldown(K2, FLASH, until),
    ])
    .await
    .unwrap();
    let clear = |model: Option<&str>| Change::ClearCooldown {
        key_id: K1.into(),
        model: model.map(Into::into),
    };
    s.apply(&clear(Some(FLASH)), None).await.unwrap();
    let state = s.load(&[K1, K2]).await.unwrap();
    assert_eq!(
        state[K1].cooldowns,
        BTreeMap::from([(PRO.to_owned(), until)])
    );
    s.apply(&clear(None), None).await.unwrap();
    let state = s.load(&[K1, K2]).await.unwrap();
    assert!(state[K1].cooldowns.is_empty());
    // Another key's cooldowns are untouched.
    assert_eq!(
        state[K2].cooldowns,
        BTreeMap::from([(FLASH.to_owned(), until)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_last_error_are_counted() {
    let server = Server::start();
    let s = store(&server).await;
    let until = now_ms() + 60_000;
    s.apply(&cooldown(K1, FLASH, until), Some("rate_limited"))
        .await
        .unwrap();
    s.record_failure(K1, "upstream_503").await.unwrap();
    s.apply(&disable(K2, "API_KEY_INVALID", 5), Some("invalid_key"))
        .await
        .unwrap();
    // No failure label: state changes, counters don't.
    s.apply(&cooldown(K3, FLASH, until), None).await.unwrap();
    let state = s.load(&[K1, K2, K3]).await.unwrap();
    assert_eq!(state[K1].failures, 2);
    assert_eq!(state[K1].last_error.as_deref(), Some("upstream_503"));
    assert_eq!(state[K1].cooldowns[FLASH], until);
    assert_eq!(state[K2].failures, 1);
    assert_eq!(state[K2].last_error.as_deref(), Some("invalid_key"));
    assert_eq!(state[K3].failures, 0);
    assert_eq!(state[K3].last_error, None);
    assert_eq!(state[K3].requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_disabled_by_one_gateway_is_skipped_by_the_other() {
    let server = Server::start();
    let (a, b) = (store(&server).await, store(&server).await);
    assert_eq!(pick(&b, FLASH, Some(K1)).await.as_deref(), Some(K1));
    a.apply(&disable(K1, "API_KEY_INVALID", now_ms()), None)
        .await
        .unwrap();
    for _ in 0..30 {
        assert_ne!(pick(&b, FLASH, Some(K1)).await.as_deref(), Some(K1));
    }
    a.apply(&cooldown(K2, FLASH, now_ms() + 60_000), None)
        .await
        .unwrap();
    assert_eq!(pick(&b, FLASH, None).await.as_deref(), Some(K3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_is_idempotent_and_obeys_the_same_rules() {
    let server = Server::start();
    let s = store(&server).await;
    let now = now_ms();
    // What Redis already knows (learned by another gateway meanwhile).
    s.apply(&cooldown(K1, FLASH, now + 90_000), None)
        .await
        .unwrap();
    s.apply(&disable(K2, "first", 10), None).await.unwrap();
    // What this gateway learned while Redis was unreachable.
    let offline = [
        cooldown(K1, FLASH, now + 30_000), // shorter: loses
        cooldown(K1, PRO, now + 30_000),   // new: kept
        disable(K2, "second", 20),         // later disable: loses
        disable(K3, "suspended", 30),      // new: kept
        cooldown(K3, FLASH, now + 10_000),
        cooldown(K3, FLASH, now + 20_000), // max of the two
    ];
    s.merge(&offline).await.unwrap();
    let once = s.load(&[K1, K2, K3]).await.unwrap();
    s.merge(&offline).await.unwrap();
    s.merge(&offline).await.unwrap();
    let thrice = s.load(&[K1, K2, K3]).await.unwrap();
    assert_eq!(once, thrice);
    assert_eq!(
        once[K1].cooldowns,
        BTreeMap::from([
            (FLASH.to_owned(), now + 90_000),
            (PRO.to_owned(), now + 30_000)
        ])
    );
    assert_eq!(once[K2].disabled, Some(("first".to_owned(), 10)));
    assert_eq!(once[K3].disabled, Some(("suspended".to_owned(), 30)));
    assert_eq!(once[K3].cooldowns[FLASH], now + 20_000);
    s.merge(&[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_only_the_ids_and_models_it_was_given() {
    let server = Server::start();
    let s = store(&server).await;
    let now = now_ms();
    s.merge(&[
        cooldown(K1, FLASH, now + 60_000),
        cooldown(K2, PRO, now + 60_000),
        disable(K3, "API_KEY_INVALID", now),
    ])
    .await
    .unwrap();
    s.record_failure(K1, "rate_limited").await.unwrap();
    pick(&s, FLASH, None).await.unwrap();
    pick(&s, PRO, Some(K2)).await.unwrap();

    let state = s.load(&[K1, K2, K3]).await.unwrap();
    assert_eq!(
        state.keys().map(String::as_str).collect::<Vec<_>>(),
        [K1, K2, K3]
    );

    let mut raw = raw(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .unwrap();
    let keys: BTreeSet<String> = keys.into_iter().collect();
    let p = format!("{{{PREFIX}}}");
    let expected: BTreeSet<String> = [
        format!("{p}:disabled"),
        format!("{p}:cooldowns"),
        format!("{p}:stats"),
        format!("{p}:rr:{FLASH}"),
        format!("{p}:rr:{PRO}"), // K2 cools for PRO: the preferred lost, the counter chose
        // Each send counted in the picked key's group (a group of its own: `~id`), for its
        // model: the last minute's sends and the day's count.
        format!("{p}:win:~{K2}|{FLASH}"),
        format!("{p}:day:~{K2}|{FLASH}"),
        format!("{p}:win:~{K1}|{PRO}"),
        format!("{p}:day:~{K1}|{PRO}"),
    ]
    .into();
    assert_eq!(keys, expected);
    // Every word stored is an id, a model, a label, a reason or a number we gave.
    let allowed = [K1, K2, K3, FLASH, PRO, "API_KEY_INVALID", "rate_limited"];
    for key in keys.iter().filter(|k| !k.contains(":rr:")) {
        let words: Vec<String> = if key.contains(":win:") {
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(&mut raw)
                .await
                .unwrap()
        } else {
            let hash: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(&mut raw)
                .await
                .unwrap();
            hash.into_iter().flat_map(|(f, v)| [f, v]).collect()
        };
        for word in words.iter().flat_map(|s| s.split(['|', ':'])) {
            assert!(
                allowed.contains(&word) || word.parse::<i64>().is_ok() || allowed_stat(word),
                "unexpected {word:?} in {key}"
            );
        }
    }
}

fn allowed_stat(word: &str) -> bool {
    ["requests", "failures", "last_error", "ends", "count"].contains(&word)
}

async fn raw(server: &Server) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pick_latency_on_loopback() {
    let server = Server::start();
    let s = store(&server).await;
    let ids: Vec<String> = (0..20).map(|i| format!("{i:012x}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for _ in 0..100 {
        s.pick(FLASH, &ids, None, now_ms()).await.unwrap();
    }
    let mut took = Vec::new();
    for _ in 0..1_000 {
        let started = Instant::now();
        s.pick(FLASH, &ids, None, now_ms()).await.unwrap().unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    let (p50, p99) = (took[500], took[990]);
    eprintln!("pick over 20 keys: p50 {p50:?}, p99 {p99:?}");
    assert!(p50 < Duration::from_millis(20), "p50 {p50:?}");
}
