//! The last requests the gateway answered, metadata only (never a body, never a key): for the
//! dashboard's "recent requests".

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::clock::UnixMillis;

/// How many requests are remembered.
pub const RECENT: usize = 200;

/// One answered request.
#[derive(Debug, Clone, Serialize)]
pub struct RecentRequest {
    /// When it was answered (written as ISO-8601 `at`).
    #[serde(rename = "at", serialize_with = "as_iso8601")]
    pub at_ms: UnixMillis,
    pub request_id: Arc<str>,
    pub surface: &'static str,
    pub model: Option<Arc<str>>,
    pub status: u16,
    pub latency_ms: f64,
    pub key: Option<Arc<str>>,
    pub client: Arc<str>,
    pub attempts: u32,
    /// Milliseconds it waited in its model's line for a key (absent when it did not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<u64>,
    /// What its tokens cost, in US dollars, by the price table.
    pub cost_usd: f64,
    /// The service tier it was served at (Gemini's word, else the one asked for), when one was
    /// asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<&'static str>,
}

fn as_iso8601<S: serde::Serializer>(at: &UnixMillis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::iso8601(*at))
}

#[derive(Debug, Default)]
pub struct Recent {
    ring: Mutex<VecDeque<RecentRequest>>,
}

impl Recent {
    pub fn push(&self, r: RecentRequest) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == RECENT {
            ring.pop_front();
        }
        ring.push_back(r);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<RecentRequest> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest() {
        let recent = Recent::default();
        for i in 0..(RECENT + 5) {
            recent.push(RecentRequest {
                at_ms: i as i64,
                request_id: format!("r{i}").into(),
                surface: "gemini",
                model: None,
                status: 200,
                latency_ms: 1.0,
                key: None,
                client: "anonymous".into(),
                attempts: 1,
                waited_ms: None,
                cost_usd: 0.0,
                service_tier: None,
            });
        }
        let list = recent.list();
        assert_eq!(list.len(), RECENT);
        assert_eq!(*list[0].request_id, format!("r{}", RECENT + 4));
    }
}
