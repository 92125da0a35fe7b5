//! Black-box: Gemini's stored resources on a pool of keys of different projects. A file
//! uploaded through the gateway (resumable, in two chunks, and multipart) is used by requests
//! that all reach its owner's key; lists merge every project; a request naming files of two
//! projects is a 400; a file whose key was disabled is said to be gone with it; a context cache
//! is made, used and deleted on its owner; keyless upload chunks pass only on a session the
//! gateway handed out; a 1 GiB upload streams through with the gateway's memory flat.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::*;

const FLASH: &str = "gemini-3.8-flash";

/// Opens a resumable upload of `size` bytes; the session URL the gateway handed back.
async fn start_upload(gw: &Gateway, size: usize, auth: Option<&str>) -> String {
    let mut req = client()
        .post(gw.url("/upload/v1beta/files"))
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .header("X-Goog-Upload-Header-Content-Length", size.to_string())
        .header("X-Goog-Upload-Header-Content-Type", "text/plain")
        .json(&json!({"file": {"displayName": "notes"}}));
    if let Some(k) = auth {
        req = req.header("x-goog-api-key", k);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(resp.headers()["x-goog-upload-status"], "active");
    let url = resp.headers()["x-goog-upload-url"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with(&gw.url("/upload/v1beta/files?")), "{url}");
    url
}

/// Sends `bytes` to a session as Google's SDKs do (no key), the last chunk finalizing.
async fn send_chunk(url: &str, bytes: Vec<u8>, offset: usize, last: bool) -> reqwest::Response {
    client()
        .post(url)
        .header(
            "X-Goog-Upload-Command",
            if last { "upload, finalize" } else { "upload" },
        )
        .header("X-Goog-Upload-Offset", offset.to_string())
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// Uploads a small file in two chunks; its name (`files/…`).
async fn upload(gw: &Gateway) -> String {
    let url = start_upload(gw, 10, None).await;
    let first = send_chunk(&url, b"hello".to_vec(), 0, false).await;
    assert_eq!(first.headers()["x-goog-upload-status"], "active");
    let last = send_chunk(&url, b"world".to_vec(), 5, true).await;
    assert_eq!(last.headers()["x-goog-upload-status"], "final");
    let body: Value = last.json().await.unwrap();
    assert_eq!(body["file"]["sizeBytes"], "10", "{body}");
    body["file"]["name"].as_str().unwrap().to_string()
}

fn asking_about(file: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [
        {"text": "What does this say?"},
        {"fileData": {"fileUri": file, "mimeType": "text/plain"}}]}]})
}

async fn generate_with(gw: &Gateway, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(&format!("/v1beta/models/{FLASH}:generateContent")))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The key that made the mock's resource calls of `action`.
fn keys_for(mock: &MockGemini, action: &str) -> Vec<String> {
    mock.requests()
        .into_iter()
        .filter(|r| r.action.as_deref() == Some(action) && r.api_key.is_some())
        .map(|r| r.api_key.unwrap())
        .collect()
}

