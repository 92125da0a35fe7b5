//! JSON strings scanned and written eight bytes at a time. serde_json writes a string one byte
//! at a time (a table lookup and a branch per byte), which for the prompt and conversation text
//! of a translated request (some 20 KB a Claude Code turn) was a sixth of the request's cost.
//! Here the plain runs between escapes are found eight bytes at a time (serde_json's own test,
//! from its reader) and copied whole; the escapes written are serde_json's, byte for byte.

const ONES: u64 = 0x0101_0101_0101_0101;

/// Where the plain run of a JSON string starting at `at` ends: the first quote, backslash or
/// control character; `bytes.len()` if none.
pub fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = bytes
        .get(at..at + 8)
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
    {
        let v = u64::from_le_bytes(chunk);
        let control = v.wrapping_sub(ONES * 0x20);
        let quote = (v ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
        let backslash = (v ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
        let found = (control | quote | backslash) & !v & (ONES << 7);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

/// `s` as a JSON string (quotes included), escaped exactly as serde_json escapes it: `\"`,
/// `\\`, the five short control escapes and `\u00xx` (lower-case hex) for the other control
/// characters; everything else, DEL and non-ASCII included, as it is.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let end = plain_run_end(bytes, start);
        out.extend_from_slice(&bytes[start..end]);
        let Some(&b) = bytes.get(end) else {
            break;
        };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = end + 1;
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    #[test]
    fn every_character_that_matters_is_written_as_serde_json_writes_it() {
        for b in 0u8..=0x7f {
            let one = char::from(b).to_string();
            for s in [
                one.clone(),
                format!("abcdefgh{one}ijklmnop"),
                format!("{one}{one}"),
            ] {
                let mut out = Vec::new();
                push_str(&mut out, &s);
                assert_eq!(out, serde(&s), "{s:?}");
            }
        }
        for s in [
            "",
            "é ☃ 🦀 \u{2028}",
            "\u{7f}\u{80}\u{ff}",
            "tab\tend\n",
            "12345678\"",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde(s), "{s:?}");
        }
    }

    #[test]
    fn generated_strings_are_written_as_serde_json_writes_them() {
        const PIECES: [&str; 12] = [
            "a",
            "plain text ",
            "\"",
            "\\",
            "\n",
            "\r\n",
            "\t",
            "\u{1}",
            "\u{1f}",
            "é",
            "🦀",
            "\u{7f}",
        ];
        let mut seed = 11u64;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 58) as usize;
            let s: String = (0..len)
                .map(|i| PIECES[((seed >> (i % 50)) as usize + i * 7) % PIECES.len()])
                .collect();
            let mut out = b"prefix".to_vec();
            push_str(&mut out, &s);
            assert_eq!(&out[6..], serde(&s), "{s:?}");
        }
    }

    #[test]
    fn a_run_ends_at_the_first_byte_a_string_must_escape() {
        for at in 0..20 {
            for b in [b'"', b'\\', 0u8, 0x1f] {
                let mut bytes = vec![b'x'; 20];
                bytes[at] = b;
                assert_eq!(plain_run_end(&bytes, 0), at);
            }
            let mut high = vec![0x80u8; 20];
            high[at] = 0x7f;
            assert_eq!(plain_run_end(&high, 0), 20);
        }
    }
}
