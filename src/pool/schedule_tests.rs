//! Scheduling ahead, under tokio's paused clock: pacing by declared and learned limits, learning
//! and unlearning quota groups, outlier ejection with its probes, the model-wide overload, and
//! a tier without quota.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::pool::pacing::{DeclaredLimit, MINUTE_MS, SLACK};
use crate::pool::{Because, Clock};
use crate::upstream::classify::{Cooldown, QuotaHit, QuotaKind, RateLimit, Verdict};

const M: &str = "gemini-2.5-flash";
const FLASH: Scope<'static> = Scope::Model(M);

fn keys(n: usize) -> Vec<ApiKey> {
    (0..n)
        .map(|i| ApiKey::new(&format!("AIzaSyScheduleKey{i:02}xxxxxxxxxxxxxxxxxxx")))
        .collect()
}

fn view(n: usize, plan: QuotaPlan) -> LocalView {
    LocalView::planned(
        keys(n),
        &plan,
        Duration::from_secs(1440 * 60),
        Clock::starting_at(1_780_000_000_000),
    )
}

/// A per-minute 429 whose window ends in `secs`, naming the limit `value`.
fn rpm_429(secs: u64, value: Option<u64>) -> Verdict {
    Verdict::RateLimited(RateLimit {
        cooldown: Cooldown::For(Duration::from_secs(secs)),
        hits: vec![QuotaHit {
            kind: QuotaKind::RequestsPerMinute,
            limit: value,
        }],
    })
}

fn pick(v: &LocalView) -> Option<usize> {
    v.pick(FLASH, &[], None, 10).map(|l| l.index)
}

fn group_of(v: &LocalView, i: usize) -> String {
    v.snapshot().keys[i].group.clone()
}

async fn advance_ms(ms: i64) {
    tokio::time::advance(Duration::from_millis(ms as u64)).await;
}

#[tokio::test(start_paused = true)]
async fn a_declared_limit_paces_the_group_and_says_exactly_when_it_frees() {
    let ks = keys(2);
    let plan = QuotaPlan {
        groups: ks
            .iter()
            .map(|k| (k.id().to_string(), "p".to_string()))
            .collect(),
        limits: vec![DeclaredLimit {
            group: None,
            model: M.into(),
            kind: QuotaKind::RequestsPerMinute,
            value: 2,
        }],
        ..QuotaPlan::default()
    };
    let v = view(2, plan);
    assert!(pick(&v).is_some());
    advance_ms(10_000).await;
    assert!(pick(&v).is_some());
    assert_eq!(
        pick(&v),
        None,
        "two in the minute, for both keys of the project"
    );
    let wait = v.retry_after(FLASH, 10).unwrap();
    assert_eq!(
        wait,
        Duration::from_millis((MINUTE_MS + SLACK - 10_000) as u64)
    );
    advance_ms(MINUTE_MS + SLACK - 10_000).await;
    assert!(pick(&v).is_some(), "the first request left the window");
    assert_eq!(pick(&v), None);
}

#[tokio::test(start_paused = true)]
async fn a_429_teaches_the_limit_and_rests_the_group_until_its_window_ends() {
    let v = view(2, QuotaPlan::default());
    for _ in 0..3 {
        pick(&v);
    }
    let i = pick(&v).unwrap();
    v.record_failure(i, FLASH, &rpm_429(40, Some(2)));
    let snap = v.snapshot();
    let g = snap
        .groups
        .iter()
        .find(|g| g.keys.contains(&snap.keys[i].id))
        .unwrap();
    assert_eq!(g.models[0].1.limits.rpm, Some(2));
    assert!(!snap.keys[i].cooldowns.is_empty());
    advance_ms(40_000).await;
    // Key i sent 2 (the refused one is not counted) in the window: the learned 2 is used up
    // until the first leaves it.
    let other = 1 - i;
    assert_eq!(pick(&v), Some(other), "only the other key, another group");
}

