//! The Batch API, per project: `models/{model}:batchGenerateContent` takes inline requests or a
//! JSONL file of the caller's project and answers a long-running operation (`batches/{id}`).
//! Deterministic, so tests can poll without waiting: the first look at a batch finds it
//! running, every later one finds it done — inline responses in `metadata.output` (where the
//! google-genai SDK reads them) and `response`, or, for file input, a generated JSONL file of
//! the same project (`responsesFile`, downloadable). A key of another project gets Google's 403
//! as for a batch that does not exist. Cancel, delete and list (the caller's project only) are
//! served too. Each inline request is checked for `contents`; the answers are fixed text.

use std::collections::HashMap;

use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{new_id, now_ms, page_of, timestamp, GeneratedFile, ResourceCall};
use crate::errors::ApiError;
use crate::state::lock;

const BATCH_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch";
const OUTPUT_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput";

/// One batch job.
#[derive(Debug, Clone)]
struct Batch {
    project: String,
    id: String,
    model: String,
    display_name: Option<String>,
    created_ms: i64,
    /// Each request's key (metadata) and prompt text length, in order.
    requests: Vec<(Value, usize)>,
    /// The input file, when the requests came in one.
    from_file: bool,
    looks: u32,
    cancelled: bool,
    /// The generated output file, once made (file input).
    output_file: Option<String>,
}

/// Every project's batches.
#[derive(Debug, Default)]
pub struct BatchStore {
    batches: HashMap<String, Batch>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        403,
        "PERMISSION_DENIED",
        format!("You do not have permission to access the batch batches/{id} or it may not exist."),
    )
}

impl BatchStore {
    fn owned(&mut self, project: &str, id: &str) -> Result<&mut Batch, ApiError> {
        match self.batches.get_mut(id) {
            Some(b) if b.project == project => Ok(b),
            _ => Err(not_found(id)),
        }
    }
}

/// `POST /{v}/models/{model}:batchGenerateContent`.
pub fn create(
    call: &ResourceCall<'_>,
    project: &str,
    model: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid_argument("Invalid JSON payload received."))?;
    let batch = body
        .get("batch")
        .ok_or_else(|| ApiError::invalid_argument("batch is required."))?;
    let input = batch
        .get("inputConfig")
        .ok_or_else(|| ApiError::invalid_argument("batch.input_config is required."))?;
    let (requests, from_file) = match (input.get("requests"), input.get("fileName")) {
        (Some(r), None) => (inline_requests(r)?, false),
        (None, Some(Value::String(name))) => (file_requests(call, project, name)?, true),
        _ => {
            return Err(ApiError::invalid_argument(
                "Exactly one of batch.input_config.requests and batch.input_config.file_name must be set.",
            ))
        }
    };
    let id = new_id(call.state);
    let stored = Batch {
        project: project.to_owned(),
        id: id.clone(),
        model: model.to_owned(),
        display_name: batch["displayName"].as_str().map(str::to_owned),
        created_ms: now_ms(),
        requests,
        from_file,
        looks: 0,
        cancelled: false,
        output_file: None,
    };
    let answer = operation(&stored, None);
    lock(&call.state.resources)
        .batches
        .batches
        .insert(id, stored);
    Ok(call.answer(&answer))
}

fn inline_requests(requests: &Value) -> Result<Vec<(Value, usize)>, ApiError> {
    let list = requests["requests"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_argument("batch.input_config.requests.requests must not be empty.")
        })?;
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let contents = r["request"]["contents"]
                .as_array()
                .filter(|c| !c.is_empty());
            let contents = contents.ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "batch.input_config.requests.requests[{i}].request.contents must not be empty."
                ))
            })?;
            Ok((
                r["metadata"].clone(),
                Value::Array(contents.clone()).to_string().len(),
            ))
        })
        .collect()
}

/// The requests of a JSONL input file (`{"key": …, "request": {…}}` per line) of `project`.
fn file_requests(
    call: &ResourceCall<'_>,
    project: &str,
    name: &str,
) -> Result<Vec<(Value, usize)>, ApiError> {
    let bytes = call
        .state
        .file_bytes(project, name)?
        .ok_or_else(|| ApiError::invalid_argument("The batch input file is too large."))?;
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line).map_err(|_| {
                ApiError::invalid_argument(format!("Line {} of the input file is not JSON.", i + 1))
            })?;
            Ok((json!({"key": v["key"]}), v["request"].to_string().len()))
        })
        .collect()
}

