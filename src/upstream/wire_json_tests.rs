//! The hand-written request JSON against serde_json's: byte for byte, on the Claude Code
//! captures and on generated requests with every part kind and awkward text.

use serde_json::json;

use crate::json::literal::JsonString;

use super::*;
use crate::upstream::wire::{
    FileData, FunctionResponsePart, GenerationConfig, SafetySetting, Tool, ToolConfig,
};

fn written<T: WireJson>(request: &T) -> Vec<u8> {
    let mut out = Vec::new();
    request.write_json(&mut out).unwrap();
    out
}

fn assert_serdes<T: WireJson + Serialize>(request: &T) {
    let serde = serde_json::to_vec(request).unwrap();
    let ours = written(request);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&serde)
    );
}

#[test]
fn claude_codes_turns_are_written_as_serde_writes_them() {
    use crate::surfaces::anthropic::{parse_messages_request, to_generate_content};
    for capture in [
        include_str!("../../tests/fixtures/anthropic/claude-code-first-turn.json"),
        include_str!("../../tests/fixtures/anthropic/claude-code-tool-result-turn.json"),
    ] {
        let req = parse_messages_request(capture.as_bytes()).unwrap();
        for model in ["gemini-3.8-flash", "gemini-3.1-pro-preview"] {
            let gemini = to_generate_content(&req, model, &Default::default()).unwrap();
            assert!(gemini.system_instruction.is_some() && !gemini.contents.is_empty());
            assert_serdes(&gemini);
        }
    }
}

/// A small deterministic generator (no dependency for it).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn maybe<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        (self.pick(2) == 0).then(|| f(self))
    }

    fn text(&mut self) -> String {
        const PIECES: [&str; 11] = [
            "word ",
            "\"",
            "\\",
            "\n",
            "\t",
            "\u{1}",
            "é",
            "🦀",
            "\u{7f}",
            "</x>",
            "a longer run",
        ];
        (0..self.pick(12))
            .map(|_| PIECES[self.pick(PIECES.len() as u64) as usize])
            .collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.pick(if depth == 0 { 4 } else { 6 }) {
            0 => Value::from(self.text()),
            1 => json!(self.next() as i64 - (1 << 31)),
            2 => json!(f64::from(self.next() as u32) / 7.0),
            3 => {
                [Value::Null, Value::Bool(true), Value::Bool(false)][self.pick(3) as usize].clone()
            }
            4 => Value::Array((0..self.pick(4)).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Object(
                (0..self.pick(4))
                    .map(|_| (self.text(), self.value(depth - 1)))
                    .collect(),
            ),
        }
    }

    fn part(&mut self) -> Part {
        let mut part = Part::default();
        match self.pick(7) {
            0 => part.text = Some(self.text()),
            1 => {
                part.inline_data = Some(Box::new(InlineData {
                    mime_type: self.text(),
                    data: self.text(),
                }))
            }
            2 => {
                part.file_data = Some(Box::new(FileData {
                    mime_type: self.maybe(Gen::text),
                    file_uri: self.text(),
                }))
            }
            3 => {
                part.function_call = Some(Box::new(FunctionCall {
                    id: self.maybe(Gen::text),
                    name: self.text(),
                    args: self.maybe(|g| g.value(3)),
                }))
            }
            4 => {
                part.function_response = Some(Box::new(FunctionResponse {
                    id: self.maybe(Gen::text),
                    name: self.text(),
                    response: match self.pick(3) {
                        0 => FunctionAnswer::Object(self.value(3)),
                        // A tool's text as a client's literal: serde's escapes, or its own.
                        1 => FunctionAnswer::Text {
                            key: "output",
                            text: JsonString::from_plain(&self.text()),
                        },
                        _ => FunctionAnswer::Text {
                            key: "error",
                            text: serde_json::from_str(r#""caf\u00e9\/\ud83d\ude00\n""#).unwrap(),
                        },
                    },
                    parts: self.maybe(|g| {
                        vec![FunctionResponsePart::inline(g.text(), g.text()); g.pick(3) as usize]
                    }),
                }))
            }
            5 => part.executable_code = Some(Box::new(self.value(2))),
            _ => part.code_execution_result = Some(Box::new(self.value(2))),
        }
        part.thought = self.maybe(|g| g.pick(2) == 0);
        part.thought_signature = self.maybe(Gen::text);
        part
    }

    fn content(&mut self) -> Content {
        Content {
            role: self.maybe(|g| g.text().into()),
            parts: (0..self.pick(4)).map(|_| self.part()).collect(),
        }
    }

    fn request(&mut self) -> GenerateContentRequest {
        GenerateContentRequest {
            model: self.maybe(Gen::text),
            contents: (0..self.pick(4)).map(|_| self.content()).collect(),
            system_instruction: self.maybe(Gen::content),
            tools: self.maybe(|_| vec![Tool::default()]),
            tool_config: self.maybe(|_| ToolConfig::default()),
            generation_config: self.maybe(|g| GenerationConfig {
                stop_sequences: Some(vec![g.text()]),
                ..GenerationConfig::default()
            }),
            safety_settings: self.maybe(|g| {
                vec![SafetySetting {
                    category: g.text(),
                    threshold: g.text(),
                }]
            }),
            cached_content: self.maybe(Gen::text),
        }
    }
}

#[test]
fn generated_requests_are_written_as_serde_writes_them() {
    let mut g = Gen(3);
    for _ in 0..3_000 {
        let request = g.request();
        assert_serdes(&request);
        assert_serdes(&CountTokensRequest {
            contents: g.maybe(|g| vec![g.content()]),
            generate_content_request: g.maybe(|_| request),
        });
    }
}
