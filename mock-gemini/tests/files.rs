//! The Files API as the gateway meets it: resumable uploads in chunks (and what a wrong offset or
//! a foreign session gets), multipart uploads, get/list/delete, generated files that download,
//! files that belong to their project alone (Google's 403 for any other project's key, also
//! when a `generateContent` references one), and a 64 MiB upload that the mock streams instead
//! of holding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use common::*;
use mock_gemini::{GeneratedFile, MockGemini, QuotaConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A key of the first key's project.
const KEY3: &str = "AIzaSyC-mock-key-2222222222222222222222";

/// KEY and KEY3 in project `p1`, KEY2 in `p2`.
fn two_projects(mock: &MockGemini) {
    mock.set_quotas(QuotaConfig {
        projects: HashMap::from([
            (KEY.to_owned(), "p1".to_owned()),
            (KEY3.to_owned(), "p1".to_owned()),
            (KEY2.to_owned(), "p2".to_owned()),
        ]),
        ..QuotaConfig::default()
    });
}

/// Google's `sha256Hash`: the base64 of the hex digest.
fn google_sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    STANDARD.encode(hex)
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Starts a resumable upload; returns the session URL.
async fn start_upload(mock: &MockGemini, key: &str, size: u64, metadata: &Value) -> String {
    let response = client()
        .post(format!("{}/upload/v1beta/files", mock.base_url()))
        .header("x-goog-api-key", key)
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .header("X-Goog-Upload-Header-Content-Length", size.to_string())
        .header("X-Goog-Upload-Header-Content-Type", "text/plain")
        .header("content-type", "application/json")
        .body(metadata.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-goog-upload-status"], "active");
    assert_eq!(
        response.headers()["x-goog-upload-chunk-granularity"],
        "8388608"
    );
    let url = response.headers()["x-goog-upload-url"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(response.text().await.unwrap().is_empty());
    url
}

/// Sends one chunk of a resumable upload.
async fn chunk(
    url: &str,
    key: &str,
    command: &str,
    offset: u64,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    client()
        .post(url)
        .header("x-goog-api-key", key)
        .header("X-Goog-Upload-Command", command)
        .header("X-Goog-Upload-Offset", offset.to_string())
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads `bytes` in one chunk; returns the `File`.
async fn upload(mock: &MockGemini, key: &str, bytes: &'static [u8]) -> Value {
    let url = start_upload(mock, key, bytes.len() as u64, &json!({"file": {}})).await;
    let (status, body) = json_of(chunk(&url, key, "upload, finalize", 0, bytes).await).await;
    assert_eq!(status, 200, "{body}");
    body["file"].clone()
}

async fn call(mock: &MockGemini, method: reqwest::Method, key: &str, path: &str) -> (u16, Value) {
    let response = client()
        .request(method, format!("{}{path}", mock.base_url()))
        .header("x-goog-api-key", key)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

fn file_id(file: &Value) -> String {
    file["name"]
        .as_str()
        .unwrap()
        .strip_prefix("files/")
        .unwrap()
        .to_owned()
}

fn denied(id: &str) -> Value {
    json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
        "message": format!("You do not have permission to access the File {id} or it may not exist.")}})
}

#[tokio::test]
async fn resumable_upload_in_two_chunks_then_get_list_delete() {
    let mock = MockGemini::start().await.unwrap();
    let meta = json!({"file": {"displayName": "greeting", "mimeType": "text/plain"}});
    let url = start_upload(&mock, KEY, 11, &meta).await;
    let prefix = format!("{}/upload/v1beta/files?upload_id=", mock.base_url());
    assert!(url.starts_with(&prefix), "{url}");
    assert!(url.ends_with("&upload_protocol=resumable"), "{url}");

    let first = chunk(&url, KEY, "upload", 0, "hello").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-goog-upload-status"], "active");
    assert!(first.text().await.unwrap().is_empty());

    let wrong = chunk(&url, KEY, "upload, finalize", 3, " world").await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.headers()["x-goog-upload-size-received"], "5");

    let last = chunk(&url, KEY, "upload, finalize", 5, " world").await;
    assert_eq!(last.headers()["x-goog-upload-status"], "final");
    let (status, body) = json_of(last).await;
    assert_eq!(status, 200, "{body}");
    let file = body["file"].clone();
    let id = file_id(&file);
    assert_eq!(id.len(), 12);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(file["displayName"], "greeting");
    assert_eq!(file["mimeType"], "text/plain");
    assert_eq!(file["sizeBytes"], "11");
    assert_eq!(file["sha256Hash"], google_sha256(b"hello world"));
    assert_eq!(file["state"], "ACTIVE");
    assert_eq!(file["source"], "UPLOADED");
    assert_eq!(
        file["uri"],
        format!("{}/v1beta/files/{id}", mock.base_url())
    );
    let created = chrono::DateTime::parse_from_rfc3339(file["createTime"].as_str().unwrap());
    let expires = chrono::DateTime::parse_from_rfc3339(file["expirationTime"].as_str().unwrap());
    assert_eq!((expires.unwrap() - created.unwrap()).num_hours(), 48);

    let (status, got) = call(
        &mock,
        reqwest::Method::GET,
        KEY,
        &format!("/v1beta/files/{id}"),
    )
    .await;
    assert_eq!((status, &got), (200, &file));
    let (_, listed) = call(&mock, reqwest::Method::GET, KEY, "/v1beta/files").await;
    assert_eq!(listed, json!({"files": [file]}));
    let (status, deleted) = call(
        &mock,
        reqwest::Method::DELETE,
        KEY,
        &format!("/v1alpha/files/{id}"),
    )
    .await;
    assert_eq!((status, deleted), (200, json!({})));
    let (status, gone) = call(
        &mock,
        reqwest::Method::GET,
        KEY,
        &format!("/v1beta/files/{id}"),
    )
    .await;
    assert_eq!((status, gone), (403, denied(&id)));
    let (_, listed) = call(&mock, reqwest::Method::GET, KEY, "/v1beta/files").await;
    assert_eq!(listed, json!({}));

    let actions: Vec<(String, u16)> = mock
        .requests()
        .iter()
        .map(|r| (r.action.clone().unwrap(), r.status))
        .collect();
    let expected = [
        ("files.upload", 200),
        ("files.upload", 200),
        ("files.upload", 400),
        ("files.upload", 200),
        ("files.get", 200),
        ("files.list", 200),
        ("files.delete", 200),
        ("files.get", 403),
        ("files.list", 200),
    ];
    let expected: Vec<(String, u16)> = expected.iter().map(|(a, s)| (a.to_string(), *s)).collect();
    assert_eq!(actions, expected);
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.api_key.as_deref() == Some(KEY)));
    assert_eq!(mock.requests()[0].body, Some(meta));
}

