//! The Batch API per project: a batch is made, found running at the first look and done with its
//! answers at the second, listed, cancelled and deleted by its project; another project's key
//! gets Google's 403; a batch from a JSONL file writes its answers to a generated file of the
//! same project.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mock_gemini::{GeneratedFile, MockGemini};
use serde_json::{json, Value};

async fn call(
    mock: &MockGemini,
    method: reqwest::Method,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", mock.base_url()))
        .header("x-goog-api-key", key);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn inline(n: usize) -> Value {
    let requests: Vec<Value> = (0..n)
        .map(|i| json!({"request": {"contents": [{"role": "user", "parts": [{"text": format!("Q{i}")}]}]},
                        "metadata": {"key": format!("k{i}")}}))
        .collect();
    json!({"batch": {"displayName": "b", "inputConfig": {"requests": {"requests": requests}}}})
}

#[tokio::test]
async fn a_batch_runs_then_answers_for_its_project_only() {
    let mock = MockGemini::start().await.unwrap();
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let (status, op) = call(
        &mock,
        post.clone(),
        KEY,
        "/v1beta/models/gemini-3.8-flash:batchGenerateContent",
        Some(inline(2)),
    )
    .await;
    assert_eq!(status, 200, "{op}");
    let name = op["name"].as_str().unwrap().to_string();
    assert_eq!(op["metadata"]["state"], "BATCH_STATE_PENDING");
    let path = format!("/v1beta/{name}");
    let (status, foreign) = call(&mock, get.clone(), KEY2, &path, None).await;
    assert_eq!(
        (status, foreign["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (_, first) = call(&mock, get.clone(), KEY, &path, None).await;
    assert_eq!(first["metadata"]["state"], "BATCH_STATE_RUNNING");
    let (_, done) = call(&mock, get.clone(), KEY, &path, None).await;
    assert_eq!(done["done"], true);
    let answers = done["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
        .as_array()
        .unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1]["metadata"]["key"], "k1");
    let (_, listed) = call(&mock, get.clone(), KEY, "/v1beta/batches", None).await;
    assert_eq!(listed["operations"][0]["name"], name.as_str());
    let (_, none) = call(&mock, get, KEY2, "/v1beta/batches", None).await;
    assert_eq!(none, json!({}));
    assert_eq!(
        call(&mock, post, KEY, &format!("{path}:cancel"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&mock, reqwest::Method::DELETE, KEY, &path, None)
            .await
            .0,
        200
    );
    let (empty, _) = call(
        &mock,
        reqwest::Method::POST,
        KEY,
        "/v1beta/models/gemini-3.8-flash:batchGenerateContent",
        Some(json!({"batch": {"inputConfig": {"requests": {"requests": []}}}})),
    )
    .await;
    assert_eq!(empty, 400);
}

#[tokio::test]
async fn a_batch_from_a_file_writes_a_file_of_its_project() {
    let mock = MockGemini::start().await.unwrap();
    let input = mock.add_generated_file(GeneratedFile {
        project: KEY.to_string(),
        id: None,
        display_name: None,
        mime_type: "application/jsonl".into(),
        bytes: "{\"key\":\"a\",\"request\":{\"contents\":[{\"parts\":[{\"text\":\"Q\"}]}]}}\n"
            .into(),
    });
    let body = json!({"batch": {"inputConfig": {"fileName": input}}});
    let create = "/v1beta/models/gemini-3.8-flash:batchGenerateContent";
    let (status, _) = call(
        &mock,
        reqwest::Method::POST,
        KEY2,
        create,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 403, "another project's input file");
    let (_, op) = call(&mock, reqwest::Method::POST, KEY, create, Some(body)).await;
    let path = format!("/v1beta/{}", op["name"].as_str().unwrap());
    call(&mock, reqwest::Method::GET, KEY, &path, None).await;
    let (_, done) = call(&mock, reqwest::Method::GET, KEY, &path, None).await;
    let file = done["response"]["responsesFile"]
        .as_str()
        .unwrap()
        .to_string();
    let out = reqwest::Client::new()
        .get(format!(
            "{}/download/v1beta/{file}:download?alt=media",
            mock.base_url()
        ))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(out.contains("Mock batch reply 1"), "{out}");
}
