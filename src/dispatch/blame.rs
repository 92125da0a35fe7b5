//! Whose fault a transient failure was. A connection dropped, a 500 or a timeout may be the
//! key's (its project is unwell) or the request's (one kind of request the upstream cannot take,
//! whichever key sends it). Ejecting keys for the request's fault takes healthy keys out for
//! everyone, so a request's transient failures are held until its outcome says whose they were:
//! served by another key, or answered otherwise by one (a 429, a refusal), they were the keys'
//! (each is ejected as before); failed on two or more keys the same way, the failure followed
//! the request and no key is charged (a probe among them
//! is released for the next request). One key's failure, with no other key to compare, is its
//! own.

use crate::pool::{Because, KeyPool, Scope};
use crate::upstream::classify::Verdict;

/// The transient failures of one request, awaiting its outcome.
#[derive(Debug, Default)]
pub(super) struct Blame {
    held: Vec<(usize, Because)>,
}

impl Blame {
    /// Whether `verdict` is one whose charge waits for the request's outcome (an overload is a
    /// fact about the model and is recorded at once).
    pub fn holds(verdict: &Verdict) -> bool {
        *verdict == Verdict::Transient
    }

    /// Holds key `index`'s transient failure, and what it said.
    pub fn hold(&mut self, index: usize, because: Because) {
        self.held.push((index, because));
    }

    /// The request was served: every held failure was its key's.
    pub async fn served(self, pool: &KeyPool, scope: Scope<'_>) {
        for (index, because) in self.held {
            pool.record_failure_because(index, scope, &Verdict::Transient, &because)
                .await;
        }
    }

    /// The request failed: a failure that followed it over several keys charges none of them.
    pub async fn failed(self, pool: &KeyPool, scope: Scope<'_>) {
        if self.held.len() >= 2 {
            for (index, _) in self.held {
                pool.excuse(index, scope);
            }
        } else {
            self.served(pool, scope).await;
        }
    }
}
