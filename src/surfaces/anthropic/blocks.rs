//! Gemini parts → Anthropic content-block operations, shared by the non-streaming response
//! ([`super::response`]) and the stream state machine ([`super::stream`]).
//!
//! Rules (in part order):
//! * `{text, thought: true}` → a `thinking` block; consecutive thought parts extend it; a
//!   thought part's signature ends the block with `signature = gm1|t|…`.
//! * `{text}` → a `text` block; consecutive text parts are concatenated verbatim; empty text
//!   opens nothing. A signature on a text part (Gemini 3 puts one on the last part of a text
//!   answer, often an empty text) is dropped: Gemini only validates function-call signatures,
//!   and a carrier block after the answer would hide the answer from clients that read the last
//!   block.
//! * `{functionCall}` → (carrier `thinking` block `gm1|fc|…` if signed) + a `tool_use` block with
//!   a fresh `toolu_` id and `args` (or `{}`) as input.
//! * Other parts (`inlineData`, `executableCode`, …) are skipped.
//!
//! One block is open at a time; tool_use and carrier blocks are complete when emitted.

use serde_json::Value;

use crate::upstream::wire::Part;

use super::signatures::{encode, SigKind};
use super::tools::from_gemini_name;
use crate::models::ModelInfo;

/// Kinds of blocks that receive deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenKind {
    Text,
    Thinking,
}

/// One step of block construction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BlockOp<'a> {
    Open(OpenKind),
    Text(&'a str),
    Thinking(&'a str),
    Signature(String),
    Close,
    /// A complete `tool_use` block; `None` input means `{}`.
    ToolUse {
        id: String,
        name: &'a str,
        input: Option<&'a Value>,
    },
}

/// Block construction state.
#[derive(Debug, Default)]
pub(crate) struct BlockMachine {
    open: Option<OpenKind>,
    family: Option<String>,
    tool_uses: usize,
    blocks: usize,
}

impl BlockMachine {
    /// Record the responding model (`modelVersion`) for signature tagging; first one wins.
    pub fn observe_model(&mut self, model_version: Option<&str>) {
        if self.family.is_none() {
            if let Some(m) = model_version.filter(|m| !m.is_empty()) {
                self.family = Some(ModelInfo::signature_family(m));
            }
        }
    }

    /// Number of `tool_use` blocks emitted.
    pub fn tool_uses(&self) -> usize {
        self.tool_uses
    }

    /// Number of blocks opened or emitted.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Feed one part.
    pub fn on_part<'a>(&mut self, part: &'a Part, emit: &mut impl FnMut(BlockOp<'a>)) {
        let signature = part.thought_signature.as_deref().filter(|s| !s.is_empty());
        if let Some(call) = &part.function_call {
            self.close(emit);
            if let Some(sig) = signature {
                self.carrier(SigKind::Call, sig, emit);
            }
            emit(BlockOp::ToolUse {
                id: new_id("toolu_"),
                name: from_gemini_name(&call.name),
                input: call.args.as_ref().filter(|a| !a.is_null()),
            });
            self.tool_uses += 1;
            self.blocks += 1;
        } else if let Some(text) = part.text.as_deref() {
            if part.is_thought() {
                if !text.is_empty() || signature.is_some() {
                    self.ensure(OpenKind::Thinking, emit);
                }
                if !text.is_empty() {
                    emit(BlockOp::Thinking(text));
                }
                if let Some(sig) = signature {
                    emit(BlockOp::Signature(self.encode(SigKind::Thought, sig)));
                    self.close(emit);
                }
            } else {
                if !text.is_empty() {
                    self.ensure(OpenKind::Text, emit);
                    emit(BlockOp::Text(text));
                }
                // A text part's signature is not carried: Gemini validates only function-call
                // signatures, and a trailing carrier block after the answer makes clients that
                // read the last block (Claude Code's `-p` result) see an empty answer.
                let _ = signature;
            }
        }
    }

    /// Close the open block, if any.
    pub fn close<'a>(&mut self, emit: &mut impl FnMut(BlockOp<'a>)) {
        if self.open.take().is_some() {
            emit(BlockOp::Close);
        }
    }

    fn ensure<'a>(&mut self, kind: OpenKind, emit: &mut impl FnMut(BlockOp<'a>)) {
        if self.open != Some(kind) {
            self.close(emit);
            emit(BlockOp::Open(kind));
            self.open = Some(kind);
            self.blocks += 1;
        }
    }

    fn carrier<'a>(&mut self, kind: SigKind, sig: &str, emit: &mut impl FnMut(BlockOp<'a>)) {
        self.ensure(OpenKind::Thinking, emit);
        emit(BlockOp::Signature(self.encode(kind, sig)));
        self.close(emit);
    }

    fn encode(&self, kind: SigKind, sig: &str) -> String {
        encode(kind, self.family.as_deref().unwrap_or(""), sig)
    }
}