#[tokio::test(start_paused = true)]
async fn keys_whose_sends_add_up_to_the_quota_that_ran_out_become_one_group() {
    let v = view(3, QuotaPlan::default());
    // Round robin: three requests each, the third of 0 and 1 refused at the same moment: each
    // had 2 served of a limit of 4, together the 4.
    for _ in 0..9 {
        pick(&v);
    }
    v.record_failure(0, FLASH, &rpm_429(30, Some(4)));
    advance_ms(200).await;
    v.record_failure(1, FLASH, &rpm_429(30, Some(4)));
    assert_eq!(group_of(&v, 0), group_of(&v, 1));
    assert_ne!(group_of(&v, 2), group_of(&v, 0));
    // The group rests as one: key 1's 429 rested key 0 to the same end.
    let snap = v.snapshot();
    assert_eq!(snap.keys[0].cooldowns[M], snap.keys[1].cooldowns[M]);
}

#[tokio::test(start_paused = true)]
async fn a_key_alone_that_used_its_quota_up_is_not_merged() {
    let v = view(2, QuotaPlan::default());
    pick(&v); // key 0, served
    pick(&v); // key 1, served
    let refused = pick(&v).unwrap();
    v.record_failure(refused, FLASH, &rpm_429(30, Some(1)));
    let refused = pick(&v).unwrap();
    v.record_failure(refused, FLASH, &rpm_429(30, Some(1)));
    assert_ne!(group_of(&v, 0), group_of(&v, 1), "each sent its own one");
}

#[tokio::test(start_paused = true)]
async fn a_success_after_the_groups_rest_began_splits_the_key_out() {
    let v = view(2, QuotaPlan::default());
    for _ in 0..4 {
        pick(&v);
    }
    v.record_failure(0, FLASH, &rpm_429(70, Some(2)));
    v.record_failure(1, FLASH, &rpm_429(70, Some(2)));
    assert_eq!(group_of(&v, 0), group_of(&v, 1));
    // Key 1 is asked again while the group rests (an operator cleared its cooldown; the sends
    // have left the minute), and it serves: it is not in key 0's project.
    advance_ms(MINUTE_MS + SLACK).await;
    v.apply(&Change::ClearCooldown {
        key_id: v.keys()[1].1.id().to_string(),
        model: None,
    });
    let lease = v.pick(FLASH, &[], Some(1), 10).unwrap();
    assert_eq!(lease.index, 1);
    let changes = v.record_success(1, FLASH);
    assert!(changes.iter().any(|c| matches!(c, Change::Group { .. })));
    assert_ne!(group_of(&v, 0), group_of(&v, 1));
}

#[tokio::test(start_paused = true)]
async fn a_learned_group_never_takes_a_model_from_a_key_that_did_not_fail_on_it() {
    const PRO: Scope<'static> = Scope::Model("gemini-3.1-pro-preview");
    let v = view(2, QuotaPlan::default());
    for _ in 0..4 {
        v.pick(PRO, &[], None, 10);
    }
    v.record_failure(0, PRO, &rpm_429(30, Some(2)));
    v.record_failure(1, PRO, &rpm_429(30, Some(2)));
    assert_eq!(
        group_of(&v, 0),
        group_of(&v, 1),
        "one project, by the counts"
    );
    // Key 0 is refused for Flash, which key 1 never was: key 1 keeps Flash, rested and paced
    // by nobody.
    let first = pick(&v);
    assert_eq!(first, Some(0));
    v.record_failure(0, FLASH, &rpm_429(30, Some(1)));
    assert!(!v.snapshot().keys[1].cooldowns.contains_key(M));
    advance_ms(100).await;
    for _ in 0..5 {
        let lease = pick(&v).expect("key 1 serves Flash");
        assert_eq!(lease, 1);
        v.record_success(1, FLASH);
    }
    // Serving Flash while its group was said to be out of Flash: not one project after all.
    assert_ne!(group_of(&v, 0), group_of(&v, 1));
}

#[tokio::test(start_paused = true)]
async fn a_learned_groups_rest_holds_each_member_that_was_refused_itself() {
    let v = view(3, QuotaPlan::default());
    for _ in 0..6 {
        pick(&v);
    }
    v.record_failure(0, FLASH, &rpm_429(30, Some(2)));
    v.record_failure(1, FLASH, &rpm_429(30, Some(2)));
    assert_eq!(group_of(&v, 0), group_of(&v, 1));
    advance_ms(31_000).await;
    // Key 0 is refused again: key 1, refused for Flash before, rests with it.
    v.record_failure(0, FLASH, &rpm_429(20, Some(2)));
    let snap = v.snapshot();
    assert_eq!(snap.keys[1].cooldowns.get(M), snap.keys[0].cooldowns.get(M));
    assert_eq!(pick(&v), Some(2));
}

