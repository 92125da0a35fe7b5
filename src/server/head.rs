//! A request's head — its URI and header values — copied out of the connection's read buffer.
//!
//! hyper parses a request head in place: the URI and every header value are views into the
//! buffer (8 KiB at least) the request was read into. Whatever keeps one alive keeps the whole
//! buffer, and hyper, reading on to notice a client that hangs up, takes a second buffer beside
//! it. A stream outlives its handler by seconds to minutes, and a view kept for that long (the
//! URI, a header the stream logs) holds the first buffer as long. Copied into one allocation the
//! size of the head, the buffer is freed once the body is read: less memory per open stream, at
//! the cost of one copy of a few hundred bytes.

use axum::http::{HeaderValue, Request, Uri};
use bytes::BytesMut;

/// `req`'s URI and header values moved into one allocation of their own.
pub fn detach<B>(req: &mut Request<B>) {
    // Origin form (`/path?query`), every HTTP/1 request, is copied as it is; the absolute form
    // (HTTP/2 pseudo-headers, proxies) is rare and written out as text first.
    let absolute = req.uri().scheme().map(|_| req.uri().to_string());
    let uri_text = match &absolute {
        Some(text) => Some(text.as_str()),
        None => req.uri().path_and_query().map(|pq| pq.as_str()),
    };
    let uri_len = uri_text.map_or(0, str::len);
    let values_len: usize = req.headers().values().map(HeaderValue::len).sum();
    let mut copy = BytesMut::with_capacity(uri_len + values_len);
    copy.extend_from_slice(uri_text.unwrap_or_default().as_bytes());
    for value in req.headers().values() {
        copy.extend_from_slice(value.as_bytes());
    }
    let copy = copy.freeze();
    if uri_len > 0 {
        if let Ok(uri) = Uri::from_maybe_shared(copy.slice(..uri_len)) {
            *req.uri_mut() = uri;
        }
    }
    let mut at = uri_len;
    for value in req.headers_mut().values_mut() {
        let end = at + value.len();
        let Some(bytes) = copy.get(at..end) else {
            break;
        };
        // The same order as the pass above; checked all the same, so a value is only ever
        // replaced by its own bytes.
        if bytes == value.as_bytes() {
            if let Ok(mut fresh) = HeaderValue::from_maybe_shared(copy.slice(at..end)) {
                fresh.set_sensitive(value.is_sensitive());
                *value = fresh;
            }
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    /// A request whose URI and header values are views into `buffer`, as hyper parses them.
    fn parsed_from(buffer: &Bytes) -> Request<()> {
        let text = std::str::from_utf8(buffer).unwrap();
        let at = |s: &str| {
            let i = text.find(s).unwrap();
            buffer.slice(i..i + s.len())
        };
        let mut req = Request::new(());
        *req.uri_mut() =
            Uri::from_maybe_shared(at("/v1beta/models/m:generateContent?alt=sse")).unwrap();
        let headers = req.headers_mut();
        headers.insert(
            "host",
            HeaderValue::from_maybe_shared(at("127.0.0.1:8080")).unwrap(),
        );
        headers.append("x-seen", HeaderValue::from_maybe_shared(at("one")).unwrap());
        headers.append("x-seen", HeaderValue::from_maybe_shared(at("two")).unwrap());
        let mut key = HeaderValue::from_maybe_shared(at("AIzaSySecret")).unwrap();
        key.set_sensitive(true);
        headers.insert("x-goog-api-key", key);
        req
    }

    #[test]
    fn the_head_no_longer_holds_the_read_buffer() {
        let buffer = Bytes::from(
            "POST /v1beta/models/m:generateContent?alt=sse HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\
             x-seen: one\r\nx-seen: two\r\nx-goog-api-key: AIzaSySecret\r\n\r\n"
                .as_bytes()
                .to_vec(),
        );
        let mut req = parsed_from(&buffer);
        assert!(
            !buffer.is_unique(),
            "the head is a view into the buffer before"
        );
        detach(&mut req);
        assert!(
            buffer.is_unique(),
            "nothing of the head points into the buffer after"
        );

        assert_eq!(req.uri().path(), "/v1beta/models/m:generateContent");
        assert_eq!(req.uri().query(), Some("alt=sse"));
        let h = req.headers();
        assert_eq!(h["host"], "127.0.0.1:8080");
        let seen: Vec<_> = h.get_all("x-seen").iter().collect();
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(h["x-goog-api-key"], "AIzaSySecret");
        assert!(h["x-goog-api-key"].is_sensitive());
    }

    #[test]
    fn an_absolute_uri_and_a_bare_request_come_through() {
        let mut req = Request::new(());
        *req.uri_mut() = "https://gw.example/v1/messages?beta=true".parse().unwrap();
        detach(&mut req);
        assert_eq!(
            req.uri().to_string(),
            "https://gw.example/v1/messages?beta=true"
        );

        let mut bare = Request::new(());
        detach(&mut bare);
        assert_eq!(bare.uri(), "/");
        assert!(bare.headers().is_empty());
    }
}
