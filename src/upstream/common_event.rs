//! Gemini's commonest streamed event, read in one pass without serde.
//!
//! Nearly every event of a stream is the same small object: one candidate whose content is a
//! text part (or a thought, with its signature), perhaps a finish reason, the cumulative usage,
//! the model version and the response id. Read through serde's derived visitors such an event
//! costs about 7,000 instructions, most of them serde_json's per-token machinery, and a
//! translated stream reads twenty of them (docs/PERFORMANCE.md, eleventh step). This reader
//! takes exactly that shape. Anything else — another field, a `null`, a number that is not a
//! plain unsigned integer, a key given twice, a string with a control character or a lone
//! surrogate — makes it answer `None`, and serde reads the event as before: the reader never
//! decides a case serde would decide differently (its tests compare the two on generated and on
//! mangled events). It can note where an event's texts and numbers lie, for a stream to read
//! the next event alike by that layout (`event_layout`).

use std::borrow::Cow;

use crate::json::escape::plain_run_end;

use super::wire::{Candidate, Content, GenerateContentResponse, Part, UsageMetadata};

/// [`read`] for an event's bytes (`None` for bytes that are not UTF-8: serde says why).
pub fn read_bytes(event: &[u8]) -> Option<GenerateContentResponse> {
    read(std::str::from_utf8(event).ok()?)
}

/// The event read, when it has the common shape; `None` when serde must read it.
pub fn read(event: &str) -> Option<GenerateContentResponse> {
    let mut out = GenerateContentResponse::default();
    read_into(event, &mut out).then_some(out)
}

/// The event read into `out`, whatever `out` held before (its candidates, their parts, the
/// parts' texts and the model version's buffer are used again: a stream reads every event
/// into one), when it has the common shape; `false` when serde must read it, `out` then
/// holding part of it.
pub fn read_into(event: &str, out: &mut GenerateContentResponse) -> bool {
    read_with(event, out, &mut None)
}

/// [`read_into`], noting in `slots` where each value an event of the same layout may change
/// lies (its texts and numbers; `slots` is cleared first): what
/// [`super::event_layout::EventReader`] compares the next event against.
pub fn read_recording(
    event: &str,
    out: &mut GenerateContentResponse,
    slots: &mut Vec<Slot>,
) -> bool {
    slots.clear();
    let mut recording = Some(std::mem::take(slots));
    let read = read_with(event, out, &mut recording);
    *slots = recording.unwrap_or_default();
    read
}

fn read_with(
    event: &str,
    out: &mut GenerateContentResponse,
    slots: &mut Option<Vec<Slot>>,
) -> bool {
    let mut reader = Reader::over(event);
    reader.slots = slots.take();
    let read = reader.response(out).is_some() && {
        reader.ws();
        reader.at == event.len()
    };
    *slots = reader.slots;
    read
}

/// A streamed event, or a whole answer (`generateContent`'s body, the same object): read here
/// when it has the common shape, else by serde.
pub fn answer_from_bytes(body: &[u8]) -> serde_json::Result<GenerateContentResponse> {
    match read_bytes(body) {
        Some(answer) => Ok(answer),
        None => crate::json::from_bytes(body),
    }
}

/// The `usageMetadata` object `text` begins with (whitespace allowed before it; whatever follows
/// it is not read), when it has the common shape.
pub fn read_usage(text: &str) -> Option<UsageMetadata> {
    Reader::over(text).usage()
}

/// Where a value an event of the same layout may change lies in the event read (`start..end`,
/// the value's own bytes), and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub start: usize,
    pub end: usize,
    pub field: Field,
}

/// What a [`Slot`]'s value is.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// The text of part `part` of candidate `candidate`.
    Text { candidate: usize, part: usize },
    /// Candidate `candidate`'s index.
    Index { candidate: usize },
    /// One of the usage's counts.
    Count(fn(&mut UsageMetadata) -> &mut Option<u64>),
    /// A number read past (a per-modality count).
    Unread,
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Where each changing value was found, when the reader records them.
    slots: Option<Vec<Slot>>,
}

