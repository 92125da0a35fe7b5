//! Gemini's stored resources on a pool of keys. Everything Gemini keeps between calls — an
//! uploaded file, a context cache, a batch job, a stored interaction — belongs to the Google
//! project of the key that created it; another project's key gets a 403. So the gateway keeps
//! one book, [`Owners`]: when an answer creates a resource, its name is written down with the
//! key that made it (and that key's declared project), until the resource's own expiry. A later
//! request that names the resource — in its path or anywhere in its body — is placed on that
//! key or another key of the same project ([`placement`]); a request naming resources of two
//! projects is refused. One mechanism for every kind: the kinds differ only in how their names
//! are written ([`names`]).
//!
//! The book lives in the store's documents (`owner/<name>`: embedded, or Redis for many
//! gateways), with a bounded in-memory copy in front. Until this gateway has written or read a
//! name, and unless the store is shared, requests are not even scanned for names: the feature
//! costs nothing when unused.

pub mod names;
pub mod placement;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, UnixMillis};
use crate::store::Backend;

pub use names::{Kind, ResourceName};
pub use placement::{place, Misplaced, Placed};

/// Owners kept in memory at most (the store keeps them all).
const MEMORY_ENTRIES: usize = 65_536;

/// How long an owner is kept when the answer gives no expiry: files live 48 h, batches and
/// interactions are kept by Google for days; a week errs long (a stale entry only steers).
pub const DEFAULT_KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// Who made a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The key's id (its fingerprint, never the key).
    pub key: String,
    /// The project the key was declared in (`project:key`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Unix ms after which the resource is gone.
    pub expires_at: UnixMillis,
}

impl Owner {
    /// The project, as two owners are compared: the declared one, else the key's own.
    pub fn project_label(&self) -> String {
        match &self.project {
            Some(p) => format!("project {p}"),
            None => format!("the project of key {}", self.key),
        }
    }

    fn same_project(&self, other: &Owner) -> bool {
        match (&self.project, &other.project) {
            (Some(a), Some(b)) => a == b,
            _ => self.key == other.key,
        }
    }
}

/// The book of who made which resource.
#[derive(Debug)]
pub struct Owners {
    memory: Mutex<LruCache<String, Owner>>,
    backend: Backend,
    clock: Clock,
    /// A name was written or read here: requests are worth scanning.
    seen: AtomicBool,
    /// Until when the store's in-use mark lasts, as this process last wrote it.
    marked_until: AtomicI64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A document that says the book holds owners (so a restarted gateway scans requests again).
const IN_USE: &str = "owners/in-use";

impl Owners {
    /// A book over `backend`; whether the store already holds owners (a restart) is read in
    /// the background, when a runtime runs.
    pub fn new(backend: Backend, clock: Clock) -> std::sync::Arc<Owners> {
        let book = std::sync::Arc::new(Owners {
            memory: Mutex::new(crate::caches::bounded_lru(MEMORY_ENTRIES)),
            backend,
            clock,
            seen: AtomicBool::new(false),
            marked_until: AtomicI64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let waking = book.clone();
            runtime.spawn(async move { waking.wake().await });
        }
        book
    }

    /// Notes that the store holds owners written before this process started.
    pub async fn wake(&self) {
        if let Ok(Some(_)) = self.backend.get_document(IN_USE, self.clock.now()).await {
            self.seen.store(true, Ordering::Relaxed);
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, LruCache<String, Owner>> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request may name a resource this book knows: one was recorded or read here,
    /// or the store is shared (another gateway may have recorded one).
    pub fn in_use(&self) -> bool {
        self.seen.load(Ordering::Relaxed) || self.backend.is_shared()
    }

    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// Writes down that `owner` made `name`.
    pub async fn record(&self, name: &ResourceName, owner: Owner) {
        self.seen.store(true, Ordering::Relaxed);
        let doc = serde_json::to_vec(&owner).unwrap_or_default();
        let expires = owner.expires_at;
        self.memory().put(name.as_str().to_string(), owner);
        // The mark is renewed once a day at most (a list records many owners at once).
        let marked = if expires > self.marked_until.load(Ordering::Relaxed) + DAY_MS {
            self.marked_until.store(expires, Ordering::Relaxed);
            self.backend
                .put_document(IN_USE, b"1".to_vec(), Some(expires))
                .await
        } else {
            Ok(())
        };
        if let Err(e) = marked.and(
            self.backend
                .put_document(&doc_name(name), doc, Some(expires))
                .await,
        ) {
            tracing::warn!(resource = name.as_str(), error = %e, "could not keep a resource's owner in the store");
        }
    }

    /// Who made `name`, if this book knows and it has not expired.
    pub async fn lookup(&self, name: &ResourceName) -> Option<Owner> {
        let now = self.clock.now();
        if let Some(o) = self.memory().get(name.as_str()) {
            if o.expires_at > now {
                return Some(o.clone());
            }
        }
        let doc = match self.backend.get_document(&doc_name(name), now).await {
            Ok(doc) => doc?,
            Err(e) => {
                tracing::warn!(resource = name.as_str(), error = %e, "could not read a resource's owner from the store");
                return None;
            }
        };
        let owner: Owner = serde_json::from_slice(&doc).ok()?;
        (owner.expires_at > now).then(|| {
            self.seen.store(true, Ordering::Relaxed);
            self.memory().put(name.as_str().to_string(), owner.clone());
            owner
        })
    }

    /// Forgets `name` (it was deleted).
    pub async fn forget(&self, name: &ResourceName) {
        self.memory().pop(name.as_str());
        if let Err(e) = self.backend.delete_document(&doc_name(name)).await {
            tracing::warn!(resource = name.as_str(), error = %e, "could not forget a resource's owner in the store");
        }
    }
}

fn doc_name(name: &ResourceName) -> String {
    format!("owner/{}", name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(key: &str, project: Option<&str>, expires_at: UnixMillis) -> Owner {
        Owner {
            key: key.into(),
            project: project.map(Into::into),
            expires_at,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn remembers_until_expiry_and_forgets() {
        let clock = Clock::starting_at(1_000);
        let book = Owners::new(Backend::Volatile, clock);
        book.wake().await;
        assert!(!book.in_use(), "unused until a name is written");
        let file = ResourceName::new(Kind::File, "abc123");
        book.record(&file, owner("k1", None, 5_000)).await;
        assert!(book.in_use());
        assert_eq!(book.lookup(&file).await.map(|o| o.key), Some("k1".into()));
        tokio::time::advance(std::time::Duration::from_secs(5)).await;
        assert_eq!(book.lookup(&file).await, None, "expired");
        book.record(&file, owner("k2", None, 60_000)).await;
        book.forget(&file).await;
        assert_eq!(book.lookup(&file).await, None);
    }

    #[test]
    fn projects_compare_by_declaration_else_by_key() {
        let a = owner("k1", Some("p"), 0);
        assert!(a.same_project(&owner("k2", Some("p"), 0)));
        assert!(!a.same_project(&owner("k2", Some("q"), 0)));
        assert!(!a.same_project(&owner("k2", None, 0)));
        assert!(owner("k1", None, 0).same_project(&owner("k1", Some("p"), 0)));
    }
}
