//! A conversation's stable prefix as a routing key. Gemini's implicit cache (and its discount)
//! only hits when the same prefix reaches the same project again, so a request that names no
//! session is given one made from what stays the same across a conversation's turns: its model,
//! its system instruction and its first turn. Requests alike there keep to one key (dispatch's
//! affinity, which also bounds how much one hot prefix may pin on a key). Only text is hashed
//! (xxh3), and only its first [`HASHED_BYTES`] per part (lengths cover the rest): about a
//! microsecond for Claude Code's prompt, and nothing for requests that carry a session.

use xxhash_rust::xxh3::Xxh3;

use crate::upstream::wire::{Content, GenerateContentRequest};

/// Bytes of one part's text hashed at most.
const HASHED_BYTES: usize = 16 * 1024;

/// A translated request that may have a stable prefix to route by.
pub trait Prefixed {
    fn prefix_session(&self, model: &str) -> Option<String>;
}

impl Prefixed for GenerateContentRequest {
    fn prefix_session(&self, model: &str) -> Option<String> {
        prefix_session(model, self)
    }
}

impl Prefixed for crate::upstream::wire::CountTokensRequest {
    /// Counting tokens caches nothing: any key.
    fn prefix_session(&self, _model: &str) -> Option<String> {
        None
    }
}

/// The prefix name dispatch keeps affinity under (`prefix:` and a hash), or `None` for a
/// request with nothing stable to go by (no system instruction and a one-turn conversation).
pub fn prefix_session(model: &str, req: &GenerateContentRequest) -> Option<String> {
    if req.system_instruction.is_none() && req.contents.len() < 2 {
        return None;
    }
    let mut h = Xxh3::new();
    h.update(model.as_bytes());
    let mut content = |c: &Content| {
        for part in &c.parts {
            if let Some(text) = &part.text {
                h.update(&text.len().to_le_bytes());
                h.update(&text.as_bytes()[..text.len().min(HASHED_BYTES)]);
            }
        }
    };
    if let Some(system) = &req.system_instruction {
        content(system);
    }
    if let Some(first) = req.contents.first() {
        content(first);
    }
    Some(format!("prefix:{:016x}", h.digest()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::wire::Part;

    fn text(role: &str, t: &str) -> Content {
        Content {
            role: Some(role.to_owned().into()),
            parts: vec![Part {
                text: Some(t.into()),
                ..Part::default()
            }],
        }
    }

    fn request(system: Option<&str>, turns: &[&str]) -> GenerateContentRequest {
        GenerateContentRequest {
            system_instruction: system.map(|s| text("user", s)),
            contents: turns
                .iter()
                .enumerate()
                .map(|(i, t)| text(if i % 2 == 0 { "user" } else { "model" }, t))
                .collect(),
            ..GenerateContentRequest::default()
        }
    }

    #[test]
    fn a_conversations_turns_share_their_prefix_and_others_do_not() {
        let turn1 = prefix_session("m", &request(Some("be brief"), &["hi"]));
        let turn3 = prefix_session("m", &request(Some("be brief"), &["hi", "hello", "more"]));
        assert!(turn1.is_some());
        assert_eq!(turn1, turn3);
        assert_ne!(
            turn1,
            prefix_session("m", &request(Some("be brief"), &["bye"]))
        );
        assert_ne!(
            turn1,
            prefix_session("n", &request(Some("be brief"), &["hi"]))
        );
        assert_ne!(
            turn1,
            prefix_session("m", &request(Some("be long"), &["hi"]))
        );
        // Nothing stable: a single turn with no system instruction.
        assert_eq!(prefix_session("m", &request(None, &["hi"])), None);
    }
}
