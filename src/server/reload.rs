//! Reload without restart (`SIGHUP`): the gateway reads `.env` and the config file again and
//! applies what can change live — the Gemini key list (new keys join; keys no longer listed take
//! no new request and finish the ones they carry) and the client keys with their limits. Every
//! other setting takes effect at the next start; a reload names those that changed in one log
//! line. A reading that does not validate changes nothing. The process environment is read too
//! and still wins over `.env` and the file, so a setting given in the environment cannot be
//! changed by editing them.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::clients::Clients;
use super::spend_caps::SpendCaps;
use crate::config::{Config, Fingerprint};
use crate::pool::KeyPool;
use crate::telemetry::Telemetry;

/// The settings a reload applies; the others wait for a restart. (The config file's
/// `[[clients]]`, `[[prices]]` and `[[projects]]` are applied too.)
pub const LIVE: &[&str] = &["GEMINI_API_KEY", "GATEWAY_API_KEYS", "MODEL_SERVICE_TIERS"];

/// Applies reloaded configurations to the running gateway.
#[derive(Debug)]
pub struct Reloader {
    pool: Arc<KeyPool>,
    clients: Arc<ArcSwap<Clients>>,
    /// The settings the process started with (what a restart would change).
    started: Fingerprint,
    /// The listener accepts other machines and unauthenticated access was not asked for: a
    /// reading without client keys would open the door, so it is refused.
    needs_client_keys: bool,
    configured: tokio::sync::Mutex<Configured>,
    /// Where the price table, the tiers per model and the project caps go.
    money: Option<(Arc<Telemetry>, Arc<SpendCaps>)>,
}

/// The key list as the reloads left it.
#[derive(Debug)]
struct Configured {
    /// The ids of the configured keys last applied (keys the admin API added are not among
    /// them, so a reload leaves those alone).
    ids: Vec<String>,
    /// Keys a reload took out (a configured key missing from the pool otherwise left through
    /// the admin API, and a reload does not bring it back).
    left: HashSet<String>,
}

/// What a reload changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Ids of the keys that joined and left.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Configured keys the admin API removed, kept out.
    pub held_out: Vec<String>,
    /// Client keys now accepted.
    pub clients: usize,
    /// Settings that differ from the running ones and take effect at the next start.
    pub needs_restart: Vec<&'static str>,
}

/// Why a reading was not applied.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the gateway listens beyond this machine and the new configuration has no client keys \
         (GATEWAY_API_KEYS or [[clients]]): that would let anyone in"
    )]
    WouldOpenTheDoor,
}

impl Reloader {
    pub fn new(config: &Config, pool: Arc<KeyPool>, clients: Arc<ArcSwap<Clients>>) -> Reloader {
        Reloader {
            pool,
            clients,
            started: config.fingerprint.clone(),
            needs_client_keys: !config.host.is_loopback() && !config.allow_unauthenticated,
            configured: tokio::sync::Mutex::new(Configured {
                ids: ids(config),
                left: HashSet::new(),
            }),
            money: None,
        }
    }

    /// A reload also replaces the price table and tiers in `telemetry` and the caps.
    pub fn with_money(mut self, telemetry: Arc<Telemetry>, caps: Arc<SpendCaps>) -> Reloader {
        self.money = Some((telemetry, caps));
        self
    }

