use super::*;

/// What serde_json makes of `literal` as a `String`, and what it makes of it as a
/// [`JsonString`]: the same verdict and the same text, the literal kept byte for byte.
fn agrees(literal: &str) {
    let as_string = serde_json::from_str::<String>(literal);
    let as_literal = serde_json::from_str::<JsonString>(literal);
    match (&as_string, &as_literal) {
        (Ok(text), Ok(kept)) => {
            assert_eq!(kept.plain(), text.as_str(), "{literal}");
            assert_eq!(kept.literal(), literal.trim().as_bytes());
            assert_eq!(kept.is_empty(), text.is_empty());
        }
        (Err(_), Err(_)) => {}
        _ => panic!("{literal}: String {as_string:?}, JsonString {as_literal:?}"),
    }
}

/// [`agrees`], and `literal` is read as a [`JsonString`] when `reads`, refused when not.
fn agrees_and_reads(literal: &str, reads: bool) {
    agrees(literal);
    assert_eq!(
        serde_json::from_str::<JsonString>(literal).is_ok(),
        reads,
        "{literal}"
    );
}

#[test]
fn a_literal_is_kept_as_written_and_reads_as_serde_reads_it() {
    for literal in [
        r#""""#,
        r#""plain text""#,
        r#""two\nlines, \"quoted\", a \\ backslash and a \/ slash""#,
        r#""\u00e9t\u00E9 \u2014 written as Python writes non-ASCII""#,
        r#""é — as written""#,
        r#""an emoji \ud83d\ude00 as a pair""#,
        r#""\b\f\r\t\u0000\u001f""#,
        r#""\\ud800 is an escaped backslash, then text""#,
        r#""\\\ud83d\ude00 a backslash, then a pair""#,
    ] {
        agrees_and_reads(literal, true);
    }
}

#[test]
fn what_serde_refuses_as_a_string_is_refused() {
    for literal in [
        r#""a lone leading surrogate \ud83d then text""#,
        r#""a lone leading surrogate at the end \uD83D""#,
        r#""a lone trailing surrogate \ude00""#,
        r#""two leading surrogates \ud83d\ud83d""#,
        r#""\\\ud800 a backslash, then a lone surrogate""#,
        "\"a raw control character \u{1}\"",
        "\"a raw new line \n\"",
        r#""an unknown escape \x41""#,
        r#""a short escape \u12""#,
        r#""unterminated"#,
    ] {
        agrees_and_reads(literal, false);
    }
}

#[test]
fn other_kinds_of_value_are_named_in_the_refusal() {
    for (json, kind) in [
        ("[1]", "a sequence"),
        (r#"{"a":1}"#, "a map"),
        ("true", "a boolean"),
        ("null", "null"),
        ("12.5", "a number"),
    ] {
        let e = serde_json::from_str::<JsonString>(json)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("invalid type: {kind}, expected a string")),
            "{e}"
        );
    }
}

/// `count` literals of up to seven pieces each: escapes, surrogates (paired, lone, after
/// backslashes), controls and text; `more` pieces besides.
fn generated(count: usize, more: &[&'static str]) -> Vec<String> {
    const PIECES: &[&str] = &[
        "a",
        "é",
        "—",
        "\\n",
        "\\\"",
        "\\\\",
        "\\/",
        "\\u00e9",
        "\\u2014",
        "\\ud83d",
        "\\ude00",
        "\\uD83D\\uDE00",
        "\\u0041",
        "\\",
        "u",
        "d83d",
        "\u{1}",
        "\\x",
        " ",
    ];
    let pieces: Vec<&str> = PIECES.iter().chain(more).copied().collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..count)
        .map(|_| {
            let len = next(8);
            let inner: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            format!("\"{inner}\"")
        })
        .collect()
}

#[test]
fn generated_literals_read_as_serde_reads_them() {
    for literal in generated(20_000, &[]) {
        agrees(&literal);
    }
}

/// A literal cut out of a body is checked on its own: exactly what serde_json reads as a
/// `String` passes, quotes left unescaped and DEL among the rest.
#[test]
fn a_cut_literal_is_checked_as_serde_checks_a_string() {
    let mut literals = generated(40_000, &["\"", "\u{7f}", "\u{1f}", "\\U0041"]);
    literals.extend([
        "\"".into(),
        "".into(),
        "x".into(),
        "\"open".into(),
        "\"\\\"".into(),
    ]);
    for literal in literals {
        assert_eq!(
            check_cut(literal.as_bytes()).is_ok(),
            serde_json::from_str::<String>(&literal).is_ok(),
            "{literal}"
        );
    }
    let mut not_utf8 = br#""abc""#.to_vec();
    not_utf8[2] = 0xff;
    assert!(check_cut(&not_utf8).is_err());
    let long = format!("\"{}\u{1}{}\"", "a".repeat(200), "b".repeat(3));
    assert!(check_cut(long.as_bytes()).is_err());
}

