//! Thought-signature round trip through a stateless gateway.
//!
//! Gemini attaches opaque `thoughtSignature`s to parts; Gemini 3 rejects a replayed history whose
//! function calls lost them (400 "Function call is missing a thought_signature") and rejects
//! forged ones (400 "Corrupted thought signature."). Anthropic clients (Claude Code) persist the
//! `signature` of `thinking` blocks and send them back verbatim, so each Gemini signature travels
//! inside a thinking block:
//!
//! * encoding: `gm1|<kind>|<family>|<gemini signature>` where kind is `t` (a thought part's own
//!   signature, on that thinking block), `fc` (a function call's, on an empty *carrier* thinking
//!   block emitted right before the `tool_use`) or `tx` (a text part's, on a carrier right after
//!   that text); family is the model version (`2.5`, `3`, …) from the response's `modelVersion`,
//!   empty when unknown. `|` never occurs in base64 or model names.
//! * replay: a `fc` signature goes on the next `functionCall` part of the same assistant turn; a
//!   `tx` signature on the text part just before the carrier (or the next one). `t` signatures are
//!   dropped, and so are thought texts: thought parts are not replayed (Gemini only validates
//!   function-call signatures, and whether it accepts replayed `thought: true` parts is unverified).
//! * thinking blocks whose signature is not ours (real Anthropic, empty, garbled) or whose family
//!   differs from the target model's are dropped, text included: they are never sent to Gemini.
//! * Gemini 3 targets: the first `functionCall` of each model turn that still has no signature
//!   gets Google's documented sentinel [`SKIP_SIGNATURE_SENTINEL`] (raw string, as in the REST
//!   docs; spec §2.10 notes some SDKs base64 it).

use crate::upstream::wire::{Content, Part};

use crate::models::ModelInfo;

pub use crate::surfaces::shared::signature::SKIP_SIGNATURE_SENTINEL;

const TAG: &str = "gm1";

/// Which Gemini part a signature came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigKind {
    Thought,
    Call,
    Text,
}

impl SigKind {
    fn code(self) -> &'static str {
        match self {
            Self::Thought => "t",
            Self::Call => "fc",
            Self::Text => "tx",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "t" => Some(Self::Thought),
            "fc" => Some(Self::Call),
            "tx" => Some(Self::Text),
            _ => None,
        }
    }
}

/// The Anthropic `signature` value carrying a Gemini signature.
pub(crate) fn encode(kind: SigKind, family: &str, signature: &str) -> String {
    format!("{TAG}|{}|{family}|{signature}", kind.code())
}

/// A signature we issued, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Carried<'a> {
    pub kind: SigKind,
    pub family: &'a str,
    pub signature: &'a str,
}

/// Decode a client-provided signature; `None` when it is not one of ours.
pub(crate) fn decode(value: &str) -> Option<Carried<'_>> {
    let mut it = value.splitn(4, '|');
    if it.next()? != TAG {
        return None;
    }
    let kind = SigKind::from_code(it.next()?)?;
    let family = it.next()?;
    let signature = it.next()?;
    if signature.is_empty() || family.contains('|') {
        return None;
    }
    Some(Carried {
        kind,
        family,
        signature,
    })
}

/// Replay state for one assistant turn.
pub(crate) struct Replay<'a> {
    target_family: &'a str,
    accept_any_family: bool,
    pending_call: Option<&'a str>,
    pending_text: Option<&'a str>,
}

impl<'a> Replay<'a> {
    /// `target_family` from [`ModelInfo::signature_family`] of the model being called.
    pub fn new(target_family: &'a str, target: &ModelInfo) -> Self {
        Self {
            target_family,
            accept_any_family: target.version.is_empty(),
            pending_call: None,
            pending_text: None,
        }
    }

    /// A client `thinking` block; `parts` is the model turn built so far.
    pub fn on_thinking(&mut self, signature: &'a str, parts: &mut [Part]) {
        let Some(carried) = decode(signature) else {
            return;
        };
        let compatible = self.accept_any_family
            || carried.family.is_empty()
            || carried.family == self.target_family;
        if !compatible {
            return;
        }
        match carried.kind {
            SigKind::Thought => {}
            SigKind::Call => self.pending_call = Some(carried.signature),
            SigKind::Text => match parts.last_mut() {
                Some(last)
                    if last.text.is_some()
                        && !last.is_thought()
                        && last.thought_signature.is_none() =>
                {
                    last.thought_signature = Some(carried.signature.to_owned());
                }
                _ => self.pending_text = Some(carried.signature),
            },
        }
    }

