//! The reader against serde: the same value for every event it reads, and every event of the
//! common shape read (else the fast path would silently never run).

use super::{read, read_bytes};
use crate::upstream::event_layout::EventReader;
use crate::upstream::wire::GenerateContentResponse;

fn serde(event: &str) -> Option<GenerateContentResponse> {
    serde_json::from_str(event).ok()
}

/// What Gemini streams (the floor's event, as the bench sends it).
pub(crate) const COMMON: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Mo"}],"role":"model"},"index":0}],"modelVersion":"gemini-3.8-flash","responseId":"bsMbVFv0MnrBmY_t4OZ3pf","usageMetadata":{"candidatesTokenCount":1,"promptTokenCount":1,"promptTokensDetails":[{"modality":"TEXT","tokenCount":1}],"thoughtsTokenCount":27,"totalTokenCount":29}}"#;

#[test]
fn the_common_event_reads_as_serde_reads_it() {
    let read = read(COMMON).expect("the common shape is read");
    assert_eq!(Some(read.clone()), serde(COMMON));
    assert_eq!(
        read.candidates[0].content.as_ref().unwrap().parts[0]
            .text
            .as_deref(),
        Some("Mo")
    );
    assert_eq!(read.usage_metadata.unwrap().total_token_count, Some(29));
}

#[test]
fn the_last_event_thoughts_and_whitespace_read_as_serde_reads_them() {
    for event in [
        r#"{"candidates":[{"content":{"parts":[{"text":"."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":20,"totalTokenCount":28,"cachedContentTokenCount":4,"cacheTokensDetails":[{"modality":"TEXT","tokenCount":4}],"candidatesTokensDetails":[]},"modelVersion":"gemini-3.1-pro-preview","responseId":"x"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"Thinking about it","thought":true},{"text":"","thoughtSignature":"c2lnbmF0dXJl"}],"role":"model"},"index":0}]}"#,
        " {\r\n \"candidates\" : [ { \"content\" : { \"role\" : \"user\" , \"parts\" : [ ] } , \"finishMessage\" : \"m\" } ] , \"modelVersion\" : \"v\" }\n",
        r#"{"candidates":[],"usageMetadata":{}}"#,
        r#"{}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"a"}],"role":"critic"}},{"index":1}]}"#,
        r#"{"usageMetadata":{"toolUsePromptTokenCount":18446744073709551615,"toolUsePromptTokensDetails":[{"modality":"AUDIO","tokenCount":0,"other":"x"}]}}"#,
    ] {
        let read = read(event);
        assert!(read.is_some(), "not read: {event}");
        assert_eq!(read, serde(event), "{event}");
    }
}

