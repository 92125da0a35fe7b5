//! What can go wrong with a state store, typed: the embedded database's own errors, Redis's own
//! errors, and the store's few refusals. No error carries free text; each names its source.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database (`STATE_PATH/pool.redb`).
    #[error("state file {}: {fault}", path.display())]
    Embedded {
        path: Arc<Path>,
        fault: Box<EmbeddedFault>,
    },
    /// Redis (`REDIS_URL`).
    #[error("redis: {op}: {fault}")]
    Redis { op: RedisOp, fault: Box<RedisFault> },
}

/// Why the embedded database failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedFault {
    #[error("cannot create the folder: {0}")]
    CreateFolder(#[source] std::io::Error),
    #[error(
        "cannot open the state database ({0}); move the file away to start with a fresh pool state"
    )]
    Open(#[source] redb::DatabaseError),
    #[error("{0}")]
    Database(#[from] redb::Error),
    #[error("the database worker stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// The Redis operation that failed (low cardinality, for logs and the status page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisOp {
    Connect,
    Pick,
    Apply,
    RecordFailure,
    Merge,
    Load,
    Membership,
    Ping,
    Usage,
    ClientWindow,
    Document,
}

impl std::fmt::Display for RedisOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisOp::Connect => "connect",
            RedisOp::Pick => "pick",
            RedisOp::Apply => "apply",
            RedisOp::RecordFailure => "record_failure",
            RedisOp::Merge => "merge",
            RedisOp::Load => "load",
            RedisOp::Membership => "membership",
            RedisOp::Ping => "ping",
            RedisOp::Usage => "usage",
            RedisOp::ClientWindow => "client_window",
            RedisOp::Document => "document",
        })
    }
}

/// Why a Redis operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisFault {
    #[error("{0}")]
    Command(#[from] ::redis::RedisError),
    #[error("no connection within {} ms", .0.as_millis())]
    NoConnection(Duration),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("adding a key to a shared pool needs ADMIN_API_KEY (it seals the key)")]
    NoSealer,
    #[error("could not seal the key")]
    SealFailed,
}

impl StoreError {
    pub(super) fn redis(op: RedisOp, fault: impl Into<RedisFault>) -> StoreError {
        StoreError::Redis {
            op,
            fault: Box::new(fault.into()),
        }
    }
}
