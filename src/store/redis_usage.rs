//! Usage totals on the shared store: one hash per UTC day (`{P}:usage:<day>`), fields
//! `owner|name|model|counter`, added to with `HINCRBY` so every gateway's deltas sum. Days are
//! kept 400 days.

use std::collections::HashMap;

use super::redis::RedisStore;
use super::usage::{Counts, UsageKey, UsageRow, COUNTERS};
use super::{RedisOp, StoreError};

/// How long a day's usage is kept.
const KEEP_SECONDS: i64 = 400 * 24 * 3600;

impl RedisStore {
    /// Adds the deltas, in one pipeline.
    pub async fn add_usage(&self, rows: &[UsageRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut pipe = ::redis::pipe();
        for (key, counts) in rows {
            let hash = format!("{}{}", self.names.usage, key.day);
            let field = key.field();
            for (name, n) in COUNTERS.iter().zip(counts.values()) {
                if n > 0 {
                    pipe.cmd("HINCRBY")
                        .arg(&hash)
                        .arg(format!("{field}|{name}"))
                        .arg(n)
                        .ignore();
                }
            }
            pipe.cmd("EXPIRE").arg(&hash).arg(KEEP_SECONDS).ignore();
        }
        let pipe = &pipe;
        self.run(RedisOp::Usage, move |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    /// The totals of `days`.
    pub async fn load_usage(&self, days: &[String]) -> Result<Vec<UsageRow>, StoreError> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for day in days {
            pipe.cmd("HGETALL")
                .arg(format!("{}{day}", self.names.usage));
        }
        let pipe = &pipe;
        let hashes: Vec<HashMap<String, u64>> = self
            .run(RedisOp::Usage, move |mut c| async move {
                pipe.query_async(&mut c).await
            })
            .await?;
        let mut rows: HashMap<UsageKey, Counts> = HashMap::new();
        for (day, hash) in days.iter().zip(hashes) {
            for (field, n) in hash {
                let Some((field, counter)) = field.rsplit_once('|') else {
                    continue;
                };
                if let Some(key) = UsageKey::from_field(day, field) {
                    rows.entry(key).or_default().add_named(counter, n);
                }
            }
        }
        Ok(rows.into_iter().collect())
    }
}