/// The operation as Google shows it; `done` with its output once the batch has finished.
fn operation(b: &Batch, output: Option<Value>) -> Value {
    let n = b.requests.len();
    let state = match (&output, b.cancelled) {
        (_, true) => "BATCH_STATE_CANCELLED",
        (Some(_), false) => "BATCH_STATE_SUCCEEDED",
        (None, false) if b.looks == 0 => "BATCH_STATE_PENDING",
        (None, false) => "BATCH_STATE_RUNNING",
    };
    let done = output.is_some() || b.cancelled;
    let mut metadata = json!({
        "@type": BATCH_TYPE,
        "model": format!("models/{}", b.model),
        "createTime": timestamp(b.created_ms),
        "updateTime": timestamp(now_ms()),
        "batchStats": {
            "requestCount": n.to_string(),
            "pendingRequestCount": if done { "0".to_string() } else { n.to_string() },
            "successfulRequestCount": if output.is_some() { n.to_string() } else { "0".to_string() },
        },
        "state": state,
        "name": format!("batches/{}", b.id),
    });
    if let Some(name) = &b.display_name {
        metadata["displayName"] = json!(name);
    }
    let mut op = json!({"name": format!("batches/{}", b.id), "metadata": metadata});
    if let Some(out) = output {
        op["metadata"]["endTime"] = json!(timestamp(now_ms()));
        op["metadata"]["output"] = out.clone();
        let mut response = out;
        response["@type"] = json!(OUTPUT_TYPE);
        op["done"] = json!(true);
        op["response"] = response;
    } else if b.cancelled {
        op["done"] = json!(true);
    }
    op
}

/// One request's fixed answer.
fn answer_for(model: &str, i: usize, prompt_chars: usize) -> Value {
    let prompt = (prompt_chars / 4).max(1);
    json!({
        "candidates": [{"content": {"parts": [{"text": format!("Mock batch reply {} from {model}", i + 1)}],
                        "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": 6, "totalTokenCount": prompt + 6},
        "modelVersion": model,
    })
}

/// `GET /{v}/batches/{id}`: running at the first look, done from the second.
pub fn get(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    let mut resources = lock(&call.state.resources);
    let b = resources.batches.owned(&project, id)?;
    b.looks += 1;
    if b.looks < 2 || b.cancelled {
        let op = operation(b, None);
        return Ok(call.answer(&op));
    }
    let answers: Vec<(Value, Value)> = b
        .requests
        .iter()
        .enumerate()
        .map(|(i, (meta, chars))| (meta.clone(), answer_for(&b.model, i, *chars)))
        .collect();
    let (from_file, batch) = (b.from_file, b.clone());
    let output = if from_file {
        let file = match &batch.output_file {
            Some(f) => f.clone(),
            None => {
                let lines: String = answers
                    .iter()
                    .map(|(meta, r)| json!({"key": meta["key"], "response": r}).to_string() + "\n")
                    .collect();
                drop(resources);
                let name = call.state.add_generated_file(GeneratedFile {
                    project: project.clone(),
                    id: Some(format!("batch-{}", batch.id)),
                    display_name: Some(format!("batch-{}-output", batch.id)),
                    mime_type: "application/jsonl".into(),
                    bytes: Bytes::from(lines),
                });
                resources = lock(&call.state.resources);
                if let Ok(b) = resources.batches.owned(&project, id) {
                    b.output_file = Some(name.clone());
                }
                name
            }
        };
        json!({"responsesFile": file})
    } else {
        let inlined: Vec<Value> = answers
            .into_iter()
            .map(|(meta, r)| {
                let mut item = json!({"response": r});
                if !meta.is_null() {
                    item["metadata"] = meta;
                }
                item
            })
            .collect();
        json!({"inlinedResponses": {"inlinedResponses": inlined}})
    };
    drop(resources);
    Ok(call.answer(&operation(&batch, Some(output))))
}

/// `POST /{v}/batches/{id}:cancel`.
pub fn cancel(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    lock(&call.state.resources)
        .batches
        .owned(&project, id)?
        .cancelled = true;
    Ok(call.answer(&json!({})))
}

/// `DELETE /{v}/batches/{id}`.
pub fn delete(call: &ResourceCall<'_>, id: &str) -> Result<Response, ApiError> {
    let project = call.project()?;
    let mut resources = lock(&call.state.resources);
    resources.batches.owned(&project, id)?;
    resources.batches.batches.remove(id);
    Ok(call.answer(&json!({})))
}

/// `GET /{v}/batches`: the caller's project's batches, newest first.
pub fn list(call: &ResourceCall<'_>) -> Result<Response, ApiError> {
    let project = call.project()?;
    let (size, start) = call.page_request(10, 100)?;
    let mut mine: Vec<Batch> = lock(&call.state.resources)
        .batches
        .batches
        .values()
        .filter(|b| b.project == project)
        .cloned()
        .collect();
    mine.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
    let ops: Vec<Value> = mine.iter().map(|b| operation(b, None)).collect();
    let (page, next) = page_of(ops, size, start);
    let mut body = json!({});
    if !page.is_empty() {
        body["operations"] = json!(page);
    }
    if let Some(token) = next {
        body["nextPageToken"] = json!(token);
    }
    Ok(call.answer(&body))
}
