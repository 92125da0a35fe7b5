//! Black-box: stored Responses API responses on the built binary against the strict mock — a
//! tool turn continued by `previous_response_id` with only the call's output (the strict mock
//! checks the call's thought signature came back), `item_reference`s resolved (the AI SDK's
//! way), `GET`/`DELETE` and `input_items`, each client key seeing only its own, `store: false`
//! kept nowhere, and two gateways on one Redis continuing each other's conversations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::redis_server::RedisServer;
use support::*;

const MODEL: &str = "gemini-3.1-pro-preview";

async fn post(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/responses"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get(gw: &Gateway, key: &str, path: &str) -> reqwest::Response {
    client()
        .get(gw.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// The first output item of `kind` in a response object.
fn output_item(response: &Value, kind: &str) -> Value {
    let items = response["output"].as_array().expect("an output list");
    let found = items.iter().find(|i| i["type"] == kind);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} item in {response}"))
}

fn shell_tool() -> Value {
    json!([{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}])
}

/// The roles and first part kinds of the contents of the mock's last model call.
fn last_contents(mock: &MockGemini) -> Vec<Value> {
    let calls = model_calls(mock);
    let body = calls.last().unwrap().body.clone().unwrap();
    body["contents"].as_array().unwrap().clone()
}

fn texts(contents: &[Value]) -> Vec<String> {
    contents
        .iter()
        .map(|c| {
            let p = &c["parts"][0];
            let what = p["text"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    p["functionCall"]["name"]
                        .as_str()
                        .map(|n| format!("call {n}"))
                })
                .or_else(|| {
                    p["functionResponse"]["name"]
                        .as_str()
                        .map(|n| format!("output {n}"))
                })
                .unwrap_or_default();
            format!("{}: {what}", c["role"].as_str().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_tool_turn_continues_from_a_stored_response_with_only_the_output() {
    let s = Scenario::keys(2).start().await;
    let first = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "input": "run `echo hi` please", "tools": shell_tool()}),
    )
    .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["store"], true, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    let call = output_item(&first, "function_call");
    let second = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "previous_response_id": id, "tools": shell_tool(), "input": [
            {"type": "function_call_output", "call_id": call["call_id"], "output": "hi"}]}),
    )
    .await;
    assert_eq!(second.status(), 200, "{}", second.text().await.unwrap());
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["previous_response_id"], json!(id));
    let contents = last_contents(&s.mock);
    assert_eq!(
        texts(&contents),
        [
            "user: run `echo hi` please",
            "model: call exec_command",
            "user: output exec_command"
        ]
    );
    // The call went back with the very signature Gemini issued (the mock refuses any other).
    assert!(model_calls(&s.mock).iter().all(|c| c.status == 200));
    let signature = contents[1]["parts"][0]["thoughtSignature"]
        .as_str()
        .unwrap();
    assert!(!signature.starts_with("skip"), "{signature}");
    // Both turns stayed on one key: the conversation's affinity.
    let used = keys_used(&s.mock);
    assert_eq!(used.len(), 2);
    assert_eq!(used[0], used[1]);

    // Read back: the response, the model's whole input, then gone once deleted.
    let second_id = second["id"].as_str().unwrap();
    let got: Value = get(&s.gw, "sk-x", &format!("/v1/responses/{second_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["output"], second["output"]);
    let items: Value = get(
        &s.gw,
        "sk-x",
        &format!("/v1/responses/{second_id}/input_items?order=asc&limit=2"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"][0]["content"], "run `echo hi` please");
    assert_eq!(items["has_more"], true, "{items}");
    let deleted = client()
        .delete(s.gw.url(&format!("/v1/responses/{second_id}")))
        .bearer_auth("sk-x")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = get(&s.gw, "sk-x", &format!("/v1/responses/{second_id}")).await;
    assert_eq!(gone.status(), 404);
    let e: Value = gone.json().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn item_references_bring_back_the_models_own_answers() {
    let s = Scenario::keys(1).start().await;
    let first: Value = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "input": "first question"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let message = output_item(&first, "message");
    let reference = json!({"type": "item_reference", "id": message["id"]});
    let r = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "first question"}]},
            reference,
            {"role": "user", "content": [{"type": "input_text", "text": "second question"}]}]}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let contents = last_contents(&s.mock);
    let said = texts(&contents);
    assert_eq!(said.len(), 3, "{said:?}");
    assert_eq!(said[0], "user: first question");
    assert!(said[1].starts_with("model: "), "{said:?}");
    assert_eq!(said[2], "user: second question");

    // One the gateway never made is a 400 naming it, never a silent drop.
    let r = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "input": [
            {"role": "user", "content": "hi"},
            {"type": "item_reference", "id": "msg_000000000000000000000000001"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "input[1]", "{e}");
}

