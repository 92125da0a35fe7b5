//! The shared store: any number of gateway processes pointed at one Redis (`REDIS_URL`,
//! `redis://` or `rediss://`) share one pool. Each process still decides from its local view;
//! this store is where the facts meet, so that a key disabled by one gateway is skipped by every
//! other from its next request on, and round-robin stays fair across processes.
//!
//! Every read-modify-write is one Lua script run on the server (EVALSHA, with EVAL after a
//! NOSCRIPT, e.g. after a Redis restart): one round trip, atomic, no lost update between
//! gateways. Deadlines are absolute Unix milliseconds, never TTL copies, and a cooldown deadline
//! only ever moves later. Keys are named by their fingerprint id only; no secret reaches Redis.
//!
//! Data layout (`P` = the prefix, default `gemini-gateway`; the braces are a cluster hash tag, so
//! all keys share one slot and every script names all its keys in `KEYS`):
//!
//! | key | type | content |
//! |---|---|---|
//! | `{P}:disabled` | hash | id → `reason\|since` (since in Unix ms; the first disable stays) |
//! | `{P}:cooldowns` | hash | `id\|model` → deadline (Unix ms; the max stays) |
//! | `{P}:rr:MODEL` | string | round-robin counter for MODEL (INCR, shared by all gateways) |
//! | `{P}:stats` | hash | `id:requests`, `id:failures` (counters), `id:last_error` (a label) |
//! | `{P}:added` | hash | id → a key an operator added, sealed (`store::sealed`), never clear |
//! | `{P}:removed` | hash | id → when an operator removed it (Unix ms) |
//! | `{P}:groups` | hash | id → the quota group (project) the pool learned it is in |
//! | `{P}:limits` | hash | `group\|model\|kind` → a learned limit (`kind`: rpm, tpm, rpd) |
//! | `{P}:ejections` | hash | `id\|model` → `times\|until\|probing` (an outlier ejection) |
//! | `{P}:overloads` | hash | model → `times\|until\|probing` (overloaded everywhere) |
//! | `{P}:win:GROUP\|MODEL` | sorted set | the group's sends of the last minute: score the time, member `ms:tokens:id:seq` (expires after 2 min idle) |
//! | `{P}:day:GROUP\|MODEL` | hash | `ends` (the next Pacific midnight), `count` (sends that day) |
//!
//! Cooldown fields expired for more than a minute (by the picking caller's clock; the slack
//! absorbs clock skew between gateways) are deleted lazily by `pick`; readers filter by time.
//!
//! Timeouts are short on purpose: connecting is bounded by `RedisTimeouts::connect`, a call by
//! `connect + command` (it may have to wait for a reconnect), and each command's answer by
//! `command`. A dead Redis costs a request well under a second and yields `StoreError::Redis`;
//! the caller falls back. The `ConnectionManager` reconnects by itself once Redis is back.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisResult, ScriptInvocation};

pub use super::redis_schedule::{Schedule, Scheduled};
use super::redis_scripts::WRITE;
use super::sealed::Sealer;
use super::{
    Change, LearnedLimit, Membership, RedisFault, RedisOp, StoreError, StoredKey, StoredQuota,
    StoredState,
};
use crate::secret::ApiKey;

/// How long the store may wait on Redis.
#[derive(Debug, Clone, Copy)]
pub struct RedisTimeouts {
    /// One connection attempt (TCP, TLS, handshake).
    pub connect: Duration,
    /// One command's answer.
    pub command: Duration,
}

impl Default for RedisTimeouts {
    fn default() -> Self {
        RedisTimeouts {
            connect: Duration::from_millis(500),
            command: Duration::from_millis(250),
        }
    }
}

/// The Redis store. Cheap to clone: clones share one multiplexed, self-reconnecting connection.
#[derive(Clone)]
pub struct RedisStore {
    /// Made on first use when Redis was unreachable at startup; then shared by all clones.
    conn: Arc<tokio::sync::OnceCell<ConnectionManager>>,
    connector: Arc<Connector>,
    pub(super) names: Arc<Names>,
    display_url: Arc<str>,
    /// Upper bound of one call, reconnect included.
    budget: Duration,
    /// Seals keys added by an operator (derived from ADMIN_API_KEY); without it they are
    /// neither written nor read.
    sealer: Option<Sealer>,
}

