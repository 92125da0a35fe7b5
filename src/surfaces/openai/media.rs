//! Images and files given by `http(s)` URL, fetched by the gateway before translating (Gemini
//! reads only inline data and its own file URIs). Bounded: at most [`MAX_MEDIA_BYTES`] each,
//! [`FETCH_TIMEOUT`] each, [`MAX_MEDIA_PER_REQUEST`] per request, and only image, audio, video,
//! PDF and text content types.
//!
//! `MEDIA_FETCH` decides what may be fetched: `public` (the default) refuses hosts that are or
//! resolve to loopback, private, link-local or otherwise internal addresses — redirects
//! included — so a client cannot make the gateway read its own network; `all` fetches any host
//! (a gateway used only by trusted clients, and the tests); `off` refuses every URL with a 400
//! that says to send the data inline.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;

pub use crate::config::MediaFetch;

use super::chat::request::Media;
use super::errors::OpenAiError;
use crate::upstream::wire::InlineData;

/// Largest media fetched (Gemini's inline data limit is 20 MB per request).
pub const MAX_MEDIA_BYTES: usize = 20 * 1024 * 1024;
/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Most URLs fetched for one request.
pub const MAX_MEDIA_PER_REQUEST: usize = 16;

/// Fetches media for requests.
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: MediaFetch,
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(policy: MediaFetch) -> Fetcher {
        let mut builder = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .tcp_nodelay(true)
            .user_agent(concat!("gemini-gateway/", env!("CARGO_PKG_VERSION")));
        if policy == MediaFetch::Public {
            builder = builder.dns_resolver(Arc::new(PublicOnly)).redirect(
                reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 5 {
                        attempt.error("too many redirects")
                    } else if literal_internal(attempt.url()) {
                        attempt.error("a redirect to an internal address")
                    } else {
                        attempt.follow()
                    }
                }),
            );
        }
        // The builder fails only on a broken TLS backend; a default client then still fetches.
        let client = builder.build().unwrap_or_default();
        Fetcher { policy, client }
    }

    /// Every URL in `urls`, fetched (in parallel), or the 400 naming the one that failed.
    pub async fn fetch_all(&self, urls: &[&str]) -> Result<Media, OpenAiError> {
        let mut media = Media::new();
        if urls.is_empty() {
            return Ok(media);
        }
        if self.policy == MediaFetch::Off {
            return Err(OpenAiError::invalid(
                "This gateway does not fetch media URLs (MEDIA_FETCH=off): send the image as a data: URL.",
            ));
        }
        if urls.len() > MAX_MEDIA_PER_REQUEST {
            return Err(OpenAiError::invalid(format!(
                "At most {MAX_MEDIA_PER_REQUEST} media URLs are fetched per request; send the rest as data: URLs."
            )));
        }
        let fetches = urls
            .iter()
            .map(|u| async move { (*u, self.fetch(u).await) });
        for (url, got) in futures_util::future::join_all(fetches).await {
            let data = got.map_err(|why| {
                OpenAiError::invalid(format!("Could not fetch the media at {}: {why}", clip(url)))
            })?;
            media.insert(url.to_string(), data);
        }
        Ok(media)
    }

    async fn fetch(&self, url: &str) -> Result<InlineData, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
        if self.policy == MediaFetch::Public && literal_internal(&parsed) {
            return Err(
                "the address is internal, and MEDIA_FETCH=public fetches only public hosts".into(),
            );
        }
        let resp = self.client.get(parsed).send().await.map_err(describe)?;
        if !resp.status().is_success() {
            return Err(format!("the server answered {}", resp.status()));
        }
        let mime = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if !accepted_type(&mime) {
            return Err(format!(
                "its content type `{}` is not an image, audio, video, PDF or text",
                clip(&mime)
            ));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_MEDIA_BYTES as u64)
        {
            return Err(format!("it is larger than {MAX_MEDIA_BYTES} bytes"));
        }
        let mut body = Vec::new();
        let mut chunks = resp.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(describe)?;
            if body.len() + chunk.len() > MAX_MEDIA_BYTES {
                return Err(format!("it is larger than {MAX_MEDIA_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(InlineData {
            mime_type: mime,
            data: base64::engine::general_purpose::STANDARD.encode(body),
        })
    }
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", FETCH_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "the host could not be reached (or is internal)".into()
    } else {
        // reqwest's own message names the URL, which the caller already shows.
        "the transfer failed".into()
    }
}

fn accepted_type(mime: &str) -> bool {
    mime.starts_with("image/")
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || mime.starts_with("text/")
        || mime == "application/pdf"
}

/// Whether the URL's host is an IP literal that is not public (names are checked when they
/// resolve).
fn literal_internal(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => true,
    }
}

/// Whether `ip` is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// A resolver that answers only with public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("the host resolves to no public address".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "142.250.1.1", "2001:4860:4860::8888"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_before_any_connection() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(literal_internal(&u("http://127.0.0.1:8080/a.png")));
        assert!(literal_internal(&u("http://[::1]/a.png")));
        assert!(literal_internal(&u("http://localhost/a.png")));
        assert!(!literal_internal(&u("https://example.com/a.png")));
    }

    #[tokio::test]
    async fn off_and_public_refuse_with_a_400() {
        let off = Fetcher::new(MediaFetch::Off);
        let e = off
            .fetch_all(&["https://example.com/a.png"])
            .await
            .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("MEDIA_FETCH=off"), "{}", e.message);
        let public = Fetcher::new(MediaFetch::Public);
        let e = public
            .fetch_all(&["http://127.0.0.1:9/a.png"])
            .await
            .unwrap_err();
        assert!(e.message.contains("internal"), "{}", e.message);
        assert!(public.fetch_all(&[]).await.unwrap().is_empty());
    }
}