#[tokio::test]
async fn a_client_key_sees_only_its_own_responses_and_store_false_keeps_none() {
    let s = Scenario::keys(1)
        .env("GATEWAY_API_KEYS", "gw-key-alice,gw-key-bob")
        .start()
        .await;
    let made: Value = post(
        &s.gw,
        "gw-key-alice",
        &json!({"model": MODEL, "input": "hello"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = made["id"].as_str().unwrap();
    let path = format!("/v1/responses/{id}");
    assert_eq!(get(&s.gw, "gw-key-alice", &path).await.status(), 200);
    assert_eq!(get(&s.gw, "gw-key-bob", &path).await.status(), 404);
    let r = post(
        &s.gw,
        "gw-key-bob",
        &json!({"model": MODEL, "input": "more", "previous_response_id": id}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "previous_response_not_found", "{e}");

    let unstored: Value = post(
        &s.gw,
        "gw-key-alice",
        &json!({"model": MODEL, "input": "hello", "store": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(unstored["store"], false);
    let path = format!("/v1/responses/{}", unstored["id"].as_str().unwrap());
    assert_eq!(get(&s.gw, "gw-key-alice", &path).await.status(), 404);
}

#[tokio::test]
async fn two_gateways_on_one_redis_continue_each_others_conversations() {
    let redis = RedisServer::start();
    let mock = MockGemini::start().await.unwrap();
    let keys = keys(1);
    let url = redis.url();
    let a = Gateway::start(&mock, &keys, &[("REDIS_URL", &url)]).await;
    let b = Gateway::start(&mock, &keys, &[("REDIS_URL", &url)]).await;
    let first: Value = post(
        &a,
        "sk-x",
        &json!({"model": MODEL, "input": "run `echo hi` please", "tools": shell_tool()}),
    )
    .await
    .json()
    .await
    .unwrap();
    let call = output_item(&first, "function_call");
    let id = first["id"].as_str().unwrap();
    // The record reaches Redis in the background, a moment after the answer.
    eventually("the response stored in Redis", || async {
        (get(&b, "sk-x", &format!("/v1/responses/{id}"))
            .await
            .status()
            == 200)
            .then_some(())
    })
    .await;
    let r = post(
        &b,
        "sk-x",
        &json!({"model": MODEL, "previous_response_id": id, "tools": shell_tool(), "input": [
            {"type": "function_call_output", "call_id": call["call_id"], "output": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(texts(&last_contents(&mock)).len(), 3);
    assert!(model_calls(&mock).iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn a_compaction_is_a_summary_item_that_the_next_request_takes_as_input() {
    let s = Scenario::keys(1).start().await;
    let r = client()
        .post(s.gw.url("/v1/responses/compact"))
        .bearer_auth("sk-x")
        .json(&json!({"model": MODEL, "tools": shell_tool(), "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the parser"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done, tests pass"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let compacted: Value = r.json().await.unwrap();
    assert_eq!(compacted["object"], "response.compaction", "{compacted}");
    let output = compacted["output"].as_array().unwrap();
    assert_eq!(output.len(), 1);
    assert_eq!(output[0]["type"], "compaction");
    // The model was asked for a summary of it all, with no tool to call.
    let calls = model_calls(&s.mock);
    let asked = calls.last().unwrap().body.clone().unwrap();
    assert_eq!(asked["toolConfig"]["functionCallingConfig"]["mode"], "NONE");
    let last = asked["contents"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(last["parts"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Context compaction"));

    let next = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "store": false, "input": [output[0].clone(),
            {"type": "message", "role": "user", "content": "and now the docs"}]}),
    )
    .await;
    assert_eq!(next.status(), 200, "{}", next.text().await.unwrap());
    let contents = last_contents(&s.mock);
    let first = contents[0]["parts"][0]["text"].as_str().unwrap();
    assert!(first.starts_with("Summary of the conversation"), "{first}");
    assert!(
        first.contains("Context compaction"),
        "the summary the model wrote: {first}"
    );
    assert_eq!(contents[0]["parts"][1]["text"], "and now the docs");
    // A compaction item some other server sealed is left out, and the client is told.
    let foreign = post(
        &s.gw,
        "sk-x",
        &json!({"model": MODEL, "store": false, "input": [
            {"type": "compaction", "encrypted_content": "gAAAA-not-ours"},
            {"type": "message", "role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(foreign.status(), 200);
    let dropped = foreign.headers()["x-gateway-dropped-items"]
        .to_str()
        .unwrap();
    assert!(dropped.starts_with("compaction"), "{dropped}");
}
