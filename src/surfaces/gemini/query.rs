//! The query string of a native request: which parameters travel upstream (never the client's
//! `key`, however it is spelled or encoded), and the percent-decoding both this and the client-key
//! check read query values with.

use axum::http::Uri;

/// Query parameters that may travel upstream. Everything else is dropped — the client's `key`
/// (however it is spelled or percent-encoded) and credentials such as `access_token` above all.
const FORWARDED_PARAMS: &[&str] = &[
    "alt",
    "pageSize",
    "pageToken",
    "prettyPrint",
    // The stored resources': a cache's update, an interaction's stream resumed, an upload.
    "updateMask",
    "stream",
    "last_event_id",
    "lastEventId",
    "upload_id",
    "upload_protocol",
    "uploadType",
];

/// The client's query reduced to [`FORWARDED_PARAMS`], names compared after percent-decoding.
pub fn forwarded_query(uri: &Uri) -> String {
    let Some(q) = uri.query() else {
        return String::new();
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            let decoded = percent_decode(name);
            FORWARDED_PARAMS.contains(&decoded.as_str()) && decoded == name
        })
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    }
}

/// A page the gateway serves itself (a merged or cached list): `(start, size)` from `pageSize`
/// (`default` when absent or 0, at most `max`) and the gateway's own `pageToken` (`gw-N`);
/// `None` for a token that is not one of the gateway's.
pub fn gateway_page(uri: &Uri, default: usize, max: usize) -> Option<(usize, usize)> {
    let param = |name: &str| {
        uri.query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .map(percent_decode)
    };
    let size = param("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(default, |n| n.min(max));
    let start = match param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t.strip_prefix("gw-")?.parse::<usize>().ok()?,
    };
    Some((start, size))
}

/// Minimal `%XX` and `+` decoding for a query value (never panics on odd input).
pub fn percent_decode(v: &str) -> String {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_key_is_stripped_from_the_query() {
        let q = |s: &str| forwarded_query(&s.parse::<Uri>().unwrap());
        assert_eq!(q("/x?alt=sse&key=AIzaSECRET"), "?alt=sse");
        assert_eq!(q("/x?key=AIzaSECRET"), "");
        assert_eq!(q("/x?keyword=1&key"), "");
        assert_eq!(q("/x"), "");
        assert_eq!(
            q("/x?%6Bey=SECRET&access_token=t&alt=sse&pageSize=5"),
            "?alt=sse&pageSize=5"
        );
        assert_eq!(q("/x?%61lt=sse&pageToken=abc"), "?pageToken=abc");
    }

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("%é%4"), "%é%4");
        assert_eq!(percent_decode("a%20b+c%zz"), "a b c%zz");
    }
}
