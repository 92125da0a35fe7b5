//! Keys an operator adds through the admin API must reach the other gateways sharing a Redis,
//! yet no key may sit in Redis in clear text. They are sealed with ChaCha20-Poly1305 under a key
//! derived from `ADMIN_API_KEY` (which every gateway allowed to add keys shares): Redis holds
//! `base64(nonce ‖ ciphertext)`, and a gateway without the admin key cannot read them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

/// Seals and opens secrets with one derived key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn from_secret(secret: &str) -> Sealer {
        let mut h = Sha256::new();
        h.update(b"gemini-gateway sealed pool keys v1\0");
        h.update(secret.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// `base64(nonce ‖ ciphertext)`; `None` only if encryption itself fails.
    pub fn seal(&self, plain: &str) -> Option<String> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self.cipher.encrypt(&nonce, plain.as_bytes()).ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(STANDARD.encode(out))
    }

    /// The secret, or `None` when it was sealed under another key or tampered with.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, body) = raw.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_secret() {
        let a = Sealer::from_secret("admin-one");
        let sealed = a.seal("AIzaSySecretKeyxxxxxxxxxxxxxxxxxxxxxxxx").unwrap();
        assert!(!sealed.contains("AIza"));
        assert_ne!(
            sealed,
            a.seal("AIzaSySecretKeyxxxxxxxxxxxxxxxxxxxxxxxx").unwrap(),
            "fresh nonce"
        );
        assert_eq!(
            a.open(&sealed).as_deref(),
            Some("AIzaSySecretKeyxxxxxxxxxxxxxxxxxxxxxxxx")
        );
        assert_eq!(Sealer::from_secret("admin-two").open(&sealed), None);
        assert_eq!(a.open("bm90IHNlYWxlZA=="), None);
        assert_eq!(a.open("%%%"), None);
        assert_eq!(format!("{a:?}"), "Sealer(..)");
    }
}
