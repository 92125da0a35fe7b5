//! A Gemini API key and the two safe ways to name it: a masked form for people (`AIzaSy...o_rA`,
//! the seed's format) and a short stable id for URLs and logs. The secret itself is only read
//! when the upstream request header is built; `Debug` and `Display` never show it.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// A secret Gemini API key. Cheap to clone (shared).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    secret: Arc<str>,
    id: Arc<str>,
    masked: Arc<str>,
}

impl ApiKey {
    pub fn new(secret: &str) -> ApiKey {
        ApiKey {
            id: fingerprint(secret).into(),
            masked: mask(secret).into(),
            secret: secret.into(),
        }
    }

    /// The secret, for the upstream `x-goog-api-key` header only.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// A short stable id: the first 12 hex digits of the key's SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// First 6 characters, `...`, last 4 (shorter keys show less).
    pub fn masked(&self) -> &str {
        &self.masked
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

/// The hex SHA-256 prefix that names a key everywhere a person or a URL sees it.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The seed's masking (`AIzaSy...o_rA`), widened so that a short key never shows more than a
/// third of its characters.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    let (head, tail) = if n >= 20 {
        (6, 4)
    } else if n >= 9 {
        (2, 1)
    } else {
        (0, 0)
    };
    let head: String = chars[..head].iter().collect();
    let tail: String = chars[n - tail..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AIzaSyD4x9Qm2Lr8Vt6Wn3Pk1Jh7Gf5Ds0o_rA";

    #[test]
    fn masks_like_the_seed() {
        assert_eq!(mask(KEY), "AIzaSy...o_rA");
        assert_eq!(ApiKey::new(KEY).masked(), "AIzaSy...o_rA");
    }

    #[test]
    fn short_keys_reveal_little() {
        assert_eq!(mask("abcdefghij"), "ab...j");
        assert_eq!(mask("short"), "...");
        assert_eq!(mask(""), "...");
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let k = ApiKey::new(KEY);
        assert!(!format!("{k:?}").contains(KEY));
        assert!(!format!("{k}").contains(KEY));
        assert_eq!(format!("{k}"), "AIzaSy...o_rA");
    }

    #[test]
    fn id_is_stable_short_hex() {
        let a = ApiKey::new(KEY);
        assert_eq!(a.id(), ApiKey::new(KEY).id());
        assert_eq!(a.id().len(), 12);
        assert!(a.id().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.id(), ApiKey::new("another-key-of-some-length").id());
    }
}
