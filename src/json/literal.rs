//! A JSON string kept as the client wrote it, escapes and all. A tool's output in a long agent
//! conversation (source files, command output) is most of a request's bytes and full of escapes
//! (`\n`, `\"`); read into a `String` it is taken out of its escapes by serde and escaped again
//! into Gemini's request, some 17 % of a 500 KB conversation's CPU (docs/PERFORMANCE.md,
//! twentieth step). Kept as its literal, it is only checked on the way in (by serde_json's scan
//! as it finds its end, or on its own when cut, below) and copied on the way out. A text
//! is read out of it only where the gateway itself needs the text ([`JsonString::plain`]).
//!
//! The literal is checked as serde_json checks a string it parses, so what a `String` refuses
//! this refuses too: serde_json's scan checks the escapes' form and refuses control characters,
//! and a literal with a surrogate escape is also parsed once, so a lone surrogate is refused.
//!
//! A literal read from a request body inside [`sharing`] is a slice of the body's own buffer
//! (counted, not copied): a conversation's tool outputs are then neither copied out of the body
//! nor copied again when the translation takes them. (Read from the text [`reading_around`]
//! parses instead, a literal that was not cut is copied: a short one.)
//!
//! Even the scan costs: serde_json leaves its fast loop at every escape, and a source file
//! has one every few dozen bytes. A surface that knows where its long literals lie can cut
//! them out of the text it parses ([`reading_around`]): each is then checked by [`check_cut`]
//! (a pass per rule, backslashes found by `memchr`), to the same verdict as serde_json's.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON string literal (its quotes included), valid as serde_json reads strings.
#[derive(Clone)]
pub struct JsonString(Bytes);

thread_local! {
    /// The body [`sharing`] is reading on this thread, whose literals are slices of it.
    static SOURCE: RefCell<Option<Lent>> = const { RefCell::new(None) };
}

/// What [`sharing`] lends: the body, and while [`reading_around`] runs, where its cut literals
/// were left in the text read instead.
struct Lent {
    body: Bytes,
    around: Option<Around>,
}

/// The text [`reading_around`] reads: where it starts, and its cuts in order of `at`.
struct Around {
    start: usize,
    cuts: Vec<Cut>,
}

/// A string literal cut out of the lent body: left in the text read as an empty literal (`""`)
/// at `at`, standing for the body's bytes `span` (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    pub at: usize,
    pub span: Range<usize>,
    taken: bool,
}

impl Cut {
    pub(crate) fn new(at: usize, span: Range<usize>) -> Self {
        Self {
            at,
            span,
            taken: false,
        }
    }
}

/// `read()`, which parses `body` (serde_json borrowing from it): every [`JsonString`] it reads
/// is a slice of `body`'s buffer instead of a copy.
pub fn sharing<T>(body: &Bytes, read: impl FnOnce() -> T) -> T {
    /// Puts back the body read before, however `read` ends.
    struct Restore(Option<Lent>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let before = self.0.take();
            SOURCE.with(|source| *source.borrow_mut() = before);
        }
    }
    let lent = Lent {
        body: body.clone(),
        around: None,
    };
    let _restore = Restore(SOURCE.with(|source| source.replace(Some(lent))));
    read()
}

/// Whether `bytes` is the body [`sharing`] lends on this thread (the same buffer, whole).
pub(crate) fn is_lent(bytes: &[u8]) -> bool {
    SOURCE.with(|source| {
        source.borrow().as_ref().is_some_and(|lent| {
            lent.body.as_ptr() == bytes.as_ptr() && lent.body.len() == bytes.len()
        })
    })
}

