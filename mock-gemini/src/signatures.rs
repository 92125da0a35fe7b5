//! Thought signatures: issuing them and enforcing Gemini 3's replay rules.
//!
//! Gemini 3 returns an opaque `thoughtSignature` on the first function call of each step
//! and rejects a history whose current-turn function calls come back without it
//! (`Function call is missing a thought_signature ...`) or with one it never issued
//! (`Corrupted thought signature.`). The mock issues random-looking base64 strings,
//! remembers them (bounded), and applies the same two checks, so a gateway that drops,
//! truncates, merges or invents signatures fails its tests.

use std::collections::{HashSet, VecDeque};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::errors::ApiError;
use crate::proto::decode_base64;

/// How many issued signatures are remembered.
const CAPACITY: usize = 200_000;

/// Google's documented sentinels for history the model did not produce.
const SENTINELS: [&str; 2] = [
    "skip_thought_signature_validator",
    "context_engineering_is_the_way_to_go",
];

/// Issued signatures, by their decoded bytes.
#[derive(Default)]
pub struct SignatureStore {
    known: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

impl SignatureStore {
    /// Makes up a new signature from a unique `nonce` and remembers it.
    pub fn issue(&mut self, nonce: u64) -> String {
        let mut bytes = Vec::with_capacity(66);
        bytes.extend_from_slice(&[0x12, 0x40, 0x0a, 0x3e]);
        bytes.extend_from_slice(&nonce.to_be_bytes());
        let mut state = nonce ^ 0x5eed_5eed_dead_beef;
        while bytes.len() < 66 {
            bytes.extend_from_slice(&splitmix(&mut state).to_le_bytes());
        }
        bytes.truncate(66);
        let text = STANDARD.encode(&bytes);
        if self.order.len() >= CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
        self.known.insert(bytes.clone());
        self.order.push_back(bytes);
        text
    }

    /// True for a signature this server issued, or one of the sentinels (raw or base64).
    pub fn accepts(&self, signature: &str) -> bool {
        if SENTINELS.contains(&signature) {
            return true;
        }
        match decode_base64(signature) {
            Some(bytes) => {
                self.known.contains(&bytes)
                    || SENTINELS.iter().any(|s| s.as_bytes() == bytes.as_slice())
            }
            None => false,
        }
    }
}

/// splitmix64: cheap, well-mixed pseudo-random numbers.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Gemini 3 rules on a normalised `contents` list.
///
/// * In the current turn (everything after the last user content that carries no
///   function response), the first `functionCall` part of every model content must carry a
///   `thoughtSignature`.
/// * Every signature anywhere in the history must be one the server issued (or a sentinel).
pub fn check_gemini3(contents: &[Value], store: &SignatureStore) -> Result<(), ApiError> {
    let turn_start = contents
        .iter()
        .rposition(|c| is_user(c) && !parts(c).iter().any(|p| p.get("functionResponse").is_some()))
        .map_or(0, |i| i + 1);
    for (index, content) in contents.iter().enumerate().skip(turn_start) {
        if is_user(content) {
            continue;
        }
        let first_call = parts(content)
            .iter()
            .find(|p| p.get("functionCall").is_some());
        if let Some(part) = first_call {
            if part.get("thoughtSignature").is_none() {
                let name = part["functionCall"]["name"].as_str().unwrap_or_default();
                return Err(ApiError::invalid_argument(format!(
                    "Function call is missing a thought_signature in functionCall parts. This is \
                     required for tools to work correctly, and missing thought_signature may lead \
                     to degraded model performance. Additional data, function call \
                     `default_api:{name}` , position {}. Please refer to \
                     https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                    index + 1
                )));
            }
        }
    }
    for content in contents {
        for part in parts(content) {
            if let Some(signature) = part.get("thoughtSignature").and_then(Value::as_str) {
                if !store.accepts(signature) {
                    return Err(ApiError::invalid_argument("Corrupted thought signature."));
                }
            }
        }
    }
    Ok(())
}

fn is_user(content: &Value) -> bool {
    content
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
        != "model"
}

fn parts(content: &Value) -> &[Value] {
    content
        .get("parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issued_and_sentinel_signatures_are_accepted() {
        let mut store = SignatureStore::default();
        let issued = store.issue(7);
        assert!(store.accepts(&issued));
        assert!(store.accepts("skip_thought_signature_validator"));
        assert!(store.accepts(&STANDARD.encode("skip_thought_signature_validator")));
        assert!(!store.accepts("c29tZXRoaW5nIGVsc2U="));
        let truncated = &issued[..issued.len() - 8];
        assert!(!store.accepts(truncated));
    }

    #[test]
    fn current_turn_call_needs_a_signature() {
        let store = SignatureStore::default();
        let contents = vec![
            json!({"role": "user", "parts": [{"text": "hi"}]}),
            json!({"role": "model", "parts": [{"functionCall": {"name": "Bash", "args": {}}}]}),
            json!({"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {}}}]}),
        ];
        let error = check_gemini3(&contents, &store).unwrap_err();
        assert!(error.message.contains("`default_api:Bash` , position 2"));
    }

    #[test]
    fn earlier_turns_are_not_checked_for_missing_signatures() {
        let store = SignatureStore::default();
        let contents = vec![
            json!({"role": "user", "parts": [{"text": "hi"}]}),
            json!({"role": "model", "parts": [{"functionCall": {"name": "Bash", "args": {}}}]}),
            json!({"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {}}}]}),
            json!({"role": "model", "parts": [{"text": "done"}]}),
            json!({"role": "user", "parts": [{"text": "thanks"}]}),
        ];
        assert!(check_gemini3(&contents, &store).is_ok());
    }
}
