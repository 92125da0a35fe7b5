//! `embedContent` and `batchEmbedContents`, checked like the real service: at most
//! [`MAX_BATCH`] requests in a batch, each naming its model as `models/…` (the model of the
//! URL), content with text, and `outputDimensionality` within the model's
//! [`MAX_DIMENSIONS`]. Vectors are deterministic (the same text gives the same vector),
//! unit-length, [`MAX_DIMENSIONS`] long unless fewer are asked for.

use serde_json::{json, Map, Value};

use crate::errors::{ApiError, Violation};

/// Most requests in one `batchEmbedContents` call.
pub const MAX_BATCH: usize = 100;
/// The embedding model's full dimensionality.
pub const MAX_DIMENSIONS: i64 = 3072;

/// `embedContent`: the normalised body → the answer.
pub fn embed_one(body: &Map<String, Value>, model: &str) -> Result<Value, ApiError> {
    let values = check_request(body, model, "EmbedContentRequest", false)?;
    Ok(json!({ "embedding": { "values": values } }))
}

/// `batchEmbedContents`: the normalised body → the answer.
pub fn embed_batch(body: &Map<String, Value>, model: &str) -> Result<Value, ApiError> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if requests.is_empty() {
        return Err(violation(
            "requests",
            "* BatchEmbedContentsRequest.requests: at least one request is required\n",
        ));
    }
    if requests.len() > MAX_BATCH {
        return Err(violation(
            "requests",
            "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n",
        ));
    }
    let mut embeddings = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let empty = Map::new();
        let request = request.as_object().unwrap_or(&empty);
        let at = format!("BatchEmbedContentsRequest.requests[{i}]");
        let values = check_request(request, model, &at, true)?;
        embeddings.push(json!({ "values": values }));
    }
    Ok(json!({ "embeddings": embeddings }))
}

/// One request's checks and its vector. `at` names it in messages; in a batch its `model` is
/// required.
fn check_request(
    request: &Map<String, Value>,
    model: &str,
    at: &str,
    in_batch: bool,
) -> Result<Vec<f32>, ApiError> {
    match request.get("model").and_then(Value::as_str) {
        Some(named) => match named.strip_prefix("models/") {
            Some(id) if !id.is_empty() => {
                if id != model {
                    return Err(ApiError::invalid_argument(format!(
                        "* {at}.model: the model in the request (models/{id}) does not match the model in the URL (models/{model})\n"
                    )));
                }
            }
            _ => {
                return Err(violation(
                    "model",
                    &format!("* {at}.model: unexpected model name format\n"),
                ))
            }
        },
        None if in_batch => {
            return Err(violation(
                "model",
                &format!("* {at}.model: unexpected model name format\n"),
            ))
        }
        None => {}
    }
    let text: String = request
        .get("content")
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    if request.get("content").is_none() {
        return Err(violation(
            "content",
            &format!("* {at}.content: content is not specified\n"),
        ));
    }
    if text.trim().is_empty() {
        return Err(violation(
            "content",
            &format!("* {at}.content: the content holds no text to embed\n"),
        ));
    }
    let dimensions = match request.get("outputDimensionality").and_then(Value::as_i64) {
        None => MAX_DIMENSIONS,
        Some(d) if (1..=MAX_DIMENSIONS).contains(&d) => d,
        Some(d) => {
            return Err(ApiError::invalid_argument(format!(
                "* {at}.output_dimensionality: {d} is out of range: it must be between 1 and {MAX_DIMENSIONS}\n"
            )))
        }
    };
    Ok(vector(&text, dimensions as usize))
}

fn violation(field: &str, description: &str) -> ApiError {
    ApiError::bad_request(&[Violation {
        field: Some(field.to_string()),
        description: description.to_string(),
    }])
}

/// A deterministic unit vector for `text`.
pub fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    // FNV-1a seeds an xorshift generator.
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        state ^= u64::from(b);
        state = state.wrapping_mul(0x0100_0000_01b3);
    }
    let mut values: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn req(text: &str) -> Value {
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": text}]}})
    }

    #[test]
    fn batches_answer_in_order_with_deterministic_unit_vectors() {
        let body = map(json!({"requests": [req("a"), req("b"), req("a")]}));
        let answer = embed_batch(&body, "gemini-embedding-001").unwrap();
        let e = answer["embeddings"].as_array().unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], e[2]);
        assert_ne!(e[0], e[1]);
        let v: Vec<f64> = serde_json::from_value(e[0]["values"].clone()).unwrap();
        assert_eq!(v.len(), 3072);
        assert!((v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-3);
    }

    #[test]
    fn the_real_services_rules() {
        let m = "gemini-embedding-001";
        let too_many: Vec<Value> = (0..101).map(|i| req(&i.to_string())).collect();
        let e = embed_batch(&map(json!({"requests": too_many})), m).unwrap_err();
        assert!(e.message.contains("at most 100 requests"), "{}", e.message);
        let bare = json!({"requests": [{"model": "gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}]});
        let e = embed_batch(&map(bare), m).unwrap_err();
        assert!(
            e.message
                .contains("requests[0].model: unexpected model name format"),
            "{}",
            e.message
        );
        let other = json!({"requests": [{"model": "models/gemini-embedding-2", "content": {"parts": [{"text": "x"}]}}]});
        assert!(embed_batch(&map(other), m).is_err());
        let dims =
            map(json!({"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 4000}));
        assert_eq!(embed_one(&dims, m).unwrap_err().code, 400);
        let small = map(json!({"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 8}));
        assert_eq!(
            embed_one(&small, m).unwrap()["embedding"]["values"]
                .as_array()
                .unwrap()
                .len(),
            8
        );
        assert!(embed_one(&map(json!({})), m).is_err());
        assert!(embed_batch(&map(json!({"requests": []})), m).is_err());
    }
}
