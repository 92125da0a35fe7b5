//! Conversation affinity: the requests of one session (a surface names it, e.g. Claude Code's
//! session id) keep using the same key while it is usable. Gemini's implicit prompt cache and its
//! thought signatures are scoped to a Google project, so staying on one key saves tokens and
//! avoids signature errors. A bounded LRU map from session id to key index, kept by dispatch;
//! without a session id, plain round-robin.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// Sessions remembered at most (oldest forgotten first).
const CAPACITY: usize = 16_384;

#[derive(Debug)]
pub struct Affinity {
    sessions: Mutex<LruCache<String, usize>>,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity::new(CAPACITY)
    }
}

impl Affinity {
    pub fn new(capacity: usize) -> Affinity {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Affinity {
            sessions: Mutex::new(LruCache::new(cap)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, usize>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key index this session used last, if any.
    pub fn preferred(&self, session: Option<&str>) -> Option<usize> {
        self.lock().get(session?).copied()
    }

    /// Remembers the key that served this session.
    pub fn remember(&self, session: Option<&str>, key_index: usize) {
        let Some(session) = session else { return };
        let mut map = self.lock();
        match map.get_mut(session) {
            Some(slot) => *slot = key_index,
            None => {
                map.put(session.to_string(), key_index);
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
}
