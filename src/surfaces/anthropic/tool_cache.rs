//! Translated tools, remembered by the client's own text of them. Claude Code sends the same
//! dozen tools (about 32 KB of descriptions and JSON Schemas) on every turn of a conversation;
//! parsing, converting and re-encoding them was most of a turn's cost. A hit is found by the
//! text's length and a sample of it, then confirmed by comparing the whole text, so two tool
//! lists never share an entry; what is kept is bounded however many lists clients send (see
//! `CAPACITY`). The body scan asks what a body's `tools` begin with ([`remembered_at`]): a
//! remembered text is stepped over unread, and the request holds that text, not a copy.
//! Deferred tools are translated too and marked; which of them a request declares depends on
//! its conversation, so that choice is made per request.

use std::sync::{Arc, LazyLock, Mutex};

use lru::LruCache;
use serde_json::value::RawValue;

/// A translated tool list: each function's declaration (custom and client tools), encoded;
/// the server tools Gemini has a counterpart for, by name; and the types of those left out.
#[derive(Debug, Default)]
pub(crate) struct ToolSet {
    pub declarations: Vec<Declared>,
    /// `web_search_*`: Google Search.
    pub web_search: bool,
    /// `web_fetch_*`: URL context.
    pub web_fetch: bool,
    /// The web search and fetch tools: the name the client gave each (`tool_choice` may name
    /// it) and its type.
    pub builtin: Vec<(String, String)>,
    /// Server tool types Gemini has no counterpart for, in order.
    pub dropped: Vec<String>,
}

impl ToolSet {
    /// Whether a server-side tool search was left out: then nothing could reveal deferred
    /// tools, so they are declared from the start.
    pub fn search_dropped(&self) -> bool {
        self.dropped.iter().any(|t| t.starts_with("tool_search"))
    }
}

/// One custom tool, translated.
#[derive(Debug)]
pub(crate) struct Declared {
    /// The client's name, and Gemini's.
    pub name: String,
    pub gemini_name: String,
    /// `defer_loading`: declared only once the conversation refers to it.
    pub deferred: bool,
    pub encoded: Arc<RawValue>,
}

/// Fingerprints remembered (several clients, projects and model generations at once), and
/// lists kept per fingerprint (lists that share one: the oldest goes). At most
/// `CAPACITY × PER_FINGERPRINT × MAX_RAW` bytes of client text are kept, whatever clients send.
const CAPACITY: usize = 32;
const PER_FINGERPRINT: usize = 4;

/// Tool lists longer than this are translated every time, not remembered (Claude Code's are
/// about 32 KB).
pub(crate) const MAX_RAW: usize = 256 * 1024;

struct Entry {
    raw: Arc<str>,
    set: Arc<ToolSet>,
}

impl Entry {
    /// Whether the entry is for `raw`: the very text it holds (a request's list found by
    /// [`remembered_at`]) without a comparison, else compared whole.
    fn is_for(&self, raw: &str) -> bool {
        (std::ptr::eq(self.raw.as_ptr(), raw.as_ptr()) && self.raw.len() == raw.len())
            || *self.raw == *raw
    }
}

type Cache = LruCache<(u64, bool), Vec<Entry>>;

static CACHE: LazyLock<Mutex<Cache>> =
    LazyLock::new(|| Mutex::new(crate::caches::bounded_lru(CAPACITY)));

/// A cheap fingerprint: the length and up to 64 bytes from each end (the full comparison
/// decides).
fn sample(raw: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let bytes = raw.as_bytes();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.len().hash(&mut h);
    bytes[..bytes.len().min(64)].hash(&mut h);
    bytes[bytes.len().saturating_sub(64)..].hash(&mut h);
    h.finish()
}

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The remembered translation of `raw` for `strict`, if any.
pub(crate) fn get(raw: &str, strict: bool) -> Option<Arc<ToolSet>> {
    lock()
        .get(&(sample(raw), strict))?
        .iter()
        .find(|e| e.is_for(raw))
        .map(|e| e.set.clone())
}

/// The remembered list `bytes` begin with, if any (most recently used first): a text that was
/// read, translated and remembered as a request's `tools`.
pub(crate) fn remembered_at(bytes: &[u8]) -> Option<Arc<str>> {
    lock()
        .iter()
        .flat_map(|(_, entries)| entries.iter().rev())
        .find(|e| bytes.starts_with(e.raw.as_bytes()))
        .map(|e| e.raw.clone())
}

/// Remembers the translation of `raw` for `strict` (unless the list is longer than `MAX_RAW`).
pub(crate) fn put(raw: &Arc<str>, strict: bool, set: Arc<ToolSet>) {
    if raw.len() > MAX_RAW {
        return;
    }
    let mut cache = lock();
    let entries = cache.get_or_insert_mut((sample(raw), strict), Vec::new);
    if !entries.iter().any(|e| e.is_for(raw)) {
        if entries.len() >= PER_FINGERPRINT {
            entries.remove(0);
        }
        entries.push(Entry {
            raw: raw.clone(),
            set,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_the_same_text_and_mode() {
        let set = Arc::new(ToolSet {
            web_search: true,
            ..ToolSet::default()
        });
        let pad = "x".repeat(100);
        let raw = format!(
            r#"[{{"name":"cache-test-only","description":"{pad}","input_schema":{{"type":"object","description":"{pad}"}}}}]"#
        );
        let raw: Arc<str> = raw.into();
        put(&raw, false, set.clone());
        let raw = &*raw;
        assert!(get(raw, false).is_some_and(|s| s.web_search));
        assert!(get(raw, true).is_none());
        // Same length and ends (the sample), one byte different in the middle: no hit.
        let other = raw.replace("cache-test-only", "cache-test-onlx");
        assert_eq!(other.len(), raw.len());
        assert!(get(&other, false).is_none());
    }

    #[test]
    fn lists_that_share_a_fingerprint_or_are_huge_are_bounded() {
        let pad = "y".repeat(100);
        let list = |i: usize| {
            format!(r#"[{{"name":"{pad}","description":"bounded-{i:04}","x":"{pad}"}}]"#)
        };
        for i in 0..10 {
            put(&list(i).into(), false, Arc::new(ToolSet::default()));
        }
        // Same length and ends: one fingerprint, which keeps only the latest few.
        assert!(get(&list(0), false).is_none());
        assert!(get(&list(9), false).is_some());
        let kept = (0..10).filter(|&i| get(&list(i), false).is_some()).count();
        assert_eq!(kept, PER_FINGERPRINT);
        let huge = format!("[\"{}\"]", "z".repeat(MAX_RAW));
        put(&huge.as_str().into(), false, Arc::new(ToolSet::default()));
        assert!(get(&huge, false).is_none());
    }
}