/// What making the connection takes.
struct Connector {
    client: ::redis::Client,
    config: ConnectionManagerConfig,
    timeout: Duration,
}

pub(super) struct Names {
    pub(super) disabled: String,
    pub(super) cooldowns: String,
    pub(super) stats: String,
    pub(super) added: String,
    pub(super) removed: String,
    pub(super) groups: String,
    pub(super) limits: String,
    pub(super) ejections: String,
    pub(super) overloads: String,
    /// `{P}:rr:`, completed by the model.
    pub(super) rr: String,
    /// `{P}:win:` and `{P}:day:`, completed by `group|model`.
    pub(super) win: String,
    pub(super) day: String,
    /// `{P}:usage:`, completed by the UTC day.
    pub(super) usage: String,
    /// `{P}:client-minute:`, completed by a client's name and the minute.
    pub(super) client_minute: String,
    /// `{P}:doc:`, completed by a document's name (see `documents`).
    pub(super) documents: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.display_url)
            .field("prefix", &self.names.stats.trim_end_matches(":stats"))
            .finish()
    }
}

impl RedisStore {
    /// Connects (fails fast if Redis is unreachable); `prefix` namespaces every key (an empty
    /// prefix means `gemini-gateway`).
    pub async fn connect(
        url: &str,
        prefix: &str,
        timeouts: RedisTimeouts,
    ) -> Result<RedisStore, StoreError> {
        let store = RedisStore::connect_later(url, prefix, timeouts)?;
        store
            .manager()
            .await
            .map_err(|fault| StoreError::redis(RedisOp::Connect, fault))?;
        Ok(store)
    }

    /// A store whose connection is made on first use: for starting while Redis is unreachable.
    /// Fails only on a malformed URL.
    pub fn connect_later(
        url: &str,
        prefix: &str,
        timeouts: RedisTimeouts,
    ) -> Result<RedisStore, StoreError> {
        let display_url: Arc<str> = redact(url).into();
        let client =
            ::redis::Client::open(url).map_err(|e| StoreError::redis(RedisOp::Connect, e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.command))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let prefix = Some(prefix)
            .filter(|p| !p.is_empty())
            .unwrap_or("gemini-gateway");
        let names = Names {
            disabled: format!("{{{prefix}}}:disabled"),
            cooldowns: format!("{{{prefix}}}:cooldowns"),
            stats: format!("{{{prefix}}}:stats"),
            added: format!("{{{prefix}}}:added"),
            removed: format!("{{{prefix}}}:removed"),
            groups: format!("{{{prefix}}}:groups"),
            limits: format!("{{{prefix}}}:limits"),
            ejections: format!("{{{prefix}}}:ejections"),
            overloads: format!("{{{prefix}}}:overloads"),
            win: format!("{{{prefix}}}:win:"),
            day: format!("{{{prefix}}}:day:"),
            usage: format!("{{{prefix}}}:usage:"),
            client_minute: format!("{{{prefix}}}:client-minute:"),
            documents: format!("{{{prefix}}}:doc:"),
            rr: format!("{{{prefix}}}:rr:"),
        };
        Ok(RedisStore {
            conn: Arc::new(tokio::sync::OnceCell::new()),
            connector: Arc::new(Connector {
                client,
                config,
                timeout: timeouts.connect,
            }),
            names: Arc::new(names),
            display_url,
            budget: timeouts.connect + timeouts.command,
            sealer: None,
        })
    }

