//! Whether the consumer can reach its cluster at all, I/O-free: the background tasks report
//! each request's outcome, and a streak of connection failures with no success for
//! `default.api.timeout.ms` becomes an error that `poll` returns (as librdkafka surfaces
//! `ALL_BROKERS_DOWN` through its consumer poll). Java's consumer only logs such failures; a
//! consumer that says nothing while pointed at a wrong address is what users reported.

use crate::{Error, ErrorKind};
use std::time::{Duration, Instant};

/// A streak of connectivity failures and when it was last reported.
#[derive(Debug, Default)]
pub(super) struct Reachability {
    /// When the current streak began (no successful response since); `None`: reachable.
    failing_since: Option<Instant>,
    last_error: Option<Error>,
    /// When the streak was last turned into an error for `poll`.
    reported_at: Option<Instant>,
}

impl Reachability {
    /// A broker answered: the streak ends.
    pub(super) fn on_success(&mut self) {
        *self = Reachability::default();
    }

    /// A request failed; only connectivity failures count (a broker error code means a broker
    /// answered, which is a success here).
    pub(super) fn on_result(&mut self, now: Instant, error: &Error) {
        if !error.is_connectivity_failure() {
            self.on_success();
            return;
        }
        self.failing_since.get_or_insert(now);
        self.last_error = Some(error.clone());
    }

    /// The last connectivity failure of the current streak, if there is one.
    pub(super) fn last_failure(&self) -> Option<&Error> {
        self.failing_since.and(self.last_error.as_ref())
    }

    /// The error to hand to `poll` once the streak has lasted `bound`, then again once per
    /// `bound` while it lasts. Its kind is the last failure's when that was a failed connect
    /// (`Connect`) or `NoBrokerAvailable`, so callers can match on it; it is retriable: polling
    /// again keeps trying.
    pub(super) fn overdue(&mut self, now: Instant, bound: Duration) -> Option<Error> {
        let since = self.failing_since?;
        let due = self.reported_at.map_or(since + bound, |at| at + bound);
        if now < due {
            return None;
        }
        self.reported_at = Some(now);
        let last = self.last_error.as_ref()?;
        let kind = match last.kind() {
            ErrorKind::Connect => ErrorKind::Connect,
            _ => ErrorKind::NoBrokerAvailable,
        };
        Some(Error::new(kind).with_detail(format!(
            "no broker reachable for {} ms (default.api.timeout.ms {} ms); last error: {last}",
            now.duration_since(since).as_millis(),
            bound.as_millis()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect() -> Error {
        Error::new(ErrorKind::Connect).with_detail("127.0.0.1:1: connection refused")
    }

    #[test]
    fn a_streak_is_reported_after_the_bound_then_once_per_bound() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut r = Reachability::default();
        assert!(r.overdue(t0, s).is_none(), "nothing failed yet");
        r.on_result(t0, &connect());
        r.on_result(t0 + s / 2, &connect());
        assert!(r.overdue(t0 + s / 2, s).is_none(), "within the bound");
        let e = r.overdue(t0 + s, s).expect("bound reached");
        assert!(matches!(e.kind(), ErrorKind::Connect), "{e}");
        assert!(e.is_retriable(), "{e}");
        assert!(e.to_string().contains("connection refused"), "{e}");
        assert!(
            r.overdue(t0 + s + s / 2, s).is_none(),
            "reported once per bound"
        );
        assert!(
            r.overdue(t0 + 2 * s, s).is_some(),
            "and again after another bound"
        );
    }

    #[test]
    fn any_answer_ends_the_streak() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut r = Reachability::default();
        r.on_result(t0, &connect());
        r.on_success();
        assert!(r.overdue(t0 + 5 * s, s).is_none());
        r.on_result(t0, &Error::new(ErrorKind::NoBrokerAvailable));
        // A broker error code is an answer: a broker is reachable.
        r.on_result(t0, &Error::from_broker_code(3));
        assert!(r.overdue(t0 + 5 * s, s).is_none());
        r.on_result(t0, &Error::new(ErrorKind::RequestTimeout));
        let e = r.overdue(t0 + s, s).expect("timeouts count");
        assert!(matches!(e.kind(), ErrorKind::NoBrokerAvailable), "{e}");
    }
}