#[test]
fn a_plain_text_is_escaped_as_serde_escapes_it_and_compares_by_its_text() {
    let text = "line\n\"quoted\" \\ é \u{1}";
    let kept = JsonString::from_plain(text);
    assert_eq!(
        kept.literal(),
        serde_json::to_string(text).unwrap().as_bytes()
    );
    assert_eq!(kept.plain(), text);
    let same: JsonString = serde_json::from_str(r#""line\n\"quoted\" \\ \u00e9 \u0001""#).unwrap();
    assert_eq!(kept, same);
    assert_ne!(kept, JsonString::from_plain("line"));
    // serde writes the literal as it is, and other serializers the text.
    assert_eq!(
        serde_json::to_string(&same).unwrap(),
        r#""line\n\"quoted\" \\ \u00e9 \u0001""#
    );
    assert_eq!(
        serde_json::to_value(&same).unwrap(),
        serde_json::json!(text)
    );
}

#[test]
fn a_literal_read_while_sharing_a_body_is_a_slice_of_it_and_otherwise_a_copy() {
    #[derive(serde::Deserialize)]
    struct Answer {
        output: JsonString,
        also: Vec<JsonString>,
    }
    let body = bytes::Bytes::from(r#"{"output":"line\none é","also":["\u00e9","x"]}"#);
    let within = |kept: &JsonString| body.as_ptr_range().contains(&kept.literal().as_ptr());
    let shared: Answer = sharing(&body, || serde_json::from_slice(&body)).unwrap();
    assert_eq!(shared.output.literal(), r#""line\none é""#.as_bytes());
    assert_eq!(shared.output.plain(), "line\none é");
    assert_eq!(shared.also[0].plain(), "é");
    assert!(within(&shared.output) && shared.also.iter().all(within));
    // Another body (a copy of this one), or none: the literals are copies.
    let other = bytes::Bytes::copy_from_slice(&body);
    let copied: Answer = sharing(&other, || serde_json::from_slice(&body)).unwrap();
    let alone: Answer = serde_json::from_slice(&body).unwrap();
    for answer in [&copied, &alone] {
        assert!(!within(&answer.output) && !answer.also.iter().any(within));
        assert_eq!(answer.output, shared.output);
    }
    // The body is no longer shared once `sharing` returns, even when its reading failed.
    let failed = sharing(&body, || serde_json::from_str::<Answer>("{")).is_err();
    let after: Answer = serde_json::from_slice(&body).unwrap();
    assert!(failed && !within(&after.output));
}

/// A body with its long literal cut out and left as `""`: a [`JsonString`] read there is the
/// body's literal, a slice of it; a `String` read there is `""`, and the answer says so.
#[test]
fn a_cut_is_read_as_the_bodys_literal_and_anything_else_there_is_told() {
    #[derive(serde::Deserialize)]
    struct Answer {
        output: JsonString,
        also: Vec<JsonString>,
    }
    #[derive(serde::Deserialize)]
    struct AsText {
        output: String,
    }
    let body = bytes::Bytes::from(r#"{"output":"line\none \"é\"","also":["x",""]}"#);
    let span = 10..body.len() - r#","also":["x",""]}"#.len();
    let text = r#"{"output":"","also":["x",""]}"#;
    let cut = || vec![Cut::new(10, span.clone())];
    assert_eq!(&body[span.clone()], r#""line\none \"é\"""#.as_bytes());
    let within = |kept: &JsonString| body.as_ptr_range().contains(&kept.literal().as_ptr());
    let (answer, every_cut) = sharing(&body, || {
        reading_around(text.as_bytes(), cut(), || {
            serde_json::from_str::<Answer>(text)
        })
    });
    let answer = answer.unwrap();
    assert!(every_cut && within(&answer.output));
    assert_eq!(answer.output.plain(), "line\none \"é\"");
    // The other `""` is the text's own, not a cut.
    assert_eq!(answer.also[1].literal(), b"\"\"");
    // A `String` read where the literal was cut: the answer is not the body's.
    let (as_text, every_cut) = sharing(&body, || {
        reading_around(text.as_bytes(), cut(), || {
            serde_json::from_str::<AsText>(text)
        })
    });
    assert!(!every_cut && as_text.unwrap().output.is_empty());
    // Outside `sharing` no cut is read; with no cuts there is nothing to tell.
    let (alone, every_cut) = reading_around(text.as_bytes(), cut(), || {
        serde_json::from_str::<Answer>(text)
    });
    assert!(!every_cut && alone.unwrap().output.is_empty());
    assert!(reading_around(text.as_bytes(), Vec::new(), || ()).1);
    // A cut literal serde would refuse is refused, and the cuts end with `reading_around`.
    let bad = bytes::Bytes::from("{\"output\":\"a raw\ttab\",\"also\":[]}");
    let refused = sharing(&bad, || {
        let text = r#"{"output":"","also":[]}"#;
        let span = 10..bad.len() - r#","also":[]}"#.len();
        let (read, _) = reading_around(text.as_bytes(), vec![Cut::new(10, span)], || {
            serde_json::from_str::<Answer>(text)
        });
        let after = serde_json::from_str::<Answer>(text).unwrap();
        (read.is_err(), after.output.is_empty())
    });
    assert_eq!(refused, (true, true));
    assert!(!is_lent(&body) && sharing(&body, || is_lent(&body) && !is_lent(&body[1..])));
}