    /// The shared connection, made now if it does not exist yet (bounded by the connect
    /// timeout); it reconnects by itself afterwards.
    async fn manager(&self) -> Result<ConnectionManager, RedisFault> {
        self.conn
            .get_or_try_init(|| async {
                let c = &self.connector;
                tokio::time::timeout(
                    c.timeout,
                    ConnectionManager::new_with_config(c.client.clone(), c.config.clone()),
                )
                .await
                .map_err(|_| RedisFault::NoConnection(c.timeout))?
                .map_err(RedisFault::Command)
            })
            .await
            .cloned()
    }

    /// The URL with any password replaced by `***`, for logs and the status page.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Lets this store share keys that operators add (sealed under `sealer`).
    pub fn with_sealer(mut self, sealer: Sealer) -> RedisStore {
        self.sealer = Some(sealer);
        self
    }

    /// Records an operator adding or removing a key (one atomic pipeline).
    async fn change_membership(&self, change: &Change) -> Result<(), StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        match change {
            Change::AddKey { key } => {
                let sealer = self
                    .sealer
                    .as_ref()
                    .ok_or(StoreError::redis(RedisOp::Membership, RedisFault::NoSealer))?;
                let sealed = sealer.seal(key.expose()).ok_or(StoreError::redis(
                    RedisOp::Membership,
                    RedisFault::SealFailed,
                ))?;
                pipe.cmd("HSET")
                    .arg(&self.names.added)
                    .arg(key.id())
                    .arg(sealed);
                pipe.cmd("HDEL").arg(&self.names.removed).arg(key.id());
            }
            Change::RemoveKey { key_id, at } => {
                pipe.cmd("HDEL").arg(&self.names.added).arg(key_id);
                pipe.cmd("HSET")
                    .arg(&self.names.removed)
                    .arg(key_id)
                    .arg(*at);
            }
            _ => return Ok(()),
        }
        let pipe = &pipe;
        self.run(RedisOp::Membership, move |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    /// Keys operators added (opened with the sealer; ones it cannot open are skipped) and
    /// removed.
    pub async fn membership(&self) -> Result<Membership, StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.cmd("HGETALL").arg(&self.names.added);
        pipe.cmd("HKEYS").arg(&self.names.removed);
        let pipe = &pipe;
        let (added, removed): (HashMap<String, String>, Vec<String>) = self
            .run(RedisOp::Membership, move |mut c| async move {
                pipe.query_async(&mut c).await
            })
            .await?;
        let added = added
            .values()
            .filter_map(|sealed| self.sealer.as_ref()?.open(sealed))
            .map(|secret| ApiKey::new(&secret))
            .collect();
        Ok(Membership { added, removed })
    }

    /// Applies one fact atomically; `failure` (an error label) also counts a failure and sets
    /// `last_error` for the change's key.
    pub async fn apply(&self, change: &Change, failure: Option<&str>) -> Result<(), StoreError> {
        if matches!(change, Change::AddKey { .. } | Change::RemoveKey { .. }) {
            return self.change_membership(change).await;
        }
        let mut inv = self.write_invocation();
        let key_id = push(&mut inv, change);
        if let Some(label) = failure {
            inv.arg("fail").arg(key_id).arg(label).arg("");
        }
        self.eval(RedisOp::Apply, &inv).await
    }

    /// Applies facts and counts a failure (key id, label), in one atomic script.
    pub async fn record(
        &self,
        changes: &[Change],
        failure: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        if changes.is_empty() && failure.is_none() {
            return Ok(());
        }
        let mut inv = self.write_invocation();
        for change in changes {
            push(&mut inv, change);
        }
        if let Some((key_id, label)) = failure {
            inv.arg("fail").arg(key_id).arg(label).arg("");
        }
        self.eval(RedisOp::Apply, &inv).await
    }

    /// Counts a failure that changed no state: failures += 1, last_error = label.
    pub async fn record_failure(&self, key_id: &str, label: &str) -> Result<(), StoreError> {
        let mut inv = self.write_invocation();
        inv.arg("fail").arg(key_id).arg(label).arg("");
        self.eval(RedisOp::RecordFailure, &inv).await
    }

