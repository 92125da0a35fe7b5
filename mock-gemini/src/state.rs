//! The state one mock server shares between its connections: options, scripted rules,
//! the bounded request log, issued thought signatures, the projects' resources (files, caches)
//! and a counter for ids.
//!
//! The request log keeps raw body bytes (parsed to JSON only when read) and is bounded
//! both in entries and in bytes, so a long benchmark does not grow memory without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::quota::Quotas;
use crate::resources::Resources;
use crate::script::{MockOptions, RuleBook};
use crate::signatures::{splitmix, SignatureStore};

/// At most this many requests are kept.
const LOG_ENTRIES: usize = 10_000;
/// At most this many body bytes are kept.
const LOG_BYTES: usize = 256 * 1024 * 1024;

/// One request the mock received, as the tests see it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// The path, e.g. `/v1beta/models/gemini-3.8-flash:generateContent`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The key from the `x-goog-api-key` header (or from `?key=` when there is no header).
    pub api_key: Option<String>,
    /// True when `?key=` was present.
    pub key_in_query: bool,
    /// The model named in the path, without `models/`.
    pub model: Option<String>,
    /// `generateContent`, `streamGenerateContent`, `countTokens`, `get` or `list`.
    pub action: Option<String>,
    /// The body as JSON (a JSON string holding the raw text when it was not JSON; `None` when empty).
    pub body: Option<Value>,
    /// The status the mock answered (0 when it never answered, e.g. `Hang`).
    pub status: u16,
    /// The protocol it came over: `HTTP/1.1`, or `HTTP/2.0` (TLS with ALPN `h2`).
    pub http_version: String,
}

/// A log entry; the body stays raw until someone reads the log.
pub struct Entry {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub api_key: Option<String>,
    pub key_in_query: bool,
    pub model: Option<String>,
    pub action: Option<String>,
    pub body: Bytes,
    pub status: u16,
    pub http_version: axum::http::Version,
}

impl Entry {
    fn recorded(&self) -> RecordedRequest {
        let body = if self.body.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&self.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&self.body).into_owned())
            }))
        };
        RecordedRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            api_key: self.api_key.clone(),
            key_in_query: self.key_in_query,
            model: self.model.clone(),
            action: self.action.clone(),
            body,
            status: self.status,
            http_version: format!("{:?}", self.http_version),
        }
    }
}

#[derive(Default)]
struct RequestLog {
    entries: VecDeque<Entry>,
    bytes: usize,
}

/// Everything a server's handlers share.
pub struct State {
    /// Text chunks per streamed answer.
    pub stream_chunks: usize,
    /// Delay between streamed events.
    pub chunk_interval: Duration,
    /// Delay before answering.
    pub response_delay: Duration,
    /// Scripted rules.
    pub rules: Mutex<RuleBook>,
    /// Issued thought signatures.
    pub signatures: Mutex<SignatureStore>,
    /// Per-project quotas and their usage.
    pub quotas: Mutex<Quotas>,
    /// Per-project files, context caches and implicit-cache prefixes.
    pub resources: Mutex<Resources>,
    log: Mutex<RequestLog>,
    counter: AtomicU64,
    seed: u64,
    /// Flips to true when the server shuts down; long waits watch it.
    pub shutdown: watch::Receiver<bool>,
}

/// Locks a mutex, ignoring poisoning (a panicking test must not wedge the server).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// New state for a server with `options`.
    #[expect(
        clippy::disallowed_methods,
        reason = "the wall clock only seeds the signature generator"
    )]
    pub fn new(options: &MockOptions, shutdown: watch::Receiver<bool>) -> State {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        State {
            stream_chunks: options.stream_chunks.unwrap_or(3).max(1),
            chunk_interval: Duration::from_millis(options.chunk_interval_ms.unwrap_or(0)),
            response_delay: Duration::from_millis(options.response_delay_ms.unwrap_or(0)),
            rules: Mutex::new(RuleBook::default()),
            signatures: Mutex::new(SignatureStore::default()),
            quotas: Mutex::new(Quotas::default()),
            resources: Mutex::new(Resources::default()),
            log: Mutex::new(RequestLog::default()),
            counter: AtomicU64::new(1),
            seed,
            shutdown,
        }
    }

    /// A fresh, unique, random-looking number.
    pub fn nonce(&self) -> u64 {
        let mut state = self.seed ^ self.counter.fetch_add(1, Ordering::Relaxed);
        splitmix(&mut state)
    }

    /// A `responseId`: 22 characters of the URL-safe base64 alphabet.
    pub fn response_id(&self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut state = self.nonce();
        (0..22)
            .map(|_| char::from(ALPHABET[(splitmix(&mut state) % 64) as usize]))
            .collect()
    }

    /// Issues and remembers a thought signature.
    pub fn issue_signature(&self) -> String {
        let nonce = self.nonce();
        lock(&self.signatures).issue(nonce)
    }

    /// Appends to the request log, dropping the oldest entries beyond the bounds.
    pub fn record(&self, entry: Entry) {
        let mut log = lock(&self.log);
        log.bytes += entry.body.len();
        log.entries.push_back(entry);
        while log.entries.len() > LOG_ENTRIES || (log.bytes > LOG_BYTES && log.entries.len() > 1) {
            if let Some(old) = log.entries.pop_front() {
                log.bytes -= old.body.len();
            }
        }
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log)
            .entries
            .iter()
            .map(Entry::recorded)
            .collect()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        let mut log = lock(&self.log);
        log.entries.clear();
        log.bytes = 0;
    }

    /// Sleeps for `duration`; returns false if the server shut down meanwhile.
    pub async fn sleep(&self, duration: Duration) -> bool {
        if duration.is_zero() {
            return !*self.shutdown.borrow();
        }
        let mut shutdown = self.shutdown.clone();
        let slept = tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = shutdown.wait_for(|down| *down) => false,
        };
        slept && !*self.shutdown.borrow()
    }

    /// Waits until the server shuts down.
    pub async fn until_shutdown(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|down| *down).await;
    }
}
