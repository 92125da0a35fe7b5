//! Hostile-input checks on a parsed Messages request, run before any translation or upstream
//! call (each failure is a 400 `invalid_request_error` naming the field):
//!
//! * the body nests objects/arrays at most [`MAX_JSON_DEPTH`] deep (checked before the typed
//!   parse by one scan of its bytes, [`shape`]; the bound also limits the recursion of the
//!   content-block deserializers);
//! * at most [`MAX_MESSAGES`] messages and [`MAX_CONTENT_BLOCKS`] content blocks in all
//!   (nested `tool_result` / document / search-result content included);
//! * base64 image and document sources: `data` is non-empty, valid standard base64 (the
//!   `base64` crate's `STANDARD` engine: `A–Z a–z 0–9 + /`, canonical `=` padding; property
//!   tested against that crate), and a base64 document names its `media_type`; URL sources have
//!   a non-empty `url` (Gemini refuses an empty `mime_type` / `file_uri`);
//! * `tool_use` blocks have a non-empty `id` and `name`, and ids are unique in the request;
//! * a `tool_result` names a non-empty `tool_use_id` that belongs to a `tool_use` block of the
//!   conversation (one that matches a call, just not of the previous turn, is still sent as
//!   text, see `contents.rs`).
//!
//! Error messages never echo more than [`MAX_ECHO`] characters of client data.

use std::collections::HashSet;

use super::errors::AnthropicError;
use super::types::{ContentBlock, MessagesRequest, Role, Source, TextOrBlocks, ToolResultContent};
use crate::surfaces::shared::shape::{scan_noting, LongStrings, Shape};

/// Deepest nesting of JSON objects and arrays accepted in a request body: the native
/// surface's bound (serde_json's own recursion limit is 128).
pub use crate::surfaces::gemini::MAX_JSON_DEPTH;

/// Most messages in one request (Anthropic's documented limit).
pub const MAX_MESSAGES: usize = 100_000;

/// Most content blocks in one request, nested ones included.
pub const MAX_CONTENT_BLOCKS: usize = 100_000;

/// Most characters of client-supplied text quoted back in an error message.
pub const MAX_ECHO: usize = 200;

/// One scan of a body before its parse: whether objects/arrays nest deeper than
/// [`MAX_JSON_DEPTH`] (a body that is not JSON, or refused for another reason before the depth
/// shows, is left to the typed parse), and where its `tools` lie (see `request::parse_body`;
/// `known` names a tool list seen before that they begin with, stepped over unread).
pub fn shape(body: &[u8], known: impl FnMut(&[u8]) -> Option<usize>) -> Shape {
    scan_noting(
        body,
        MAX_JSON_DEPTH,
        b"tools",
        Some(TOOL_RESULT_TEXTS),
        known,
    )
}

/// The long texts of tool results (`messages[].content[].content` as a string), which a parse
/// can read around (`request::parse_quickly`).
const TOOL_RESULT_TEXTS: LongStrings = LongStrings {
    depth: 5,
    key: b"content",
    min_len: 256,
};

/// `s` cut to [`MAX_ECHO`] characters (with `…` when cut), for quoting client data.
pub fn clip(s: &str) -> String {
    clip_to(s, MAX_ECHO)
}