/// `read()`, which parses `text` (serde_json borrowing from it): the body [`sharing`] lends,
/// with long string literals cut out, each left as `""` at its cut's `at`. A [`JsonString`]
/// read at a cut is the literal cut there, checked as serde_json checks a string, and a slice
/// of the body. Also answers whether every cut was read so: when one was not, some other value
/// read an empty string in its place, and what `read` made is not what the body says.
/// Outside `sharing` nothing is lent and no cut is read. Called again inside `read`, it takes
/// the outer cuts away: the outer call then answers that they were not all read.
pub(crate) fn reading_around<T>(
    text: &[u8],
    cuts: Vec<Cut>,
    read: impl FnOnce() -> T,
) -> (T, bool) {
    /// Takes the cuts back, however `read` ends.
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            SOURCE.with(|source| {
                if let Some(lent) = source.borrow_mut().as_mut() {
                    lent.around = None;
                }
            });
        }
    }
    let no_cuts = cuts.is_empty();
    let around = Around {
        start: text.as_ptr() as usize,
        cuts,
    };
    let lent = SOURCE.with(|source| {
        let mut source = source.borrow_mut();
        source
            .as_mut()
            .map(|lent| lent.around = Some(around))
            .is_some()
    });
    let _restore = Restore;
    let read = read();
    let all = if lent {
        SOURCE.with(|source| {
            let source = source.borrow();
            let around = source.as_ref().and_then(|lent| lent.around.as_ref());
            around.is_some_and(|around| around.cuts.iter().all(|cut| cut.taken))
        })
    } else {
        no_cuts
    };
    (read, all)
}

/// Where a literal came from.
enum Found {
    /// The lent body's bytes (a slice).
    Lent(Bytes),
    /// A cut's literal (a slice of the body, not checked yet).
    Cut(Bytes),
    /// Neither: it is copied.
    Elsewhere,
}

fn found(literal: &str) -> Found {
    SOURCE.with(|source| {
        let mut source = source.borrow_mut();
        let Some(lent) = source.as_mut() else {
            return Found::Elsewhere;
        };
        if let Some(around) = lent.around.as_mut().filter(|_| literal == "\"\"") {
            let at = (literal.as_ptr() as usize).wrapping_sub(around.start);
            if let Ok(i) = around.cuts.binary_search_by_key(&at, |cut| cut.at) {
                let cut = &mut around.cuts[i];
                cut.taken = true;
                return Found::Cut(lent.body.slice(cut.span.clone()));
            }
        }
        let body = &lent.body;
        let Some(start) = (literal.as_ptr() as usize).checked_sub(body.as_ptr() as usize) else {
            return Found::Elsewhere;
        };
        match start.checked_add(literal.len()) {
            Some(end) if end <= body.len() => Found::Lent(body.slice(start..end)),
            _ => Found::Elsewhere,
        }
    })
}

impl JsonString {
    /// The literal of `text`, escaped as serde_json escapes it (for tests: the gateway makes
    /// literals only of what clients wrote).
    #[cfg(test)]
    pub fn from_plain(text: &str) -> Self {
        let mut out = Vec::with_capacity(text.len() + 2);
        super::escape::push_str(&mut out, text);
        Self(out.into())
    }

    /// `raw`, the text serde_json captured for one JSON value, when it is a string literal
    /// serde_json would read into a `String`; else what it is instead (`"an array"`, …).
    pub fn from_literal(raw: &str) -> Result<Self, Refused> {
        if !raw.starts_with('"') {
            return Err(Refused::NotAString(kind_of(raw)));
        }
        let bytes = match found(raw) {
            Found::Cut(cut) => {
                check_cut(&cut)?;
                return Ok(Self(cut));
            }
            Found::Lent(bytes) => bytes,
            Found::Elsewhere => Bytes::copy_from_slice(raw.as_bytes()),
        };
        if has_surrogate_escape(raw.as_bytes()) {
            serde_json::from_str::<String>(raw)
                .map_err(|e| Refused::Invalid(without_position(&e)))?;
        }
        Ok(Self(bytes))
    }

    /// The literal, quotes included: the bytes (UTF-8) to write where a JSON string goes.
    pub fn literal(&self) -> &[u8] {
        &self.0
    }

    /// The text the literal stands for.
    pub fn plain(&self) -> Cow<'_, str> {
        let inner = &self.0[1..self.0.len() - 1];
        if !inner.contains(&b'\\') {
            // Checked when it was made: it is UTF-8.
            return String::from_utf8_lossy(inner);
        }
        // Checked when it was made: it reads.
        Cow::Owned(serde_json::from_slice(&self.0).unwrap_or_default())
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 2
    }
}

