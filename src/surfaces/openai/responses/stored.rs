//! Stored responses: what `store: true` keeps so a later request can continue from it
//! (`previous_response_id`), name its items (`item_reference`), or read it back
//! (`GET /v1/responses/{id}`, `…/input_items`).
//!
//! A [`Record`] is one response whole: the model's entire input (the conversation so far and
//! the request's own items, each with its id) and the response object as answered, its output
//! items carrying the thought signatures (`reasoning.encrypted_content`, `call_id`) that Gemini
//! needs back. Whole, not a link to its predecessor: any response can be continued or forked
//! alone, and an expired ancestor never breaks a chain.
//!
//! - **Where**: the store's documents (`response/<id>`: embedded, or Redis for many gateways),
//!   expiring after `RESPONSES_STORE_HOURS`; a bounded in-memory copy of the recent ones in
//!   front, so the next turn of a conversation does not wait on the store (and a gateway
//!   without a store still continues its own conversations).
//! - **Whose**: a record names the client key that made it; another client is told it does not
//!   exist.
//! - **Items point home**: the ids of a response's output items are made from the response's
//!   own (`msg_<R>3` belongs to `resp_<R>`), so an `item_reference` finds its response without
//!   an index.
//! - **Bounded**: a record larger than `RESPONSES_STORE_MAX_BYTES` is not kept (logged); the
//!   memory copy holds at most [`MEMORY_BYTES`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pool::KeyPool;

/// Serialized bytes of the records kept in memory at most, the most recently used first (parsed,
/// they take about three to four times as much).
pub const MEMORY_BYTES: usize = 32 * 1024 * 1024;

/// Length of the random part of a response id, shared by its items' ids.
pub const ID_RANDOM: usize = 24;

/// How often expired records are swept out of the embedded store.
const SWEEP_EVERY_MS: i64 = 10 * 60 * 1000;

/// One stored response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The client key that made it (its name; empty without client keys).
    pub owner: String,
    /// The model's whole input: the conversation so far, then the request's own items.
    pub input: Vec<Value>,
    /// The response object as answered.
    pub response: Value,
    /// The conversation it belongs to (its first response's id): its key affinity.
    pub conversation: String,
    /// Unix ms after which it is gone.
    pub expires_at: i64,
}

impl Record {
    /// The response's output items.
    pub fn output(&self) -> &[Value] {
        self.response["output"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }

    /// The conversation so far, for a request that continues from this response.
    pub fn history(&self) -> impl Iterator<Item = &Value> {
        self.input.iter().chain(self.output())
    }

    /// The item with `id`, among its input and output.
    pub fn item(&self, id: &str) -> Option<&Value> {
        self.history().find(|v| v["id"].as_str() == Some(id))
    }
}

/// The id of the response an item id was made for (see the module doc), if it is one of ours.
pub fn response_of_item(item_id: &str) -> Option<String> {
    let (_, rest) = item_id.split_once('_')?;
    let random = rest.get(..ID_RANDOM)?;
    random
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        .then(|| format!("resp_{random}"))
}

/// The stored responses of this gateway (and, through Redis, of every gateway).
#[derive(Debug)]
pub struct ResponseBook {
    pool: Arc<KeyPool>,
    /// How long a record lasts, in ms; 0: nothing is kept beyond memory and the socket.
    ttl_ms: i64,
    max_bytes: usize,
    memory: Mutex<Memory>,
    /// Responses deleted lately: a background write still under way must not bring one back.
    deleted: Mutex<LruCache<String, ()>>,
    last_sweep: AtomicI64,
}

/// Deletions remembered (against writes still under way).
const DELETIONS_REMEMBERED: usize = 1024;

/// The recent records, by response id, with their sizes.
#[derive(Debug)]
struct Memory {
    records: LruCache<String, (Arc<Record>, usize)>,
    bytes: usize,
}

fn document(id: &str) -> String {
    format!("response/{id}")
}

impl ResponseBook {
    pub fn new(pool: Arc<KeyPool>, ttl_hours: u64, max_bytes: usize) -> ResponseBook {
        ResponseBook {
            pool,
            ttl_ms: (ttl_hours.min(24 * 365 * 10) * 3_600_000) as i64,
            max_bytes,
            memory: Mutex::new(Memory {
                records: LruCache::unbounded(),
                bytes: 0,
            }),
            deleted: Mutex::new(crate::caches::bounded_lru(DELETIONS_REMEMBERED)),
            last_sweep: AtomicI64::new(0),
        }
    }

