//! Dispatch in-process, against a scripted upstream under tokio's paused clock: failover order,
//! the budgets, unusable answers, affinity, the commit deadline and the per-attempt timeout —
//! timed exactly, with no real waiting.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::Method;
use tokio::time::Instant;

use super::*;
use crate::pool::{Clock, KeyHealth, KeyPool};
use crate::secret::ApiKey;
use crate::store::Backend;
use crate::upstream::scripted::{Reply, Scripted, StreamEnd, HI};

pub(super) const FLASH: &str = "gemini-2.5-flash";
const PRO: &str = "gemini-2.5-pro";
pub(super) const TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct Rig {
    pub keys: Vec<ApiKey>,
    pub upstream: Arc<Scripted>,
    pub dispatcher: Dispatcher,
}

pub(super) async fn rig(n: usize) -> Rig {
    let keys: Vec<ApiKey> = (0..n)
        .map(|i| ApiKey::new(&format!("AIzaSyDispatchTestKey{i:02}xxxxxxxxxxxxxxx")))
        .collect();
    let pool = KeyPool::open(
        keys.clone(),
        &Default::default(),
        Duration::from_secs(1440 * 60),
        Clock::starting_at(1_780_000_000_000),
        Backend::Volatile,
    )
    .await
    .unwrap();
    let upstream = Arc::new(Scripted::default());
    let dispatcher = Dispatcher::new(Arc::new(pool), upstream.clone(), TIMEOUT);
    Rig {
        keys,
        upstream,
        dispatcher,
    }
}

impl Rig {
    pub(super) fn id(&self, i: usize) -> String {
        self.keys[i].id().to_string()
    }

    pub(super) fn ids(&self, is: &[usize]) -> Vec<String> {
        is.iter().map(|&i| self.id(i)).collect()
    }

    fn view(&self, i: usize) -> crate::pool::KeyView {
        let id = self.id(i);
        let snap = self.dispatcher.pool().snapshot();
        snap.keys.into_iter().find(|k| k.id == id).unwrap()
    }
}

pub(super) fn generate(model: &str) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        path_and_query: format!("/v1beta/models/{model}:generateContent"),
        body: Some(bytes::Bytes::from_static(b"{}")),
        extra: None,
    }
}

#[tokio::test(start_paused = true)]
async fn fails_over_key_by_key_recording_each_verdict() {
    let r = rig(3).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(41)]);
    r.upstream.on(&r.keys[2], [Reply::unavailable()]);
    let answer = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    // Each failover takes the next turn of the model's round-robin among the keys not tried.
    assert_eq!(r.upstream.keys_called(), r.ids(&[0, 2, 1]));
    assert_eq!(answer.lease.index, 1);
    assert_eq!(
        r.view(0).cooldowns.len(),
        1,
        "the 429 rests key 0 for flash"
    );
    assert_eq!(r.view(0).last_error.as_deref(), Some("rate_limited"));
    assert_eq!(r.view(2).cooldowns.len(), 0, "a 503 rests nothing");
    assert_eq!(r.view(2).failures, 1);
    assert_eq!(r.view(1).failures, 0);
}

