//! The default store: one crash-safe redb file on this machine (`STATE_PATH`, a folder, holding
//! `pool.redb`). No setup, and a restart or a `kill -9` loses no disable and no cooldown: every
//! state change is committed (fsync) before the request that learned it moves on. Counters are
//! flushed in the background about once a second, so a crash can lose the last second of counts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use super::UsageRow;
use super::{
    Change, CounterDelta, DailyCount, EmbeddedFault, Membership, StoreError, StoredKey,
    StoredQuota, StoredState,
};
use crate::secret::ApiKey;

/// key id → `reason|since`.
const DISABLED: TableDefinition<&str, &str> = TableDefinition::new("disabled");
/// `id|model` → deadline (Unix ms).
const COOLDOWNS: TableDefinition<&str, i64> = TableDefinition::new("cooldowns");
/// key id → `requests|failures|last_error`.
const STATS: TableDefinition<&str, &str> = TableDefinition::new("stats");
/// key id → secret, for keys an operator added (this file is as private as `.env`).
const ADDED: TableDefinition<&str, &str> = TableDefinition::new("added_keys");
/// key id → when an operator removed it.
const REMOVED: TableDefinition<&str, i64> = TableDefinition::new("removed_keys");

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(super) db: Arc<Database>,
    path: Arc<Path>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbeddedStore({})", self.path.display())
    }
}