/// `s` cut to `max` characters (with `…` when cut).
pub fn clip_to(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Exactly what `base64::engine::general_purpose::STANDARD.decode` accepts: the standard
/// alphabet, length a multiple of 4, `=` only as one or two final padding characters, and no
/// non-zero bits left over before the padding.
pub fn is_standard_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() % 4 != 0 {
        return false;
    }
    let pad = match b {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    let body = &b[..b.len() - pad];
    // Branch-free per byte and in blocks, so it vectorises (images run to megabytes).
    if !body
        .chunks(4096)
        .all(|block| block.iter().fold(true, |ok, &c| ok & in_alphabet(c)))
    {
        return false;
    }
    // The last data character must not carry bits beyond the encoded bytes.
    let unused_bits_mask = match pad {
        2 => 0b1111,
        1 => 0b11,
        _ => 0,
    };
    match body.last() {
        Some(&c) if pad > 0 => sextet(c).is_some_and(|v| v & unused_bits_mask == 0),
        _ => true,
    }
}

fn in_alphabet(c: u8) -> bool {
    (c.wrapping_sub(b'A') < 26)
        | (c.wrapping_sub(b'a') < 26)
        | (c.wrapping_sub(b'0') < 10)
        | (c == b'+')
        | (c == b'/')
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A field path such as `messages.3.content.0.source.data`, built only for error messages.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn path(segs: &[Seg<'_>], last: &str) -> String {
    let mut out = String::new();
    for s in segs {
        if !out.is_empty() {
            out.push('.');
        }
        match s {
            Seg::Key(k) => out.push_str(k),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    if !last.is_empty() {
        out.push('.');
        out.push_str(last);
    }
    out
}

fn invalid_at(segs: &[Seg<'_>], field: &str, message: &str) -> AnthropicError {
    AnthropicError::invalid(format!("{}: {message}", path(segs, field)))
}

/// The content checks listed in the module documentation.
pub fn check_request(req: &MessagesRequest) -> Result<(), AnthropicError> {
    if req.messages.len() > MAX_MESSAGES {
        return Err(AnthropicError::invalid(format!(
            "messages: too many messages ({}; at most {MAX_MESSAGES})",
            req.messages.len()
        )));
    }
    let mut walk = Walk::default();
    // Calls first: a result may only refer to a call that exists.
    for (i, m) in req.messages.iter().enumerate() {
        let TextOrBlocks::Blocks(blocks) = &m.content else {
            continue;
        };
        for (j, b) in blocks.iter().enumerate() {
            let ContentBlock::ToolUse { id, name, .. } = b else {
                continue;
            };
            let at = [
                Seg::Key("messages"),
                Seg::Index(i),
                Seg::Key("content"),
                Seg::Index(j),
            ];
            if id.is_empty() {
                return Err(invalid_at(&at, "id", "must not be empty"));
            }
            if name.is_empty() {
                return Err(invalid_at(&at, "name", "must not be empty"));
            }
            if m.role == Role::Assistant && !walk.calls.insert(id.as_str()) {
                return Err(invalid_at(
                    &at,
                    "id",
                    &format!("`tool_use` ids must be unique: {} is repeated", clip(id)),
                ));
            }
        }
    }
    if let Some(TextOrBlocks::Blocks(blocks)) = &req.system {
        let mut segs = vec![Seg::Key("system")];
        walk.blocks(blocks, &mut segs, false)?;
    }
    for (i, m) in req.messages.iter().enumerate() {
        let mut segs = vec![Seg::Key("messages"), Seg::Index(i), Seg::Key("content")];
        match &m.content {
            TextOrBlocks::Text(_) => walk.count(&segs)?,
            TextOrBlocks::Blocks(blocks) => walk.blocks(blocks, &mut segs, true)?,
        }
    }
    Ok(())
}

#[derive(Default)]
struct Walk<'a> {
    blocks: usize,
    calls: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn count(&mut self, segs: &[Seg<'_>]) -> Result<(), AnthropicError> {
        self.blocks += 1;
        if self.blocks > MAX_CONTENT_BLOCKS {
            return Err(invalid_at(
                segs,
                "",
                &format!("too many content blocks in the request (at most {MAX_CONTENT_BLOCKS})"),
            ));
        }
        Ok(())
    }

    /// `top` is true for a message's own blocks (where tool results are matched to calls).
    fn blocks(
        &mut self,
        blocks: &'a [ContentBlock],
        segs: &mut Vec<Seg<'a>>,
        top: bool,
    ) -> Result<(), AnthropicError> {
        for (j, b) in blocks.iter().enumerate() {
            segs.push(Seg::Index(j));
            self.block(b, segs, top)?;
            segs.pop();
        }
        Ok(())
    }

    fn block(
        &mut self,
        block: &'a ContentBlock,
        segs: &mut Vec<Seg<'a>>,
        top: bool,
    ) -> Result<(), AnthropicError> {
        self.count(segs)?;
        match block {
            ContentBlock::Image { source } => {
                segs.push(Seg::Key("source"));
                check_source(source, segs, "image")?;
                segs.pop();
            }
            ContentBlock::Document { source, .. } => {
                segs.push(Seg::Key("source"));
                check_source(source, segs, "document")?;
                if let Source::Content {
                    content: TextOrBlocks::Blocks(inner),
                } = source
                {
                    segs.push(Seg::Key("content"));
                    self.blocks(inner, segs, false)?;
                    segs.pop();
                }
                segs.pop();
            }
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                ..
            } => {
                if tool_use_id.is_empty() {
                    return Err(invalid_at(segs, "tool_use_id", "must not be empty"));
                }
                if top && !self.calls.contains(tool_use_id.as_str()) {
                    return Err(invalid_at(
                        segs,
                        "tool_use_id",
                        &format!(
                            "unexpected `tool_use_id` found in `tool_result` blocks: {}. Each \
                             `tool_result` block must have a corresponding `tool_use` block in \
                             the conversation",
                            clip(tool_use_id)
                        ),
                    ));
                }
                if let Some(ToolResultContent::Blocks(inner)) = content {
                    segs.push(Seg::Key("content"));
                    self.blocks(inner, segs, false)?;
                    segs.pop();
                }
            }
            ContentBlock::SearchResult { content, .. } => {
                segs.push(Seg::Key("content"));
                self.blocks(content, segs, false)?;
                segs.pop();
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_source(source: &Source, segs: &[Seg<'_>], what: &str) -> Result<(), AnthropicError> {
    match source {
        Source::Base64 { media_type, data } => {
            if what == "document" && media_type.trim().is_empty() {
                return Err(invalid_at(segs, "media_type", "must not be empty"));
            }
            if data.is_empty() {
                return Err(invalid_at(
                    segs,
                    "data",
                    &format!("the {what} data must not be empty"),
                ));
            }
            if !is_standard_base64(data) {
                return Err(invalid_at(
                    segs,
                    "data",
                    &format!("the {what} data is not valid base64"),
                ));
            }
        }
        Source::Url { url } if url.trim().is_empty() => {
            return Err(invalid_at(segs, "url", "must not be empty"));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings() {
        let nest = |n: usize| {
            format!(
                "{{\"s\":\"[[[{{{{\",\"a\":{}{}}}",
                "[".repeat(n - 1),
                "]".repeat(n - 1)
            )
        };
        assert!(!shape(nest(64).as_bytes(), |_| None).too_deep);
        assert!(shape(nest(65).as_bytes(), |_| None).too_deep);
        assert!(!shape(b"{\"unterminated", |_| None).too_deep);
    }

    #[test]
    fn base64_matches_the_standard_engine_on_edge_cases() {
        for ok in ["", "AAAA", "iVBORw==", "JVBERi0=", "/+9z", "QQ==", "QUI="] {
            assert!(is_standard_base64(ok), "{ok}");
        }
        for bad in [
            "A",
            "AAA",
            "iVBOR",
            "QQ",
            "QR==",
            "QUJ=",
            "A===",
            "====",
            "AA=A",
            "-_AA",
            "AA AA",
            "AAAA\n",
            "Zm9v\u{e9}",
        ] {
            assert!(!is_standard_base64(bad), "{bad}");
        }
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip_to("héllo", 2), "hé…");
        assert_eq!(clip_to("hé", 2), "hé");
    }
}
