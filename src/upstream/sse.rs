//! Incremental decoder for Gemini's `streamGenerateContent?alt=sse` byte stream.
//!
//! Gemini frames events as `data: {json}\r\n\r\n`. The decoder follows the SSE rules that matter
//! here: lines end at CR, LF or CRLF (and nowhere else: U+2028/U+2029/U+0085 can appear unescaped
//! inside JSON strings), several `data:` lines of one event are joined with `\n`, one space after
//! the colon is dropped, comments (`:`) and other fields (`event`, `id`, `retry`) are ignored, and a
//! blank line ends the event. Bytes may arrive split anywhere, including between CR and LF or
//! inside a UTF-8 sequence. Buffering is bounded: a line or an event larger than the configured
//! maximum is an error rather than unbounded memory growth.

/// Default maximum size of one event's data (and of one line): 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// SSE decoding failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event (or one line) grew past the limit.
    #[error("SSE event exceeds the maximum size of {limit} bytes")]
    EventTooLarge { limit: usize },
}

/// Push bytes in with [`SseDecoder::push`], pull complete event payloads out with
/// [`SseDecoder::next_event`], and call [`SseDecoder::finish`] at end of input.
#[derive(Debug)]
pub struct SseDecoder {
    /// Undecoded bytes; `buf[..start]` is already consumed.
    buf: Vec<u8>,
    start: usize,
    /// Data of the event being assembled.
    data: Vec<u8>,
    has_data: bool,
    /// The previous line ended with CR at the very end of `buf`: skip one LF if it comes next.
    skip_lf: bool,
    /// `buf[start..scanned]` is known to hold no line terminator: a long line arriving in many
    /// small chunks is scanned once, not once per chunk (which would be quadratic).
    scanned: usize,
    max_event_size: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_SIZE)
    }
}

