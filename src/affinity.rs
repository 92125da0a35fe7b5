//! Conversation affinity: the requests of one Claude Code session keep using the same key while
//! it is usable. Gemini's implicit prompt cache and its thought signatures are scoped to a Google
//! project, so staying on one key saves tokens and avoids signature errors. A bounded LRU map
//! from session id to key index; without a session id, plain round-robin.

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

/// The session id of a Claude Code request: the `X-Claude-Code-Session-Id` header, else the
/// `session_id` inside `metadata.user_id` (a JSON string in current Claude Code, or the older
/// `user_…_account_…_session_<uuid>` form).
pub fn session_id(header: Option<&str>, metadata_user_id: Option<&str>) -> Option<String> {
    if let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) {
        return Some(h.to_string());
    }
    let user_id = metadata_user_id?;
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(user_id) {
        if let Some(s) = v
            .get("session_id")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
        {
            return Some(s.to_string());
        }
    }
    user_id
        .rsplit_once("_session_")
        .map(|(_, s)| s.to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_from_header_or_metadata() {
        assert_eq!(session_id(Some("abc"), None).as_deref(), Some("abc"));
        let json_form = r#"{"device_id":"d","account_uuid":"","session_id":"4668b844"}"#;
        assert_eq!(
            session_id(None, Some(json_form)).as_deref(),
            Some("4668b844")
        );
        assert_eq!(
            session_id(Some(" "), Some(json_form)).as_deref(),
            Some("4668b844")
        );
        let old_form = "user_abc_account__session_11111111-2222";
        assert_eq!(
            session_id(None, Some(old_form)).as_deref(),
            Some("11111111-2222")
        );
        assert_eq!(session_id(None, Some("plain-user")), None);
        assert_eq!(session_id(None, None), None);
    }

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
