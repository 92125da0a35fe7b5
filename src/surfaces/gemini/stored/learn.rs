//! Learning owners from answers: whatever stored resource an answer names — the file an upload
//! made, a cache, a batch and the output file it wrote, an interaction — belongs to the project
//! of the key that answered. Whole answers are scanned once; a streamed interaction is scanned
//! until its id shows (its first event carries it), then passed on untouched.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use memchr::memmem;
use serde::Deserialize;

use crate::dispatch::{Answer, StreamBroken};
use crate::pool::{KeyPool, Lease};
use crate::resources::{names, Kind, Owner, Owners, ResourceName, DEFAULT_KEEP_MS};
use crate::surfaces::Context;

/// How much of a stream is searched for the interaction's id.
const STREAM_SCAN: usize = 64 * 1024;

/// Writes down every resource `answer` names as made by the key that answered. `kind` is what
/// the call was about: an interaction's answer names itself by its bare `id`.
pub async fn learn_from(ctx: &Context, answer: &Answer, kind: Kind) {
    if !answer.status.is_success() {
        return;
    }
    let mut found = names::in_body(&answer.body);
    if kind == Kind::Interaction {
        #[derive(Deserialize)]
        struct Id<'a> {
            #[serde(borrow, default)]
            id: Option<&'a str>,
        }
        if let Ok(Id { id: Some(id) }) = serde_json::from_slice::<Id>(&answer.body) {
            if let Some(n) = ResourceName::parse(&format!("interactions/{id}")) {
                found.push(n);
            }
        }
    }
    if found.is_empty() {
        return;
    }
    let owner = owner_of(ctx.dispatcher.pool(), &answer.lease, ctx.owners.now());
    for name in &found {
        ctx.owners.record(name, owner.clone()).await;
    }
}

/// The owner a key's answer makes.
pub fn owner_of(pool: &KeyPool, lease: &Lease, now: i64) -> Owner {
    Owner {
        key: lease.key.id().to_string(),
        project: pool.declared_project(lease.index),
        expires_at: now + DEFAULT_KEEP_MS,
    }
}

/// `rest` passed on untouched, its interaction's id written down once it shows.
pub fn tap_stream(
    rest: BoxStream<'static, Result<Bytes, StreamBroken>>,
    owners: Arc<Owners>,
    pool: Arc<KeyPool>,
    lease: Lease,
    kind: Kind,
) -> BoxStream<'static, Result<Bytes, StreamBroken>> {
    if kind != Kind::Interaction {
        return rest;
    }
    let mut seen: Vec<u8> = Vec::new();
    let mut done = false;
    rest.map(move |chunk| {
        if let (false, Ok(bytes)) = (done, &chunk) {
            seen.extend_from_slice(&bytes[..bytes.len().min(STREAM_SCAN - seen.len())]);
            if let Some(id) = first_id(&seen) {
                done = true;
                if let Some(name) = ResourceName::parse(&format!("interactions/{id}")) {
                    let owner = owner_of(&pool, &lease, owners.now());
                    let owners = owners.clone();
                    tokio::spawn(async move { owners.record(&name, owner).await });
                }
            }
            done |= seen.len() >= STREAM_SCAN;
            if done {
                seen = Vec::new();
            }
        }
        chunk
    })
    .boxed()
}

/// The first `"id": "…"` in `text` (an interaction's events name it in their first).
fn first_id(text: &[u8]) -> Option<String> {
    let at = memmem::find(text, b"\"id\"")?;
    let rest = text[at + 4..].trim_ascii_start().strip_prefix(b":")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    let id = std::str::from_utf8(&rest[..end]).ok()?;
    (!id.is_empty() && id.bytes().all(names::is_id_byte)).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interactions_id_is_found_in_its_first_event() {
        let event = b"event: interaction.start\r\ndata: {\"event_id\":\"e1\",\"interaction\":{\"id\" : \"v1_abc\",\"status\":\"in_progress\"}}\r\n\r\n";
        assert_eq!(first_id(event).as_deref(), Some("v1_abc"));
        assert_eq!(first_id(b"data: {\"event_id\":\"e1\"}"), None);
        assert_eq!(first_id(b"{\"id\": \"a b\"}"), None, "not an id");
    }
}
