//! What an attempt's failure tells the pool as evidence: the upstream's own words (Google's
//! message, already redacted, cut to a line's length; or what went wrong on the wire) and the
//! request that met them, so the status page can say why each key stands where it does.

use std::sync::Arc;

use super::{Cause, DispatchError, Route};
use crate::pool::Because;
use crate::upstream::classify::Verdict;

/// The most of the upstream's words kept.
const MAX_WORDS: usize = 300;

/// The evidence of a failed attempt's error.
pub(super) fn of_error(route: &Route, err: &DispatchError) -> Because {
    let words: Arc<str> = match &err.cause {
        Cause::Upstream { rpc: Some(rpc), .. } if !rpc.message.is_empty() => {
            format!("{} {}", err.status.as_u16(), cut(&rpc.message)).into()
        }
        Cause::Upstream { body, .. } => format!(
            "{} {}",
            err.status.as_u16(),
            cut(&String::from_utf8_lossy(body))
        )
        .into(),
        Cause::NoAnswer(failure) => failure.to_string().into(),
        Cause::NoKeyAvailable { .. } | Cause::ClientRefused { .. } => {
            err.status.as_u16().to_string().into()
        }
    };
    Because {
        words,
        request_id: request_id(route),
    }
}

/// The evidence of an outcome that has only its verdict to say.
pub(super) fn of_label(route: &Route, verdict: &Verdict) -> Because {
    Because {
        words: verdict.label().into(),
        request_id: request_id(route),
    }
}

fn request_id(route: &Route) -> Option<Arc<str>> {
    route
        .tally()
        .map(|t| t.0.request_id().clone())
        .filter(|id| !id.is_empty())
}

/// At most [`MAX_WORDS`] characters, on one line.
fn cut(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_WORDS)
        .collect();
    line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_are_one_bounded_line() {
        let long = format!("line one\nline two {}", "x".repeat(1_000));
        let words = cut(&long);
        assert!(!words.contains('\n'));
        assert_eq!(words.chars().count(), MAX_WORDS);
    }
}
