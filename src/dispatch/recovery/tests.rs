//! Following a stream: events read alike however they are torn, and the usage recorded.

use super::*;
use crate::dispatch::tests::{rig, FLASH};

/// Follows a stream of `FLASH` on key 0 whose first chunk is `first`.
async fn follow(
    first: Bytes,
    rest: BoxStream<'static, Result<Bytes, StreamBroken>>,
    hand: Hand,
) -> Recovering {
    let r = rig(1).await;
    let req = UpstreamRequest {
        method: http::Method::POST,
        path_and_query: format!("/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"),
        body: None,
        extra: None,
    };
    let key = r.keys[0].shared_id().clone();
    Recovering::new(
        r.dispatcher,
        Route::model(FLASH),
        req,
        (0, &key),
        (first, rest),
        hand,
    )
}

/// The events a translating surface is handed for a stream arriving in these chunks.
async fn parsed(chunks: Vec<Vec<u8>>) -> Vec<ParsedEvent> {
    let mut chunks = chunks.into_iter().map(|c| Ok(Bytes::from(c)));
    let first = chunks.next().unwrap().unwrap();
    let rest = futures_util::stream::iter(chunks.collect::<Vec<_>>()).boxed();
    let mut following = follow(first, rest, Hand::Parsed).await;
    let mut events = Vec::new();
    loop {
        following.take_events(|event| events.push(event.cloned()));
        match following.more_events().await {
            Some(more) => more.unwrap(),
            None => return events,
        }
    }
}

#[tokio::test]
async fn events_are_parsed_alike_whole_or_torn_anywhere() {
    let texts = ["Hel", "lo \\\"there\\\"", "", "!"];
    let frames: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let finish = if i == 3 { r#","finishReason":"STOP""# } else { "" };
            let event = format!(
                r#"{{"candidates":[{{"content":{{"parts":[{{"text":"{t}"}}],"role":"model"}}{finish}}}]}}"#
            );
            // One event framed with bare line feeds: the decoder's, not Gemini's, framing.
            let end = if i == 2 { "\n\n" } else { "\r\n\r\n" };
            format!("data: {event}{end}")
        })
        .collect();
    let whole = parsed(frames.iter().map(|f| f.clone().into_bytes()).collect()).await;
    assert_eq!(whole.len(), 4);
    assert!(whole.iter().all(Result::is_ok), "{whole:?}");
    let all = frames.concat().into_bytes();
    for cut in 1..all.len() {
        let torn = parsed(vec![all[..cut].to_vec(), all[cut..].to_vec()]).await;
        assert_eq!(torn, whole, "cut at {cut}");
    }
}

#[tokio::test]
async fn the_last_usage_counts_whichever_reader_read_it() {
    // The first shape is read by `common_event`, the second (a field it does not know) by
    // serde; each follows the other once.
    let common = |total: u64| {
        format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"a"}}],"role":"model"}}}}],"usageMetadata":{{"promptTokenCount":1,"totalTokenCount":{total}}}}}"#
        )
    };
    let other = |total: u64| {
        format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"b"}}]}},"safetyRatings":[]}}],"usageMetadata":{{"promptTokenCount":1,"totalTokenCount":{total}}}}}"#
        )
    };
    assert!(common_event::read(&common(1)).is_some());
    assert!(common_event::read(&other(1)).is_none());
    for (events, last) in [([common(10), other(20)], 20), ([other(30), common(40)], 40)] {
        for hand in [Hand::Framed, Hand::Parsed] {
            let sse: String = events
                .iter()
                .map(|e| format!("data: {e}\r\n\r\n"))
                .collect();
            let rest = futures_util::stream::empty().boxed();
            let mut following = follow(sse.into(), rest, hand).await;
            let tokens = following.last_tokens();
            assert_eq!(
                tokens,
                Tokens::from_usage(
                    &serde_json::from_str(&format!(
                        r#"{{"promptTokenCount":1,"totalTokenCount":{last}}}"#
                    ))
                    .unwrap()
                ),
                "{hand:?}"
            );
            assert_eq!(
                following.last_tokens(),
                Tokens::default(),
                "forgotten once reported"
            );
        }
    }
}

#[test]
fn only_sse_streams_are_followed() {
    let req = |p: &str| UpstreamRequest {
        method: http::Method::POST,
        path_and_query: p.into(),
        body: None,
        extra: None,
    };
    assert!(is_sse(&req(
        "/v1beta/models/m:streamGenerateContent?alt=sse"
    )));
    assert!(!is_sse(&req("/v1beta/models/m:streamGenerateContent")));
    assert!(!is_sse(&req(
        "/v1beta/models/m:streamGenerateContent?alt=ssex"
    )));
}

#[tokio::test]
async fn a_followed_stream_waits_in_a_small_future() {
    // Every open stream holds this future while it waits for the next chunk; the dispatch of a
    // continuation (kilobytes) is boxed only when one is needed.
    let rest = futures_util::stream::empty().boxed();
    let mut following = follow(Bytes::new(), rest, Hand::Parsed).await;
    let waiting = std::mem::size_of_val(&following.fill());
    assert!(waiting <= 256, "{waiting} bytes");
}