/// The text of a JSON string starting at `at` in `bytes` (an opening quote there), its escapes
/// decoded, added to `out`, and where the string ends; `None` when [`read_into`] would not read
/// it (an escape it does not take, a control character, bytes that are not UTF-8).
pub fn string_at(bytes: &[u8], at: usize, out: &mut String) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut end = at + 1;
    loop {
        end = plain_run_end(bytes, end);
        match bytes.get(end)? {
            b'"' => break,
            b'\\' => end += 2,
            _ => return None,
        }
    }
    let text = std::str::from_utf8(bytes.get(at..=end)?).ok()?;
    let mut reader = Reader::over(text);
    reader.string_into(out)?;
    (reader.at == text.len()).then_some(end + 1)
}

/// The unsigned integer at `at` in `bytes`, as [`read_into`] reads one (no sign, fraction,
/// exponent or leading zero), and where it ends.
pub fn uint_at(bytes: &[u8], start: usize) -> Option<(u64, usize)> {
    let mut at = start;
    let mut value: u64 = 0;
    while let Some(digit) = bytes
        .get(at)
        .map(|b| b.wrapping_sub(b'0'))
        .filter(|d| *d < 10)
    {
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
        at += 1;
    }
    let leading_zero = at - start > 1 && bytes[start] == b'0';
    if at == start || leading_zero || matches!(bytes.get(at), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    Some((value, at))
}

/// Marks a key seen; `None` the second time (serde's derived structs refuse a duplicate field).
fn once(seen: &mut bool) -> Option<()> {
    (!std::mem::replace(seen, true)).then_some(())
}

/// The next element of `list` to read in place, `used` counting those read: one the event
/// read before left there (its reader resets it, keeping its buffers: a stream's events are
/// nearly all alike), else a new one, the list grown as `crate::json::few` grows one (room for
/// one at its first element). The caller truncates `list` to `used` once the list is read.
fn slot<'a, T: Default>(list: &'a mut Vec<T>, used: &mut usize) -> Option<&'a mut T> {
    if *used == list.len() {
        if list.capacity() == 0 {
            list.reserve_exact(1);
        }
        list.push(T::default());
    }
    *used += 1;
    list.get_mut(*used - 1)
}