impl SseDecoder {
    /// A decoder that refuses events (and lines) larger than `max_event_size` bytes.
    pub fn new(max_event_size: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            data: Vec::new(),
            has_data: false,
            skip_lf: false,
            scanned: 0,
            max_event_size,
        }
    }

    /// Append received bytes; size limits are checked by [`SseDecoder::next_event`].
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            self.scanned = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Whether nothing is pending: no undecoded bytes, no event half assembled, no LF owed to a
    /// CR. Bytes pushed now start a fresh event, as if the decoder were new.
    pub fn is_idle(&self) -> bool {
        self.start == self.buf.len() && !self.has_data && !self.skip_lf
    }

    /// The next complete event's data, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Vec<u8>>, SseError> {
        loop {
            if self.skip_lf && self.start < self.buf.len() {
                if self.buf[self.start] == b'\n' {
                    self.start += 1;
                }
                self.skip_lf = false;
            }
            let from = self.scanned.max(self.start);
            let found =
                memchr::memchr2(b'\n', b'\r', &self.buf[from..]).map(|i| from - self.start + i);
            let Some(end) = found else {
                self.scanned = self.buf.len();
                self.compact();
                if self.buf.len() - self.start > self.max_event_size {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event_size,
                    });
                }
                return Ok(None);
            };
            let terminator = self.buf[self.start + end];
            let line_start = self.start;
            let line_end = line_start + end;
            self.start = line_end + 1;
            if terminator == b'\r' {
                match self.buf.get(self.start) {
                    Some(b'\n') => self.start += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if let Some(event) = self.process_line(line_start, line_end)? {
                return Ok(Some(event));
            }
        }
    }

    /// End of input: returns the last event when the stream ended without a blank line after it.
    pub fn finish(&mut self) -> Result<Option<Vec<u8>>, SseError> {
        if let Some(event) = self.next_event()? {
            return Ok(Some(event));
        }
        if self.start < self.buf.len() {
            let (line_start, line_end) = (self.start, self.buf.len());
            self.start = line_end;
            if let Some(event) = self.process_line(line_start, line_end)? {
                return Ok(Some(event));
            }
        }
        Ok(self.take_event())
    }

    fn process_line(
        &mut self,
        line_start: usize,
        line_end: usize,
    ) -> Result<Option<Vec<u8>>, SseError> {
        let line = &self.buf[line_start..line_end];
        if line.is_empty() {
            return Ok(self.take_event());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return Ok(None),
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &line[..0]),
        };
        if field == b"data" {
            let extra = value.len() + usize::from(self.has_data);
            if self.data.len() + extra > self.max_event_size {
                return Err(SseError::EventTooLarge {
                    limit: self.max_event_size,
                });
            }
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        Ok(None)
    }

    fn take_event(&mut self) -> Option<Vec<u8>> {
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(std::mem::take(&mut self.data))
    }

    /// Drop consumed bytes once they dominate the buffer (amortised O(1) per byte).
    fn compact(&mut self) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.scanned = self.scanned.saturating_sub(self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<String> {
        let mut dec = SseDecoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            dec.push(chunk);
            while let Some(ev) = dec.next_event().unwrap() {
                out.push(String::from_utf8(ev).unwrap());
            }
        }
        while let Some(ev) = dec.finish().unwrap() {
            out.push(String::from_utf8(ev).unwrap());
        }
        out
    }

    #[test]
    fn crlf_framing() {
        let out = decode_all(&[b"data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n"]);
        assert_eq!(out, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
    }

    #[test]
    fn lf_and_cr_only_framing() {
        assert_eq!(decode_all(&[b"data: x\n\ndata: y\n\n"]), vec!["x", "y"]);
        assert_eq!(decode_all(&[b"data: x\r\rdata: y\r\r"]), vec!["x", "y"]);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let input = "data: {\"t\":\"h\u{e9}llo \u{2028} w\u{2029}rld\"}\r\n\r\n: comment\r\nevent: x\r\ndata: a\r\ndata:b\r\n\r\n";
        let bytes = input.as_bytes();
        let expected = decode_all(&[bytes]);
        assert_eq!(
            expected,
            vec!["{\"t\":\"h\u{e9}llo \u{2028} w\u{2029}rld\"}", "a\nb"]
        );
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let got = decode_all(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(got, expected, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let input = b"data: one\r\n\r\ndata: two\r\n\r\n";
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode_all(&chunks), vec!["one", "two"]);
    }

    #[test]
    fn unicode_line_separators_do_not_split() {
        let input = "data: a\u{85}b\u{2028}c\r\n\r\n";
        assert_eq!(decode_all(&[input.as_bytes()]), vec!["a\u{85}b\u{2028}c"]);
    }

    #[test]
    fn trailing_event_without_blank_line_is_flushed_at_finish() {
        assert_eq!(decode_all(&[b"data: last"]), vec!["last"]);
        assert_eq!(decode_all(&[b"data: last\r\n"]), vec!["last"]);
    }

    #[test]
    fn blank_lines_without_data_yield_nothing() {
        assert!(decode_all(&[b"\r\n\r\n: ping\r\n\r\n"]).is_empty());
    }

    #[test]
    fn field_without_colon_and_empty_data() {
        // `data` alone is a data line with an empty value.
        assert_eq!(decode_all(&[b"data\n\n"]), vec![""]);
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut dec = SseDecoder::new(8);
        dec.push(b"data: 12345\r\ndata: 6789\r\n\r\n");
        assert_eq!(dec.next_event(), Err(SseError::EventTooLarge { limit: 8 }));
    }

    #[test]
    fn oversized_unterminated_line_is_an_error() {
        let mut dec = SseDecoder::new(8);
        dec.push(b"data: 0123456789");
        assert_eq!(dec.next_event(), Err(SseError::EventTooLarge { limit: 8 }));
    }

    #[test]
    fn a_long_line_in_small_chunks_is_scanned_once() {
        // 8 MiB of one data line in 1 KiB chunks: quadratic rescanning would take minutes.
        let mut dec = SseDecoder::new(16 * 1024 * 1024);
        dec.push(b"data: ");
        let chunk = vec![b'x'; 1024];
        let started = std::time::Instant::now();
        for _ in 0..8 * 1024 {
            dec.push(&chunk);
            assert_eq!(dec.next_event(), Ok(None));
        }
        dec.push(b"\r\n\r\n");
        let event = dec.next_event().unwrap().unwrap();
        assert_eq!(event.len(), 8 * 1024 * 1024);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn buffer_is_reclaimed() {
        let mut dec = SseDecoder::new(64);
        for _ in 0..10_000 {
            dec.push(b"data: {\"x\":1}\r\n\r\n");
            assert!(dec.next_event().unwrap().is_some());
        }
        assert!(dec.buf.capacity() < 1024);
    }
}
