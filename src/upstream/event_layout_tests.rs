//! Events read by the layout of the one before against serde: the same value for each event
//! alone, and alike events read by their layout (else the fast path would silently never run).

use super::EventReader;
use crate::upstream::common_event::tests::{generated, Rng, COMMON};
use crate::upstream::common_event::{read_recording, Field};
use crate::upstream::wire::GenerateContentResponse;

fn serde(event: &[u8]) -> Option<GenerateContentResponse> {
    serde_json::from_slice(event).ok()
}

/// Reads `event` as a stream reads it and checks the value against serde's for it alone.
fn read_as_serde(reader: &mut EventReader, event: &[u8]) {
    let expected = serde(event);
    let read = reader.read_or_serde(event);
    let shown = String::from_utf8_lossy(event);
    assert_eq!(read.is_ok(), expected.is_some(), "{shown}");
    if let Some(expected) = expected {
        assert_eq!(reader.value(), &expected, "{shown}");
    }
}

/// `COMMON` with its text and counts replaced.
fn common(text: &str, candidates: &str, total: &str) -> String {
    COMMON
        .replace(r#""text":"Mo""#, &format!(r#""text":{text}"#))
        .replace(
            r#""candidatesTokenCount":1,"#,
            &format!(r#""candidatesTokenCount":{candidates},"#),
        )
        .replace(
            r#""totalTokenCount":29"#,
            &format!(r#""totalTokenCount":{total}"#),
        )
}

#[test]
fn alike_events_are_read_by_layout_as_each_alone() {
    let mut reader = EventReader::default();
    let stream = [
        common(r#""Mo""#, "1", "29"),
        common(r#""ck reply""#, "2", "30"),
        common(r#""""#, "3", "31"),
        common(
            r#""line\nbreak \"quoted\" \u00e9 \ud83d\ude00 中文""#,
            "40",
            "1000",
        ),
        common(r#""plain again""#, "18446744073709551615", "0"),
    ];
    for event in &stream {
        read_as_serde(&mut reader, event.as_bytes());
    }
    assert_eq!(reader.read_by_layout, stream.len() - 1);
}

#[test]
fn what_differs_outside_the_slots_or_in_their_kind_is_read_whole() {
    let base = common(r#""Mo""#, "1", "29");
    let differing = [
        // Another structure: a finish reason, a model version, a key's order, whitespace.
        base.replace(r#""index":0"#, r#""finishReason":"STOP","index":0"#),
        base.replace("gemini-3.8-flash", "gemini-3.9-flash"),
        base.replace(r#""role":"model""#, r#""role":"user""#),
        base.replace(r#","thoughtsTokenCount":27"#, ""),
        base.replace(r#""totalTokenCount":29}"#, r#""totalTokenCount":29 }"#),
        format!("{base}\n"),
        // A slot's value of another kind, or one the reader leaves to serde.
        base.replace(r#""text":"Mo""#, r#""text":7"#),
        base.replace(r#""text":"Mo""#, r#""text":null"#),
        base.replace(r#""text":"Mo""#, r#""text":"\x""#),
        base.replace(
            r#""candidatesTokenCount":1"#,
            r#""candidatesTokenCount":1.5"#,
        ),
        base.replace(
            r#""candidatesTokenCount":1"#,
            r#""candidatesTokenCount":01"#,
        ),
        base.replace(
            r#""candidatesTokenCount":1"#,
            r#""candidatesTokenCount":-1"#,
        ),
        base.replace(
            r#""candidatesTokenCount":1"#,
            r#""candidatesTokenCount":"1""#,
        ),
        base.replace(r#""index":0"#, r#""index":4294967296"#),
        base.replace(r#""tokenCount":1"#, r#""tokenCount":1e2"#),
        base.replace(r#""totalTokenCount":29"#, r#""totalTokenCount":29,"x":1"#),
    ];
    for event in &differing {
        let mut reader = EventReader::default();
        read_as_serde(&mut reader, base.as_bytes());
        read_as_serde(&mut reader, event.as_bytes());
        assert_eq!(reader.read_by_layout, 0, "{event}");
        // And the stream goes on: the base alike again.
        read_as_serde(&mut reader, common(r#""on""#, "2", "30").as_bytes());
    }
    // A text whose bytes are not UTF-8: serde refuses the event, and the next is read.
    let mut reader = EventReader::default();
    read_as_serde(&mut reader, base.as_bytes());
    let mut bad = base.clone().into_bytes();
    let at = base.find("Mo").unwrap();
    bad[at] = 0x80;
    read_as_serde(&mut reader, &bad);
    assert_eq!(reader.read_by_layout, 0);
    read_as_serde(&mut reader, common(r#""on""#, "2", "30").as_bytes());
}

#[test]
fn a_value_changed_by_its_reader_makes_the_next_event_read_whole() {
    let mut reader = EventReader::default();
    read_as_serde(&mut reader, common(r#""Mo""#, "1", "29").as_bytes());
    reader.value_mut().model_version = Some("changed".into());
    read_as_serde(&mut reader, common(r#""ck""#, "2", "30").as_bytes());
    assert_eq!(reader.read_by_layout, 0);
    read_as_serde(&mut reader, common(r#""ck""#, "3", "31").as_bytes());
    assert_eq!(reader.read_by_layout, 1);
}

/// A JSON token of the kind `field` holds, or now and then of another kind or one the reader
/// or serde refuses.
fn slot_value(rng: &mut Rng, field: Field) -> String {
    if rng.below(25) == 0 {
        return rng
            .pick(&[
                "null",
                "1.5",
                "01",
                "-1",
                "1e3",
                r#""9""#,
                "true",
                "{}",
                r#""\q""#,
                "",
                "18446744073709551616",
                "4294967296",
                r#""a"#,
                "\"\u{1}\"",
            ])
            .to_string();
    }
    match field {
        Field::Text { .. } => {
            let pieces = [
                "a", " ", "é", "中", "😀", "\"", "\\", "/", "\n", "\t", "}", "]",
            ];
            let text: String = (0..rng.below(10)).map(|_| rng.pick(&pieces)).collect();
            serde_json::to_string(&text).unwrap()
        }
        Field::Index { .. } => rng.below(3).to_string(),
        _ => (rng.next() >> rng.below(64)).to_string(),
    }
}

#[test]
fn generated_streams_of_alike_events_read_as_each_alone() {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let mut by_layout = 0;
    for _ in 0..400 {
        let base = generated(&mut rng);
        let (mut value, mut slots) = (GenerateContentResponse::default(), Vec::new());
        assert!(read_recording(&base, &mut value, &mut slots), "{base}");
        let mut reader = EventReader::default();
        read_as_serde(&mut reader, base.as_bytes());
        for i in 0..12 {
            // The base with each slot's value replaced; now and then a byte mangled, or
            // another generated event (a layout of its own).
            let mut event = Vec::new();
            let mut from = 0;
            for slot in &slots {
                event.extend_from_slice(&base.as_bytes()[from..slot.start]);
                event.extend_from_slice(slot_value(&mut rng, slot.field).as_bytes());
                from = slot.end;
            }
            event.extend_from_slice(&base.as_bytes()[from..]);
            if i % 5 == 4 {
                let at = rng.below(event.len());
                event[at] = *b"\"\\{}[],:09-. ue\x80".get(rng.below(17)).unwrap_or(&b' ');
            }
            if i == 7 {
                event = generated(&mut rng).into_bytes();
            }
            read_as_serde(&mut reader, &event);
        }
        by_layout += reader.read_by_layout;
    }
    assert!(
        by_layout > 400 * 12 / 4,
        "too few events were read by their layout: {by_layout}"
    );
}
