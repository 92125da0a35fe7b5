//! A cheap check of a native request body before any key is spent on it: one UTF-8 JSON object
//! nested at most [`MAX_JSON_DEPTH`] deep, read in one borrowing pass without building a value
//! or copying the body. Failures read as Google's own ("Invalid JSON payload received. …").

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Deepest nesting of objects and arrays a native request body may have. serde_json's own
/// recursion limit is 128; Google's request messages are nowhere near 64 deep.
pub const MAX_JSON_DEPTH: usize = 64;

/// Why a native request body was refused before dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyCheckError {
    /// Empty or whitespace-only body.
    Empty,
    /// Valid JSON whose root is not an object.
    NotAnObject,
    /// Objects/arrays nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
    /// Not JSON (syntax, invalid UTF-8 in a string, bad escape, trailing data, …).
    Syntax(String),
}

impl fmt::Display for BodyCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str(
                "Invalid JSON payload received. The request body is empty: expected a JSON object.",
            ),
            Self::NotAnObject => f.write_str(
                "Invalid JSON payload received. Unknown name \"\": Root element must be a message.",
            ),
            Self::TooDeep => write!(
                f,
                "Invalid JSON payload received. Nesting is too deep: objects and arrays may be \
                 nested at most {MAX_JSON_DEPTH} levels."
            ),
            Self::Syntax(detail) => write!(f, "Invalid JSON payload received. {detail}."),
        }
    }
}

/// Whether objects and arrays in `body` nest deeper than `max`, by one scan of its bytes
/// (`shared::shape`: nothing parsed). For a translated surface, whose typed parse validates
/// everything else: it only has to keep serde's recursion from tripping first, so a deep body
/// gets its own clear message.
pub fn nests_deeper_than(body: &[u8], max: usize) -> bool {
    crate::surfaces::shared::shape::scan(body, max, b"", |_| None).too_deep
}

/// Cheap pre-dispatch check of a native body: one borrowing parse that validates the syntax,
/// UTF-8 (strings are parsed, so invalid UTF-8 and lone-surrogate escapes are caught — which
/// `IgnoredAny` alone would skip over), that the root is an object, and the nesting depth. No
/// value is built and the body is not copied; strings without escapes are only borrowed.
pub fn check_json_body(body: &[u8]) -> Result<(), BodyCheckError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(BodyCheckError::Empty),
        Some(b'{') => {}
        Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
            // Valid JSON that is not an object still has to be told apart from garbage
            // (`IgnoredAny` skips values iteratively, so depth does not matter here).
            return match serde_json::from_slice::<de::IgnoredAny>(body) {
                Ok(_) => Err(BodyCheckError::NotAnObject),
                Err(e) => Err(BodyCheckError::Syntax(e.to_string())),
            };
        }
        Some(_) => {}
    }
    let too_deep = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Node {
        depth: 0,
        too_deep: &too_deep,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match parsed {
        Ok(()) => Ok(()),
        // Our own limit is far below serde_json's (128), so it always trips first and is the
        // only depth check: no error text is ever matched.
        Err(_) if too_deep.get() => Err(BodyCheckError::TooDeep),
        Err(e) => Err(BodyCheckError::Syntax(e.to_string())),
    }
}

/// One JSON value at `depth` (the root object is depth 1 once entered).
#[derive(Clone, Copy)]
struct Node<'a> {
    depth: usize,
    too_deep: &'a Cell<bool>,
}

impl Node<'_> {
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_JSON_DEPTH {
            self.too_deep.set(true);
            return Err(E::custom("nesting too deep"));
        }
        Ok(Node {
            depth: self.depth + 1,
            too_deep: self.too_deep,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_bodies_must_be_one_utf8_json_object_of_bounded_depth() {
        assert_eq!(
            check_json_body(br#"{"contents": [{"parts": [{"text": "hi"}]}]}"#),
            Ok(())
        );
        assert_eq!(check_json_body(b" {} \r\n"), Ok(()));
        assert_eq!(check_json_body(b""), Err(BodyCheckError::Empty));
        assert_eq!(check_json_body(b" \n "), Err(BodyCheckError::Empty));
        for not_object in [&b"[]"[..], b"\"x\"", b"12", b"null", b"true", b"[[[]]]"] {
            assert_eq!(
                check_json_body(not_object),
                Err(BodyCheckError::NotAnObject),
                "{}",
                String::from_utf8_lossy(not_object)
            );
        }
        let nested = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
        assert_eq!(check_json_body(nested(64).as_bytes()), Ok(()));
        assert_eq!(
            check_json_body(nested(65).as_bytes()),
            Err(BodyCheckError::TooDeep)
        );
        assert_eq!(
            check_json_body(nested(200).as_bytes()),
            Err(BodyCheckError::TooDeep)
        );
        let deep_array = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            check_json_body(deep_array.as_bytes()),
            Err(BodyCheckError::NotAnObject)
        );
        for garbage in [
            &b"{"[..],
            b"{\"a\": 1} trailing",
            b"{\"a\": \"\xff\xfe\"}",
            b"{\"\xc3\": 1}",
            b"{\"a\": \"\\ud800\"}",
            b"{\"a\": \"\\x\"}",
            b"{\"a\": 1e999}",
            b"{'a': 1}",
            b"\xef\xbb\xbf{}",
            b"\x00",
        ] {
            let got = check_json_body(garbage);
            assert!(
                matches!(got, Err(BodyCheckError::Syntax(_))),
                "{}: {got:?}",
                String::from_utf8_lossy(garbage)
            );
        }
        let msg = check_json_body(b"{oops").unwrap_err().to_string();
        assert!(msg.starts_with("Invalid JSON payload received. "), "{msg}");
    }
}
