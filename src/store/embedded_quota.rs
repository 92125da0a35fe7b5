//! The embedded store's quota tables: the groups the pool learned (key id → group), the limits
//! it learned (`group|model|kind` → value) and each (group, model)'s count for the Pacific day
//! (`group|model` → `day_ends|count`), so daily counts survive restarts.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::embedded::EmbeddedStore;
use super::{Change, DailyCount, LearnedLimit, StoreError, StoredQuota};
use crate::upstream::classify::QuotaKind;

const GROUPS: TableDefinition<&str, &str> = TableDefinition::new("groups");
const LIMITS: TableDefinition<&str, u64> = TableDefinition::new("limits");
const DAILY: TableDefinition<&str, &str> = TableDefinition::new("daily");

/// A database error, boxed (redb's is large).
pub(super) type DbError = Box<redb::Error>;

fn boxed(e: impl Into<redb::Error>) -> DbError {
    Box::new(e.into())
}

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), DbError> {
    txn.open_table(GROUPS).map_err(boxed)?;
    txn.open_table(LIMITS).map_err(boxed)?;
    txn.open_table(DAILY).map_err(boxed)?;
    Ok(())
}

/// Writes a learned membership or limit inside `txn`.
pub(super) fn apply(txn: &WriteTransaction, change: &Change) -> Result<(), DbError> {
    match change {
        Change::Group { key_id, group } => {
            txn.open_table(GROUPS)
                .map_err(boxed)?
                .insert(key_id.as_str(), group.as_str())
                .map_err(boxed)?;
        }
        Change::Limit {
            group,
            model,
            kind,
            value,
        } => {
            let field = format!("{group}|{model}|{}", kind.label());
            txn.open_table(LIMITS)
                .map_err(boxed)?
                .insert(field.as_str(), *value)
                .map_err(boxed)?;
        }
        _ => {}
    }
    Ok(())
}

impl EmbeddedStore {
    /// Keeps today's counts (the larger count of a day wins; a newer day replaces an older).
    pub async fn flush_daily(&self, counts: Vec<DailyCount>) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            {
                let mut daily = txn.open_table(DAILY).map_err(|e| s.err(e))?;
                for c in &counts {
                    let field = format!("{}|{}", c.group, c.model);
                    let old = daily
                        .get(field.as_str())
                        .map_err(|e| s.err(e))?
                        .and_then(|v| parse_daily(v.value()));
                    let keep = match old {
                        Some((ends, n)) if ends == c.day_ends && n >= c.count => continue,
                        Some((ends, _)) if ends > c.day_ends => continue,
                        _ => format!("{}|{}", c.day_ends, c.count),
                    };
                    daily
                        .insert(field.as_str(), keep.as_str())
                        .map_err(|e| s.err(e))?;
                }
            }
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    /// Everything stored about quotas.
    pub async fn load_quota(&self) -> Result<StoredQuota, StoreError> {
        self.blocking(|s| {
            let txn = s.db.begin_read().map_err(|e| s.err(e))?;
            let mut out = StoredQuota::default();
            for entry in txn
                .open_table(GROUPS)
                .map_err(|e| s.err(e))?
                .iter()
                .map_err(|e| s.err(e))?
            {
                let (k, v) = entry.map_err(|e| s.err(e))?;
                out.groups
                    .push((k.value().to_string(), v.value().to_string()));
            }
            for entry in txn
                .open_table(LIMITS)
                .map_err(|e| s.err(e))?
                .iter()
                .map_err(|e| s.err(e))?
            {
                let (k, v) = entry.map_err(|e| s.err(e))?;
                let mut parts = k.value().rsplitn(3, '|');
                let (Some(kind), Some(model), Some(group)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if let Some(kind) = QuotaKind::from_label(kind) {
                    out.limits.push(LearnedLimit {
                        group: group.to_string(),
                        model: model.to_string(),
                        kind,
                        value: v.value(),
                    });
                }
            }
            for entry in txn
                .open_table(DAILY)
                .map_err(|e| s.err(e))?
                .iter()
                .map_err(|e| s.err(e))?
            {
                let (k, v) = entry.map_err(|e| s.err(e))?;
                let (Some((group, model)), Some((day_ends, count))) =
                    (k.value().rsplit_once('|'), parse_daily(v.value()))
                else {
                    continue;
                };
                out.daily.push(DailyCount {
                    group: group.to_string(),
                    model: model.to_string(),
                    day_ends,
                    count,
                });
            }
            Ok(out)
        })
        .await
    }
}

fn parse_daily(v: &str) -> Option<(i64, u64)> {
    let (ends, count) = v.split_once('|')?;
    Some((ends.parse().ok()?, count.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

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