impl<'a> Reader<'a> {
    fn over(text: &'a str) -> Self {
        let slots = None;
        Reader { text, at: 0, slots }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The next token, after any whitespace, taken when it is `byte`.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// An object's members, each handed to `member` standing just inside its key's opening
    /// quote: it takes the key with [`Reader::key`], then reads the value.
    fn members(&mut self, mut member: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            member(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Takes the key `name` and its colon when they come next (the reader stands inside the
    /// key's opening quote); otherwise takes nothing. Gemini's keys are compared where they lie
    /// instead of being scanned for their end first: a key written with escapes is not matched,
    /// and its event goes to serde.
    /// Most keys tried are another field's, of another length or first letter: those two bytes
    /// are looked at before the whole name is compared.
    #[inline]
    fn key(&mut self, name: &[u8]) -> bool {
        let rest = &self.bytes()[self.at..];
        if rest.get(name.len()) != Some(&b'"') || rest.first() != name.first() {
            return false;
        }
        if rest[..name.len()] != *name {
            return false;
        }
        let after = &rest[name.len() + 1..];
        // The colon nearly always follows at once (Gemini writes no whitespace).
        let ws = match after.first() {
            Some(b':') => 0,
            _ => after
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
                .count(),
        };
        if after.get(ws) != Some(&b':') {
            return false;
        }
        self.at += name.len() + ws + 2;
        true
    }

    /// A list's elements, each read by `element`.
    fn elements(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            element(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string without escapes, borrowed; `None` for one with escapes or control characters.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        self.plain_rest()
    }

    /// The rest of a string without escapes (the reader stands after its opening quote).
    fn plain_rest(&mut self) -> Option<&'a str> {
        let start = self.at;
        let end = plain_run_end(self.bytes(), start);
        if *self.bytes().get(end)? != b'"' {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    /// A string, its escapes decoded.
    fn string(&mut self) -> Option<String> {
        let mut out = String::new();
        self.string_into(&mut out)?;
        Some(out)
    }

    /// A string, its escapes decoded, added to `out`.
    fn string_into(&mut self, out: &mut String) -> Option<()> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at;
        if let Some(plain) = self.plain_str() {
            out.push_str(plain);
            return Some(());
        }
        self.at = start + 1;
        self.escaped(out)
    }

    /// The rest of a string that has escapes (the reader stands after its opening quote), added
    /// to `out`.
    fn escaped(&mut self, out: &mut String) -> Option<()> {
        loop {
            let end = plain_run_end(self.bytes(), self.at);
            out.push_str(self.text.get(self.at..end)?);
            self.at = end + 1;
            match *self.bytes().get(end)? {
                b'"' => return Some(()),
                b'\\' => {}
                _ => return None,
            }
            let escape = self.peek()?;
            self.at += 1;
            out.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode()?,
                _ => return None,
            });
        }
    }

    /// A `\u` escape's character (after the `u`), a surrogate pair read whole.
    fn unicode(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0xD800..=0xDBFF => {
                if self.bytes().get(self.at..self.at + 2)? != b"\\u" {
                    return None;
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            _ => char::from_u32(first),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// An unsigned integer as JSON writes one (no sign, fraction, exponent or leading zero).
    fn uint(&mut self) -> Option<u64> {
        self.ws();
        let (value, end) = uint_at(self.bytes(), self.at)?;
        self.at = end;
        Some(value)
    }

    /// The value read since `start` (after its whitespace) noted as `field`, when recording.
    fn note(&mut self, start: usize, field: Field) {
        if let Some(slots) = &mut self.slots {
            slots.push(Slot {
                start,
                end: self.at,
                field,
            });
        }
    }

    fn boolean(&mut self) -> Option<bool> {
        self.ws();
        let rest = &self.bytes()[self.at..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        Some(value)
    }

    fn response(&mut self, out: &mut GenerateContentResponse) -> Option<()> {
        out.prompt_feedback = None;
        out.usage_metadata = None;
        out.error = None;
        let mut version = out.model_version.take();
        let (mut candidates, mut id) = (false, false);
        let mut read = 0;
        self.members(|r| {
            if r.key(b"candidates") {
                once(&mut candidates)?;
                r.elements(|r| {
                    let candidate = slot(&mut out.candidates, &mut read)?;
                    r.candidate(candidate, read - 1)
                })
            } else if out.usage_metadata.is_none() && r.key(b"usageMetadata") {
                out.usage_metadata = Some(r.usage()?);
                Some(())
            } else if out.model_version.is_none() && r.key(b"modelVersion") {
                let mut name = version.take().unwrap_or_default();
                name.clear();
                r.string_into(&mut name)?;
                out.model_version = Some(name);
                Some(())
            } else if r.key(b"responseId") {
                once(&mut id)?;
                r.plain_str().map(drop)
            } else {
                None
            }
        })?;
        out.candidates.truncate(read);
        Some(())
    }

    /// A candidate read into `c`, whatever it held (its parts' buffers are used again).
    fn candidate(&mut self, c: &mut Candidate, at: usize) -> Option<()> {
        let mut parts = c.content.take().map(|c| c.parts).unwrap_or_default();
        *c = Candidate::default();
        self.members(|r| {
            if c.content.is_none() && r.key(b"content") {
                let parts = std::mem::take(&mut parts);
                r.content(c.content.insert(Content { role: None, parts }), at)?;
            } else if c.index.is_none() && r.key(b"index") {
                r.ws();
                let start = r.at;
                c.index = Some(u32::try_from(r.uint()?).ok()?);
                r.note(start, Field::Index { candidate: at });
            } else if c.finish_reason.is_none() && r.key(b"finishReason") {
                c.finish_reason = Some(r.string()?);
            } else if c.finish_message.is_none() && r.key(b"finishMessage") {
                c.finish_message = Some(r.string()?);
            } else {
                return None;
            }
            Some(())
        })
    }

    /// A content read into `content`, whose parts are those of the event read before.
    fn content(&mut self, content: &mut Content, candidate: usize) -> Option<()> {
        let (mut parts, mut read) = (false, 0);
        self.members(|r| {
            if !parts && r.key(b"parts") {
                parts = true;
                r.elements(|r| {
                    let part = slot(&mut content.parts, &mut read)?;
                    r.part(part, candidate, read - 1)
                })?;
            } else if content.role.is_none() && r.key(b"role") {
                content.role = Some(match r.plain_str()? {
                    "model" => Cow::Borrowed("model"),
                    "user" => Cow::Borrowed("user"),
                    other => Cow::Owned(other.to_owned()),
                });
            } else {
                return None;
            }
            Some(())
        })?;
        content.parts.truncate(read);
        Some(())
    }

    /// A part read into `part`, whatever it held (its text's buffer is used again).
    fn part(&mut self, part: &mut Part, candidate: usize, at: usize) -> Option<()> {
        let mut buffer = part.text.take();
        *part = Part::default();
        self.members(|r| {
            if part.text.is_none() && r.key(b"text") {
                let mut text = buffer.take().unwrap_or_default();
                text.clear();
                r.ws();
                let start = r.at;
                r.string_into(&mut text)?;
                r.note(
                    start,
                    Field::Text {
                        candidate,
                        part: at,
                    },
                );
                part.text = Some(text);
            } else if part.thought.is_none() && r.key(b"thought") {
                part.thought = Some(r.boolean()?);
            } else if part.thought_signature.is_none() && r.key(b"thoughtSignature") {
                part.thought_signature = Some(r.string()?);
            } else {
                return None;
            }
            Some(())
        })
    }

    fn usage(&mut self) -> Option<UsageMetadata> {
        let mut u = UsageMetadata::default();
        let mut details = [false; 4];
        self.members(|r| {
            let field: fn(&mut UsageMetadata) -> &mut Option<u64> = if r.key(b"promptTokenCount") {
                |u| &mut u.prompt_token_count
            } else if r.key(b"candidatesTokenCount") {
                |u| &mut u.candidates_token_count
            } else if r.key(b"totalTokenCount") {
                |u| &mut u.total_token_count
            } else if r.key(b"thoughtsTokenCount") {
                |u| &mut u.thoughts_token_count
            } else if r.key(b"cachedContentTokenCount") {
                |u| &mut u.cached_content_token_count
            } else if r.key(b"toolUsePromptTokenCount") {
                |u| &mut u.tool_use_prompt_token_count
            } else if r.key(b"promptTokensDetails") {
                return r.details(&mut details[0]);
            } else if r.key(b"candidatesTokensDetails") {
                return r.details(&mut details[1]);
            } else if r.key(b"cacheTokensDetails") {
                return r.details(&mut details[2]);
            } else if r.key(b"toolUsePromptTokensDetails") {
                return r.details(&mut details[3]);
            } else {
                return None;
            };
            if field(&mut u).is_some() {
                return None;
            }
            r.ws();
            let start = r.at;
            *field(&mut u) = Some(r.uint()?);
            r.note(start, Field::Count(field));
            Some(())
        })?;
        Some(u)
    }

    /// A per-modality list (`[{"modality": "TEXT", "tokenCount": 5}, …]`), read past.
    fn details(&mut self, seen: &mut bool) -> Option<()> {
        once(seen)?;
        self.elements(|r| {
            r.members(|r| {
                r.plain_rest()?;
                r.eat(b':')?;
                r.ws();
                match r.peek()? {
                    b'"' => r.plain_str().map(drop),
                    _ => {
                        let start = r.at;
                        r.uint()?;
                        r.note(start, Field::Unread);
                        Some(())
                    }
                }
            })
        })
    }
}

#[cfg(test)]
#[path = "common_event_tests.rs"]
pub(super) mod tests;
