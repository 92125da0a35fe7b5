//! Waiting for a key in a model's line, in-process against a scripted upstream under tokio's
//! paused clock: served when the key returns (timed exactly), the 503 at once for a wait too
//! long or a full line, first come first served, a client that hangs up, streams, and
//! `QUEUE_MAX_WAIT=0`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

use super::tests::{generate, rig, sse, Rig, FLASH};
use super::*;
use crate::store::Change;
use crate::telemetry::Tally;
use crate::telemetry::TallyRef;
use crate::upstream::scripted::{Reply, StreamEnd};

const SECOND: Duration = Duration::from_secs(1);

/// The rig's dispatcher, waiting up to `secs` in lines of at most `length`.
fn waiting(r: &Rig, secs: u64, length: usize) -> Dispatcher {
    r.dispatcher
        .clone()
        .with_queue(Duration::from_secs(secs), length)
}

/// A flash request whose path names it, so the upstream's calls say whose they were.
fn tagged(tag: &str) -> UpstreamRequest {
    let mut req = generate(FLASH);
    req.path_and_query.push_str(&format!("?r={tag}"));
    req
}

/// The tags of the upstream's calls, in order.
fn tags(r: &Rig) -> Vec<String> {
    r.upstream
        .calls()
        .iter()
        .map(|c| c.path.rsplit("r=").next().unwrap_or("").to_string())
        .collect()
}

/// A request `tag` on its own task (as a connection's handler runs): when it ended, and how.
fn spawn(d: &Dispatcher, route: Route, tag: &str) -> JoinHandle<(Instant, Result<(), StatusCode>)> {
    let (d, req) = (d.clone(), tagged(tag));
    tokio::spawn(async move {
        let out = d.unary(&route, &req).await;
        (Instant::now(), out.map(|_| ()).map_err(|e| e.status))
    })
}

/// Lets the spawned requests run until `n` wait in flash's line (no time passes).
async fn in_line(d: &Dispatcher, n: usize) {
    for _ in 0..10_000 {
        if d.queue().map_or(0, |q| q.len(FLASH)) == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{n} never waited in line");
}

fn metrics(d: &Dispatcher) -> String {
    d.telemetry().metrics.render(&d.pool().snapshot())
}

fn waits(outcome: &str, n: u32) -> String {
    format!(r#"gateway_queue_waits_total{{model="{FLASH}",outcome="{outcome}"}} {n}"#)
}

#[tokio::test(start_paused = true)]
async fn a_request_waits_for_a_key_resting_briefly_and_is_served_when_it_returns() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    // The first request meets the 429 that rests the only key for 2 s, and waits it out.
    let first = spawn(&d, Route::model(FLASH), "a");
    sleep(Duration::from_millis(500)).await;
    // One made meanwhile waits the remaining 1.5 s, not a 503.
    let tally = TallyRef(Tally::new());
    let route = Route::model(FLASH).with_tally(Some(tally.clone()));
    let second = spawn(&d, route, "b");
    let (a_done, a) = first.await.unwrap();
    let (b_done, b) = second.await.unwrap();
    assert_eq!((a, b), (Ok(()), Ok(())));
    assert_eq!(a_done - started, 2 * SECOND);
    assert_eq!(b_done - started, 2 * SECOND);
    assert_eq!(tags(&r), ["a", "a", "b"]);
    assert_eq!(tally.0.snapshot().waited, Duration::from_millis(1500));
    assert!(!tally.0.snapshot().exhausted);
    let m = metrics(&d);
    assert!(m.contains(&waits("served", 2)), "{m}");
    assert!(
        m.contains(&format!(r#"gateway_queue_waiting{{model="{FLASH}"}} 0"#)),
        "{m}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_key_returning_later_than_the_allowance_is_a_503_at_once() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(30)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    for _ in 0..2 {
        let e = d
            .unary(&Route::model(FLASH), &generate(FLASH))
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after(), Some(30 * SECOND));
        assert_eq!(started.elapsed(), Duration::ZERO, "at once");
    }
    assert_eq!(r.upstream.calls().len(), 1);
    assert!(!metrics(&d).contains("gateway_queue_waits_total{"));
}

#[tokio::test(start_paused = true)]
async fn the_wait_in_all_is_bounded_by_the_allowance() {
    let r = rig(1).await;
    // Back in 3 s, then rate-limited again for 3 s: 6 s in all, more than the 5 allowed.
    r.upstream
        .on(&r.keys[0], [Reply::rate_limited(3), Reply::rate_limited(3)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let e = d
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.retry_after(), Some(3 * SECOND));
    assert_eq!(
        started.elapsed(),
        3 * SECOND,
        "refused when the second 429 came"
    );
    assert_eq!(r.upstream.calls().len(), 2);
    assert!(metrics(&d).contains(&waits("timed_out", 1)));
}

#[tokio::test(start_paused = true)]
async fn keys_that_keep_refusing_after_the_wait_end_it() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], vec![Reply::rate_limited(1); 6]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let e = d
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.upstream.calls().len(),
        1 + MAX_RATE_LIMITS_AFTER_WAITING,
        "the first 429, then one per wait"
    );
    assert_eq!(started.elapsed(), 3 * SECOND);
}