#[tokio::test]
async fn another_projects_key_gets_googles_403_for_files_and_sessions() {
    let mock = MockGemini::start().await.unwrap();
    two_projects(&mock);
    let file = upload(&mock, KEY, b"secret").await;
    let id = file_id(&file);
    let path = format!("/v1beta/files/{id}");
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, body) = call(&mock, method, KEY2, &path).await;
        assert_eq!((status, body), (403, denied(&id)));
    }
    let (status, _) = call(&mock, reqwest::Method::GET, KEY3, &path).await;
    assert_eq!(status, 200, "a key of the same project");
    let (_, listed) = call(&mock, reqwest::Method::GET, KEY2, "/v1beta/files").await;
    assert_eq!(listed, json!({}));
    let (status, body) = call(
        &mock,
        reqwest::Method::GET,
        KEY2,
        "/v1beta/files/nosuchfile12",
    )
    .await;
    assert_eq!((status, body), (403, denied("nosuchfile12")));

    let url = start_upload(&mock, KEY, 3, &json!({})).await;
    let foreign = chunk(&url, KEY2, "upload, finalize", 0, "abc").await;
    assert_eq!(foreign.status(), 403);
    let unknown = url.replace("upload_id=AU", "upload_id=XX");
    assert_eq!(chunk(&unknown, KEY, "upload", 0, "abc").await.status(), 404);
    let (status, _) = json_of(chunk(&url, KEY3, "upload", 0, "ab").await).await;
    assert_eq!(
        status, 200,
        "the session belongs to the project, not the key"
    );
    // The SDKs send no key with chunks: the session URL is the credential.
    let keyless = client()
        .post(&url)
        .header("X-Goog-Upload-Command", "upload, finalize")
        .header("X-Goog-Upload-Offset", "2")
        .body("c")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(keyless).await;
    assert_eq!(status, 200, "{body}");
    let id = file_id(&body["file"]);
    let (status, _) = call(
        &mock,
        reqwest::Method::GET,
        KEY,
        &format!("/v1beta/files/{id}"),
    )
    .await;
    assert_eq!(status, 200, "the file is the session's project's");
    let keys: Vec<Option<String>> = mock.requests().iter().map(|r| r.api_key.clone()).collect();
    assert!(keys.contains(&Some(KEY2.to_owned())));
}

