//! `UPSTREAM_PROXY`: the proxy every connection to Gemini goes through — `http://`, `https://`,
//! `socks5://` (names resolved by the gateway) or `socks5h://` (by the proxy), credentials in
//! the URL. The URL and its password are secrets: registered, never logged.

use super::ConfigError;
use crate::secret::Secret;

/// The standard proxy variables: their values are secrets too (they may hold credentials).
const STANDARD: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Registers the standard proxy variables' values in the environment (where the HTTP client
/// reads them), and their passwords, as secrets.
fn register_standard() {
    for name in STANDARD {
        if let Ok(v) = std::env::var(name) {
            if !v.trim().is_empty() {
                secret(v.trim());
            }
        }
    }
}

/// A proxy URL as a secret, its password (as written and decoded) registered too, should a
/// message print only that part.
fn secret(value: &str) -> Secret {
    if let Ok(url) = url::Url::parse(value) {
        if let Some(password) = url.password() {
            let _ = Secret::new(password);
            if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
                let _ = Secret::new(&decoded);
            }
        }
    }
    Secret::new(value)
}

const SCHEMES: &[&str] = &["http", "https", "socks5", "socks5h"];

/// The validated proxy, if one is set. Registers every proxy URL the client may use — this one
/// and the standard variables' — as secrets.
pub fn upstream_proxy(value: Option<&str>) -> Result<Option<Secret>, ConfigError> {
    register_standard();
    let Some(value) = value else {
        return Ok(None);
    };
    let secret = secret(value);
    let bad = |problem| ConfigError::Invalid {
        name: "UPSTREAM_PROXY",
        value: "(hidden: it may hold a password)".into(),
        problem,
    };
    let url = url::Url::parse(value)
        .map_err(|_| bad("must be a URL like http://host:3128 or socks5h://user:pass@host:1080"))?;
    if !SCHEMES.contains(&url.scheme()) {
        return Err(bad(
            "must start with http://, https://, socks5:// or socks5h://",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name the proxy's host"));
    }
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_checked_and_their_passwords_kept_secret() {
        assert!(upstream_proxy(None).unwrap().is_none());
        for ok in [
            "http://proxy:3128",
            "https://p.example:443",
            "socks5://127.0.0.1:1080",
            "socks5h://u:p%40ss@proxy:1080",
        ] {
            assert!(upstream_proxy(Some(ok)).unwrap().is_some(), "{ok}");
        }
        for bad in ["proxy:3128", "ftp://proxy", "socks4://proxy:1080"] {
            let e = upstream_proxy(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("UPSTREAM_PROXY") && !e.contains(bad), "{e}");
        }
        upstream_proxy(Some("http://user:hunter2-proxy-pass@proxy:3128")).unwrap();
        assert!(
            !crate::secret::redact("auth hunter2-proxy-pass failed").contains("hunter2-proxy-pass")
        );
    }
}