#[tokio::test(start_paused = true)]
async fn after_the_wait_the_keys_tried_serve_again_as_the_pool_allows() {
    let r = rig(2).await;
    let internal = Reply::error(500, "INTERNAL", serde_json::json!([]));
    r.upstream.on(&r.keys[0], [internal]);
    r.upstream.on(&r.keys[1], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let answer = d
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap();
    // Key 0 failed and is ejected for 5 s; key 1 rested 2 s and serves.
    assert_eq!(started.elapsed(), 2 * SECOND);
    assert_eq!(answer.lease.index, 1);
    assert_eq!(r.upstream.keys_called(), r.ids(&[0, 1, 1]));
}

#[tokio::test(start_paused = true)]
async fn a_full_line_is_a_503_at_once() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 1);
    let first = spawn(&d, Route::model(FLASH), "a");
    in_line(&d, 1).await;
    let started = Instant::now();
    let e = d
        .unary(&Route::model(FLASH), &tagged("b"))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO, "at once");
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.retry_after(), Some(2 * SECOND));
    assert_eq!(first.await.unwrap().1, Ok(()));
    assert_eq!(tags(&r), ["a", "a"]);
    let m = metrics(&d);
    assert!(m.contains(&waits("full", 1)), "{m}");
    assert!(m.contains(&waits("served", 1)), "{m}");
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_first_come_first_served() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let mut waiters = vec![spawn(&d, Route::model(FLASH), "a")];
    for tag in ["b", "c", "d"] {
        sleep(Duration::from_millis(300)).await;
        waiters.push(spawn(&d, Route::model(FLASH), tag));
    }
    for w in waiters {
        let (done, out) = w.await.unwrap();
        assert_eq!((done - started, out), (2 * SECOND, Ok(())));
    }
    assert_eq!(tags(&r), ["a", "a", "b", "c", "d"]);
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_joins_the_line_rather_than_take_a_key_freed_ahead_of_it() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let first = spawn(&d, Route::model(FLASH), "a");
    in_line(&d, 1).await;
    sleep(SECOND).await;
    // An operator ends the rest early: the key is usable, while "a" sleeps until 2 s.
    let clear = Change::ClearCooldown {
        key_id: r.id(0),
        model: None,
    };
    d.pool().apply(clear).await.unwrap();
    // A request that may not wait (it has a fallback) takes no key ahead of the line.
    let e = d
        .unary(&Route::model(FLASH).queued(false), &tagged("f"))
        .await
        .unwrap_err();
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    // One that may wait goes behind "a", and wakes it: both are served now.
    let late = spawn(&d, Route::model(FLASH), "n");
    let (a_done, a) = first.await.unwrap();
    let (n_done, n) = late.await.unwrap();
    assert_eq!((a, n), (Ok(()), Ok(())));
    assert_eq!((a_done - started, n_done - started), (SECOND, SECOND));
    assert_eq!(tags(&r), ["a", "a", "n"]);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_that_hangs_up_leaves_the_line_and_never_reaches_gemini() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let first = spawn(&d, Route::model(FLASH), "a");
    in_line(&d, 1).await;
    let second = spawn(&d, Route::model(FLASH), "b");
    in_line(&d, 2).await;
    let third = spawn(&d, Route::model(FLASH), "c");
    in_line(&d, 3).await;
    sleep(SECOND).await;
    // "b" hangs up from the middle of the line, then "a" from its head.
    second.abort();
    assert!(second.await.unwrap_err().is_cancelled());
    in_line(&d, 2).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    in_line(&d, 1).await;
    // "c", woken at the head, still waits for the key's return.
    let (done, out) = third.await.unwrap();
    assert_eq!((done - started, out), (2 * SECOND, Ok(())));
    assert_eq!(tags(&r), ["a", "c"], "no call for those who left");
    let m = metrics(&d);
    assert!(m.contains(&waits("hung_up", 2)), "{m}");
    assert!(m.contains(&waits("served", 1)), "{m}");
}

