//! The door's settings: the client and operator keys, kept only as SHA-256 digests and compared
//! in constant time (neither a key's content nor its length leaks through timing), and the bounds
//! for reading away a refused body.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients::{Clients, Limiter};
use crate::config::Config;
use crate::secret::Secret;

/// The door: who may come in, and how long a refused body may take to be read away.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `GATEWAY_API_KEYS` and the config file's clients, as digests; none means open. Replaced
    /// whole on a reload.
    clients: Arc<RwLock<Arc<Clients>>>,
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
            clients: Arc::new(RwLock::new(Arc::new(Clients::new(
                &config.gateway_api_keys,
                &config.clients,
            )))),
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

    /// The client keys now.
    pub fn clients(&self) -> Arc<Clients> {
        self.clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// New client keys (a reload); requests already admitted keep going.
    pub fn replace_clients(&self, clients: Clients) {
        *self.clients.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(clients);
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
        self.matching(presented).is_some()
    }

    /// The name of the secret a presented credential matches (`client-` and the first 8 hex
    /// digits of its SHA-256: a name for metrics and usage that says nothing of the key), if
    /// any. Every comparison runs.
    pub fn matching(&self, presented: &[String]) -> Option<String> {
        let mut found: Option<&[u8; 32]> = None;
        for p in presented {
            let d = digest(p);
            for known in &self.digests {
                if bool::from(d.ct_eq(known)) {
                    found = Some(known);
                }
            }
        }
        found.map(|d| {
            let hex: String = d[..4].iter().map(|b| format!("{b:02x}")).collect();
            format!("client-{hex}")
        })
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
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
        let name = s.matching(&["alpha".into()]).unwrap();
        assert!(name.starts_with("client-") && name.len() == 15, "{name}");
        assert_ne!(Some(name), s.matching(&["beta".into()]));
    }
}
