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
//! Lists nobody reads are passed over by [`Skipped`], which allocates nothing. Strings are
//! scanned and written eight bytes at a time by [`escape`]; a tool's text output is kept as the
//! client's JSON literal by [`literal`], and written as it came.

pub mod escape;
pub mod literal;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// A role as a word that needs no allocation when it is one of Gemini's (`user`, `model`), for
/// `#[serde(deserialize_with = "crate::json::known_word")]` on an optional role.
pub fn known_word<'de, D>(deserializer: D) -> Result<Option<Cow<'static, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Word(Cow<'static, str>);
    impl<'de> Deserialize<'de> for Word {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Word, D::Error> {
            deserializer.deserialize_str(WordVisitor)
        }
    }
    struct WordVisitor;
    impl Visitor<'_> for WordVisitor {
        type Value = Word;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E>(self, word: &str) -> Result<Word, E> {
            Ok(Word(match word {
                "model" => Cow::Borrowed("model"),
                "user" => Cow::Borrowed("user"),
                _ => Cow::Owned(word.to_owned()),
            }))
        }
    }
    Ok(Option::<Word>::deserialize(deserializer)?.map(|w| w.0))
}

/// A value read past and not kept, its items one at a time. serde_json skips a value nested
/// two deep (a list of objects, like a usage's `promptTokensDetails` on every streamed event) by
/// stacking its brackets in a buffer each parse allocates anew; skipping the list's items one by
/// one stacks nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Skipped, D::Error> {
        deserializer.deserialize_any(SkipItems)
    }
}

struct SkipItems;

impl<'de> Visitor<'de> for SkipItems {
    type Value = Skipped;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_unit<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_none<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Skipped)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Skipped)
    }
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
    fn skipped_passes_any_value_as_serde_skips_it() {
        #[derive(Debug, Deserialize)]
        struct Around {
            #[serde(default)]
            skipped: Skipped,
            after: u8,
        }
        let values = [
            r#"[{"modality":"TEXT","tokenCount":1},{"a":[[{}]]}]"#,
            r#"{"a":{"b":[1,"x\"y",null,true,-2.5e3]}}"#,
            "null",
            "\"text\"",
            "-7",
        ];
        for v in values {
            let body = format!(r#"{{"skipped":{v},"after":9}}"#);
            let read: Around = serde_json::from_str(&body).unwrap();
            assert_eq!((read.skipped, read.after), (Skipped, 9), "{body}");
        }
        let broken = serde_json::from_str::<Around>(r#"{"skipped":[1,}],"after":9}"#);
        assert!(broken.is_err());
    }

    #[test]
    fn known_words_are_borrowed_and_others_kept() {
        #[derive(Debug, Deserialize)]
        struct Turn {
            #[serde(default, deserialize_with = "known_word")]
            role: Option<Cow<'static, str>>,
        }
        let role = |body: &str| serde_json::from_str::<Turn>(body).unwrap().role;
        assert!(matches!(
            role(r#"{"role":"model"}"#),
            Some(Cow::Borrowed("model"))
        ));
        assert!(matches!(
            role(r#"{"role":"us\u0065r"}"#),
            Some(Cow::Borrowed("user"))
        ));
        assert!(matches!(role(r#"{"role":"tool"}"#), Some(Cow::Owned(w)) if w == "tool"));
        assert_eq!(role(r#"{"role":null}"#), None);
        assert_eq!(role("{}"), None);
        assert!(serde_json::from_str::<Turn>(r#"{"role":7}"#).is_err());
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