    fn was_deleted(&self, id: &str) -> bool {
        self.deleted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// Whether `store: true` keeps anything.
    pub fn keeps(&self) -> bool {
        self.ttl_ms > 0
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.pool.clock().now()
    }

    /// The deadline of a record made now.
    pub fn expiry(&self) -> i64 {
        self.now() + self.ttl_ms
    }

    /// The response `id`, if it exists, has not expired and belongs to `owner`.
    pub async fn get(&self, id: &str, owner: &str) -> Option<Arc<Record>> {
        if self.was_deleted(id) {
            return None;
        }
        let now = self.now();
        let found = self.memory().records.get(id).map(|(r, _)| r.clone());
        let record = match found {
            Some(r) => r,
            None => {
                let bytes = match self.pool.backend().get_document(&document(id), now).await {
                    Ok(b) => b?,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read a stored response");
                        return None;
                    }
                };
                let record: Record = serde_json::from_slice(&bytes).ok()?;
                let record = Arc::new(record);
                self.remember(id, record.clone(), bytes.len());
                record
            }
        };
        (record.expires_at > now && record.owner == owner).then_some(record)
    }

    fn remember(&self, id: &str, record: Arc<Record>, size: usize) {
        if size > MEMORY_BYTES / 4 {
            return;
        }
        let mut m = self.memory();
        if let Some((_, old)) = m.records.put(id.to_string(), (record, size)) {
            m.bytes -= old;
        }
        m.bytes += size;
        while m.bytes > MEMORY_BYTES {
            match m.records.pop_lru() {
                Some((_, (_, s))) => m.bytes -= s,
                None => break,
            }
        }
    }

    /// Keeps `record` as response `id`: in memory at once (the client's next request may come
    /// the moment this response ends), in the store in the background.
    pub fn keep(self: &Arc<Self>, id: &str, record: Record) {
        if !self.keeps() {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(&record) else {
            return;
        };
        if bytes.len() > self.max_bytes {
            tracing::warn!(
                response = id,
                bytes = bytes.len(),
                limit = self.max_bytes,
                "response not stored: larger than RESPONSES_STORE_MAX_BYTES"
            );
            return;
        }
        let expires_at = record.expires_at;
        self.remember(id, Arc::new(record), bytes.len());
        let (book, id) = (self.clone(), id.to_string());
        tokio::spawn(async move {
            let backend = book.pool.backend();
            if book.was_deleted(&id) {
                return;
            }
            if let Err(e) = backend
                .put_document(&document(&id), bytes, Some(expires_at))
                .await
            {
                tracing::warn!(response = %id, error = %e, "could not store a response");
            }
            book.sweep().await;
        });
    }

    /// Forgets response `id` if it belongs to `owner`; whether there was one.
    pub async fn delete(&self, id: &str, owner: &str) -> bool {
        if self.get(id, owner).await.is_none() {
            return false;
        }
        self.deleted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(id.to_string(), ());
        {
            let mut m = self.memory();
            if let Some((_, size)) = m.records.pop(id) {
                m.bytes -= size;
            }
        }
        if let Err(e) = self.pool.backend().delete_document(&document(id)).await {
            tracing::warn!(response = id, error = %e, "could not delete a stored response");
        }
        true
    }

    /// Sweeps expired records out of the embedded store, at most every ten minutes.
    async fn sweep(&self) {
        let now = self.now();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now - last < SWEEP_EVERY_MS
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        match self.pool.backend().sweep_documents(now).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "expired documents swept"),
            Err(e) => tracing::warn!(error = %e, "could not sweep expired documents"),
        }
    }
}

/// The last responses of one WebSocket: continued from even when not stored (`store: false`),
/// as OpenAI's WebSocket mode does.
#[derive(Debug)]
pub struct SocketMemory {
    records: LruCache<String, Arc<Record>>,
}

impl SocketMemory {
    /// Remembers the last `n` responses.
    pub fn new(n: usize) -> SocketMemory {
        SocketMemory {
            records: crate::caches::bounded_lru(n),
        }
    }

    pub fn get(&mut self, id: &str) -> Option<Arc<Record>> {
        self.records.get(id).cloned()
    }