pub(crate) use crate::surfaces::shared::signature::new_id;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(parts: &[Part]) -> Vec<BlockOp<'_>> {
        let mut m = BlockMachine::default();
        m.observe_model(Some("gemini-2.5-flash"));
        let mut out = Vec::new();
        for p in parts {
            m.on_part(p, &mut |op| out.push(op));
        }
        m.close(&mut |op| out.push(op));
        out
    }

    fn thought(t: &str) -> Part {
        Part {
            thought: Some(true),
            ..Part::text(t)
        }
    }

    #[test]
    fn ids_have_the_anthropic_shape() {
        let id = new_id("toolu_");
        assert_eq!(id.len(), 30);
        assert!(id[6..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(new_id("toolu_"), new_id("toolu_"));
    }

    #[test]
    fn thoughts_text_and_signed_call() {
        let parts = vec![
            thought("a"),
            thought("b"),
            Part::text("hi "),
            Part::text("there"),
            Part {
                thought_signature: Some("SIG".into()),
                ..Part::function_call("Write", json!({"x": 1}))
            },
            Part::text(""),
        ];
        let out = ops(&parts);
        assert_eq!(out.len(), 12);
        assert_eq!(
            out[..9],
            [
                BlockOp::Open(OpenKind::Thinking),
                BlockOp::Thinking("a"),
                BlockOp::Thinking("b"),
                BlockOp::Close,
                BlockOp::Open(OpenKind::Text),
                BlockOp::Text("hi "),
                BlockOp::Text("there"),
                BlockOp::Close,
                BlockOp::Open(OpenKind::Thinking),
            ]
        );
        assert_eq!(out[9], BlockOp::Signature("gm1|fc|2.5|SIG".into()));
        assert_eq!(out[10], BlockOp::Close);
        assert!(matches!(
            &out[11],
            BlockOp::ToolUse {
                name: "Write",
                input: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn trailing_empty_signed_text_adds_no_block() {
        let parts = vec![
            Part::text("done"),
            Part {
                thought_signature: Some("S".into()),
                ..Part::text("")
            },
        ];
        assert_eq!(
            ops(&parts),
            [
                BlockOp::Open(OpenKind::Text),
                BlockOp::Text("done"),
                BlockOp::Close,
            ]
        );
    }

    #[test]
    fn signed_thought_closes_its_block() {
        let parts = vec![
            Part {
                thought_signature: Some("T".into()),
                ..thought("x")
            },
            thought("y"),
        ];
        assert_eq!(
            ops(&parts),
            [
                BlockOp::Open(OpenKind::Thinking),
                BlockOp::Thinking("x"),
                BlockOp::Signature("gm1|t|2.5|T".into()),
                BlockOp::Close,
                BlockOp::Open(OpenKind::Thinking),
                BlockOp::Thinking("y"),
                BlockOp::Close,
            ]
        );
    }

    #[test]
    fn names_are_mapped_back_and_missing_args_are_none() {
        let part = Part {
            function_call: Some(Box::new(crate::upstream::wire::FunctionCall {
                id: Some("gemini-id".into()),
                name: "_1tool".into(),
                args: None,
            })),
            ..Part::default()
        };
        let out = ops(std::slice::from_ref(&part));
        assert!(matches!(
            &out[0],
            BlockOp::ToolUse { name: "1tool", input: None, id } if id.starts_with("toolu_")
        ));
    }
}
