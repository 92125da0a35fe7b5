//! One scan of a request body's structure, before any parse: how deep its objects and arrays
//! nest (so a deep body gets its own clear message before serde's recursion limit trips), and
//! where the value of one top-level member lies. The second lets a surface take a large member
//! it keeps as the client's text (Anthropic's `tools`: Claude Code's 32 KB of tool schemas,
//! remembered by that text) without serde scanning it a second time only to find its end.
//! It can also note where long string values of one member name lie (Anthropic's tool results:
//! a conversation's files and command output), for a parse that reads around them.
//!
//! Nothing is parsed: strings are skipped from quote to quote (`memchr`), brackets counted. A
//! member's span is where its brackets close, so for a body that is not JSON it may be anything;
//! the typed parse of the rest, and of the member on first sight, is what validates.

use std::ops::Range;

/// What the scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Objects and arrays nest deeper than the limit (the scan stopped there).
    pub too_deep: bool,
    /// The bytes of the asked-for member's value, brackets included, when the root object has
    /// that member (its key written without escapes) and its value is an array or object. The
    /// first such member, when a body repeats it.
    pub member: Option<Range<usize>>,
    /// The long strings asked for ([`LongStrings`]), quotes included, in the body's order.
    pub long_strings: Vec<Range<usize>>,
}

/// Which long strings a scan notes: the string values of members named `key` (written without
/// escapes) in objects at `depth` (the root object's members are at depth 1), each at least
/// `min_len` bytes with its quotes, outside the member whose span the scan finds. A string is
/// only found, not checked: its span runs from its quote to the next quote not escaped,
/// whatever lies between.
#[derive(Debug, Clone, Copy)]
pub struct LongStrings {
    pub depth: usize,
    pub key: &'static [u8],
    pub min_len: usize,
}

/// Scan `body` for nesting deeper than `max` and for the value of the root object's member
/// `key` (an empty `key` asks for none). `known` is shown the body from where that member's
/// value opens and may answer the length of a text it begins with that was itself found as
/// this member of a body before: those bytes are stepped over unread (a balanced value ends
/// where its text ends; its nesting, at this same depth, was counted when it was first seen).
pub fn scan(
    body: &[u8],
    max: usize,
    key: &[u8],
    known: impl FnMut(&[u8]) -> Option<usize>,
) -> Shape {
    scan_noting(body, max, key, None, known)
}

/// [`scan`], noting the long strings `long` asks for as well.
pub fn scan_noting(
    body: &[u8],
    max: usize,
    key: &[u8],
    long: Option<LongStrings>,
    mut known: impl FnMut(&[u8]) -> Option<usize>,
) -> Shape {
    let mut depth = 0usize;
    let mut long_strings = Vec::new();
    // Where the member's value opened, until its brackets close.
    let mut opened: Option<usize> = None;
    let mut member = None;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let Some(close) = closing_quote(body, i) else {
                    break;
                };
                if depth == 1
                    && member.is_none()
                    && opened.is_none()
                    && !key.is_empty()
                    && &body[i + 1..close] == key
                {
                    opened = after_key(body, close + 1, b"[{");
                    if let Some(start) = opened {
                        if let Some(len) = known(&body[start..]) {
                            member = Some(start..start + len);
                            opened = None;
                            i = start + len;
                            continue;
                        }
                    }
                }
                // Strings inside the member (the tools) are the member's.
                if let Some(long) = long.filter(|long| long.depth == depth && opened.is_none()) {
                    if &body[i + 1..close] == long.key {
                        if let Some(open) = after_key(body, close + 1, b"\"") {
                            let Some(end) = closing_quote(body, open) else {
                                break;
                            };
                            if end + 1 - open >= long.min_len {
                                long_strings.push(open..end + 1);
                            }
                            i = end + 1;
                            continue;
                        }
                    }
                }
                i = close;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Shape {
                        too_deep: true,
                        member,
                        long_strings,
                    };
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    if let Some(start) = opened.take() {
                        member = Some(start..i + 1);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Shape {
        too_deep: false,
        member,
        long_strings,
    }
}

/// The index of the quote closing the string opened at `open`: the next quote not preceded by
/// an odd run of backslashes. One `memchr` a quote, however many `\n` the string holds.
fn closing_quote(body: &[u8], open: usize) -> Option<usize> {
    let mut from = open + 1;
    loop {
        let quote = from + memchr::memchr(b'"', body.get(from..)?)?;
        let slashes = body[open + 1..quote]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if slashes % 2 == 0 {
            return Some(quote);
        }
        from = quote + 1;
    }
}

/// For a string that ended just before `at`: where its value opens when the string is a key
/// (a `:` follows) whose value opens with one of `opening` (`[{`: an array or object).
fn after_key(body: &[u8], at: usize, opening: &[u8]) -> Option<usize> {
    let mut rest = body[at..]
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.is_ascii_whitespace());
    match rest.next() {
        Some((_, b':')) => {}
        _ => return None,
    }
    match rest.next() {
        Some((offset, b)) if opening.contains(b) => Some(at + offset),
        _ => None,
    }
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;
