//! Conversation affinity: the requests of one session (a surface names it, e.g. Claude Code's
//! session id) keep using the same key while it is usable. Gemini's implicit prompt cache and its
//! thought signatures are scoped to a Google project, so staying on one key saves tokens and
//! avoids signature errors. A bounded LRU map from session id to key index, kept by dispatch;
//! without a session id, plain round-robin.
//!
//! A session a surface made from a request's stable prefix (`prefix:…`, see
//! `surfaces::shared::prefix`) rather than one the client named is bounded: many clients may
//! share a prefix, so it keeps to its key for at most [`PREFIX_PER_MINUTE`] requests a minute,
//! and the rest go round-robin — one hot prefix cannot pin all traffic on one key.

use std::sync::Mutex;

use lru::LruCache;
use tokio::time::{Duration, Instant};

/// Sessions remembered at most (oldest forgotten first).
const CAPACITY: usize = 16_384;

/// Requests a minute one prefix-made session keeps to its key, at most.
pub const PREFIX_PER_MINUTE: u32 = 60;

/// What a session is remembered with: its key, and (for a prefix) this minute's requests.
#[derive(Debug, Clone, Copy)]
struct Remembered {
    key: usize,
    minute_began: Instant,
    this_minute: u32,
}

#[derive(Debug)]
pub struct Affinity {
    sessions: Mutex<LruCache<String, Remembered>>,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity::new(CAPACITY)
    }
}

impl Affinity {
    pub fn new(capacity: usize) -> Affinity {
        Affinity {
            sessions: Mutex::new(crate::caches::bounded_lru(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Remembered>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key index this session used last, if any (a prefix's only within its bound).
    pub fn preferred(&self, session: Option<&str>) -> Option<usize> {
        let session = session?;
        let mut map = self.lock();
        let r = map.get_mut(session)?;
        if !session.starts_with("prefix:") {
            return Some(r.key);
        }
        let now = Instant::now();
        if now.duration_since(r.minute_began) >= Duration::from_secs(60) {
            r.minute_began = now;
            r.this_minute = 0;
        }
        r.this_minute += 1;
        (r.this_minute <= PREFIX_PER_MINUTE).then_some(r.key)
    }

    /// Remembers the key that served this session (a prefix over its bound keeps its key).
    pub fn remember(&self, session: Option<&str>, key_index: usize) {
        let Some(session) = session else { return };
        let mut map = self.lock();
        match map.get_mut(session) {
            Some(r) if r.this_minute > PREFIX_PER_MINUTE => {}
            Some(r) => r.key = key_index,
            None => {
                let fresh = Remembered {
                    key: key_index,
                    minute_began: Instant::now(),
                    this_minute: 0,
                };
                map.put(session.to_string(), fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_the_oldest() {
        let a = Affinity::new(2);
        a.remember(Some("s1"), 3);
        a.remember(Some("s2"), 1);
        assert_eq!(a.preferred(Some("s1")), Some(3));
        a.remember(Some("s3"), 0); // evicts s2, the least recently used
        assert_eq!(a.preferred(Some("s2")), None);
        a.remember(Some("s1"), 2);
        assert_eq!(a.preferred(Some("s1")), Some(2));
        assert_eq!(a.preferred(None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_prefix_keeps_its_key_only_within_its_bound() {
        let a = Affinity::new(8);
        a.remember(Some("prefix:1"), 2);
        for _ in 0..PREFIX_PER_MINUTE {
            assert_eq!(a.preferred(Some("prefix:1")), Some(2));
            a.remember(Some("prefix:1"), 2);
        }
        assert_eq!(a.preferred(Some("prefix:1")), None, "over its bound");
        a.remember(Some("prefix:1"), 0);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            a.preferred(Some("prefix:1")),
            Some(2),
            "a new minute, its key"
        );
        // A session the client named has no bound.
        a.remember(Some("s"), 1);
        for _ in 0..=PREFIX_PER_MINUTE {
            assert_eq!(a.preferred(Some("s")), Some(1));
        }
    }
}
