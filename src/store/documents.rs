//! Named documents: a few bytes the gateway keeps whole under a name, optionally until a
//! deadline — the live model catalog, the keys' declared models, stored responses: whatever
//! must outlive a restart or be shared by every gateway on a Redis. Embedded: one redb table
//! (`name` → deadline and bytes), swept of expired documents by [`Backend::sweep_documents`];
//! Redis: one string per name (`{P}:doc:<name>`), expiring at the deadline.

use redb::{ReadableTableMetadata, TableDefinition};

use super::backend::Backend;
use super::embedded::EmbeddedStore;
use super::redis::RedisStore;
use super::{RedisOp, StoreError};
use crate::clock::UnixMillis;

/// name → (deadline in Unix ms, or 0 for none; the bytes).
const DOCUMENTS: TableDefinition<&str, (i64, &[u8])> = TableDefinition::new("documents");

impl Backend {
    /// Keeps `value` under `name` (replacing what was there) until `expires_at`, if given.
    pub async fn put_document(
        &self,
        name: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        match self {
            Backend::Volatile => Ok(()),
            Backend::Embedded(s) => s.put_document(name.to_string(), value, expires_at).await,
            Backend::Redis(r) => Box::pin(r.put_document(name, &value, expires_at)).await,
        }
    }

    /// The document under `name`, unless absent or past its deadline at `now`.
    pub async fn get_document(
        &self,
        name: &str,
        now: UnixMillis,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Backend::Volatile => Ok(None),
            Backend::Embedded(s) => s.get_document(name.to_string(), now).await,
            Backend::Redis(r) => Box::pin(r.get_document(name)).await,
        }
    }

    /// Forgets the document under `name` (nothing when there is none).
    pub async fn delete_document(&self, name: &str) -> Result<(), StoreError> {
        match self {
            Backend::Volatile => Ok(()),
            Backend::Embedded(s) => s.delete_document(name.to_string()).await,
            Backend::Redis(r) => Box::pin(r.delete_document(name)).await,
        }
    }

    /// Removes the documents past their deadline at `now` (Redis expires its own); how many.
    pub async fn sweep_documents(&self, now: UnixMillis) -> Result<usize, StoreError> {
        match self {
            Backend::Embedded(s) => s.sweep_documents(now).await,
            Backend::Volatile | Backend::Redis(_) => Ok(0),
        }
    }
}

impl EmbeddedStore {
    async fn put_document(
        &self,
        name: String,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            {
                let mut table = txn.open_table(DOCUMENTS).map_err(|e| s.err(e))?;
                table
                    .insert(name.as_str(), (expires_at.unwrap_or(0), value.as_slice()))
                    .map_err(|e| s.err(e))?;
            }
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    async fn get_document(
        &self,
        name: String,
        now: UnixMillis,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_read().map_err(|e| s.err(e))?;
            let table = match txn.open_table(DOCUMENTS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(s.err(e)),
            };
            let found = table.get(name.as_str()).map_err(|e| s.err(e))?;
            Ok(found.and_then(|v| {
                let (deadline, bytes) = v.value();
                (deadline == 0 || deadline > now).then(|| bytes.to_vec())
            }))
        })
        .await
    }
}

impl EmbeddedStore {
    async fn delete_document(&self, name: String) -> Result<(), StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            {
                let mut table = txn.open_table(DOCUMENTS).map_err(|e| s.err(e))?;
                table.remove(name.as_str()).map_err(|e| s.err(e))?;
            }
            txn.commit().map_err(|e| s.err(e))
        })
        .await
    }

    async fn sweep_documents(&self, now: UnixMillis) -> Result<usize, StoreError> {
        self.blocking(move |s| {
            let txn = s.db.begin_write().map_err(|e| s.err(e))?;
            let removed = {
                let mut table = txn.open_table(DOCUMENTS).map_err(|e| s.err(e))?;
                let before = table.len().map_err(|e| s.err(e))?;
                table
                    .retain(|_, (deadline, _)| deadline == 0 || deadline > now)
                    .map_err(|e| s.err(e))?;
                before - table.len().map_err(|e| s.err(e))?
            };
            txn.commit().map_err(|e| s.err(e))?;
            Ok(removed as usize)
        })
        .await
    }
}

impl RedisStore {
    async fn delete_document(&self, name: &str) -> Result<(), StoreError> {
        let key = format!("{}{name}", self.names.documents);
        let key = &key;
        self.run(RedisOp::Document, move |mut c| async move {
            ::redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await
        })
        .await
    }

    async fn put_document(
        &self,
        name: &str,
        value: &[u8],
        expires_at: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(format!("{}{name}", self.names.documents))
            .arg(value);
        if let Some(at) = expires_at {
            cmd.arg("PXAT").arg(at);
        }
        let cmd = &cmd;
        self.run(RedisOp::Document, move |mut c| async move {
            cmd.query_async::<()>(&mut c).await
        })
        .await
    }

    async fn get_document(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = format!("{}{name}", self.names.documents);
        let key = &key;
        self.run(RedisOp::Document, move |mut c| async move {
            ::redis::cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(&mut c)
                .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn embedded_documents_last_until_their_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let store = Backend::Embedded(EmbeddedStore::open(dir.path()).unwrap());
        assert_eq!(store.get_document("catalog", 0).await.unwrap(), None);
        store
            .put_document("catalog", b"{}".to_vec(), None)
            .await
            .unwrap();
        store
            .put_document("brief", b"x".to_vec(), Some(1_000))
            .await
            .unwrap();
        assert_eq!(
            store.get_document("catalog", 5_000).await.unwrap(),
            Some(b"{}".to_vec())
        );
        assert_eq!(
            store.get_document("brief", 999).await.unwrap(),
            Some(b"x".to_vec())
        );
        assert_eq!(store.get_document("brief", 1_000).await.unwrap(), None);
        // The expired one is swept away, the other kept; a deleted one is gone.
        assert_eq!(store.sweep_documents(1_000).await.unwrap(), 1);
        assert_eq!(store.sweep_documents(1_000).await.unwrap(), 0);
        store
            .put_document("gone", b"y".to_vec(), None)
            .await
            .unwrap();
        store.delete_document("gone").await.unwrap();
        assert_eq!(store.get_document("gone", 0).await.unwrap(), None);
        drop(store);
        let again = Backend::Embedded(EmbeddedStore::open(dir.path()).unwrap());
        assert_eq!(
            again.get_document("catalog", 0).await.unwrap(),
            Some(b"{}".to_vec())
        );
    }
}