    pub fn put(&mut self, id: &str, record: Arc<Record>) {
        self.records.put(id.to_string(), record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::secret::ApiKey;
    use crate::store::embedded::EmbeddedStore;
    use crate::store::Backend;
    use std::time::Duration;

    async fn pool(dir: &std::path::Path) -> Arc<KeyPool> {
        let keys = vec![ApiKey::new("AIzaSyStoredResponsesTestKey0xxxxxxxxxxxx")];
        let backend = Backend::Embedded(EmbeddedStore::open(dir).unwrap());
        let clock = Clock::starting_at(1_780_000_000_000);
        let plan = Default::default();
        let pool = KeyPool::open(keys, &plan, Duration::ZERO, clock, backend);
        Arc::new(pool.await.unwrap())
    }

    fn record(book: &ResponseBook, owner: &str) -> Record {
        Record {
            owner: owner.into(),
            input: vec![serde_json::json!({"id": "item_1", "type": "message"})],
            response: serde_json::json!({"id": "resp_1", "output": []}),
            conversation: "resp_1".into(),
            expires_at: book.expiry(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_is_its_owners_until_it_expires_and_outlives_the_memory_copy() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path()).await;
        let book = Arc::new(ResponseBook::new(pool.clone(), 1, 1 << 20));
        book.keep("resp_1", record(&book, "alice"));
        assert!(book.get("resp_1", "alice").await.is_some());
        assert!(book.get("resp_1", "bob").await.is_none());
        // The store's copy, read by a book with nothing in memory (another gateway, a restart).
        let fresh = ResponseBook::new(pool.clone(), 1, 1 << 20);
        let stored = eventually(|| fresh.get("resp_1", "alice")).await;
        assert_eq!(stored.input.len(), 1);
        tokio::time::advance(Duration::from_secs(3_601)).await;
        assert!(book.get("resp_1", "alice").await.is_none());
        assert!(fresh.get("resp_1", "alice").await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn too_large_or_switched_off_keeps_nothing_and_delete_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(dir.path()).await;
        let small = Arc::new(ResponseBook::new(pool.clone(), 1, 10));
        small.keep("resp_1", record(&small, ""));
        assert!(small.get("resp_1", "").await.is_none());
        let off = Arc::new(ResponseBook::new(pool.clone(), 0, 1 << 20));
        assert!(!off.keeps());
        off.keep("resp_1", record(&off, ""));
        assert!(off.get("resp_1", "").await.is_none());
        let book = Arc::new(ResponseBook::new(pool, 1, 1 << 20));
        book.keep("resp_1", record(&book, ""));
        assert!(!book.delete("resp_1", "someone-else").await);
        assert!(book.delete("resp_1", "").await);
        assert!(book.get("resp_1", "").await.is_none());
        assert!(!book.delete("resp_1", "").await);
    }

    /// The record once the background write has landed.
    async fn eventually<F, Fut>(mut probe: F) -> Arc<Record>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<Arc<Record>>>,
    {
        for _ in 0..2_500 {
            if let Some(r) = probe().await {
                return r;
            }
            // The write runs on the blocking pool, outside the paused clock.
            std::thread::sleep(std::time::Duration::from_millis(2));
            tokio::task::yield_now().await;
        }
        panic!("never stored");
    }

    #[test]
    fn an_item_id_names_its_response() {
        let r = "A".repeat(ID_RANDOM);
        assert_eq!(
            response_of_item(&format!("msg_{r}3")),
            Some(format!("resp_{r}"))
        );
        assert_eq!(
            response_of_item(&format!("fc_{r}12")),
            Some(format!("resp_{r}"))
        );
        assert_eq!(response_of_item("msg_short"), None);
        assert_eq!(response_of_item("nounderscore"), None);
        assert_eq!(response_of_item(&format!("msg_{}-x", "a".repeat(23))), None);
    }

    #[test]
    fn a_record_finds_items_in_its_input_and_output() {
        let record = Record {
            owner: String::new(),
            input: vec![serde_json::json!({"id": "in_1", "type": "message"})],
            response: serde_json::json!({"output": [{"id": "out_1", "type": "message"}]}),
            conversation: "resp_x".into(),
            expires_at: 1,
        };
        assert!(record.item("in_1").is_some());
        assert!(record.item("out_1").is_some());
        assert!(record.item("nope").is_none());
        assert_eq!(record.history().count(), 2);
    }
}