#[test]
fn escapes_decode_as_serde_decodes_them() {
    for text in [
        r#"line\nbreak\ttab\rret\"quote\\slash\/solidus\b\f"#,
        r#"\u00e9t\u00E9 \u4e2d\u6587 \ud83d\ude00 emoji"#,
        r#"plain é 中文 😀 then \n"#,
        r#"\\"#,
        r#"\u0000 nul"#,
    ] {
        let event =
            format!(r#"{{"candidates":[{{"content":{{"parts":[{{"text":"{text}"}}]}}}}]}}"#);
        let read = read(&event);
        assert!(read.is_some(), "not read: {event}");
        assert_eq!(read, serde(&event), "{event}");
    }
}

#[test]
fn what_serde_would_refuse_or_read_otherwise_is_left_to_serde() {
    for event in [
        // Other fields, nulls and other types.
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#,
        r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
        r#"{"error":{"code":500,"message":"m","status":"INTERNAL"}}"#,
        r#"{"candidates":[{"finishReason":null}]}"#,
        r#"{"candidates":[{"index":-1}]}"#,
        r#"{"candidates":[{"index":1.0}]}"#,
        r#"{"candidates":[{"index":4294967296}]}"#,
        r#"{"usageMetadata":{"totalTokenCount":18446744073709551616}}"#,
        r#"{"usageMetadata":{"totalTokenCount":01}}"#,
        r#"{"usageMetadata":{"totalTokenCount":1e3}}"#,
        r#"{"candidates":[{"content":{"parts":[{"thought":"yes"}]}}]}"#,
        // Keys twice (serde refuses a duplicate field).
        r#"{"candidates":[],"candidates":[]}"#,
        r#"{"modelVersion":"a","modelVersion":"b"}"#,
        r#"{"usageMetadata":{"totalTokenCount":1,"totalTokenCount":2}}"#,
        r#"{"usageMetadata":{"promptTokensDetails":[],"promptTokensDetails":[]}}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"a","text":"b"}]}}]}"#,
        // Strings JSON does not allow, or that are not characters.
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\u{1}b\"}]}}]}",
        r#"{"candidates":[{"content":{"parts":[{"text":"\ud83d alone"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"\ude00 alone"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"\ud83d\u0041"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"\x"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"\u12"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":5}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"unterminated}]}}]}"#,
        // A key written with an escape, or run into the next.
        r#"{"candidates":[{"content":{"parts":[{"t\u0065xt":"a"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text"thought":true}]}}]}"#,
        // Not one whole object.
        r#"{"candidates":[]}{}"#,
        r#"{"candidates":[],}"#,
        r#"{"candidates":[1,]}"#,
        r#"[]"#,
        "",
    ] {
        assert_eq!(read(event), None, "{event}");
    }
}

/// A small deterministic generator (xorshift), so a failure names its seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// An event of the common shape, its members in a random order, its text awkward.
pub(crate) fn generated(rng: &mut Rng) -> String {
    let pieces = [
        "a", " ", "é", "中", "😀", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{7f}", "}", "]",
    ];
    let text: String = (0..rng.below(12)).map(|_| rng.pick(&pieces)).collect();
    let text = serde_json::to_string(&text).unwrap();
    let text = if rng.below(3) == 0 {
        // Escaped as some other writer would: every non-ASCII character as `\u` escapes.
        text.chars()
            .map(|c| match c {
                c if c.is_ascii() => c.to_string(),
                c => c
                    .encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect(),
            })
            .collect()
    } else {
        text
    };
    let ws = |rng: &mut Rng| rng.pick(&["", "", " ", "\n", " \r\n\t"]).to_string();
    // One part mostly, as Gemini streams; sometimes two or three, or one with a signature
    // only: events read one after another into one value must not keep a part or a text.
    let parts: Vec<String> = (0..[1, 1, 1, 2, 3][rng.below(5)])
        .map(|i| {
            let mut part = Vec::new();
            if i > 0 || rng.below(6) != 0 {
                part.push(format!(r#""text":{}{text}"#, ws(rng)));
            }
            if rng.below(4) == 0 {
                part.push(r#""thought":true"#.into());
            }
            if part.is_empty() || rng.below(8) == 0 {
                part.push(r#""thoughtSignature":"c2lnbmVk""#.into());
            }
            format!("{{{}}}", part.join(","))
        })
        .collect();
    let mut usage = vec![
        format!(r#""promptTokenCount":{}"#, rng.below(100_000)),
        format!(r#""totalTokenCount":{}"#, rng.below(10)),
        r#""promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]"#.into(),
    ];
    let mut candidate = vec![
        format!(
            r#""content":{{"parts":[{}],"role":"model"}}"#,
            parts.join(",")
        ),
        r#""index":0"#.into(),
    ];
    if rng.below(4) == 0 {
        candidate.push(r#""finishReason":"STOP""#.into());
    }
    if rng.below(12) == 0 {
        candidate.push(r#""finishMessage":"done""#.into());
    }
    for i in (1..candidate.len()).rev() {
        candidate.swap(i, rng.below(i + 1));
    }
    let candidates = match rng.below(8) {
        0 => String::new(),
        1 => format!(r#"{{{}}},{{"index":1}}"#, candidate.join(",")),
        _ => format!("{{{}}}", candidate.join(",")),
    };
    let mut top = vec![
        format!(r#""candidates":[{candidates}]"#),
        r#""modelVersion":"gemini-3.8-flash""#.into(),
        r#""responseId":"abc""#.into(),
    ];
    for list in [&mut usage, &mut top] {
        for i in (1..list.len()).rev() {
            list.swap(i, rng.below(i + 1));
        }
    }
    top.push(format!(
        r#""usageMetadata":{{{}}}"#,
        usage.join(&format!(",{}", ws(rng)))
    ));
    format!(
        "{}{{{}}}{}",
        ws(rng),
        top.join(&format!("{},", ws(rng))),
        ws(rng)
    )
}

#[test]
fn generated_events_read_as_serde_reads_them() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5_000 {
        let event = generated(&mut rng);
        let expected = serde(&event);
        assert!(
            expected.is_some(),
            "serde reads every generated event: {event}"
        );
        assert_eq!(read(&event), expected, "{event}");
    }
}

#[test]
fn mangled_events_are_read_only_when_serde_reads_them_alike() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let bytes = [
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'9', b'-', b'.', b' ', b'u', b'e',
    ];
    let mut read_some = 0;
    for _ in 0..20_000 {
        let mut event = generated(&mut rng).into_bytes();
        for _ in 0..=rng.below(2) {
            let at = rng.below(event.len());
            match rng.below(3) {
                0 => {
                    event.remove(at);
                }
                1 => event.insert(at, bytes[rng.below(bytes.len())]),
                _ => event[at] = bytes[rng.below(bytes.len())],
            }
        }
        let Ok(event) = String::from_utf8(event) else {
            continue;
        };
        if let Some(read) = read(&event) {
            read_some += 1;
            assert_eq!(Some(read), serde(&event), "{event}");
        }
    }
    assert!(
        read_some > 1_000,
        "the mangling left too few readable events: {read_some}"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_left_to_serde_in_every_string() {
    let good = COMMON.replace(r#""Mo""#, r#""Mö 日本""#);
    let read = read_bytes(good.as_bytes()).expect("UTF-8 text is read");
    assert_eq!(Some(read), serde(&good));
    // A lone continuation byte, a cut sequence and an overlong one, in each kind of string.
    for bad in [&[0x80][..], &[0xE6, 0x97], &[0xC0, 0xAF]] {
        for (at, what) in [
            ("Mo", "the text"),
            ("gemini-3.8-flash", "the model version"),
            ("bsMbVFv0MnrBmY_t4OZ3pf", "an id, read past"),
            ("TEXT", "a modality, read past"),
        ] {
            let start = COMMON.find(at).expect(what);
            let mut event = COMMON.as_bytes().to_vec();
            event.splice(start..start + 1, bad.iter().copied());
            assert_eq!(read_bytes(&event), None, "{what}");
            // serde refuses what it reads, and reads past what it skips unchecked.
            let serde = serde_json::from_slice::<GenerateContentResponse>(&event).ok();
            assert_eq!(serde.is_none(), what.starts_with("the "), "{what}");
            // Read in a stream, after an event whose layout it shares.
            let mut events = EventReader::default();
            assert!(events.read(COMMON.as_bytes()));
            assert_eq!(events.read_or_serde(&event).is_ok(), serde.is_some());
            if let Some(serde) = serde {
                assert_eq!(events.value(), &serde);
            }
        }
    }
}

#[test]
fn events_read_one_after_another_into_one_value_read_as_each_alone() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut events = EventReader::default();
    // serde's alone: fields the reader never sets, which the next event must not keep.
    let odd = r#"{"promptFeedback":{"blockReason":"SAFETY"},"modelVersion":"gemini-3.8-flash","error":{"code":400,"message":"x"}}"#;
    let mut read_odd = 0;
    for i in 0..3_000 {
        let mut event = if i % 5 == 0 {
            odd.to_string()
        } else {
            generated(&mut rng)
        };
        if i % 7 == 0 {
            let mut at = rng.below(event.len());
            while !event.is_char_boundary(at) {
                at -= 1;
            }
            event.insert(at, '"');
        }
        let expected = serde(&event);
        let got = events.read_or_serde(event.as_bytes());
        assert_eq!(got.is_ok(), expected.is_some(), "{event}");
        if let Some(expected) = expected {
            read_odd += usize::from(expected.error.is_some());
            assert_eq!(events.value(), &expected, "{event}");
        }
    }
    assert!(read_odd > 100, "the odd event was read {read_odd} times");
}

/// serde's `usageMetadata` at the start of `text` (whatever follows it unread), as `usage_of`
/// reads it.
fn serde_usage(text: &str) -> Option<crate::upstream::wire::UsageMetadata> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter();
    values.next()?.ok()
}

/// The `usageMetadata` value of a generated event, and what followed it.
fn usage_and_after(event: &str) -> Option<&str> {
    let key = "\"usageMetadata\":";
    event.find(key).map(|at| &event[at + key.len()..])
}

#[test]
fn usage_objects_read_as_serde_reads_them_whatever_follows() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut read_some = 0;
    for _ in 0..5_000 {
        let event = generated(&mut rng);
        let Some(usage) = usage_and_after(&event) else {
            continue;
        };
        let expected = serde_usage(usage);
        assert!(
            expected.is_some(),
            "serde reads every generated usage: {usage}"
        );
        let read = super::read_usage(usage);
        assert_eq!(read, expected, "{usage}");
        read_some += 1;
    }
    assert!(read_some > 1_000, "too few events had a usage: {read_some}");
}

#[test]
fn mangled_usage_objects_are_read_only_when_serde_reads_them_alike() {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let bytes = [
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'9', b'-', b' ',
    ];
    let mut read_some = 0;
    for _ in 0..20_000 {
        let event = generated(&mut rng);
        let Some(usage) = usage_and_after(&event) else {
            continue;
        };
        let mut usage = usage.as_bytes().to_vec();
        let at = rng.below(usage.len());
        match rng.below(3) {
            0 => {
                usage.remove(at);
            }
            1 => usage.insert(at, bytes[rng.below(bytes.len())]),
            _ => usage[at] = bytes[rng.below(bytes.len())],
        }
        let Ok(usage) = String::from_utf8(usage) else {
            continue;
        };
        if let Some(read) = super::read_usage(&usage) {
            read_some += 1;
            assert_eq!(Some(read), serde_usage(&usage), "{usage}");
        }
    }
    assert!(
        read_some > 1_000,
        "the mangling left too few readable usages: {read_some}"
    );
}

#[test]
fn a_whole_answer_reads_as_serde_reads_it_pretty_printed_or_not() {
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(COMMON).unwrap())
            .unwrap();
    for answer in [COMMON, pretty.as_str()] {
        let read = super::answer_from_bytes(answer.as_bytes()).unwrap();
        assert_eq!(Some(read), serde(answer));
        assert!(
            super::read(answer).is_some(),
            "the reader takes it: {answer}"
        );
    }
    // A field the reader does not know: serde's answer, not a refusal.
    let other = COMMON.replacen("{\"candidates\"", "{\"modelStatus\":{},\"candidates\"", 1);
    assert!(super::read(&other).is_none());
    assert_eq!(
        super::answer_from_bytes(other.as_bytes()).ok(),
        serde(&other)
    );
    assert!(super::answer_from_bytes(b"{\"candidates\": 3}").is_err());
}
