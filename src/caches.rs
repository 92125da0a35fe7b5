//! Bounded in-memory caches that take their memory as they fill, not at start-up.
//! `lru::LruCache::new(n)` sizes its table for all `n` entries at once: the resource owners'
//! 65,536 (2.2 MB reserved, the 128 KiB of its control bytes written) and the sessions'
//! 16,384 were paid by every gateway at start, used or not. Every bounded LRU of the gateway
//! is built here.

use std::hash::Hash;
use std::num::NonZeroUsize;

use lru::LruCache;

/// An LRU cache of at most `capacity` entries (at least one), empty and without a table until
/// its first insert; its table grows with it, as a `HashMap`'s does.
pub fn bounded_lru<K: Hash + Eq, V>(capacity: usize) -> LruCache<K, V> {
    let mut cache = LruCache::unbounded();
    cache.resize(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN));
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity_and_forgets_the_least_recently_used() {
        let mut cache = bounded_lru::<u32, u32>(3);
        assert_eq!(cache.cap().get(), 3);
        for i in 0..5 {
            cache.put(i, i * 10);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&4), Some(&40));
        assert_eq!(bounded_lru::<u32, u32>(0).cap().get(), 1);
    }
}
