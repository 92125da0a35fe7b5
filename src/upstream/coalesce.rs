//! What has already arrived goes on together. hyper's client hands a response body over one
//! chunk at a time (its channel holds one), so a burst of twenty SSE events that came in one TCP
//! read would reach the client as twenty writes: twenty syscalls and twenty packets, the largest
//! cost of a stream. A coalesced body gives the connection's task one turn to hand over the next
//! chunk before passing on what it has gathered (up to `GATHER_LIMIT`); a chunk that is not there
//! after that turn is not waited for, so nothing is delayed by more than one scheduler turn.
//! Bodies read through hyper's pooled client and reqwest are coalesced here; a plain-HTTP/1.1
//! upstream's body gathers in its own task instead ([`super::plain_h1`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::{BodyStream, TransportError};

/// Bytes gathered before they are passed on regardless.
pub const GATHER_LIMIT: usize = 64 * 1024;

/// The room a gathering takes when its second chunk comes: a burst of twenty events is some
/// 7 KB, and room for only the first two chunks was grown four times, a copy each.
const GATHER_ROOM: usize = 8 * 1024;

/// `body`, with chunks that are ready together passed on as one.
pub fn coalesced(body: BodyStream) -> BodyStream {
    Coalesced {
        inner: body,
        gathered: Gathered::Nothing,
        yielded: false,
        ending: Ending::default(),
    }
    .boxed()
}

/// Chunks taken in one turn: one kept as it came, more copied together.
#[derive(Default)]
pub(super) enum Gathered {
    #[default]
    Nothing,
    One(Bytes),
    Many(BytesMut),
}

impl Gathered {
    pub(super) fn len(&self) -> usize {
        match self {
            Gathered::Nothing => 0,
            Gathered::One(b) => b.len(),
            Gathered::Many(b) => b.len(),
        }
    }

    pub(super) fn add(&mut self, chunk: Bytes) {
        *self = match std::mem::take(self) {
            Gathered::Nothing => Gathered::One(chunk),
            Gathered::One(first) => {
                let mut many = BytesMut::with_capacity(GATHER_ROOM.max(first.len() + chunk.len()));
                many.extend_from_slice(&first);
                many.extend_from_slice(&chunk);
                Gathered::Many(many)
            }
            Gathered::Many(mut many) => {
                many.extend_from_slice(&chunk);
                Gathered::Many(many)
            }
        }
    }

    pub(super) fn take(&mut self) -> Option<Bytes> {
        match std::mem::take(self) {
            Gathered::Nothing => None,
            Gathered::One(b) => Some(b),
            Gathered::Many(b) => Some(b.freeze()),
        }
    }
}

struct Coalesced {
    inner: BodyStream,
    gathered: Gathered,
    /// This task already gave the connection its one turn for the bytes gathered.
    yielded: bool,
    ending: Ending,
}

/// A gathering body's end: the error or the end that came after gathered bytes is passed on
/// after them, and once the end is passed on the inner body is not polled again.
#[derive(Default)]
pub(super) struct Ending {
    after: Option<Option<TransportError>>,
    ended: bool,
}

type Item = Result<Bytes, TransportError>;

impl Ending {
    /// What a poll answers before reading on, if the body has ended or an end is waiting.
    pub(super) fn before_reading(&mut self) -> Option<Poll<Option<Item>>> {
        if self.ended {
            return Some(Poll::Ready(None));
        }
        let after = self.after.take()?;
        self.ended = after.is_none();
        Some(Poll::Ready(after.map(Err)))
    }

    /// The body ended (with `error`, or not): the bytes `gathered` first, if any.
    pub(super) fn end(
        &mut self,
        gathered: Option<Bytes>,
        error: Option<TransportError>,
    ) -> Poll<Option<Item>> {
        match gathered {
            None => {
                self.ended = error.is_none();
                Poll::Ready(error.map(Err))
            }
            Some(bytes) => {
                self.after = Some(error);
                Poll::Ready(Some(Ok(bytes)))
            }
        }
    }
}

impl Stream for Coalesced {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(answer) = this.ending.before_reading() {
            return answer;
        }
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.gathered.add(chunk);
                    this.yielded = false;
                    if this.gathered.len() >= GATHER_LIMIT {
                        return Poll::Ready(this.gathered.take().map(Ok));
                    }
                }
                Poll::Ready(end) => {
                    let error = end.and_then(Result::err);
                    return this.ending.end(this.gathered.take(), error);
                }
                Poll::Pending if this.gathered.len() == 0 => return Poll::Pending,
                Poll::Pending if !this.yielded => {
                    // One turn for the connection's task to hand over what it has already read.
                    this.yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Pending => {
                    this.yielded = false;
                    return Poll::Ready(this.gathered.take().map(Ok));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chunks(parts: &[&'static str]) -> BodyStream {
        let parts: Vec<_> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        futures_util::stream::iter(parts).boxed()
    }

    #[tokio::test]
    async fn chunks_ready_together_pass_on_as_one_and_the_end_follows() {
        let out: Vec<Bytes> = coalesced(chunks(&["data: 1\r\n\r\n", "data: 2\r\n\r\n", "x"]))
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(
            out,
            [Bytes::from_static(b"data: 1\r\n\r\ndata: 2\r\n\r\nx")]
        );
    }

    #[tokio::test]
    async fn a_chunk_that_is_not_there_is_not_waited_for() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, TransportError>>();
        let rx = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let mut body = coalesced(rx.boxed());
        tx.send(Ok(Bytes::from_static(b"first"))).unwrap();
        assert_eq!(body.next().await.unwrap().unwrap(), "first");
        tx.send(Ok(Bytes::from_static(b"second"))).unwrap();
        assert_eq!(body.next().await.unwrap().unwrap(), "second");
        drop(tx);
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn an_error_comes_after_the_bytes_before_it_and_big_bursts_are_split() {
        let err = TransportError::new(std::io::Error::other("reset"));
        let body = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"partial")), Err(err)]);
        let mut body = coalesced(body.boxed());
        assert_eq!(body.next().await.unwrap().unwrap(), "partial");
        assert!(body.next().await.unwrap().is_err());
        assert!(body.next().await.is_none());

        let big = vec![0u8; GATHER_LIMIT];
        let parts = vec![
            Ok(Bytes::from(big.clone())),
            Ok(Bytes::from_static(b"tail")),
        ];
        let out: Vec<Bytes> = coalesced(futures_util::stream::iter(parts).boxed())
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(out.len(), 2);
    }
}
