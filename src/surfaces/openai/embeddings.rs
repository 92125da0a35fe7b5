//! `POST /v1/embeddings` ↔ Gemini's `batchEmbedContents`, pure functions.
//!
//! `input` is a string or a list of strings (at most [`MAX_INPUTS`], none empty); token arrays
//! are a 400 (Gemini embeds text, not OpenAI's token ids). The inputs go up in batches of
//! [`BATCH_SIZE`] (Gemini's limit per call) with `dimensions` as `outputDimensionality`; the
//! vectors come back in input order, as float lists or — `encoding_format: "base64"`, which the
//! OpenAI SDKs ask for by default — as base64 of little-endian `f32`s. Gemini reports no token
//! counts for embeddings: `usage` is estimated at one token per four bytes of input.

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::OpenAiError;

/// Most inputs Gemini embeds in one call.
pub const BATCH_SIZE: usize = 100;
/// Most inputs one request may hold (OpenAI's own limit).
pub const MAX_INPUTS: usize = 2048;

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: Value,
    #[serde(default)]
    pub dimensions: Option<u32>,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

/// How the vectors are written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Float,
    Base64,
}

/// A request read and checked.
#[derive(Debug, Clone)]
pub struct Embedding {
    pub inputs: Vec<String>,
    pub dimensions: Option<u32>,
    pub encoding: Encoding,
}

/// Checks the request's inputs and options.
pub fn parse(req: &EmbeddingsRequest) -> Result<Embedding, OpenAiError> {
    let token_arrays = || {
        OpenAiError::invalid_param(
            "input",
            "Token arrays cannot be embedded by Gemini: send the text itself (a string or a list of strings).",
        )
    };
    let inputs: Vec<String> = match &req.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Number(_) | Value::Array(_) => return Err(token_arrays()),
                    _ => {
                        return Err(OpenAiError::invalid_param(
                            "input",
                            "input must be a string or a list of strings",
                        ))
                    }
                }
            }
            out
        }
        _ => {
            return Err(OpenAiError::invalid_param(
                "input",
                "input must be a string or a list of strings",
            ))
        }
    };
    if inputs.is_empty() {
        return Err(OpenAiError::invalid_param(
            "input",
            "input must not be empty",
        ));
    }
    if inputs.len() > MAX_INPUTS {
        return Err(OpenAiError::invalid_param(
            "input",
            format!(
                "input holds {} items; at most {MAX_INPUTS} are embedded per request",
                inputs.len()
            ),
        ));
    }
    if let Some(i) = inputs.iter().position(|s| s.trim().is_empty()) {
        return Err(OpenAiError::invalid_param(
            &format!("input[{i}]"),
            "inputs must not be empty strings",
        ));
    }
    let encoding = match req.encoding_format.as_deref() {
        None | Some("float") => Encoding::Float,
        Some("base64") => Encoding::Base64,
        Some(other) => {
            return Err(OpenAiError::invalid_param(
                "encoding_format",
                format!(
                    "encoding_format must be float or base64, not `{}`",
                    clip(other)
                ),
            ))
        }
    };
    if req.dimensions == Some(0) {
        return Err(OpenAiError::invalid_param(
            "dimensions",
            "dimensions must be at least 1",
        ));
    }
    Ok(Embedding {
        inputs,
        dimensions: req.dimensions,
        encoding,
    })
}

/// The `batchEmbedContents` bodies, one per batch of [`BATCH_SIZE`] inputs.
pub fn batches(e: &Embedding, model: &str) -> Vec<Value> {
    e.inputs
        .chunks(BATCH_SIZE)
        .map(|chunk| {
            let requests: Vec<Value> = chunk
                .iter()
                .map(|text| {
                    let mut r = json!({"model": format!("models/{model}"), "content": {"parts": [{"text": text}]}});
                    if let Some(d) = e.dimensions {
                        r["outputDimensionality"] = json!(d);
                    }
                    r
                })
                .collect();
            json!({ "requests": requests })
        })
        .collect()
}