#[tokio::test]
async fn a_file_is_used_listed_and_deleted_on_its_owners_key() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;
    let file = upload(&gw).await;
    let owner = keys_for(&mock, "files.upload").pop().unwrap();
    mock.clear_requests();
    for _ in 0..3 {
        let resp = generate_with(&gw, &asking_about(&file)).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    // The full URI names it as well as the bare name.
    let uri = format!("https://generativelanguage.googleapis.com/v1beta/{file}");
    let resp = generate_with(&gw, &asking_about(&uri)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(keys_used(&mock), vec![owner.clone(); 4], "all on the owner");

    let got: Value = client()
        .get(gw.url(&format!("/v1beta/{file}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], file.as_str(), "{got}");
    let listed: Value = client()
        .get(gw.url("/v1beta/files"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [file.as_str()],
        "one list over three projects: {listed}"
    );
    assert_eq!(keys_for(&mock, "files.list").len(), 3, "each project asked");

    let deleted = client()
        .delete(gw.url(&format!("/v1beta/{file}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(keys_for(&mock, "files.delete"), [owner]);
}

#[tokio::test]
async fn two_projects_files_in_one_request_are_refused_and_a_disabled_owner_took_its_file() {
    let Scenario { mock, keys, gw } = Scenario::keys(2).start().await;
    // Round-robin opens the two sessions on the two keys.
    let (a, b) = (upload(&gw).await, upload(&gw).await);
    let mut owners = keys_for(&mock, "files.upload");
    owners.dedup();
    assert_ne!(owners[0], owners[1], "uploads spread over the keys");

    let mut both = asking_about(&a);
    both["contents"][0]["parts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"fileData": {"fileUri": b, "mimeType": "text/plain"}}));
    mock.clear_requests();
    let resp = generate_with(&gw, &both).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("two Google projects"), "{message}");
    assert!(model_calls(&mock).is_empty(), "no key was asked");

    // A's owner is revoked: the next request about A learns it and says the file is gone.
    let a_owner = owners[0].clone();
    mock.script(rule(&a_owner, None, None, Behaviour::KeyInvalid));
    let resp = generate_with(&gw, &asking_about(&a)).await;
    assert_eq!(resp.status(), 404, "{:?}", resp.text().await);
    let resp = generate_with(&gw, &asking_about(&a)).await;
    assert_eq!(resp.status(), 404);
    let err: Value = resp.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("went with its key"), "{message}");
    assert!(!message.contains(&a_owner), "no key in a message");
    assert!(keys.iter().all(|k| !message.contains(&k[8..])));
    // B's file still serves, on B's key.
    let resp = generate_with(&gw, &asking_about(&b)).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_multipart_upload_is_owned_too() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;
    let boundary = "gw-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nmultipart bytes\r\n--{boundary}--\r\n",
        json!({"file": {"displayName": "mp", "mimeType": "text/plain"}})
    );
    let resp = client()
        .post(gw.url("/upload/v1beta/files?uploadType=multipart"))
        .header("X-Goog-Upload-Protocol", "multipart")
        .header(
            "Content-Type",
            format!("multipart/related; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let made: Value = resp.json().await.unwrap();
    let file = made["file"]["name"].as_str().unwrap().to_string();
    let owner = keys_for(&mock, "files.upload").pop().unwrap();
    mock.clear_requests();
    for _ in 0..3 {
        assert_eq!(generate_with(&gw, &asking_about(&file)).await.status(), 200);
    }
    assert_eq!(keys_used(&mock), vec![owner; 3]);
}

#[tokio::test]
async fn a_context_cache_is_made_used_and_deleted_on_its_owner() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;
    let long = "The gateway keeps each resource with its project. ".repeat(700);
    let made = client()
        .post(gw.url("/v1beta/cachedContents"))
        .json(&json!({"model": format!("models/{FLASH}"), "ttl": "600s",
            "contents": [{"role": "user", "parts": [{"text": long}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200, "{:?}", made.text().await);
    let cache: Value = made.json().await.unwrap();
    let name = cache["name"].as_str().unwrap().to_string();
    let owner = keys_for(&mock, "cachedContents.create").pop().unwrap();
    mock.clear_requests();
    for _ in 0..3 {
        let resp = generate_with(
            &gw,
            &json!({"cachedContent": name, "contents": [{"role": "user", "parts": [{"text": "Summarise"}]}]}),
        )
        .await;
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
        let answer: Value = resp.json().await.unwrap();
        assert!(
            answer["usageMetadata"]["cachedContentTokenCount"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    assert_eq!(keys_used(&mock), vec![owner.clone(); 3]);
    let patched = client()
        .patch(gw.url(&format!("/v1beta/{name}?updateMask=ttl")))
        .json(&json!({"ttl": "1200s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200, "{:?}", patched.text().await);
    let deleted = client()
        .delete(gw.url(&format!("/v1beta/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        keys_for(&mock, "cachedContents.patch"),
        std::slice::from_ref(&owner)
    );
    assert_eq!(keys_for(&mock, "cachedContents.delete"), [owner]);
}

#[tokio::test]
async fn keyless_chunks_pass_only_on_a_session_the_gateway_opened() {
    let mock = MockGemini::start().await.unwrap();
    let gw = Gateway::start(&mock, &keys(2), &[("GATEWAY_API_KEYS", "client-secret")]).await;
    let url = start_upload(&gw, 4, Some("client-secret")).await;
    let done = send_chunk(&url, b"data".to_vec(), 0, true).await;
    assert_eq!(done.status(), 200, "{:?}", done.text().await);
    let forged = gw.url("/upload/v1beta/files?upload_id=made-up&upload_protocol=resumable");
    let refused = send_chunk(&forged, b"data".to_vec(), 0, true).await;
    assert_eq!(refused.status(), 401);
}

/// Resident memory of `pid` (`VmRSS`, or the peak `VmHWM`), in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_one_gib_upload_streams_through_in_flat_memory() {
    const SIZE: usize = 1 << 30;
    const CHUNK: usize = 1 << 20;
    let Scenario {
        mock: _mock, gw, ..
    } = Scenario::keys(2).start().await;
    let before = memory_kib(gw.pid(), "VmRSS:");
    let url = start_upload(&gw, SIZE, None).await;
    let chunks = futures_util::stream::iter(
        (0..SIZE / CHUNK).map(|_| Ok::<_, std::io::Error>(vec![7u8; CHUNK])),
    );
    let resp = client()
        .post(&url)
        .header("X-Goog-Upload-Command", "upload, finalize")
        .header("X-Goog-Upload-Offset", "0")
        .header("Content-Length", SIZE.to_string())
        .timeout(std::time::Duration::from_secs(300))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let file: Value = resp.json().await.unwrap();
    assert_eq!(file["file"]["sizeBytes"], SIZE.to_string());
    let peak = memory_kib(gw.pid(), "VmHWM:");
    assert!(
        peak.saturating_sub(before) < 64 * 1024,
        "resident memory grew by {} KiB (from {before})",
        peak - before
    );
}

#[tokio::test]
async fn another_key_of_the_owners_declared_project_serves_when_the_owner_fails() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    mock.set_quotas(mock_gemini::QuotaConfig {
        projects: [
            (ks[0].clone(), "p".to_string()),
            (ks[1].clone(), "p".to_string()),
        ]
        .into(),
        ..mock_gemini::QuotaConfig::default()
    });
    let declared = format!("p:{},p:{},{}", ks[0], ks[1], ks[2]);
    let gw = Gateway::start(&mock, &ks, &[("GEMINI_API_KEY", declared.as_str())]).await;
    let file = upload(&gw).await;
    let owner = keys_for(&mock, "files.upload").pop().unwrap();
    let sibling = if owner == ks[0] { &ks[1] } else { &ks[0] };
    assert_ne!(owner, ks[2], "round-robin starts on the first key");
    // (A 429 would rest the whole declared project: its quota is the project's.)
    mock.script(rule(&owner, Some(FLASH), None, Behaviour::Internal));
    mock.clear_requests();
    for _ in 0..3 {
        let resp = generate_with(&gw, &asking_about(&file)).await;
        assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    }
    let served: Vec<String> = model_calls(&mock)
        .into_iter()
        .filter(|r| r.status == 200)
        .map(|r| r.api_key.unwrap())
        .collect();
    assert_eq!(
        served,
        vec![sibling.clone(); 3],
        "the owner's project's other key"
    );
    assert!(
        keys_used(&mock).iter().all(|k| *k != ks[2]),
        "never the other project"
    );
}

#[tokio::test]
async fn a_streamed_interaction_is_owned_resumed_and_continued_on_its_key() {
    let Scenario { mock, gw, .. } = Scenario::keys(3).start().await;
    let stream = client()
        .post(gw.url("/v1beta/interactions"))
        .header("Api-Revision", "2026-05-20")
        .json(&json!({"model": FLASH, "input": "Hello", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = stream.text().await.unwrap();
    assert!(events.contains("interaction.complete"), "{events}");
    let id = events
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let owner = keys_for(&mock, "interactions.create").pop().unwrap();
    mock.clear_requests();
    let resumed = client()
        .get(gw.url(&format!(
            "/v1beta/interactions/{id}?stream=true&last_event_id=e1"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!resumed.contains("interaction.start") && resumed.contains("interaction.complete"));
    for _ in 0..2 {
        let next = client()
            .post(gw.url("/v1beta/interactions"))
            .json(&json!({"model": FLASH, "input": "More", "previous_interaction_id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(next.status(), 200, "{:?}", next.text().await);
    }
    let keys: Vec<String> = mock
        .requests()
        .into_iter()
        .filter_map(|r| r.api_key)
        .collect();
    assert_eq!(keys, vec![owner; 3], "resumed and continued on the owner");
}

#[tokio::test]
async fn a_restart_keeps_the_owners() {
    let mock = MockGemini::start().await.unwrap();
    let ks = keys(3);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let gw = Gateway::start(&mock, &ks, &[("STATE_PATH", state)]).await;
    let file = upload(&gw).await;
    let owner = keys_for(&mock, "files.upload").pop().unwrap();
    assert_eq!(gw.terminate(), Some(0));

    let gw = Gateway::start(&mock, &ks, &[("STATE_PATH", state)]).await;
    mock.clear_requests();
    for _ in 0..3 {
        assert_eq!(generate_with(&gw, &asking_about(&file)).await.status(), 200);
    }
    assert_eq!(keys_used(&mock), vec![owner; 3]);
}