#[tokio::test]
async fn generate_finds_referenced_files_only_in_the_callers_project() {
    let mock = MockGemini::start().await.unwrap();
    two_projects(&mock);
    let file = upload(&mock, KEY, b"a picture").await;
    let id = file_id(&file);
    let with_file = |uri: String| {
        json!({"contents": [{"role": "user", "parts": [
            {"fileData": {"mimeType": "text/plain", "fileUri": uri}},
            {"text": "describe it"}]}]})
    };
    let full = with_file(file["uri"].as_str().unwrap().to_owned());
    let (status, body) = post_as(&mock, KEY, "gemini-3.8-flash", "generateContent", &full).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 258);
    let other_host = with_file(format!(
        "https://generativelanguage.googleapis.com/v1beta/files/{id}"
    ));
    let (status, _) = post_as(
        &mock,
        KEY3,
        "gemini-3.8-flash",
        "generateContent",
        &other_host,
    )
    .await;
    assert_eq!(status, 200);
    let short = with_file(format!("files/{id}"));
    for action in ["generateContent", "countTokens", "streamGenerateContent"] {
        let (status, body) = post_as(&mock, KEY2, "gemini-3.8-flash", action, &short).await;
        assert_eq!(status, 403, "{action}");
        let error = if body.is_array() { &body[0] } else { &body };
        assert_eq!(error, &denied(&id), "{action}");
    }
    let (status, _) = post_as(&mock, KEY, "gemini-3.8-flash", "countTokens", &short).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn multipart_upload_streams_the_bytes_after_the_metadata() {
    let mock = MockGemini::start().await.unwrap();
    let media = b"col1,col2\r\n1,2\r\n--not-the-boundary\r\n";
    let mut body = b"--BOUNDARY\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".to_vec();
    body.extend_from_slice(br#"{"file": {"displayName": "table", "mimeType": "text/csv"}}"#);
    body.extend_from_slice(b"\r\n--BOUNDARY\r\nContent-Type: text/csv\r\n\r\n");
    body.extend_from_slice(media);
    body.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
    let response = client()
        .post(format!(
            "{}/upload/v1beta/files?uploadType=multipart",
            mock.base_url()
        ))
        .header("x-goog-api-key", KEY)
        .header("X-Goog-Upload-Protocol", "multipart")
        .header("content-type", "multipart/related; boundary=BOUNDARY")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(response).await;
    assert_eq!(status, 200, "{answer}");
    let file = &answer["file"];
    assert_eq!(file["displayName"], "table");
    assert_eq!(file["mimeType"], "text/csv");
    assert_eq!(file["sizeBytes"], media.len().to_string());
    assert_eq!(file["sha256Hash"], google_sha256(media));
    let logged = &mock.requests()[0];
    assert_eq!(logged.action.as_deref(), Some("files.upload"));
    assert_eq!(
        logged.body.as_ref().unwrap()["file"]["displayName"],
        "table"
    );
}

#[tokio::test]
async fn generated_files_download_and_uploaded_ones_do_not() {
    let mock = MockGemini::start().await.unwrap();
    two_projects(&mock);
    let name = mock.add_generated_file(GeneratedFile {
        project: "p1".into(),
        id: Some("batch-results-1".into()),
        display_name: None,
        mime_type: "application/jsonl".into(),
        bytes: Bytes::from_static(b"{\"key\": \"a\"}\n"),
    });
    assert_eq!(name, "files/batch-results-1");
    let (_, file) = call(
        &mock,
        reqwest::Method::GET,
        KEY3,
        "/v1beta/files/batch-results-1",
    )
    .await;
    assert_eq!(file["source"], "GENERATED");
    let download = format!(
        "{}/download/v1beta/files/batch-results-1:download?alt=media",
        mock.base_url()
    );
    assert_eq!(file["downloadUri"], download);
    for url in [
        download.clone(),
        format!(
            "{}/v1beta/files/batch-results-1:download?alt=media",
            mock.base_url()
        ),
    ] {
        let response = client()
            .get(&url)
            .header("x-goog-api-key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/jsonl");
        assert_eq!(&response.bytes().await.unwrap()[..], b"{\"key\": \"a\"}\n");
    }
    let foreign = client()
        .get(&download)
        .header("x-goog-api-key", KEY2)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(foreign).await;
    assert_eq!((status, body), (403, denied("batch-results-1")));

    let uploaded = file_id(&upload(&mock, KEY, b"mine").await);
    let path = format!("/v1beta/files/{uploaded}:download?alt=media");
    let (status, body) = call(&mock, reqwest::Method::GET, KEY, &path).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let download_action = mock.requests().last().unwrap().action.clone();
    assert_eq!(download_action.as_deref(), Some("files.download"));
}

#[tokio::test]
async fn lists_page_newest_first() {
    let mock = MockGemini::start().await.unwrap();
    let mut ids = Vec::new();
    for bytes in [&b"one"[..], b"two", b"three"] {
        let url = start_upload(&mock, KEY, bytes.len() as u64, &json!({})).await;
        let (_, body) =
            json_of(chunk(&url, KEY, "upload, finalize", 0, bytes.to_vec()).await).await;
        ids.push(file_id(&body["file"]));
    }
    let (_, first) = call(&mock, reqwest::Method::GET, KEY, "/v1beta/files?pageSize=2").await;
    let names: Vec<String> = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(file_id)
        .collect();
    assert_eq!(names, vec![ids[2].clone(), ids[1].clone()]);
    let token = first["nextPageToken"].as_str().unwrap();
    let path = format!("/v1beta/files?pageSize=2&pageToken={token}");
    let (_, second) = call(&mock, reqwest::Method::GET, KEY, &path).await;
    let names: Vec<String> = second["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(file_id)
        .collect();
    assert_eq!(names, vec![ids[0].clone()]);
    assert!(second.get("nextPageToken").is_none());
    let (status, _) = call(
        &mock,
        reqwest::Method::GET,
        KEY,
        "/v1beta/files?pageSize=2&color=red",
    )
    .await;
    assert_eq!(status, 400, "unknown query parameters are refused");
}

/// The process's peak resident memory, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_64_mib_upload_streams_through_without_being_held() {
    const MIB: usize = 1024 * 1024;
    const CHUNKS: usize = 64;
    let piece = |i: usize| -> Bytes { Bytes::from(vec![(i * 37 % 251) as u8; MIB]) };
    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(piece(i));
    }
    let hex: String = expected
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let mock = MockGemini::start().await.unwrap();
    let before = peak_rss_kib();
    let size = (CHUNKS * MIB) as u64;
    let url = start_upload(&mock, KEY, size, &json!({"file": {"displayName": "big"}})).await;
    let stream =
        futures_util::stream::iter((0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(piece(i))));
    let response = chunk(
        &url,
        KEY,
        "upload, finalize",
        0,
        reqwest::Body::wrap_stream(stream),
    )
    .await;
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["file"]["sizeBytes"], size.to_string());
    assert_eq!(body["file"]["sha256Hash"], STANDARD.encode(hex));
    let grown_mib = (peak_rss_kib() - before) / 1024;
    assert!(
        grown_mib < 40,
        "the peak grew by {grown_mib} MiB for a 64 MiB upload"
    );
}
