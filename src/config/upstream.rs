//! Where Gemini is and how to reach it (`GEMINI_BASE_URL`, `UPSTREAM_PROXY`,
//! `UPSTREAM_CA_FILE`): what the gateway and `check-keys` both need.

use std::collections::HashMap;

use super::settings::{invalid, setting};
use super::{proxy, ConfigError};
use crate::secret::Secret;

/// Where Gemini is and how to reach it.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `GEMINI_BASE_URL`, without a trailing `/`.
    pub base_url: String,
    /// `UPSTREAM_PROXY`: every connection to Gemini goes through it (the URL may hold
    /// credentials). `None`: the standard `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` apply.
    pub proxy: Option<Secret>,
    /// `UPSTREAM_CA_FILE`: PEM certificates trusted for Gemini's TLS besides the usual roots
    /// (a TLS-inspecting corporate proxy, a private mirror).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Upstream {
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Upstream, ConfigError> {
        let get = |name: &str| setting(vars, name);
        let base_url = get("GEMINI_BASE_URL")
            .unwrap_or("https://generativelanguage.googleapis.com")
            .trim_end_matches('/')
            .to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(invalid(
                "GEMINI_BASE_URL",
                get,
                "must start with http:// or https://",
            ));
        }
        Ok(Upstream {
            base_url,
            proxy: proxy::upstream_proxy(get("UPSTREAM_PROXY"))?,
            ca_file: get("UPSTREAM_CA_FILE").map(Into::into),
        })
    }
}