    /// Re-applies facts learned while Redis was unreachable, all in one atomic script.
    /// Idempotent: disables keep the first, cooldowns the max.
    pub async fn merge(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut inv = self.write_invocation();
        for change in changes {
            push(&mut inv, change);
        }
        self.eval(RedisOp::Merge, &inv).await
    }

    /// Everything known about these ids (absent ids → default). One atomic pipeline.
    pub async fn load(&self, ids: &[&str]) -> Result<StoredState, StoreError> {
        let mut state: StoredState = ids
            .iter()
            .map(|id| ((*id).to_owned(), StoredKey::default()))
            .collect();
        if ids.is_empty() {
            return Ok(state);
        }
        let stat_fields: Vec<String> = ids
            .iter()
            .flat_map(|id| [":requests", ":failures", ":last_error"].map(|s| format!("{id}{s}")))
            .collect();
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .cmd("HMGET")
            .arg(&self.names.disabled)
            .arg(ids)
            .cmd("HMGET")
            .arg(&self.names.stats)
            .arg(&stat_fields)
            .cmd("HGETALL")
            .arg(&self.names.cooldowns);
        let pipe = &pipe;
        type Loaded = (
            Vec<Option<String>>,
            Vec<Option<String>>,
            HashMap<String, String>,
        );
        let (disabled, stats, cooldowns): Loaded = self
            .run(RedisOp::Load, move |mut c| async move {
                pipe.query_async(&mut c).await
            })
            .await?;
        for ((id, disabled), stats) in ids.iter().zip(disabled).zip(stats.chunks(3)) {
            let Some(key) = state.get_mut(*id) else {
                continue;
            };
            key.disabled = disabled.map(|v| match v.rsplit_once('|') {
                Some((reason, since)) => (reason.to_owned(), since.parse().unwrap_or(0)),
                None => (v, 0),
            });
            let count = |i: usize| stats.get(i).cloned().flatten().and_then(|v| v.parse().ok());
            key.requests = count(0).unwrap_or(0);
            key.failures = count(1).unwrap_or(0);
            key.last_error = stats.get(2).cloned().flatten();
        }
        for (field, until) in cooldowns {
            let (Some((id, model)), Ok(until)) = (field.split_once('|'), until.parse()) else {
                continue;
            };
            if let Some(key) = state.get_mut(id) {
                key.cooldowns.insert(model.to_owned(), until);
            }
        }
        Ok(state)
    }

    /// Cheap liveness check (PING).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let ping = ::redis::cmd("PING");
        let ping = &ping;
        self.run(RedisOp::Ping, move |mut c| async move {
            ping.query_async::<String>(&mut c).await
        })
        .await
        .map(drop)
    }

    fn write_invocation(&self) -> ScriptInvocation<'static> {
        let mut inv = WRITE.key(&self.names.disabled);
        inv.key(&self.names.cooldowns)
            .key(&self.names.stats)
            .key(&self.names.groups)
            .key(&self.names.limits)
            .key(&self.names.ejections)
            .key(&self.names.overloads);
        inv
    }

    /// The groups and limits the gateways learned.
    pub async fn load_quota(&self) -> Result<StoredQuota, StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.cmd("HGETALL").arg(&self.names.groups);
        pipe.cmd("HGETALL").arg(&self.names.limits);
        pipe.cmd("HGETALL").arg(&self.names.ejections);
        pipe.cmd("HGETALL").arg(&self.names.overloads);
        let pipe = &pipe;
        type Loaded = (
            HashMap<String, String>,
            HashMap<String, u64>,
            HashMap<String, String>,
            HashMap<String, String>,
        );
        let (groups, limits, ejections, overloads): Loaded = self
            .run(RedisOp::Load, move |mut c| async move {
                pipe.query_async(&mut c).await
            })
            .await?;
        let mut out = StoredQuota {
            groups: groups.into_iter().collect(),
            ..StoredQuota::default()
        };
        // `times|until|probing`
        let state = |v: &str| {
            let mut parts = v.split('|');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        };
        for (field, v) in &ejections {
            if let (Some((id, model)), Some((times, until))) = (field.split_once('|'), state(v)) {
                out.ejections
                    .push((id.to_string(), model.to_string(), times, until));
            }
        }
        for (model, v) in &overloads {
            if let Some((times, until)) = state(v) {
                out.overloads.push((model.clone(), times, until));
            }
        }
        out.limits.extend(
            limits
                .iter()
                .filter_map(|(field, value)| LearnedLimit::from_field(field, *value)),
        );
        Ok(out)
    }

    pub(super) async fn eval<T: ::redis::FromRedisValue>(
        &self,
        what: RedisOp,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.run(
            what,
            move |mut c| async move { inv.invoke_async(&mut c).await },
        )
        .await
    }

    /// Runs `op` within the call budget. A refused connection means nothing was sent, so it is
    /// tried once more: the refusal itself started a reconnect, which may find Redis back.
    pub(super) async fn run<T, F, Fut>(&self, what: RedisOp, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self
            .manager()
            .await
            .map_err(|fault| StoreError::redis(what, fault))?;
        let attempt = async {
            match op(conn.clone()).await {
                Err(e) if e.is_connection_refusal() => op(conn.clone()).await,
                other => other,
            }
        };
        match tokio::time::timeout(self.budget, attempt).await {
            Ok(result) => result.map_err(|e| StoreError::redis(what, e)),
            Err(_) => Err(StoreError::redis(what, RedisFault::Timeout(self.budget))),
        }
    }
}

