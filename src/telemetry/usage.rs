//! The usage book: deltas gathered as requests finish, flushed to the store about once a second
//! (summed there across restarts and gateways), and read back — stored totals plus what is not
//! flushed yet — for `GET /v1/usage`. A store that keeps nothing (the in-memory backend) leaves the
//! totals here.

use foldhash::{HashMap, HashMapExt};
use std::sync::Mutex;

use crate::store::{Backend, Counts, Owner, StoreError, UsageKey, UsageRow};

/// Most days one query may span.
pub const MAX_DAYS: usize = 400;

/// Which rows a query wants.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    /// Consecutive UTC days, oldest first.
    pub days: Vec<String>,
    pub key: Option<String>,
    pub client: Option<String>,
    pub model: Option<String>,
}

impl UsageQuery {
    fn wants(&self, key: &UsageKey) -> bool {
        let owner = match &key.owner {
            Owner::Key(id) => {
                self.key.as_ref().is_none_or(|k| **k == **id) && self.client.is_none()
            }
            Owner::Client(name) => {
                self.client.as_ref().is_none_or(|c| **c == **name) && self.key.is_none()
            }
        };
        owner
            && self.model.as_ref().is_none_or(|m| **m == *key.model)
            && self.days.iter().any(|d| **d == *key.day)
    }
}

/// Usage not yet in the store, and (for a store that keeps none) the totals.
#[derive(Debug)]
pub struct UsageBook {
    backend: Backend,
    pending: Mutex<HashMap<UsageKey, Counts>>,
    kept: Mutex<HashMap<UsageKey, Counts>>,
}

fn merge(into: &mut HashMap<UsageKey, Counts>, key: UsageKey, delta: &Counts) {
    into.entry(key).or_default().add(delta);
}

impl UsageBook {
    pub fn new(backend: Backend) -> UsageBook {
        UsageBook {
            backend,
            pending: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a delta.
    pub fn add(&self, key: UsageKey, delta: Counts) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        merge(&mut pending, key, &delta);
    }

    /// Hands the deltas to the store; kept for the next flush if it fails.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let rows: Vec<UsageRow> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if rows.is_empty() {
            return Ok(());
        }
        if !self.backend.keeps_usage() {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            for (k, c) in rows {
                merge(&mut kept, k, &c);
            }
            return Ok(());
        }
        if let Err(e) = self.backend.add_usage(rows.clone()).await {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (k, c) in rows {
                merge(&mut pending, k, &c);
            }
            return Err(e);
        }
        Ok(())
    }

    /// The rows `q` wants: the store's totals plus what is not flushed yet, sorted by day, then
    /// owner, then model.
    pub async fn query(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let mut rows: HashMap<UsageKey, Counts> = HashMap::new();
        for (k, c) in self.backend.load_usage(&q.days).await? {
            merge(&mut rows, k, &c);
        }
        for book in [&self.kept, &self.pending] {
            let book = book.lock().unwrap_or_else(|p| p.into_inner());
            for (k, c) in book.iter() {
                merge(&mut rows, k.clone(), c);
            }
        }
        let mut out: Vec<UsageRow> = rows.into_iter().filter(|(k, _)| q.wants(k)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(owner: Owner, model: &str) -> UsageKey {
        UsageKey {
            day: "2026-12-01".into(),
            owner,
            model: model.into(),
        }
    }

    #[tokio::test]
    async fn deltas_add_up_and_queries_filter_by_owner_and_model() {
        let book = UsageBook::new(Backend::Volatile);
        let one = Counts {
            requests: 1,
            input_tokens: 10,
            ..Counts::default()
        };
        book.add(key(Owner::Key("k1".into()), "m"), one);
        book.flush().await.unwrap();
        book.add(key(Owner::Key("k1".into()), "m"), one);
        book.add(key(Owner::Client("team".into()), "m"), one);
        let all = UsageQuery {
            days: vec!["2026-12-01".into()],
            ..UsageQuery::default()
        };
        let rows = book.query(&all).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1.requests, 2, "flushed and pending add up");
        let clients = UsageQuery {
            client: Some("team".into()),
            ..all.clone()
        };
        assert_eq!(book.query(&clients).await.unwrap().len(), 1);
        let other_day = UsageQuery {
            days: vec!["2026-11-30".into()],
            ..UsageQuery::default()
        };
        assert!(book.query(&other_day).await.unwrap().is_empty());
    }
}