    /// Applies `config`'s keys and clients. New keys join (in their declared project) before
    /// old ones leave, so the pool is never empty.
    pub async fn apply(&self, config: &Config) -> Result<Outcome, Refusal> {
        if self.needs_client_keys && config.gateway_api_keys.is_empty() && config.clients.is_empty()
        {
            return Err(Refusal::WouldOpenTheDoor);
        }
        let mut configured = self.configured.lock().await;
        let now = ids(config);
        let (mut added, mut held_out) = (Vec::new(), Vec::new());
        for key in &config.keys {
            let id = key.id().to_string();
            if self.pool.index_of(&id).is_some() {
                continue;
            }
            if configured.ids.contains(&id) && !configured.left.contains(&id) {
                held_out.push(id);
                continue;
            }
            let project = config.quota.groups.get(&id).map(String::as_str);
            if self.pool.join(key.clone(), project) {
                if let Some(rules) = config.quota.key_models.get(&id) {
                    self.pool.set_key_models(&id, Some(rules.clone()));
                }
                configured.left.remove(&id);
                added.push(id);
            }
        }
        let keep: HashSet<&String> = now.iter().collect();
        let removed: Vec<String> = configured
            .ids
            .iter()
            .filter(|id| !keep.contains(id) && self.pool.leave(id))
            .cloned()
            .collect();
        configured.left.extend(removed.iter().cloned());
        configured.ids = now;
        let clients = Clients::new(&config.gateway_api_keys, &config.clients);
        let count = clients.len();
        self.clients.store(Arc::new(clients));
        if let Some((telemetry, caps)) = &self.money {
            telemetry.set_pricing(config.money.pricing.clone());
            caps.set(config.money.project_caps.clone());
        }
        let needs_restart = self
            .started
            .changed(&config.fingerprint)
            .into_iter()
            .filter(|name| !LIVE.contains(name))
            .collect();
        Ok(Outcome {
            added,
            removed,
            held_out,
            clients: count,
            needs_restart,
        })
    }

    /// Reads the configuration again and applies it, logging what changed; a configuration
    /// that does not validate (or would open the door) is logged and changes nothing.
    pub async fn reload(&self) {
        let read = tokio::task::spawn_blocking(Config::from_env).await;
        let config = match read {
            Ok(Ok(config)) => config,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "reload refused; the running configuration is kept");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; the running configuration is kept");
                return;
            }
        };
        let outcome = match self.apply(&config).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "reload refused; the running configuration is kept");
                return;
            }
        };
        tracing::info!(
            added = ?outcome.added,
            removed = ?outcome.removed,
            keys = self.pool.len(),
            clients = outcome.clients,
            "reloaded"
        );
        if !outcome.held_out.is_empty() {
            tracing::warn!(
                keys = ?outcome.held_out,
                "reload: configured keys the admin API removed stay out (add them back with the admin API)"
            );
        }
        if !outcome.needs_restart.is_empty() {
            tracing::warn!(
                settings = %outcome.needs_restart.join(", "),
                "reload: these settings changed and take effect at the next start"
            );
        }
    }
}

fn ids(config: &Config) -> Vec<String> {
    config.keys.iter().map(|k| k.id().to_string()).collect()
}

/// Starts listening for `SIGHUP` (from here on a hang-up no longer ends the process).
#[cfg(unix)]
pub fn hangups() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
        .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; reload is off"))
        .ok()
}

/// Reloads on every `SIGHUP`, until the process ends.
#[cfg(unix)]
pub async fn on_hangup(hangups: Option<tokio::signal::unix::Signal>, reloader: Reloader) {
    let Some(mut hangups) = hangups else { return };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP received; reloading .env and the config file");
        reloader.reload().await;
    }
}

/// Without signals there is nothing to listen for.
#[cfg(not(unix))]
pub fn hangups() -> Option<()> {
    None
}

