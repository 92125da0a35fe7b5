//! The door's settings: the client and operator keys, kept only as SHA-256 digests and compared
//! in constant time (neither a key's content nor its length leaks through timing), and the bounds
//! for reading away a refused body.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients::{Clients, Limiter};
use crate::config::Config;
use crate::secret::Secret;

/// The door: who may come in, and how long a refused body may take to be read away.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `GATEWAY_API_KEYS` and the config file's clients, as digests; none means open. Swapped
    /// whole by a reload (`SIGHUP`); a request reads the list once.
    pub clients: Arc<ArcSwap<Clients>>,
    /// Counts what limited clients spend (absent in tests that need no limits).
    pub limiter: Option<Arc<Limiter>>,
    /// `ADMIN_API_KEY`, as a digest; empty means the admin API is off.
    pub admin_key: Arc<Secrets>,
    pub max_body_bytes: usize,
    pub client_timeout: Duration,
}

impl Gate {
    pub fn new(config: &Config) -> Gate {
        Gate {
            clients: Arc::new(ArcSwap::from_pointee(Clients::new(
                &config.gateway_api_keys,
                &config.clients,
            ))),
            limiter: None,
            admin_key: Arc::new(Secrets::new(&config.admin_api_key)),
            max_body_bytes: config.max_body_bytes,
            client_timeout: config.client_timeout,
        }
    }

    pub fn with_limiter(mut self, limiter: Arc<Limiter>) -> Gate {
        self.limiter = Some(limiter);
        self
    }
}

/// A set of accepted secrets, kept only as digests.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    digests: Vec<[u8; 32]>,
}

impl Secrets {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Secrets {
        Secrets {
            digests: secrets.into_iter().map(|s| digest(s.expose())).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether any presented credential is one of the secrets. Every comparison runs.
    pub fn accepts(&self, presented: &[String]) -> bool {
        find(&self.digests, |d| d, presented).is_some()
    }
}

/// A secret's SHA-256, the only form the gateway keeps of client and operator keys.
pub fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The item whose digest a presented credential's digest equals, if any. Every comparison runs
/// (constant time: neither a key's content nor its length leaks through timing).
pub fn find<'a, T>(
    items: &'a [T],
    digest_of: impl Fn(&T) -> &[u8; 32],
    presented: &[String],
) -> Option<&'a T> {
    let mut found = None;
    for p in presented {
        let d = digest(p);
        for item in items {
            if bool::from(d.ct_eq(digest_of(item))) {
                found = Some(item);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_exactly() {
        let s = Secrets::new(&[Secret::new("alpha"), Secret::new("beta")]);
        assert!(s.accepts(&["beta".into()]));
        assert!(s.accepts(&["nope".into(), "alpha".into()]));
        assert!(!s.accepts(&["alph".into(), "alphaa".into(), String::new()]));
        assert!(!s.accepts(&[]));
        assert!(Secrets::default().is_empty());
    }
}