#[tokio::test(start_paused = true)]
async fn another_window_end_from_a_group_member_splits_it_out() {
    let v = view(2, QuotaPlan::default());
    for _ in 0..4 {
        pick(&v);
    }
    v.record_failure(0, FLASH, &rpm_429(30, Some(2)));
    v.record_failure(1, FLASH, &rpm_429(30, Some(2)));
    assert_eq!(group_of(&v, 0), group_of(&v, 1));
    v.record_failure(1, FLASH, &rpm_429(50, Some(2)));
    assert_ne!(
        group_of(&v, 0),
        group_of(&v, 1),
        "its own window ends 20 s later"
    );
}

#[tokio::test(start_paused = true)]
async fn declared_groups_are_never_split() {
    let ks = keys(2);
    let plan = QuotaPlan {
        groups: ks
            .iter()
            .map(|k| (k.id().to_string(), "p".to_string()))
            .collect(),
        ..QuotaPlan::default()
    };
    let v = view(2, plan);
    for _ in 0..4 {
        pick(&v);
    }
    v.record_failure(0, FLASH, &rpm_429(30, Some(2)));
    v.record_failure(1, FLASH, &rpm_429(50, Some(2)));
    assert_eq!(group_of(&v, 0), "p");
    assert_eq!(group_of(&v, 1), "p");
}

#[tokio::test(start_paused = true)]
async fn a_failing_key_is_ejected_probed_once_and_returns_on_success() {
    let v = view(3, QuotaPlan::default());
    let i = pick(&v).unwrap();
    v.record_failure(i, FLASH, &Verdict::Transient);
    for _ in 0..10 {
        assert_ne!(pick(&v), Some(i), "ejected for 5 s");
    }
    advance_ms(5_000).await;
    let probe = (0..3).find_map(|_| v.pick(FLASH, &[], None, 10).filter(|l| l.index == i));
    let probe = probe.expect("its turn to probe");
    assert!(probe.probe);
    assert!((0..6).all(|_| pick(&v) != Some(i)), "one probe at a time");
    v.record_failure(i, FLASH, &Verdict::Transient);
    assert_eq!(v.snapshot().keys[i].ejections[M].times, 2);
    advance_ms(9_999).await;
    assert!((0..6).all(|_| pick(&v) != Some(i)), "twice as long now");
    advance_ms(1).await;
    let probe = (0..3).find_map(|_| v.pick(FLASH, &[], None, 10).filter(|l| l.index == i));
    assert!(probe.is_some_and(|l| l.probe));
    v.record_success(i, FLASH);
    assert!(v.snapshot().keys[i].ejections.is_empty());
    assert!((0..6).any(|_| pick(&v) == Some(i)), "back in rotation");
}

