//! Reading an OpenAI request body: one JSON object, nested at most `MAX_JSON_DEPTH` deep,
//! parsed into its typed request. A field of the wrong type is a 400 naming the field (its
//! value is never quoted whole); unknown fields are ignored.

use serde::de::DeserializeOwned;

use super::errors::OpenAiError;
use crate::surfaces::gemini::{check_json_body, nests_deeper_than, BodyCheckError, MAX_JSON_DEPTH};

fn too_deep() -> OpenAiError {
    OpenAiError::invalid(format!(
        "The request body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep."
    ))
}

/// Longest parse error message (serde quotes the offending value).
const MAX_ERROR_MESSAGE: usize = 300;

/// `body` as a `T`, or the 400 saying what is wrong with it.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, OpenAiError> {
    if nests_deeper_than(body, MAX_JSON_DEPTH) {
        return Err(too_deep());
    }
    // The fast path, for an object; anything else, or a body that fails, is checked again for
    // the message that says why.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if let Some(parsed) = object
        .then(|| crate::json::from_bytes::<T>(body).ok())
        .flatten()
    {
        return Ok(parsed);
    }
    match check_json_body(body) {
        Ok(()) => {}
        Err(BodyCheckError::TooDeep) => return Err(too_deep()),
        Err(e) => {
            return Err(OpenAiError::invalid(format!(
                "We could not parse the JSON body of your request: {e}"
            )))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message: String = format!("Invalid value for '{path}': {inner}")
            .chars()
            .take(MAX_ERROR_MESSAGE)
            .collect();
        if path == "." {
            OpenAiError::invalid(message)
        } else {
            OpenAiError::invalid_param(&path, message)
        }
    })?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Probe {
        #[serde(rename = "model")]
        _model: String,
        #[serde(default, rename = "n")]
        _n: Option<u32>,
    }

    #[test]
    fn wrong_types_name_their_field_and_bad_json_is_a_400() {
        let ok: Result<Probe, _> = parse_json(br#"{"model": "m", "extra": {"anything": 1}}"#);
        assert!(ok.is_ok());
        let e = parse_json::<Probe>(br#"{"model": "m", "n": "two"}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.param.as_deref()), (400, Some("n")));
        assert!(e.message.contains("'n'"), "{}", e.message);
        let e = parse_json::<Probe>(br#"{"n": 1}"#).unwrap_err();
        assert!(e.message.contains("model"), "{}", e.message);
        assert_eq!(
            parse_json::<Probe>(b"[1]").unwrap_err().status.as_u16(),
            400
        );
        assert_eq!(
            parse_json::<Probe>(b"{\"model\": ")
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = parse_json::<Probe>(format!("{{\"model\": {deep}}}").as_bytes()).unwrap_err();
        assert!(e.message.contains("levels deep"), "{}", e.message);
    }
}