/// Appends one fact as the WRITE script reads it (op, key id, a, b); returns the key id.
fn push<'c>(inv: &mut ScriptInvocation<'_>, change: &'c Change) -> &'c str {
    let none = String::new();
    let (op, id, a, b) = match change {
        Change::Cooldown {
            key_id,
            model,
            until,
        } => ("cool", key_id, model, until.to_string()),
        Change::Disable {
            key_id,
            reason,
            since,
        } => ("disable", key_id, reason, since.to_string()),
        Change::Enable { key_id } => ("enable", key_id, &none, String::new()),
        Change::ClearCooldown {
            key_id,
            model: Some(model),
        } => ("clear", key_id, model, String::new()),
        Change::ClearCooldown {
            key_id,
            model: None,
        } => ("clear_all", key_id, &none, String::new()),
        Change::Group { key_id, group } => ("group", key_id, group, String::new()),
        Change::Ejected {
            key_id,
            model,
            times,
            until,
        } => ("eject", key_id, model, format!("{times}|{until}")),
        Change::Healed { key_id, model } => ("heal", key_id, model, String::new()),
        Change::Overloaded {
            model,
            times,
            until,
        } => {
            inv.arg("overload")
                .arg("")
                .arg(model)
                .arg(format!("{times}|{until}"));
            return change.key_id();
        }
        Change::OverloadCleared { model } => {
            inv.arg("overload_clear").arg("").arg(model).arg("");
            return change.key_id();
        }
        Change::Limit {
            group,
            model,
            kind,
            value,
        } => {
            let field = LearnedLimit::field(group, model, *kind);
            inv.arg("limit").arg("").arg(field).arg(value.to_string());
            return change.key_id();
        }
        Change::ForgetLimit { group, model, kind } => {
            let field = LearnedLimit::field(group, model, *kind);
            inv.arg("forget_limit").arg("").arg(field).arg("");
            return change.key_id();
        }
        // Membership changes go through `change_membership`, never this script.
        Change::AddKey { .. } | Change::RemoveKey { .. } => return change.key_id(),
    };
    inv.arg(op).arg(id).arg(a).arg(b);
    id
}

/// The URL with its password (userinfo, or `pass=` of a unix-socket URL) replaced by `***`.
fn redact(url: &str) -> String {
    let Some(mut parsed) = ::redis::parse_redis_url(url) else {
        return "(unparseable redis url)".to_owned();
    };
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return "(unparseable redis url)".to_owned();
    }
    if parsed.query_pairs().any(|(k, _)| k == "pass") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "pass" { "***".into() } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}
