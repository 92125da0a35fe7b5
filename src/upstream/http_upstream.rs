//! The real [`Upstream`]: HTTP to `GEMINI_BASE_URL`, one connection pool for the process. With
//! no proxy in the way it sends by hyper's client directly ([`super::direct`]); through a proxy
//! (`UPSTREAM_PROXY` or the standard `*_PROXY` variables) by reqwest, which speaks HTTP CONNECT
//! and SOCKS. Either way the key goes only in the `x-goog-api-key` header, never in a URL.

use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};

use super::client::{
    kept_header, key_header, TransportError, Upstream, UpstreamRequest, UpstreamResponse,
    KEY_HEADER,
};
use super::coalesce::coalesced;
use super::direct::DirectClient;
use crate::secret::{ApiKey, Secret};

/// Why the HTTP client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("UPSTREAM_PROXY cannot be used: {0}")]
    Proxy(reqwest::Error),
    #[error("UPSTREAM_CA_FILE {0}: {1}")]
    CaFile(String, String),
    #[error("{0}")]
    Build(reqwest::Error),
}

/// The real upstream: HTTP to `GEMINI_BASE_URL`.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    transport: Transport,
    base_url: String,
}

/// How requests reach Gemini: hyper's client directly, or reqwest when a proxy is in the way.
#[derive(Debug, Clone)]
enum Transport {
    Direct(Box<DirectClient>),
    Proxied(reqwest::Client),
}

/// The variables reqwest reads for a proxy (each also in lower case).
const PROXY_VARIABLES: [&str; 3] = ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY"];

/// Whether any `*_PROXY` variable is set (`NO_PROXY` is left to reqwest, which reads it).
fn proxy_in_environment() -> bool {
    PROXY_VARIABLES.iter().any(|name| {
        [name.to_string(), name.to_lowercase()]
            .iter()
            .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
    })
}

impl HttpUpstream {
    /// A client for `base_url`, through `proxy` when one is given (else through the standard
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, minus `NO_PROXY`, when those are set), trusting
    /// the certificates in `ca_file` besides the usual roots.
    pub fn new(
        base_url: &str,
        proxy: Option<&Secret>,
        ca_file: Option<&Path>,
    ) -> Result<HttpUpstream, ClientError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let ca_error = |why: String| {
            let path = ca_file.map(|p| p.display().to_string()).unwrap_or_default();
            ClientError::CaFile(path, why)
        };
        let pem = match ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| ca_error(e.to_string()))?),
            None => None,
        };
        if proxy.is_none() && !proxy_in_environment() {
            let direct = DirectClient::new(&base_url, pem.as_deref()).map_err(|e| ca_error(e.0))?;
            return Ok(HttpUpstream {
                transport: Transport::Direct(Box::new(direct)),
                base_url,
            });
        }
        let mut builder = reqwest::Client::builder();
        if let Some(proxy) = proxy {
            builder =
                builder.proxy(reqwest::Proxy::all(proxy.expose()).map_err(ClientError::Proxy)?);
        }
        if let Some(pem) = &pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ca_error(e.to_string()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("gemini-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(HttpUpstream {
            transport: Transport::Proxied(http),
            base_url,
        })
    }
}

impl Upstream for HttpUpstream {
    fn send<'a>(
        &'a self,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        match &self.transport {
            Transport::Direct(direct) => direct.send(&self.base_url, key, req),
            Transport::Proxied(http) => self.send_by_reqwest(http, key, req),
        }
    }
}

impl HttpUpstream {
    fn send_by_reqwest<'a>(
        &'a self,
        http: &'a reqwest::Client,
        key: &'a ApiKey,
        req: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, TransportError>> {
        let url = format!("{}{}", self.base_url, req.path_and_query);
        let mut builder = http.request(req.method.clone(), url);
        if let Some(value) = key_header(key) {
            builder = builder.header(KEY_HEADER, value);
        }
        let extra = req.extra.as_deref();
        let content_type = req.content_type();
        if let Some(body) = &req.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, content_type.clone())
                .body(body.clone());
        }
        if let Some(extra) = extra {
            for (name, value) in &extra.headers {
                builder = builder.header(name, value);
            }
            if let Some(streamed) = &extra.streamed {
                let Some(body) = streamed.take() else {
                    return Box::pin(async {
                        Err(TransportError::new(
                            "the upload's body was already sent to another key",
                        ))
                    });
                };
                builder = builder
                    .header(http::header::CONTENT_TYPE, content_type)
                    .body(reqwest::Body::wrap_stream(body));
            }
        }
        Box::pin(async move {
            let resp = builder.send().await.map_err(TransportError::new)?;
            let headers = resp
                .headers()
                .iter()
                .filter(|(n, _)| kept_header(n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            Ok(UpstreamResponse {
                status: resp.status(),
                content_type: resp.headers().get(http::header::CONTENT_TYPE).cloned(),
                headers,
                body: coalesced(resp.bytes_stream().map_err(TransportError::new).boxed()),
            })
        })
    }
}