#[cfg(not(unix))]
pub async fn on_hangup(_hangups: Option<()>, _reloader: Reloader) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::pool::Clock;
    use crate::store::Backend;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_vars(&crate::config::tests::vars(pairs)).unwrap()
    }

    const A: &str = "AIzaSyReloadTestKeyAAAAAAAAAAAAAAAAAAAA";
    const B: &str = "AIzaSyReloadTestKeyBBBBBBBBBBBBBBBBBBBB";
    const C: &str = "AIzaSyReloadTestKeyCCCCCCCCCCCCCCCCCCCC";
    const D: &str = "AIzaSyReloadTestKeyDDDDDDDDDDDDDDDDDDDD";

    async fn started_with(first: &Config) -> (Reloader, Arc<KeyPool>, Arc<ArcSwap<Clients>>) {
        let pool = Arc::new(
            KeyPool::open(
                first.keys.clone(),
                &first.quota,
                first.key_cooldown,
                Clock::starting_at(1_780_000_000_000),
                Backend::Volatile,
            )
            .await
            .unwrap(),
        );
        let clients = Arc::new(ArcSwap::from_pointee(Clients::new(
            &first.gateway_api_keys,
            &first.clients,
        )));
        (
            Reloader::new(first, pool.clone(), clients.clone()),
            pool,
            clients,
        )
    }

    fn id(key: &str) -> String {
        crate::secret::ApiKey::new(key).id().to_string()
    }

    #[tokio::test]
    async fn keys_join_and_leave_clients_are_replaced_and_the_rest_waits_for_a_restart() {
        let first = config(&[("GEMINI_API_KEY", &format!("{A},{B}")), ("PORT", "8082")]);
        let (reloader, pool, clients) = started_with(&first).await;
        assert!(clients.load().is_empty());
        let admin_added = crate::secret::ApiKey::new("AIzaSyReloadTestKeyAdminAddedXXXXXXXXXX");
        assert!(pool.join(admin_added.clone(), None));

        let second = config(&[
            ("GEMINI_API_KEY", &format!("{B},{C}")),
            ("GATEWAY_API_KEYS", "client-secret-one"),
            ("PORT", "9000"),
            ("BIG_MODEL", "gemini-3-pro-preview"),
        ]);
        let outcome = reloader.apply(&second).await.unwrap();
        assert_eq!(outcome.added, [id(C)]);
        assert_eq!(outcome.removed, [id(A)]);
        assert_eq!(outcome.clients, 1);
        assert_eq!(outcome.needs_restart, ["PORT", "BIG_MODEL"]);
        assert_eq!(pool.index_of(&id(A)), None);
        assert!(pool.index_of(&id(C)).is_some());
        // A key the admin API added is not the configuration's to remove.
        assert!(pool.index_of(admin_added.id()).is_some());
        assert!(clients
            .load()
            .matching(&["client-secret-one".into()])
            .is_some());

        // Back to the start: A rejoins, nothing waits for a restart, clients are gone.
        let outcome = reloader.apply(&first).await.unwrap();
        assert_eq!(outcome.added, [id(A)]);
        assert_eq!(outcome.removed, [id(C)]);
        assert!(outcome.needs_restart.is_empty());
        assert!(clients.load().is_empty());
        assert_eq!(pool.len(), 3);
    }

    #[tokio::test]
    async fn a_key_the_admin_api_removed_stays_out_and_a_reload_never_opens_the_door() {
        let first = config(&[("GEMINI_API_KEY", &format!("{A},{B}"))]);
        let (reloader, pool, _) = started_with(&first).await;
        assert!(pool.leave(&id(B)), "as the admin API's removal does");
        let outcome = reloader.apply(&first).await.unwrap();
        assert_eq!(outcome.held_out, [id(B)]);
        assert!(outcome.added.is_empty());
        assert_eq!(pool.index_of(&id(B)), None);
        // A key the reload itself took out comes back when listed again.
        reloader
            .apply(&config(&[("GEMINI_API_KEY", A)]))
            .await
            .unwrap();
        let outcome = reloader
            .apply(&config(&[("GEMINI_API_KEY", &format!("{A},{C}"))]))
            .await
            .unwrap();
        assert_eq!(outcome.added, [id(C)]);
        // A key that joins in its declared project is grouped with it.
        let outcome = reloader
            .apply(&config(&[(
                "GEMINI_API_KEY",
                &format!("{A},{C},team-x:{D}"),
            )]))
            .await
            .unwrap();
        assert_eq!(outcome.added, [id(D)]);
        let snapshot = pool.snapshot();
        let joined = snapshot.keys.iter().find(|k| k.id == id(D)).unwrap();
        assert_eq!(
            (joined.group.as_str(), joined.group_declared),
            ("team-x", true)
        );

        let exposed = config(&[
            ("GEMINI_API_KEY", A),
            ("HOST", "0.0.0.0"),
            ("GATEWAY_API_KEYS", "client-secret-one"),
        ]);
        let (guarded, _, clients) = started_with(&exposed).await;
        let open = config(&[("GEMINI_API_KEY", A), ("HOST", "127.0.0.1")]);
        assert_eq!(
            guarded.apply(&open).await.unwrap_err(),
            Refusal::WouldOpenTheDoor
        );
        assert!(
            !clients.load().is_empty(),
            "the running client keys are kept"
        );
    }
}
