//! Pool behaviour under tokio's paused clock: selection, per-model cooldowns, disables.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::pool::KeyHealth;
use crate::pool::{next_daily_reset, ApiKey, Clock};
use crate::secret::redact;
use crate::upstream::classify::{Cooldown, Verdict};

const FLASH: Scope<'static> = Scope::Model("gemini-2.5-flash");
const PRO: Scope<'static> = Scope::Model("gemini-2.5-pro");

fn pool(n: usize) -> LocalView {
    let keys = (0..n)
        .map(|i| ApiKey::new(&format!("AIzaSyTestKey{i:02}xxxxxxxxxxxxxxxxxxxxxxx")))
        .collect();
    LocalView::new(
        keys,
        Duration::from_secs(1440 * 60),
        Clock::starting_at(1_780_000_000_000),
    )
}

fn picks(p: &LocalView, model: Scope<'_>, n: usize) -> HashMap<usize, usize> {
    let mut seen = HashMap::new();
    for _ in 0..n {
        let lease = p.pick(model, &[], None, 0).unwrap();
        *seen.entry(lease.index).or_default() += 1;
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn round_robin_is_exactly_fair() {
    let p = pool(3);
    let seen = picks(&p, FLASH, 300);
    assert_eq!(seen, HashMap::from([(0, 100), (1, 100), (2, 100)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_fair_under_concurrency() {
    let p = Arc::new(pool(4));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            (0..500)
                .map(|_| p.pick(FLASH, &[], None, 0).unwrap().index)
                .collect::<Vec<_>>()
        }));
    }
    let mut counts = [0usize; 4];
    for t in tasks {
        for i in t.await.unwrap() {
            counts[i] += 1;
        }
    }
    assert_eq!(counts, [1000; 4]);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_cools_only_that_model_for_the_given_delay() {
    let p = pool(2);
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(41)).into()),
    );
    assert!(
        !picks(&p, FLASH, 10).contains_key(&0),
        "key 0 must rest for flash"
    );
    assert_eq!(
        picks(&p, PRO, 10).get(&0),
        Some(&5),
        "key 0 still serves pro"
    );

    tokio::time::advance(Duration::from_secs(40)).await;
    assert!(!picks(&p, FLASH, 10).contains_key(&0));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        picks(&p, FLASH, 10).get(&0),
        Some(&5),
        "the cooldown ends by itself"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_only_moves_later() {
    let p = pool(1);
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(60)).into()),
    );
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(5)).into()),
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    assert!(
        p.pick(FLASH, &[], None, 0).is_none(),
        "the shorter answer must not shorten the rest"
    );
    assert_eq!(p.retry_after(FLASH, 0), Some(Duration::from_secs(30)));
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(90)).into()),
    );
    assert_eq!(p.retry_after(FLASH, 0), Some(Duration::from_secs(90)));
}

#[tokio::test(start_paused = true)]
async fn a_daily_quota_waits_for_pacific_midnight() {
    let p = pool(1);
    let now = p.clock().now();
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::UntilDailyReset.into()),
    );
    let until = p.snapshot().keys[0].cooldowns[FLASH.name()];
    assert_eq!(until, next_daily_reset(now));
    tokio::time::advance(Duration::from_millis(
        u64::try_from(until - now).unwrap() - 1,
    ))
    .await;
    assert!(p.pick(FLASH, &[], None, 0).is_none());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(p.pick(FLASH, &[], None, 0).is_some());
}

#[tokio::test(start_paused = true)]
async fn no_hint_uses_the_configured_cooldown() {
    let p = pool(1);
    p.record_failure(0, FLASH, &Verdict::RateLimited(Cooldown::Configured.into()));
    assert_eq!(
        p.retry_after(FLASH, 0),
        Some(Duration::from_secs(1440 * 60))
    );
}

#[tokio::test(start_paused = true)]
async fn a_rejected_key_is_out_for_every_model_for_good() {
    let p = pool(2);
    p.record_failure(1, FLASH, &Verdict::KeyRejected("key_invalid"));
    tokio::time::advance(Duration::from_secs(86_400 * 30)).await;
    assert!(!picks(&p, FLASH, 10).contains_key(&1));
    assert!(!picks(&p, PRO, 10).contains_key(&1));
    let view = &p.snapshot().keys[1];
    assert!(matches!(&view.health, KeyHealth::Disabled(d) if d.reason == "key_invalid"));
    assert_eq!(view.last_error.as_deref(), Some("key_invalid"));
    assert_eq!(
        p.retry_after(FLASH, 0),
        Some(Duration::ZERO),
        "key 0 is still usable"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_the_earliest_return_or_none_when_nothing_returns() {
    let p = pool(2);
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(30)).into()),
    );
    p.record_failure(
        1,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(10)).into()),
    );
    assert_eq!(p.retry_after(FLASH, 0), Some(Duration::from_secs(10)));
    p.record_failure(1, FLASH, &Verdict::KeyRejected("permission_denied"));
    assert_eq!(p.retry_after(FLASH, 0), Some(Duration::from_secs(30)));
    p.record_failure(0, FLASH, &Verdict::KeyRejected("permission_denied"));
    assert_eq!(p.retry_after(FLASH, 0), None);
}