    /// Signature for a `functionCall` part about to be pushed.
    pub fn take_call(&mut self) -> Option<String> {
        self.pending_call.take().map(str::to_owned)
    }

    /// Signature for a text part about to be pushed.
    pub fn take_text(&mut self) -> Option<String> {
        self.pending_text.take().map(str::to_owned)
    }
}

/// Gemini 3: give the first function call of each model turn a signature if it has none.
pub(crate) fn apply_sentinels(contents: &mut [Content], target: &ModelInfo) {
    if !target.needs_signatures() {
        return;
    }
    for content in contents.iter_mut() {
        if content.role.as_deref() != Some("model") {
            continue;
        }
        if let Some(first_call) = content.parts.iter_mut().find(|p| p.function_call.is_some()) {
            if first_call.thought_signature.is_none() {
                first_call.thought_signature = Some(SKIP_SIGNATURE_SENTINEL.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encode_decode_round_trip() {
        let s = encode(SigKind::Call, "2.5", "EokDCoYD+/=");
        assert_eq!(s, "gm1|fc|2.5|EokDCoYD+/=");
        assert_eq!(
            decode(&s),
            Some(Carried {
                kind: SigKind::Call,
                family: "2.5",
                signature: "EokDCoYD+/="
            })
        );
        assert_eq!(
            decode("gm1|tx||abc").map(|c| (c.kind, c.family)),
            Some((SigKind::Text, ""))
        );
    }

    #[test]
    fn foreign_signatures_are_not_ours() {
        for s in [
            "",
            "ErUBCkYIBxgCKkB…anthropic",
            "gm1|zz|2.5|abc",
            "gm1|fc|2.5|",
            "gm1|fc",
            "gm2|fc|2.5|abc",
        ] {
            assert_eq!(decode(s), None, "{s}");
        }
    }

    #[test]
    fn replay_attaches_by_kind_and_family() {
        let target = ModelInfo::from_name("gemini-3-pro-preview");
        let mut replay = Replay::new("3", &target);
        let mut parts = vec![Part::text("hello")];
        replay.on_thinking("gm1|tx|3|TXT", &mut parts);
        assert_eq!(parts[0].thought_signature.as_deref(), Some("TXT"));
        replay.on_thinking("gm1|fc|2.5|OLD", &mut parts);
        assert_eq!(replay.take_call(), None, "other family dropped");
        replay.on_thinking("gm1|fc|3|CALL", &mut parts);
        assert_eq!(replay.take_call().as_deref(), Some("CALL"));
        assert_eq!(replay.take_call(), None);
        replay.on_thinking("gm1|t|3|THOUGHT", &mut parts);
        assert_eq!(replay.take_text(), None);
    }

    #[test]
    fn alias_targets_accept_any_family() {
        let target = ModelInfo::from_name("gemini-flash-latest");
        let mut replay = Replay::new("gemini-flash-latest", &target);
        replay.on_thinking("gm1|fc|2.5|X", &mut []);
        assert_eq!(replay.take_call().as_deref(), Some("X"));
    }

    #[test]
    fn sentinel_only_for_gemini_3_first_unsigned_call() {
        let call = |sig: Option<&str>| Part {
            thought_signature: sig.map(str::to_owned),
            ..Part::function_call("Bash", json!({}))
        };
        let build = || {
            vec![
                Content::new("model", vec![Part::text("x"), call(None), call(None)]),
                Content::new("model", vec![call(Some("REAL")), call(None)]),
                Content::new("user", vec![Part::function_response("Bash", json!({}))]),
            ]
        };
        let mut contents = build();
        apply_sentinels(
            &mut contents,
            &ModelInfo::from_name("gemini-3-flash-preview"),
        );
        assert_eq!(
            contents[0].parts[1].thought_signature.as_deref(),
            Some(SKIP_SIGNATURE_SENTINEL)
        );
        assert_eq!(contents[0].parts[2].thought_signature, None);
        assert_eq!(
            contents[1].parts[0].thought_signature.as_deref(),
            Some("REAL")
        );
        assert_eq!(contents[1].parts[1].thought_signature, None);

        let mut contents = build();
        apply_sentinels(&mut contents, &ModelInfo::from_name("gemini-2.5-pro"));
        assert_eq!(contents, build());
    }
}
