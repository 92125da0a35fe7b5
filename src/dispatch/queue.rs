//! A short, fair wait for a key instead of a 503. Coding agents treat a 503 as a failed turn,
//! while a wait of a second or two is invisible to them: so when no key can serve a model now
//! but the pool says one comes back within `QUEUE_MAX_WAIT`, the request waits for it in its
//! model's line — first come, first served, at most `QUEUE_MAX_LENGTH` long.
//!
//! - **Fair**: one line per scope (model, or the model catalog). While a line holds anyone, a
//!   request arriving for that model joins it instead of taking a freed key ahead of those
//!   waiting; only the head picks. A request keeps its ticket (its place) when it goes back to
//!   the line because the key it got turned it away.
//! - **Woken**: the head sleeps until the pool's `retry_after` (tokio time: the paused clock
//!   works), or less when nudged — another request of the model was served (a probe ended, an
//!   ejection closed), someone arrived to find a key usable, or the head before it left. A waiter
//!   behind the head sleeps until its turn or its allowance ends.
//! - **Bounded**: a request waits at most `QUEUE_MAX_WAIT` in all, counted from when it first
//!   joined; a wait longer than what is left of it, a full line, or no key coming back at all is
//!   the 503 with `Retry-After` at once.
//! - **Let go**: a client that hangs up drops the handler's future, and with it the request's
//!   [`Wait`]: it leaves the line, the next waiter is woken, and it never picks a key.
//! - **Free when unused**: what the normal path pays is a relaxed load of an atomic count of
//!   waiters (across every line) when a request arrives and when a key serves it; the lines' map
//!   is locked only while somebody waits, or after the pool had no key for the request anyway.
//!   Nothing is allocated until a request actually waits.
//!
//! The line is this gateway's: gateways sharing a pool through Redis each keep their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use super::{Dispatcher, Route};
use crate::telemetry::{TallyRef, Telemetry};

/// How a request stands towards its model's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Manner {
    /// It may wait in the line when no key can serve it now.
    Waits,
    /// It must not wait (a fallback model will serve it) but takes no key ahead of those
    /// waiting: with a line, it is refused as if no key were usable.
    Yields,
    /// It is not part of the line at all: the continuation of a stream already answering.
    Skips,
}

impl Dispatcher {
    /// Those already waiting for the route's model come first: a newcomer joins them rather than
    /// take a key that frees ahead of them, and picks when its turn comes (`Ok(Some)`); one that
    /// may not wait is refused as if no key were usable. `Ok(None)`: nobody waits. `Err` holds
    /// the `Retry-After` of the 503 at once.
    pub(super) async fn behind_those_waiting<'a>(
        &'a self,
        route: &'a Route,
        tokens: u64,
        manner: Manner,
    ) -> Result<Option<Wait<'a>>, Option<Duration>> {
        let scope = route.scope();
        let Some(q) = self.queue_for(manner).filter(|q| q.busy(scope.name())) else {
            return Ok(None);
        };
        let retry_after = self.pool.retry_after(scope, tokens).await;
        let Some(d) = retry_after.filter(|d| *d <= q.max_wait && manner == Manner::Waits) else {
            return Err(retry_after);
        };
        if d.is_zero() {
            q.nudge(scope.name());
        }
        let mut w = q.join(self.who(route)).ok_or(retry_after)?;
        if w.pause(d).await == Turn::TimedOut {
            w.finish(true);
            return Err(self.pool.retry_after(scope, tokens).await);
        }
        Ok(Some(w))
    }

    /// No key can serve now and `retry_after` says when one returns: waits for it, in the line
    /// (joined now, unless `waiting` already holds the request's place) when that is within the
    /// allowance. `None`: no wait (off, too long, the line full); else how it ended.
    pub(super) async fn wait_for_key<'a>(
        &'a self,
        route: &'a Route,
        waiting: &mut Option<Wait<'a>>,
        retry_after: Option<Duration>,
    ) -> Option<Turn> {
        let q = self.queue_for(Manner::Waits)?;
        let d = retry_after.filter(|d| !d.is_zero())?;
        let w = match waiting {
            Some(w) if w.allows(d) => w,
            Some(_) => return None,
            None if d <= q.max_wait => waiting.insert(q.join(self.who(route))?),
            None => return None,
        };
        Some(w.pause(d).await)
    }

    fn queue_for(&self, manner: Manner) -> Option<&Queue> {
        self.queue.as_deref().filter(|_| manner != Manner::Skips)
    }

    fn who<'a>(&'a self, route: &'a Route) -> Who<'a> {
        Who {
            scope: route.scope_name(),
            label: route.label(),
            telemetry: &self.telemetry,
            tally: route.tally(),
        }
    }
}

