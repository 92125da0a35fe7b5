//! Remote compaction's items, pure: what Codex asks (`POST /v1/responses/compact`, or a
//! `compaction_trigger` item at the end of a request's input) is answered with one `compaction`
//! item whose `encrypted_content` carries a summary of the conversation written by the model;
//! given back as input later, it becomes that summary as a user turn. The content is this
//! gateway's own, sealed only against confusion with OpenAI's (`gsc1|` + base64): it is the
//! client's text, not a secret.

use base64::Engine;
use serde_json::{json, Value};

const SEAL: &str = "gsc1|";

/// What the model is asked for, after the conversation it summarises.
pub const INSTRUCTION: &str = "Context compaction: the conversation above will be replaced by your summary of it. Write a complete handoff summary for continuing this work: the user's goals and instructions (quote exact requirements), decisions made and why, files, commands and tool results that matter, the current state, and what remains to do next. Write it as notes to yourself; do not call tools and do not address the user.";

/// The words that introduce a summary given back as input.
const PREFACE: &str =
    "Summary of the conversation before this point (earlier turns were compacted):";

/// The `compaction` item holding `summary` (its id is given by the response it is part of).
pub fn item(summary: &str) -> Value {
    let sealed = format!(
        "{SEAL}{}",
        base64::engine::general_purpose::STANDARD.encode(summary)
    );
    json!({"type": "compaction", "encrypted_content": sealed})
}

/// The user turn a `compaction` item given back stands for; `None` for content this gateway
/// did not make (OpenAI's own, say).
pub fn opened(content: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(content.strip_prefix(SEAL)?)
        .ok()?;
    let summary = String::from_utf8(raw).ok()?;
    Some(format!("{PREFACE}\n\n{summary}"))
}

/// The instruction as the input item appended to the conversation.
pub fn instruction_item() -> Value {
    json!({"type": "message", "role": "user", "content": INSTRUCTION})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compaction_item_opens_to_its_summary() {
        let it = item("goal: fix the bug — 中文 too");
        let content = it["encrypted_content"].as_str().unwrap();
        let summary = opened(content).unwrap();
        assert!(summary.starts_with(PREFACE));
        assert!(summary.ends_with("goal: fix the bug — 中文 too"));
        assert_eq!(opened("gAAAAB-openai-encrypted"), None);
        assert_eq!(opened("gsc1|not base64!"), None);
    }
}