/// The vectors of one `batchEmbedContents` answer, checked to be `expected` many.
pub fn vectors(answer: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, String> {
    #[derive(Deserialize)]
    struct Batch {
        #[serde(default)]
        embeddings: Vec<One>,
    }
    #[derive(Deserialize)]
    struct One {
        #[serde(default)]
        values: Vec<f32>,
    }
    let batch: Batch =
        serde_json::from_slice(answer).map_err(|e| format!("unreadable embeddings: {e}"))?;
    if batch.embeddings.len() != expected {
        return Err(format!(
            "Gemini sent {} embeddings for {expected} inputs",
            batch.embeddings.len()
        ));
    }
    Ok(batch.embeddings.into_iter().map(|o| o.values).collect())
}

/// The OpenAI answer.
pub fn response(e: &Embedding, vectors: &[Vec<f32>], client_model: &str) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = match e.encoding {
                Encoding::Float => json!(v),
                Encoding::Base64 => {
                    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: usize = e.inputs.iter().map(|s| s.len().div_ceil(4)).sum();
    json!({
        "object": "list",
        "data": data,
        "model": client_model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

fn clip(s: &str) -> String {
    s.chars().take(50).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> EmbeddingsRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn strings_and_lists_are_read_and_token_arrays_refused() {
        let one = parse(&req(json!({"model": "m", "input": "hello"}))).unwrap();
        assert_eq!(one.inputs, ["hello"]);
        assert_eq!(one.encoding, Encoding::Float);
        let many = parse(&req(json!({"model": "m", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 8}))).unwrap();
        assert_eq!(
            (many.inputs.len(), many.encoding, many.dimensions),
            (2, Encoding::Base64, Some(8))
        );
        for bad in [json!([1, 2, 3]), json!([[1, 2], [3]])] {
            let e = parse(&req(json!({"model": "m", "input": bad}))).unwrap_err();
            assert!(e.message.contains("Token arrays"), "{}", e.message);
            assert_eq!(e.param.as_deref(), Some("input"));
        }
        for bad in [
            json!([]),
            json!(""),
            json!(["a", " "]),
            json!(7),
            json!({"a": 1}),
        ] {
            assert_eq!(
                parse(&req(json!({"model": "m", "input": bad})))
                    .unwrap_err()
                    .status,
                400
            );
        }
        let e = parse(&req(
            json!({"model": "m", "input": "a", "encoding_format": "int8"}),
        ))
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("encoding_format"));
        let huge: Vec<String> = (0..MAX_INPUTS + 1).map(|i| i.to_string()).collect();
        assert!(parse(&req(json!({"model": "m", "input": huge}))).is_err());
    }

    #[test]
    fn inputs_split_into_batches_of_a_hundred_with_the_dimensions() {
        let inputs: Vec<String> = (0..250).map(|i| format!("t{i}")).collect();
        let e = parse(&req(
            json!({"model": "m", "input": inputs, "dimensions": 256}),
        ))
        .unwrap();
        let b = batches(&e, "gemini-embedding-001");
        assert_eq!(
            b.iter()
                .map(|b| b["requests"].as_array().unwrap().len())
                .collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert_eq!(
            b[2]["requests"][49],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "t249"}]}, "outputDimensionality": 256})
        );
        let plain = parse(&req(json!({"model": "m", "input": "x"}))).unwrap();
        assert!(batches(&plain, "g")[0]["requests"][0]
            .get("outputDimensionality")
            .is_none());
    }

    #[test]
    fn vectors_come_back_as_floats_or_little_endian_base64() {
        let answer = br#"{"embeddings": [{"values": [1.0, -0.5]}, {"values": [0.25]}]}"#;
        let v = vectors(answer, 2).unwrap();
        assert!(vectors(answer, 3)
            .unwrap_err()
            .contains("2 embeddings for 3"));
        let e = parse(&req(json!({"model": "m", "input": ["a", "bbbbb"]}))).unwrap();
        let r = response(&e, &v, "text-embedding-3-small");
        assert_eq!(
            r["data"][0],
            json!({"object": "embedding", "index": 0, "embedding": [1.0, -0.5]})
        );
        assert_eq!(r["model"], "text-embedding-3-small");
        assert_eq!(r["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
        let b64 = parse(&req(
            json!({"model": "m", "input": ["a", "b"], "encoding_format": "base64"}),
        ))
        .unwrap();
        let r = response(&b64, &v, "m");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(r["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat()
        );
    }
}
