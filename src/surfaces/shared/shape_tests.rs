//! The body scan: nesting counted as a byte-by-byte reader counts it, and a top-level member's
//! span exactly what serde_json captures as that member's raw value.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::*;

fn deeper(body: &[u8], max: usize) -> bool {
    scan(body, max, b"", |_| None).too_deep
}

#[test]
fn nesting_is_counted_outside_strings_only() {
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    assert!(deeper(deep.as_bytes(), 64));
    let ok = format!("{{\"a\":{}{}}}", "[".repeat(63), "]".repeat(63));
    assert!(!deeper(ok.as_bytes(), 64));
    let quoted = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(100), "{".repeat(100));
    assert!(!deeper(quoted.as_bytes(), 64));
    assert!(!deeper(b"{\"a\":\"unterminated \\", 64));
    assert!(!deeper(b"", 64));
}

/// The depth of `body` by a plain state machine, one byte at a time; `None` for a string
/// left open.
fn depth_byte_by_byte(body: &[u8]) -> Option<usize> {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in body {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            (false, _, _) => {}
        }
    }
    (!in_string).then_some(deepest)
}

#[test]
fn strings_are_skipped_as_a_byte_by_byte_reader_skips_them() {
    // Every body of up to seven bytes over the bytes that matter, against a limit of 1.
    let alphabet = *b"a\\\"[]{}";
    for len in 0..=7u32 {
        for n in 0..alphabet.len().pow(len) {
            let mut rest = n;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    let b = alphabet[rest % alphabet.len()];
                    rest /= alphabet.len();
                    b
                })
                .collect();
            let expected = depth_byte_by_byte(&body).is_some_and(|d| d > 1);
            let prefix_deeper =
                (0..body.len()).any(|end| depth_byte_by_byte(&body[..end]).is_some_and(|d| d > 1));
            assert_eq!(
                deeper(&body, 1),
                expected || prefix_deeper,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

/// The span serde_json captures for the root's `key`, when that value is an array or object.
fn serde_span(body: &str, key: &str) -> Option<Range<usize>> {
    let members: BTreeMap<String, &RawValue> = serde_json::from_str(body).ok()?;
    let raw = members.get(key)?.get();
    if !raw.starts_with(['[', '{']) {
        return None;
    }
    let start = raw.as_ptr() as usize - body.as_ptr() as usize;
    Some(start..start + raw.len())
}

fn tools(body: &str) -> Option<Range<usize>> {
    scan(body.as_bytes(), 64, b"tools", |_| None).member
}

#[test]
fn the_member_is_the_root_objects_own_key_and_an_array_or_object() {
    let body = r#"{"model":"m","tools":[{"name":"a","input_schema":{"type":"object"}}],"x":1}"#;
    let span = tools(body).unwrap();
    assert_eq!(
        &body[span],
        r#"[{"name":"a","input_schema":{"type":"object"}}]"#
    );
    let spaced = "{ \"tools\" \r\n:\t { \"a\": [\"]\"] } , \"b\": 2 }";
    assert_eq!(&spaced[tools(spaced).unwrap()], r#"{ "a": ["]"] }"#);
    for none in [
        r#"{"a":{"tools":[1]}}"#,
        r#"{"a":"tools","b":[1]}"#,
        r#"{"a":["tools",[1]]}"#,
        r#"{"tool\u0073":[1]}"#,
        r#"{"tools":null}"#,
        r#"{"tools":"[1]"}"#,
        r#"{"tools":[1"#,
        r#"{"tools":["]}"#,
        r#"{"toolsx":[1],"xtools":[2]}"#,
        r#"{"tools""#,
        "",
    ] {
        assert_eq!(tools(none), None, "{none}");
    }
    let twice = r#"{"tools":[1],"tools":[2]}"#;
    assert_eq!(&twice[tools(twice).unwrap()], "[1]");
    assert_eq!(scan(br#"{"tools":[1]}"#, 64, b"", |_| None).member, None);
}

#[test]
fn a_known_member_text_is_stepped_over_unread_and_what_follows_is_scanned() {
    // Deeper than the limit: were it read, the body would be too deep.
    let known = format!("[{}{}]", "[".repeat(70), "]".repeat(70));
    let knows = |value: &[u8]| value.starts_with(known.as_bytes()).then_some(known.len());
    let body = format!(r#"{{"a":[1],"tools":{known},"b":[2]}}"#);
    let mut shown = Vec::new();
    let shape = scan(body.as_bytes(), 64, b"tools", |value| {
        shown.push(value.len());
        knows(value)
    });
    assert!(!shape.too_deep);
    assert_eq!(&body[shape.member.unwrap()], known);
    // Shown once, from where the member's value opens.
    assert_eq!(shown, [body.len() - body.find(&known).unwrap()]);
    let deep_after = format!(
        r#"{{"tools":{known},"b":{}{}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    assert!(scan(deep_after.as_bytes(), 64, b"tools", knows).too_deep);
    // A value that does not begin with the text is read as any other.
    let other = body.replace(&known, "[[1],[2]]");
    let shape = scan(other.as_bytes(), 64, b"tools", knows);
    assert_eq!(&other[shape.member.unwrap()], "[[1],[2]]");
}

#[test]
fn a_body_too_deep_says_so_whatever_member_was_found() {
    let body = format!(
        r#"{{"tools":[1],"a":{}{}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    let shape = scan(body.as_bytes(), 64, b"tools", |_| None);
    assert!(shape.too_deep);
}

/// A value of the alphabet's awkward pieces, `depth` levels at most.
fn value(seed: &mut u64, depth: u32) -> Value {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let pick = (*seed >> 33) % if depth == 0 { 4 } else { 6 };
    const WORDS: [&str; 6] = ["tools", "]}", "\\\"[", "{\"tools\":[", "", "\u{2028}é\n"];
    match pick {
        0 => Value::from(WORDS[(*seed >> 40) as usize % WORDS.len()]),
        1 => Value::from((*seed >> 20) as i64 - (1 << 40)),
        2 => Value::Null,
        3 => Value::Bool(*seed & 1 == 1),
        4 => Value::Array(
            (0..(*seed >> 50) % 4)
                .map(|_| value(seed, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..(*seed >> 50) % 4)
                .map(|i| {
                    (
                        format!("{}{i}", WORDS[i as usize % 3]),
                        value(seed, depth - 1),
                    )
                })
                .collect(),
        ),
    }
}

#[test]
fn generated_bodies_give_the_span_serde_captures() {
    let mut seed = 7u64;
    let mut found = 0;
    for n in 0..3_000 {
        let mut root = serde_json::Map::new();
        for i in 0..(n % 4) {
            root.insert(format!("k{i}"), value(&mut seed, 3));
        }
        if n % 5 != 0 {
            root.insert("tools".into(), value(&mut seed, 4));
        }
        let body = if n % 2 == 0 {
            serde_json::to_string(&root).unwrap()
        } else {
            serde_json::to_string_pretty(&root).unwrap()
        };
        let got = tools(&body);
        assert_eq!(got, serde_span(&body, "tools"), "{body}");
        found += usize::from(got.is_some());
    }
    assert!(found > 600, "{found}");
}

/// The long strings noted: the string values of the named member at the asked depth, as long
/// as asked, spanning exactly what serde_json captures as the value (quotes included), none
/// inside the member whose span the scan finds.
#[test]
fn long_strings_are_the_named_members_string_values_at_their_depth() {
    let long = LongStrings {
        depth: 3,
        key: b"content",
        min_len: 8,
    };
    let noted = |body: &str| -> Vec<String> {
        scan_noting(body.as_bytes(), 64, b"tools", Some(long), |_| None)
            .long_strings
            .into_iter()
            .map(|span| body[span].to_owned())
            .collect()
    };
    let body = r#"{"m":[{"content":"a \"quoted\" \\ text","x":1},{"content" :	"short"},
        {"content":["not a string, \"content\":\"inside an array\""]},{"other":"a long other value"},
        {"y":{"content":"one level too deep"}},{"content":"the second long one"}],
        "content":"at the root, not noted","tools":[{"content":"in the tools, same depth"}]}"#;
    assert_eq!(
        noted(body),
        [r#""a \"quoted\" \\ text""#, r#""the second long one""#,]
    );
    let root: BTreeMap<String, &RawValue> = serde_json::from_str(body).unwrap();
    let blocks: Vec<BTreeMap<String, &RawValue>> = serde_json::from_str(root["m"].get()).unwrap();
    assert_eq!(blocks[0]["content"].get(), noted(body)[0]);
    assert_eq!(blocks[5]["content"].get(), noted(body)[1]);
    let without_tools = scan_noting(body.as_bytes(), 64, b"", Some(long), |_| None);
    assert_eq!(without_tools.long_strings.len(), 3);
    // The tools' span is found as before (a string inside it is theirs), and a string left
    // open ends the scan.
    let shape = scan_noting(body.as_bytes(), 64, b"tools", Some(long), |_| None);
    assert_eq!(
        &body[shape.member.unwrap()],
        r#"[{"content":"in the tools, same depth"}]"#
    );
    assert!(noted(r#"{"m":[{"content":"never closed \"#).is_empty());
    assert!(scan(body.as_bytes(), 64, b"tools", |_| None)
        .long_strings
        .is_empty());
}
