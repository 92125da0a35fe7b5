//! A JSON string kept as the client wrote it, escapes and all. A tool's output in a long agent
//! conversation (source files, command output) is most of a request's bytes and full of escapes
//! (`\n`, `\"`); read into a `String` it is taken out of its escapes by serde and escaped again
//! into Gemini's request, some 17 % of a 500 KB conversation's CPU (docs/PERFORMANCE.md,
//! twentieth step). Kept as its literal, it is only scanned on the way in (serde_json checks
//! its escapes and control characters as it finds its end) and copied on the way out. A text
//! is read out of it only where the gateway itself needs the text ([`JsonString::plain`]).
//!
//! The literal is checked as serde_json checks a string it parses, so what a `String` refuses
//! this refuses too: serde_json's scan checks the escapes' form and refuses control characters,
//! and a literal with `\u` escapes is also parsed once, so a lone surrogate is refused as well.
//!
//! A literal read from a request body inside [`sharing`] is a slice of the body's own buffer
//! (counted, not copied): a conversation's tool outputs are then neither copied out of the body
//! nor copied again when the translation takes them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON string literal (its quotes included), valid as serde_json reads strings.
#[derive(Clone)]
pub struct JsonString(Bytes);

thread_local! {
    /// The body [`sharing`] is reading on this thread, whose literals are slices of it.
    static SOURCE: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// `read()`, which parses `body` (serde_json borrowing from it): every [`JsonString`] it reads
/// is a slice of `body`'s buffer instead of a copy.
pub fn sharing<T>(body: &Bytes, read: impl FnOnce() -> T) -> T {
    /// Puts back the body read before, however `read` ends.
    struct Restore(Option<Bytes>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let before = self.0.take();
            SOURCE.with(|source| *source.borrow_mut() = before);
        }
    }
    let _restore = Restore(SOURCE.with(|source| source.replace(Some(body.clone()))));
    read()
}

/// `literal` as a slice of the body being shared when it lies within it, else a copy.
fn shared(literal: &str) -> Bytes {
    SOURCE
        .with(|source| {
            let source = source.borrow();
            let body = source.as_ref()?;
            let start = (literal.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
            let end = start.checked_add(literal.len())?;
            (end <= body.len()).then(|| body.slice(start..end))
        })
        .unwrap_or_else(|| Bytes::copy_from_slice(literal.as_bytes()))
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
        if has_surrogate_escape(raw.as_bytes()) {
            serde_json::from_str::<String>(raw)
                .map_err(|e| Refused::Invalid(without_position(&e)))?;
        }
        Ok(Self(shared(raw)))
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
        before % 2 == 0
            && matches!(literal.get(at + 2), Some(b'd' | b'D'))
            && matches!(
                literal.get(at + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    })
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
    /// A string serde_json would not read (a lone surrogate), with its message.
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
