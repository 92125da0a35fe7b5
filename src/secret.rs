//! Secrets and the only safe ways to name them. A Gemini key ([`ApiKey`]) is shown to people
//! masked (`AIzaSy...o_rA`, the seed's format) and to URLs and logs by a short fingerprint id;
//! every other credential the process holds (client keys, the admin key, a Redis URL with its
//! password) is a [`Secret`]. Neither type's `Debug` or `Display` ever shows the secret.
//!
//! Making either one registers it in the process's one registry of secrets, so [`redact`] can
//! scrub every secret the process knows from text that came from elsewhere (an upstream error
//! body, a transport error, a panic message) — wherever the secret came from: the environment,
//! `.env`, the admin API or a state store. This module is a leaf: it imports nothing of the
//! gateway.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

/// A secret Gemini API key. Cheap to clone (shared).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    secret: Arc<str>,
    id: Arc<str>,
    masked: Arc<str>,
}

impl ApiKey {
    /// Wraps (and registers) a key.
    pub fn new(secret: &str) -> ApiKey {
        register(secret);
        ApiKey {
            id: fingerprint(secret).into(),
            masked: mask(secret).into(),
            secret: secret.into(),
        }
    }

    /// The secret, for the upstream `x-goog-api-key` header (and the embedded store, which is as
    /// private as `.env`) only.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// A short stable id: the first 12 hex digits of the key's SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id, shared (for telemetry that keeps it without copying).
    pub fn shared_id(&self) -> &Arc<str> {
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

/// Any other credential: a client key, the admin key, a Redis URL that may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps (and registers) a credential.
    pub fn new(secret: &str) -> Secret {
        register(secret);
        Secret(secret.into())
    }

    /// The credential itself, for comparing digests or connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", mask(&self.0))
    }
}

/// The hex SHA-256 prefix that names a key everywhere a person or a URL sees it.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The seed's masking (`AIzaSy...o_rA`), widened so that a short secret never shows more than a
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

/// Every secret the process has held, with its masked form, longest first (so a secret that
/// contains another is replaced whole).
static REGISTRY: RwLock<Vec<(Arc<str>, Arc<str>)>> = RwLock::new(Vec::new());

/// Shortest secret that is scrubbed from text: shorter strings are too common to be replaced
/// wherever they occur (a one-letter client key would eat every `a` of a message), and masked
/// forms show nothing of them anyway.
pub const MIN_REDACTED_LEN: usize = 8;

/// Adds a secret to the registry (once).
fn register(secret: &str) {
    if secret.len() < MIN_REDACTED_LEN {
        return;
    }
    let known = |all: &Vec<(Arc<str>, Arc<str>)>| all.iter().any(|(s, _)| &**s == secret);
    if known(&REGISTRY.read().unwrap_or_else(|p| p.into_inner())) {
        return;
    }
    let mut all = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    if !known(&all) {
        let at = all.partition_point(|(s, _)| s.len() >= secret.len());
        all.insert(at, (secret.into(), mask(secret).into()));
    }
}

/// `text` with every registered secret replaced by its masked form; borrowed when it held none.
pub fn redact(text: &str) -> Cow<'_, str> {
    let all = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for (secret, masked) in all.iter() {
        if out.contains(&**secret) {
            out = Cow::Owned(out.replace(&**secret, masked));
        }
    }
    out
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
        let s = Secret::new("client-secret-of-some-length");
        assert_eq!(format!("{s:?}"), "Secret(client...ngth)");
    }

    #[test]
    fn id_is_stable_short_hex() {
        let a = ApiKey::new(KEY);
        assert_eq!(a.id(), ApiKey::new(KEY).id());
        assert_eq!(a.id().len(), 12);
        assert!(a.id().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.id(), ApiKey::new("another-key-of-some-length").id());
    }

    #[test]
    fn every_secret_made_is_redacted_from_text() {
        let key = ApiKey::new("AIzaSyRegistryTestSecretxxxxxxxxxx1234");
        let client = Secret::new("a-client-key-registered-here");
        let text = format!("boom: {} and {} failed", key.expose(), client.expose());
        assert_eq!(
            redact(&text),
            "boom: AIzaSy...1234 and a-clie...here failed"
        );
        assert!(matches!(redact("nothing secret"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_inside_another_is_replaced_whole_and_short_ones_are_left() {
        let inner = Secret::new("inner-secret-0001");
        let outer = Secret::new("outer-inner-secret-0001-tail");
        assert_eq!(
            redact(&format!("[{}] [{}]", outer.expose(), inner.expose())),
            "[outer-...tail] [in...1]"
        );
        Secret::new("abc");
        assert_eq!(redact("abc abc"), "abc abc");
    }
}
