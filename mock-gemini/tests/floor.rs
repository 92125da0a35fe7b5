//! The benchmark's floor (`--floor`): the strict mock's first answer of each kind, then the same
//! bytes for every request of that kind, whatever its body, with nothing checked or recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mock_gemini::{MockGemini, MockOptions};

#[tokio::test]
async fn the_floor_repeats_the_first_answer_of_each_kind_and_records_nothing() {
    let floor = MockGemini::start_floor(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        MockOptions {
            stream_chunks: Some(5),
            ..MockOptions::default()
        },
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let key = "AIzaSyFloorTestQm2Lr8Vt6Wn3Pk1Jh7Gf5Ds0";
    let call = |path: &'static str, body: &'static str| {
        let http = http.clone();
        let url = format!("{}/v1beta/models/gemini-3.8-flash:{path}", floor.base_url());
        async move {
            let r = http
                .post(url)
                .header("x-goog-api-key", key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let hello = r#"{"contents":[{"role":"user","parts":[{"text":"hello floor"}]}]}"#;
    let (status, first) = call("generateContent", hello).await;
    assert_eq!(status, 200);
    assert!(first.contains("hello floor"));
    // Not checked: a body the strict mock would refuse gets the same answer.
    assert_eq!(
        call("generateContent", "not json").await,
        (200, first.clone())
    );
    let (status, stream) = call("streamGenerateContent?alt=sse", hello).await;
    assert_eq!(status, 200);
    assert!(stream.starts_with("data: ") && stream.ends_with("\r\n\r\n"));
    assert_ne!(stream, first);
    assert_eq!(
        call("streamGenerateContent?alt=sse", "{}").await,
        (200, stream)
    );
    assert!(
        floor.requests().len() <= 2,
        "only the first of each kind reached the mock"
    );
}