#[tokio::test(start_paused = true)]
async fn never_more_than_half_of_a_models_keys_are_ejected() {
    let v = view(2, QuotaPlan::default());
    v.record_failure(0, FLASH, &Verdict::Transient);
    v.record_failure(1, FLASH, &Verdict::Transient);
    let snap = v.snapshot();
    let ejected = snap.keys.iter().filter(|k| !k.ejections.is_empty()).count();
    assert_eq!(ejected, 1);
    assert!(pick(&v).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_key_awaiting_its_probe_still_counts_against_the_half() {
    let v = view(2, QuotaPlan::default());
    v.record_failure(0, FLASH, &Verdict::Transient);
    advance_ms(5_000).await;
    // Key 0's interval is over (its probe is due) when key 1 fails: key 1 stays in.
    v.record_failure(1, FLASH, &Verdict::Transient);
    assert!(v.snapshot().keys[1].ejections.is_empty());
    // Key 0's probe fails: out again, and key 1 still serves.
    let probe = v.pick(FLASH, &[1], None, 10).unwrap();
    assert!(probe.probe && probe.index == 0);
    v.record_failure(0, FLASH, &Verdict::Transient);
    assert_eq!(pick(&v), Some(1));
    // Key 1's next failure, with key 0 out: still not both.
    v.record_failure(1, FLASH, &Verdict::Transient);
    assert_eq!(pick(&v), Some(1), "never every key");
}

#[tokio::test(start_paused = true)]
async fn a_model_most_keys_call_overloaded_is_rested_everywhere_then_probed() {
    let v = view(4, QuotaPlan::default());
    for i in 0..3 {
        v.record_failure(i, FLASH, &Verdict::Overloaded);
    }
    assert_eq!(pick(&v), None, "no key is spent on it");
    let why = v.unserved(FLASH, 10);
    assert!(why.model_overloaded && why.rate_limited == 0, "{why:?}");
    assert_eq!(v.retry_after(FLASH, 10), Some(Duration::from_secs(5)));
    assert!(
        v.pick(Scope::Model("gemini-2.5-pro"), &[], None, 10)
            .is_some(),
        "other models are fine"
    );
    advance_ms(5_000).await;
    let probe = v.pick(FLASH, &[], None, 10).unwrap();
    assert!(probe.probe);
    assert_eq!(pick(&v), None, "one probe at a time");
    v.record_success(probe.index, FLASH);
    assert!(pick(&v).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_tier_without_quota_rests_for_an_hour() {
    let v = view(2, QuotaPlan::default());
    let i = pick(&v).unwrap();
    v.record_failure(i, FLASH, &rpm_429(10, Some(0)));
    advance_ms(30 * 60_000).await;
    for _ in 0..10 {
        assert_ne!(pick(&v), Some(i));
    }
    let mut seen = HashMap::new();
    advance_ms(30 * 60_000).await;
    for _ in 0..10 {
        *seen.entry(pick(&v)).or_insert(0) += 1;
    }
    assert!(
        seen.contains_key(&Some(i)),
        "asked again after the hour: {seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_decision_keeps_its_evidence_and_an_operator_can_take_each_back() {
    let v = view(3, QuotaPlan::default());
    for _ in 0..6 {
        pick(&v);
    }
    let because = |words: &str| Because {
        words: words.into(),
        request_id: Some("req-1".into()),
    };
    v.record_failure_because(0, FLASH, &rpm_429(30, Some(2)), &because("429 quota A"));
    v.record_failure_because(1, FLASH, &rpm_429(30, Some(2)), &because("429 quota B"));
    v.record_failure_because(2, FLASH, &Verdict::ModelLacking, &because("404 not found"));
    let snap = v.snapshot();
    let k0 = &snap.keys[0].evidence;
    assert_eq!(&*k0.cooldowns[M].words, "429 quota A");
    assert_eq!(k0.cooldowns[M].request_id.as_deref(), Some("req-1"));
    assert!(k0.group.as_ref().unwrap().words.contains("429 quota B"));
    assert_eq!(&*snap.keys[2].evidence.lacking[M].words, "404 not found");
    let group = snap.groups.iter().find(|g| g.keys.len() == 2).unwrap();
    assert!(group.limit_evidence.contains_key(&format!("{M} rpm")));

    // Each taken back.
    let id = |i: usize| v.keys()[i].1.id().to_string();
    v.apply(&Change::ClearCooldown {
        key_id: id(0),
        model: None,
    });
    assert!(v.snapshot().keys[0].evidence.cooldowns.is_empty());
    assert!(!v.ungroup(&id(1)).unwrap().is_empty());
    assert_ne!(group_of(&v, 0), group_of(&v, 1));
    assert!(v.forget_lacking(&id(2), None));
    assert!(v.snapshot().keys[2].evidence.lacking.is_empty());
    let group = group_of(&v, 0);
    let forget = v.learned_limits_of(&group, None).unwrap();
    assert_eq!(forget.len(), 1);
    for c in &forget {
        v.apply(c);
    }
    let snap = v.snapshot();
    let g = snap.groups.iter().find(|g| g.name == group).unwrap();
    assert!(g.limit_evidence.is_empty());
    assert!(
        g.models.iter().all(|(_, h)| h.limits.rpm.is_none()),
        "{g:?}"
    );
    assert!(v.learned_limits_of("no-such-group", None).is_none());
}