#[tokio::test(start_paused = true)]
async fn the_transient_budget_ends_the_request_with_the_last_error() {
    let r = rig(5).await;
    for k in &r.keys {
        r.upstream
            .on(k, [Reply::error(500, "INTERNAL", serde_json::json!([]))]);
    }
    let e = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(r.upstream.calls().len(), MAX_TRANSIENT_ATTEMPTS);
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(matches!(e.cause, Cause::Upstream { .. }), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failure_that_follows_the_request_from_key_to_key_charges_no_key() {
    let r = rig(3).await;
    for k in &r.keys {
        r.upstream.on(k, [Reply::Refused]);
    }
    let e = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(r.upstream.calls().len(), MAX_TRANSIENT_ATTEMPTS);
    assert_eq!(e.status, StatusCode::BAD_GATEWAY, "not 'no key': {e:?}");
    for i in 0..3 {
        assert!(r.view(i).ejections.is_empty(), "key {i} was charged");
    }
    // The next request is served by whichever key it meets.
    assert!(r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_failure_another_key_then_serves_is_charged_to_its_key() {
    let r = rig(3).await;
    r.upstream.on(&r.keys[0], [Reply::Refused]);
    r.upstream.on(&r.keys[1], [Reply::Refused]);
    let answer = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    assert_eq!(answer.lease.index, 2);
    // Both failed where another key served: the keys' fault; the half rule ejects one of them.
    let ejected = (0..2).filter(|&i| !r.view(i).ejections.is_empty()).count();
    assert_eq!(ejected, 1);
    assert!(r.view(2).ejections.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_model_no_keys_tier_has_is_googles_not_found_and_one_that_some_have_is_served() {
    let not_found = || {
        let body = serde_json::json!({"error": {"code": 404, "status": "NOT_FOUND",
            "message": format!("models/{PRO} is not found for API version v1beta, or is not supported for generateContent.")}});
        Reply::Answer(StatusCode::NOT_FOUND, body.to_string())
    };
    let r = rig(3).await;
    r.upstream.on(&r.keys[0], [not_found()]);
    let answer = r
        .dispatcher
        .unary(&Route::model(PRO), &generate(PRO))
        .await
        .unwrap();
    assert_ne!(answer.lease.index, 0);
    assert!(r.view(0).evidence.lacking.contains_key(PRO));
    // Every other key lacks it too: the client gets Google's 404, not "no key".
    r.upstream.on(&r.keys[1], [not_found()]);
    r.upstream.on(&r.keys[2], [not_found()]);
    let e = r
        .dispatcher
        .unary(&Route::model(PRO), &generate(PRO))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::NOT_FOUND, "{e:?}");
    assert_eq!(r.upstream.calls().len(), 4, "key 0 was not asked again");
}

#[tokio::test(start_paused = true)]
async fn rate_limits_do_not_spend_the_transient_budget() {
    let r = rig(5).await;
    for k in &r.keys[..4] {
        r.upstream.on(k, [Reply::rate_limited(60)]);
    }
    let answer = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    assert_eq!(answer.lease.index, 4);
    // Every key rests now: the next request is refused at once, with the earliest return.
    for k in &r.keys[4..] {
        r.upstream.on(k, [Reply::rate_limited(30)]);
    }
    let e = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test(start_paused = true)]
async fn a_client_fault_goes_straight_back() {
    let r = rig(3).await;
    r.upstream.on(
        &r.keys[0],
        [Reply::error(400, "INVALID_ARGUMENT", serde_json::json!([]))],
    );
    let e = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.upstream.calls().len(), 1);
    assert_eq!(r.view(0).health, KeyHealth::Available);
}

#[tokio::test(start_paused = true)]
async fn a_hung_key_costs_exactly_one_attempt_timeout() {
    let r = rig(2).await;
    r.upstream.on(&r.keys[0], [Reply::Hang]);
    let started = Instant::now();
    let answer = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    assert_eq!(answer.lease.index, 1);
    assert_eq!(started.elapsed(), TIMEOUT);
    assert_eq!(
        r.view(0).last_error.as_deref(),
        Some("upstream_unavailable")
    );
}

#[tokio::test(start_paused = true)]
async fn an_unusable_answer_is_retried_once_on_another_key_and_recorded() {
    let r = rig(3).await;
    let mut judged = 0;
    let out = r
        .dispatcher
        .unary_checked(&Route::model(FLASH), &generate(FLASH), |a| {
            judged += 1;
            if judged == 1 {
                Checked::Retry("malformed")
            } else {
                Checked::Accept(a.lease.index)
            }
        })
        .await
        .unwrap();
    assert!(
        matches!(out, Ok(i) if i != 0),
        "the retry went to another key: {out:?}"
    );
    assert_eq!(r.view(0).failures, 1);
    assert_eq!(r.view(0).last_error.as_deref(), Some("unusable_answer"));
    assert_eq!(r.view(0).health, KeyHealth::Available, "the key is fine");

    // Always unusable: MAX_UNUSABLE_ANSWERS attempts, then the last refusal.
    let calls_before = r.upstream.calls().len();
    let out = r
        .dispatcher
        .unary_checked(&Route::model(FLASH), &generate(FLASH), |_| {
            Checked::<(), _>::Retry("still malformed")
        })
        .await
        .unwrap();
    assert_eq!(out, Err("still malformed"));
    assert_eq!(
        r.upstream.calls().len() - calls_before,
        MAX_UNUSABLE_ANSWERS
    );
}

#[tokio::test(start_paused = true)]
async fn a_session_stays_on_its_key_while_it_is_usable() {
    let r = rig(3).await;
    let route = Route::model(FLASH).with_session(Some("s-1".into()));
    r.upstream.on(&r.keys[0], [Reply::unavailable()]);
    let first = r.dispatcher.unary(&route, &generate(FLASH)).await.unwrap();
    let home = first.lease.index;
    assert_ne!(home, 0);
    for _ in 0..3 {
        let again = r.dispatcher.unary(&route, &generate(FLASH)).await.unwrap();
        assert_eq!(again.lease.index, home, "affinity");
    }
    r.upstream.on(&r.keys[home], [Reply::rate_limited(60)]);
    let moved = r.dispatcher.unary(&route, &generate(FLASH)).await.unwrap();
    assert_ne!(moved.lease.index, home);
    let stays = r.dispatcher.unary(&route, &generate(FLASH)).await.unwrap();
    assert_eq!(stays.lease.index, moved.lease.index, "the new key sticks");
}

#[tokio::test(start_paused = true)]
async fn each_model_has_its_own_round_robin_cursor() {
    let r = rig(2).await;
    let mut flash = Vec::new();
    let mut pro = Vec::new();
    for _ in 0..4 {
        let a = r
            .dispatcher
            .unary(&Route::model(FLASH), &generate(FLASH))
            .await
            .unwrap();
        flash.push(a.lease.index);
        let b = r
            .dispatcher
            .unary(&Route::model(PRO), &generate(PRO))
            .await
            .unwrap();
        pro.push(b.lease.index);
    }
    // One shared cursor would give flash key 0 every time and pro key 1 every time.
    assert_eq!(flash, [0, 1, 0, 1]);
    assert_eq!(pro, [0, 1, 0, 1]);
}

#[tokio::test(start_paused = true)]
async fn listing_models_is_not_a_model_requested() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(60)]);
    let e = r
        .dispatcher
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    let list = UpstreamRequest {
        method: Method::GET,
        path_and_query: "/v1beta/models".into(),
        body: None,
        extra: None,
    };
    r.dispatcher.unary(&Route::catalog(), &list).await.unwrap();
    assert!(
        matches!(r.view(0).health, KeyHealth::Cooling { .. }),
        "resting for its only model: {:?}",
        r.view(0).health
    );
}

pub(super) fn sse(events: &[(u64, &str)], then: StreamEnd) -> Reply {
    Reply::Stream {
        events: events
            .iter()
            .map(|(ms, e)| (Duration::from_millis(*ms), e.to_string()))
            .collect(),
        then,
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_fails_over_until_its_first_chunk_then_breaks_visibly() {
    let r = rig(3).await;
    // Key 0: headers, then silence past the attempt timeout. Key 1: ends before any data.
    r.upstream.on(&r.keys[0], [sse(&[], StreamEnd::Hang)]);
    r.upstream.on(&r.keys[1], [sse(&[], StreamEnd::Close)]);
    r.upstream
        .on(&r.keys[2], [sse(&[(0, HI), (5, HI)], StreamEnd::Break)]);
    let started = Instant::now();
    let s = r
        .dispatcher
        .stream(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), TIMEOUT, "key 0's silence, once");
    assert_eq!(s.lease.index, 2);
    assert!(s.first.starts_with(b"data: "));
    let rest: Vec<_> = s.rest.collect().await;
    assert!(rest[0].is_ok());
    assert!(matches!(rest[1], Err(StreamBroken::Transport(_))));
    assert_eq!(rest.len(), 2);
    assert_eq!(r.view(2).failures, 1, "the break is recorded once");
}

#[tokio::test(start_paused = true)]
async fn a_committed_stream_breaks_after_the_attempt_timeout_of_silence_since_its_last_chunk() {
    let r = rig(1).await;
    // Chunks 20 s apart (each within the timeout of the one before), then silence.
    r.upstream.on(
        &r.keys[0],
        [sse(&[(0, HI), (20_000, HI), (20_000, HI)], StreamEnd::Hang)],
    );
    let started = Instant::now();
    let s = r
        .dispatcher
        .stream(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    let rest: Vec<_> = s.rest.collect().await;
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert!(rest[..2].iter().all(Result::is_ok));
    assert!(matches!(rest[2], Err(StreamBroken::WentSilent)));
    assert_eq!(started.elapsed(), Duration::from_secs(40) + TIMEOUT);
    assert_eq!(r.view(0).failures, 1, "the silence is recorded once");
}

#[tokio::test(start_paused = true)]
async fn past_the_commit_deadline_the_dispatch_is_handed_over_still_running() {
    let r = rig(2).await;
    r.upstream.on(&r.keys[0], [Reply::Hang]);
    let started = Instant::now();
    let start = r
        .dispatcher
        .stream_with_deadline(
            Route::model(FLASH),
            generate(FLASH),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(20));
    let StreamStart::Pending(pending) = start else {
        panic!("expected the dispatch still under way");
    };
    let committed = pending.await.unwrap();
    assert_eq!(
        started.elapsed(),
        TIMEOUT,
        "key 0 timed out, key 1 answered"
    );
    assert_eq!(committed.lease.index, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_silent_after_its_headers_commits_empty_at_the_deadline() {
    let r = rig(1).await;
    r.upstream
        .on(&r.keys[0], [sse(&[(25_000, HI)], StreamEnd::Close)]);
    let started = Instant::now();
    let start = r
        .dispatcher
        .stream_with_deadline(
            Route::model(FLASH),
            generate(FLASH),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let StreamStart::Committed(s) = start else {
        panic!("the attempt itself commits at the deadline");
    };
    assert_eq!(started.elapsed(), Duration::from_secs(20));
    assert!(s.first.is_empty());
    let rest: Vec<_> = s.rest.collect().await;
    assert_eq!(rest.len(), 1);
    assert_eq!(started.elapsed(), Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn a_placed_request_goes_only_to_its_keys_owner_first_and_once_when_asked() {
    let r = rig(4).await;
    r.upstream
        .on(&r.keys[2], [Reply::unavailable()])
        .on(&r.keys[3], [Reply::unavailable()]);
    // The owner (key 2) fails: the other key of its project (3) is tried, never 0 or 1.
    let route = Route::model(FLASH).placed(Some(Placement::new(vec![2, 3])));
    let err = r
        .dispatcher
        .unary(&route, &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(err.status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.upstream.keys_called(), r.ids(&[2, 3]));
    // A body sent once: one attempt, on the first usable key.
    r.upstream.on(&r.keys[1], [Reply::unavailable()]);
    let once = Route::resources().placed(Some(Placement::once(vec![1, 0])));
    assert!(r.dispatcher.unary(&once, &generate(FLASH)).await.is_err());
    assert_eq!(r.upstream.keys_called()[2..], r.ids(&[1]));
}

#[test]
fn a_whole_answers_usage_is_found_pretty_printed_with_unknown_fields_or_not_at_all() {
    let tokens = |input, output, thought, cached| Tokens {
        input,
        output,
        thought,
        cached,
    };
    let plain = br#"{"candidates":[],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"thoughtsTokenCount":5,"cachedContentTokenCount":4,"totalTokenCount":15},"modelVersion":"m"}"#;
    assert_eq!(usage_of(plain), Some(tokens(8, 2, 5, 4)));
    let pretty = b"{\n  \"usageMetadata\" : {\n    \"promptTokenCount\": 3,\n    \"toolUsePromptTokenCount\": 1\n  }\n}\n";
    assert_eq!(usage_of(pretty), Some(tokens(4, 0, 0, 0)));
    // A field the event reader does not take: serde reads it.
    let unknown = br#"{"usageMetadata":{"promptTokenCount":3,"trafficType":"ON_DEMAND","candidatesTokenCount":1}}"#;
    assert_eq!(usage_of(unknown), Some(tokens(3, 1, 0, 0)));
    assert_eq!(usage_of(br#"{"candidates":[]}"#), None);
    assert_eq!(
        usage_of(br#"{"usageMetadata":{"promptTokenCount":-1}}"#),
        None
    );
}