/// How long one model's line may be, and how long a request may wait in it.
#[derive(Debug)]
pub struct Queue {
    max_wait: Duration,
    max_length: usize,
    /// Requests waiting in any line: the normal path reads only this.
    waiting: AtomicUsize,
    next_ticket: AtomicU64,
    /// scope → its line. A line that empties is removed.
    lines: Mutex<HashMap<Box<str>, Line>>,
}

/// The tickets of one scope's line, oldest first, each with the bell that wakes it.
type Line = BTreeMap<u64, Arc<Notify>>;

impl Queue {
    /// A queue whose requests wait at most `max_wait` (> 0) in lines of at most `max_length`.
    pub fn new(max_wait: Duration, max_length: usize) -> Queue {
        Queue {
            max_wait,
            max_length: max_length.max(1),
            waiting: AtomicUsize::new(0),
            next_ticket: AtomicU64::new(0),
            lines: Mutex::new(HashMap::new()),
        }
    }

    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Line>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether anyone waits in `scope`'s line (one atomic load when nobody waits anywhere).
    pub(super) fn busy(&self, scope: &str) -> bool {
        self.waiting.load(Ordering::Relaxed) != 0
            && self.lines().get(scope).is_some_and(|l| !l.is_empty())
    }

    /// Requests waiting in `scope`'s line now.
    pub fn len(&self, scope: &str) -> usize {
        self.lines().get(scope).map_or(0, BTreeMap::len)
    }

    /// Wakes the head of `scope`'s line, if any: a key may have come back.
    pub(super) fn nudge(&self, scope: &str) {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some((_, bell)) = self.lines().get(scope).and_then(|l| l.first_key_value()) {
            bell.notify_one();
        }
    }

    /// One request's place at the end of `scope`'s line, its allowance starting now; `None`
    /// when the line is full.
    pub(super) fn join<'q>(&'q self, who: Who<'q>) -> Option<Wait<'q>> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let bell = Arc::new(Notify::new());
        if !self.insert(who.scope, ticket, &bell, Some(self.max_length)) {
            who.telemetry.metrics.queue_outcome(who.label, "full");
            return None;
        }
        let now = Instant::now();
        who.telemetry.metrics.queue_waiting(who.label, 1);
        Some(Wait {
            queue: self,
            ticket,
            bell,
            deadline: now + self.max_wait,
            entered: Some(now),
            waited: Duration::ZERO,
            served: false,
            outcome: None,
            who,
        })
    }

    /// Puts `ticket` in `scope`'s line, unless the line already holds `limit`.
    fn insert(&self, scope: &str, ticket: u64, bell: &Arc<Notify>, limit: Option<usize>) -> bool {
        let mut lines = self.lines();
        let line = lines.entry(scope.into()).or_default();
        if limit.is_some_and(|l| line.len() >= l) {
            return false;
        }
        line.insert(ticket, bell.clone());
        self.waiting.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Whose wait it is: the line, the metrics label, and the request's tally.
pub(super) struct Who<'q> {
    scope: &'q str,
    label: &'q Arc<str>,
    telemetry: &'q Telemetry,
    tally: Option<&'q TallyRef>,
}

/// How a wait ended for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Turn {
    /// The request is at the head and a key may be usable: pick again.
    Pick,
    /// Its allowance ran out before its turn came.
    TimedOut,
}

