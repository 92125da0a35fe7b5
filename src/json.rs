//! JSON read from bytes as text. `serde_json::from_slice` checks every string and key it meets
//! for UTF-8 one by one; a Gemini stream event has some twenty of them, and those checks were
//! a sixth of the event's parse. Checking the whole input once and parsing it as `&str` does
//! the same work in one pass (−14 % per event). Input that is not UTF-8 is parsed as bytes, so
//! its error is serde_json's own, with its line and column.
//!
//! Lists that are nearly always one long (a streamed event's candidates and their parts) are
//! read by [`few`]: serde gives a list four slots at its first element, which for Gemini's
//! candidate (272 bytes) and part (400 bytes) made 1,088- and 1,600-byte blocks per event — past
//! glibc's per-thread cache (1,032 bytes), so each event took malloc's slow path twice.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// `T` from JSON bytes, as [`serde_json::from_slice`] would give it.
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// A list read with room for one element at its first, growing as `Vec` does after that: for
/// `#[serde(deserialize_with = "crate::json::few")]` on lists that are nearly always one long.
pub fn few<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Few<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Few<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut list = Vec::new();
            while let Some(item) = seq.next_element()? {
                if list.capacity() == 0 {
                    list.reserve_exact(1);
                }
                list.push(item);
            }
            Ok(list)
        }
    }
    deserializer.deserialize_seq(Few(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parses_as_from_slice_does() {
        let bytes = br#"{"a":"caf\u00e9 \u2603","b":[1,2.5,null],"c":"\u00fc"}"#;
        let ours: serde_json::Value = from_bytes(bytes).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn bytes_that_are_not_utf8_get_serde_jsons_own_error() {
        let bytes = b"{\"a\":\"\xff\"}";
        let ours = from_bytes::<serde_json::Value>(bytes).unwrap_err();
        let theirs = serde_json::from_slice::<serde_json::Value>(bytes).unwrap_err();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(ours.to_string().contains("column"), "{ours}");
    }

    #[test]
    fn few_reads_a_list_with_room_for_what_it_holds() {
        #[derive(Debug, Deserialize)]
        struct Lists {
            #[serde(default, deserialize_with = "few")]
            one: Vec<String>,
            #[serde(default, deserialize_with = "few")]
            many: Vec<u32>,
            #[serde(default, deserialize_with = "few")]
            none: Vec<u32>,
            #[serde(default, deserialize_with = "few")]
            absent: Vec<u32>,
        }
        let lists: Lists = from_bytes(br#"{"one":["a"],"many":[1,2,3,4,5,6],"none":[]}"#).unwrap();
        assert_eq!(lists.one, ["a"]);
        assert_eq!(lists.one.capacity(), 1, "serde's own reading gives four");
        assert_eq!(lists.many, [1, 2, 3, 4, 5, 6]);
        assert!(lists.none.is_empty() && lists.absent.is_empty());
        assert_eq!(lists.none.capacity(), 0);
        let wrong = from_bytes::<Lists>(br#"{"one":"a"}"#).unwrap_err();
        assert!(wrong.to_string().contains("expected a sequence"), "{wrong}");
    }

    #[test]
    fn borrowed_strings_borrow_from_the_input() {
        #[derive(Deserialize)]
        struct View<'a> {
            #[serde(borrow)]
            name: std::borrow::Cow<'a, str>,
        }
        let bytes = br#"{"name":"gemini"}"#;
        let view: View<'_> = from_bytes(bytes).unwrap();
        assert!(matches!(view.name, std::borrow::Cow::Borrowed("gemini")));
    }
}