#[tokio::test(start_paused = true)]
async fn client_faults_and_transients_leave_the_key_usable() {
    let p = pool(1);
    p.record_failure(0, FLASH, &Verdict::ClientFault);
    p.record_failure(0, FLASH, &Verdict::Transient);
    assert!(p.pick(FLASH, &[], None, 0).is_some());
    let v = &p.snapshot().keys[0];
    assert_eq!((v.requests, v.failures), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn tried_keys_are_skipped_and_a_preferred_key_sticks() {
    let p = pool(3);
    assert_eq!(p.pick(FLASH, &[0, 1], None, 0).unwrap().index, 2);
    assert!(p.pick(FLASH, &[0, 1, 2], None, 0).is_none());
    for _ in 0..5 {
        assert_eq!(p.pick(FLASH, &[], Some(1), 0).unwrap().index, 1);
    }
    p.record_failure(
        1,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(5)).into()),
    );
    assert_ne!(p.pick(FLASH, &[], Some(1), 0).unwrap().index, 1);
}

#[tokio::test(start_paused = true)]
async fn snapshot_groups_keys_like_the_seed() {
    let p = pool(3);
    p.pick(FLASH, &[], None, 0);
    p.pick(PRO, &[], None, 0);
    p.record_failure(
        0,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(60)).into()),
    );
    p.record_failure(
        1,
        FLASH,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(60)).into()),
    );
    p.record_failure(
        1,
        PRO,
        &Verdict::RateLimited(Cooldown::For(Duration::from_secs(120)).into()),
    );
    let s = p.snapshot();
    assert_eq!(
        s.keys[0].health,
        KeyHealth::Available,
        "cooling for flash only"
    );
    assert_eq!(
        s.keys[1].health,
        KeyHealth::Cooling {
            until: s.now + 60_000
        }
    );
    assert_eq!(s.keys[2].health, KeyHealth::Available);
    assert_eq!(s.keys[1].cooldowns.len(), 2);
}

#[test]
fn redact_masks_every_pool_key() {
    let p = pool(2);
    let k0 = p.keys()[0].1.expose().to_string();
    let text = format!("Consumer 'api_key:{k0}' has been suspended.");
    let red = redact(&text);
    assert!(!red.contains(&k0));
    assert!(red.contains(p.keys()[0].1.masked()));
    assert!(matches!(
        redact("nothing here"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn added_and_removed_keys_keep_indexes_stable() {
    let p = pool(2);
    let k0 = p.keys()[0].1.clone();
    let (i, new) = p.add(ApiKey::new("AIzaSyAddedKeyxxxxxxxxxxxxxxxxxxxxxxxxx"));
    assert_eq!((i, new), (2, true));
    assert_eq!(p.len(), 3);
    assert!(p.remove(k0.id()));
    assert!(!p.remove(k0.id()), "already out");
    assert_eq!(p.len(), 2);
    let seen = picks(&p, FLASH, 20);
    assert!(!seen.contains_key(&0), "a removed key is never picked");
    assert_eq!(seen.get(&2), Some(&10));
    assert_eq!(p.snapshot().keys.len(), 2);
    assert_eq!(p.add(k0.clone()), (0, true), "taken back into its old slot");
    assert_eq!(p.add(k0), (0, false), "already in the pool");
    // Errors still get a removed key redacted.
    let removed = p.keys()[1].1.clone();
    p.remove(removed.id());
    assert!(!redact(removed.expose()).contains(removed.expose()));
}

#[tokio::test(start_paused = true)]
async fn a_key_whose_tier_lacks_a_model_keeps_the_others_until_the_catalog_is_read() {
    let p = pool(2);
    p.record_failure(0, PRO, &Verdict::ModelLacking);
    assert_eq!(
        picks(&p, PRO, 6),
        HashMap::from([(1, 6)]),
        "not asked again"
    );
    assert_eq!(picks(&p, FLASH, 6), HashMap::from([(0, 3), (1, 3)]));
    let view = &p.snapshot().keys[0];
    assert!(view.evidence.lacking.contains_key("gemini-2.5-pro"));
    assert!(view.cooldowns.is_empty() && view.health == KeyHealth::Available);
    assert_eq!(p.unserved(PRO, 0).lacking, 1);
    // The catalog read again says otherwise (its listing for key 0 names the model).
    p.set_lacking(&std::collections::BTreeMap::new());
    assert_eq!(picks(&p, PRO, 6), HashMap::from([(0, 3), (1, 3)]));
}

#[tokio::test(start_paused = true)]
async fn the_operators_rules_keep_a_key_from_models_and_weigh_its_turns() {
    let keys: Vec<ApiKey> = (0..2)
        .map(|i| ApiKey::new(&format!("AIzaSyTestKey{i:02}xxxxxxxxxxxxxxxxxxxxxxx")))
        .collect();
    let plan = QuotaPlan {
        key_models: HashMap::from([(
            keys[0].id().to_string(),
            KeyModels {
                models: None,
                exclude_models: vec!["*-pro".into()],
                weight: 3,
            },
        )]),
        ..QuotaPlan::default()
    };
    let p = LocalView::planned(
        keys.clone(),
        &plan,
        Duration::from_secs(60),
        Clock::starting_at(1_780_000_000_000),
    );
    assert_eq!(picks(&p, PRO, 4), HashMap::from([(1, 4)]));
    assert_eq!(picks(&p, FLASH, 8), HashMap::from([(0, 6), (1, 2)]));
    // The admin API lifts the rules.
    assert!(p.set_key_models(keys[0].id(), None));
    assert_eq!(picks(&p, PRO, 4), HashMap::from([(0, 2), (1, 2)]));
    assert!(!p.set_key_models("no-such-key", None));
}