/// One request's place in its model's line, from its first wait to its end. Dropped — the
/// request done, or its client gone — it leaves the line and wakes the next waiter, and counts
/// how its waiting ended.
pub(super) struct Wait<'q> {
    queue: &'q Queue,
    ticket: u64,
    bell: Arc<Notify>,
    /// The allowance ends here (`QUEUE_MAX_WAIT` after the request first could not be served).
    deadline: Instant,
    /// When it entered the line, while it is in it.
    entered: Option<Instant>,
    /// Time spent in the line so far.
    waited: Duration,
    /// A key took it after it waited.
    served: bool,
    /// How its waiting ended, once known.
    outcome: Option<&'static str>,
    who: Who<'q>,
}

impl Wait<'_> {
    /// Whether a key returning `retry_after` from now comes within the allowance.
    pub fn allows(&self, retry_after: Duration) -> bool {
        Instant::now() + retry_after <= self.deadline
    }

    /// Waits in the line: as its head until `retry_after` has passed (or a nudge), behind it
    /// until its turn comes — then at once, since the one before may have left with a key and
    /// more may be free. [`Turn::TimedOut`] when the allowance ends before its turn.
    pub async fn pause(&mut self, retry_after: Duration) -> Turn {
        self.enter();
        let mut was_behind = false;
        loop {
            let now = Instant::now();
            if self.is_head() {
                if was_behind {
                    return Turn::Pick;
                }
                let until = (now + retry_after).min(self.deadline);
                tokio::select! {
                    () = sleep_until(until) => return Turn::Pick,
                    () = self.bell.notified() => return Turn::Pick,
                }
            }
            if now >= self.deadline {
                return Turn::TimedOut;
            }
            tokio::select! {
                () = sleep_until(self.deadline) => return Turn::TimedOut,
                () = self.bell.notified() => was_behind = true,
            }
        }
    }

    /// The request has a key: it steps out of the line (keeping its ticket, should it have to
    /// come back) and the next waiter may pick.
    pub fn step_out(&mut self) {
        if self.leave() {
            self.served = true;
        }
    }

    /// The request is done waiting, `refused` (the 503) or not: out of the line for good.
    pub fn finish(&mut self, refused: bool) {
        self.leave();
        self.outcome = Some(if refused || !self.served {
            "timed_out"
        } else {
            "served"
        });
    }

    /// Back in the line, in its old place (it was admitted once: no length check).
    fn enter(&mut self) {
        if self.entered.is_some() {
            return;
        }
        self.queue
            .insert(self.who.scope, self.ticket, &self.bell, None);
        self.entered = Some(Instant::now());
        self.who.telemetry.metrics.queue_waiting(self.who.label, 1);
    }

    /// Leaves the line, waking the next head; false when it was not in it.
    fn leave(&mut self) -> bool {
        let Some(entered) = self.entered.take() else {
            return false;
        };
        {
            let mut lines = self.queue.lines();
            if let Some(line) = lines.get_mut(self.who.scope) {
                line.remove(&self.ticket);
                match line.first_key_value() {
                    Some((_, next)) => next.notify_one(),
                    None => {
                        lines.remove(self.who.scope);
                    }
                }
            }
        }
        self.queue.waiting.fetch_sub(1, Ordering::Relaxed);
        self.waited += entered.elapsed();
        self.who.telemetry.metrics.queue_waiting(self.who.label, -1);
        true
    }

    fn is_head(&self) -> bool {
        self.queue
            .lines()
            .get(self.who.scope)
            .and_then(|l| l.first_key_value())
            .is_some_and(|(t, _)| *t == self.ticket)
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let outcome = match (self.leave(), self.outcome) {
            // Dropped in the line: the client hung up while waiting.
            (true, _) => "hung_up",
            (false, Some(outcome)) => outcome,
            // Done (or dropped) on a key it got after waiting.
            (false, None) if self.served => "served",
            (false, None) => return,
        };
        self.who
            .telemetry
            .metrics
            .queue_outcome(self.who.label, outcome);
        if let Some(t) = self.who.tally {
            t.0.waited(self.waited);
        }
        tracing::debug!(model = %self.who.label, outcome, waited_ms = self.waited.as_millis() as u64, "left the line");
    }
}
