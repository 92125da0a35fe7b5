//! A streaming reader of `multipart/related` upload bodies (`uploadType=multipart`): the first
//! part is the JSON metadata (`{"file": {…}}`), the second the file's bytes. The metadata is
//! read whole (at most 1 MiB with the part headers); the bytes are scanned for the closing
//! boundary chunk by chunk and go straight into the upload's counter and hash, so a large
//! multipart upload is never held in memory.

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;

use super::upload::Received;
use crate::errors::ApiError;

/// At most this much may precede the file's bytes (preamble, metadata part, part headers).
const MAX_HEAD: usize = 1024 * 1024;

/// What precedes the file's bytes.
#[derive(Debug)]
pub struct Parts {
    /// The first part's body: the JSON metadata.
    pub metadata: Bytes,
    /// The second part's `Content-Type`.
    pub media_type: Option<String>,
}

/// The boundary of a `multipart/…; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params
        .split(';')
        .find_map(|param| {
            let (name, value) = param.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty())
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|b| *b == first) {
        let at = from + i;
        if haystack.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn malformed(what: &str) -> ApiError {
    ApiError::invalid_argument(format!("Malformed multipart upload: {what}."))
}

/// The `Content-Type` among a part's header lines.
fn part_type(headers: &[u8]) -> Option<String> {
    String::from_utf8_lossy(headers).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_owned())
    })
}

/// A part's headers and where its body starts, from `at` (just past a delimiter line), or
/// `None` when more bytes are needed.
fn part_headers(buf: &[u8], at: usize) -> Result<Option<(Option<String>, usize)>, ApiError> {
    let Some(after) = buf.get(at..at + 2) else {
        return Ok(None);
    };
    match after {
        b"--" => return Err(malformed("the body has fewer than two parts")),
        b"\r\n" => {}
        _ => return Err(malformed("a boundary line does not end with CRLF")),
    }
    let at = at + 2;
    if buf.get(at..at + 2) == Some(b"\r\n") {
        return Ok(Some((None, at + 2)));
    }
    Ok(find(&buf[at.min(buf.len())..], b"\r\n\r\n")
        .map(|end| (part_type(&buf[at..at + end]), at + end + 4)))
}

/// Metadata, media type and where the bytes start, once `buf` holds all of that.
fn head(buf: &[u8], delimiter: &[u8]) -> Result<Option<(Parts, usize)>, ApiError> {
    let Some(first) = find(buf, delimiter) else {
        return Ok(None);
    };
    let Some((_, metadata_at)) = part_headers(buf, first + delimiter.len())? else {
        return Ok(None);
    };
    let Some(metadata_len) = find(&buf[metadata_at..], delimiter) else {
        return Ok(None);
    };
    let second = metadata_at + metadata_len + delimiter.len();
    let Some((media_type, media_at)) = part_headers(buf, second)? else {
        return Ok(None);
    };
    let metadata = Bytes::copy_from_slice(&buf[metadata_at..metadata_at + metadata_len]);
    Ok(Some((
        Parts {
            metadata,
            media_type,
        },
        media_at,
    )))
}

/// Reads a multipart body with `boundary`: the file's bytes (at most `limit`) go into
/// `received`; returns the metadata part.
pub async fn read(
    body: Body,
    boundary: &str,
    received: &mut Received,
    limit: u64,
) -> Result<Parts, ApiError> {
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut stream = body.into_data_stream();
    // A leading CRLF lets the first boundary line match like the others.
    let mut buffer = b"\r\n".to_vec();
    let (parts, media_at) = loop {
        if let Some(found) = head(&buffer, &delimiter)? {
            break found;
        }
        if buffer.len() > MAX_HEAD {
            return Err(malformed("the metadata part is too large"));
        }
        match stream.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(malformed("the body was cut short")),
            None => return Err(malformed("the body ends before the file's bytes")),
        }
    };
    buffer.drain(..media_at);
    let too_large = |size: u64| {
        ApiError::invalid_argument(format!(
            "File size {size} exceeds the maximum allowed size of {limit} bytes."
        ))
    };
    loop {
        if let Some(end) = find(&buffer, &delimiter) {
            if received.size + end as u64 > limit {
                return Err(too_large(received.size + end as u64));
            }
            received.take(&buffer[..end]);
            break;
        }
        // Keep what could be the start of the closing boundary.
        let safe = buffer.len().saturating_sub(delimiter.len() - 1);
        if received.size + safe as u64 > limit {
            return Err(too_large(received.size + safe as u64));
        }
        received.take(&buffer[..safe]);
        buffer.drain(..safe);
        match stream.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(malformed("the body was cut short")),
            None => return Err(malformed("the closing boundary is missing")),
        }
    }
    // The epilogue (`--` and a few bytes) is read and dropped.
    while let Some(Ok(_)) = stream.next().await {}
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_in_chunks(text: &'static [u8], size: usize) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> = text
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    const BODY: &[u8] = b"--xyz\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n\
        {\"file\": {\"displayName\": \"d\"}}\r\n--xyz\r\nContent-Type: text/plain\r\n\r\n\
        line one\r\n--xy not yet\r\nend\r\n--xyz--\r\n";

    #[tokio::test]
    async fn reads_metadata_and_streams_the_bytes_whatever_the_chunking() {
        for size in [1, 2, 3, 7, 64, 1000] {
            let mut received = Received::default();
            let parts = read(body_in_chunks(BODY, size), "xyz", &mut received, 1 << 20)
                .await
                .unwrap();
            assert_eq!(&parts.metadata[..], br#"{"file": {"displayName": "d"}}"#);
            assert_eq!(parts.media_type.as_deref(), Some("text/plain"));
            let (_, _, kept) = received.finish();
            assert_eq!(kept, b"line one\r\n--xy not yet\r\nend", "chunks of {size}");
        }
    }

    #[tokio::test]
    async fn refuses_bodies_without_two_parts_or_over_the_limit() {
        let one_part = b"--b\r\n\r\n{}\r\n--b--\r\n";
        let mut received = Received::default();
        let error = read(body_in_chunks(one_part, 4), "b", &mut received, 10)
            .await
            .unwrap_err();
        assert!(
            error.message.contains("fewer than two parts"),
            "{}",
            error.message
        );
        let mut received = Received::default();
        let error = read(body_in_chunks(BODY, 5), "xyz", &mut received, 4)
            .await
            .unwrap_err();
        assert_eq!(error.code, 400);
        assert_eq!(
            boundary("multipart/related; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/json"), None);
    }
}
