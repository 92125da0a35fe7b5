//! The events every Anthropic stream has — a text block's start, a block's stop, the message's
//! stop and the ping — written without serde: its internally tagged enums cost ~1,000
//! instructions an event. The same bytes as serde writes, held to them by test; every other
//! event goes through serde ([`super::stream::write_event`]).

use super::types::{BlockStart, StreamEvent};
use crate::surfaces::shared::event_bytes::{push_str, push_u64};

/// Appends `event` when it is one of these; false (nothing written) for any other.
pub fn write(out: &mut Vec<u8>, event: &StreamEvent<'_>) -> bool {
    match event {
        StreamEvent::ContentBlockStart {
            index,
            content_block: BlockStart::Text { text },
        } => {
            out.extend_from_slice(
                b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":",
            );
            push_u64(out, (*index).into());
            out.extend_from_slice(b",\"content_block\":{\"type\":\"text\",\"text\":");
            push_str(out, text);
            out.extend_from_slice(b"}}\n\n");
        }
        StreamEvent::ContentBlockStop { index } => {
            out.extend_from_slice(
                b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":",
            );
            push_u64(out, (*index).into());
            out.extend_from_slice(b"}\n\n");
        }
        StreamEvent::MessageStop => {
            out.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        }
        StreamEvent::Ping => out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n"),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde writes for `event`, framed as the stream frames it.
    fn by_serde(event: &StreamEvent<'_>) -> String {
        let json = serde_json::to_string(event).unwrap();
        format!("event: {}\ndata: {json}\n\n", event.name())
    }

    #[test]
    fn the_plain_events_are_the_bytes_serde_writes() {
        for index in [0, 7, u32::MAX] {
            for text in ["", "a \"quote\", a \\ and\na newline", "\u{1} é 🦀"] {
                let events = [
                    StreamEvent::ContentBlockStart {
                        index,
                        content_block: BlockStart::Text { text },
                    },
                    StreamEvent::ContentBlockStop { index },
                    StreamEvent::MessageStop,
                    StreamEvent::Ping,
                ];
                for event in events {
                    let mut ours = Vec::new();
                    assert!(write(&mut ours, &event), "{event:?}");
                    assert_eq!(String::from_utf8(ours).unwrap(), by_serde(&event));
                }
            }
        }
    }

    #[test]
    fn other_events_are_left_to_serde() {
        let others = [
            StreamEvent::ContentBlockStart {
                index: 0,
                content_block: BlockStart::Thinking {
                    thinking: "",
                    signature: "",
                },
            },
            StreamEvent::ContentBlockStart {
                index: 0,
                content_block: BlockStart::CitedText {
                    text: "",
                    citations: [],
                },
            },
        ];
        for event in others {
            let mut out = Vec::new();
            assert!(!write(&mut out, &event));
            assert!(out.is_empty());
        }
    }
}
