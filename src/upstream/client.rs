//! The HTTP client that calls Gemini: one connection pool for the process, TCP_NODELAY, keys only
//! in the `x-goog-api-key` header (never in a URL, where they would leak into logs and errors).

use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::pool::ApiKey;

/// What to send upstream, independent of which key sends it.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// Path and query, e.g. `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`.
    /// Never contains a key.
    pub path_and_query: String,
    pub body: Option<Bytes>,
}

/// The shared upstream client.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    base_url: String,
}

impl UpstreamClient {
    pub fn new(base_url: &str) -> Result<UpstreamClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("gemini-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(UpstreamClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Sends one attempt with `key`. Resolves when the response headers arrive.
    pub async fn send(
        &self,
        key: &ApiKey,
        req: &UpstreamRequest,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let url = format!("{}{}", self.base_url, req.path_and_query);
        let mut builder = self.http.request(req.method.clone(), url);
        if let Ok(mut value) = http::HeaderValue::from_str(key.expose()) {
            // Sensitive: HTTP/2 never indexes it in HPACK tables, and debug output hides it.
            value.set_sensitive(true);
            builder = builder.header("x-goog-api-key", value);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        builder.send().await
    }
}