impl EmbeddedStore {
    /// Opens (or creates) `dir/pool.redb`. A file that is not a readable redb database is an
    /// error naming the path — never a silently empty pool.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        let path: Arc<Path> = dir.join("pool.redb").into();
        let fail = |fault: EmbeddedFault| StoreError::Embedded {
            path: path.clone(),
            fault: Box::new(fault),
        };
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| fail(EmbeddedFault::CreateFolder(e)))?;
        // The database may hold keys an operator added: owner-only, like a private `.env` (a
        // folder that already existed is the operator's, and left as it is).
        if created {
            restrict_to_owner(dir, 0o700);
        }
        let db = Database::create(&path).map_err(|e| fail(EmbeddedFault::Open(e)))?;
        restrict_to_owner(&path, 0o600);
        // Create the tables once so readers never meet a missing table.
        let db_fail = |e: redb::Error| fail(EmbeddedFault::Database(e));
        let txn = db.begin_write().map_err(|e| db_fail(e.into()))?;
        for table in [DISABLED, STATS, ADDED] {
            txn.open_table(table).map_err(|e| db_fail(e.into()))?;
        }
        txn.open_table(COOLDOWNS).map_err(|e| db_fail(e.into()))?;
        txn.open_table(REMOVED).map_err(|e| db_fail(e.into()))?;
        super::embedded_quota::create_tables(&txn).map_err(|e| db_fail(*e))?;
        super::usage::create_table(&txn).map_err(|e| db_fail(*e))?;
        txn.commit().map_err(|e| db_fail(e.into()))?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        self.fault(EmbeddedFault::Database(e.into()))
    }

    fn fault(&self, fault: EmbeddedFault) -> StoreError {
        StoreError::Embedded {
            path: self.path.clone(),
            fault: Box::new(fault),
        }
    }

    /// Runs blocking database work off the async threads.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EmbeddedStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || work(&me))
            .await
            .map_err(|e| self.fault(EmbeddedFault::Worker(e)))?
    }

    /// Keeps today's counts (see `embedded_quota::flush_daily`).
    pub async fn flush_daily(&self, counts: Vec<DailyCount>) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            super::embedded_quota::flush_daily(&txn, &counts).map_err(|e| s.err(*e))?;
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    /// Everything stored about quotas.
    pub async fn load_quota(&self) -> Result<StoredQuota, StoreError> {
        self.blocking(|s| {
            let txn = s.db.begin_read().map_err(|e| s.err(e))?;
            super::embedded_quota::load(&txn).map_err(|e| s.err(*e))
        })
        .await
    }

    /// Adds usage deltas to the stored totals.
    pub async fn add_usage(&self, rows: Vec<UsageRow>) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            super::usage::add(&txn, &rows).map_err(|e| s.err(*e))?;
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    /// The stored usage of the UTC days `from..=to`.
    pub async fn load_usage(&self, from: String, to: String) -> Result<Vec<UsageRow>, StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_read().map_err(|e| s.err(e))?;
            super::usage::load(&txn, &from, &to).map_err(|e| s.err(*e))
        })
        .await
    }

    /// Commits one state change durably.
    pub async fn apply(&self, change: Change) -> Result<(), StoreError> {
        self.apply_all(vec![change]).await
    }

    /// Commits several state changes durably, in one transaction.
    pub async fn apply_all(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            for change in &changes {
                s.write(&txn, change)?;
            }
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    fn write(&self, txn: &redb::WriteTransaction, change: &Change) -> Result<(), StoreError> {
        if matches!(
            change,
            Change::Group { .. } | Change::Limit { .. } | Change::ForgetLimit { .. }
        ) {
            return super::embedded_quota::apply(txn, change).map_err(|e| self.err(*e));
        }
        {
            let mut disabled = txn.open_table(DISABLED).map_err(|e| self.err(e))?;
            let mut cooldowns = txn.open_table(COOLDOWNS).map_err(|e| self.err(e))?;
            let mut added = txn.open_table(ADDED).map_err(|e| self.err(e))?;
            let mut removed = txn.open_table(REMOVED).map_err(|e| self.err(e))?;
            match change {
                Change::AddKey { key } => {
                    added
                        .insert(key.id(), key.expose())
                        .map_err(|e| self.err(e))?;
                    removed.remove(key.id()).map_err(|e| self.err(e))?;
                }
                Change::RemoveKey { key_id, at } => {
                    added.remove(key_id.as_str()).map_err(|e| self.err(e))?;
                    removed
                        .insert(key_id.as_str(), *at)
                        .map_err(|e| self.err(e))?;
                }
                Change::Cooldown {
                    key_id,
                    model,
                    until,
                } => {
                    let field = format!("{key_id}|{model}");
                    let current = cooldowns
                        .get(field.as_str())
                        .map_err(|e| self.err(e))?
                        .map(|v| v.value());
                    if current.is_none_or(|c| c < *until) {
                        cooldowns
                            .insert(field.as_str(), *until)
                            .map_err(|e| self.err(e))?;
                    }
                }
                Change::Disable {
                    key_id,
                    reason,
                    since,
                } => {
                    let exists = disabled
                        .get(key_id.as_str())
                        .map_err(|e| self.err(e))?
                        .is_some();
                    if !exists {
                        let value = format!("{reason}|{since}");
                        disabled
                            .insert(key_id.as_str(), value.as_str())
                            .map_err(|e| self.err(e))?;
                    }
                }
                Change::Enable { key_id } => {
                    disabled.remove(key_id.as_str()).map_err(|e| self.err(e))?;
                }
                // Ejections and overloads are this process's (and a shared store's) only.
                Change::Group { .. }
                | Change::Limit { .. }
                | Change::ForgetLimit { .. }
                | Change::Ejected { .. }
                | Change::Healed { .. }
                | Change::Overloaded { .. }
                | Change::OverloadCleared { .. } => {}
                Change::ClearCooldown { key_id, model } => {
                    let prefix = format!("{key_id}|");
                    let doomed: Vec<String> = cooldowns
                        .iter()
                        .map_err(|e| self.err(e))?
                        .filter_map(Result::ok)
                        .map(|(k, _)| k.value().to_string())
                        .filter(|k| match model {
                            Some(m) => *k == format!("{prefix}{m}"),
                            None => k.starts_with(&prefix),
                        })
                        .collect();
                    for k in doomed {
                        cooldowns.remove(k.as_str()).map_err(|e| self.err(e))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds counter increments (background flush).
    pub async fn flush_counters(
        &self,
        deltas: BTreeMap<String, CounterDelta>,
    ) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            {
                let mut stats = txn.open_table(STATS).map_err(|e| s.err(e))?;
                for (id, d) in &deltas {
                    let old = stats
                        .get(id.as_str())
                        .map_err(|e| s.err(e))?
                        .map(|v| parse_stats(v.value()))
                        .unwrap_or_default();
                    let last = d.last_error.clone().or(old.2);
                    let value = format!(
                        "{}|{}|{}",
                        old.0 + d.requests,
                        old.1 + d.failures,
                        last.unwrap_or_default()
                    );
                    stats
                        .insert(id.as_str(), value.as_str())
                        .map_err(|e| s.err(e))?;
                }
            }
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    /// Everything stored about these ids.
    pub async fn load(&self, ids: Vec<String>) -> Result<StoredState, StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_read().map_err(|e| s.err(e))?;
            let disabled = txn.open_table(DISABLED).map_err(|e| s.err(e))?;
            let cooldowns = txn.open_table(COOLDOWNS).map_err(|e| s.err(e))?;
            let stats = txn.open_table(STATS).map_err(|e| s.err(e))?;
            let mut out = StoredState::new();
            for id in &ids {
                let mut key = StoredKey::default();
                if let Some(v) = disabled.get(id.as_str()).map_err(|e| s.err(e))? {
                    if let Some((reason, since)) = v.value().rsplit_once('|') {
                        key.disabled = Some((reason.to_string(), since.parse().unwrap_or(0)));
                    }
                }
                if let Some(v) = stats.get(id.as_str()).map_err(|e| s.err(e))? {
                    let (requests, failures, last_error) = parse_stats(v.value());
                    (key.requests, key.failures, key.last_error) = (requests, failures, last_error);
                }
                out.insert(id.clone(), key);
            }
            for entry in cooldowns.iter().map_err(|e| s.err(e))? {
                let (field, until) = entry.map_err(|e| s.err(e))?;
                if let Some((id, model)) = field.value().split_once('|') {
                    if let Some(key) = out.get_mut(id) {
                        key.cooldowns.insert(model.to_string(), until.value());
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

impl EmbeddedStore {
    /// Keys operators added and removed.
    pub async fn membership(&self) -> Result<Membership, StoreError> {
        self.blocking(|s| {
            let txn = s.db.begin_read().map_err(|e| s.err(e))?;
            let added = txn.open_table(ADDED).map_err(|e| s.err(e))?;
            let removed = txn.open_table(REMOVED).map_err(|e| s.err(e))?;
            let mut m = Membership::default();
            for entry in added.iter().map_err(|e| s.err(e))? {
                let (_, secret) = entry.map_err(|e| s.err(e))?;
                m.added.push(ApiKey::new(secret.value()));
            }
            for entry in removed.iter().map_err(|e| s.err(e))? {
                let (id, _) = entry.map_err(|e| s.err(e))?;
                m.removed.push(id.value().to_string());
            }
            Ok(m)
        })
        .await
    }
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        tracing::warn!(path = %path.display(), error = %e, "could not restrict the state file's permissions");
    }
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path, _mode: u32) {}

fn parse_stats(v: &str) -> (u64, u64, Option<String>) {
    let mut it = v.splitn(3, '|');
    let requests = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let failures = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let last = it.next().filter(|x| !x.is_empty()).map(str::to_string);
    (requests, failures, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::classify::QuotaKind;

    #[tokio::test]
    async fn changes_survive_reopening_and_follow_the_merge_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let cd = |until| Change::Cooldown {
            key_id: "a".into(),
            model: "m".into(),
            until,
        };
        store.apply(cd(60_000)).await.unwrap();
        store.apply(cd(5_000)).await.unwrap();
        store
            .apply(Change::Cooldown {
                key_id: "a".into(),
                model: "n".into(),
                until: 7,
            })
            .await
            .unwrap();
        store
            .apply(Change::Disable {
                key_id: "b".into(),
                reason: "key_invalid".into(),
                since: 1,
            })
            .await
            .unwrap();
        store
            .apply(Change::Disable {
                key_id: "b".into(),
                reason: "later".into(),
                since: 2,
            })
            .await
            .unwrap();
        let mut deltas = BTreeMap::new();
        deltas.insert(
            "a".to_string(),
            CounterDelta {
                requests: 3,
                failures: 1,
                last_error: Some("rate_limited".into()),
            },
        );
        store.flush_counters(deltas.clone()).await.unwrap();
        store.flush_counters(deltas).await.unwrap();
        drop(store);

        let store = EmbeddedStore::open(dir.path()).unwrap();
        let state = store
            .load(vec!["a".into(), "b".into(), "c".into()])
            .await
            .unwrap();
        assert_eq!(
            state["a"].cooldowns["m"], 60_000,
            "a deadline only moves later"
        );
        assert_eq!(state["a"].cooldowns["n"], 7);
        assert_eq!((state["a"].requests, state["a"].failures), (6, 2));
        assert_eq!(state["a"].last_error.as_deref(), Some("rate_limited"));
        assert_eq!(state["b"].disabled, Some(("key_invalid".to_string(), 1)));
        assert_eq!(state["c"], StoredKey::default());

        store
            .apply(Change::ClearCooldown {
                key_id: "a".into(),
                model: Some("n".into()),
            })
            .await
            .unwrap();
        store
            .apply(Change::Enable { key_id: "b".into() })
            .await
            .unwrap();
        let state = store.load(vec!["a".into(), "b".into()]).await.unwrap();
        assert_eq!(state["a"].cooldowns.len(), 1);
        assert_eq!(state["b"].disabled, None);
        store
            .apply(Change::ClearCooldown {
                key_id: "a".into(),
                model: None,
            })
            .await
            .unwrap();
        assert!(store.load(vec!["a".into()]).await.unwrap()["a"]
            .cooldowns
            .is_empty());
    }

    #[tokio::test]
    async fn added_and_removed_keys_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let a = ApiKey::new("AIzaSyAddedByAnOperatorxxxxxxxxxxxxxxx");
        store
            .apply(Change::AddKey { key: a.clone() })
            .await
            .unwrap();
        store
            .apply(Change::RemoveKey {
                key_id: "env-key-id".into(),
                at: 1,
            })
            .await
            .unwrap();
        drop(store);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let m = store.membership().await.unwrap();
        assert_eq!(m.added, vec![a.clone()]);
        assert_eq!(m.removed, vec!["env-key-id".to_string()]);
        store
            .apply(Change::RemoveKey {
                key_id: a.id().into(),
                at: 2,
            })
            .await
            .unwrap();
        store
            .apply(Change::AddKey {
                key: ApiKey::new("AIzaSyAnotherOnexxxxxxxxxxxxxxxxxxxxxxx"),
            })
            .await
            .unwrap();
        let m = store.membership().await.unwrap();
        assert_eq!(m.added.len(), 1);
        assert!(m.removed.contains(&a.id().to_string()));
    }

    #[tokio::test]
    async fn keys_restored_from_the_file_are_registered_as_secrets() {
        // Written by an earlier process: this one has never seen the key.
        let secret = "AIzaSyRestoredFromDiskOnlyxxxxxxxx9876";
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let txn = store.db.begin_write().unwrap();
        txn.open_table(ADDED)
            .unwrap()
            .insert("restored-id", secret)
            .unwrap();
        txn.commit().unwrap();
        let text = format!("panicked while holding {secret}");
        assert!(
            crate::secret::redact(&text).contains(secret),
            "not known yet"
        );
        let m = store.membership().await.unwrap();
        assert_eq!(m.added.len(), 1);
        assert_eq!(
            crate::secret::redact(&text),
            "panicked while holding AIzaSy...9876"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_state_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("state")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
    }

    #[test]
    fn a_corrupted_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pool.redb"), vec![0x5a; 4096]).unwrap();
        let err = EmbeddedStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("pool.redb"), "{err}");
    }

    #[tokio::test]
    async fn learned_groups_limits_and_todays_counts_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .apply_all(vec![
                Change::Group {
                    key_id: "k1".into(),
                    group: "~k0".into(),
                },
                Change::Limit {
                    group: "~k0".into(),
                    model: "m".into(),
                    kind: QuotaKind::RequestsPerMinute,
                    value: 4,
                },
            ])
            .await
            .unwrap();
        let count = |day_ends, count| DailyCount {
            group: "~k0".into(),
            model: "m".into(),
            day_ends,
            count,
        };
        store.flush_daily(vec![count(100, 7)]).await.unwrap();
        store.flush_daily(vec![count(100, 5)]).await.unwrap();
        drop(store);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let q = store.load_quota().await.unwrap();
        assert_eq!(q.groups, [("k1".to_string(), "~k0".to_string())]);
        assert_eq!(q.limits.len(), 1);
        assert_eq!(q.limits[0].value, 4);
        assert_eq!(q.daily, [count(100, 7)], "the larger count of a day stays");
        store.flush_daily(vec![count(200, 1)]).await.unwrap();
        assert_eq!(
            store.load_quota().await.unwrap().daily,
            [count(200, 1)],
            "a new day"
        );
    }
}