/// A cut literal (quotes included, its end found only by its quotes) checked as serde_json
/// checks a string it reads into a `String`: UTF-8, no control character, every escape one of
/// JSON's (`\u` with four hex digits), a surrogate escape only in a pair, no quote unescaped.
/// Cheaper than serde_json's own scan: one pass for each rule, each backslash found by `memchr`.
fn check_cut(literal: &[u8]) -> Result<(), Refused> {
    let refused = || Refused::Invalid("not a valid JSON string".to_owned());
    let inner = literal
        .get(1..literal.len().saturating_sub(1))
        .filter(|_| literal.len() >= 2 && literal[0] == b'"' && literal.ends_with(b"\""))
        .ok_or_else(refused)?;
    if std::str::from_utf8(inner).is_err() || has_control(inner) {
        return Err(refused());
    }
    let mut next = 0;
    let mut surrogate = false;
    for at in memchr::memchr2_iter(b'\\', b'"', inner) {
        if at < next {
            continue; // escaped: the second half of `\\` or `\"`
        }
        if inner[at] == b'"' {
            return Err(refused()); // the string ended before its last quote
        }
        next = match inner.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at + 2,
            Some(b'u') => {
                let hex = inner.get(at + 2..at + 6).ok_or_else(refused)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(refused());
                }
                surrogate |= is_surrogate(hex);
                at + 6
            }
            _ => return Err(refused()),
        };
    }
    if surrogate {
        serde_json::from_slice::<String>(literal)
            .map_err(|e| Refused::Invalid(without_position(&e)))?;
    }
    Ok(())
}

/// Whether `bytes` holds a control character (below U+0020), which a JSON string must escape.
/// In fixed blocks the compiler checks many bytes at once.
fn has_control(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    let found = blocks
        .by_ref()
        .any(|block| block.iter().fold(false, |seen, &b| seen | (b < 0x20)));
    found || blocks.remainder().iter().any(|&b| b < 0x20)
}

/// Whether a literal (its escapes well formed, as serde_json's scan checked) has a `\u` escape
/// of a UTF-16 surrogate (`\uD800`–`\uDFFF`), which serde_json reads only in a valid pair.
/// Other `\u` escapes (`\u00e9`: Python writes every non-ASCII character so) need no check.
fn has_surrogate_escape(literal: &[u8]) -> bool {
    memchr::memmem::find_iter(literal, b"\\u").any(|at| {
        // The backslash starts an escape only after an even run of backslashes (`\\u` is an
        // escaped backslash and a `u`).
        let before = literal[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        before % 2 == 0 && literal.get(at + 2..at + 4).is_some_and(is_surrogate)
    })
}

/// Whether the hex digits of a `\u` escape (at least its first two) name a UTF-16 surrogate
/// (`D800`–`DFFF`).
fn is_surrogate(hex: &[u8]) -> bool {
    matches!(
        hex,
        [b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F', ..]
    )
}

/// serde_json's message without its `at line … column …`, which would point into the captured
/// value rather than the body (an error raised while reading the body gets the body's own).
pub fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rsplit_once(" at line ") {
        Some((bare, _)) => bare.to_owned(),
        None => message,
    }
}

/// Why a JSON value is not a [`JsonString`].
#[derive(Debug)]
pub enum Refused {
    /// Another kind of value (named).
    NotAString(&'static str),
    /// A string serde_json would not read (a lone surrogate; a cut literal that fails its
    /// check), with its message.
    Invalid(String),
}

impl Refused {
    /// The refusal as a deserializer's error, a value of another kind named against `expected`.
    pub fn error<E: de::Error>(self, expected: &str) -> E {
        match self {
            Self::NotAString(kind) => {
                E::custom(format_args!("invalid type: {kind}, expected {expected}"))
            }
            Self::Invalid(message) => E::custom(message),
        }
    }
}

fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'[') => "a sequence",
        Some(b'{') => "a map",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl PartialEq for JsonString {
    /// Two literals are equal when their texts are (`"\u0041"` is `"A"`).
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.plain() == other.plain()
    }
}

impl fmt::Debug for JsonString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl<'de> Deserialize<'de> for JsonString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        Self::from_literal(raw.get()).map_err(|refused| refused.error("a string"))
    }
}

impl Serialize for JsonString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_slice::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => self.plain().serialize(serializer),
        }
    }
}

#[cfg(test)]
#[path = "literal_tests.rs"]
mod tests;
