//! A stream's events read by the layout of the one before.
//!
//! Within a stream Gemini's events are nearly all alike: the same keys in the same order, the
//! same model version, response id, role and per-modality counts, and only the part's text and
//! the usage's counts changing. The event reader ([`common_event`]) takes about 3,000
//! instructions an event, a fifth of a translated stream (docs/PERFORMANCE.md). Here the event
//! read whole is kept with the places of its texts and numbers (its slots); the next event is
//! compared with it byte for byte outside those places and only its slots are read, into the
//! value the last event left. What matches is, byte for byte, what the whole reader read
//! before, in the same place of the same structure, so the value is the one the whole reader
//! would give; anything else — another key, a finish reason, a text where a number was, a
//! number with a fraction — is read whole (and by serde when the reader declines it), and its
//! layout kept in turn.

use super::common_event::{self, string_at, uint_at, Field, Slot};
use super::wire::GenerateContentResponse;

/// A stream's events, each read into one value.
#[derive(Debug, Default)]
pub struct EventReader {
    value: GenerateContentResponse,
    /// The last event read whole, while `value` is what it (and the events read by its layout
    /// since) said.
    last: Vec<u8>,
    slots: Vec<Slot>,
    /// Whether `last` and `slots` describe `value`.
    laid_out: bool,
    /// Events read by their layout (for tests to see the path taken).
    #[cfg(test)]
    pub read_by_layout: usize,
}

impl EventReader {
    /// What the last event read said.
    pub fn value(&self) -> &GenerateContentResponse {
        &self.value
    }

    /// What the last event read said, to change: the next event is then read whole.
    pub fn value_mut(&mut self) -> &mut GenerateContentResponse {
        self.laid_out = false;
        &mut self.value
    }

    /// Reads `event` when it has the common shape ([`common_event::read_into`]; bytes that are
    /// not UTF-8 have not); `false` when serde must read it, the value then holding part of it.
    pub fn read(&mut self, event: &[u8]) -> bool {
        if self.laid_out && self.by_layout(event).is_some() {
            #[cfg(test)]
            {
                self.read_by_layout += 1;
            }
            return true;
        }
        self.laid_out = std::str::from_utf8(event)
            .is_ok_and(|text| common_event::read_recording(text, &mut self.value, &mut self.slots));
        if self.laid_out {
            self.last.clear();
            self.last.extend_from_slice(event);
        }
        self.laid_out
    }

    /// Reads `event`, serde reading what the reader declines (and saying why bytes are not an
    /// event).
    pub fn read_or_serde(&mut self, event: &[u8]) -> serde_json::Result<()> {
        if self.read(event) {
            return Ok(());
        }
        self.value = crate::json::from_bytes(event)?;
        Ok(())
    }

    /// `event` read by the last event's layout: its bytes outside the slots the same, each
    /// slot's value read into `value`. `None` as soon as anything differs (the value then
    /// holds part of the event: the caller reads it whole).
    fn by_layout(&mut self, event: &[u8]) -> Option<()> {
        let (mut at, mut from) = (0, 0);
        for slot in &self.slots {
            let same = self.last.get(from..slot.start)?;
            if event.get(at..at + same.len())? != same {
                return None;
            }
            at += same.len();
            at = read_slot(&mut self.value, slot.field, event, at)?;
            from = slot.end;
        }
        (event.get(at..)? == self.last.get(from..)?).then_some(())
    }
}

/// The value of `field` at `at` in `event` read into `value`; where it ends.
fn read_slot(
    value: &mut GenerateContentResponse,
    field: Field,
    event: &[u8],
    at: usize,
) -> Option<usize> {
    match field {
        Field::Text { candidate, part } => {
            let content = value.candidates.get_mut(candidate)?.content.as_mut()?;
            let text = content.parts.get_mut(part)?.text.as_mut()?;
            text.clear();
            string_at(event, at, text)
        }
        Field::Index { candidate } => {
            let (index, end) = uint_at(event, at)?;
            value.candidates.get_mut(candidate)?.index = Some(u32::try_from(index).ok()?);
            Some(end)
        }
        Field::Count(count) => {
            let (n, end) = uint_at(event, at)?;
            *count(value.usage_metadata.as_mut()?) = Some(n);
            Some(end)
        }
        Field::Unread => uint_at(event, at).map(|(_, end)| end),
    }
}

#[cfg(test)]
#[path = "event_layout_tests.rs"]
mod tests;