#[tokio::test(start_paused = true)]
async fn with_queue_max_wait_zero_the_503_comes_at_once() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(2)]);
    let d = r.dispatcher.clone().with_queue(Duration::ZERO, 100);
    assert!(d.queue().is_none());
    let started = Instant::now();
    let e = d
        .unary(&Route::model(FLASH), &generate(FLASH))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.retry_after(), Some(2 * SECOND));
}

#[tokio::test(start_paused = true)]
async fn a_stream_waiting_past_its_commit_deadline_is_handed_over_still_waiting() {
    let r = rig(1).await;
    r.upstream.on(&r.keys[0], [Reply::rate_limited(25)]);
    let d = waiting(&r, 30, 100);
    let started = Instant::now();
    let start = d
        .stream_with_deadline(Route::model(FLASH), generate(FLASH), 20 * SECOND)
        .await
        .unwrap();
    assert_eq!(started.elapsed(), 20 * SECOND);
    let StreamStart::Pending(pending) = start else {
        panic!("expected the dispatch still waiting");
    };
    let committed = pending.await.unwrap();
    assert_eq!(started.elapsed(), 25 * SECOND);
    assert!(committed.first.starts_with(b"{"), "Gemini's first bytes");
}

#[tokio::test(start_paused = true)]
async fn a_stream_already_answering_does_not_wait_to_be_continued() {
    let r = rig(2).await;
    let partial = r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}"#;
    r.upstream
        .on(&r.keys[0], [sse(&[(0, partial)], StreamEnd::Break)]);
    r.upstream.on(&r.keys[1], [Reply::rate_limited(2)]);
    let d = waiting(&r, 5, 100);
    let req = UpstreamRequest {
        method: http::Method::POST,
        path_and_query: format!("/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"),
        body: Some(bytes::Bytes::from_static(
            br#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#,
        )),
        extra: None,
    };
    let started = Instant::now();
    let s = d.stream(&Route::model(FLASH), &req).await.unwrap();
    let rest: Vec<_> = s.rest.collect().await;
    // The continuation met key 1 resting 2 s: the client's stream breaks now, with no wait.
    assert!(rest.iter().any(Result::is_err), "{rest:?}");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(r.upstream.keys_called(), r.ids(&[0, 1]));
}

#[tokio::test(start_paused = true)]
async fn a_key_that_serves_again_wakes_the_head_at_once() {
    let r = rig(2).await;
    let internal = Reply::error(500, "INTERNAL", serde_json::json!([]));
    // Key 0 fails (ejected for 5 s), then, as the probe, answers after 1 s; key 1 rests 60 s.
    r.upstream
        .on(&r.keys[0], [internal, Reply::after(SECOND, Reply::ok())]);
    r.upstream.on(&r.keys[1], [Reply::rate_limited(60)]);
    let d = waiting(&r, 5, 100);
    let started = Instant::now();
    let prober = spawn(&d, Route::model(FLASH), "p");
    sleep(Duration::from_millis(5500)).await;
    // Key 0's probe is under way: the pool expects nothing before the next probe, at 10 s.
    let waiter = spawn(&d, Route::model(FLASH), "w");
    let (p_done, p) = prober.await.unwrap();
    let (w_done, w) = waiter.await.unwrap();
    assert_eq!((p, w), (Ok(()), Ok(())));
    assert_eq!(p_done - started, 6 * SECOND);
    assert_eq!(w_done - started, 6 * SECOND, "woken by the probe's success");
    assert_eq!(tags(&r), ["p", "p", "p", "w"]);
}
