//! The event a stream writes most — one text delta per Gemini event — written as bytes: the
//! fixed parts of its JSON are literals, and only the text (and a number or two) is encoded.
//! serde writes the same bytes field by field, escaping every key and constant again for each
//! event (a chat chunk's id, object and model: ten strings an event); for a stream of short
//! deltas that was most of the translation. Each surface keeps its serde types for every other
//! event and as the reference: a test per surface holds the bytes equal to serde's.

/// `s` as a JSON string, escaped exactly as serde_json escapes it.
pub use crate::json::escape::push_str;

/// `n` as a JSON number.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    let _ = serde_json::to_writer(&mut *out, &n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            "plain",
            "quote \" and \\ slash /",
            "ctl \u{1} \n \t \u{7f}",
            "é ☃ 🦀",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        for n in [0, 7, 1_234_567, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
